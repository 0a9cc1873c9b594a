import type { V1Job } from '@kubernetes/client-node';

import type { KubeGateway } from '../clients/kube.js';

const PAGE = 500;
/**
 * Pages of Jobs read to find the runs of CronJobs. A CronJob's own Jobs are few (its history limits), but they
 * carry no label to select them by, only their ownerReference, so the whole namespace is read; past this many
 * pages the oldest runs are not shown rather than slowing every listing down.
 */
const MAX_PAGES = 10;

/** Every Job in the namespace (up to MAX_PAGES pages): the app's runs and the cluster's alike. */
export async function namespaceJobs(gateway: KubeGateway, namespace: string): Promise<V1Job[]> {
  const jobs: V1Job[] = [];
  let continueToken: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const result = await gateway.listJobs(namespace, { limit: PAGE, continueToken });
    jobs.push(...result.items);
    continueToken = result.continueToken;
    if (continueToken === undefined) break;
  }
  return jobs;
}

