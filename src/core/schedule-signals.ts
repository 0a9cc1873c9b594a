/**
 * What the scheduler tells an operator about the due times of handed-over CronJobs, as plain data: which due time
 * it expects next and by when its run must have started, so an alert can tell a missed due time even when the
 * scheduler itself has stopped (docs/operations.md, "Alerts"; docs/decisions.md, "Issue 24, item 4").
 */

/**
 * How long after its due time a run of a CronJob without `startingDeadlineSeconds` must have started before the
 * due time counts as missed. The scheduler ticks every minute and a start takes seconds, so five minutes is
 * four ticks' slack: a late host or a slow tick is not an alert, a scheduler that stopped is.
 */
export const MISSED_GRACE_SECONDS = 300;

/** A due time the scheduler expects to meet, and the deadline by which its run must have started. */
export interface Expectation {
  dueAt: Date;
  deadlineAt: Date;
}

/**
 * The deadline of a due time: `startingDeadlineSeconds` when the CronJob sets one (the controller, and the app,
 * skip the run after it), else MISSED_GRACE_SECONDS (the run would still start late, but an operator wants to hear).
 */
export function expectationFor(dueAt: Date, startingDeadlineSeconds: number | null | undefined): Expectation {
  const seconds = startingDeadlineSeconds ?? MISSED_GRACE_SECONDS;
  return { dueAt, deadlineAt: new Date(dueAt.getTime() + seconds * 1000) };
}

/** Fire time minus due time, in seconds: how late the scheduler started a run (never negative). */
export function latenessSeconds(dueAt: Date, firedAt: Date): number {
  return Math.max(0, (firedAt.getTime() - dueAt.getTime()) / 1000);
}
