import type { CoreV1Event, V1Job, V1JobCondition, V1Pod } from '@kubernetes/client-node';

import type { GracePeriods } from '../config.js';
import { jobNameOf, type PodCounts, type RunRef, type RunSnapshot, snapshotOf } from './run.js';

/** What observing a run sees in the cluster at one instant. */
export interface Observation {
  /** null when the Job does not exist (any more). */
  job: V1Job | null;
  pods: readonly V1Pod[];
  /** Events whose involved object is the Job or one of its pods. */
  events: readonly CoreV1Event[];
  now: Date;
}

/** Reasons in a Job's events by which the Job controller announces the end of a Job. */
const JOB_EVENT_SUCCESS = new Set(['Completed', 'SuccessPolicy', 'CompletionsReached']);
const JOB_EVENT_FAILURE = new Set(['BackoffLimitExceeded', 'DeadlineExceeded', 'PodFailurePolicy', 'MaxFailedIndexesExceeded']);

type ProblemClass = keyof GracePeriods | 'none';

/** A pod-level reason a Job cannot make progress, and how long it is given to recover. */
interface PodProblem {
  reason: string;
  message: string;
  graceClass: ProblemClass;
  since: Date;
}

function trueCondition(job: V1Job, type: string): V1JobCondition | undefined {
  return job.status?.conditions?.find((c) => c.type === type && c.status === 'True');
}

function iso(value: Date | string | undefined | null): string | null {
  if (value === undefined || value === null) return null;
  return new Date(value).toISOString();
}

function eventTime(event: CoreV1Event): Date {
  const raw = event.lastTimestamp ?? event.eventTime ?? event.firstTimestamp ?? event.metadata.creationTimestamp;
  return raw ? new Date(raw) : new Date(0);
}

function latest(events: readonly CoreV1Event[]): CoreV1Event | undefined {
  return [...events].sort((a, b) => eventTime(b).getTime() - eventTime(a).getTime())[0];
}

/**
 * The Job's pod counts. Pods that have ended but whose tracking finalizer the Job controller has not yet
 * removed are listed in uncountedTerminatedPods, not in the counters: the status that first carries
 * SuccessCriteriaMet or FailureTarget often says succeeded: 0. They are counted here, as they will be.
 */
function podCounts(job: V1Job): PodCounts {
  const uncounted = job.status?.uncountedTerminatedPods;
  return {
    active: job.status?.active ?? 0,
    ready: job.status?.ready ?? 0,
    succeeded: (job.status?.succeeded ?? 0) + (uncounted?.succeeded?.length ?? 0),
    failed: (job.status?.failed ?? 0) + (uncounted?.failed?.length ?? 0),
  };
}

/**
 * True when the Job's status is final: Complete or Failed is set (the controller sets them once every pod
 * has ended and been counted), or there is no Job. SuccessCriteriaMet and FailureTarget alone decide the
 * verdict but come before the last pods have stopped.
 */
export function jobSettled(job: V1Job | null): boolean {
  return job === null || trueCondition(job, 'Complete') !== undefined || trueCondition(job, 'Failed') !== undefined;
}

function created(obj: { metadata?: { creationTimestamp?: Date | string } }, fallback: Date): Date {
  const raw = obj.metadata?.creationTimestamp;
  return raw ? new Date(raw) : fallback;
}

/** Reasons a container waits with, by the grace class that governs them. InvalidImageName never recovers. */
const WAITING_CLASSES: Readonly<Record<string, ProblemClass>> = {
  InvalidImageName: 'none',
  ErrImagePull: 'imagePullSeconds',
  ImagePullBackOff: 'imagePullSeconds',
  ErrImageNeverPull: 'none',
  CreateContainerConfigError: 'containerConfigSeconds',
  CreateContainerError: 'containerConfigSeconds',
};

function podEventMessage(pod: V1Pod, events: readonly CoreV1Event[], reasons: readonly string[]): string | undefined {
  const name = pod.metadata?.name;
  return latest(events.filter((e) => e.involvedObject.kind === 'Pod' && e.involvedObject.name === name && reasons.includes(e.reason ?? '')))
    ?.message;
}

/** The first thing that keeps a pod of the run from starting, if any. */
function podProblem(pod: V1Pod, events: readonly CoreV1Event[], now: Date): PodProblem | undefined {
  if (pod.metadata?.deletionTimestamp) return undefined;
  const since = created(pod, now);
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  for (const status of statuses) {
    const waiting = status.state?.waiting;
    const graceClass = waiting?.reason ? WAITING_CLASSES[waiting.reason] : undefined;
    if (waiting?.reason && graceClass) {
      const message = waiting.message ?? podEventMessage(pod, events, ['Failed', 'BackOff']) ?? '';
      return { reason: waiting.reason, message: `container ${status.name}: ${message}`.trim(), graceClass, since };
    }
  }
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    const message = scheduled.message ?? podEventMessage(pod, events, ['FailedScheduling']) ?? 'no node can run the pod';
    return { reason: 'Unschedulable', message, graceClass: 'unschedulableSeconds', since };
  }
  return undefined;
}

