import type { InvocationContext, Timer } from '@azure/functions';
import * as df from 'durable-functions';

import { type RunClient, runInstancesOf } from '../http/runs.js';
import { sweepArchive } from '../runs/archive.js';
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
  if (report.errors.length > 0) parts.push(`${report.errors.length} error(s)`);
  return `scheduler: ${parts.join(', ')}`;
}

/**
 * Timer, every minute: fire the CronJobs handed over to the app (label `aks-job-runner.io/scheduler: app` and
 * `spec.suspend: true`) on their schedules, each due run a jobRun orchestration; then archive the finished runs
 * the cluster's controller made for CronJobs. `at` is the instant to decide
 * for; the host calls with three arguments, so it is the clock (the local runtime's tests pass one).
 */
export async function scheduler(timer: Timer, client: RunClient, context: InvocationContext, at?: Date): Promise<TickReport | undefined> {
  const deps = services();
  const { config, clusters, now } = deps;
  const instant = at ?? now();
  let report: TickReport | undefined;
  if (config.schedulerEnabled) {
    // A late tick (the host was down or busy) needs nothing special: the due-time rule catches up, as the
    // CronJob controller's does, within startingDeadlineSeconds and with only the latest of many missed times.
    if (timer.isPastDue) context.log('scheduler: this tick is late');
    report = await schedulerTick({ config, clusters, runs: runInstancesOf(client), log: (line) => { context.log(line); } }, instant);
    context.log(summary(report));
  } else {
    context.log('scheduler: off (SCHEDULER_ENABLED=false)');
  }
  // The runs the cluster's own controller makes are archived here, before its history limits delete them;
  // that is about the cluster's CronJobs, so it happens whether or not the app schedules any.
  const sweep = await sweepArchive(deps, instant);
  if (sweep.archived.length > 0 || sweep.errors.length > 0) {
    context.log(`logs archive: ${String(sweep.archived.length)} archived${sweep.errors.length > 0 ? `; errors: ${sweep.errors.join('; ')}` : ''}`);
  }
  return report;
}

df.app.client.timer('scheduler', {
  schedule: SCHEDULER_SCHEDULE,
  // The report is for logs and tests; a timer's return value would only be sent to the host and dropped.
  handler: async (timer, client, context) => {
    await scheduler(timer, client, context);
  },
});
