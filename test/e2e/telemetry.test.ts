import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { type LocalApp, startLocalApp } from '../../local/host/server.js';
import { telemetryStarted } from '../../src/clients/telemetry.js';
import { ATTRIBUTES, EVENTS, METRICS } from '../../src/core/telemetry-names.js';
import { fails, succeeds } from '../../testenv/fates.js';
import { adminKube, testJob, useNamespace, waitFor } from '../integration/helpers.js';
import { appCalls } from '../support/app-calls.js';
import { localAppSettings } from '../support/e2e-settings.js';
import { metricTotal, type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from '../support/otlp-receiver.js';

/**
 * The app's own telemetry set-up (src/setup.ts: OTEL_EXPORTER_OTLP_ENDPOINT, the real OTLP/HTTP exporters)
 * loaded by the local runtime, sending to an OTLP/HTTP receiver on loopback while runs go through the HTTP API,
 * the orchestration and its activities against the local control plane.
 */
const ns = useNamespace('otel');
const kube = adminKube();
let app: LocalApp;
let receiver: OtlpReceiver;
let stateDir: string;
const KEY = 'otel-key';
const { runToVerdict } = appCalls(() => app, ns, 90_000);

/** The run's spans, once those of the start, the orchestration and each activity it ran have arrived. */
function spansOf(runId: string, names: readonly string[]): Promise<ReceivedSpan[]> {
  return waitFor(`the spans of ${runId}`, () => {
    const spans = receiver.spans.filter((s) => s.attributes[ATTRIBUTES.runId] === runId);
    return Promise.resolve(names.every((n) => spans.some((s) => s.name === n)) ? spans : undefined);
  }, 30_000);
}

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  Object.assign(process.env, localAppSettings(ns(), {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_METRIC_EXPORT_INTERVAL: '1000',
    LOGS_CONNECTION_STRING: inject('logsConnectionString'),
  }));
  stateDir = await mkdtemp(join(tmpdir(), 'aks-job-runner-otel-'));
  app = await startLocalApp({ functionKey: KEY, stateDir });
  await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'report', namespace: ns(), suspend: true, fate: succeeds({ runFor: '1s' }) }) });
  await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'broken', namespace: ns(), suspend: true, fate: fails({ exitCode: 3, runFor: '1s' }) }) });
});

