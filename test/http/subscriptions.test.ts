import { HttpRequest, InvocationContext } from '@azure/functions';
import { beforeEach, describe, expect, it } from 'vitest';

import { EventGridError } from '../../src/clients/eventgrid.js';
import { loadConfig } from '../../src/config.js';
import type { CloudEvent } from '../../src/core/cloudevents.js';
import { type RunSnapshot, snapshotOf } from '../../src/core/run.js';
import type { JobRunInput } from '../../src/core/schemas.js';
import { deliveryInstanceIdOf, subscriptionIdOf } from '../../src/core/subscriptions.js';
import { notifyRun } from '../../src/functions/notifyRun.js';
import { unsubscribeCallback } from '../../src/functions/unsubscribeCallback.js';
import { subscribeToRun } from '../../src/http/subscriptions.js';
import { SubscriptionStore } from '../../src/runs/subscriptions.js';
import { createServices, setServices } from '../../src/services.js';
import { MemoryBlobs } from '../fakes/blobs.js';
import { FakeDurableClient } from '../fakes/durable-client.js';
import { FakeKube } from '../fakes/kube.js';

/**
 * Issue 23: a subscription written just as the verdict is made is delivered exactly once. The subscriptions route
 * writes the subscription, then reads the run; the orchestrator makes the verdict its custom status before it
 * schedules notifyRun, which lists the subscriptions (test/functions/jobRun.test.ts holds that order). Every
 * interleaving of the two starts one delivery instance.
 */
const t0 = new Date('2026-12-07T03:00:00Z');
const RUN = 'report-abcdefg999';
const ref = { runId: RUN, cluster: 'dev', namespace: 'batch', source: { kind: 'Job' as const, name: 'report' } };
const HOOK = 'https://prod-00.westus.logic.azure.com/workflows/x/runs/y/actions/z/run?sp=%2F&sv=1.0&sig=abc';
const success: RunSnapshot = snapshotOf(ref, { status: 'Success', reason: 'CompletionsReached', message: 'done' }, t0);
const running: RunSnapshot = snapshotOf(ref, { status: 'Running', reason: 'Running', message: '' }, t0);
const context = () => new InvocationContext({ functionName: 'test', invocationId: 'inv', logHandler: () => undefined });

let client: FakeDurableClient;
let store: SubscriptionStore;

