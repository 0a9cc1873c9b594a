import type { V1CronJob, V1Job } from '@kubernetes/client-node';

import { BadRequestError } from './errors.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, RUN_ID_LABEL } from './labels.js';

export type ConcurrencyPolicy = 'Allow' | 'Forbid' | 'Replace';
const POLICIES: readonly ConcurrencyPolicy[] = ['Allow', 'Forbid', 'Replace'];

/** Conditions after which a Job runs no more pods of its own accord (the first pair appears first since 1.31). */
const FINISHED_CONDITIONS = ['Complete', 'Failed', 'SuccessCriteriaMet', 'FailureTarget'];

/** The CronJob's policy; the API server defaults it to Allow. */
export function concurrencyPolicyOf(cronJob: V1CronJob): ConcurrencyPolicy {
  const policy = cronJob.spec.concurrencyPolicy;
  return POLICIES.find((p) => p === policy) ?? 'Allow';
}

/** A caller's `?concurrencyPolicy=` for one manual run; absent means the CronJob's own. */
export function parseConcurrencyPolicy(value: string | null): ConcurrencyPolicy | undefined {
  if (value === null || value === '') return undefined;
  const policy = POLICIES.find((p) => p === value);
  if (!policy) throw new BadRequestError(`concurrencyPolicy must be one of ${POLICIES.join(', ')}, got "${value}"`);
  return policy;
}

export function isJobFinished(job: V1Job): boolean {
  return (job.status?.conditions ?? []).some((c) => c.status === 'True' && FINISHED_CONDITIONS.includes(c.type));
}

/**
 * The active runs of a CronJob among a namespace's Jobs: unfinished Jobs whose controller ownerReference is
 * this CronJob (by uid), whoever made them: the cluster's CronJob controller, kubectl, or this app. A Job
 * already being deleted is on its way out and no longer counts.
 */
export function activeRunsOf(cronJob: V1CronJob, jobs: readonly V1Job[]): V1Job[] {
  const uid = cronJob.metadata?.uid;
  if (!uid) return [];
  return jobs.filter(
    (job) =>
      !job.metadata?.deletionTimestamp &&
      !isJobFinished(job) &&
      (job.metadata?.ownerReferences ?? []).some((ref) => ref.controller === true && ref.uid === uid),
  );
}

/** The app's run id when the Job is one of the app's runs (it then has an orchestration to cancel). */
export function appRunIdOf(job: V1Job): string | undefined {
  const labels = job.metadata?.labels ?? {};
  return labels[MANAGED_BY_LABEL] === MANAGED_BY_VALUE ? labels[RUN_ID_LABEL] : undefined;
}

export type ConcurrencyDecision =
  /** Start the run; `replace` names the active runs to cancel first (Replace). */
  | { kind: 'start'; replace: string[] }
  /** Do not start: Forbid, and these runs are active. */
  | { kind: 'skip'; active: string[] };

/** What a policy says given the active runs' names, as the CronJob controller's syncCronJob decides it. */
export function decideConcurrency(policy: ConcurrencyPolicy, active: readonly string[]): ConcurrencyDecision {
  if (policy === 'Forbid' && active.length > 0) return { kind: 'skip', active: [...active] };
  return { kind: 'start', replace: policy === 'Replace' ? [...active] : [] };
}
