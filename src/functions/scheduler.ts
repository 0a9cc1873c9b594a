import type { InvocationContext, Timer } from '@azure/functions';

import { client } from '../clients/durable.js';
import { type RunClient, runInstancesOf } from '../http/runs.js';
import { schedulerTick, type TickReport } from '../runs/scheduler.js';
import { services } from '../services.js';

/** Every minute at second 0 (NCRONTAB, six fields): the CronJob controller's own resolution. */
export const SCHEDULER_SCHEDULE = '0 * * * * *';

function summary(report: TickReport): string {
  const parts = [`${report.cronJobs} handed-over CronJob(s)`, `${report.started.length} started`];
  if (report.existing.length > 0) parts.push(`${report.existing.length} already started`);
  if (report.forbidden.length > 0) parts.push(`${report.forbidden.length} held by Forbid`);
  if (report.replaced.length > 0) parts.push(`${report.replaced.length} replaced`);
  if (report.warnings.length > 0) parts.push(`${report.warnings.length} warning(s)`);
  if (report.missed.length > 0) parts.push(`${report.missed.length} due time(s) missed`);
  if (report.errors.length > 0) parts.push(`${report.errors.length} error(s)`);
  return `scheduler: ${parts.join(', ')}`;
}

/**
 * Timer, every minute: fire the CronJobs handed over to the app (label `aks-job-runner.io/scheduler: app` and
 * `spec.suspend: true`) on their schedules, each due run a jobRun orchestration. `at` is the instant to decide
 * for; the host calls with three arguments, so it is the clock (the local runtime's tests pass one).
 */
export async function scheduler(timer: Timer, client: RunClient, context: InvocationContext, at?: Date): Promise<TickReport | undefined> {
  const { config, clusters, now } = services();
  const instant = at ?? now();
  // The runs the cluster's own controller makes are archived by a timer of their own (archiveSweep), so a
  // long sweep never delays a due run past a short startingDeadlineSeconds.
  if (!config.schedulerEnabled) {
    context.log('scheduler: off (SCHEDULER_ENABLED=false)');
    return undefined;
  }
  // A late tick (the host was down or busy) needs nothing special: the due-time rule catches up, as the
  // CronJob controller's does, within startingDeadlineSeconds and with only the latest of many missed times.
  if (timer.isPastDue) context.log('scheduler: this tick is late');
  const report = await schedulerTick({ config, clusters, runs: runInstancesOf(client), log: (line) => { context.log(line); }, invocation: context, clock: now }, instant);
  context.log(summary(report));
  return report;
}

client.timer('scheduler', {
  schedule: SCHEDULER_SCHEDULE,
  // The report is for logs and tests; a timer's return value would only be sent to the host and dropped.
  handler: async (timer, client, context) => {
    await scheduler(timer, client, context);
  },
});
