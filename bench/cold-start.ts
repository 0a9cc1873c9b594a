/**
 * Cold start: `npm run bench:cold-start`. What a new Functions instance reads and runs before it can answer,
 * for the deployment package as it was (dist/ from tsc beside node_modules with the lockfile's production
 * packages, as npm lays them out) and as `npm run package` builds it now (the esbuild bundle), side by side in
 * one run:
 *
 * - module load time: package.json `main` loaded by a fresh Node (test/package/load-main.cjs: the worker's
 *   module stand-in, every function registered), median and max over RUNS processes per layout, the layouts
 *   taking turns so both see the same machine load
 * - the CPU time (user + system) of the load, median: less sensitive than wall time to the load of a shared machine
 * - RSS once loaded (median)
 * - the first request that needs the Kubernetes client (GET /api/cronjobs/{namespace}/{name} through the getCronJob
 *   function against an API server on loopback that answers 404): clients are loaded on first use
 *   (src/clients/lazy.ts), so that request pays for loading client-node; the median of its duration, of the
 *   later requests', and the difference, which is what lazy loading moved from the start to that request
 * - what the bundle reads at start (the entry, the app's file and what they import; esbuild's metafile)
 * - files and bytes unpacked, and the size of the zip azd would upload (each file deflated, plus the zip
 *   format's headers: local 30 + name, central 46 + name, Go's data descriptor 16, end record 22)
 *
 * COLD_START_BASELINE=<folder>[,<folder>...] adds a column for each: another deployment package (named by its
 * folder), loaded in turn with the two, say one built by `npm run package` from an earlier commit, to see what a
 * change did at the same machine load.
 *
 * Goals (issue 25): load time at most a third of the unbundled layout's, under 10 MB unpacked, under 50 files,
 * RSS no higher.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { deflateRawSync } from 'node:zlib';

import type { Metafile } from 'esbuild';

import type { Lockfile } from '../scripts/notices.js';
import { metafilePath, packageFolder, projectRoot, startFiles } from '../scripts/package.js';

const RUNS = Number(process.env.COLD_START_RUNS ?? 11);
const BASELINES = (process.env.COLD_START_BASELINE ?? '').split(',').filter((folder) => folder !== '');
const NODE = join(projectRoot, 'node_modules', '.bin', 'node');
const LOADER = join(projectRoot, 'test', 'package', 'load-main.cjs');
/** What the unbundled package left out of dependencies: files no Node process loads. */
const NEVER_LOADED = /(\.d\.[cm]?ts|\.[cm]?ts|\.map|\.md|\.markdown|\.bare)$/i;

interface Layout {
  name: string;
  folder: string;
  loadMs: number[];
  /** CPU time (user + system) of the load, per process. */
  loadCpuMs: number[];
  rssBytes: number[];
  /** The first request that needs client-node, and the two after it (together), per process. */
  firstMs: number[];
  laterMs: number[];
  rssAfterBytes: number[];
}

interface FirstRequest {
  requests: { ms: number; status: number; read: string[] }[];
  served: number;
}

function files(folder: string): string[] {
  return readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

/** The package as `npm run package` built it before the bundle: dist/, host.json, package.json, node_modules. */
function unbundledLayout(out: string): void {
  cpSync(join(projectRoot, 'dist'), join(out, 'dist'), { recursive: true, filter: (source) => !source.endsWith('bundle-metafile.json') });
  cpSync(join(projectRoot, packageFolder, 'host.json'), join(out, 'host.json'));
  const manifest = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as Record<string, unknown>;
  const { name, version, type, main, engines, dependencies } = manifest;
  writeFileSync(join(out, 'package.json'), JSON.stringify({ name, version, type, main, engines, dependencies }, null, 2));
  const lock = JSON.parse(readFileSync(join(projectRoot, 'package-lock.json'), 'utf8')) as Lockfile;
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || entry.dev === true || !existsSync(join(projectRoot, path))) continue;
    const nested = join(projectRoot, path, 'node_modules');
    cpSync(join(projectRoot, path), join(out, path), {
      recursive: true,
      dereference: true,
      filter: (source) => source !== nested && !(NEVER_LOADED.test(source) && statSync(source).isFile()),
    });
  }
}

function zippedBytes(folder: string): number {
  let total = 22;
  for (const file of files(folder)) {
    const name = Buffer.byteLength(relative(folder, file));
    const data = readFileSync(file);
    total += 30 + 46 + 16 + 2 * name + Math.min(deflateRawSync(data, { level: 6 }).length, data.length);
  }
  return total;
}

