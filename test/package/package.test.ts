/**
 * The deployment package, proved without Azure. It is built as azd's prepackage hook builds it, copied as azd
 * zips a function app (azd's cli/azd/pkg/project/project_utils.go createDeployableZip and pkg/rzip: the
 * .funcignore of the zipped folder applied with gitignore rules, symlinks followed, azd's own exclusions), and
 * the copy is loaded by a fresh Node 22 process that can reach nothing outside it. What it registers must be
 * what the app registers when loaded from the repository.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';

import { loadYaml } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { captureRegistrations } from '../../local/host/registrations.js';
import { durableBackendOf, hostJsonFor } from '../../scripts/durable-backend.js';
import { type Lockfile, packageFolder, productionPaths, projectRoot } from '../../scripts/package.js';
import { loadConfig } from '../../src/config.js';
import { createServices, setServices } from '../../src/services.js';
import { copyAsAzdZips, ignoreRules } from './azd-zip.js';

const ROOT = projectRoot;
const NODE = join(ROOT, 'node_modules', '.bin', 'node');
const MAX_BYTES = 80 * 1000 * 1000;

interface Metadata {
  name: string;
  bindings: Record<string, Record<string, unknown>>;
}

interface AzureYaml {
  services: Record<
    string,
    { project: string; language: string; host: string; dist?: string; remoteBuild?: boolean; hooks?: Record<string, Record<'posix' | 'windows', { run: string }>> }
  >;
}

const azure = loadYaml<AzureYaml>(readFileSync(join(ROOT, 'azure.yaml'), 'utf8'));
const api = azure.services.api;

function filesUnder(folder: string): { path: string; size: number }[] {
  return readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const full = join(entry.parentPath, entry.name);
      return { path: relative(folder, full).split(sep).join('/'), size: statSync(full).size };
    });
}

/** Package folders (`node_modules/a`, `node_modules/@s/b`, `node_modules/a/node_modules/c`) in a tree. */
function packagesUnder(folder: string): string[] {
  const found: string[] = [];
  const visit = (modules: string): void => {
    if (!existsSync(join(folder, modules))) return;
    for (const name of readdirSync(join(folder, modules))) {
      const names = name.startsWith('@') ? readdirSync(join(folder, modules, name)).map((n) => `${name}/${n}`) : [name];
      for (const pkg of names) {
        const path = `${modules}/${pkg}`;
        found.push(path);
        visit(`${path}/node_modules`);
      }
    }
  };
  visit('node_modules');
  return found;
}

function byName(list: Metadata[]): Metadata[] {
  return (JSON.parse(JSON.stringify(list)) as Metadata[]).sort((a, b) => a.name.localeCompare(b.name));
}

function trigger(metadata: Metadata): Record<string, unknown> {
  return Object.values(metadata.bindings).find((b) => String(b.type).endsWith('Trigger')) ?? {};
}

const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  main: string;
  devDependencies: Record<string, string>;
};
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as Lockfile;

let workdir: string;
let copy: string;
let files: { path: string; size: number }[];
let loaded: { status: number | null; stderr: string; registrations: Metadata[]; lookupPaths: string[] };
let fromRepository: Metadata[];

beforeAll(() => {
  const built = spawnSync('npm', ['run', '--silent', 'package'], { cwd: ROOT, encoding: 'utf8', shell: process.platform === 'win32' });
  if (built.status !== 0) throw new Error(`npm run package failed:\n${built.stdout}\n${built.stderr}`);

  workdir = mkdtempSync(join(tmpdir(), 'aks-job-runner-package-'));
  copy = join(workdir, 'wwwroot');
  mkdirSync(copy);
  copyAsAzdZips(join(ROOT, api?.dist ?? ''), copy);
  files = filesUnder(copy);

  const out = join(workdir, 'loaded.json');
  const cluster = {
    alias: 'prod',
    type: 'aks',
    subscriptionId: '00000000-0000-4000-8000-000000000001',
    resourceGroup: 'rg-batch',
    clusterName: 'aks-prod',
    namespaces: ['batch'],
  };
  // No inherited environment: no NODE_PATH, NODE_OPTIONS or loader of the test runner's; HOME in the work
  // folder so that Node's global folders (~/.node_modules, ~/.node_libraries) hold nothing either.
  const child = spawnSync(NODE, [join(ROOT, 'test/package/load-main.cjs'), out], {
    cwd: copy,
    encoding: 'utf8',
    env: { PATH: dirname(NODE), HOME: workdir, CLUSTERS: JSON.stringify([cluster]) },
  });
  const written = existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as Omit<typeof loaded, 'status' | 'stderr'>) : undefined;
  loaded = { status: child.status, stderr: child.stderr, registrations: written?.registrations ?? [], lookupPaths: written?.lookupPaths ?? [] };
}, 300_000);

