import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadYaml } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import { BLOB_DATA_OWNER, type RoleAssignment, SETTLE_MS, storageRoleVerdict } from '../../scripts/wait-for-storage-role.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const APP = '11111111-1111-4111-8111-111111111111';
const OTHER = '22222222-2222-4222-8222-222222222222';
const NOW = new Date('2026-11-23T10:00:00Z');
const role = (id: string) => `/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/${id}`;
const assignment = (principalId: string, roleId: string, createdOn?: string): RoleAssignment => ({
  properties: { principalId, roleDefinitionId: role(roleId), ...(createdOn === undefined ? {} : { createdOn }) },
});
const minutesAgo = (m: number) => new Date(NOW.getTime() - m * 60_000).toISOString();

describe('the predeploy wait for the app identity\'s storage role', () => {
  it.each<[string, RoleAssignment[], ReturnType<typeof storageRoleVerdict>]>([
    ['an assignment older than the settle time: no wait', [assignment(APP, BLOB_DATA_OWNER, minutesAgo(60))], { wait: 'none' }],
    ['exactly the settle time old: no wait', [assignment(APP, BLOB_DATA_OWNER, minutesAgo(SETTLE_MS / 60_000))], { wait: 'none' }],
    [
      'made a minute ago: wait until it is the settle time old',
      [assignment(APP, BLOB_DATA_OWNER, minutesAgo(1))],
      { wait: 'until', at: new Date(NOW.getTime() - 60_000 + SETTLE_MS) },
    ],
    [
      'an old and a new one (the role re-assigned): the new one decides',
      [assignment(APP, BLOB_DATA_OWNER, minutesAgo(600)), assignment(APP, BLOB_DATA_OWNER, minutesAgo(2))],
      { wait: 'until', at: new Date(NOW.getTime() - 120_000 + SETTLE_MS) },
    ],
    [
      'no creation time: treated as made now',
      [assignment(APP, BLOB_DATA_OWNER)],
      { wait: 'until', at: new Date(NOW.getTime() + SETTLE_MS) },
    ],
    [
      'only other roles of the identity, or the role for someone else: missing',
      [assignment(APP, '974c5e8b-45b9-4653-ba55-5f855dd0fb88', minutesAgo(60)), assignment(OTHER, BLOB_DATA_OWNER, minutesAgo(60))],
      { wait: 'missing' },
    ],
    ['no assignment at all: missing', [], { wait: 'missing' }],
  ])('%s', (_name, assignments, expected) => {
    expect(storageRoleVerdict(assignments, APP, NOW)).toEqual(expected);
  });

  it('never waits longer than the settle time', () => {
    const verdict = storageRoleVerdict([assignment(APP, BLOB_DATA_OWNER, new Date(NOW.getTime() + 3_600_000).toISOString())], APP, NOW);
    expect(verdict).toEqual({ wait: 'until', at: new Date(NOW.getTime() + SETTLE_MS) });
  });

  it('runs before every deploy, on every platform, and reads outputs main.bicep declares', () => {
    type Hook = { shell: string; run: string };
    const azure = loadYaml<{ services: { api: { hooks: Record<string, { posix: Hook; windows: Hook }> } } }>(
      readFileSync(join(ROOT, 'azure.yaml'), 'utf8'),
    );
    const hook = azure.services.api.hooks.predeploy;
    // Last: the Durable backend check before it (test/scripts/durable-backend.test.ts) fails fast, without a wait.
    expect(hook?.posix.run).toMatch(/(?:^|&& )npm run --silent wait-for-storage-role$/);
    expect(hook?.windows.run).toBe(hook?.posix.run);
    const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts['wait-for-storage-role']).toBe('tsx scripts/wait-for-storage-role.ts');
    const mainBicep = readFileSync(join(ROOT, 'infra/main.bicep'), 'utf8');
    const source = readFileSync(join(ROOT, 'scripts/wait-for-storage-role.ts'), 'utf8');
    const read = [...source.matchAll(/required\('(\w+)'\)/g)].map((m) => m[1] ?? '');
    expect(read).toContain('STORAGE_ACCOUNT_NAME');
    // AZURE_SUBSCRIPTION_ID is azd's own; every other name is an output of main.bicep.
    for (const name of new Set(read.filter((n) => n !== 'AZURE_SUBSCRIPTION_ID'))) expect(mainBicep, name).toMatch(new RegExp(`^output ${name} `, 'm'));
  });

  it('the app identity holds that role on the storage account the package is written to', () => {
    const rbac = readFileSync(join(ROOT, 'infra/app/rbac.bicep'), 'utf8');
    expect(rbac).toContain(BLOB_DATA_OWNER);
  });
});