function loadOnce(layout: Layout, work: string): void {
  const out = join(work, `${layout.name}.json`);
  const child = spawnSync(NODE, [LOADER, out, 'first-request'], {
    cwd: layout.folder,
    encoding: 'utf8',
    env: {
      PATH: dirname(NODE),
      HOME: work,
      CLUSTERS: JSON.stringify([{ alias: 'prod', type: 'aks', subscriptionId: '00000000-0000-4000-8000-000000000001', resourceGroup: 'rg', clusterName: 'aks', namespaces: ['batch'] }]),
    },
  });
  if (child.status !== 0) throw new Error(`${layout.name} did not load:\n${child.stderr}`);
  const result = JSON.parse(readFileSync(out, 'utf8')) as { loadMs: number; loadCpuMs: number; rssBytes: number; registrations: unknown[]; firstRequest: FirstRequest; rssAfterRequestsBytes: number };
  if (result.registrations.length === 0) throw new Error(`${layout.name} registered nothing`);
  const { requests, served } = result.firstRequest;
  // Every request reached the API server and came back as the 404 it answered: the client really worked.
  if (served !== requests.length || requests.some((r) => r.status !== 404)) throw new Error(`${layout.name}: the first requests failed: ${JSON.stringify(result.firstRequest)}`);
  layout.loadMs.push(result.loadMs);
  layout.loadCpuMs.push(result.loadCpuMs);
  layout.rssBytes.push(result.rssBytes);
  const [first, ...later] = requests;
  layout.firstMs.push(first?.ms ?? NaN);
  layout.laterMs.push(...later.map((r) => r.ms));
  layout.rssAfterBytes.push(result.rssAfterRequestsBytes);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

const built = spawnSync('npm', ['run', '--silent', 'package'], { cwd: projectRoot, encoding: 'utf8', shell: process.platform === 'win32' });
if (built.status !== 0) throw new Error(`npm run package failed:\n${built.stdout}\n${built.stderr}`);
const work = mkdtempSync(join(tmpdir(), 'cold-start-'));
try {
  const fresh = (name: string): Layout => ({ name, folder: join(work, name), loadMs: [], loadCpuMs: [], rssBytes: [], firstMs: [], laterMs: [], rssAfterBytes: [] });
  const unbundled = fresh('unbundled');
  const bundled = fresh('bundled');
  mkdirSync(unbundled.folder);
  unbundledLayout(unbundled.folder);
  cpSync(join(projectRoot, packageFolder), bundled.folder, { recursive: true });
  const loadBefore = loadavg();
  const layouts = [unbundled, bundled];
  for (const folder of BASELINES) {
    const baseline = fresh(basename(folder));
    cpSync(folder, baseline.folder, { recursive: true });
    layouts.push(baseline);
  }
  // Each layout first, middle and last in turn, so that all see the same machine load.
  for (let i = 0; i < RUNS; i++) for (let j = 0; j < layouts.length; j++) loadOnce(layouts[(i + j) % layouts.length] as Layout, work);

  const rows: [string, (l: Layout) => string][] = [
    [`load time, median of ${String(RUNS)} processes`, (l) => `${median(l.loadMs).toFixed(0)} ms`],
    [`load time, max of ${String(RUNS)} processes`, (l) => `${Math.max(...l.loadMs).toFixed(0)} ms`],
    ['load CPU (user+sys), median', (l) => `${median(l.loadCpuMs).toFixed(0)} ms`],
    ['RSS after load, median', (l) => `${(median(l.rssBytes) / 2 ** 20).toFixed(0)} MiB`],
    ['first request needing client-node', (l) => `${median(l.firstMs).toFixed(0)} ms`],
    ['later requests, median', (l) => `${median(l.laterMs).toFixed(0)} ms`],
    ['first request: extra cost, median', (l) => `${median(l.firstMs.map((ms, i) => ms - median(l.laterMs.slice(2 * i, 2 * i + 2)))).toFixed(0)} ms`],
    ['load + first request, median', (l) => `${median(l.loadMs.map((ms, i) => ms + (l.firstMs[i] ?? NaN))).toFixed(0)} ms`],
    ['RSS after the requests, median', (l) => `${(median(l.rssAfterBytes) / 2 ** 20).toFixed(0)} MiB`],
    ['files', (l) => String(files(l.folder).length)],
    ['unpacked', (l) => `${(files(l.folder).reduce((s, f) => s + statSync(f).size, 0) / 1e6).toFixed(1)} MB`],
    ['zipped (as azd uploads it)', (l) => `${(zippedBytes(l.folder) / 1e6).toFixed(1)} MB`],
  ];
  const metafile = JSON.parse(readFileSync(join(projectRoot, metafilePath), 'utf8')) as Metafile;
  const atStart = startFiles(metafile);
  const startBytes = atStart.reduce((sum, file) => sum + (metafile.outputs[file]?.bytes ?? 0), 0);
  console.log(`cold start of the deployment package (Node ${process.versions.node} loader: ${NODE}; machine load average ${loadBefore.map((l) => l.toFixed(1)).join(' ')} before, ${loadavg().map((l) => l.toFixed(1)).join(' ')} after)`);
  console.log(`the bundle reads ${String(atStart.length)} files at start, ${(startBytes / 1e6).toFixed(2)} MB: ${atStart.map((f) => f.split('/').pop() ?? f).join(', ')}`);
  const width = Math.max(12, ...layouts.map((l) => l.name.length));
  console.log(`${''.padEnd(34)} ${layouts.map((l) => l.name.padStart(width)).join(' ')}`);
  for (const [label, value] of rows) console.log(`${label.padEnd(34)} ${layouts.map((l) => value(l).padStart(width)).join(' ')}`);
  for (const folder of BASELINES) console.log(`${basename(folder)}: ${folder}`);
  const ratio = median(bundled.loadMs) / median(unbundled.loadMs);
  const bundledBytes = files(bundled.folder).reduce((s, f) => s + statSync(f).size, 0);
  console.log('goals:');
  console.log(`  load time <= 1/3 of unbundled: ${ratio.toFixed(2)} of it (${ratio <= 1 / 3 ? 'met' : 'not met'})`);
  const cpuRatio = median(bundled.loadCpuMs) / median(unbundled.loadCpuMs);
  console.log(`  (load CPU time: ${cpuRatio.toFixed(2)} of the unbundled layout's; max: ${(Math.max(...bundled.loadMs) / Math.max(...unbundled.loadMs)).toFixed(2)})`);
  console.log(`  < 10 MB unpacked: ${(bundledBytes / 1e6).toFixed(1)} MB (${bundledBytes < 10e6 ? 'met' : 'not met'})`);
  console.log(`  < 50 files: ${String(files(bundled.folder).length)} (${files(bundled.folder).length < 50 ? 'met' : 'not met'})`);
  console.log(`  RSS no higher: ${median(bundled.rssBytes) <= median(unbundled.rssBytes) ? 'met' : 'not met'}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
