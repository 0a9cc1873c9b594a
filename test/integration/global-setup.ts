import type { TestProject } from 'vitest/node';

import { type LocalAzurite, startAzurite } from '../../local/azurite.js';
import { type LocalCluster, startCluster } from '../../testenv/cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin (system:masters) kubeconfig of the suite's control plane. */
    kubeconfigPath: string;
    /** Kubeconfig of a user with no bindings. */
    noRightsKubeconfigPath: string;
    noRightsUser: string;
    /** https://127.0.0.1:<port> */
    kubeServer: string;
    adminToken: string;
    /** LOGS_CONNECTION_STRING of the suite's Azurite (blob service on loopback). */
    logsConnectionString: string;
  }
}

/**
 * One real control plane for the whole integration project, started before its first file and stopped after
 * its last, whatever the results. On a machine without the binaries the first run builds them (minutes, once).
 * AKS_JOB_RUNNER_KEEP_CLUSTER=1 keeps the data dir and its logs for a look afterwards.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const keepDataDir = process.env.AKS_JOB_RUNNER_KEEP_CLUSTER === '1';
  const azurite: LocalAzurite = await startAzurite({
    log: (line) => {
      console.log(line);
    },
  });
  project.provide('logsConnectionString', azurite.connectionString);
  let cluster: LocalCluster;
  try {
    cluster = await startCluster({
      keepDataDir,
      log: (line) => {
        console.log(`[kube] ${line}`);
      },
    });
  } catch (err) {
    await azurite.stop();
    throw err;
  }
  project.provide('kubeconfigPath', cluster.kubeconfigPath);
  project.provide('noRightsKubeconfigPath', cluster.noRightsKubeconfigPath);
  project.provide('noRightsUser', cluster.noRightsUser);
  project.provide('kubeServer', cluster.server);
  project.provide('adminToken', cluster.adminToken);
  // A Ctrl-C may end the runner before it gets to the teardown below.
  const stopOnSignal = (signal: NodeJS.Signals) => {
    void Promise.all([cluster.stop(), azurite.stop()]).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  return async () => {
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
    await Promise.all([cluster.stop(), azurite.stop()]);
    if (keepDataDir) console.log(`[kube] kept ${cluster.dataDir}`);
  };
}
