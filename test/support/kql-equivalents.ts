/**
 * What some queries of infra/queries compute, written over the records the app emits as an exporter gets them (log
 * records' attributes, metric points), so tests and the workbook mock-up can run them on telemetry the local runtime
 * produced. Each follows its .kql file line by line; the .kql files themselves are parsed in test/infra/queries.test.ts.
 */
import { ATTRIBUTES, EVENTS, METRICS } from '../../src/core/telemetry-names.js';

/** A log record as AppTraces keeps it: its time and its attributes (Properties). */
export interface TraceRow {
  time: Date;
  properties: Record<string, unknown>;
}

/** A metric point as AppMetrics keeps it: one row per export of each attribute set. */
export interface MetricRow {
  time: Date;
  name: string;
  sum: number;
  count: number;
  max: number | undefined;
  properties: Record<string, unknown>;
}

const MINUTE = 60_000;
const str = (value: unknown) => (typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : '');

export interface MissedDueTime {
  cluster: string;
  namespace: string;
  cronJob: string;
  dueAt: string;
  reason: string;
}

/**
 * alert-missed-due-time.kql at the instant `now`: expectations whose deadline passed in the last evaluation period
 * (after the settle time) with no run of their CronJob started from due - slack to deadline + slack, and the
 * scheduler's own reports of the period.
 */
export function missedDueTimes(traces: readonly TraceRow[], metrics: readonly MetricRow[], now: Date, o: { settleMs?: number; periodMs?: number; slackMs?: number } = {}): MissedDueTime[] {
  const settle = o.settleMs ?? 5 * MINUTE;
  const period = o.periodMs ?? 15 * MINUTE;
  const slack = o.slackMs ?? 2 * MINUTE;
  const expected = new Map<string, { cluster: string; namespace: string; cronJob: string; dueAt: Date; deadlineAt: Date }>();
  for (const row of traces) {
    const p = row.properties;
    if (p['event.name'] !== EVENTS.scheduleExpected) continue;
    const deadlineAt = new Date(str(p[ATTRIBUTES.deadlineAt]));
    if (deadlineAt.getTime() < now.getTime() - settle - period || deadlineAt.getTime() > now.getTime() - settle) continue;
    const item = { cluster: str(p[ATTRIBUTES.cluster]), namespace: str(p[ATTRIBUTES.namespace]), cronJob: str(p[ATTRIBUTES.cronJob]), dueAt: new Date(str(p[ATTRIBUTES.dueAt])), deadlineAt };
    expected.set(JSON.stringify([item.cluster, item.namespace, item.cronJob, item.dueAt.toISOString(), deadlineAt.toISOString()]), item);
  }
  const started = metrics
    .filter((m) => (m.name === METRICS.runsStarted && m.properties[ATTRIBUTES.trigger] === 'schedule') || m.name === METRICS.schedulerLateness)
    .map((m) => ({
      cluster: str(m.properties[ATTRIBUTES.cluster]),
      namespace: str(m.properties[ATTRIBUTES.namespace]),
      cronJob: str(m.properties[ATTRIBUTES.cronJob]) || str(m.properties[ATTRIBUTES.sourceName]),
      at: m.time.getTime(),
    }));
  const unmet: MissedDueTime[] = [...expected.values()]
    .filter((e) => !started.some((s) => s.cluster === e.cluster && s.namespace === e.namespace && s.cronJob === e.cronJob && s.at >= e.dueAt.getTime() - slack && s.at <= e.deadlineAt.getTime() + slack))
    .map((e) => ({ cluster: e.cluster, namespace: e.namespace, cronJob: e.cronJob, dueAt: e.dueAt.toISOString(), reason: 'NoRunByDeadline' }));
  const reported = traces
    .filter((row) => row.properties['event.name'] === EVENTS.scheduleMissed && row.time.getTime() > now.getTime() - period)
    .map((row) => ({
      cluster: str(row.properties[ATTRIBUTES.cluster]),
      namespace: str(row.properties[ATTRIBUTES.namespace]),
      cronJob: str(row.properties[ATTRIBUTES.cronJob]),
      dueAt: str(row.properties[ATTRIBUTES.dueAt]),
      reason: str(row.properties[ATTRIBUTES.reason]),
    }));
  return [...unmet, ...reported];
}

/** alert-scheduler-stopped.kql at `now`: true (a row, the alert fires) when no tick heartbeat came in the last `minutes`. */
export function schedulerStopped(metrics: readonly MetricRow[], now: Date, minutes = 10): boolean {
  return !metrics.some((m) => m.name === METRICS.schedulerTicks && m.time.getTime() > now.getTime() - minutes * MINUTE);
}

const hour = (time: Date) => new Date(Math.floor(time.getTime() / 3_600_000) * 3_600_000).toISOString();

/** runs-per-hour.kql: runs finished per hour and verdict. */
export function runsPerHour(metrics: readonly MetricRow[]): { hour: string; status: string; runs: number }[] {
  const sums = new Map<string, number>();
  for (const m of metrics) {
    if (m.name !== METRICS.runsFinished) continue;
    const key = JSON.stringify([hour(m.time), str(m.properties[ATTRIBUTES.status])]);
    sums.set(key, (sums.get(key) ?? 0) + m.sum);
  }
  return [...sums].map(([key, runs]) => {
    const [h = '', status = ''] = JSON.parse(key) as string[];
    return { hour: h, status, runs };
  }).sort((a, b) => a.hour.localeCompare(b.hour) || a.status.localeCompare(b.status));
}

/** scheduler-lateness.kql: mean and worst lateness per hour. */
export function latenessPerHour(metrics: readonly MetricRow[]): { hour: string; meanSeconds: number; maxSeconds: number; runs: number }[] {
  const byHour = new Map<string, { sum: number; count: number; max: number }>();
  for (const m of metrics) {
    if (m.name !== METRICS.schedulerLateness) continue;
    const entry = byHour.get(hour(m.time)) ?? { sum: 0, count: 0, max: 0 };
    entry.sum += m.sum;
    entry.count += m.count;
    entry.max = Math.max(entry.max, m.max ?? 0);
    byHour.set(hour(m.time), entry);
  }
  return [...byHour].map(([h, e]) => ({ hour: h, meanSeconds: e.count === 0 ? 0 : e.sum / e.count, maxSeconds: e.max, runs: e.count })).sort((a, b) => a.hour.localeCompare(b.hour));
}
