import { randomBytes } from 'node:crypto';

import { describe, expect, inject, it } from 'vitest';

import { BlobStore, BlobStoreError, blobStoreFrom } from '../../src/clients/blob.js';

/** The archive's Blob Storage client against a real Azurite (the suite's, on loopback). */
const noCredential = () => {
  throw new Error('a connection string needs no credential');
};
function freshStore(container = `t${randomBytes(6).toString('hex')}`) {
  return blobStoreFrom({ kind: 'connectionString', connectionString: inject('logsConnectionString') }, container, noCredential);
}

describe('BlobStore on Azurite', () => {
  it('creates its container on the first write, then reads back what it wrote, with its metadata in listings', async () => {
    const store = freshStore();
    expect(await store.get('a/missing.txt')).toBeNull();
    expect(await store.list('a/')).toEqual({ items: [], continueToken: undefined });
    await store.put('a/one.log', 'héllo\n', 'text/plain; charset=utf-8', { status: 'Success' });
    await store.put('a/two.log', Buffer.from('second'), 'text/plain; charset=utf-8');
    expect((await store.get('a/one.log'))?.toString('utf8')).toBe('héllo\n');
    expect(await store.exists('a/one.log')).toBe(true);
    expect(await store.exists('a/three.log')).toBe(false);
    expect((await store.list('a/')).items).toEqual([
      { name: 'a/one.log', size: Buffer.byteLength('héllo\n'), metadata: { status: 'Success' } },
      { name: 'a/two.log', size: 6, metadata: {} },
    ]);
  });

  it('concurrent first writes to a container not made yet all land: each that missed it retries after the one create', async () => {
    // The writes that miss the container hear their 404 at different times; one makes the container, and those
    // whose 404 comes after that must still retry (a run's first subscriptions and archive writes race like this
    // on Azurite; in CI one was refused). A pipeline policy holds each 404 a little longer than the last, so
    // every write but the first hears it after the container was made.
    const { BlobServiceClient } = await import('@azure/storage-blob');
    const service = BlobServiceClient.fromConnectionString(inject('logsConnectionString'));
    for (let round = 0; round < 3; round++) {
      const name = `t${randomBytes(6).toString('hex')}`;
      let missed = 0;
      /** Azurite's own answer, a 404 ContainerNotFound heard later each time. */
      const heardLater = <T extends object>(client: T, method: keyof T & string): T =>
        new Proxy(client, {
          get(target, key, receiver) {
            const value: unknown = Reflect.get(target, key, receiver);
            if (key !== method || typeof value !== 'function') return value;
            return async (...args: unknown[]) => {
              try {
                return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
              } catch (err) {
                if ((err as { code?: string }).code === 'ContainerNotFound') await new Promise((r) => setTimeout(r, 40 * missed++));
                throw err;
              }
            };
          },
        });
      const container = service.getContainerClient(name);
      const held = new Proxy(container, {
        get(target, key, receiver) {
          if (key === 'getBlockBlobClient') return (blob: string) => heardLater(target.getBlockBlobClient(blob), 'upload');
          if (key === 'getAppendBlobClient') return (blob: string) => heardLater(target.getAppendBlobClient(blob), 'appendBlock');
          return Reflect.get(target, key, receiver) as unknown;
        },
      });
      const store = new BlobStore(name, () => Promise.resolve(held));
      const writes = Array.from({ length: 9 }, async (_, i) => {
        if (i % 3 === 0) await store.put(`c/put-${String(i)}`, String(i), 'text/plain');
        else if (i % 3 === 1) await store.append(`c/append-${String(i)}`, String(i), 'text/plain');
        else expect(await store.writeIf(`c/if-${String(i)}`, String(i), 'text/plain', { ifNoneMatch: '*' })).toBe(true);
      });
      const settled = await Promise.allSettled(writes);
      expect(missed, 'writes that missed the container').toBeGreaterThan(1);
      expect(settled.filter((s) => s.status === 'rejected'), `round ${String(round)}`).toEqual([]);
      expect((await store.list('c/')).items, `round ${String(round)}`).toHaveLength(9);
    }
  });

  it('overwrites a blob written again (an archive replayed rewrites the same blobs)', async () => {
    const store = freshStore();
    await store.put('r/index.json', '{"v":1}', 'application/json');
    await store.put('r/index.json', '{"v":2}', 'application/json');
    expect((await store.get('r/index.json'))?.toString()).toBe('{"v":2}');
    expect((await store.list('r/')).items).toHaveLength(1);
  });

  it('lists a page at a time in name order, the continue token picking up where the page ended', async () => {
    const store = freshStore();
    for (const n of ['3', '1', '2', '5', '4']) await store.put(`p/${n}`, n, 'text/plain');
    const names: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await store.list('p/', { limit: 2, continueToken: token });
      names.push(...page.items.map((b) => b.name));
      token = page.continueToken;
      pages++;
    } while (token);
    expect(names).toEqual(['p/1', 'p/2', 'p/3', 'p/4', 'p/5']);
    expect(pages).toBe(3);
  });

  it('names the blob and the HTTP status when storage refuses, and says whether a retry may help; no key in the message', async () => {
    const wrongKey = inject('logsConnectionString').replace(/AccountKey=[^;]+/, `AccountKey=${randomBytes(64).toString('base64')}`);
    const store = blobStoreFrom({ kind: 'connectionString', connectionString: wrongKey }, 'run-logs', noCredential);
    const err = await store.put('x/index.json', '{}', 'application/json').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BlobStoreError);
    expect((err as BlobStoreError).message).toMatch(/^write blob x\/index\.json failed: HTTP 403/);
    expect((err as BlobStoreError).transient).toBe(false);
    expect((err as BlobStoreError).status).toBe(502);
    expect((err as BlobStoreError).message).not.toContain('AccountKey');
  });
});
