import { app, type InvocationContext, type Timer } from '@azure/functions';

import { type ArchiveSweepReport, sweepArchive } from '../runs/archive.js';
import { services } from '../services.js';

/**
 * Every minute at second 30 (NCRONTAB, six fields): often enough to archive a CronJob's run before its history
 * limit deletes the Job (the controller prunes at its next run, a minute at the earliest), and half a minute
 * away from the scheduler's tick, so the two do not contend for the same API server at the same instant.
 */
export const ARCHIVE_SWEEP_SCHEDULE = '30 * * * * *';

/**
 * Timer: archive the finished runs the cluster's own CronJob controller made (the app's runs are archived by
 * their orchestration), before the history limits delete them. Its own function, not a step of the scheduler's
 * tick: however long a sweep takes, the scheduler fires on time, and each tick of the sweep is bounded
 * (SWEEP_BUDGET_MS), so neither outlives functionTimeout. `at` is the instant to decide for; the host calls
 * with two arguments, so it is the clock (the local runtime's tests pass one).
 */
export async function archiveSweep(timer: Timer, context: InvocationContext, at?: Date): Promise<ArchiveSweepReport> {
  const deps = services();
  if (timer.isPastDue) context.log('logs archive: this sweep is late');
  const sweep = await sweepArchive(deps, at ?? deps.now());
  if (sweep.archived.length > 0 || sweep.errors.length > 0 || sweep.deferred.length > 0) {
    const parts = [`${String(sweep.archived.length)} archived`];
    if (sweep.deferred.length > 0) parts.push(`${String(sweep.deferred.length)} left to the next sweep (time budget)`);
    if (sweep.errors.length > 0) parts.push(`errors: ${sweep.errors.join('; ')}`);
    context.log(`logs archive: ${parts.join('; ')}`);
  }
  return sweep;
}

app.timer('archiveSweep', {
  schedule: ARCHIVE_SWEEP_SCHEDULE,
  // The report is for logs and tests; a timer's return value would only be sent to the host and dropped.
  handler: async (timer, context) => {
    await archiveSweep(timer, context);
  },
});
