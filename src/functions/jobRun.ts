import type * as df from 'durable-functions';

import { durableRetryOptions, orchestration } from '../clients/durable.js';
import { alignedFireAt, pollDelayMs } from '../core/backoff.js';
import { ensureError } from '../core/errors.js';
import { forCustomStatus, forOutput } from '../core/limits.js';
import { attemptJobName, attemptOf, nextAttempt, type RunAttempt, withAttempts } from '../core/retry.js';
import { isTerminal, jobNameOf, type RunRef, type RunSnapshot, snapshotOf } from '../core/run.js';
import { type JobRunInput, jobRunInputSchema, type RunProgress } from '../core/schemas.js';
import { verdictOutlivedByJob } from '../core/status.js';
import { versionAtLeast } from '../core/versions.js';
import type { ArchiveOutcome } from '../runs/archive.js';
import { CLUSTER_UNAVAILABLE, isStopThrottled, OBSERVE_FAILED, type StopResult, THROTTLED } from '../runs/observe.js';
import { recordRunning, recordVerdict } from '../runs/run-telemetry.js';
import type { SubmitResult } from '../runs/submit.js';
import type { ArchiveRunInput } from './archiveRun.js';
import { ACTIVITIES, CANCEL_EVENT, ORCHESTRATORS } from './names.js';
import type { NotifyRunInput } from './notifyRun.js';
import type { StopRunInput } from './stopRun.js';

type Verdict = Pick<RunSnapshot, 'status' | 'reason' | 'message'>;

/** Data a cancel request may carry on the external event. */
export interface CancelEventData {
  reason?: string;
}

/** A throttled delete is tried again, as the API server asks, for this long after the verdict. */
export const STOP_THROTTLED_FOR_MS = 60 * 60 * 1000;
/** Never sooner than this after a throttled answer, whatever its Retry-After said. */
const THROTTLED_MIN_WAIT_MS = 1_000;
/**
 * From version 3.0 a throttled delete waits longer each time (1 s, 2 s, 4 s... up to this), so an hour of
 * throttling is about twenty waits in one execution's history instead of thousands.
 */
export const STOP_THROTTLED_MAX_WAIT_MS = 5 * 60 * 1000;

/** The longest delay between two attempts of an activity. */
const SUBMIT_MAX_RETRY_MS = 60_000;

function retryOptions(policy: JobRunInput['retry']): df.RetryOptions {
  return durableRetryOptions(policy.firstRetryMs, policy.maxAttempts, { backoffCoefficient: 2, maxRetryIntervalInMilliseconds: SUBMIT_MAX_RETRY_MS });
}

function cancelVerdict(data: CancelEventData): Verdict {
  return { status: 'Cancelled', reason: 'CancelRequested', message: data.reason ? `cancelled: ${data.reason}` : 'cancelled on request' };
}

/**
 * The run as the activities are told it. With the run's trace context and trigger when the input has them, for
 * the activities' spans (src/clients/telemetry.ts): inputs of runs started without them stay as they were.
 */
function refOf(input: JobRunInput): RunRef {
  const { runId, cluster, namespace, source, jobName, traceparent, trigger } = input.request;
  return {
    runId,
    cluster,
    namespace,
    source,
    ...(jobName === undefined ? {} : { jobName }),
    ...(traceparent ? { traceparent, trigger: trigger?.kind ?? 'http' } : {}),
  };
}

/**
 * From version 3.1, a run's Jobs when it retries on disruption (core/retry.ts): the attempts before the current
 * one, and whether the run is between two (the last failed, the next not made yet).
 */
interface Attempts {
  retries: number;
  earlier: RunAttempt[];
  between: boolean;
}

/** The snapshot with the run's attempts, for a run that may retry; as it is for every other run. */
function shownWith(attempts: Attempts, snapshot: RunSnapshot): RunSnapshot {
  return attempts.between ? { ...snapshot, attempts: attempts.earlier } : withAttempts(snapshot, attempts.earlier, attempts.retries);
}

