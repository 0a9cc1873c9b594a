import type { V1Job, V1Pod } from '@kubernetes/client-node';

/** Pods that have not started: the only ones whose events can explain a wait (image pull, scheduling). */
export function waitingPods(pods: readonly V1Pod[]): V1Pod[] {
  return pods.filter((pod) => pod.status?.phase === 'Pending' || pod.status?.phase === undefined);
}

const FINAL_CONDITIONS = new Set(['FailureTarget', 'Failed', 'SuccessCriteriaMet', 'Complete']);

/** The Job has a verdict of its own: nothing but its conditions decides the run any more. */
export function jobDecided(job: V1Job | null): boolean {
  return (job?.status?.conditions ?? []).some((c) => c.status === 'True' && FINAL_CONDITIONS.has(c.type));
}

/**
 * Whether events can change the verdict of this Job and these pods (status.ts reads them only there): a Job
 * that is gone or being deleted (its controller's events say whether it had finished), a pod that waits (the
 * reason of an image pull or of a scheduling failure), or a Job with no active pod (the Job controller's
 * FailedCreate). Otherwise the snapshot is the same with or without them, and the batched observe skips the
 * namespace's most expensive list.
 */
export function eventsMatter(job: V1Job | null, pods: readonly V1Pod[]): boolean {
  if (job === null) return true;
  if (jobDecided(job)) return false;
  if (job.metadata?.deletionTimestamp) return true;
  return waitingPods(pods).length > 0 || (job.status?.active ?? 0) === 0;
}
