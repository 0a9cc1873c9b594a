import { randomBytes } from 'node:crypto';

import { describe, expect, inject, it } from 'vitest';

import { blobStoreFrom } from '../../src/clients/blob.js';
import { ConflictError } from '../../src/core/errors.js';
import { MAX_SUBSCRIPTIONS_PER_RUN, MAX_SUBSCRIPTIONS_PER_SOURCE } from '../../src/core/subscriptions.js';
import { subscribe, type SubscribeDeps, subscribeSource, SubscriptionStore, unsubscribe } from '../../src/runs/subscriptions.js';

/**
 * The per-run and per-source limits of subscriptions under concurrent requests, against the real Azurite the suite
 * starts: its ETags and conditional writes (If-Match, If-None-Match: *) are what make the limit hold, so a fake
 * would prove nothing. Each race is run several times, so a lucky interleaving cannot pass it.
 */
const noCredential = () => {
  throw new Error('a connection string needs no credential');
};
function freshStore(): SubscriptionStore {
  return new SubscriptionStore(blobStoreFrom({ kind: 'connectionString', connectionString: inject('logsConnectionString') }, `subs${randomBytes(5).toString('hex')}`, noCredential));
}

function depsOf(store: SubscriptionStore): SubscribeDeps {
  return {
    store,
    checkUrl: (raw) => ({ url: new URL(raw) }),
    display: (url) => `${url.protocol}//${url.host}`,
    canSign: true,
    now: new Date('2026-12-07T06:00:00Z'),
    apiBase: null,
  };
}

const ROUNDS = 4;
const CONCURRENT = 12;

/** Everything settled: how many made a subscription, and the messages of those refused. */
async function race<T>(attempts: (() => Promise<T>)[]): Promise<{ made: T[]; refused: string[]; other: unknown[] }> {
  const settled = await Promise.allSettled(attempts.map(async (attempt) => attempt()));
  const made: T[] = [];
  const refused: string[] = [];
  const other: unknown[] = [];
  for (const s of settled) {
    if (s.status === 'fulfilled') made.push(s.value);
    else if (s.reason instanceof ConflictError) refused.push(s.reason.message);
    else other.push(s.reason);
  }
  return { made, refused, other };
}

describe('the limit of subscriptions per run, under concurrent requests (Azurite)', () => {
  it(`${String(CONCURRENT)} concurrent subscriptions with distinct URLs to one run: exactly ${String(MAX_SUBSCRIPTIONS_PER_RUN)} made, the rest a 409 saying the limit`, async () => {
    const store = freshStore();
    for (let round = 0; round < ROUNDS; round++) {
      const runId = `race-${String(round)}-${randomBytes(3).toString('hex')}`;
      const { made, refused, other } = await race(
        Array.from({ length: CONCURRENT }, (_, i) => () => subscribe(runId, { url: `https://hooks.contoso.example/aks/${String(round)}/${String(i)}` }, depsOf(store))),
      );
      expect(other, `round ${String(round)}`).toEqual([]);
      expect(made.filter((m) => m.created), `round ${String(round)}`).toHaveLength(MAX_SUBSCRIPTIONS_PER_RUN);
      expect(refused, `round ${String(round)}`).toHaveLength(CONCURRENT - MAX_SUBSCRIPTIONS_PER_RUN);
      for (const message of refused) expect(message).toContain(`the most a run may have (${String(MAX_SUBSCRIPTIONS_PER_RUN)}); delete one first`);
      const active = (await store.list(runId)).filter((s) => s.state !== 'unsubscribed');
      expect(active, `round ${String(round)}: what is stored`).toHaveLength(MAX_SUBSCRIPTIONS_PER_RUN);
    }
  });

  it('the same URL subscribed concurrently is one subscription (one 201, the rest 200 with its id) and takes one place', async () => {
    const store = freshStore();
    for (let round = 0; round < ROUNDS; round++) {
      const runId = `same-${String(round)}-${randomBytes(3).toString('hex')}`;
      const url = 'https://hooks.contoso.example/aks/same';
      const { made, other } = await race(Array.from({ length: 6 }, () => () => subscribe(runId, { url }, depsOf(store))));
      expect(other).toEqual([]);
      expect(made).toHaveLength(6);
      expect(new Set(made.map((m) => m.sub.id)).size).toBe(1);
      expect(made.filter((m) => m.created)).toHaveLength(1);
      // Four more places are left, and no more.
      const rest = await race(Array.from({ length: 6 }, (_, i) => () => subscribe(runId, { url: `${url}/${String(i)}` }, depsOf(store))));
      expect(rest.made).toHaveLength(MAX_SUBSCRIPTIONS_PER_RUN - 1);
      expect(rest.refused).toHaveLength(6 - (MAX_SUBSCRIPTIONS_PER_RUN - 1));
    }
  });

  it('an unsubscribe frees its place, also while others race for it', async () => {
    const store = freshStore();
    const runId = `free-${randomBytes(3).toString('hex')}`;
    const first = await race(Array.from({ length: MAX_SUBSCRIPTIONS_PER_RUN }, (_, i) => () => subscribe(runId, { url: `https://hooks.contoso.example/aks/f/${String(i)}` }, depsOf(store))));
    expect(first.made).toHaveLength(MAX_SUBSCRIPTIONS_PER_RUN);
    const gone = first.made[0]?.sub;
    if (!gone) throw new Error('no subscription was made');
    await unsubscribe(store, runId, gone.id);
    const second = await race(Array.from({ length: CONCURRENT }, (_, i) => () => subscribe(runId, { url: `https://hooks.contoso.example/aks/g/${String(i)}` }, depsOf(store))));
    expect(second.made).toHaveLength(1);
    expect(second.refused).toHaveLength(CONCURRENT - 1);
    // The URL unsubscribed may come back only when a place is free again.
    const back = await race([() => subscribe(runId, { url: `https://hooks.contoso.example/aks/f/0` }, depsOf(store))]);
    expect(back.refused).toHaveLength(1);
  });
});

