import type { BlobEntry, BlobPage, BlobStore } from '../../src/clients/blob.js';

/**
 * The logs archive's container in memory, for handler tests: blobs with their metadata, listed by prefix in name
 * order a page at a time as Blob Storage lists them (the continuation token is opaque to the app). Blob Storage's own
 * behaviour is tested against Azurite (test/integration/archive.test.ts, runs-list.test.ts), not here.
 */
export class MemoryBlobStore {
  readonly blobs = new Map<string, { content: Buffer; metadata: Record<string, string> }>();
  /** Every list call: its prefix and whether it resumed from a token. */
  readonly lists: { prefix: string; resumed: boolean }[] = [];

  path(name: string): string {
    return `run-logs/${name}`;
  }

  put(name: string, content: string | Buffer, _contentType: string, metadata: Record<string, string> = {}): Promise<void> {
    this.blobs.set(name, { content: typeof content === 'string' ? Buffer.from(content) : content, metadata: { ...metadata } });
    return Promise.resolve();
  }

  get(name: string): Promise<Buffer | null> {
    return Promise.resolve(this.blobs.get(name)?.content ?? null);
  }

  exists(name: string): Promise<boolean> {
    return Promise.resolve(this.blobs.has(name));
  }

  list(prefix: string, options: { limit?: number; continueToken?: string | undefined } = {}): Promise<BlobPage> {
    this.lists.push({ prefix, resumed: options.continueToken !== undefined });
    const names = [...this.blobs.keys()].filter((n) => n.startsWith(prefix)).sort();
    // The token names the first blob of the next page, as Blob Storage's NextMarker does.
    const from = options.continueToken === undefined ? 0 : names.findIndex((n) => n >= Buffer.from(options.continueToken ?? '', 'base64url').toString());
    const start = from < 0 ? names.length : from;
    const end = Math.min(names.length, start + (options.limit ?? 1000));
    const items: BlobEntry[] = names.slice(start, end).map((name) => ({ name, size: this.blobs.get(name)?.content.length ?? 0, metadata: { ...this.blobs.get(name)?.metadata } }));
    const next = names[end];
    return Promise.resolve({ items, continueToken: next === undefined ? undefined : Buffer.from(next).toString('base64url') });
  }

  asStore(): BlobStore {
    return this as unknown as BlobStore;
  }
}
