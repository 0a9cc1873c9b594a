import type { TokenCredential } from '@azure/identity';
import type { ContainerClient, ContainerListBlobFlatSegmentResponse } from '@azure/storage-blob';

import type { LogsStorage } from '../config.js';
import { AppError, ensureError } from '../core/errors.js';
import { load } from './lazy.js';

/** A blob as a listing shows it: its name and the metadata written with it. */
export interface BlobEntry {
  name: string;
  size: number;
  metadata: Record<string, string>;
}

export interface BlobPage {
  items: BlobEntry[];
  /** Pass back to get the next page; undefined on the last page. */
  continueToken: string | undefined;
}

/**
 * A Blob Storage call failed; `transient` when a retry may help (throttling, 5xx, no answer). To a caller it is
 * the archive's fault, not theirs: 503 when worth a retry, else 502.
 */
export class BlobStoreError extends AppError {
  override name = 'BlobStoreError';
  override readonly status: number;
  override readonly reason = 'LogsArchiveError';
  /** The HTTP status; 0 when Blob Storage did not answer, -1 when no client could be made from the settings. */
  readonly code: number;

  constructor(operation: string, code: number, detail: string, options?: { cause?: unknown }) {
    super(`${operation} failed: ${code === 0 ? 'no answer from Blob Storage' : code < 0 ? 'LOGS_CONNECTION_STRING or LOGS_ACCOUNT_URL is not usable' : `HTTP ${code}`}: ${detail}`, options);
    this.code = code;
    this.status = this.transient ? 503 : 502;
  }

  get transient(): boolean {
    return this.code === 0 || this.code === 408 || this.code === 429 || this.code >= 500;
  }
}

/**
 * The SDK's RestError, told by its name (as @azure/core-rest-pipeline's own isRestError does) so that this module
 * need not load the SDK to recognise one.
 */
function asRestError(err: unknown): { statusCode?: number; code?: string; name: string } | undefined {
  return err instanceof Error && err.name === 'RestError' ? err : undefined;
}

function toBlobStoreError(operation: string, err: unknown): BlobStoreError {
  if (err instanceof BlobStoreError) return err;
  const rest = asRestError(err);
  if (rest) {
    // The SDK's message can quote the request; the code and the service's error code say enough.
    return new BlobStoreError(operation, rest.statusCode ?? 0, rest.code ?? rest.name, { cause: err });
  }
  return new BlobStoreError(operation, 0, ensureError(err).message, { cause: err });
}

/**
 * The logs archive's one container. Errors are BlobStoreError. The Blob SDK is loaded, and the client made, on
 * the first call that touches the archive: most instances start, serve and stop without one.
 */
export class BlobStore {
  private client: Promise<ContainerClient> | undefined;
  private creating: Promise<unknown> | undefined;

  constructor(
    private readonly containerName: string,
    private readonly connect: () => Promise<ContainerClient>,
  ) {}

  private get container(): Promise<ContainerClient> {
    this.client ??= this.connect().catch((err: unknown) => {
      this.client = undefined;
      throw err;
    });
    return this.client;
  }

  /**
   * Runs a write; one that misses the container makes it and tries once more. Infra creates the container in
   * Azure; Azurite starts empty. Concurrent first writes share one create, and a write that missed the container
   * before another made it still retries: a flag set by the first would fail the others.
   */
  private async writing<T>(operation: string, write: () => Promise<T>, lost: (err: unknown) => T | undefined = () => undefined): Promise<T> {
    const settle = (err: unknown): T => {
      const outcome = lost(err);
      if (outcome !== undefined) return outcome;
      throw toBlobStoreError(operation, err);
    };
    try {
      return await write();
    } catch (err) {
      if (asRestError(err)?.code !== 'ContainerNotFound') return settle(err);
      try {
        this.creating ??= this.container
          .then(async (c) => c.createIfNotExists())
          .catch((createErr: unknown) => {
            this.creating = undefined;
            throw createErr;
          });
        await this.creating;
        return await write();
      } catch (retryErr) {
        return settle(retryErr);
      }
    }
  }

  /** Where a blob is, to show a person: `<container>/<name>`, without the account (infra's, not the caller's business). */
  path(name: string): string {
    return `${this.containerName}/${name}`;
  }

  /** Writes (or overwrites) one block blob. */
  async put(name: string, content: string | Buffer, contentType: string, metadata: Record<string, string> = {}): Promise<void> {
    const body = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    const upload = async () =>
      (await this.container).getBlockBlobClient(name).upload(body, body.length, { blobHTTPHeaders: { blobContentType: contentType }, metadata });
    await this.writing(`write blob ${name}`, upload);
  }