beforeAll(async () => {
  const registrations = captureRegistrations();
  setServices(createServices(loadConfig({ CLUSTERS: JSON.stringify([{ alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/x', namespaces: ['batch'] }]) })));
  await import('../../src/index.js');
  fromRepository = byName(registrations.map((r) => r.metadata));
});

afterAll(() => {
  rmSync(workdir, { recursive: true, force: true });
});

describe('azure.yaml deploys the package folder as it is', () => {
  it('builds locally (remoteBuild false), from the folder the package script writes, in the prepackage hook', () => {
    expect(api).toMatchObject({ project: '.', language: 'ts', host: 'function', remoteBuild: false, dist: packageFolder });
    const hook = api?.hooks?.prepackage;
    expect(hook?.posix.run).toMatch(/^npm ci\b.*&& npm run package$/);
    expect(hook?.windows.run).toBe(hook?.posix.run);
  });

  it('has an ignore file in the zipped folder, and none at the project root that would leave node_modules out', () => {
    // azd 1.23.12+ refuses remoteBuild: false when the project's .funcignore excludes node_modules.
    expect(ignoreRules(ROOT)?.ignores('node_modules/') ?? false).toBe(false);
    expect(existsSync(join(ROOT, packageFolder, '.funcignore'))).toBe(true);
  });
});

describe('the package as azd zips it', () => {
  it('holds the built app, host.json, package.json and node_modules, nothing else', () => {
    expect(readdirSync(copy).sort()).toEqual(['dist', 'host.json', 'node_modules', 'package.json']);
    expect(files.map((f) => f.path)).toContain(manifest.main);
    // The repository's host.json, with the storage provider of the Durable backend DURABLE_BACKEND names (none: as it is).
    expect(readFileSync(join(copy, 'host.json'), 'utf8')).toBe(hostJsonFor(durableBackendOf(process.env), readFileSync(join(ROOT, 'host.json'), 'utf8')));
  });

  it(`is under ${String(MAX_BYTES / 1e6)} MB unpacked`, () => {
    const bytes = files.reduce((sum, f) => sum + f.size, 0);
    expect(bytes).toBeGreaterThan(1e6);
    expect(bytes).toBeLessThan(MAX_BYTES);
  });

  it('carries exactly the production dependencies of the lockfile, and no devDependency', () => {
    const installed = productionPaths(lock)
      .map((p) => p.path)
      .filter((path) => existsSync(join(ROOT, path)));
    expect(packagesUnder(copy).sort()).toEqual(installed.sort());
    // A devDependency that a production package also depends on (@types/node) is production too, as for npm.
    const developmentOnly = Object.keys(manifest.devDependencies).filter((name) => lock.packages[`node_modules/${name}`]?.dev === true);
    expect(developmentOnly).toEqual(expect.arrayContaining(['node', 'typescript', 'vitest', 'tsx', 'eslint', 'azurite']));
    const shippedPackages = packagesUnder(copy);
    for (const name of developmentOnly) {
      expect(shippedPackages.filter((p) => p === `node_modules/${name}` || p.endsWith(`/node_modules/${name}`)), name).toEqual([]);
    }
    const shipped = JSON.parse(readFileSync(join(copy, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(shipped).not.toHaveProperty('devDependencies');
    expect(shipped).not.toHaveProperty('scripts');
  });

  it('has no TypeScript source, no tests and no Node binary', () => {
    expect(files.filter((f) => /\.[cm]?ts$/.test(f.path))).toEqual([]);
    expect(files.filter((f) => f.path.startsWith('dist/') && /(^|\/)test\/|\.(test|spec)\.[cm]?js(\.map)?$/.test(f.path))).toEqual([]);
    expect(files.filter((f) => /(^|\/)node(\.exe)?$/.test(f.path) || f.size > 20e6)).toEqual([]);
  });
});

describe('a fresh Node 22 loads the package alone', () => {
  it('starts from package.json main with the CLUSTERS setting and nothing from the repository', () => {
    expect(spawnSync(NODE, ['--version'], { encoding: 'utf8' }).stdout).toMatch(/^v22\./);
    expect(loaded.status, loaded.stderr).toBe(0);
    // @azure/functions says so when it cannot reach the worker's module and registers nothing.
    expect(loaded.stderr).not.toMatch(/Failed to detect the Azure Functions runtime|Skipping call to register/);
    // Every folder the entry point could import a package from is inside the copy or does not exist.
    const reachable = loaded.lookupPaths.filter((path) => existsSync(path));
    expect(reachable.length).toBeGreaterThan(0);
    for (const path of reachable) expect(resolve(path).startsWith(copy + sep), path).toBe(true);
  });

  it('registers exactly what the app registers when loaded from the repository', () => {
    expect(fromRepository.length).toBeGreaterThan(0);
    expect(byName(loaded.registrations)).toEqual(fromRepository);
  });

  it('registers the run routes with function-key auth, the orchestrator and its activities', () => {
    const found = new Map(byName(loaded.registrations).map((m) => [m.name, trigger(m)]));
    const key = { type: 'httpTrigger', authLevel: 'function' };
    expect(found.get('startJobRun')).toMatchObject({ ...key, route: 'jobs/{namespace}/{name}/runs', methods: ['POST'] });
    expect(found.get('startCronJobRun')).toMatchObject({ ...key, route: 'cronjobs/{namespace}/{name}/runs', methods: ['POST'] });
    expect(found.get('getRun')).toMatchObject({ ...key, route: 'runs/{runId}', methods: ['GET'] });
    expect(found.get('cancelRun')).toMatchObject({ ...key, route: 'runs/{runId}/cancel', methods: ['POST'] });
    expect(found.get('jobRun')).toMatchObject({ type: 'orchestrationTrigger' });
    for (const name of ['submitRun', 'observeRun', 'stopRun']) expect(found.get(name), name).toMatchObject({ type: 'activityTrigger' });
  });
});
