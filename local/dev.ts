/**
 * `npm run dev`: the app's HTTP API on 127.0.0.1 with orchestrations run in-process, for trying the app
 * without Azure Functions Core Tools. Settings come from local.settings.json's Values (as `func start` reads
 * them) unless already set in the environment. Without any CLUSTERS setting it starts the built-in local
 * control plane with the demo's sample Jobs and CronJob, and serves until Ctrl-C. A development runtime:
 * production runs on the Functions host.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { serveConsoleFrom } from '../src/http/console.js';
import { type LocalCluster, startCluster } from '../testenv/cluster.js';
import { startLogsArchiveUnlessConfigured } from './azurite.js';
import { startLocalApp } from './host/server.js';
import { createSamples, SAMPLE_NAMESPACE } from './samples.js';

const settingsFile = join(process.cwd(), 'local.settings.json');
const fromFile = existsSync(settingsFile);
if (fromFile) {
  const values = (JSON.parse(readFileSync(settingsFile, 'utf8')) as { Values?: Record<string, string> }).Values ?? {};
  for (const [name, value] of Object.entries(values)) process.env[name] ??= value;
}

const blank = (name: string) => (process.env[name] ?? '').trim() === '';
/** A LOCAL_* setting; blank counts as unset, as for the app's own settings. */
const local = (name: string): string | undefined => (blank(name) ? undefined : process.env[name]);
let cluster: LocalCluster | undefined;
if (blank('CLUSTERS')) {
  console.log(
    `${fromFile ? 'local.settings.json sets no CLUSTERS' : 'no local.settings.json'}: starting the built-in local Kubernetes control plane (the first start builds it from Go modules: several minutes)`,
  );
  cluster = await startCluster({ log: (line) => { console.log(`  ${line}`); } });
  await createSamples(cluster.kubeconfigPath);
  process.env.CLUSTERS = JSON.stringify([{ alias: 'local', type: 'kubeconfig', kubeconfigPath: cluster.kubeconfigPath, namespaces: [SAMPLE_NAMESPACE] }]);
  // Short polls, so a run on the fake nodes is seen to end within seconds, as in the demo.
  for (const [name, value] of Object.entries({ POLL_INITIAL_SECONDS: '1', POLL_MAX_SECONDS: '5', STATUS_RETRY_AFTER_SECONDS: '2' })) {
    if (blank(name)) process.env[name] = value;
  }
}

// The built-in cluster is new at every start: its archive too (a temp dir); a configured one's is kept.
const stopArchive = await startLogsArchiveUnlessConfigured(process.env, cluster ? undefined : join(process.cwd(), '.local-runtime', 'azurite'), (line) => {
  console.log(line);
});

const port = Number(local('LOCAL_PORT') ?? 7071);
if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`LOCAL_PORT must be a port number (0 picks a free one), got "${String(process.env.LOCAL_PORT)}"`);
const hostKey = local('LOCAL_HOST_KEY');
const masterKey = local('LOCAL_MASTER_KEY');
// predev builds the console here (beside console/, as Vite resolves it), not into dist/, which the deployment
// package build empties.
serveConsoleFrom(fileURLToPath(new URL('../.local-runtime/console', import.meta.url)));
const functionKey = local('LOCAL_FUNCTION_KEY') ?? 'local';
const app = await startLocalApp({
  port,
  functionKey,
  // A development host on loopback: the console opens without asking for the key.
  consoleKey: functionKey,
  ...(hostKey ? { hostKey } : {}),
  ...(masterKey ? { masterKey } : {}),
  // The built-in cluster is new at every start, so runs kept from an earlier one could not be followed.
  ...(cluster ? {} : { stateDir: local('LOCAL_STATE_DIR') ?? join(process.cwd(), '.local-runtime', 'state') }),
  log: (line) => {
    console.log(line);
  },
});

const api = `${app.url}/api`;
console.log(`aks-job-runner (local runtime) on ${api}, function key "${app.functionKey}"${app.resumed ? `, resumed ${app.resumed} run(s)` : ''}`);
if (cluster) {
  console.log(`local cluster kubeconfig: ${cluster.kubeconfigPath}`);
  console.log(`  kubectl --kubeconfig ${cluster.kubeconfigPath} get jobs,cronjobs -n ${SAMPLE_NAMESPACE}`);
  console.log(`try: curl -i -X POST '${api}/jobs/${SAMPLE_NAMESPACE}/hello/runs?code=${app.functionKey}' -H 'Content-Type: application/json' -d '{"GREETING":"hi"}'`);
} else {
  console.log(`try: curl -i '${api}/jobs?code=${app.functionKey}&namespace=<namespace>'`);
}
console.log(`console: ${api}/console/`);
console.log(`API documents: ${api}/openapi.json (OpenAPI 3.1), ${api}/swagger.json (Swagger 2.0)`);
console.log('Ctrl-C stops it');

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void (async () => {
    await app.close();
    await stopArchive?.();
    await cluster?.stop();
    process.exit(0);
  })();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