  /**
   * Appends to an append blob, made on the first append (and the container with it). Blob Storage writes each
   * block whole and never changes one, so concurrent writers' lines never interleave.
   */
  async append(name: string, content: string, contentType: string): Promise<void> {
    const body = Buffer.from(content, 'utf8');
    const write = async () => {
      const blob = (await this.container).getAppendBlobClient(name);
      try {
        await blob.appendBlock(body, body.length);
      } catch (err) {
        if (asRestError(err)?.code !== 'BlobNotFound') throw err;
        await blob.createIfNotExists({ blobHTTPHeaders: { blobContentType: contentType } });
        await blob.appendBlock(body, body.length);
      }
    };
    await this.writing(`append to blob ${name}`, write);
  }

  /** A blob's content, or null when there is no such blob (or no container yet). */
  async get(name: string): Promise<Buffer | null> {
    try {
      return await (await this.container).getBlockBlobClient(name).downloadToBuffer();
    } catch (err) {
      if (asRestError(err)?.statusCode === 404) return null;
      throw toBlobStoreError(`read blob ${name}`, err);
    }
  }

  async exists(name: string): Promise<boolean> {
    try {
      return await (await this.container).getBlockBlobClient(name).exists();
    } catch (err) {
      throw toBlobStoreError(`look up blob ${name}`, err);
    }
  }

  /** A blob's content with its ETag, for a conditional write after; null when there is no such blob. */
  async read(name: string): Promise<{ content: Buffer; etag: string } | null> {
    try {
      const blob = (await this.container).getBlockBlobClient(name);
      const response = await blob.download();
      const content = await new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        const stream = response.readableStreamBody;
        if (!stream) {
          resolve(Buffer.alloc(0));
          return;
        }
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          resolve(Buffer.concat(chunks));
        });
        stream.on('error', reject);
      });
      return { content, etag: response.etag ?? '' };
    } catch (err) {
      if (asRestError(err)?.statusCode === 404) return null;
      throw toBlobStoreError(`read blob ${name}`, err);
    }
  }

  /**
   * Writes a blob only if it is as it was read (`ifMatch`, its ETag) or does not exist yet (`ifNoneMatch: '*'`):
   * false when someone else wrote it first (412, or 409 for a blob that exists), so read-modify-write never loses
   * another writer's change.
   */
  async writeIf(name: string, content: string, contentType: string, condition: { ifMatch: string } | { ifNoneMatch: '*' }): Promise<boolean> {
    const body = Buffer.from(content, 'utf8');
    const upload = async () =>
      (await this.container)
        .getBlockBlobClient(name)
        .upload(body, body.length, { blobHTTPHeaders: { blobContentType: contentType }, conditions: 'ifMatch' in condition ? { ifMatch: condition.ifMatch } : { ifNoneMatch: '*' } });
    // Someone else wrote it first: 412, or 409 for a blob that exists.
    const lost = (err: unknown) => {
      const status = asRestError(err)?.statusCode;
      return status === 412 || status === 409 ? false : undefined;
    };
    const written = async () => {
      await upload();
      return true;
    };
    return this.writing(`write blob ${name}`, written, lost);
  }

  /** Deletes a blob; one that is not there is no error. */
  async delete(name: string): Promise<void> {
    try {
      await (await this.container).getBlockBlobClient(name).deleteIfExists();
    } catch (err) {
      throw toBlobStoreError(`delete blob ${name}`, err);
    }
  }

  /** Blobs under a prefix, in name order, with their metadata, a page at a time. */
  async list(prefix: string, options: { limit?: number; continueToken?: string | undefined } = {}): Promise<BlobPage> {
    try {
      const pages = (await this.container)
        .listBlobsFlat({ prefix, includeMetadata: true })
        .byPage({ maxPageSize: options.limit ?? 1000, ...(options.continueToken ? { continuationToken: options.continueToken } : {}) });
      const page: IteratorResult<ContainerListBlobFlatSegmentResponse> = await pages.next();
      if (page.done) return { items: [], continueToken: undefined };
      return {
        items: page.value.segment.blobItems.map((b) => ({ name: b.name, size: b.properties.contentLength ?? 0, metadata: b.metadata ?? {} })),
        continueToken: page.value.continuationToken || undefined,
      };
    } catch (err) {
      if (asRestError(err)?.statusCode === 404) return { items: [], continueToken: undefined };
      throw toBlobStoreError(`list blobs under ${prefix}`, err);
    }
  }
}

/**
 * The archive's container, from the settings: with the app's identity on an account URL (Azure), or from a
 * connection string (Azurite). The connection string is never logged or put in an error.
 */
export function blobStoreFrom(storage: LogsStorage, container: string, credential: () => TokenCredential): BlobStore {
  return new BlobStore(container, async () => {
    const { BlobServiceClient } = await load('@azure/storage-blob');
    try {
      const service =
        storage.kind === 'connectionString'
          ? BlobServiceClient.fromConnectionString(storage.connectionString)
          : new BlobServiceClient(storage.accountUrl, credential());
      return service.getContainerClient(container);
    } catch (err) {
      // The SDK's message about a malformed connection string does not quote it.
      throw new BlobStoreError('open the logs archive', -1, ensureError(err).message, { cause: err });
    }
  });
}
