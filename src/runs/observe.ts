import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';

import type { KubeGateway } from '../clients/kube.js';
import type { GracePeriods } from '../config.js';
import { ensureError } from '../core/errors.js';
import { classifyFailure, failureOfVerdict, LOG_TAIL_BYTES, LOG_TAIL_LINES, logTail, logTailTarget, podFailed, type RunFailure, withFailure } from '../core/failure.js';
import { JOB_NAME_POD_LABEL } from '../core/labels.js';
import { waitingPods } from '../core/observation.js';
import { isTerminal, jobNameOf, type RunRef, type RunSnapshot, snapshotOf } from '../core/run.js';
import { jobSettled, mapRunStatus, outputsFromPods, verdictOutlivedByJob } from '../core/status.js';
import { BATCH, type BatchSettings, namespaceObserver, namespaceThrottle, type RunReads, ThrottledError } from './batch.js';
import { refusal } from './failures.js';

/** Reason of a snapshot whose run the cluster refused to show (a person must fix it); counted in a row. */
export const OBSERVE_FAILED = 'ObserveFailed';
/** Reason of a snapshot whose cluster did not answer even after retries: the run may well be fine. */
export const CLUSTER_UNAVAILABLE = 'ClusterUnavailable';
/** Reason of a snapshot taken while the API server asks the app to slow down: the run's status stays as it was. */
export const THROTTLED = 'Throttled';

/**
 * A list that only refines the verdict (pods, events): when the cluster refuses it for good (a Role without
 * `list pods` or `list events`), the run is still judged from its Job, and the snapshot says what is missing.
 * Transient failures still throw, so the activity is retried.
 */
async function refinement<T>(what: string, list: () => Promise<T[]>, missing: string[]): Promise<T[]> {
  try {
    return await list();
  } catch (err) {
    const refused = refusal(err);
    if (!refused) throw err;
    missing.push(`${what}: ${refused.message}`);
    return [];
  }
}

/** The run's own reads: the Job, its pods, and the events of the Job and of any pod that has not started. */
export async function perRunReads(gateway: KubeGateway, ref: RunRef): Promise<RunReads> {
  const missing: string[] = [];
  const name = jobNameOf(ref);
  const [job, pods, jobEvents] = await Promise.all([
    gateway.readJob(ref.namespace, name),
    refinement('pods', () => gateway.listPods(ref.namespace, `${JOB_NAME_POD_LABEL}=${name}`), missing),
    refinement('events', () => gateway.listEvents(ref.namespace, name), missing),
  ]);
  const podEvents: CoreV1Event[][] = await Promise.all(
    waitingPods(pods).map((pod) => refinement('pod events', () => gateway.listEvents(ref.namespace, pod.metadata?.name ?? ''), missing)),
  );
  return { job, pods, events: [...jobEvents, ...podEvents.flat()], missing };
}

/** How a look reads the cluster: the run's own reads, or its namespace's shared lists (OBSERVE_BATCHING). */
export type RunReader = (ref: RunRef) => Promise<RunReads>;

export function runReader(gateway: KubeGateway, batching: boolean, settings: BatchSettings = BATCH): RunReader {
  if (!batching) return (ref) => perRunReads(gateway, ref);
  return (ref) => namespaceObserver(gateway, ref.namespace, settings).look(ref.runId, jobNameOf(ref));
}

/**
 * Pods of runs that failed or were going away when a look saw them, per worker (the latest view of each, by
 * uid): an evicted pod, or one whose node was deleted, is removed soon after it fails, often before the look
 * that sees the Job's verdict. The cause is then still known. Bounded: the oldest runs are forgotten first.
 */
export class SeenPods {
  private readonly runs = new Map<string, Map<string, V1Pod>>();

  constructor(private readonly maxRuns = 2000) {}

  private key(ref: RunRef): string {
    return `${ref.cluster}/${ref.namespace}/${jobNameOf(ref)}`;
  }

  note(ref: RunRef, pods: readonly V1Pod[]): void {
    const ended = pods.filter(podFailed);
    if (ended.length === 0) return;
    const key = this.key(ref);
    const known = this.runs.get(key) ?? new Map<string, V1Pod>();
    this.runs.delete(key);
    for (const pod of ended) known.set(pod.metadata?.uid ?? pod.metadata?.name ?? '', pod);
    this.runs.set(key, known);
    for (const oldest of this.runs.keys()) {
      if (this.runs.size <= this.maxRuns) break;
      this.runs.delete(oldest);
    }
  }

  of(ref: RunRef): V1Pod[] {
    return [...(this.runs.get(this.key(ref))?.values() ?? [])];
  }
}

const SEEN_PODS = new SeenPods();

