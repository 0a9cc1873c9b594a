import { describe, expect, it } from 'vitest';

import { type RunRef, type RunSnapshot, snapshotOf } from '../../src/core/run.js';
import { outcomeOf } from '../../src/core/subscriptions.js';
import {
  attemptDelivery,
  type AttemptDeps,
  type DeliveryInput,
  PLACE_GRACE_MS,
  startDeliveries,
  subscribe,
  type SubscribeDeps,
  SubscriptionStore,
  unsubscribe,
} from '../../src/runs/subscriptions.js';
import { MemoryBlobs } from '../fakes/blobs.js';

const t0 = new Date('2026-12-07T03:00:00Z');
const ref: RunRef = { runId: 'report-abc12', cluster: 'dev', namespace: 'batch', source: { kind: 'Job', name: 'report' } };
const success: RunSnapshot = snapshotOf(ref, { status: 'Success', reason: 'CompletionsReached', message: 'done' }, t0);
const HOOK = 'https://hooks.contoso.example/aks/done?token=s3cr3t';
const LOGIC_APPS = 'https://prod-00.westus.logic.azure.com/workflows/x/runs/y/actions/z/run?sp=%2F&sv=1.0&sig=s3cr3t';

function setup(canSign = true): { blobs: MemoryBlobs; store: SubscriptionStore; deps: SubscribeDeps } {
  const blobs = new MemoryBlobs();
  const store = new SubscriptionStore(blobs);
  const deps: SubscribeDeps = {
    store,
    checkUrl: (raw) => (raw.startsWith('https://') ? { url: new URL(raw) } : { problem: 'not https; CALLBACK_ALLOWED_URLS admits only https URLs', setting: 'CALLBACK_ALLOWED_URLS' }),
    display: (url) => `${url.protocol}//${url.host}`,
    canSign,
    now: t0,
    apiBase: 'https://jobs.example.net/api',
  };
  return { blobs, store, deps };
}

function starter(): { started: Map<string, DeliveryInput>; start: (id: string, input: DeliveryInput) => Promise<boolean> } {
  const started = new Map<string, DeliveryInput>();
  return {
    started,
    start: (id, input) => {
      if (started.has(id)) return Promise.resolve(false);
      started.set(id, input);
      return Promise.resolve(true);
    },
  };
}

