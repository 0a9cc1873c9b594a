import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import type { V1Job } from '@kubernetes/client-node';
import { beforeEach, describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config.js';
import { RUNNABLE_ANNOTATION } from '../../src/core/consent.js';
import { type RunSnapshot, snapshotOf, type StartedBy } from '../../src/core/run.js';
import type { JobRunInput } from '../../src/core/schemas.js';
import { deliveryInstanceIdOf, sourceSubscriptionMatches, type StoredSourceSubscription, subscriptionIdOf } from '../../src/core/subscriptions.js';
import { createSourceSubscription } from '../../src/functions/createSourceSubscription.js';
import { deleteSourceSubscription } from '../../src/functions/deleteSourceSubscription.js';
import { notifyRun } from '../../src/functions/notifyRun.js';
import { SubscriptionStore } from '../../src/runs/subscriptions.js';
import { createServices, setServices } from '../../src/services.js';
import { MemoryBlobs } from '../fakes/blobs.js';
import { FakeDurableClient } from '../fakes/durable-client.js';
import { FakeKube } from '../fakes/kube.js';

/**
 * Issue 23 item 4: subscriptions on a source (a connector's "When a run finishes" trigger). What may be subscribed
 * to is what the caller may run and read; at a run's verdict, notifyRun starts one delivery per matching source
 * subscription, under an id of its own run, verdict and subscription, so a retried activity starts none twice.
 */
const t0 = new Date('2026-12-07T04:00:00Z');
const BASE = 'https://jobs.example.net/api';
const APP = 'aaaaaaaa-0000-4000-8000-00000000000a';
const ALICE = 'aaaaaaaa-0000-4000-8000-0000000000a1';
const BOB = 'aaaaaaaa-0000-4000-8000-0000000000b2';
const HOOK = 'https://prod-00.westus.logic.azure.com/workflows/t/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2F&sv=1.0&sig=trigger';
const context = () => new InvocationContext({ functionName: 'test', invocationId: 'inv', logHandler: () => undefined });

let kube: FakeKube;
let client: FakeDurableClient;
let store: SubscriptionStore;
let blobs: MemoryBlobs;

function job(name: string, annotations: Record<string, string> = {}): V1Job {
  return { metadata: { name, namespace: 'batch', uid: `u-${name}`, annotations }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36' }] } } } };
}

function useSettings(env: Record<string, string> = {}): void {
  const config = loadConfig({
    CLUSTERS: JSON.stringify([{ alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/nonexistent', namespaces: ['batch', 'demo'] }]),
    DEFAULT_CLUSTER: 'dev',
    EASY_AUTH_ENABLED: 'true',
    ...env,
  });
  setServices({ ...createServices(config, { gatewayFactory: () => kube, now: () => t0 }), subscriptions: store });
}

function principal(objectId: string, roles: string[] = []): Record<string, string> {
  const claims = [
    { typ: 'appid', val: APP },
    { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: objectId },
    ...roles.map((val) => ({ typ: 'roles', val })),
  ];
  const header = Buffer.from(JSON.stringify({ auth_typ: 'aad', claims, name_typ: 'name', role_typ: 'roles' })).toString('base64');
  return { 'x-ms-client-principal': header, 'x-ms-client-principal-id': objectId, 'x-ms-client-principal-idp': 'aad' };
}

type Who = Record<string, string>;
const KEY: Who = { 'x-functions-key': 'k' };

function subscribeAs(who: Who, body: Record<string, unknown>): Promise<HttpResponseInit> {
  const request = new HttpRequest({ method: 'POST', url: `${BASE}/subscriptions?code=the-key`, headers: { 'content-type': 'application/json', ...who }, body: { string: JSON.stringify(body) } });
  return createSourceSubscription(request, context());
}
function deleteAs(who: Who, id: string): Promise<HttpResponseInit> {
  return deleteSourceSubscription(new HttpRequest({ method: 'DELETE', url: `${BASE}/subscriptions/${id}`, params: { subscriptionId: id }, headers: who }), context());
}
const idOf = (answer: HttpResponseInit) => (answer.jsonBody as { id: string }).id;
const detailOf = (answer: HttpResponseInit) => (answer.jsonBody as { detail: string }).detail;

/** A run of `source` in batch, started by `caller` (absent: a run recorded without one), its verdict Success. */
function finishedRun(runId: string, caller: StartedBy | undefined, source: { kind: 'Job' | 'CronJob'; name: string } = { kind: 'Job', name: 'report' }, namespace = 'batch'): { ref: { runId: string; cluster: string; namespace: string; source: { kind: 'Job' | 'CronJob'; name: string } }; snapshot: RunSnapshot } {
  const ref = { runId, cluster: 'dev', namespace, source };
  const input: JobRunInput = {
    request: { ...ref, overrides: {}, requestHash: 'h', trigger: { kind: 'http' }, ...(caller ? { caller } : {}) },
    poll: { initialSeconds: 5, maxSeconds: 60, factor: 2, continueAsNewAfter: 50, maxObserveFailures: 3 },
    retry: { firstRetryMs: 1000, maxAttempts: 2 },
  };
  const snapshot = snapshotOf(ref, { status: 'Success', reason: 'CompletionsReached', message: 'done' }, t0);
  client.put({ instanceId: runId, input, runtimeStatus: 'Running', customStatus: snapshot });
  return { ref, snapshot };
}
const deliveries = () => [...client.instances.values()].filter((i) => i.name === 'deliverRunEvent').map((i) => i.instanceId);

beforeEach(() => {
  kube = new FakeKube().addJob(job('report')).addJob(job('kept', { [RUNNABLE_ANNOTATION]: 'false' }));
  kube.addCronJob({ metadata: { name: 'nightly', namespace: 'batch', uid: 'c1', resourceVersion: '1' }, spec: { schedule: '0 3 * * *', jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36' }] } } } } } });
  client = new FakeDurableClient(() => t0);
  blobs = new MemoryBlobs();
  store = new SubscriptionStore(blobs);
  useSettings();
});

describe('POST /subscriptions: what may be subscribed to', () => {
  it('a Job the caller may run: 201, a Location under /subscriptions with the request\'s code, never the URL', async () => {
    const answer = await subscribeAs(KEY, { namespace: 'batch', source: { kind: 'Job', name: 'report' }, url: HOOK });
    expect(answer.status, JSON.stringify(answer.jsonBody)).toBe(201);
    const location = (answer.headers as Record<string, string>).Location;
    expect(location).toBe(`${BASE}/subscriptions/${idOf(answer)}?code=the-key`);
    expect(answer.jsonBody).toMatchObject({ cluster: 'dev', namespace: 'batch', source: { kind: 'Job', name: 'report' }, host: 'https://prod-00.westus.logic.azure.com', events: ['finished'], format: 'snapshot', location });
    expect(JSON.stringify(answer.jsonBody)).not.toContain('sig=');
    // The same registration again (a connector saving its flow again) is the same subscription.
    const again = await subscribeAs(KEY, { namespace: 'batch', source: { kind: 'Job', name: 'report' }, url: HOOK });
    expect([again.status, idOf(again)]).toEqual([200, idOf(answer)]);
  });

  it('refuses a source its owner kept out of the app (runnable: "false"): 403, nothing written', async () => {
    const answer = await subscribeAs(KEY, { namespace: 'batch', source: { kind: 'Job', name: 'kept' }, url: HOOK });
    expect(answer.status).toBe(403);
    expect(detailOf(answer)).toContain('runnable');
    expect(blobs.blobs.size).toBe(0);
  });

  it('refuses a source that does not exist (404) and a namespace the app does not allow (403), before reading the cluster', async () => {
    expect((await subscribeAs(KEY, { namespace: 'batch', source: { kind: 'CronJob', name: 'missing' }, url: HOOK })).status).toBe(404);
    kube.calls.length = 0;
    const answer = await subscribeAs(KEY, { namespace: 'kube-system', url: HOOK });
    expect(answer.status).toBe(403);
    expect(kube.calls).toEqual([]);
    expect((await subscribeAs(KEY, { cluster: 'prod', namespace: 'batch', url: HOOK })).status).toBe(403);
    expect(blobs.blobs.size).toBe(0);
  });

  it("refuses a namespace outside the caller's CALLER_POLICIES: 403 naming the setting", async () => {
    useSettings({ CALLER_POLICIES: JSON.stringify({ [APP]: { namespaces: ['demo'] } }) });
    const answer = await subscribeAs(principal(ALICE), { namespace: 'batch', source: { kind: 'Job', name: 'report' }, url: HOOK });
    expect(answer.status).toBe(403);
    expect(detailOf(answer)).toContain('CALLER_POLICIES');
    expect(kube.calls).toEqual([]);
    expect(blobs.blobs.size).toBe(0);
  });

  it.each([
    ['not HTTPS', 'http://hooks.example/x', 'https'],
    ['a host CALLBACK_ALLOWED_URLS does not admit', 'https://attacker.example/collect', 'CALLBACK_ALLOWED_URLS'],
    ['an address inside the network', 'https://10.0.0.5/hook', 'CALLBACK_ALLOWED_URLS'],
  ])('refuses a URL that is %s: 400 naming what decides, nothing written', async (_, url, says) => {
    const answer = await subscribeAs(KEY, { namespace: 'batch', url });
    expect(answer.status).toBe(400);
    expect(detailOf(answer)).toContain(says);
    expect(blobs.blobs.size).toBe(0);
  });

  it('refuses a sixth subscription on one source (409 that says how to make room); another source still has room', async () => {
    for (let i = 1; i <= 5; i++) expect((await subscribeAs(KEY, { namespace: 'batch', source: { kind: 'Job', name: 'report' }, url: `${HOOK}${String(i)}` })).status).toBe(201);
    const sixth = await subscribeAs(KEY, { namespace: 'batch', source: { kind: 'Job', name: 'report' }, url: `${HOOK}6` });
    expect(sixth.status).toBe(409);
    expect(detailOf(sixth)).toMatch(/already has 5 subscriptions.*delete one first/);
    expect((await subscribeAs(KEY, { namespace: 'batch', source: { kind: 'CronJob', name: 'nightly' }, url: `${HOOK}6` })).status).toBe(201);
  });

  it('refuses fields it does not know (400), so a typo in "source" is not a whole-namespace subscription', async () => {
    expect((await subscribeAs(KEY, { namespace: 'batch', sorce: { kind: 'Job', name: 'report' }, url: HOOK })).status).toBe(400);
  });
});

describe('DELETE /subscriptions/{id}', () => {
  it("removes the caller's own (204), then it is gone (404)", async () => {
    const id = idOf(await subscribeAs(KEY, { namespace: 'batch', url: HOOK }));
    expect((await deleteAs(KEY, id)).status).toBe(204);
    expect((await deleteAs(KEY, id)).status).toBe(404);
    expect([...blobs.blobs.keys()].filter((k) => k.startsWith('sources/'))).toEqual([]);
  });

  it("answers another Entra caller's id with the 404 an unknown id gets, and keeps it; an admin may remove it", async () => {
    const id = idOf(await subscribeAs(principal(ALICE), { namespace: 'batch', url: HOOK }));
    expect((await deleteAs(principal(BOB), id)).status).toBe(404);
    expect((await deleteAs(KEY, id)).status).toBe(404);
    expect(await store.getSource(id)).toBeDefined();
    expect((await deleteAs(principal(BOB, ['AksJobRunner.Admin']), id)).status).toBe(204);
  });

  it('answers a caller whose policy no longer admits the namespace with a 404', async () => {
    const id = idOf(await subscribeAs(principal(ALICE), { namespace: 'batch', url: HOOK }));
    useSettings({ CALLER_POLICIES: JSON.stringify({ [APP]: { namespaces: ['demo'] } }) });
    expect((await deleteAs(principal(ALICE), id)).status).toBe(404);
    expect(await store.getSource(id)).toBeDefined();
  });
});

describe('at the verdict: notifyRun starts the matching source subscriptions\' deliveries', () => {
  it('one delivery per matching subscription, under run + verdict + subscription, with the URL a run subscription of that run; a retry starts none again', async () => {
    await subscribeAs(KEY, { namespace: 'batch', source: { kind: 'Job', name: 'report' }, url: HOOK });
    const { ref, snapshot } = finishedRun('report-abcdefg001', { kind: 'key' });
    expect(await notifyRun({ ref, snapshot }, client, context())).toBe(1);
    const id = subscriptionIdOf(ref.runId, new URL(HOOK).toString());
    expect(deliveries()).toEqual([deliveryInstanceIdOf(ref.runId, 'Success', id)]);
    expect((await store.get(ref.runId, id))?.url).toBe(new URL(HOOK).toString());
    // The delivery's input holds ids and the snapshot, never the URL.
    expect(JSON.stringify([...client.instances.values()].map((i) => i.input))).not.toContain('sig=');
    expect(await notifyRun({ ref, snapshot }, client, context())).toBe(0);
    expect(client.startCount).toBe(1);
    // The source subscription stays for the next run.
    const next = finishedRun('report-abcdefg002', { kind: 'key' });
    expect(await notifyRun(next, client, context())).toBe(1);
  });

  it('a whole-namespace subscription is told of every source in its namespace, and of no other namespace or source', async () => {
    await subscribeAs(KEY, { namespace: 'batch', url: HOOK });
    await subscribeAs(KEY, { namespace: 'batch', source: { kind: 'CronJob', name: 'nightly' }, url: `${HOOK}2` });
    expect(await notifyRun(finishedRun('report-abcdefg001', { kind: 'key' }), client, context())).toBe(1);
    expect(await notifyRun(finishedRun('nightly-abcdefg001', { kind: 'key' }, { kind: 'CronJob', name: 'nightly' }), client, context())).toBe(2);
    expect(await notifyRun(finishedRun('report-abcdefg003', { kind: 'key' }, { kind: 'Job', name: 'report' }, 'demo'), client, context())).toBe(0);
  });

  it("an Entra caller is told only of its own runs (an admin of all); a function-key subscription not of Entra callers' runs", async () => {
    await subscribeAs(principal(ALICE), { namespace: 'batch', url: `${HOOK}alice` });
    await subscribeAs(principal(BOB, ['AksJobRunner.Admin']), { namespace: 'batch', url: `${HOOK}admin` });
    await subscribeAs(KEY, { namespace: 'batch', url: `${HOOK}key` });
    const told = async (runId: string, caller: StartedBy | undefined) => {
      await notifyRun(finishedRun(runId, caller), client, context());
      return (await store.list(runId)).map((s) => ['alice', 'admin', 'key'].find((tag) => s.url?.endsWith(tag))).sort();
    };
    expect(await told('report-abcdefg001', { kind: 'entra', appId: APP, objectId: ALICE })).toEqual(['admin', 'alice']);
    expect(await told('report-abcdefg002', { kind: 'entra', appId: APP, objectId: BOB })).toEqual(['admin']);
    expect(await told('report-abcdefg003', { kind: 'key' })).toEqual(['admin', 'key']);
    // A run recorded without a caller counts as a function-key caller's, as GET /runs/{runId} has it.
    expect(await told('report-abcdefg004', undefined)).toEqual(['admin', 'key']);
  });

  it('after DELETE, a run that ends is told nothing', async () => {
    const id = idOf(await subscribeAs(KEY, { namespace: 'batch', source: { kind: 'Job', name: 'report' }, url: HOOK }));
    expect((await deleteAs(KEY, id)).status).toBe(204);
    expect(await notifyRun(finishedRun('report-abcdefg001', { kind: 'key' }), client, context())).toBe(0);
    expect(deliveries()).toEqual([]);
  });

  it('reads who started the run only when some subscription could be told of it (no source subscriptions: no extra call)', async () => {
    const { ref, snapshot } = finishedRun('report-abcdefg001', { kind: 'key' });
    client.instances.delete(ref.runId);
    expect(await notifyRun({ ref, snapshot }, client, context())).toBe(0);
  });
});

describe('sourceSubscriptionMatches', () => {
  const sub: StoredSourceSubscription = {
    id: '0123456789abcdef0123',
    cluster: 'dev',
    namespace: 'batch',
    source: { kind: 'Job', name: 'report' },
    url: HOOK,
    host: 'https://prod-00.westus.logic.azure.com',
    events: ['finished'],
    format: 'snapshot',
    signed: false,
    owner: { kind: 'entra', appId: APP, objectId: ALICE, admin: false },
    createdAt: t0.toISOString(),
    apiBase: null,
  };
  const ref = { cluster: 'dev', namespace: 'batch', source: { kind: 'Job', name: 'report' } };
  const alice: StartedBy = { kind: 'entra', appId: APP, objectId: ALICE };
  type Ref = typeof ref;
  it.each<[string, Ref, StartedBy, boolean]>([
    ['its own run of its source', ref, alice, true],
    ['a run on another cluster', { ...ref, cluster: 'prod' }, alice, false],
    ['a run in another namespace', { ...ref, namespace: 'demo' }, alice, false],
    ['a run of a CronJob of the same name', { ...ref, source: { kind: 'CronJob', name: 'report' } }, alice, false],
    ['a run of another Job', { ...ref, source: { kind: 'Job', name: 'other' } }, alice, false],
    ['another caller\'s run', ref, { kind: 'entra', appId: APP, objectId: BOB }, false],
    ['another application\'s run with the same object id', ref, { kind: 'entra', appId: 'other-app', objectId: ALICE }, false],
    ['a function-key caller\'s run', ref, { kind: 'key' }, false],
  ])('%s', (_, run, starter, expected) => {
    expect(sourceSubscriptionMatches(sub, run, starter)).toBe(expected);
  });
});