/** Look at a run in the cluster. Outputs, and the failure of a failed or cancelled run, are read once the run has ended. */
async function inspectRun(
  read: RunReader,
  ref: RunRef,
  grace: GracePeriods,
  monitorUrl: string | null,
  now: Date,
  seen: SeenPods,
): Promise<{ snapshot: RunSnapshot; settled: boolean; gone: boolean; pods: V1Pod[] }> {
  const { job, pods, events, missing } = await read(ref);
  seen.note(ref, pods);
  const snapshot = mapRunStatus(ref, { job, pods, events, now }, grace, monitorUrl);
  if (isTerminal(snapshot.status)) {
    const failure = classifyFailure({ verdict: snapshot, job, pods, events, seenPods: seen.of(ref), now });
    return { snapshot: withFailure({ ...snapshot, outputs: outputsFromPods(pods) }, failure), settled: jobSettled(job), gone: job === null, pods };
  }
  if (missing.length === 0) return { snapshot, settled: true, gone: job === null, pods };
  return {
    snapshot: { ...snapshot, message: `${snapshot.message} (judged from the Job alone, the cluster refused ${[...new Set(missing)].join('; ')})` },
    settled: true,
    gone: job === null,
    pods,
  };
}

/**
 * The failure with the failing container's last lines, read from its pod while the pod is still there. A log
 * that cannot be read (the pod went, the Role has no pods/log) leaves the failure without them: it never
 * changes or delays the verdict.
 */
export async function withLogTail(gateway: KubeGateway, namespace: string, failure: RunFailure, pods: readonly V1Pod[]): Promise<RunFailure> {
  const target = logTailTarget(failure, pods);
  if (!target) return failure;
  try {
    const text = await gateway.readPodLog(namespace, target.pod, {
      container: target.container,
      previous: target.previous,
      tailLines: LOG_TAIL_LINES,
      // Room for the lines asked for; logTail keeps the last LOG_TAIL_BYTES of it.
      limitBytes: LOG_TAIL_BYTES * 16,
    });
    return { ...failure, logTail: logTail(text) };
  } catch {
    return failure;
  }
}

/**
 * How long a look waits for a Job whose verdict is made (SuccessCriteriaMet, FailureTarget) to settle
 * (Complete, Failed), so the run's final snapshot has the pod counts and outputs of the Job's final status:
 * a verdict is read only once. The Job controller settles a Job within a sync or two; past the bound the
 * verdict is reported as it is.
 */
export interface SettlePolicy {
  reads: number;
  intervalMs: number;
}
export const SETTLE: SettlePolicy = { reads: 10, intervalMs: 500 };

/**
 * One look at a run, for the observe activity: transient errors throw (RetryOptions retries them); an error
 * retrying cannot fix (the app's identity refused, 401/403) comes back as an Unknown snapshot with reason
 * ObserveFailed, which the orchestration counts. The API server's throttling (429, 503 with Retry-After)
 * comes back as reason Throttled, and the whole namespace makes no call until its Retry-After has passed.
 */
export async function observeOnce(
  gateway: KubeGateway,
  ref: RunRef,
  grace: GracePeriods,
  monitorUrl: string | null,
  now: Date,
  settle: SettlePolicy = SETTLE,
  read: RunReader = (r) => perRunReads(gateway, r),
  seen: SeenPods = SEEN_PODS,
): Promise<RunSnapshot> {
  try {
    const seenNow = await namespaceThrottle(gateway, ref.namespace).unlessThrottled(async () => {
      let look = await inspectRun(read, ref, grace, monitorUrl, now, seen);
      for (let attempt = 0; !look.settled && attempt < settle.reads; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, settle.intervalMs));
        const again = await inspectRun(read, ref, grace, monitorUrl, new Date(now.getTime() + (attempt + 1) * settle.intervalMs), seen);
        // A Job removed meanwhile (ttlSecondsAfterFinished) keeps the verdict, counts and outputs already read.
        if (again.gone || !isTerminal(again.snapshot.status)) break;
        look = again;
      }
      const { snapshot, pods } = look;
      if (!snapshot.failure) return snapshot;
      return withFailure(snapshot, await withLogTail(gateway, ref.namespace, snapshot.failure, pods));
    });
    if (!(seenNow instanceof ThrottledError)) return seenNow;
    const message = `${seenNow.message}; the app waits that long before it reads namespace ${ref.namespace} again, and the run goes on being watched`;
    return snapshotOf(ref, { status: 'Unknown', reason: THROTTLED, message, monitorUrl }, now);
  } catch (err) {
    const refused = refusal(err);
    if (!refused) throw err;
    return snapshotOf(ref, { status: 'Unknown', reason: OBSERVE_FAILED, message: `the run could not be read: ${refused.message}`, monitorUrl }, now);
  }
}

/** The delete was throttled: nothing was deleted yet, try again at `retryAt`. */
export interface StopThrottled {
  outcome: 'throttled';
  retryAt: string;
  message: string;
}

