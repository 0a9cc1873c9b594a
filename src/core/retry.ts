import { BadRequestError } from './errors.js';
import { type FailureKind, INFRASTRUCTURE_KINDS, type RunFailure } from './failure.js';
import { RETRY_ON_DISRUPTION_ANNOTATION } from './labels.js';
import { boundText } from './limits.js';
import { MAX_JOB_NAME } from './naming.js';
import type { RunSnapshot } from './run.js';

/**
 * Retries for infrastructure faults only (issue 22, item 4; docs/decisions.md, "Issue 22, item 4"): a run whose
 * Job failed because the cluster evicted, disrupted or lost its pod gets a fresh Job, when its source's owner
 * consented with RETRY_ON_DISRUPTION_ANNOTATION. Pure: the start use case reads the source, the orchestrator
 * decides with these.
 */

/**
 * The most retries a source may allow (and a request ask for): each is a whole new Job, and the run's history,
 * custom status and archive hold every attempt, so the count stays small. A cluster that evicts a pod five
 * times in a row has a problem a sixth Job will not solve.
 */
export const MAX_RETRIES_ON_DISRUPTION = 5;
/** Jobs one run can make: the first, and its retries. */
export const MAX_ATTEMPTS = MAX_RETRIES_ON_DISRUPTION + 1;

/**
 * The failure kinds a retry is made for: the pod was taken away by the cluster (the kubelet's eviction under node
 * pressure; preemption, the Eviction API, the taint manager, a node shutdown; the node gone or silent). Never the
 * program's own end (ExitCode, OOMKilled), its limits (DeadlineExceeded, the app's RunTimeout), the Job's own
 * PodFailurePolicy verdict, a pod that cannot start (ImagePull, Unschedulable, CreateContainerConfigError,
 * PodCreation), a Job never created, a cancel, or a cause not known (Unknown): a fresh Job fails the same way,
 * or the person who stopped the run meant it.
 */
export const RETRY_KINDS: readonly FailureKind[] = INFRASTRUCTURE_KINDS;

/** Whether a failure is one a fresh Job could get past. */
export function retriesFor(failure: Pick<RunFailure, 'kind'> | undefined): boolean {
  return failure !== undefined && RETRY_KINDS.includes(failure.kind);
}

/** What a source's owner consented to: the most retries, and what was wrong with the annotation, if anything. */
export interface RetryConsent {
  retries: number;
  /** The annotation is there but is not a whole number: it consents to nothing, and this says why. */
  problem?: string | undefined;
}

/**
 * The consent a source's annotations give. Absent: none (0). A whole number from 0 up: that many, at most
 * MAX_RETRIES_ON_DISRUPTION (an owner who allows 10 allows 5). Anything else ("two", "-1", "1.5", "", "0x2"):
 * none, with the problem named, so a request that asks for retries is told what to fix.
 */
export function retryConsentOf(annotations: Readonly<Record<string, string>> | undefined): RetryConsent {
  const raw = annotations?.[RETRY_ON_DISRUPTION_ANNOTATION];
  if (raw === undefined) return { retries: 0 };
  const text = raw.trim();
  if (!/^\d{1,9}$/.test(text)) {
    return {
      retries: 0,
      problem: `its annotation ${RETRY_ON_DISRUPTION_ANNOTATION} is ${JSON.stringify(boundText(raw, 40))}, not a whole number from 0 to ${String(MAX_RETRIES_ON_DISRUPTION)}, so it allows no retry`,
    };
  }
  return { retries: Math.min(Number(text), MAX_RETRIES_ON_DISRUPTION) };
}

/**
 * The `retryOnDisruption` query parameter of a start: absent or empty is undefined (the source's consent
 * decides); otherwise a whole number from 0 to MAX_RETRIES_ON_DISRUPTION, or a 400.
 */
