/**
 * `npm run dev`: the app's HTTP API on 127.0.0.1 with orchestrations run in-process, for trying the app
 * without Azure Functions Core Tools. Settings come from local.settings.json's Values (as `func start` reads
 * them) unless already set in the environment. A development runtime: production runs on the Functions host.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { startLogsArchiveUnlessConfigured } from './azurite.js';
import { startLocalApp } from './host/server.js';

const settingsFile = join(process.cwd(), 'local.settings.json');
if (existsSync(settingsFile)) {
  const values = (JSON.parse(readFileSync(settingsFile, 'utf8')) as { Values?: Record<string, string> }).Values ?? {};
  for (const [name, value] of Object.entries(values)) process.env[name] ??= value;
}

const stopArchive = await startLogsArchiveUnlessConfigured(process.env, join(process.cwd(), '.local-runtime', 'azurite'), (line) => {
  console.log(line);
});
const port = Number(process.env.LOCAL_PORT ?? 7071);
const app = await startLocalApp({
  port,
  functionKey: process.env.LOCAL_FUNCTION_KEY ?? 'local',
  stateDir: process.env.LOCAL_STATE_DIR ?? join(process.cwd(), '.local-runtime', 'state'),
  log: (line) => {
    console.log(line);
  },
});
console.log(`aks-job-runner (local runtime) on ${app.url}/api, function key "${app.functionKey}"${app.resumed ? `, resumed ${app.resumed} run(s)` : ''}`);
const stop = () => {
  void app
    .close()
    .then(() => stopArchive?.())
    .then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
