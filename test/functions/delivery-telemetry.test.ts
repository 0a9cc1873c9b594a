import { InvocationContext } from '@azure/functions';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import type { BlobStore } from '../../src/clients/blob.js';
import { loadConfig } from '../../src/config.js';
import { type RunRef, type RunSnapshot, snapshotOf } from '../../src/core/run.js';
import { ATTRIBUTES, EVENTS, METRICS } from '../../src/core/telemetry-names.js';
import { deadLetterDelivery } from '../../src/functions/deadLetterDelivery.js';
import { attemptDepsOf, subscribeDepsOf } from '../../src/runs/push.js';
import { attemptDelivery, subscribe, SubscriptionStore } from '../../src/runs/subscriptions.js';
import { createServices, setServices } from '../../src/services.js';
import { MemoryBlobs } from '../fakes/blobs.js';
import { type CapturedPoint, captureTelemetry, type TelemetryCapture } from '../support/otel-capture.js';

/**
 * Push deliveries in the telemetry (docs/operations.md; the archive-and-delivery-failures alert reads
 * METRICS.callbackFailures): each attempt the attempt activity makes counts in METRICS.callbackDeliveries by its
 * outcome and channel, and a dead letter written by the dead-letter activity counts as dead_lettered, in
 * METRICS.callbackFailures, and as the EVENTS.deliveryDeadLettered event. Counted in the activities, never in the
 * orchestrator (whose replays would count again). The receiver's answers are given here: the request itself is
 * test/e2e/push.test.ts's; what is under test is what the telemetry gets, and that the URL's `sig` is not in it.
 */
const t0 = new Date('2026-12-07T03:00:00Z');
const ref: RunRef = { runId: 'report-abc12', cluster: 'dev', namespace: 'batch', source: { kind: 'Job', name: 'report' } };
const success: RunSnapshot = snapshotOf(ref, { status: 'Success', reason: 'CompletionsReached', message: 'done' }, t0);
const SIG = 'delivery-telemetry-sig-0123456789';
const LOGIC_APPS = `https://prod-00.westus.logic.azure.com/workflows/x/triggers/manual/paths/invoke?api-version=2016-10-01&sp=%2F&sv=1.0&sig=${SIG}`;
const HOOK = `https://hooks.contoso.example/aks/done?token=${SIG}`;
const config = loadConfig({
  CLUSTERS: JSON.stringify([{ alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/x', namespaces: ['batch'] }]),
  CALLBACK_ALLOWED_URLS: 'https://hooks.contoso.example/aks/ https://prod-00.westus.logic.azure.com/',
  WEBHOOK_SIGNING_SECRET: `whsec_${Buffer.alloc(32, 7).toString('base64')}`,
});

let telemetry: TelemetryCapture;
let store: SubscriptionStore;
let archive: MemoryBlobs;

const deliveries = (all: CapturedPoint[]) => all.filter((p) => p.name === METRICS.callbackDeliveries).map((p) => [p.attributes, p.sum]);

async function attempt(url: string, answers: number[], format?: 'snapshot' | 'cloudevents'): Promise<string> {
  const { sub } = await subscribe(ref.runId, { url, ...(format ? { format } : {}) }, subscribeDepsOf(config, store, t0, null));
  for (const status of answers) {
    const deps = { ...attemptDepsOf(config, store, success, `${ref.runId}:Success`, () => t0), send: () => Promise.resolve({ status }) };
    await attemptDelivery(ref.runId, sub.id, `${ref.runId}:Success`, deps);
  }
  return sub.id;
}

beforeAll(() => {
  telemetry = captureTelemetry();
});
afterAll(async () => {
  await telemetry.stop();
});
beforeEach(async () => {
  store = new SubscriptionStore(new MemoryBlobs());
  archive = new MemoryBlobs();
  const logs = Object.assign(archive, { path: (name: string) => `run-logs/${name}` }) as unknown as BlobStore;
  setServices({ ...createServices(config, { now: () => t0 }), subscriptions: store, logs });
  await telemetry.reset();
});

describe('push deliveries in the telemetry', () => {
  it('counts each attempt by outcome and channel: a Logic Apps callback, a signed webhook, a CloudEvent', async () => {
    await attempt(LOGIC_APPS, [503, 200]);
    await attempt(HOOK, [410], 'snapshot');
    await attempt(`${HOOK}&other=1`, [204]);
    expect(deliveries(await telemetry.collect())).toEqual(
      expect.arrayContaining([
        [{ [ATTRIBUTES.outcome]: 'retry', [ATTRIBUTES.channel]: 'logicapps' }, 1],
        [{ [ATTRIBUTES.outcome]: 'delivered', [ATTRIBUTES.channel]: 'logicapps' }, 1],
        [{ [ATTRIBUTES.outcome]: 'gone', [ATTRIBUTES.channel]: 'webhook' }, 1],
        [{ [ATTRIBUTES.outcome]: 'delivered', [ATTRIBUTES.channel]: 'cloudevents' }, 1],
      ]),
    );
    const all = await telemetry.collect();
    expect(all).toEqual([]);
  });

  it('an attempt that sends nothing (the same event delivered before) counts nothing', async () => {
    const id = await attempt(LOGIC_APPS, [200]);
    await telemetry.reset();
    const deps = { ...attemptDepsOf(config, store, success, `${ref.runId}:Success`, () => t0), send: () => Promise.reject(new Error('not to be sent')) };
    expect((await attemptDelivery(ref.runId, id, `${ref.runId}:Success`, deps)).kind).toBe('skipped');
    expect(deliveries(await telemetry.collect())).toEqual([]);
  });

  it('a dead letter counts once as dead_lettered and as a failure, with an event that names the host, never the URL', async () => {
    const id = await attempt(LOGIC_APPS, [500]);
    await telemetry.reset();
    const context = new InvocationContext({ functionName: 'deadLetterDelivery', invocationId: 'dl', logHandler: () => undefined });
    const location = await deadLetterDelivery({ ref, subscriptionId: id, eventId: `${ref.runId}:Success`, snapshot: success, attempts: 35, lastError: 'the receiver answered HTTP 500' }, context);
    expect(location).toBe(`run-logs/dev/batch/${ref.runId}/dead-letters/${id}.json`);
    const all = await telemetry.collect();
    expect(deliveries(all)).toEqual([[{ [ATTRIBUTES.outcome]: 'dead_lettered', [ATTRIBUTES.channel]: 'logicapps' }, 1]]);
    expect(all.filter((p) => p.name === METRICS.callbackFailures).map((p) => [p.attributes, p.sum])).toEqual([[{ [ATTRIBUTES.channel]: 'logicapps' }, 1]]);
    const [event] = telemetry.events(EVENTS.deliveryDeadLettered);
    expect(event).toMatchObject({ [ATTRIBUTES.runId]: ref.runId, [ATTRIBUTES.channel]: 'logicapps', body: expect.stringContaining('https://prod-00.westus.logic.azure.com') as unknown });
    expect(JSON.stringify({ all, records: telemetry.logRecords().map((r) => [r.body, r.attributes]) })).not.toContain(SIG);
  });
});