describe('subscribe', () => {
  it('stores the URL only in the subscription\'s blob; what is shown has the host alone', async () => {
    const { blobs, deps } = setup();
    const { sub, created } = await subscribe(ref.runId, { url: HOOK }, deps);
    expect(created).toBe(true);
    expect(sub).toMatchObject({ host: 'https://hooks.contoso.example', format: 'cloudevents', signed: true, state: 'pending', events: ['finished'] });
    const names = [...blobs.blobs.keys()];
    expect(names).toContain(`runs/${ref.runId}/${sub.id}.json`);
    // The index an unsubscribe by URL uses is named by the URL's hash, never by the URL.
    expect(names.some((n) => n.includes('s3cr3t'))).toBe(false);
  });

  it('a Logic Apps callback URL is sent the snapshot, unsigned, also without a signing secret', async () => {
    const { deps } = setup(false);
    const { sub } = await subscribe(ref.runId, { url: LOGIC_APPS }, deps);
    expect(sub).toMatchObject({ format: 'snapshot', signed: false });
  });

  it('another URL without a signing secret is a 400 naming WEBHOOK_SIGNING_SECRET', async () => {
    const { deps } = setup(false);
    await expect(subscribe(ref.runId, { url: HOOK }, deps)).rejects.toThrow(/WEBHOOK_SIGNING_SECRET/);
  });

  it('a URL the policy refuses is a 400 naming the setting, and nothing is stored', async () => {
    const { blobs, deps } = setup();
    await expect(subscribe(ref.runId, { url: 'http://hooks.contoso.example/x' }, deps)).rejects.toThrow(/CALLBACK_ALLOWED_URLS/);
    expect(blobs.blobs.size).toBe(0);
  });

  it('the same URL twice is the same subscription; a sixth URL is a 409 that says the limit', async () => {
    const { deps } = setup();
    const first = await subscribe(ref.runId, { url: HOOK }, deps);
    const again = await subscribe(ref.runId, { url: HOOK }, deps);
    expect(again).toEqual({ sub: first.sub, created: false });
    for (let i = 1; i < 5; i++) await subscribe(ref.runId, { url: `https://hooks.contoso.example/aks/${String(i)}` }, deps);
    await expect(subscribe(ref.runId, { url: 'https://hooks.contoso.example/aks/6' }, deps)).rejects.toThrow(/already has 5 subscriptions, the most a run may have \(5\)/);
  });

  it('an unsubscribed one does not count, and subscribing its URL again renews it', async () => {
    const { store, deps } = setup();
    const { sub } = await subscribe(ref.runId, { url: HOOK }, deps);
    const gone = await unsubscribe(store, ref.runId, sub.id);
    expect(gone).toMatchObject({ state: 'unsubscribed', url: null });
    expect(await store.findByUrl(HOOK)).toBeUndefined();
    const renewed = await subscribe(ref.runId, { url: HOOK }, deps);
    expect(renewed).toMatchObject({ created: true, sub: { id: sub.id, state: 'pending', url: new URL(HOOK).toString() } });
    expect(await store.findByUrl(new URL(HOOK).toString())).toEqual({ runId: ref.runId, id: sub.id });
  });

  it('subscriptions made before the places were kept count: the places start with them', async () => {
    const { blobs, deps } = setup();
    for (let i = 0; i < 5; i++) await subscribe(ref.runId, { url: `https://hooks.contoso.example/aks/old/${String(i)}` }, deps);
    // As stored before this change: subscriptions, and no places blob.
    blobs.blobs.delete(`run-places/${ref.runId}.json`);
    await expect(subscribe(ref.runId, { url: 'https://hooks.contoso.example/aks/new' }, deps)).rejects.toThrow(/the most a run may have \(5\)/);
  });

  it('a place whose subscription was never written is given back after PLACE_GRACE_MS, not before', async () => {
    const { store, deps } = setup();
    // Five requests that took their places and died before writing their subscriptions.
    for (let i = 0; i < 5; i++) expect(await store.takeRunPlace(ref.runId, `dead${String(i)}`, t0)).toEqual({ taken: true });
    const within = { ...deps, now: new Date(t0.getTime() + PLACE_GRACE_MS) };
    await expect(subscribe(ref.runId, { url: HOOK }, within)).rejects.toThrow(/already has 5 subscriptions/);
    const after = { ...deps, now: new Date(t0.getTime() + PLACE_GRACE_MS + 1_000) };
    expect((await subscribe(ref.runId, { url: HOOK }, after)).created).toBe(true);
  });
});

describe('startDeliveries', () => {
  it('one delivery per subscription that wants the verdict, under an id of run, verdict and subscription; a second call starts none', async () => {
    const { store, deps } = setup();
    const a = await subscribe(ref.runId, { url: HOOK }, deps);
    const b = await subscribe(ref.runId, { url: LOGIC_APPS }, deps);
    const c = await subscribe(ref.runId, { url: 'https://hooks.contoso.example/aks/off' }, deps);
    await unsubscribe(store, ref.runId, c.sub.id);
    const { started, start } = starter();
    const ids = await startDeliveries(store, ref, success, start);
    expect(ids.sort()).toEqual([a.sub.id, b.sub.id].map((id) => `delivery-${ref.runId}-success-${id}`).sort());
    // Inputs carry ids and the snapshot: never a URL.
    expect(JSON.stringify([...started.values()])).not.toContain('s3cr3t');
    expect([...started.values()][0]).toMatchObject({ eventId: `${ref.runId}:Success`, subscriptionId: expect.any(String) as string });
    expect(await startDeliveries(store, ref, success, start)).toEqual([]);
  });

  it('a run without a verdict starts nothing', async () => {
    const { store, deps } = setup();
    await subscribe(ref.runId, { url: HOOK }, deps);
    const running = snapshotOf(ref, { status: 'Running', reason: 'Running', message: '' }, t0);
    expect(await startDeliveries(store, ref, running, starter().start)).toEqual([]);
  });
});