afterAll(async () => {
  await app.close();
  await telemetryStarted()?.shutdown();
  await receiver.close();
  await rm(stateDir, { recursive: true, force: true });
  for (const name of ['CLUSTERS', 'POLL_INITIAL_SECONDS', 'POLL_MAX_SECONDS', 'STATUS_RETRY_AFTER_SECONDS', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_METRIC_EXPORT_INTERVAL', 'LOGS_CONNECTION_STRING']) {
    Reflect.deleteProperty(process.env, name);
  }
});

describe('telemetry of a run, exported over OTLP/HTTP', () => {
  it('is one trace from the start request through the orchestration and each activity, every span carrying the run', async () => {
    expect(telemetryStarted()?.destinations).toEqual(['otlp']);
    const { runId, status } = await runToVerdict('report');
    expect(status).toBe(200);
    const spans = await spansOf(runId, ['start run', 'submitRun', 'observeRun', 'archiveRun', 'orchestration jobRun']);
    const start = spans.find((s) => s.name === 'start run');
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([start?.traceId]));
    // The start's span is the parent of every other: the input's traceparent crossed the Durable boundary.
    for (const span of spans.filter((s) => s !== start)) expect(span.parentSpanId, span.name).toBe(start?.spanId);
    for (const span of spans) {
      expect(span.attributes, span.name).toMatchObject({
        [ATTRIBUTES.runId]: runId,
        [ATTRIBUTES.cluster]: 'local',
        [ATTRIBUTES.namespace]: ns(),
        [ATTRIBUTES.sourceKind]: 'Job',
        [ATTRIBUTES.sourceName]: 'report',
        [ATTRIBUTES.trigger]: 'http',
      });
    }
    expect(spans.find((s) => s.name === 'orchestration jobRun')?.attributes[ATTRIBUTES.status]).toBe('Success');

    // The activities' log lines (context.log) as log records in the run's trace, with the run's attributes.
    const lines = await waitFor('the run\'s log records', () => {
      // The start route's audit record names the run too, but belongs to the request, not to the run's trace
      // (docs/operations.md, "Audit trail"): only the run's own records are checked here.
      const found = receiver.logs.filter((l) => l.attributes[ATTRIBUTES.runId] === runId && l.eventName !== EVENTS.audit);
      return Promise.resolve(found.some((l) => l.body.includes('submit')) && found.some((l) => l.eventName === EVENTS.runFinished) ? found : undefined);
    }, 15_000);
    for (const line of lines) {
      expect(line.traceId, line.body).toBe(start?.traceId);
      expect(line.attributes[ATTRIBUTES.sourceName], line.body).toBe('report');
    }

    // Its metrics, under their documented names and units.
    await waitFor('the run metrics', () =>
      Promise.resolve(metricTotal(receiver.metrics, METRICS.runsFinished, (a) => a[ATTRIBUTES.sourceName] === 'report' && a[ATTRIBUTES.status] === 'Success') === 1),
    15_000);
    const latest = (name: string) => receiver.metrics.filter((m) => m.name === name).at(-1);
    expect(latest(METRICS.runsStarted)).toMatchObject({ unit: '{run}', kind: 'sum' });
    expect(metricTotal(receiver.metrics, METRICS.runsStarted, (a) => a[ATTRIBUTES.sourceName] === 'report' && a[ATTRIBUTES.trigger] === 'http' && a[ATTRIBUTES.callerKind] === 'key')).toBe(1);
    expect(latest(METRICS.runDuration)).toMatchObject({ unit: 's', kind: 'histogram' });
    expect(latest(METRICS.kubeRequests)).toMatchObject({ unit: '{request}', kind: 'sum' });
    // The Job's create, as the API server answered it.
    expect(metricTotal(receiver.metrics, METRICS.kubeRequests, (a) => a[ATTRIBUTES.verb] === 'create' && a[ATTRIBUTES.resource] === 'jobs' && a[ATTRIBUTES.statusCode] === 201)).toBeGreaterThanOrEqual(1);
    expect(metricTotal(receiver.metrics, METRICS.kubeRequests, (a) => a[ATTRIBUTES.verb] === 'list' && a[ATTRIBUTES.throttled] === false)).toBeGreaterThanOrEqual(1);
    // The run's logs, events and Job written to the archive (Azurite), in bytes.
    await waitFor('the archive metric', () => Promise.resolve(metricTotal(receiver.metrics, METRICS.archiveBytes, (a) => a[ATTRIBUTES.namespace] === ns()) > 0), 15_000);
    expect(latest(METRICS.archiveBytes)).toMatchObject({ unit: 'By', kind: 'sum' });
  });

  it('counts a failed run under its verdict and failure kind', async () => {
    const { runId, status, body } = await runToVerdict('broken');
    expect(status).toBe(424);
    const kind = body.failureKind;
    expect(kind).toBe('ExitCode');
    await waitFor('the failure metric', () =>
      Promise.resolve(metricTotal(receiver.metrics, METRICS.runsFinished, (a) => a[ATTRIBUTES.sourceName] === 'broken' && a[ATTRIBUTES.status] === 'Failed' && a[ATTRIBUTES.failureKind] === kind) === 1),
    15_000);
    const orchestration = (await spansOf(runId, ['orchestration jobRun'])).find((s) => s.name === 'orchestration jobRun');
    expect(orchestration?.status).toBe(2);
    expect(orchestration?.attributes[ATTRIBUTES.failureKind]).toBe(kind);
  });
});