export function parseRetryRequest(raw: string | null | undefined): number | undefined {
  if (raw === null || raw === undefined || raw.trim() === '') return undefined;
  const text = raw.trim();
  if (!/^\d{1,2}$/.test(text) || Number(text) > MAX_RETRIES_ON_DISRUPTION) {
    throw new BadRequestError(`retryOnDisruption must be a whole number from 0 to ${String(MAX_RETRIES_ON_DISRUPTION)}, got ${JSON.stringify(boundText(raw, 40))}`);
  }
  return Number(text);
}

/**
 * The retries a run gets: what the request asked for, else what the source allows. A request asking for more
 * than its source allows is refused (400), not cut: the owner's consent bounds every run of the source, and a
 * caller who asked for 3 must not believe it got 3.
 */
export function resolveRetries(consent: RetryConsent, asked: number | undefined, source: string): number {
  if (asked === undefined || asked <= consent.retries) return asked ?? consent.retries;
  const allows = consent.problem ?? (consent.retries === 0 ? `it has no annotation ${RETRY_ON_DISRUPTION_ANNOTATION} allowing retries` : `its annotation ${RETRY_ON_DISRUPTION_ANNOTATION} allows ${String(consent.retries)}`);
  throw new BadRequestError(
    `retryOnDisruption=${String(asked)} asks for more retries than ${source} allows: ${allows}; ask for at most ${String(consent.retries)}, or have the owner of ${source} set the annotation (at most ${String(MAX_RETRIES_ON_DISRUPTION)})`,
  );
}

/**
 * The Job name of a run's `attempt` (from 1): the run id for the first, `<runId>-<attempt>` after. Deterministic,
 * so a replayed submit of an attempt meets its own Job (AlreadyExists) and never makes a second. Never a run id:
 * those end in at least 8 characters after their last `-`. At most 63 characters (a label value): the longest run
 * id, a scheduled run's `<52-character CronJob>-<8 digits>`, is 61, and attempts stay below 10; a longer id is
 * cut, deterministically, to make room.
 */
export function attemptJobName(runId: string, attempt: number): string {
  if (attempt <= 1) return runId;
  const suffix = `-${String(attempt)}`;
  return `${runId.slice(0, MAX_JOB_NAME - suffix.length).replace(/-+$/, '')}${suffix}`;
}

/** Which attempt a Job name of the run is (attemptJobName's inverse): 1 for the run id itself. */
export function attemptNumberOf(runId: string, jobName: string | undefined): number {
  if (jobName === undefined || jobName === runId) return 1;
  const n = Number(/-(\d+)$/.exec(jobName)?.[1]);
  return Number.isInteger(n) && n > 1 ? n : 1;
}

/** One Job of a run, as the snapshot lists it. */
export interface RunAttempt {
  /** The attempt's Job. */
  job: string;
  /** Why it failed; null while it runs, and for the one that succeeded. */
  failure: RunFailure | null;
  startTime: string | null;
  completionTime: string | null;
}

/** The attempt a snapshot is of. */
export function attemptOf(snapshot: RunSnapshot): RunAttempt {
  return { job: snapshot.jobName, failure: snapshot.failure ?? null, startTime: snapshot.startTime, completionTime: snapshot.completionTime };
}

/**
 * The attempt that follows a finished one, or undefined when the run ends with it: only a Failed attempt whose
 * cause is in RETRY_KINDS, while the run has retries left (`earlier` attempts before this one) and time left.
 */
export function nextAttempt(snapshot: RunSnapshot, retries: number, earlier: number, timeLeft: boolean): number | undefined {
  if (snapshot.status !== 'Failed' || !retriesFor(snapshot.failure) || !timeLeft) return undefined;
  const attempt = earlier + 1;
  return attempt <= Math.min(retries, MAX_RETRIES_ON_DISRUPTION) ? attempt + 1 : undefined;
}

/** The snapshot with the run's attempts (the earlier ones and its own), for a run that may retry or has. */
export function withAttempts(snapshot: RunSnapshot, earlier: readonly RunAttempt[], retries: number): RunSnapshot {
  if (retries === 0 && earlier.length === 0) return snapshot;
  return { ...snapshot, attempts: [...earlier, attemptOf(snapshot)] };
}
