import { InvocationContext, type Timer } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { LocalDurable } from '../../local/durable/runtime.js';
import { LAST_SCHEDULE_ANNOTATION, SCHEDULER_LABEL } from '../../src/core/labels.js';
import { ATTRIBUTES, EVENTS, METRICS } from '../../src/core/telemetry-names.js';
import { scheduler } from '../../src/functions/scheduler.js';
import { createServices, setServices } from '../../src/services.js';
import { COMPLETE_DELAY_ANNOTATION } from '../../testenv/fates.js';
import { type MetricRow, missedDueTimes, schedulerStopped, type TraceRow } from '../support/kql-equivalents.js';
import { captureTelemetry, type TelemetryCapture } from '../support/otel-capture.js';
import { adminKube, testJob, useNamespace } from './helpers.js';
import { localRunPath, runPathConfig } from './run-path.js';

/**
 * Issue 24's check of the scheduler's signals on the real clock, against the real control plane: a CronJob handed
 * over while the scheduler runs, then the scheduler turned off (SCHEDULER_ENABLED=false) and the due time let pass
 * for real: no Job is made, the heartbeat falls silent, and the records the app emitted give the missed-due-time
 * alert's join its row (run over them with the query's TypeScript rendering, settle time 0: the telemetry is here).
 */
const ns = useNamespace('signals');
const kube = adminKube();
let durable: LocalDurable;
let telemetry: TelemetryCapture;
const context = () => new InvocationContext({ functionName: 'scheduler', invocationId: 'signals', logHandler: () => undefined });
const timer: Timer = { isPastDue: false, schedule: { adjustForDST: true }, scheduleStatus: { last: '', next: '', lastUpdated: '' } };
const traces: TraceRow[] = [];
const metrics: MetricRow[] = [];

async function gather(): Promise<void> {
  const now = new Date();
  traces.push(...telemetry.logRecords().map((r) => ({ time: now, properties: { ...r.attributes } })));
  metrics.push(...(await telemetry.collect()).map((p) => ({ time: now, name: p.name, sum: p.sum, count: p.count, max: p.max, properties: p.attributes })));
  await telemetry.reset();
}

beforeAll(() => {
  setServices(createServices(runPathConfig(ns())));
  durable = localRunPath();
  telemetry = captureTelemetry();
});
afterAll(async () => {
  await durable.close();
  await telemetry.stop();
});

describe('the scheduler\'s signals on the real clock', () => {
  it('a handed-over CronJob whose due time passes with the scheduler off gives the alert its missed due time', async () => {
    // Last scheduled this minute, so the next due time is the next minute; its deadline 5 s after it. Not in a
    // minute's last 15 s, so the first tick cannot fall in the next minute (and find that one due).
    if (Date.now() % 60_000 > 45_000) await new Promise((resolve) => setTimeout(resolve, 60_500 - (Date.now() % 60_000)));
    const thisMinute = new Date(Math.floor(Date.now() / 60_000) * 60_000);
    const template = testJob({ name: 'every-minute', namespace: ns(), annotations: { [COMPLETE_DELAY_ANNOTATION]: '1s' } });
    await kube.batch.createNamespacedCronJob({
      namespace: ns(),
      body: {
        metadata: { name: 'every-minute', labels: { [SCHEDULER_LABEL]: 'app' }, annotations: { [LAST_SCHEDULE_ANNOTATION]: thisMinute.toISOString() } },
        spec: { schedule: '* * * * *', suspend: true, startingDeadlineSeconds: 5, jobTemplate: { spec: template.spec } },
      },
    });
    const report = await scheduler(timer, durable, context());
    expect(report).toMatchObject({ cronJobs: 1, started: [] });
    await gather();
    const dueAt = new Date(thisMinute.getTime() + 60_000);
    expect(traces.map((t) => t.properties)).toEqual([
      expect.objectContaining({ 'event.name': EVENTS.scheduleExpected, [ATTRIBUTES.cronJob]: 'every-minute', [ATTRIBUTES.dueAt]: dueAt.toISOString().replace('.000', ''), [ATTRIBUTES.deadlineAt]: new Date(dueAt.getTime() + 5_000).toISOString().replace('.000', '') }),
    ]);
    expect(metrics.find((m) => m.name === METRICS.schedulerTicks)?.sum).toBe(1);

    // The scheduler is turned off; its timer still fires, on the real clock, past the due time and the deadline.
    setServices(createServices(runPathConfig(ns(), { SCHEDULER_ENABLED: 'false' })));
    const deadline = dueAt.getTime() + 5_000;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline + 1_000 - Date.now())));
    expect(await scheduler(timer, durable, context())).toBeUndefined();
    await gather();

    const jobs = await kube.batch.listNamespacedJob({ namespace: ns() });
    expect(jobs.items.map((j) => j.metadata?.name)).toEqual([]);
    const now = new Date();
    expect(missedDueTimes(traces, metrics, now, { settleMs: 0 })).toEqual([
      { cluster: 'local', namespace: ns(), cronJob: 'every-minute', dueAt: dueAt.toISOString(), reason: 'NoRunByDeadline' },
    ]);
    // The heartbeat: the one tick before the switch, none since.
    expect(metrics.filter((m) => m.name === METRICS.schedulerTicks).map((m) => m.sum)).toEqual([1]);
    expect(schedulerStopped(metrics, new Date(now.getTime() + 10 * 60_000))).toBe(true);
  }, 120_000);
});