/**
 * A run's orchestration: submit the Job, then poll it on durable timers with a growing interval until it ends,
 * is cancelled or runs out of time. The latest snapshot is the custom status; the final one is the output.
 * Deterministic: time only from currentUtcDateTime, all I/O in activities, no credential in any input.
 * Activities throw only on transient errors (429, 5xx, time-outs), which RetryOptions retries; everything a
 * person must fix comes back as a result instead, so it is never retried.
 */
function* runToVerdict(context: df.OrchestrationContext, attempts: Attempts): Generator<df.Task, RunSnapshot, unknown> {
  const input = jobRunInputSchema().parse(context.df.getInput());
  const ref = refOf(input);
  const retry = retryOptions(input.retry);
  const now = () => context.df.currentUtcDateTime;
  /**
   * The instance's orchestration version, as the host stamped it from host.json's defaultVersion when the
   * instance was created (none: version 1). What each version schedules differently is marked where it
   * branches; docs/decisions.md says when a new one is needed.
   */
  const atLeast = (floor: string) => versionAtLeast(context.df.version, floor);
  attempts.retries = atLeast('3.1') ? (input.request.retryOnDisruption ?? 0) : 0;
  attempts.earlier = attempts.retries > 0 ? (input.attempts ?? []) : [];
  /** When a throttled call may be made again: as the API server asked, and never at once. */
  const throttledUntil = (retryAt: string, minWaitMs = THROTTLED_MIN_WAIT_MS) =>
    new Date(Math.max(new Date(retryAt).getTime(), now().getTime() + minWaitMs));
  /**
   * Wait for `fireAt` (cut to `deadline`), unless the cancel comes first: true when it did.
   *
   * From version 3.0 a cancel that has already arrived is seen before any timer is made. The run keeps one
   * cancel task, and durable-functions (3.5) completes it outside any pending Task.any when the event comes
   * while an activity runs; a Task.any made later with that completed task never resolves on it
   * (azure-functions-durable-js issue 558), so versions 1 and 2 saw such a cancel only at continueAsNew.
   */
  function* cancelledBefore(fireAt: Date, deadline: Date | null, cancel: df.Task): Generator<df.Task, boolean, unknown> {
    if (atLeast('3.0') && cancel.isCompleted) return true;
    const timer = context.df.createTimer(deadline && fireAt > deadline ? deadline : fireAt);
    const winner = yield context.df.Task.any([timer, cancel]);
    if (winner !== cancel) return false;
    timer.cancel();
    return true;
  }
  /** The custom status, always within the host's size limit (over it, the host fails the orchestration). */
  const show = (snapshot: RunSnapshot) => {
    context.df.setCustomStatus(forCustomStatus(shownWith(attempts, snapshot)));
  };

  /** Give the run its verdict and delete its Job. */
  function* stop(verdict: Verdict, last: RunSnapshot | undefined): Generator<df.Task, RunSnapshot, unknown> {
    // The verdict is made: the cancel route answers 409 from here on, also while the Job is being deleted.
    show(snapshotOf(ref, { ...last, ...verdict }, now()));
    const stopInput: StopRunInput = { ref, verdict, ...(last ? { last } : {}) };
    const giveUpAt = now().getTime() + STOP_THROTTLED_FOR_MS;
    let final: RunSnapshot;
    try {
      for (let throttledWaits = 0; ; throttledWaits++) {
        const result = (yield context.df.callActivityWithRetry(ACTIVITIES.stopRun, retry, stopInput)) as StopResult;
        if (!isStopThrottled(result)) {
          final = result;
          break;
        }
        if (now().getTime() >= giveUpAt) {
          const message = `${verdict.message}; the API server throttled the delete of Job ${ref.namespace}/${jobNameOf(ref)} for an hour, so delete it by hand: ${result.message}`;
          final = snapshotOf(ref, { ...last, ...verdict, message, completionTime: now().toISOString() }, now());
          break;
        }
        // The verdict stands while the delete waits; the snapshot says what it waits for.
        show(snapshotOf(ref, { ...last, ...verdict, message: `${verdict.message}; ${result.message}` }, now()));
        // Version 3.0 waits longer each time; before, every wait was as short as the API server allowed.
        const minWaitMs = atLeast('3.0') ? Math.min(THROTTLED_MIN_WAIT_MS * 2 ** throttledWaits, STOP_THROTTLED_MAX_WAIT_MS) : THROTTLED_MIN_WAIT_MS;
        yield context.df.createTimer(throttledUntil(result.retryAt, minWaitMs));
      }
    } catch (err) {
      // The verdict stands; the Job may not be gone, and the person reading the run must know that.
      const message = `${verdict.message}; deleting Job ${ref.namespace}/${jobNameOf(ref)} failed, so delete it by hand: ${ensureError(err).message}`;
      final = snapshotOf(ref, { ...last, ...verdict, message, completionTime: now().toISOString() }, now());
    }
    show(final);
    return forOutput(final);
  }

  /** A finished snapshot: kept as it is when the Job ended itself; otherwise the Job is deleted first. */
  function* finish(snapshot: RunSnapshot): Generator<df.Task, RunSnapshot, unknown> {
    show(snapshot);
    if (!verdictOutlivedByJob(snapshot)) return forOutput(snapshot);
    const final = yield* stop(snapshot, snapshot);
    return forOutput({ ...final, pods: snapshot.pods, outputs: snapshot.outputs });
  }

  /**
   * One observation. A refusal (ObserveFailed, which a person must fix) comes back from the activity; a
   * cluster that did not answer even after the retries is ClusterUnavailable. Either is Unknown.
   */
  function* observe(last: RunSnapshot): Generator<df.Task, RunSnapshot, unknown> {
    let reason: string;
    let message: string;
    try {
      const seen = (yield context.df.callActivityWithRetry(ACTIVITIES.observeRun, retry, ref)) as RunSnapshot;
      // The API server asked to slow down: the run is as it was, and the snapshot says why it is not fresher.
      if (seen.reason === THROTTLED) return snapshotOf(ref, { ...last, reason: THROTTLED, message: seen.message }, now());
      if (seen.reason !== OBSERVE_FAILED) return seen;
      reason = OBSERVE_FAILED;
      message = seen.message;
    } catch (err) {
      reason = CLUSTER_UNAVAILABLE;
      message = `the cluster did not answer, the run goes on being watched: ${ensureError(err).message}`;
    }
    // What was last known (pods, start time) stays; only the verdict says the run could not be read.
    return snapshotOf(ref, { ...last, status: 'Unknown', reason, message }, now());
  }

  /** Version 1 counted every unreadable poll; from version 2 only refusals count, an outage does not. */
  const counts = (snapshot: RunSnapshot) =>
    snapshot.reason === OBSERVE_FAILED || (!atLeast('2') && snapshot.reason === CLUSTER_UNAVAILABLE);

  /**
   * A cancel. From version 2 the run is looked at once more first: a Job that ended on its own meanwhile
   * keeps its verdict and outputs and is not deleted. Only a Job gone without a verdict of its own (the
   * cancel route deleted it) or still running is the cancel's.
   */
  function* cancelled(last: RunSnapshot, data: CancelEventData): Generator<df.Task, RunSnapshot, unknown> {
    const verdict = cancelVerdict(data);
    if (!atLeast('2')) return yield* stop(verdict, last);
    const seen = yield* observe(last);
    if (isTerminal(seen.status) && seen.reason !== 'JobDeleted') return yield* finish(seen);
    return yield* stop(verdict, seen);
  }

  /**
   * From version 3.0 the submit's transient retries are the orchestrator's own, each delay raced against the
   * cancel: with RetryOptions the host makes the next attempt itself, so a cancel raised during a delay let
   * it create the Job after the cancel. The same policy: firstRetryMs doubling up to a minute, maxAttempts in all.
   */
  function* submitUnlessCancelled(): Generator<df.Task, SubmitResult | { cancelled: true }, unknown> {
    for (let attempt = 1; ; attempt++) {
      try {
        return (yield context.df.callActivity(ACTIVITIES.submitRun, input.request)) as SubmitResult;
      } catch (err) {
        if (attempt >= input.retry.maxAttempts) throw err;
        cancelTask ??= context.df.waitForExternalEvent(CANCEL_EVENT);
        const delayMs = Math.min(input.retry.firstRetryMs * 2 ** (attempt - 1), SUBMIT_MAX_RETRY_MS);
        if (yield* cancelledBefore(new Date(now().getTime() + delayMs), null, cancelTask)) return { cancelled: true };
      }
    }
  }

  /**
   * Version 3.1: the run's Job failed for an infrastructure cause and the run may retry. The failed Job is deleted
   * (its pods with it; the run has one Job at a time, and its cause and log tail are kept in the attempts), then
   * the run starts over with the next attempt's Job name, its attempts and its deadline in the input, so the new
   * execution submits a fresh Job and each attempt's history stays its own. A cancel that came meanwhile ends the
   * run Cancelled before the next Job exists.
   */
  function* retryOnDisruption(attempt: number, failed: RunSnapshot, deadline: string | null, cancel: df.Task): Generator<df.Task, RunSnapshot, unknown> {
    const jobName = attemptJobName(ref.runId, attempt);
    const cause = failed.failure ? `${failed.failure.kind}: ${failed.failure.message}` : failed.message;
    attempts.earlier = [...attempts.earlier, attemptOf(forOutput(failed))];
    attempts.between = true;
    // Named after the Job to come: a cancel route's look then finds no Job that ended on its own (the failed one
    // would make it answer 409 while the run goes on), and its direct delete aims at the next Job.
    const waiting = snapshotOf(
      { ...ref, jobName },
      {
        status: 'Starting',
        reason: 'RetryOnDisruption',
        message: `Job ${failed.jobName} failed for an infrastructure cause (${cause}); attempt ${String(attempt)} of at most ${String(attempts.retries + 1)} gets a fresh Job, ${jobName}`,
        monitorUrl: failed.monitorUrl,
      },
      now(),
    );
    show(waiting);
    const stopInput: StopRunInput = { ref, verdict: { status: failed.status, reason: failed.reason, message: failed.message }, last: failed };
    try {
      yield context.df.callActivityWithRetry(ACTIVITIES.stopRun, retry, stopInput);
    } catch {
      // The failed Job stays (it runs nothing); the retry does not wait on it.
    }
    if (cancel.isCompleted) return yield* stop(cancelVerdict(cancel.result ?? {}), waiting);
    const next: JobRunInput = { ...input, request: { ...input.request, jobName }, attempts: attempts.earlier, runDeadline: deadline };
    delete next.progress;
    delete next.submitSince;
    context.df.continueAsNew(next);
    return forOutput(waiting);
  }

  let progress: RunProgress;
  // Created where first needed: while a throttled submit waits, or for the polls (the order v1 and v2 recorded).
  let cancelTask: df.Task | undefined;
  if (input.progress) {
    progress = input.progress;
  } else {
    const timeout = input.request.timeoutSeconds;
    const since = input.submitSince ? new Date(input.submitSince) : now();
    // A retry's Job has what is left of the run's time (version 3.1), not a timeout of its own.
    const runDeadline = input.runDeadline === undefined ? undefined : input.runDeadline === null ? null : new Date(input.runDeadline);
    const submitDeadline = runDeadline !== undefined ? runDeadline : timeout ? new Date(since.getTime() + timeout * 1000) : null;
    let submitted: SubmitResult;
    for (let throttledWaits = 0; ; throttledWaits++) {
      let result: SubmitResult | { cancelled: true };
      try {
        result = atLeast('3.0') ? yield* submitUnlessCancelled() : ((yield context.df.callActivityWithRetry(ACTIVITIES.submitRun, retry, input.request)) as SubmitResult);
      } catch (err) {
        // Retries ran out on transient errors. The create may still have gone through: remove any such Job so
        // the run is not left half-done while the caller is told it failed.
        return yield* stop({ status: 'Failed', reason: 'SubmitFailed', message: `could not create the Job: ${ensureError(err).message}` }, undefined);
      }
      if ('cancelled' in result) {
        // A failed attempt may have created the Job all the same: the stop deletes any.
        return yield* stop(cancelVerdict(cancelTask?.result ?? {}), undefined);
      }
      submitted = result;
      show(submitted.snapshot);
      if (submitted.outcome !== 'throttled') break;
      // Throttling alone never fails a run: it waits as the API server asks, bounded only by the run's timeout.
      if (submitDeadline && now() >= submitDeadline) {
        const message = `the run did not start within timeoutSeconds=${String(timeout)}: ${submitted.snapshot.message}`;
        return yield* stop({ status: 'Failed', reason: 'RunTimeout', message }, submitted.snapshot);
      }
      cancelTask ??= context.df.waitForExternalEvent(CANCEL_EVENT);
      if (throttledWaits >= input.poll.continueAsNewAfter) {
        if (cancelTask.isCompleted) return yield* stop(cancelVerdict(cancelTask.result ?? {}), submitted.snapshot);
        // Each wait adds history: start over, still unsubmitted, with the time the first submit was tried.
        context.df.continueAsNew({ ...input, submitSince: since.toISOString() } satisfies JobRunInput);
        return forOutput(submitted.snapshot);
      }
      if (yield* cancelledBefore(throttledUntil(submitted.retryAt), submitDeadline, cancelTask)) {
        return yield* stop(cancelVerdict(cancelTask.result ?? {}), submitted.snapshot);
      }
    }
    if (submitted.outcome === 'rejected') return forOutput(submitted.snapshot);
    progress = {
      deadline: runDeadline !== undefined ? (runDeadline?.toISOString() ?? null) : timeout ? new Date(now().getTime() + timeout * 1000).toISOString() : null,
      polls: 0,
      generation: 0,
      observeFailures: 0,
      last: submitted.snapshot,
    };
  }
  show(progress.last);

  const cancel = cancelTask ?? context.df.waitForExternalEvent(CANCEL_EVENT);
  for (let pollsThisGeneration = 0; ; pollsThisGeneration++) {
    if (pollsThisGeneration >= input.poll.continueAsNewAfter) {
      // A cancel raised during the last observe would be lost with this execution's history.
      if (cancel.isCompleted) return yield* cancelled(progress.last, cancel.result ?? {});
      // Every poll adds history that each wake-up replays; start over with the state carried in the input.
      // No timer is pending here (the last one fired), so nothing keeps the old execution alive.
      const next: JobRunInput = { ...input, progress: { ...progress, generation: progress.generation + 1 } };
      context.df.continueAsNew(next);
      return forOutput(progress.last);
    }

    const deadline = progress.deadline ? new Date(progress.deadline) : null;
    // Aligned on the wall clock, so runs at the same step wake together and share their namespace's lists.
    // Timer instants are not part of what a replay matches (docs/decisions.md, "Scale"): no new version.
    if (yield* cancelledBefore(alignedFireAt(now(), pollDelayMs(input.poll, progress.polls)), deadline, cancel)) {
      return yield* cancelled(progress.last, cancel.result ?? {});
    }
    if (deadline && now() >= deadline) {
      // One last look first: a Job that ended just before the deadline keeps its own verdict and outputs.
      const seen = yield* observe(progress.last);
      if (isTerminal(seen.status)) return yield* finish(seen);
      const seconds = input.request.timeoutSeconds ?? 0;
      return yield* stop({ status: 'Failed', reason: 'RunTimeout', message: `the run did not finish within timeoutSeconds=${seconds}, so its Job was deleted` }, seen);
    }

    const snapshot = yield* observe(progress.last);
    // Telemetry only, outside replays: nothing is scheduled for it (src/runs/run-telemetry.ts).
    if (!context.df.isReplaying && snapshot.status === 'Running' && progress.last.status === 'Starting') recordRunning(input, now());
    // A cluster that does not answer leaves the count as it is: the run stays Unknown, bounded by its timeout.
    const unread = snapshot.reason === CLUSTER_UNAVAILABLE || snapshot.reason === THROTTLED;
    const observeFailures = counts(snapshot) ? progress.observeFailures + 1 : unread ? progress.observeFailures : 0;
    progress = { ...progress, polls: progress.polls + 1, observeFailures, last: snapshot };
    if (isTerminal(snapshot.status)) {
      // Version 3.1: a Job the cluster took away gets a fresh one, when the run may retry (core/retry.ts).
      const attempt = attempts.retries > 0 ? nextAttempt(snapshot, attempts.retries, attempts.earlier.length, !deadline || now() < deadline) : undefined;
      if (attempt === undefined) return yield* finish(snapshot);
      return yield* retryOnDisruption(attempt, snapshot, progress.deadline, cancel);
    }
    show(snapshot);
    if (observeFailures >= input.poll.maxObserveFailures) {
      // Waiting longer will not help (credentials or a Role are wrong): end the run rather than answer 202
      // for ever, and try to leave no Job behind.
      return yield* stop(
        {
          status: 'Failed',
          reason: OBSERVE_FAILED,
          message: `the run could not be read ${observeFailures} times in a row (last: ${snapshot.message})`,
        },
        snapshot,
      );
    }
  }
}

