// Which backend holds Durable's state, as the deployment package says it. The choice is azd's DURABLE_BACKEND,
// the same value infra/main.bicep takes as `durableBackend`: Azure Storage (the default, host.json as it is) or
// the Durable Task Scheduler. The storage provider goes into the packaged host.json, not into an app setting
// that overrides it (AzureFunctionsJobHost__extensions__durableTask__storageProvider__type): the platform's
// scale controller reads the durableTask section from the host.json file (azure-functions-host
// FunctionsSyncManager.ReadDurableTaskConfig), so with an override it would watch Azure Storage queues no one
// uses and never scale the app out for Durable work (Azure/azure-functions-durable-extension#2622).
// Also azd's predeploy hook: it refuses a package built for another backend than the one provisioned.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DURABLE_BACKENDS = ['AzureStorage', 'DurableTaskScheduler'] as const;
export type DurableBackend = (typeof DURABLE_BACKENDS)[number];

/** The app setting that holds the scheduler's identity-based connection string (infra/app/api.bicep sets it). */
export const SCHEDULER_CONNECTION_SETTING = 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING';

/**
 * The first extension bundle with the Durable Task Scheduler provider (`azureManaged`) for non-.NET apps, as
 * the scheduler's Durable Functions quickstart requires it; host.json's `[4.*, 5.0.0)` would also take an
 * older 4.x that a local Core Tools has cached.
 */
export const SCHEDULER_BUNDLE_VERSION = '[4.32.0, 5.0.0)';

/** DURABLE_BACKEND of the environment: unset or empty is the default, anything else unknown is refused. */
export function durableBackendOf(env: Readonly<Record<string, string | undefined>>): DurableBackend {
  const value = env.DURABLE_BACKEND?.trim() ?? '';
  if (value === '') return 'AzureStorage';
  const known = DURABLE_BACKENDS.find((backend) => backend === value);
  if (known === undefined) throw new Error(`DURABLE_BACKEND is "${value}"; it must be one of ${DURABLE_BACKENDS.join(', ')} (azd env set DURABLE_BACKEND ...)`);
  return known;
}

interface HostJson {
  extensionBundle?: { id?: string; version?: string };
  extensions?: { durableTask?: { storageProvider?: Record<string, unknown> } };
}

/**
 * host.json for a backend: for Azure Storage the repository's text unchanged; for the Durable Task Scheduler the
 * same settings with the `azureManaged` provider, whose connection is the app setting above (the task hub stays
 * `%TASK_HUB_NAME%`, which infra gives the scheduler's task hub too), and a bundle that has that provider.
 */
export function hostJsonFor(backend: DurableBackend, text: string): string {
  if (backend === 'AzureStorage') return text;
  const host = JSON.parse(text) as HostJson;
  const durableTask = host.extensions?.durableTask;
  if (durableTask === undefined) throw new Error('host.json has no extensions.durableTask to set the storage provider of');
  durableTask.storageProvider = { type: 'azureManaged', connectionStringName: SCHEDULER_CONNECTION_SETTING };
  host.extensionBundle = { ...host.extensionBundle, version: SCHEDULER_BUNDLE_VERSION };
  return `${JSON.stringify(host, null, 2)}\n`;
}

/** The backend a host.json runs on, from its storage provider (Azure Storage when it names none). */
export function backendOfHostJson(text: string): DurableBackend {
  const type = (JSON.parse(text) as HostJson).extensions?.durableTask?.storageProvider?.type;
  if (type === undefined || (typeof type === 'string' && type.toLowerCase() === 'azurestorage')) return 'AzureStorage';
  if (typeof type === 'string' && type.toLowerCase() === 'azuremanaged') return 'DurableTaskScheduler';
  throw new Error(`host.json's storage provider ${JSON.stringify(type)} is neither AzureStorage nor azureManaged`);
}

/**
 * Why a package must not be deployed to what was provisioned, or undefined when it may. `provisioned` is the
 * DURABLE_TASK_SCHEDULER_ENDPOINT output of the last provision: empty when it made no scheduler. A package for
 * the scheduler on an app without one would not start (no connection setting); one for Azure Storage on an app
 * provisioned for the scheduler would find no queue role, and leave the runs in the scheduler unwatched.
 */
export function deployRefusal(packaged: DurableBackend, schedulerEndpoint: string | undefined): string | undefined {
  const provisioned: DurableBackend = schedulerEndpoint === undefined || schedulerEndpoint === '' ? 'AzureStorage' : 'DurableTaskScheduler';
  if (packaged === provisioned) return undefined;
  return `the package was built for the Durable backend ${packaged}, but the app was provisioned for ${provisioned}: run azd provision (or azd up) after azd env set DURABLE_BACKEND`;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(fileURLToPath(import.meta.url), '../..');
  const packaged = backendOfHostJson(readFileSync(join(root, '.package', 'host.json'), 'utf8'));
  const refusal = deployRefusal(packaged, process.env.DURABLE_TASK_SCHEDULER_ENDPOINT);
  if (refusal !== undefined) {
    console.error(`predeploy: ${refusal}`);
    process.exit(1);
  }
  console.log(`predeploy: Durable backend ${packaged}, as provisioned`);
}
