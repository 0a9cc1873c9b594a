// Builds the folder azd zips and deploys (azure.yaml: `dist: .package`, `remoteBuild: false`): the compiled app
// (everything under dist/), host.json for the Durable backend azd's DURABLE_BACKEND names (scripts/durable-backend.ts),
// a package.json without the development parts, and the production dependencies the lockfile names, copied from
// the installed node_modules without the files Node never loads.
// Run by azd's prepackage hook after `npm ci`, and by test/package, which proves what comes out.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

import { type DurableBackend, durableBackendOf, hostJsonFor } from './durable-backend.js';

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The staging folder; azure.yaml's `dist` names it (test/package checks they agree). */
export const packageFolder = '.package';

export interface LockEntry {
  version?: string;
  dev?: boolean;
  optional?: boolean;
  link?: boolean;
}

export interface Lockfile {
  lockfileVersion: number;
  packages: Record<string, LockEntry>;
}

/**
 * Files inside dependencies that no Node process loads: type declarations, source maps, TypeScript sources
 * (Node never strips types under node_modules), Markdown, and addons of the Bare runtime (only its `bare`
 * import condition reaches them). Together they are more than half of the production tree.
 */
const neverLoaded = /(\.d\.[cm]?ts|\.[cm]?ts|\.map|\.md|\.markdown|\.bare)$/i;

const funcignore = `# The package folder holds only what the Functions host runs (scripts/package.ts builds it), so nothing
# here needs leaving out. The file must exist: azd reads it from the folder it zips, and without one azd
# before 1.23.12 drops node_modules from a TypeScript app even with remoteBuild: false.
`;

/** The production dependencies as `npm ci --omit=dev` would lay them out: every lockfile path not marked dev. */
export function productionPaths(lock: Lockfile): { path: string; entry: LockEntry }[] {
  if (lock.lockfileVersion < 2) throw new Error('package-lock.json must be lockfileVersion 2 or later (npm 7+)');
  return Object.entries(lock.packages)
    .filter(([path, entry]) => path !== '' && entry.dev !== true)
    .map(([path, entry]) => ({ path, entry }));
}

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { cwd: projectRoot, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${String(result.status ?? result.signal)})`);
}

function copyDependency(path: string, entry: LockEntry, out: string): void {
  const from = join(projectRoot, path);
  if (entry.link === true) throw new Error(`${path} is a link (a workspace?): the package cannot carry it`);
  if (!existsSync(from)) {
    // Optional packages for other platforms are in the lockfile but not installed; npm skips them too.
    if (entry.optional === true) return;
    throw new Error(`${path} is in package-lock.json but not installed: run npm ci first`);
  }
  const installed = (JSON.parse(readFileSync(join(from, 'package.json'), 'utf8')) as { version?: string }).version;
  if (installed !== entry.version) {
    throw new Error(`${path} is ${String(installed)} but package-lock.json says ${String(entry.version)}: run npm ci first`);
  }
  const nested = join(from, 'node_modules');
  cpSync(from, join(out, path), {
    recursive: true,
    dereference: true,
    // Nested node_modules are lockfile entries of their own (and hold .bin links); they are copied as such.
    filter: (source) => source !== nested && !(neverLoaded.test(source) && statSync(source).isFile()),
  });
}

function sizeOf(folder: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const entry of readdirSync(folder, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    files += 1;
    bytes += statSync(join(entry.parentPath, entry.name)).size;
  }
  return { files, bytes };
}

export function buildPackage(backend: DurableBackend = durableBackendOf(process.env)): string {
  const out = join(projectRoot, packageFolder);
  rmSync(out, { recursive: true, force: true });

  // A fresh dist/: a file left by a source since deleted would otherwise be deployed. Everything the build
  // writes under dist/ is shipped (compiled code, and any static files a later build step adds there).
  run('npm', ['run', '--silent', 'clean']);
  run('npm', ['run', '--silent', 'build']);
  cpSync(join(projectRoot, 'dist'), join(out, 'dist'), { recursive: true });
  writeFileSync(join(out, 'host.json'), hostJsonFor(backend, readFileSync(join(projectRoot, 'host.json'), 'utf8')));

  const manifest = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as Record<string, unknown>;
  const { name, version, description, private: isPrivate, type, main, engines, dependencies } = manifest;
  writeFileSync(
    join(out, 'package.json'),
    `${JSON.stringify({ name, version, description, private: isPrivate, type, main, engines, dependencies }, null, 2)}\n`,
  );

  const lock = JSON.parse(readFileSync(join(projectRoot, 'package-lock.json'), 'utf8')) as Lockfile;
  for (const { path, entry } of productionPaths(lock)) copyDependency(path, entry, out);

  writeFileSync(join(out, '.funcignore'), funcignore);
  return out;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const backend = durableBackendOf(process.env);
  const out = buildPackage(backend);
  const { files, bytes } = sizeOf(out);
  const where = relative(projectRoot, out) || basename(out);
  console.log(`${where}${sep}: ${String(files)} files, ${(bytes / 1e6).toFixed(1)} MB unpacked, Durable backend ${backend}`);
}
