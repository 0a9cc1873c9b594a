import type { RunAttempt } from '../types.ts';
import { isFinished } from './answers.js';

/** One row of the run page's attempts table: which Job, how it ended, when. */
export interface AttemptRow {
  n: number;
  job: string;
  outcome: string;
  startTime: string | null;
  completionTime: string | null;
}

/**
 * How an attempt ended, in a few words: its failure's kind with the exit code (and signal) when a container
 * exited; for the current attempt without a failure, the run's own state (succeeded, cancelled, still running).
 * docs/http-api.md, "Retries on disruption": the verdict is the last attempt's; earlier attempts have a failure.
 */
export function attemptOutcome(attempt: RunAttempt, last: boolean, runStatus: string): string {
  const failure = attempt.failure;
  if (failure) {
    const exit = failure.exitCode !== null ? ` · exit code ${String(failure.exitCode)}${failure.signal ? ` (${failure.signal})` : ''}` : '';
    return `${failure.kind}${exit}`;
  }
  if (!last) return '—';
  if (!isFinished(runStatus)) return 'running';
  return runStatus === 'Success' ? 'succeeded' : runStatus.toLowerCase();
}

/**
 * The attempts table's rows, numbered from 1 in the order the run made them (the current one last). A failed
 * attempt's Job has no completionTime (Kubernetes sets it only on success): it ended when its failure was seen.
 */
export function attemptRows(attempts: readonly RunAttempt[] | undefined, runStatus: string): AttemptRow[] {
  if (!attempts) return [];
  return attempts.map((attempt, i) => ({
    n: i + 1,
    job: attempt.job,
    outcome: attemptOutcome(attempt, i === attempts.length - 1, runStatus),
    startTime: attempt.startTime,
    completionTime: attempt.completionTime ?? attempt.failure?.at ?? null,
  }));
}