/**
 * The Job controller could not create pods: quota, LimitRange or admission refused them. Only refusals after
 * the run's newest pod count: events live about an hour, and an early refusal that cleared must not fail a
 * Job that later ran a pod and now waits out its pod-failure backoff with no pod active.
 */
function jobCreateProblem(job: V1Job, pods: readonly V1Pod[], events: readonly CoreV1Event[], now: Date): PodProblem | undefined {
  if ((job.status?.active ?? 0) > 0) return undefined;
  const newestPod = Math.max(0, ...pods.map((pod) => created(pod, new Date(0)).getTime()));
  const failedCreate = events.filter(
    (e) =>
      e.involvedObject.kind === 'Job' &&
      e.involvedObject.name === job.metadata?.name &&
      e.reason === 'FailedCreate' &&
      eventTime(e).getTime() > newestPod,
  );
  const last = latest(failedCreate);
  if (!last) return undefined;
  const firsts = failedCreate.map((e) => Math.max(newestPod, new Date(e.firstTimestamp ?? eventTime(e)).getTime()));
  const quota = /exceeded quota/i.test(last.message ?? '');
  return {
    reason: quota ? 'QuotaExceeded' : 'FailedCreate',
    message: last.message ?? 'the Job controller could not create a pod',
    graceClass: 'quotaSeconds',
    since: firsts.length > 0 ? new Date(Math.min(...firsts)) : created(job, now),
  };
}

/** The label by which Kueue queues a Job: it keeps the Job suspended until the queue admits it. */
export const KUEUE_QUEUE_LABEL = 'kueue.x-k8s.io/queue-name';

/** Reasons by which this app, not the Job controller, ends a run whose Job may still be alive. */
const APP_VERDICT_REASONS = new Set([
  ...Object.keys(WAITING_CLASSES),
  'Unschedulable',
  'QuotaExceeded',
  'FailedCreate',
  'Suspended',
]);

/**
 * True when a finished snapshot is this app's judgement (a pod problem past its grace, a suspended Job) while
 * the Job itself has not ended: the Job must then be deleted, or it could still run after the caller was told
 * the run failed or was cancelled (a node added by the autoscaler, a Job resumed by hand).
 */
export function verdictOutlivedByJob(snapshot: Pick<RunSnapshot, 'status' | 'reason'>): boolean {
  return (snapshot.status === 'Failed' || snapshot.status === 'Cancelled') && APP_VERDICT_REASONS.has(snapshot.reason);
}

/**
 * Where a run stands. Job conditions are the verdict when present (FailureTarget and SuccessCriteriaMet come
 * before Failed and Complete since Kubernetes 1.31, so they decide); before that, pods and events tell whether
 * the run can start at all, since a Job whose pod never starts looks healthy forever.
 *
 * @returns Success: Complete or SuccessCriteriaMet.
 * @returns Failed: Failed or FailureTarget (reason from the condition), or a pod problem past its grace period.
 * @returns Cancelled: Suspended, or the Job deleted while not finished (reason JobDeleted).
 * @returns Running: pods active or the Job started. Starting: nothing yet, or a pod problem still in grace.
 * @returns Unknown: the Job is in a shape none of the above describes.
 */
