import type { V1Job } from '@kubernetes/client-node';

import type { KubeGateway } from '../clients/kube.js';
import type { ClusterSettings } from '../config.js';
import { AppError } from '../core/errors.js';
import { MANAGED_SELECTOR } from '../core/labels.js';

/** The cluster has as many unfinished runs of the app as the operator allows. */
export class ActiveRunLimitError extends AppError {
  override name = 'ActiveRunLimitError';
  override readonly status = 429;
  override readonly reason = 'ActiveRunLimit';
}

/** A page this large keeps one list request per few hundred runs, well inside what an API server answers quickly. */
const PAGE = 500;
const FINISHED_CONDITIONS = new Set(['Complete', 'Failed', 'SuccessCriteriaMet', 'FailureTarget']);

function unfinished(job: V1Job): boolean {
  if (job.metadata?.deletionTimestamp) return false;
  return !(job.status?.conditions ?? []).some((c) => c.status === 'True' && FINISHED_CONDITIONS.has(c.type));
}

/**
 * Unfinished runs of the app on this cluster, counted up to `stopAt`: the runs Durable has accepted and that have
 * no verdict yet (`accepted`, run ids: a run counts from its start, before its Job exists), and the unfinished Jobs
 * the app made, one list of the app's Jobs (label selector, so only the app's come back), a page of 500 at a time,
 * per namespace the cluster allows by name, stopping once the count is reached. A run is counted once, by its id
 * (its Job's name). Where the allow-list has `*`, the namespace of this start is listed too: the app's identity
 * has rights per namespace only (infra/kubernetes/rbac.yaml), no cluster-wide list, so there the Jobs are counted
 * per namespace (accepted runs still per cluster).
 */
export async function countActiveRuns(
  gateway: KubeGateway,
  cluster: ClusterSettings,
  namespace: string,
  stopAt: number,
  accepted: readonly string[] = [],
): Promise<number> {
  const named = cluster.namespaces.filter((n) => n !== '*');
  const namespaces = cluster.namespaces.includes('*') && !named.includes(namespace) ? [...named, namespace] : named;
  const runs = new Set(accepted);
  if (runs.size >= stopAt) return runs.size;
  for (const ns of namespaces) {
    let continueToken: string | undefined;
    do {
      const page = await gateway.listJobs(ns, { labelSelector: MANAGED_SELECTOR, limit: PAGE, continueToken });
      for (const job of page.items.filter(unfinished)) runs.add(job.metadata?.name ?? '');
      if (runs.size >= stopAt) return runs.size;
      continueToken = page.continueToken;
    } while (continueToken);
  }
  return runs.size;
}

/** A 429 once the cluster has `max` unfinished runs of the app (`accepted`: as countActiveRuns). */
export async function assertRunCapacity(
  gateway: KubeGateway,
  cluster: ClusterSettings,
  namespace: string,
  max: number,
  accepted: readonly string[] = [],
): Promise<void> {
  const active = await countActiveRuns(gateway, cluster, namespace, max, accepted);
  if (active >= max) {
    throw new ActiveRunLimitError(
      `cluster "${cluster.alias}" already has ${max} unfinished runs of this app, its limit (MAX_ACTIVE_RUNS_PER_CLUSTER); try again when some have finished`,
    );
  }
}