describe('the limit of subscriptions per source, under concurrent requests (Azurite)', () => {
  it(`${String(CONCURRENT)} concurrent subscriptions with distinct URLs to one source: exactly ${String(MAX_SUBSCRIPTIONS_PER_SOURCE)} made, the rest a 409`, async () => {
    const store = freshStore();
    for (let round = 0; round < ROUNDS; round++) {
      const where = { cluster: 'dev', namespace: 'batch', source: { kind: 'Job' as const, name: `report-${String(round)}` } };
      const { made, refused, other } = await race(
        Array.from({ length: CONCURRENT }, (_, i) => () =>
          subscribeSource(where, { namespace: 'batch', url: `https://hooks.contoso.example/aks/s/${String(round)}/${String(i)}` }, { kind: 'key' }, depsOf(store)),
        ),
      );
      expect(other, `round ${String(round)}`).toEqual([]);
      expect(made.filter((m) => m.created), `round ${String(round)}`).toHaveLength(MAX_SUBSCRIPTIONS_PER_SOURCE);
      expect(refused, `round ${String(round)}`).toHaveLength(CONCURRENT - MAX_SUBSCRIPTIONS_PER_SOURCE);
      for (const message of refused) expect(message).toContain(`the most one may have (${String(MAX_SUBSCRIPTIONS_PER_SOURCE)}); delete one first`);
      expect(await store.listSource(`dev/batch/Job/report-${String(round)}`), `round ${String(round)}: what is stored`).toHaveLength(MAX_SUBSCRIPTIONS_PER_SOURCE);
    }
  });

  it('a DELETE frees its place for the next subscription', async () => {
    const store = freshStore();
    const where = { cluster: 'dev', namespace: 'batch', source: null };
    const made = await race(
      Array.from({ length: MAX_SUBSCRIPTIONS_PER_SOURCE }, (_, i) => () => subscribeSource(where, { namespace: 'batch', url: `https://hooks.contoso.example/aks/n/${String(i)}` }, { kind: 'key' }, depsOf(store))),
    );
    expect(made.made).toHaveLength(MAX_SUBSCRIPTIONS_PER_SOURCE);
    const sixth = () => subscribeSource(where, { namespace: 'batch', url: 'https://hooks.contoso.example/aks/n/6' }, { kind: 'key' }, depsOf(store));
    expect((await race([sixth])).refused).toHaveLength(1);
    const victim = made.made[0]?.sub;
    if (!victim) throw new Error('no subscription was made');
    await store.deleteSource(victim);
    expect((await race([sixth])).made).toHaveLength(1);
  });
});
