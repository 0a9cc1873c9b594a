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
 * Unfinished Jobs the app made on this cluster, counted up to `stopAt`: one list of the app's Jobs (label selector,
 * so only the app's come back), a page of 500 at a time, per namespace the cluster allows by name, stopping once the
 * count is reached. Where the allow-list has `*`, the namespace of this start is counted too: the app's identity has
 * rights per namespace only (infra/kubernetes/rbac.yaml), no cluster-wide list, so there the cap is per namespace.
 */
export async function countActiveRuns(gateway: KubeGateway, cluster: ClusterSettings, namespace: string, stopAt: number): Promise<number> {
  const named = cluster.namespaces.filter((n) => n !== '*');
  const namespaces = cluster.namespaces.includes('*') && !named.includes(namespace) ? [...named, namespace] : named;
  let count = 0;
  for (const ns of namespaces) {
    let continueToken: string | undefined;
    do {
      const page = await gateway.listJobs(ns, { labelSelector: MANAGED_SELECTOR, limit: PAGE, continueToken });
      count += page.items.filter(unfinished).length;
      if (count >= stopAt) return count;
      continueToken = page.continueToken;
    } while (continueToken);
  }
  return count;
}

/** A 429 once the cluster has `max` unfinished runs of the app. */
export async function assertRunCapacity(gateway: KubeGateway, cluster: ClusterSettings, namespace: string, max: number): Promise<void> {
  const active = await countActiveRuns(gateway, cluster, namespace, max);
  if (active >= max) {
    throw new ActiveRunLimitError(
      `cluster "${cluster.alias}" already has ${max} unfinished runs of this app, its limit (MAX_ACTIVE_RUNS_PER_CLUSTER); try again when some have finished`,
    );
  }
}
