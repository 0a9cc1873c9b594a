import { isTerminal, type RunSnapshot } from '../core/run.js';

/**
 * What an observe poll saw that the run's trace cares about: its snapshot without the instant it was taken (and
 * the monitor link, which never changes). Two polls with the same look saw nothing new.
 */
export function lookOf(snapshot: RunSnapshot): string {
  const { status, reason, message, startTime, completionTime, pods, failureKind, exitCode, attempts } = snapshot;
  const counts = `${String(pods.active)},${String(pods.ready)},${String(pods.succeeded)},${String(pods.failed)}`;
  return `${status}\n${reason}\n${message}\n${String(startTime)}\n${String(completionTime)}\n${counts}\n${String(failureKind)}\n${String(exitCode)}\n${String(attempts?.length ?? 0)}`;
}

/**
 * The last look this worker had of each run it polls, so a poll's span and log line are kept only for the first
 * look here, each change and the verdict (docs/decisions.md, Issue 24, check "what telemetry costs"). Per worker, not
 * shared: a run polled by two workers gets each worker's first look too. Bounded: the runs that changed least
 * recently are forgotten first (their next poll then counts as a first look).
 */
export class LastLooks {
  private readonly looks = new Map<string, string>();

  constructor(private readonly max = 5000) {}

  /** Whether this look of the run differs from the last one this worker had (true for its first). */
  changed(runId: string, snapshot: RunSnapshot): boolean {
    const look = lookOf(snapshot);
    if (this.looks.get(runId) === look) return false;
    this.looks.delete(runId);
    // A verdict ends the polling: nothing to compare the next look with (a retry's next attempt starts afresh).
    if (!isTerminal(snapshot.status)) this.looks.set(runId, look);
    if (this.looks.size > this.max) {
      const oldest = this.looks.keys().next();
      if (!oldest.done) this.looks.delete(oldest.value);
    }
    return true;
  }

  get size(): number {
    return this.looks.size;
  }
}