function useSettings(callers = ''): void {
  const config = loadConfig({
    CLUSTERS: JSON.stringify([{ alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/nonexistent', namespaces: ['batch', 'demo'] }]),
    ...(callers ? { CALLER_POLICIES: callers } : {}),
  });
  setServices({ ...createServices(config, { now: () => t0 }), subscriptions: store });
}

function run(customStatus: RunSnapshot, runtimeStatus = 'Running', namespace = 'batch'): void {
  const input: JobRunInput = {
    request: { ...ref, namespace, overrides: {}, requestHash: 'h', caller: { kind: 'key' } },
    poll: { initialSeconds: 5, maxSeconds: 60, factor: 2, continueAsNewAfter: 50, maxObserveFailures: 3 },
    retry: { firstRetryMs: 1000, maxAttempts: 2 },
  };
  client.put({ instanceId: RUN, input, runtimeStatus, customStatus, ...(runtimeStatus === 'Completed' ? { output: customStatus } : {}) });
}

function request(body: unknown, headers: Record<string, string> = {}): HttpRequest {
  return new HttpRequest({ method: 'POST', url: `https://jobs.example.net/api/runs/${RUN}/subscriptions`, params: { runId: RUN }, headers: { 'content-type': 'application/json', ...headers }, body: { string: JSON.stringify(body) } });
}

const deliveries = () => [...client.instances.values()].filter((i) => i.name === 'deliverRunEvent');
const expectedDelivery = () => deliveryInstanceIdOf(RUN, 'Success', subscriptionIdOf(RUN, new URL(HOOK).toString()));

beforeEach(() => {
  client = new FakeDurableClient(() => t0);
  store = new SubscriptionStore(new MemoryBlobs());
  useSettings();
});

describe('a subscription racing the verdict is delivered exactly once', () => {
  it('notifyRun listed before the subscription was written: the route, reading the verdict after its write, starts it', async () => {
    run(success);
    expect(await notifyRun({ ref, snapshot: success }, client, context())).toBe(0);
    await subscribeToRun(request({ url: HOOK }), client, RUN, { url: HOOK }, context());
    expect(deliveries().map((d) => d.instanceId)).toEqual([expectedDelivery()]);
  });

  it('the subscription written before the verdict: the route starts nothing, notifyRun starts it', async () => {
    run(running);
    await subscribeToRun(request({ url: HOOK }), client, RUN, { url: HOOK }, context());
    expect(deliveries()).toEqual([]);
    run(success);
    expect(await notifyRun({ ref, snapshot: success }, client, context())).toBe(1);
    expect(deliveries().map((d) => d.instanceId)).toEqual([expectedDelivery()]);
  });

  it('both see it (and notifyRun is retried): one delivery instance, started once', async () => {
    run(success);
    await subscribeToRun(request({ url: HOOK }), client, RUN, { url: HOOK }, context());
    await notifyRun({ ref, snapshot: success }, client, context());
    await notifyRun({ ref, snapshot: success }, client, context());
    expect(deliveries()).toHaveLength(1);
    expect(client.startCount).toBe(1);
  });

  it('concurrently, in whatever order the awaits interleave: one start', async () => {
    for (let i = 0; i < 20; i++) {
      client = new FakeDurableClient(() => t0);
      store = new SubscriptionStore(new MemoryBlobs());
      useSettings();
      run(success);
      await Promise.all([notifyRun({ ref, snapshot: success }, client, context()), subscribeToRun(request({ url: HOOK }), client, RUN, { url: HOOK }, context()), notifyRun({ ref, snapshot: success }, client, context())]);
      expect(client.startCount).toBe(1);
    }
  });

  it('a delivery that has finished is not started again (startNew would replace a finished instance)', async () => {
    run(success, 'Completed');
    await subscribeToRun(request({ url: HOOK }), client, RUN, { url: HOOK }, context());
    const delivery = client.instances.get(expectedDelivery());
    if (!delivery) throw new Error('no delivery');
    delivery.runtimeStatus = 'Completed';
    await notifyRun({ ref, snapshot: success }, client, context());
    await subscribeToRun(request({ url: HOOK }), client, RUN, { url: HOOK }, context());
    expect(client.startCount).toBe(1);
  });
});

describe('a subscription asking for started, racing the submit activity, is told of the start exactly once', () => {
  const WEBHOOK = 'https://hooks.contoso.example/aks/progress';
  /** Before the submit's answer reached the orchestrator: the run's status does not show the Job yet. */
  const accepted: RunSnapshot = snapshotOf(ref, { status: 'Starting', reason: 'Accepted', message: '' }, t0);
  const submitted: RunSnapshot = snapshotOf(ref, { status: 'Starting', reason: 'Submitted', message: 'the Job was created' }, t0);
  let kube: FakeKube;

  function withCluster(): void {
    const config = loadConfig({
      CLUSTERS: JSON.stringify([{ alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/nonexistent', namespaces: ['batch'] }]),
      CALLBACK_ALLOWED_URLS: 'https://hooks.contoso.example/aks/',
      WEBHOOK_SIGNING_SECRET: `whsec_${Buffer.alloc(32, 7).toString('base64')}`,
    });
    setServices({ ...createServices(config, { gatewayFactory: () => kube, now: () => t0 }), subscriptions: store });
  }
  const body = { url: WEBHOOK, events: ['started' as const, 'finished' as const] };
  const startedDelivery = () => deliveryInstanceIdOf(RUN, 'Started', subscriptionIdOf(RUN, WEBHOOK));

  beforeEach(() => {
    kube = new FakeKube();
    withCluster();
  });

  it('the submit listed before the write and the status does not show the Job yet: the route finds the Job in the cluster and starts it', async () => {
    kube.addJob({ metadata: { name: RUN, namespace: 'batch', uid: 'j1', resourceVersion: '1' }, spec: { template: { spec: { containers: [] } } } });
    run(accepted);
    await subscribeToRun(request(body), client, RUN, body, context());
    expect(deliveries().map((d) => d.instanceId)).toEqual([startedDelivery()]);
    expect(deliveries()[0]?.input).toMatchObject({ eventId: `${RUN}:Started` });
  });

  it('no Job yet: the route starts nothing (the submit activity will find the subscription); the verdict alone is not a start', async () => {
    run(accepted);
    await subscribeToRun(request(body), client, RUN, body, context());
    expect(deliveries()).toEqual([]);
    expect(kube.calls.some((c) => c.startsWith('readJob'))).toBe(true);
  });

  it('the status shows the Job made: no cluster read; the route, the verdict\'s activity and a retried one start it once', async () => {
    run(submitted);
    await subscribeToRun(request(body), client, RUN, body, context());
    expect(kube.calls.filter((c) => c.startsWith('readJob'))).toEqual([]);
    const done = { ...success, startTime: t0.toISOString() };
    run(done);
    await notifyRun({ ref, snapshot: done }, client, context());
    await notifyRun({ ref, snapshot: done }, client, context());
    expect(deliveries().map((d) => d.instanceId).sort()).toEqual([startedDelivery(), deliveryInstanceIdOf(RUN, 'Success', subscriptionIdOf(RUN, WEBHOOK))].sort());
    expect(client.startCount).toBe(2);
  });

  it('a run refused before its Job was made: the verdict\'s activity sends the verdict and no start', async () => {
    run(accepted);
    await subscribeToRun(request(body), client, RUN, body, context());
    const refused = snapshotOf(ref, { status: 'Failed', reason: 'SourceNotFound', message: 'Job "report" does not exist' }, t0);
    run(refused);
    await notifyRun({ ref, snapshot: refused }, client, context());
    expect(deliveries().map((d) => d.instanceId)).toEqual([deliveryInstanceIdOf(RUN, 'Failed', subscriptionIdOf(RUN, WEBHOOK))]);
  });
});

describe('the verdict to Event Grid (EVENT_GRID_TOPIC_ENDPOINT)', () => {
  function withTopic(publish: (events: readonly CloudEvent[]) => Promise<void>): CloudEvent[] {
    const sent: CloudEvent[] = [];
    const config = loadConfig({ CLUSTERS: JSON.stringify([{ alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/nonexistent', namespaces: ['batch'] }]) });
    setServices({
      ...createServices(config, { now: () => t0 }),
      subscriptions: store,
      eventGrid: {
        publish: async (events) => {
          await publish(events);
          sent.push(...events);
        },
      },
    });
    return sent;
  }

  it('publishes the verdict\'s CloudEvent, with the id every push of it carries, after starting the deliveries', async () => {
    const sent = withTopic(() => Promise.resolve());
    run(success);
    await subscribeToRun(request({ url: HOOK }), client, RUN, { url: HOOK }, context());
    await notifyRun({ ref, snapshot: success }, client, context());
    expect(sent).toEqual([expect.objectContaining({ id: `${RUN}:Success`, type: 'io.aks-job-runner.run.finished', subject: RUN })]);
  });

  it('a transient refusal throws, so the activity is retried (its deliveries are not started twice); a lasting one is only logged', async () => {
    withTopic(() => Promise.reject(new EventGridError('topic.example: HTTP 503', true)));
    run(running);
    await subscribeToRun(request({ url: HOOK }), client, RUN, { url: HOOK }, context());
    await expect(notifyRun({ ref, snapshot: success }, client, context())).rejects.toThrow('503');
    await expect(notifyRun({ ref, snapshot: success }, client, context())).rejects.toThrow('503');
    expect(client.startCount).toBe(1);
    withTopic(() => Promise.reject(new EventGridError('topic.example: HTTP 403', false)));
    expect(await notifyRun({ ref, snapshot: success }, client, context())).toBe(0);
  });
});

describe('unsubscribe by callback URL', () => {
  it('removes the subscription; the run is not cancelled', async () => {
    run(running);
    await subscribeToRun(request({ url: HOOK }), client, RUN, { url: HOOK }, context());
    const answer = await unsubscribeCallback(new HttpRequest({ method: 'POST', url: 'https://jobs.example.net/api/subscriptions/unsubscribe', body: { string: JSON.stringify({ url: HOOK }) } }), client, context());
    expect(answer.status).toBe(204);
    expect((await store.list(RUN))[0]).toMatchObject({ state: 'unsubscribed', url: null });
    expect(client.events).toEqual([]);
  });

  it('a caller that may not read the run (confined to another namespace) gets the same 204 and changes nothing', async () => {
    run(running, 'Running', 'demo');
    await subscribeToRun(request({ url: HOOK }), client, RUN, { url: HOOK }, context());
    useSettings(JSON.stringify({ key: { clusters: ['dev'], namespaces: ['batch'] } }));
    const answer = await unsubscribeCallback(new HttpRequest({ method: 'POST', url: 'https://jobs.example.net/api/subscriptions/unsubscribe', headers: { 'x-functions-key': 'k' }, body: { string: JSON.stringify({ url: HOOK }) } }), client, context());
    expect(answer.status).toBe(204);
    expect((await store.list(RUN))[0]).toMatchObject({ state: 'pending' });
  });

  it('finds the URL as Logic Apps writes it, with :443, whichever way it was subscribed', async () => {
    run(running);
    const withPort = HOOK.replace('logic.azure.com/', 'logic.azure.com:443/');
    await subscribeToRun(request({ url: withPort }), client, RUN, { url: withPort }, context());
    await unsubscribeCallback(new HttpRequest({ method: 'POST', url: 'https://jobs.example.net/api/subscriptions/unsubscribe', body: { string: JSON.stringify({ url: withPort }) } }), client, context());
    expect((await store.list(RUN))[0]).toMatchObject({ state: 'unsubscribed' });
  });

  it('an unknown URL is a 204 too: nothing tells whether a URL was subscribed', async () => {
    const answer = await unsubscribeCallback(new HttpRequest({ method: 'POST', url: 'https://jobs.example.net/api/subscriptions/unsubscribe', body: { string: JSON.stringify({ url: `${HOOK}x` }) } }), client, context());
    expect(answer.status).toBe(204);
  });
});
