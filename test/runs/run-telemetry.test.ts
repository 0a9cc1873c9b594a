import { SeverityNumber } from '@opentelemetry/api-logs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { emitEvent } from '../../src/clients/otel-events.js';
import { emitLog } from '../../src/clients/telemetry.js';
import { loadConfig } from '../../src/config.js';
import { snapshotOf } from '../../src/core/run.js';
import type { JobRunInput } from '../../src/core/schemas.js';
import { ATTRIBUTES, EVENTS, METRICS, OPERATIONS_ATTRIBUTES } from '../../src/core/telemetry-names.js';
import { recordVerdict } from '../../src/runs/run-telemetry.js';
import { launchRun } from '../../src/runs/start.js';
import { captureTelemetry, type TelemetryCapture } from '../support/otel-capture.js';

/**
 * What Application Insights keeps of a log record is its attributes (AppTraces.Properties): the Azure Monitor
 * exporter drops the record's eventName. So every event carries its name as the `event.name` attribute, which the
 * queries of infra/queries read, and the verdict event carries the run's duration in seconds, which the
 * workbook's p50/p95 (infra/queries/run-duration.kql) reads.
 */
let telemetry: TelemetryCapture;
beforeAll(() => {
  telemetry = captureTelemetry();
});
afterAll(async () => {
  await telemetry.stop();
});
beforeEach(async () => {
  await telemetry.reset();
});

const { poll, activityRetry } = loadConfig({ CLUSTERS: '[{"alias":"dev","type":"kubeconfig","kubeconfigPath":"/x","namespaces":["batch"]}]' });
const ref = { runId: 'report-abc12', cluster: 'dev', namespace: 'batch', source: { kind: 'Job' as const, name: 'report' } };
const input = (startedAt?: string): JobRunInput => ({
  poll,
  retry: activityRetry,
  request: { ...ref, overrides: {}, requestHash: 'h', trigger: { kind: 'http' } },
  ...(startedAt ? { startedAt } : {}),
});

describe('event names as attributes', () => {
  it('emitLog names an event both ways; a plain line gets no event.name', () => {
    emitLog(SeverityNumber.INFO, 'named', { a: 1 }, 'ajr.test.named');
    emitLog(SeverityNumber.INFO, 'plain', { a: 2 });
    const [named, plain] = telemetry.logRecords();
    expect(named?.eventName).toBe('ajr.test.named');
    expect(named?.attributes).toEqual({ a: 1, 'event.name': 'ajr.test.named' });
    expect(plain?.attributes).toEqual({ a: 2 });
  });

  it('emitEvent (the scheduler\'s and the audit trail\'s) goes through the same record, and its name is not overridden by an attribute', () => {
    emitEvent(EVENTS.audit, 'a change', { 'event.name': 'something else', [ATTRIBUTES.outcome]: 'succeeded' }, 'warn');
    const [record] = telemetry.logRecords();
    expect(record).toMatchObject({ eventName: EVENTS.audit, severityNumber: SeverityNumber.WARN, severityText: 'WARN', body: 'a change' });
    expect(record?.attributes).toEqual({ 'event.name': EVENTS.audit, [ATTRIBUTES.outcome]: 'succeeded' });
  });
});

describe('the verdict event', () => {
  it('carries event.name and the run\'s duration in seconds, from its start request to the verdict', () => {
    const at = new Date('2026-12-07T03:02:30.500Z');
    recordVerdict(input('2026-12-07T03:00:00Z'), snapshotOf(ref, { status: 'Success', reason: 'CompletionsReached', message: 'done' }, at), at);
    const [event] = telemetry.events(EVENTS.runFinished);
    expect(event).toMatchObject({ 'event.name': EVENTS.runFinished, [OPERATIONS_ATTRIBUTES.runDurationSeconds]: 150.5, [ATTRIBUTES.status]: 'Success' });
    expect(telemetry.logRecords()[0]?.eventName).toBe(EVENTS.runFinished);
  });

  it('a run whose input has no start time (started before runs recorded it) has no duration, rather than a wrong one', () => {
    const at = new Date('2026-12-07T03:02:30Z');
    recordVerdict(input(), snapshotOf(ref, { status: 'Failed', reason: 'BackoffLimitExceeded', message: 'no' }, at), at);
    const [event] = telemetry.events(EVENTS.runFinished);
    expect(event).toMatchObject({ 'event.name': EVENTS.runFinished, [ATTRIBUTES.status]: 'Failed' });
    expect(event).not.toHaveProperty(OPERATIONS_ATTRIBUTES.runDurationSeconds);
  });
});

describe('runs started (launchRun, where an HTTP caller\'s start and the scheduler\'s both end up)', () => {
  it('counts a run whose instance was made, with its trigger and caller kind; a start that met an existing run counts nothing', async () => {
    const instances = new Map<string, unknown>();
    const runs = {
      find: (id: string) => Promise.resolve(instances.has(id) ? { input: instances.get(id) } : undefined),
      start: (id: string, value: JobRunInput) => {
        if (instances.has(id)) return Promise.reject(new Error('an instance with this id exists'));
        instances.set(id, value);
        return Promise.resolve();
      },
    };
    const http: JobRunInput = { ...input('2026-12-07T03:00:00Z'), request: { ...input().request, caller: { kind: 'key' } } };
    expect((await launchRun(runs, ref.runId, http)).existing).toBeUndefined();
    expect((await launchRun(runs, ref.runId, http)).existing).toBeDefined();
    const started = (await telemetry.collect()).filter((p) => p.name === METRICS.runsStarted);
    expect(started.map((p) => [p.attributes, p.sum])).toEqual([
      [{ [ATTRIBUTES.cluster]: 'dev', [ATTRIBUTES.namespace]: 'batch', [ATTRIBUTES.sourceKind]: 'Job', [ATTRIBUTES.sourceName]: 'report', [ATTRIBUTES.trigger]: 'http', [ATTRIBUTES.callerKind]: 'key' }, 1],
    ]);
  });
});