export function mapRunStatus(ref: RunRef, observation: Observation, grace: GracePeriods, monitorUrl: string | null): RunSnapshot {
  const { job, pods, events, now } = observation;
  const base = (fields: Pick<RunSnapshot, 'status' | 'reason' | 'message'> & Partial<RunSnapshot>): RunSnapshot =>
    snapshotOf(ref, { monitorUrl, ...fields }, now);

  if (job === null) return deletedJobVerdict(ref, job, events, base);

  const counts = podCounts(job);
  const times = { startTime: iso(job.status?.startTime), completionTime: iso(job.status?.completionTime), pods: counts };

  // A finished Job ended when its condition says, unless it has a completionTime: the Job controller sets that on
  // success only.
  const ended = (condition: V1JobCondition, status: 'Success' | 'Failed', reason: string, message: string) =>
    base({ ...times, status, reason: condition.reason ?? reason, message: condition.message ?? message, completionTime: times.completionTime ?? iso(condition.lastTransitionTime) });
  const failed = trueCondition(job, 'FailureTarget') ?? trueCondition(job, 'Failed');
  if (failed) return ended(failed, 'Failed', 'Failed', 'the Job failed');
  const succeeded = trueCondition(job, 'SuccessCriteriaMet') ?? trueCondition(job, 'Complete');
  if (succeeded) return ended(succeeded, 'Success', 'Complete', 'the Job completed');
  // A Job being deleted before it finished (a finished one keeps its verdict above, e.g. while the TTL
  // controller removes it with foreground propagation) was stopped by someone.
  if (job.metadata?.deletionTimestamp) return deletedJobVerdict(ref, job, events, base);

  const suspended = trueCondition(job, 'Suspended');
  if ((suspended || job.spec?.suspend === true) && job.metadata?.labels?.[KUEUE_QUEUE_LABEL]) {
    // Kueue admits a queued Job by resuming it: until then it waits, like a pod waiting for a node.
    return base({
      ...times,
      status: 'Starting',
      reason: 'Queued',
      message: `the Job waits in Kueue queue "${job.metadata.labels[KUEUE_QUEUE_LABEL]}" to be admitted`,
    });
  }
  if (suspended || job.spec?.suspend === true) {
    return base({
      ...times,
      status: 'Cancelled',
      reason: 'Suspended',
      message: suspended?.message ?? 'the Job was suspended, so its pods were removed and it will not run on its own',
    });
  }

  const problems = [...pods.map((pod) => podProblem(pod, events, now)), jobCreateProblem(job, pods, events, now)].filter(
    (p): p is PodProblem => p !== undefined,
  );
  for (const problem of problems) {
    // A reason with no grace never recovers: fail at once, whatever the clocks say.
    if (problem.graceClass === 'none' || (now.getTime() - problem.since.getTime()) / 1000 >= grace[problem.graceClass]) {
      return base({ ...times, status: 'Failed', reason: problem.reason, message: problem.message });
    }
  }
  const first = problems[0];
  if (first) {
    const left = Math.ceil((first.graceClass === 'none' ? 0 : grace[first.graceClass]) - (now.getTime() - first.since.getTime()) / 1000);
    return base({
      ...times,
      status: 'Starting',
      reason: first.reason,
      message: `${first.message} (the run fails if this lasts another ${left}s)`,
    });
  }

  if (counts.active > 0 || job.status?.startTime) {
    return base({ ...times, status: 'Running', reason: 'Running', message: `${counts.active} pod(s) active, ${counts.ready} ready` });
  }
  if (!job.status || (job.status.conditions ?? []).length === 0) {
    return base({ ...times, status: 'Starting', reason: 'Created', message: 'the Job is created and waits for its first pod' });
  }
  return base({ ...times, status: 'Unknown', reason: 'Unknown', message: 'the Job has conditions this app does not know' });
}

/**
 * A Job that is gone. When its controller's own events say it had finished (a ttlSecondsAfterFinished can
 * remove a Job before we look), the run keeps that verdict; otherwise someone deleted it mid-run.
 */
function deletedJobVerdict(
  ref: RunRef,
  job: V1Job | null,
  events: readonly CoreV1Event[],
  base: (fields: Pick<RunSnapshot, 'status' | 'reason' | 'message'> & Partial<RunSnapshot>) => RunSnapshot,
): RunSnapshot {
  const jobEvents = events.filter((e) => e.involvedObject.kind === 'Job' && e.involvedObject.name === jobNameOf(ref));
  const verdict = latest(jobEvents.filter((e) => JOB_EVENT_SUCCESS.has(e.reason ?? '') || JOB_EVENT_FAILURE.has(e.reason ?? '')));
  const counts = job ? podCounts(job) : undefined;
  if (verdict && JOB_EVENT_SUCCESS.has(verdict.reason ?? '')) {
    return base({
      status: 'Success',
      reason: 'CompletionsReached',
      message: `the Job completed and was then removed (${verdict.message ?? verdict.reason ?? ''})`,
      completionTime: iso(eventTime(verdict)),
      ...(counts ? { pods: counts } : {}),
    });
  }
  if (verdict) {
    return base({
      status: 'Failed',
      reason: verdict.reason ?? 'Failed',
      message: `${verdict.message ?? 'the Job failed'} (the Job was then removed)`,
      ...(counts ? { pods: counts } : {}),
    });
  }
  return base({
    status: 'Cancelled',
    reason: 'JobDeleted',
    message: 'the Job was deleted by someone else while it was running',
    ...(counts ? { pods: counts } : {}),
  });
}

/** The first container's termination message, when it is a JSON object: the run's outputs. */
export function outputsFromPods(pods: readonly V1Pod[]): Record<string, unknown> {
  const finished = pods
    .map((pod) => ({ pod, terminated: pod.status?.containerStatuses?.find((c) => c.name === pod.spec?.containers[0]?.name)?.state?.terminated }))
    .filter((x) => x.terminated?.message)
    .sort((a, b) => new Date(b.terminated?.finishedAt ?? 0).getTime() - new Date(a.terminated?.finishedAt ?? 0).getTime());
  // Prefer the pod that succeeded: with retries, an earlier failed attempt may also have left a message.
  const chosen = finished.find((x) => x.terminated?.exitCode === 0) ?? finished[0];
  const text = chosen?.terminated?.message?.trim();
  if (!text?.startsWith('{')) return {};
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The AKS portal's workloads blade of the cluster, where an operator looks next. */
export function aksMonitorUrl(portalUrl: string, subscriptionId: string, resourceGroup: string, clusterName: string): string {
  return `${portalUrl}/#resource/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.ContainerService/managedClusters/${clusterName}/workloads`;
}
