/**
 * The deployment package, proved without Azure. It is built as azd's prepackage hook builds it (an esbuild
 * bundle, scripts/package.ts), copied as azd zips a function app (azd's cli/azd/pkg/project/project_utils.go
 * createDeployableZip and pkg/rzip: the .funcignore of the zipped folder applied with gitignore rules, symlinks
 * followed, azd's own exclusions), and the copy is loaded by a fresh Node 22 process that can reach nothing
 * outside it. What it registers must be what the app registers when loaded from the repository.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { loadYaml } from '@kubernetes/client-node';
import type { Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { captureRegistrations } from '../../local/host/registrations.js';
import { commonJsWrapperEdits, factsOf, helperExports } from '../../scripts/commonjs-functions.js';
import { durableBackendOf, hostJsonFor } from '../../scripts/durable-backend.js';
import { bundledPackages, type Lockfile, packagePathOf } from '../../scripts/notices.js';
import { bundledMain, hostProvided, metafilePath, noticesFile, packageFolder, projectRoot, startBudgetBytes, startFiles } from '../../scripts/package.js';
import { HEAVY_PACKAGES } from '../../src/clients/lazy.js';
import { loadConfig } from '../../src/config.js';
import { atLeast, NODE_FLOOR } from '../../src/core/node-floor.js';
import { createServices, setServices } from '../../src/services.js';
import { copyAsAzdZips, ignoreRules } from './azd-zip.js';

const ROOT = projectRoot;
const NODE = join(ROOT, 'node_modules', '.bin', 'node');
/** The goals of issue 25 for what a new instance reads: under 10 MB unpacked, under 50 files. */
const MAX_BYTES = 10 * 1000 * 1000;
const MAX_FILES = 50;
/**
 * The clients a new instance must not read before it is asked for something that needs them: those
 * src/clients/lazy.ts loads, and the heaviest of what comes only with them.
 */
const LAZY_PACKAGES = [...HEAVY_PACKAGES, 'undici', 'ws', '@azure/msal-node', '@azure/storage-common'];
/**
 * Nor may the files read at start hold code of these: the Azure SDK's HTTP pipeline, and clients others may add
 * (Event Grid, OpenTelemetry exporters), which belong in lazy.ts too. Not all of them are in the bundle today.
 */
const NOT_AT_START = [...LAZY_PACKAGES, '@azure/msal-common', '@azure/core-rest-pipeline', '@azure/core-client', '@azure/eventgrid', '@azure/eventgrid-namespaces', '@azure/monitor-opentelemetry-exporter'];
const NOT_AT_START_PATTERN = /^@opentelemetry\/(exporter-|otlp-)/;

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

interface Loaded {
  status: number | null;
  firstRequest?: { requests: { ms: number; status: number; title?: string; read: string[] }[]; served: number };
  stderr: string;
  registrations: Metadata[];
  lookupPaths: string[];
  loaded: string[];
  /** Node's built-in modules the load brought in. */
  builtins?: string[];
  error?: string;
  console?: { status: number; contentType: string };
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

function byName(list: Metadata[]): Metadata[] {
  return (JSON.parse(JSON.stringify(list)) as Metadata[]).sort((a, b) => a.name.localeCompare(b.name));
}

function trigger(metadata: Metadata): Record<string, unknown> {
  return Object.values(metadata.bindings).find((b) => String(b.type).endsWith('Trigger')) ?? {};
}

const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as Lockfile & {
  packages: Record<string, { engines?: { node?: string } }>;
};

let workdir: string;
let copy: string;
let files: { path: string; size: number }[];
let metafile: Metafile;
let loaded: Loaded;
let pretendingOld: Loaded;
let firstRequest: Loaded;
let fromRepository: Metadata[];

const cluster = {
  alias: 'prod',
  type: 'aks',
  subscriptionId: '00000000-0000-4000-8000-000000000001',
  resourceGroup: 'rg-batch',
  clusterName: 'aks-prod',
  namespaces: ['batch'],
};

/**
 * Load the copy's main in a fresh Node. No inherited environment: no NODE_PATH, NODE_OPTIONS or loader of the
 * test runner's; HOME in the work folder so that Node's global folders (~/.node_modules, ~/.node_libraries) hold
 * nothing either.
 */
function loadCopy(name: string, args: string[] = []): Loaded {
  const out = join(workdir, `${name}.json`);
  const child = spawnSync(NODE, [join(ROOT, 'test/package/load-main.cjs'), out, ...args], {
    cwd: copy,
    encoding: 'utf8',
    env: { PATH: dirname(NODE), HOME: workdir, CLUSTERS: JSON.stringify([cluster]) },
  });
  const written = existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as Omit<Loaded, 'status' | 'stderr'>) : undefined;
  return { registrations: [], lookupPaths: [], loaded: [], ...written, status: child.status, stderr: child.stderr };
}