/** What the stop activity gives: the final snapshot, or a throttled delete (results before it are snapshots). */
export type StopResult = RunSnapshot | StopThrottled;

export function isStopThrottled(result: StopResult): result is StopThrottled {
  return 'outcome' in result;
}

/**
 * Stop a run: delete its Job with propagation Background, so its pods go too (a plain delete through batch/v1
 * would orphan them). A Job already gone is fine: the run is stopped either way. A refusal (403, credentials)
 * is not retried: the verdict stands and its message names the Job to delete by hand. Throttling comes back
 * as StopThrottled with the time asked for (the namespace gets no call before then); other transient errors throw.
 */
export async function deleteRun(
  gateway: KubeGateway,
  ref: RunRef,
  verdict: Pick<RunSnapshot, 'status' | 'reason' | 'message'>,
  last: RunSnapshot | undefined,
  monitorUrl: string | null,
  now: Date,
): Promise<StopResult> {
  let message = verdict.message;
  const name = jobNameOf(ref);
  // The cause a look found (a pod that cannot start, past its grace) stays; a verdict of the app's own is its cause,
  // placed on the run's newest pod, read before the Job and its pods are deleted.
  const found = last?.failure && last.status === verdict.status && last.reason === verdict.reason ? last.failure : undefined;
  const placed = found ?? (await namespaceThrottle(gateway, ref.namespace).unlessThrottled(() => lastPodOf(gateway, ref, failureOfVerdict(verdict, now))).catch(() => undefined));
  const failure = placed instanceof ThrottledError ? failureOfVerdict(verdict, now) : placed;
  try {
    const throttled = await namespaceThrottle(gateway, ref.namespace).unlessThrottled(() => gateway.deleteJob(ref.namespace, name));
    if (throttled instanceof ThrottledError) {
      return { outcome: 'throttled', retryAt: throttled.until.toISOString(), message: `deleting Job ${ref.namespace}/${name} waits: ${throttled.message}` };
    }
  } catch (err) {
    const refused = refusal(err);
    if (!refused) throw err;
    message = `${verdict.message}; deleting Job ${ref.namespace}/${name} failed, so delete it by hand: ${refused.message}`;
  }
  const stopped = snapshotOf(
    ref,
    {
      ...(last ? { startTime: last.startTime, pods: last.pods } : {}),
      ...verdict,
      message,
      monitorUrl,
      completionTime: now.toISOString(),
    },
    now,
  );
  return withFailure(stopped, failure);
}

/**
 * A verdict the app made without the Job's say (a timeout, a cancel): where the run was when it was stopped, and
 * that container's last lines, read before its Job is deleted. A look that fails only leaves them out.
 */
async function lastPodOf(gateway: KubeGateway, ref: RunRef, failure: RunFailure | undefined): Promise<RunFailure | undefined> {
  if (!failure || (failure.kind !== 'RunTimeout' && failure.kind !== 'Cancelled')) return failure;
  let pods: V1Pod[];
  try {
    pods = await gateway.listPods(ref.namespace, `${JOB_NAME_POD_LABEL}=${jobNameOf(ref)}`);
  } catch {
    return failure;
  }
  const newest = [...pods].sort((a, b) => new Date(b.metadata?.creationTimestamp ?? 0).getTime() - new Date(a.metadata?.creationTimestamp ?? 0).getTime())[0];
  if (!newest) return failure;
  const placed: RunFailure = { ...failure, pod: newest.metadata?.name ?? null, node: newest.spec?.nodeName ?? null, container: newest.spec?.containers[0]?.name ?? null };
  return withLogTail(gateway, ref.namespace, placed, [newest]);
}

/** What a cancel finds: the Job ended on its own (that verdict stands), still runs, or could not be seen. */
export type JobLook = { kind: 'ended'; snapshot: RunSnapshot } | { kind: 'running' } | { kind: 'unknown'; why: string };

/**
 * The look a cancel takes before it deletes anything. Only a Job that ended by its own conditions counts as
 * ended: a verdict of this app's (a pod problem past its grace, a suspended Job) still leaves a live Job,
 * and a Job already gone without a verdict of its own is what a cancel would have made of it anyway.
 */
export async function lookBeforeCancel(gateway: KubeGateway, ref: RunRef, grace: GracePeriods, now: Date): Promise<JobLook> {
  try {
    // A verdict is all a cancel needs: it does not wait for the Job to settle.
    const seen = await observeOnce(gateway, ref, grace, null, now, { reads: 0, intervalMs: 0 });
    if (seen.reason === OBSERVE_FAILED || seen.reason === THROTTLED) return { kind: 'unknown', why: seen.message };
    if (isTerminal(seen.status) && !verdictOutlivedByJob(seen) && seen.reason !== 'JobDeleted') return { kind: 'ended', snapshot: seen };
    return { kind: 'running' };
  } catch (err) {
    return { kind: 'unknown', why: ensureError(err).message };
  }
}
