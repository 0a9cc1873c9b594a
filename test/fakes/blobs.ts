import type { BlobPage } from '../../src/clients/blob.js';
import type { SubscriptionBlobs } from '../../src/runs/subscriptions.js';

/** A blob container in memory, with ETags that change on every write, as Blob Storage's conditional writes see them. */
export class MemoryBlobs implements SubscriptionBlobs {
  readonly blobs = new Map<string, { content: Buffer; etag: string }>();
  private version = 0;

  private store(name: string, content: string | Buffer): void {
    this.blobs.set(name, { content: typeof content === 'string' ? Buffer.from(content) : content, etag: `"${String(++this.version)}"` });
  }

  put(name: string, content: string | Buffer): Promise<void> {
    this.store(name, content);
    return Promise.resolve();
  }

  get(name: string): Promise<Buffer | null> {
    return Promise.resolve(this.blobs.get(name)?.content ?? null);
  }

  read(name: string): Promise<{ content: Buffer; etag: string } | null> {
    return Promise.resolve(this.blobs.get(name) ?? null);
  }

  writeIf(name: string, content: string, _type: string, condition: { ifMatch: string } | { ifNoneMatch: '*' }): Promise<boolean> {
    const current = this.blobs.get(name);
    const ok = 'ifMatch' in condition ? current?.etag === condition.ifMatch : current === undefined;
    if (ok) this.store(name, content);
    return Promise.resolve(ok);
  }

  delete(name: string): Promise<void> {
    this.blobs.delete(name);
    return Promise.resolve();
  }

  list(prefix: string): Promise<BlobPage> {
    const items = [...this.blobs.entries()].filter(([name]) => name.startsWith(prefix)).sort(([a], [b]) => a.localeCompare(b));
    return Promise.resolve({ items: items.map(([name, blob]) => ({ name, size: blob.content.length, metadata: {} })), continueToken: undefined });
  }
}
