import { InvocationContext, type Timer } from '@azure/functions';
import type { V1CronJob } from '@kubernetes/client-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config.js';
import { LAST_SCHEDULE_ANNOTATION, SCHEDULER_LABEL } from '../../src/core/labels.js';
import { MISSED_GRACE_SECONDS } from '../../src/core/schedule-signals.js';
import { ATTRIBUTES, EVENTS, METRICS } from '../../src/core/telemetry-names.js';
import { scheduler } from '../../src/functions/scheduler.js';
import { createServices, setServices } from '../../src/services.js';
import { FakeDurableClient } from '../fakes/durable-client.js';
import { FakeKube } from '../fakes/kube.js';
import { type MetricRow, missedDueTimes, schedulerStopped, type TraceRow } from '../support/kql-equivalents.js';
import { type CapturedPoint, captureTelemetry, type TelemetryCapture } from '../support/otel-capture.js';

/**
 * The scheduler's signals (issue 24, item 4), as the OpenTelemetry SDK receives them through the API globals: the
 * tick heartbeat and duration, lateness per fired run, the expected due time per handed-over CronJob every tick, the
 * due times it finds missed, and the alert's join over them when the scheduler is off. The lateness is measured on
 * the real clock; the due-time scenarios at fixed instants, as the rest of the scheduler's tests.
 */
const timer: Timer = { isPastDue: false, schedule: { adjustForDST: true }, scheduleStatus: { last: '', next: '', lastUpdated: '' } };
const context = () => new InvocationContext({ functionName: 'scheduler', invocationId: 'tick', logHandler: () => undefined });

let kube: FakeKube;
let client: FakeDurableClient;
let telemetry: TelemetryCapture;
let clock: () => Date;

