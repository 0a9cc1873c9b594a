import type { KubeGateway } from './kube.js';

/** One Kubernetes RBAC permission: a verb on a resource (or subresource, `pods/log`) of an API group. */
export interface KubePermission {
  /** '' is the core group. */
  readonly apiGroup: string;
  readonly resource: string;
  readonly verb: 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';
}

/**
 * What each gateway method needs from the cluster, and so all the app's identity needs: infra/kubernetes/rbac.yaml
 * and the custom Azure role in infra/app/rbac-aks.bicep grant exactly the union of these. Typed by KubeGateway's
 * keys, so a new method does not compile without its entry; test/clients/kubeAccess.test.ts checks each entry
 * against the client-node calls the method really makes, and the manifest against the union.
 */
export const GATEWAY_PERMISSIONS: { readonly [method in keyof KubeGateway]: readonly KubePermission[] } = {
  readJob: [{ apiGroup: 'batch', resource: 'jobs', verb: 'get' }],
  readCronJob: [{ apiGroup: 'batch', resource: 'cronjobs', verb: 'get' }],
  createJob: [{ apiGroup: 'batch', resource: 'jobs', verb: 'create' }],
  deleteJob: [{ apiGroup: 'batch', resource: 'jobs', verb: 'delete' }],
  listJobs: [{ apiGroup: 'batch', resource: 'jobs', verb: 'list' }],
  listCronJobs: [{ apiGroup: 'batch', resource: 'cronjobs', verb: 'list' }],
  listPods: [{ apiGroup: '', resource: 'pods', verb: 'list' }],
  listEvents: [{ apiGroup: '', resource: 'events', verb: 'list' }],
  readPodLog: [{ apiGroup: '', resource: 'pods/log', verb: 'get' }],
  streamPodLog: [{ apiGroup: '', resource: 'pods/log', verb: 'get' }],
  readDeployment: [{ apiGroup: 'apps', resource: 'deployments', verb: 'get' }],
  listDeployments: [{ apiGroup: 'apps', resource: 'deployments', verb: 'list' }],
  createCronJob: [{ apiGroup: 'batch', resource: 'cronjobs', verb: 'create' }],
  patchCronJob: [{ apiGroup: 'batch', resource: 'cronjobs', verb: 'patch' }],
  deleteCronJob: [{ apiGroup: 'batch', resource: 'cronjobs', verb: 'delete' }],
  // Clusters whose allow-list is `*` only: the same verb on every namespace, so a ClusterRole of these rules.
  listCronJobsInAllNamespaces: [{ apiGroup: 'batch', resource: 'cronjobs', verb: 'list' }],
  patchCronJobAnnotations: [{ apiGroup: 'batch', resource: 'cronjobs', verb: 'patch' }],
  createEvent: [{ apiGroup: '', resource: 'events', verb: 'create' }],
  listPodsPage: [{ apiGroup: '', resource: 'pods', verb: 'list' }],
  listNamespaceEvents: [{ apiGroup: '', resource: 'events', verb: 'list' }],
};

/** The union of GATEWAY_PERMISSIONS, without repeats: what one namespace's Role must grant. */
export function requiredPermissions(): KubePermission[] {
  const seen = new Map<string, KubePermission>();
  for (const list of Object.values(GATEWAY_PERMISSIONS)) {
    for (const p of list) seen.set(`${p.apiGroup}/${p.resource}:${p.verb}`, p);
  }
  return [...seen.values()];
}