/**
 * The run's orchestration (see runToVerdict), then, once the verdict is final, its logs archived. The verdict
 * is already the custom status while the archive is written, and an archive that fails only says so.
 */
export function* jobRun(context: df.OrchestrationContext): Generator<df.Task, RunSnapshot, unknown> {
  const attempts: Attempts = { retries: 0, earlier: [], between: false };
  const final = shownWith(attempts, yield* runToVerdict(context, attempts));
  // Only a continueAsNew ends an execution unfinished; the last execution archives.
  if (!isTerminal(final.status)) return final;
  const input = jobRunInputSchema().parse(context.df.getInput());
  if (!context.df.isReplaying) recordVerdict(input, final, context.df.currentUtcDateTime);
  const { status, reason, message, startTime, completionTime } = final;
  // From version 3.1 the archive is also told who started the run and why it failed, for the runs listings: a run
  // whose Job was gone before the archive read it (a cancel, a timeout) is then still listed to its own caller.
  const forListings = versionAtLeast(context.df.version, '3.1');
  const archiveInput: ArchiveRunInput = {
    ref: refOf(input),
    final: { status, reason, message, startTime, completionTime, ...(forListings && final.failureKind ? { failureKind: final.failureKind } : {}) },
    trigger: input.request.trigger?.kind ?? 'http',
    ...(forListings ? { caller: input.request.caller ?? { kind: 'key' as const } } : {}),
  };
  let archive: ArchiveOutcome;
  try {
    archive = (yield context.df.callActivityWithRetry(ACTIVITIES.archiveRun, retryOptions(input.retry), archiveInput)) as ArchiveOutcome;
  } catch (err) {
    archive = { location: null, error: `the logs could not be archived: ${ensureError(err).message}` };
  }
  const archived: RunSnapshot = forOutput({ ...final, archive });
  context.df.setCustomStatus(forCustomStatus(archived));
  if (versionAtLeast(context.df.version, '3.1')) {
    // Version 3.1 pushes the verdict (issue 23): one activity starts a delivery per subscription. It is scheduled in
    // the episode that sets this custom status, and the verdict was the custom status before, so a subscription
    // written after the activity listed them finds the verdict made and is delivered by its route instead.
    const notify: NotifyRunInput = { ref: refOf(input), snapshot: archived };
    try {
      yield context.df.callActivityWithRetry(ACTIVITIES.notifyRun, retryOptions(input.retry), notify);
    } catch {
      // Subscribers are not told (the activity's failure is in the host's logs); the run's verdict stands.
    }
  }
  return archived;
}

orchestration(ORCHESTRATORS.jobRun, jobRun);
