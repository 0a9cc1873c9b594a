import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { loadYaml } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import {
  backendOfHostJson,
  deployRefusal,
  DURABLE_BACKENDS,
  type DurableBackend,
  durableBackendOf,
  hostJsonFor,
  SCHEDULER_BUNDLE_VERSION,
  SCHEDULER_CONNECTION_SETTING,
} from '../../scripts/durable-backend.js';

const ROOT = join(import.meta.dirname, '../..');
const hostJson = readFileSync(join(ROOT, 'host.json'), 'utf8');

interface Host {
  extensionBundle: { id: string; version: string };
  extensions: { durableTask: Record<string, unknown> & { storageProvider: Record<string, unknown> } };
  logging: unknown;
}

describe('DURABLE_BACKEND', () => {
  it.each([
    { name: 'unset', env: {}, backend: 'AzureStorage' },
    { name: 'empty', env: { DURABLE_BACKEND: '' }, backend: 'AzureStorage' },
    { name: 'blank', env: { DURABLE_BACKEND: '  ' }, backend: 'AzureStorage' },
    { name: 'Azure Storage', env: { DURABLE_BACKEND: 'AzureStorage' }, backend: 'AzureStorage' },
    { name: 'the scheduler', env: { DURABLE_BACKEND: 'DurableTaskScheduler' }, backend: 'DurableTaskScheduler' },
  ])('$name gives $backend', ({ env, backend }) => {
    expect(durableBackendOf(env)).toBe(backend);
  });

  it.each(['DTS', 'durabletaskscheduler', 'Netherite'])('refuses %s, naming the values it takes', (value) => {
    expect(() => durableBackendOf({ DURABLE_BACKEND: value })).toThrow(/one of AzureStorage, DurableTaskScheduler/);
  });
});

describe('host.json for each backend', () => {
  it('is the repository\'s host.json, byte for byte, for Azure Storage', () => {
    expect(hostJsonFor('AzureStorage', hostJson)).toBe(hostJson);
    expect(backendOfHostJson(hostJson)).toBe('AzureStorage');
  });

  it('names the scheduler provider and its connection setting for the Durable Task Scheduler, and changes nothing else but the bundle floor', () => {
    const original = JSON.parse(hostJson) as Host;
    const scheduler = JSON.parse(hostJsonFor('DurableTaskScheduler', hostJson)) as Host;
    expect(scheduler.extensions.durableTask.storageProvider).toEqual({ type: 'azureManaged', connectionStringName: SCHEDULER_CONNECTION_SETTING });
    expect(scheduler.extensionBundle).toEqual({ id: 'Microsoft.Azure.Functions.ExtensionBundle', version: SCHEDULER_BUNDLE_VERSION });
    // The task hub name, concurrency and versioning are the same on both backends.
    expect({ ...scheduler.extensions.durableTask, storageProvider: null }).toEqual({ ...original.extensions.durableTask, storageProvider: null });
    expect(scheduler.extensions.durableTask.hubName).toBe('%TASK_HUB_NAME%');
    expect({ ...scheduler, extensionBundle: null, extensions: null }).toEqual({ ...original, extensionBundle: null, extensions: null });
    expect(backendOfHostJson(hostJsonFor('DurableTaskScheduler', hostJson))).toBe('DurableTaskScheduler');
  });

  it('keeps the bundle range within major version 4, as the repository\'s is', () => {
    expect((JSON.parse(hostJson) as Host).extensionBundle.version).toBe('[4.*, 5.0.0)');
    expect(SCHEDULER_BUNDLE_VERSION).toMatch(/^\[4\.\d+\.\d+, 5\.0\.0\)$/);
  });

  it.each([
    { name: 'no provider', text: '{"extensions":{"durableTask":{}}}', backend: 'AzureStorage' },
    { name: 'lower case', text: '{"extensions":{"durableTask":{"storageProvider":{"type":"azurestorage"}}}}', backend: 'AzureStorage' },
    { name: 'the scheduler in any case', text: '{"extensions":{"durableTask":{"storageProvider":{"type":"AzureManaged"}}}}', backend: 'DurableTaskScheduler' },
  ])('reads the backend of a host.json with $name', ({ text, backend }) => {
    expect(backendOfHostJson(text)).toBe(backend);
  });

  it('refuses a host.json whose provider is neither, and one with nothing to set', () => {
    expect(() => backendOfHostJson('{"extensions":{"durableTask":{"storageProvider":{"type":"mssql"}}}}')).toThrow(/"mssql"/);
    expect(() => hostJsonFor('DurableTaskScheduler', '{"version":"2.0"}')).toThrow(/extensions\.durableTask/);
  });
});

describe('the predeploy check', () => {
  const endpoint = 'https://dts-abc.westeurope.durabletask.io';
  it.each<{ name: string; packaged: DurableBackend; provisioned: string | undefined; refused: boolean }>([
    { name: 'Azure Storage on an app with no scheduler output yet', packaged: 'AzureStorage', provisioned: undefined, refused: false },
    { name: 'Azure Storage on an app without a scheduler', packaged: 'AzureStorage', provisioned: '', refused: false },
    { name: 'the scheduler on an app with one', packaged: 'DurableTaskScheduler', provisioned: endpoint, refused: false },
    { name: 'the scheduler on an app without one', packaged: 'DurableTaskScheduler', provisioned: '', refused: true },
    { name: 'Azure Storage on an app provisioned for the scheduler', packaged: 'AzureStorage', provisioned: endpoint, refused: true },
  ])('$name: refused $refused', ({ packaged, provisioned, refused }) => {
    const refusal = deployRefusal(packaged, provisioned);
    expect(refusal !== undefined).toBe(refused);
    if (refusal !== undefined) expect(refusal).toMatch(/azd provision/);
  });

  it('runs before every deploy on every platform, ahead of the storage role wait, reading an output main.bicep declares', () => {
    type Hook = { run: string };
    const azure = loadYaml<{ services: { api: { hooks: Record<string, { posix: Hook; windows: Hook }> } } }>(readFileSync(join(ROOT, 'azure.yaml'), 'utf8'));
    const hook = azure.services.api.hooks.predeploy;
    expect(hook?.posix.run).toMatch(/^npm run --silent check-durable-backend && /);
    expect(hook?.windows.run).toBe(hook?.posix.run);
    const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts['check-durable-backend']).toBe('tsx scripts/durable-backend.ts');
    const source = readFileSync(join(ROOT, 'scripts/durable-backend.ts'), 'utf8');
    expect(source).toContain('process.env.DURABLE_TASK_SCHEDULER_ENDPOINT');
    expect(readFileSync(join(ROOT, 'infra/main.bicep'), 'utf8')).toMatch(/^output DURABLE_TASK_SCHEDULER_ENDPOINT string = /m);
  });

  it('knows exactly the values infra/main.bicep allows for durableBackend', () => {
    const main = readFileSync(join(ROOT, 'infra/main.bicep'), 'utf8');
    const allowed = /@allowed\(\[([^\]]*)\]\)\s*param durableBackend string = '(\w+)'/.exec(main);
    expect([...(allowed?.[1] ?? '').matchAll(/'(\w+)'/g)].map((m) => m[1])).toEqual([...DURABLE_BACKENDS]);
    expect(allowed?.[2]).toBe(durableBackendOf({}));
  });
});