/** The package a metafile input belongs to (`@azure/identity`), or undefined for the app's own code. */
function packageOf(input: string): string | undefined {
  return packagePathOf(input)?.split('node_modules/').pop();
}

/** A bundle file, as the metafile names it, relative to the copy. */
function inCopy(output: string): string {
  return relative(join(ROOT, packageFolder), join(ROOT, output)).split(sep).join('/');
}

/** The bundle files (relative to the copy) that hold code of `pkg`, by esbuild's account. */
function filesHolding(pkg: string): string[] {
  return Object.entries(metafile.outputs)
    .filter(([, output]) => Object.entries(output.inputs).some(([input, { bytesInOutput }]) => bytesInOutput > 0 && packagePathOf(input) === `node_modules/${pkg}`))
    .map(([output]) => relative(join(ROOT, packageFolder), join(ROOT, output)).split(sep).join('/'));
}

beforeAll(() => {
  const built = spawnSync('npm', ['run', '--silent', 'package'], { cwd: ROOT, encoding: 'utf8', shell: process.platform === 'win32' });
  if (built.status !== 0) throw new Error(`npm run package failed:\n${built.stdout}\n${built.stderr}`);
  metafile = JSON.parse(readFileSync(join(ROOT, metafilePath), 'utf8')) as Metafile;

  workdir = mkdtempSync(join(tmpdir(), 'aks-job-runner-package-'));
  copy = join(workdir, 'wwwroot');
  mkdirSync(copy);
  copyAsAzdZips(join(ROOT, api?.dist ?? ''), copy);
  files = filesUnder(copy);
  loaded = loadCopy('loaded');
  pretendingOld = loadCopy('old-node', ['node=22.12.0']);
  firstRequest = loadCopy('first-request', ['first-request']);
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
  it('holds the bundle with the console beside it, host.json, package.json and the notices, and no node_modules', () => {
    expect(readdirSync(copy).sort()).toEqual(['THIRD-PARTY-NOTICES.txt', 'dist', 'host.json', 'package.json']);
    const shipped = JSON.parse(readFileSync(join(copy, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(shipped.main).toBe(bundledMain);
    expect(shipped.type).toBe('module');
    expect(shipped).not.toHaveProperty('dependencies');
    expect(shipped).not.toHaveProperty('devDependencies');
    expect(shipped).not.toHaveProperty('scripts');
    expect(files.map((f) => f.path)).toContain(bundledMain);
    expect(files.map((f) => f.path)).toContain('dist/console/index.html');
    // The repository's host.json, with the storage provider of the Durable backend DURABLE_BACKEND names (none: as it is).
    expect(readFileSync(join(copy, 'host.json'), 'utf8')).toBe(hostJsonFor(durableBackendOf(process.env), readFileSync(join(ROOT, 'host.json'), 'utf8')));
  });

  it(`is under ${String(MAX_BYTES / 1e6)} MB unpacked, in under ${String(MAX_FILES)} files`, () => {
    const bytes = files.reduce((sum, f) => sum + f.size, 0);
    expect(bytes).toBeGreaterThan(1e6);
    expect(bytes).toBeLessThan(MAX_BYTES);
    expect(files.length).toBeLessThan(MAX_FILES);
  });

  it('has no TypeScript source, no tests and no Node binary', () => {
    expect(files.filter((f) => /\.[cm]?ts$/.test(f.path))).toEqual([]);
    expect(files.filter((f) => /(^|\/)test\/|\.(test|spec)\.[cm]?js(\.map)?$/.test(f.path))).toEqual([]);
    expect(files.filter((f) => /(^|\/)node(\.exe)?$/.test(f.path) || f.size > 20e6)).toEqual([]);
  });

  it('bundles only production packages of the lockfile, and leaves out what the host provides', () => {
    const packages = bundledPackages(metafile, lock);
    expect(packages.map((p) => p.name)).toEqual(expect.arrayContaining(['@azure/functions', 'durable-functions', '@kubernetes/client-node', 'undici', 'zod']));
    for (const p of packages) expect(lock.packages[p.path]?.dev, p.path).not.toBe(true);
    const external = Object.values(metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path));
    for (const name of hostProvided) expect(external).toContain(name);
    // Nothing a production install has is left to be found at run time: only Node's built-ins, the host's
    // module, and packages no production install has either, which their users require inside a guard (ws's
    // optional bufferutil and utf-8-validate, debug's supports-color).
    const leftToRunTime = new Set(external.filter((p) => !isBuiltin(p) && !(hostProvided as readonly string[]).includes(p)));
    expect([...leftToRunTime].length).toBeGreaterThan(0);
    for (const name of leftToRunTime) {
      const entry = lock.packages[`node_modules/${name}`];
      expect(entry === undefined || entry.dev === true, name).toBe(true);
    }
  });

  it('carries the licence of every bundled package, from the lockfile and the installed package', () => {
    const notices = readFileSync(join(copy, noticesFile), 'utf8');
    for (const p of bundledPackages(metafile, lock)) {
      expect(notices, p.path).toContain(`${p.name} ${p.version} (${p.license})`);
      const licence = readdirSync(join(ROOT, p.path)).find((f) => /^licen[cs]e/i.test(f));
      if (licence) expect(notices, `${p.path}/${licence}`).toContain(readFileSync(join(ROOT, p.path, licence), 'utf8').trimEnd());
    }
  });

  it('maps the app\'s own code to its TypeScript sources, and leaves dependencies unmapped', () => {
    const maps = files.filter((f) => f.path.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(0);
    const sources = maps.flatMap((m) => (JSON.parse(readFileSync(join(copy, m.path), 'utf8')) as { sources: string[] }).sources);
    expect(sources.some((s) => s.endsWith('src/functions/startJobRun.ts'))).toBe(true);
    // Every source is a file of the repository's src/, as the map (in the package's dist/) names it: none in
    // node_modules, and none a dependency's own map named (@azure/functions's are webpack:// URLs).
    const mapFolder = join(ROOT, packageFolder, dirname(bundledMain));
    expect(sources.filter((s) => !resolve(mapFolder, s).startsWith(join(ROOT, 'src') + sep) || s.includes('node_modules/'))).toEqual([]);
    // So a file of dependencies alone has no map for Node to read when it loads (the Functions library's is read
    // at start), and a file with app code has one.
    const withAppCode = (output: string) => Object.entries(metafile.outputs[output]?.inputs ?? {}).some(([input, { bytesInOutput }]) => bytesInOutput > 0 && input.startsWith('dist/src/'));
    const outputs = Object.keys(metafile.outputs).filter((output) => output.endsWith('.js'));
    expect(outputs.filter((output) => !withAppCode(output)).map(inCopy)).toEqual(expect.arrayContaining(filesHolding('@azure/functions')));
    for (const output of outputs) {
      const linked = readFileSync(join(copy, inCopy(output)), 'utf8').includes('//# sourceMappingURL=');
      expect(linked, inCopy(output)).toBe(withAppCode(output));
    }
  });
});

describe('a fresh Node 22 loads the package alone', () => {
  it('starts from package.json main with the CLUSTERS setting and nothing from the repository', () => {
    expect(spawnSync(NODE, ['--version'], { encoding: 'utf8' }).stdout).toMatch(/^v22\./);
    expect(loaded.status, loaded.stderr).toBe(0);
    // @azure/functions says so when it cannot reach the worker's module and registers nothing.
    expect(loaded.stderr).not.toMatch(/Failed to detect the Azure Functions runtime|Skipping call to register/);
    // Every module came from the copy (or is Node's own).
    const outside = loaded.loaded.filter((url) => !url.startsWith(`${pathToFileURL(copy).href}/`));
    expect(outside).toEqual([]);
    // Every folder the entry point could import a package from is inside the copy or does not exist.
    for (const path of loaded.lookupPaths.filter((p) => existsSync(p))) expect(resolve(path).startsWith(copy + sep), path).toBe(true);
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

  it('serves the console\'s page from the static files beside the bundle', () => {
    expect(loaded.console).toEqual({ status: 200, contentType: 'text/html; charset=utf-8' });
  });

  it('reads none of the heavy clients at start: client-node, identity, ARM and Blob are files of their own, read on first use', () => {
    const loadedFiles = new Set(loaded.loaded.map((url) => relative(copy, fileURLToPath(url)).split(sep).join('/')));
    for (const pkg of LAZY_PACKAGES) {
      const holding = filesHolding(pkg);
      expect(holding.length, pkg).toBeGreaterThan(0);
      expect(holding.filter((file) => loadedFiles.has(file)), pkg).toEqual([]);
    }
    expect(loadedFiles.has(bundledMain)).toBe(true);
    // What was read is what the metafile says is read at start: the budget below is about the real start.
    expect([...loadedFiles].filter((file) => file.endsWith('.js')).sort()).toEqual(startFiles(metafile).map(inCopy).sort());
  });

  it('reaches Node\'s built-ins through require: the load starts neither Node\'s fetch (undici) nor http2, zlib or worker_threads', () => {
    // An ES module import of node:http builds its ESM facade, which reads every export and with them loads these
    // (scripts/package.ts builtinsThroughRequire); durable-functions' axios, now loaded on first call, did too.
    const builtins = loaded.builtins ?? [];
    expect(builtins).toContain('http');
    for (const name of ['internal/deps/undici/undici', 'http2', 'zlib', 'worker_threads']) expect(builtins, name).not.toContain(name);
  });

  it("requires the built-ins the app's own modules import when it first uses them: https, tls and dns are not loaded at start", () => {
    // scripts/package.ts lazyBuiltin: the app's callback sender and SSRF checks use them, the Functions library
    // (read at start) none of them; http is the library's own.
    const builtins = loaded.builtins ?? [];
    for (const name of ['https', 'tls', 'dns', 'fs/promises', 'timers/promises']) expect(builtins, name).not.toContain(name);
  });

  it('the first request that needs the Kubernetes client reads its file, once, and is answered through it', () => {
    expect(firstRequest.status, firstRequest.stderr).toBe(0);
    const requests = firstRequest.firstRequest?.requests ?? [];
    expect(requests).toHaveLength(3);
    // Each went to the API server on loopback and came back as the app's answer to its 404.
    expect(firstRequest.firstRequest?.served).toBe(3);
    for (const r of requests) expect(r, JSON.stringify(r)).toMatchObject({ status: 404, title: 'NotFound' });
    const [first, ...later] = requests.map((r) => r.read.map((url) => relative(copy, fileURLToPath(url)).split(sep).join('/')));
    expect(first?.sort()).toEqual(filesHolding('@kubernetes/client-node').sort());
    for (const read of later) expect(read).toEqual([]);
    // Every function was registered at start all the same.
    expect(byName(firstRequest.registrations).map((m) => m.name)).toEqual(fromRepository.map((m) => m.name));
  });
});

describe('what a new instance reads at start', () => {
  const atStart = () => startFiles(metafile);

  it(`weighs at most ${String(startBudgetBytes / 1e6)} MB (scripts/package.ts startBudgetBytes)`, () => {
    const bytes = atStart().reduce((sum, file) => sum + (metafile.outputs[file]?.bytes ?? 0), 0);
    expect(bytes).toBeGreaterThan(100_000);
    expect(bytes).toBeLessThanOrEqual(startBudgetBytes);
  });

  it('holds no code of a heavy client: those load through src/clients/lazy.ts', () => {
    const packages = new Set(
      atStart().flatMap((file) =>
        Object.entries(metafile.outputs[file]?.inputs ?? {})
          .filter(([, { bytesInOutput }]) => bytesInOutput > 0)
          .flatMap(([input]) => packageOf(input) ?? []),
      ),
    );
    // The check sees packages at all: the Functions library and zod are read at start (durable-functions is not:
    // src/clients/durable.ts registers the functions and loads it on their first call).
    expect(packages).toContain('@azure/functions');
    expect(packages).toContain('zod');
    expect([...packages].filter((pkg) => NOT_AT_START.includes(pkg) || NOT_AT_START_PATTERN.test(pkg))).toEqual([]);
  });

  it('holds zod\'s English messages only, the locale the app uses: zod configures it itself, and the namespace import leaves the others out', () => {
    const locales = Object.values(metafile.outputs)
      .flatMap((output) => Object.keys(output.inputs))
      .filter((input) => /node_modules\/zod\/v4\/locales\//.test(input));
    expect(locales.sort()).toEqual(['node_modules/zod/v4/locales/en.js']);
  });

  it('keeps the names of classes whose dependencies read them, and not those of the app\'s start (scripts/package.ts namesWhereRead)', () => {
    // What keepNames writes, minified: a call of its helper in the class body, `static{x(this,"Name")}`.
    const kept = (file: string): string[] => [...readFileSync(join(copy, file), 'utf8').matchAll(/\(this,"(\w+)"\)/g)].map((m) => m[1] ?? '');
    // storage-blob tells its credential and policy factories apart by `constructor.name` (dist/esm/Pipeline.js);
    // cron-parser's messages name the field by it (dist/fields/CronField.js).
    expect(filesHolding('@azure/storage-blob').flatMap(kept)).toEqual(expect.arrayContaining(['StorageSharedKeyCredential', 'AnonymousCredential', 'StorageRetryPolicyFactory']));
    const start = atStart().map(inCopy);
    expect(start.flatMap(kept)).toEqual(expect.arrayContaining(['CronDayOfMonth', 'CronMonth', 'CronDayOfWeek']));
    // The app's own classes (src/core/schedule.ts ScheduleError) run unnamed at start, as zod's and the Functions library's.
    expect(start.flatMap(kept)).not.toContain('ScheduleError');
  });

  it('holds only the part of zod the app uses: the app imports it as a namespace, not its z object (eslint.config.js)', () => {
    const zodBytes = Object.values(metafile.outputs)
      .flatMap((output) => Object.entries(output.inputs))
      .filter(([input]) => packageOf(input) === 'zod')
      .reduce((sum, [, { bytesInOutput }]) => sum + bytesInOutput, 0);
    // 192 KB when src/ imported `{ z }`, a namespace object esbuild must keep whole; 106 KB as `* as z`.
    expect(zodBytes).toBeGreaterThan(50_000);
    expect(zodBytes).toBeLessThan(150_000);
  });

  it("wraps its CommonJS modules in function expressions, not esbuild's arrows (scripts/commonjs-functions.ts)", () => {
    const code = new Map(files.filter((f) => f.path.endsWith('.js')).map((f) => [basename(f.path), readFileSync(join(copy, f.path), 'utf8')]));
    const helperOf = helperExports(code);
    // esbuild's helper is found (else the check below would hold of any bundle), and the Functions library and
    // luxon, CommonJS modules read at start, are wrapped in it.
    expect([...code.values()].some((text) => factsOf(text).helpers.size > 0)).toBe(true);
    const start = atStart().map((file) => basename(file));
    expect(start.map((file) => code.get(file) ?? '').join('')).toMatch(/=[\w$]+\(function\([\w$]+,[\w$]+\)\{/);
    for (const [file, text] of code) expect(commonJsWrapperEdits(text, helperOf).length, file).toBe(0);
  });

  it('each lazily loaded client is a file of its own that nothing read at start imports statically', () => {
    const start = new Set(atStart());
    for (const pkg of LAZY_PACKAGES) for (const file of filesHolding(pkg)) expect(start.has(`${packageFolder}/${file}`), `${pkg}: ${file}`).toBe(false);
  });
});

describe('the Node.js floor', () => {
  it('is the highest engines floor of the bundled packages, and package.json states it', () => {
    const floors = bundledPackages(metafile, lock)
      .map((p) => /^>=\s*v?(\d+\.\d+\.\d+)$/.exec(lock.packages[p.path]?.engines?.node?.trim() ?? '')?.[1])
      .filter((floor): floor is string => floor !== undefined && floor.startsWith('22.'));
    const highest = floors.reduce((max, floor) => (atLeast(floor, max) ? floor : max), '22.0.0');
    expect(NODE_FLOOR).toBe(highest);
    expect(manifest.engines.node).toBe(`>=${NODE_FLOOR}`);
  });

  it('on an older Node 22 the package refuses to start, naming the release it needs, before loading the app', () => {
    expect(pretendingOld.status).not.toBe(0);
    expect(pretendingOld.error).toContain(`needs Node.js ${NODE_FLOOR} or later, but this worker runs Node.js 22.12.0`);
    expect(pretendingOld.registrations).toEqual([]);
    // Only the entry point (and esbuild's helpers) was read: the floor is checked before any module of the app or
    // of a dependency is.
    const read = pretendingOld.loaded.map((url) => relative(copy, fileURLToPath(url)).split(sep).join('/'));
    expect(read).toContain(bundledMain);
    const inputsRead = read.flatMap((file) =>
      Object.entries(metafile.outputs[`${packageFolder}/${file}`]?.inputs ?? {})
        .filter(([, { bytesInOutput }]) => bytesInOutput > 0)
        .map(([input]) => input),
    );
    expect(inputsRead.sort()).toEqual(['dist/src/core/node-floor.js', 'dist/src/main.js']);
  });
});
