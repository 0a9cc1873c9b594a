import { describe, expect, it } from 'vitest';

import { BadRequestError } from '../../src/core/errors.js';
import { type RunRef, type RunSnapshot, snapshotOf } from '../../src/core/run.js';
import { eventTypeOfId, outcomeOf, viewOf } from '../../src/core/subscriptions.js';
import {
  attemptDelivery,
  type AttemptDeps,
  type DeliveryInput,
  markDeadLettered,
  PLACE_GRACE_MS,
  startDeliveries,
  startStartedDeliveries,
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

describe('the started event (issue 23, item 3)', () => {
  const running: RunSnapshot = snapshotOf(ref, { status: 'Starting', reason: 'Submitted', message: 'the Job was created' }, t0);

  function sender(sent: { body: string; headers: Record<string, string> }[], status = 200): AttemptDeps {
    return {
      store: new SubscriptionStore(new MemoryBlobs()),
      checkUrl: (raw) => ({ url: new URL(raw) }),
      body: (sub) => `{"sub":"${sub.id}"}`,
      sign: () => ({ 'webhook-signature': 'v1,x' }),
      send: (_url, body, headers) => {
        sent.push({ body, headers });
        return Promise.resolve({ status });
      },
      outcomeOf,
      now: () => t0,
    };
  }

  it('a Logic Apps or Power Automate callback URL asking for started is a 400 that says why, and nothing is stored', async () => {
    const { blobs, deps } = setup();
    const automate = 'https://prod.westeurope.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/abc/triggers/manual/paths/invoke?sig=s3cr3t';
    for (const url of [LOGIC_APPS, automate]) {
      for (const events of [['started'], ['started', 'finished']] as const) {
        const err = await subscribe(ref.runId, { url, events: [...events], format: 'cloudevents' }, deps).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err, `${url} ${events.join(',')}`).toBeInstanceOf(BadRequestError);
        expect((err as Error).message).toContain('may ask for "finished" only, not "started"');
        expect((err as Error).message).toContain('resumes its workflow on the first request');
        expect((err as Error).message).not.toContain('s3cr3t');
      }
    }
    expect(blobs.blobs.size).toBe(0);
    // The verdict alone is as before.
    expect((await subscribe(ref.runId, { url: LOGIC_APPS, events: ['finished'] }, deps)).created).toBe(true);
  });

  it('events are kept once each, in the order they happen; only a subscription asking for started has its delivery', async () => {
    const { deps } = setup();
    const both = await subscribe(ref.runId, { url: HOOK, events: ['finished', 'started', 'finished'] }, deps);
    expect(both.sub).toMatchObject({ events: ['started', 'finished'], started: { state: 'pending', attempts: 0 } });
    const verdict = await subscribe(ref.runId, { url: `${HOOK}&v`, events: ['finished'] }, deps);
    expect(verdict.sub.started).toBeNull();
  });

  it('a subscription stored before started existed still reads, its delivery shown as the verdict\'s', async () => {
    const { blobs, store, deps } = setup();
    const { sub } = await subscribe(ref.runId, { url: HOOK }, deps);
    const name = `runs/${ref.runId}/${sub.id}.json`;
    const old = JSON.parse(blobs.blobs.get(name)?.content.toString() ?? '{}') as Record<string, unknown>;
    delete old.started;
    blobs.blobs.set(name, { content: Buffer.from(JSON.stringify({ ...old, state: 'delivered', attempts: 2 })), etag: '"old"' });
    const read = await store.get(ref.runId, sub.id);
    expect(read?.started).toBeNull();
    if (!read) throw new Error('not read');
    expect(viewOf(read)).toMatchObject({ state: 'delivered', attempts: 2, deliveries: { finished: { state: 'delivered', attempts: 2 } } });
    expect(viewOf(read).deliveries.started).toBeUndefined();
  });

  it('one delivery per subscription that asks for it, under an id of run, "started" and subscription, with the id <runId>:Started; a second call starts none', async () => {
    const { store, deps } = setup();
    const asks = await subscribe(ref.runId, { url: HOOK, events: ['started', 'finished'] }, deps);
    await subscribe(ref.runId, { url: `${HOOK}&verdict-only` }, deps);
    const ended = await subscribe(ref.runId, { url: `${HOOK}&ended`, events: ['started'] }, deps);
    await unsubscribe(store, ref.runId, ended.sub.id);
    const { started, start } = starter();
    expect(await startStartedDeliveries(store, ref, running, start)).toEqual([`delivery-${ref.runId}-started-${asks.sub.id}`]);
    expect([...started.values()][0]).toMatchObject({ eventId: `${ref.runId}:Started`, subscriptionId: asks.sub.id, snapshot: { status: 'Starting' } });
    // The submit activity again (a retry, the next attempt's Job), the route, the verdict: the same instance.
    expect(await startStartedDeliveries(store, ref, running, start)).toEqual([]);
    expect(await startStartedDeliveries(store, { ...ref, jobName: `${ref.runId}-r1` }, running, start)).toEqual([]);
    expect(eventTypeOfId(`${ref.runId}:Started`)).toBe('started');
  });

  it('the start and the verdict are delivered and shown each on its own; a repeat of the start sends nothing', async () => {
    const sent: { body: string; headers: Record<string, string> }[] = [];
    const deps = sender(sent);
    const { sub } = await subscribe(ref.runId, { url: HOOK, events: ['started', 'finished'] }, { ...setup().deps, store: deps.store });
    expect(await attemptDelivery(ref.runId, sub.id, `${ref.runId}:Started`, deps)).toEqual({ kind: 'delivered' });
    let stored = await deps.store.get(ref.runId, sub.id);
    expect(stored).toMatchObject({ state: 'pending', attempts: 0, started: { state: 'delivered', attempts: 1, eventId: `${ref.runId}:Started`, deliveredAt: t0.toISOString() } });
    expect((await attemptDelivery(ref.runId, sub.id, `${ref.runId}:Started`, deps)).kind).toBe('skipped');
    expect(sent).toHaveLength(1);
    expect(await attemptDelivery(ref.runId, sub.id, `${ref.runId}:Success`, deps)).toEqual({ kind: 'delivered' });
    stored = await deps.store.get(ref.runId, sub.id);
    expect(stored).toMatchObject({ state: 'delivered', attempts: 1, eventId: `${ref.runId}:Success`, started: { state: 'delivered', attempts: 1 } });
    if (!stored) throw new Error('not stored');
    expect(viewOf(stored)).toMatchObject({
      state: 'delivered',
      deliveries: { started: { state: 'delivered', attempts: 1 }, finished: { state: 'delivered', attempts: 1 } },
    });
    expect(sent).toHaveLength(2);
  });

  it('a subscription asking only for started shows the start\'s delivery at the top', async () => {
    const sent: { body: string; headers: Record<string, string> }[] = [];
    const deps = sender(sent, 503);
    const { sub } = await subscribe(ref.runId, { url: HOOK, events: ['started'] }, { ...setup().deps, store: deps.store });
    await attemptDelivery(ref.runId, sub.id, `${ref.runId}:Started`, deps);
    const stored = await deps.store.get(ref.runId, sub.id);
    if (!stored) throw new Error('not stored');
    expect(viewOf(stored)).toMatchObject({ events: ['started'], state: 'retrying', attempts: 1, lastError: 'the receiver answered HTTP 503' });
    expect(viewOf(stored).deliveries).toEqual({ started: expect.objectContaining({ state: 'retrying' }) as unknown });
  });

  it('410 to the start ends the whole subscription: the verdict is not sent', async () => {
    const sent: { body: string; headers: Record<string, string> }[] = [];
    const deps = sender(sent, 410);
    const { sub } = await subscribe(ref.runId, { url: HOOK, events: ['started', 'finished'] }, { ...setup().deps, store: deps.store });
    expect(await attemptDelivery(ref.runId, sub.id, `${ref.runId}:Started`, deps)).toEqual({ kind: 'gone' });
    expect(await deps.store.get(ref.runId, sub.id)).toMatchObject({ state: 'gone', url: null, started: { state: 'gone' } });
    expect((await attemptDelivery(ref.runId, sub.id, `${ref.runId}:Success`, deps)).kind).toBe('skipped');
    expect(sent).toHaveLength(1);
  });

  it('a dead letter of the start marks the start\'s delivery, not the verdict\'s', async () => {
    const { store, deps } = setup();
    const { sub } = await subscribe(ref.runId, { url: HOOK, events: ['started', 'finished'] }, deps);
    await markDeadLettered(store, ref.runId, sub.id, 'dev/batch/x/dead-letters/y-started.json', `${ref.runId}:Started`);
    expect(await store.get(ref.runId, sub.id)).toMatchObject({ state: 'pending', deadLetter: null, started: { state: 'deadLettered', deadLetter: 'dev/batch/x/dead-letters/y-started.json' } });
  });
});