function configure(env: Record<string, string> = {}): void {
  const config = loadConfig({ CLUSTERS: JSON.stringify([{ alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/x', namespaces: ['batch'] }]), ...env });
  setServices(createServices(config, { gatewayFactory: () => kube, now: () => clock() }));
}

function cronJob(name: string, o: { schedule?: string; last: string; startingDeadlineSeconds?: number; suspend?: boolean }): V1CronJob {
  return {
    metadata: {
      name,
      namespace: 'batch',
      uid: `uid-${name}`,
      resourceVersion: '1',
      creationTimestamp: new Date('2026-11-23T08:00:00Z'),
      labels: { [SCHEDULER_LABEL]: 'app' },
      annotations: { [LAST_SCHEDULE_ANNOTATION]: o.last },
    },
    spec: {
      schedule: o.schedule ?? '*/15 * * * *',
      suspend: o.suspend ?? true,
      ...(o.startingDeadlineSeconds === undefined ? {} : { startingDeadlineSeconds: o.startingDeadlineSeconds }),
      jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox' }] } } } },
    },
  };
}

const tick = (at?: Date) => scheduler(timer, client, context(), at);
const points = (all: CapturedPoint[], name: string) => all.filter((p) => p.name === name);

beforeAll(() => {
  telemetry = captureTelemetry();
});
afterAll(async () => {
  await telemetry.stop();
});
beforeEach(async () => {
  kube = new FakeKube();
  clock = () => new Date();
  client = new FakeDurableClient(() => clock());
  configure();
  await telemetry.reset();
});

describe('the tick heartbeat and duration', () => {
  it('counts every tick that ran to its end and records how long it took, on the real clock', async () => {
    kube.addCronJob(cronJob('report', { last: new Date().toISOString() }));
    const before = performance.now();
    await tick();
    await tick();
    const took = (performance.now() - before) / 1000;
    const all = await telemetry.collect();
    expect(points(all, METRICS.schedulerTicks)).toEqual([expect.objectContaining({ unit: '{tick}', sum: 2, attributes: { [ATTRIBUTES.outcome]: 'ok' } })]);
    const [duration] = points(all, METRICS.schedulerTickDuration);
    expect(duration).toMatchObject({ unit: 's', count: 2 });
    expect(duration?.sum).toBeGreaterThan(0);
    expect(duration?.sum).toBeLessThanOrEqual(took);
  });

  it('says "errors" on a tick that could not reach a cluster, and still beats', async () => {
    kube.failNext('listCronJobs', 503);
    await tick();
    expect(points(await telemetry.collect(), METRICS.schedulerTicks)).toEqual([expect.objectContaining({ sum: 1, attributes: { [ATTRIBUTES.outcome]: 'errors' } })]);
  });

  it('does not beat while the scheduler is off (SCHEDULER_ENABLED=false): silence is what the stopped-scheduler alert hears', async () => {
    configure({ SCHEDULER_ENABLED: 'false' });
    expect(await tick()).toBeUndefined();
    const all = await telemetry.collect();
    expect(points(all, METRICS.schedulerTicks)).toEqual([]);
    const rows: MetricRow[] = all.map((p) => ({ time: new Date(), name: p.name, sum: p.sum, count: p.count, max: p.max, properties: p.attributes }));
    expect(schedulerStopped(rows, new Date())).toBe(true);
  });
});

describe('lateness', () => {
  it('records fire time minus due time per fired run, measured on the real clock', async () => {
    // Due at the start of this minute (every minute, last run the minute before); not in its last 2 s, so the
    // tick cannot fall in the next minute.
    if (Date.now() % 60_000 > 58_000) await new Promise((resolve) => setTimeout(resolve, 60_100 - (Date.now() % 60_000)));
    const now = new Date();
    const minute = new Date(Math.floor(now.getTime() / 60_000) * 60_000);
    kube.addCronJob(cronJob('every-minute', { schedule: '* * * * *', last: new Date(minute.getTime() - 60_000).toISOString() }));
    const report = await tick();
    const after = new Date();
    expect(report?.started).toHaveLength(1);
    const [lateness] = points(await telemetry.collect(), METRICS.schedulerLateness);
    expect(lateness).toMatchObject({ unit: 's', count: 1, attributes: { [ATTRIBUTES.cluster]: 'dev', [ATTRIBUTES.namespace]: 'batch', [ATTRIBUTES.cronJob]: 'every-minute' } });
    expect(lateness?.sum).toBeGreaterThanOrEqual((now.getTime() - minute.getTime()) / 1000);
    expect(lateness?.sum).toBeLessThanOrEqual((after.getTime() - minute.getTime()) / 1000);
  });
});

describe('runs started by the scheduler', () => {
  it('count once in the runs-started counter, trigger schedule, with their CronJob (what the missed-due-time alert matches), and record when they started', async () => {
    kube.addCronJob(cronJob('nightly', { last: '2026-11-23T10:00:00Z' }));
    clock = () => new Date('2026-11-23T10:15:03Z');
    const report = await tick(new Date('2026-11-23T10:15:00Z'));
    expect(report?.started).toHaveLength(1);
    // Its start time, as an HTTP start's input has it: the verdict's duration (ajr.run.duration_s) is measured from it.
    const runId = report?.started[0] ?? '';
    expect(((await client.getStatus(runId)).input as { startedAt?: string }).startedAt).toBe('2026-11-23T10:15:03.000Z');
    // The next tick finds the run started: no second start, no second count.
    await tick(new Date('2026-11-23T10:16:00Z'));
    expect(client.startCount).toBe(1);
    const all = await telemetry.collect();
    expect(points(all, METRICS.runsStarted).map((p) => [p.attributes, p.sum])).toEqual([
      [
        {
          [ATTRIBUTES.cluster]: 'dev',
          [ATTRIBUTES.namespace]: 'batch',
          [ATTRIBUTES.sourceKind]: 'CronJob',
          [ATTRIBUTES.sourceName]: 'nightly',
          [ATTRIBUTES.trigger]: 'schedule',
          [ATTRIBUTES.cronJob]: 'nightly',
        },
        1,
      ],
    ]);
  });
});

describe('the expected due time, every tick, per handed-over CronJob', () => {
  const at = new Date('2026-11-23T10:05:00Z');
  beforeEach(() => {
    clock = () => at;
  });

  it('gives the next due time and the grace deadline when the CronJob sets no startingDeadlineSeconds', async () => {
    kube.addCronJob(cronJob('report', { last: '2026-11-23T10:00:00Z' }));
    await tick(at);
    expect(telemetry.events(EVENTS.scheduleExpected)).toEqual([
      expect.objectContaining({
        [ATTRIBUTES.cluster]: 'dev',
        [ATTRIBUTES.namespace]: 'batch',
        [ATTRIBUTES.cronJob]: 'report',
        [ATTRIBUTES.dueAt]: '2026-11-23T10:15:00Z',
        [ATTRIBUTES.deadlineAt]: new Date(Date.parse('2026-11-23T10:15:00Z') + MISSED_GRACE_SECONDS * 1000).toISOString().replace('.000', ''),
      }),
    ]);
  });

  it('takes startingDeadlineSeconds as the deadline, and says it again at the next tick, when the decision is remembered', async () => {
    kube.addCronJob(cronJob('report', { last: '2026-11-23T10:00:00Z', startingDeadlineSeconds: 90 }));
    await tick(at);
    await tick(new Date('2026-11-23T10:06:00Z'));
    const expected = telemetry.events(EVENTS.scheduleExpected);
    expect(expected).toHaveLength(2);
    for (const e of expected) expect(e).toMatchObject({ [ATTRIBUTES.dueAt]: '2026-11-23T10:15:00Z', [ATTRIBUTES.deadlineAt]: '2026-11-23T10:16:30Z' });
  });

  it('says nothing of a CronJob that is labelled but not suspended (the cluster fires it)', async () => {
    kube.addCronJob(cronJob('report', { last: '2026-11-23T10:00:00Z', suspend: false }));
    await tick(at);
    expect(telemetry.events(EVENTS.scheduleExpected)).toEqual([]);
  });
});

describe('missed due times', () => {
  it('reports a due time skipped past startingDeadlineSeconds once, as an event and a count', async () => {
    // Last run 09:30; 09:45 and 10:00 passed; at 10:05 both are more than 60 s late.
    clock = () => new Date('2026-11-23T10:05:00Z');
    kube.addCronJob(cronJob('report', { last: '2026-11-23T09:30:00Z', startingDeadlineSeconds: 60 }));
    const report = await tick(clock());
    expect(report?.missed).toEqual(['batch/report: MissSchedule']);
    expect(report?.started).toEqual([]);
    await tick(new Date('2026-11-23T10:06:00Z'));
    const missed = telemetry.events(EVENTS.scheduleMissed);
    expect(missed).toEqual([expect.objectContaining({ [ATTRIBUTES.cronJob]: 'report', [ATTRIBUTES.reason]: 'MissSchedule', [ATTRIBUTES.dueAt]: '2026-11-23T10:00:00Z' })]);
    expect(String(missed[0]?.body)).toContain('startingDeadlineSeconds');
    expect(points(await telemetry.collect(), METRICS.schedulerMissed)).toEqual([
      expect.objectContaining({ unit: '{due}', sum: 1, attributes: expect.objectContaining({ [ATTRIBUTES.reason]: 'MissSchedule' }) as unknown }),
    ]);
  });

  it('a CronJob handed over whose due time passes with the scheduler off gives the alert its missed due time', async () => {
    // 10:05: the scheduler runs and expects 10:15 (deadline 10:20). Then it is turned off.
    const rows: TraceRow[] = [];
    const metricRows: MetricRow[] = [];
    const gather = async (time: Date) => {
      rows.push(...telemetry.logRecords().map((r) => ({ time, properties: { ...r.attributes } })));
      metricRows.push(...(await telemetry.collect()).map((p) => ({ time, name: p.name, sum: p.sum, count: p.count, max: p.max, properties: p.attributes })));
      await telemetry.reset();
    };
    kube.addCronJob(cronJob('nightly', { last: '2026-11-23T10:00:00Z' }));
    clock = () => new Date('2026-11-23T10:05:00Z');
    await tick(clock());
    await gather(clock());
    configure({ SCHEDULER_ENABLED: 'false' });
    for (const minute of ['10:15', '10:16', '10:20', '10:21']) {
      clock = () => new Date(`2026-11-23T${minute}:00Z`);
      expect(await tick(clock())).toBeUndefined();
      await gather(clock());
    }
    expect(client.startCount).toBe(0);
    // Before the deadline and the settle time, nothing; after them, the missed due time, and the silent heartbeat.
    expect(missedDueTimes(rows, metricRows, new Date('2026-11-23T10:24:00Z'))).toEqual([]);
    expect(missedDueTimes(rows, metricRows, new Date('2026-11-23T10:26:00Z'))).toEqual([
      { cluster: 'dev', namespace: 'batch', cronJob: 'nightly', dueAt: '2026-11-23T10:15:00.000Z', reason: 'NoRunByDeadline' },
    ]);
    expect(schedulerStopped(metricRows, new Date('2026-11-23T10:16:00Z'))).toBe(true);
  });

  it('the same due time met by a run raises nothing', async () => {
    const rows: TraceRow[] = [];
    const metricRows: MetricRow[] = [];
    kube.addCronJob(cronJob('nightly', { last: '2026-11-23T10:00:00Z' }));
    for (const minute of ['10:05', '10:15']) {
      clock = () => new Date(`2026-11-23T${minute}:03Z`);
      await tick(new Date(`2026-11-23T${minute}:00Z`));
      rows.push(...telemetry.logRecords().map((r) => ({ time: clock(), properties: { ...r.attributes } })));
      metricRows.push(...(await telemetry.collect()).map((p) => ({ time: clock(), name: p.name, sum: p.sum, count: p.count, max: p.max, properties: p.attributes })));
      await telemetry.reset();
    }
    expect(client.startCount).toBe(1);
    expect(missedDueTimes(rows, metricRows, new Date('2026-11-23T10:26:00Z'))).toEqual([]);
    expect(schedulerStopped(metricRows, new Date('2026-11-23T10:16:00Z'))).toBe(false);
  });
});