describe('attemptDelivery', () => {
  function attemptDeps(store: SubscriptionStore, answer: Parameters<AttemptDeps['outcomeOf']>[0], sent: { url: string; headers: Record<string, string> }[]): AttemptDeps {
    return {
      store,
      checkUrl: (raw) => ({ url: new URL(raw) }),
      body: () => '{"status":"Success"}',
      sign: () => ({ 'webhook-id': `${ref.runId}:Success`, 'webhook-timestamp': '1', 'webhook-signature': 'v1,x' }),
      send: (url, _body, headers) => {
        sent.push({ url: url.toString(), headers });
        return Promise.resolve(answer);
      },
      outcomeOf,
      now: () => t0,
    };
  }

  it('sends, signs a signed subscription, and records the delivery; the same event again sends nothing', async () => {
    const { store, deps } = setup();
    const { sub } = await subscribe(ref.runId, { url: HOOK }, deps);
    const sent: { url: string; headers: Record<string, string> }[] = [];
    expect(await attemptDelivery(ref.runId, sub.id, `${ref.runId}:Success`, attemptDeps(store, { status: 204 }, sent))).toEqual({ kind: 'delivered' });
    expect(sent).toHaveLength(1);
    expect(sent[0]?.headers).toMatchObject({ 'webhook-id': `${ref.runId}:Success`, 'Content-Type': 'application/cloudevents+json; charset=utf-8' });
    expect(await store.get(ref.runId, sub.id)).toMatchObject({ state: 'delivered', attempts: 1, deliveredAt: t0.toISOString(), lastError: null });
    expect((await attemptDelivery(ref.runId, sub.id, `${ref.runId}:Success`, attemptDeps(store, { status: 204 }, sent))).kind).toBe('skipped');
    expect(sent).toHaveLength(1);
  });

  it('a Logic Apps callback is sent without signature headers', async () => {
    const { store, deps } = setup();
    const { sub } = await subscribe(ref.runId, { url: LOGIC_APPS }, deps);
    const sent: { url: string; headers: Record<string, string> }[] = [];
    await attemptDelivery(ref.runId, sub.id, `${ref.runId}:Success`, attemptDeps(store, { status: 200 }, sent));
    expect(Object.keys(sent[0]?.headers ?? {})).toEqual(['Content-Type']);
  });

  it('a failure is recorded with its error and counted; 410 ends the subscription and forgets the URL', async () => {
    const { store, deps } = setup();
    const { sub } = await subscribe(ref.runId, { url: HOOK }, deps);
    const sent: { url: string; headers: Record<string, string> }[] = [];
    expect(await attemptDelivery(ref.runId, sub.id, 'e', attemptDeps(store, { status: 503 }, sent))).toMatchObject({ kind: 'retry' });
    expect(await store.get(ref.runId, sub.id)).toMatchObject({ state: 'retrying', attempts: 1, lastError: 'the receiver answered HTTP 503' });
    expect(await attemptDelivery(ref.runId, sub.id, 'e', attemptDeps(store, { status: 410 }, sent))).toEqual({ kind: 'gone' });
    expect(await store.get(ref.runId, sub.id)).toMatchObject({ state: 'gone', attempts: 2, url: null });
    expect((await attemptDelivery(ref.runId, sub.id, 'e', attemptDeps(store, { status: 200 }, sent))).kind).toBe('skipped');
    expect(sent).toHaveLength(2);
  });

  it('an unsubscribe made while the request was under way stays', async () => {
    const { store, deps } = setup();
    const { sub } = await subscribe(ref.runId, { url: HOOK }, deps);
    const racing = attemptDeps(store, { status: 200 }, []);
    racing.send = async () => {
      await unsubscribe(store, ref.runId, sub.id);
      return { status: 200 };
    };
    await attemptDelivery(ref.runId, sub.id, 'e', racing);
    expect(await store.get(ref.runId, sub.id)).toMatchObject({ state: 'unsubscribed', url: null });
  });

  it('nothing is sent to an unsubscribed subscription', async () => {
    const { store, deps } = setup();
    const { sub } = await subscribe(ref.runId, { url: HOOK }, deps);
    await unsubscribe(store, ref.runId, sub.id);
    const sent: { url: string; headers: Record<string, string> }[] = [];
    expect(await attemptDelivery(ref.runId, sub.id, 'e', attemptDeps(store, { status: 200 }, sent))).toEqual({ kind: 'skipped', why: 'unsubscribed' });
    expect(sent).toEqual([]);
  });
});
