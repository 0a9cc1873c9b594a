import type { TestProject } from 'vitest/node';

import { type LocalCluster, startCluster } from '../../testenv/cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfigPath: string;
    noRightsKubeconfigPath: string;
    noRightsUser: string;
    kubeServer: string;
    adminToken: string;
  }
}

let cluster: LocalCluster | undefined;

/** One real control plane for the whole integration project; torn down even when tests fail. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  cluster = await startCluster({ log: (line) => { console.log(`[kube] ${line}`); } });
  console.log(`[kube] started in ${Math.round((Date.now() - started) / 1000)} s`);
  project.provide('kubeconfigPath', cluster.kubeconfigPath);
  project.provide('noRightsKubeconfigPath', cluster.noRightsKubeconfigPath);
  project.provide('noRightsUser', cluster.noRightsUser);
  project.provide('kubeServer', cluster.server);
  project.provide('adminToken', cluster.adminToken);
  const stopOnSignal = () => {
    void cluster?.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  return async () => {
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
    await cluster?.stop();
  };
}
