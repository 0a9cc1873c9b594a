// Builds the folder azd zips and deploys (azure.yaml: `dist: .package`, `remoteBuild: false`): the compiled app
// bundled by esbuild with its production dependencies into a few ESM files, the console's static files beside
// them, host.json for the Durable backend azd's DURABLE_BACKEND names (scripts/durable-backend.ts), a
// package.json that names the entry point, and the licences of what was bundled (THIRD-PARTY-NOTICES.txt).
// No node_modules: the Functions host loads a handful of files instead of thousands (bench/cold-start.ts).
// Run by azd's prepackage hook after `npm ci`, and by test/package, which proves what comes out.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

import { build, type Metafile, type Plugin, transform } from 'esbuild';

import { clean } from './clean.js';
import { applyEdits, commonJsWrapperEdits, helperExports } from './commonjs-functions.js';
import { type DurableBackend, durableBackendOf, hostJsonFor } from './durable-backend.js';
import { bundledPackages, type Lockfile, packagePathOf, thirdPartyNotices } from './notices.js';
import { keepSources, type SourceMap } from './sourcemap.js';

export type { LockEntry, Lockfile } from './notices.js';

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The staging folder; azure.yaml's `dist` names it (test/package checks they agree). */
export const packageFolder = '.package';
/** The bundle's entry point inside the package, as its package.json `main` names it. */
export const bundledMain = 'dist/index.js';
export const noticesFile = 'THIRD-PARTY-NOTICES.txt';
/** esbuild's account of what went into which bundle file; written beside the build, not into the package. */
export const metafilePath = join('dist', 'bundle-metafile.json');

/**
 * The worker supplies this module at run time by answering `require('@azure/functions-core')` itself
 * (azure-functions-nodejs-worker src/setupCoreModule.ts proxies Module.prototype.require); it is not an npm
 * package, so it stays a `require` call in the bundle.
 */
export const hostProvided = ['@azure/functions-core'] as const;

/**
 * CommonJS code inside an ESM bundle still calls `require` (for Node's built-ins, and for
 * @azure/functions-core) and reads `__filename`/`__dirname`, none of which an ES module has. Each output file
 * defines them for itself, from its own URL. `require` keeps its name, which esbuild's own require helper refers
 * to (and so renames any bundled module's top-level `require`); the other two get names no bundled module
 * declares, and `define` points CommonJS code's free `__dirname`/`__filename` at them, so that an ES module that
 * declares its own `const __dirname` (the `open` package does) does not collide with the banner.
 */
export const esmBanner = [
  "import { createRequire as __bundle_createRequire } from 'node:module';",
  "import { dirname as __bundle_dirname_of } from 'node:path';",
  "import { fileURLToPath as __bundle_fileURLToPath } from 'node:url';",
  'const require = __bundle_createRequire(import.meta.url);',
  'const __bundle_filename = __bundle_fileURLToPath(import.meta.url);',
  'const __bundle_dirname = __bundle_dirname_of(__bundle_filename);',
].join('\n');

const funcignore = `# The package folder holds only what the Functions host runs (scripts/package.ts builds it), so nothing
# here needs leaving out. The file must exist: azd reads it from the folder it zips, and without one azd
# before 1.23.12 drops node_modules from a TypeScript app even with remoteBuild: false.
`;

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { cwd: projectRoot, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${String(result.status ?? result.signal)})`);
}

export function sizeOf(folder: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const entry of readdirSync(folder, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    files += 1;
    bytes += statSync(join(entry.parentPath, entry.name)).size;
  }
  return { files, bytes };
}

const RESOLVING = Symbol('resolving');

/**
 * A package the lockfile marks `dev` is not there in a production install (`npm ci --omit=dev`), so a
 * production module can only reach it in a guarded `require` (debug's optional supports-color). It stays out of
 * the bundle as it would stay out of node_modules: the import is left as it is and fails at run time, as the
 * guard expects. What is left out is returned, so the package test can see it.
 */
function leaveOutDevPackages(lock: Lockfile, leftOut: Set<string>): Plugin {
  return {
    name: 'leave-out-dev-packages',
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData === RESOLVING || args.path.startsWith('node:')) return undefined;
        const found = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: RESOLVING });
        if (found.errors.length > 0 || found.external) return undefined;
        const pkg = packagePathOf(relative(projectRoot, found.path));
        if (pkg === undefined || lock.packages[pkg]?.dev !== true) return undefined;
        leftOut.add(pkg);
        return { path: args.path, external: true };
      });
    },
  };
}

/**
 * OpenTelemetry's resource package loads a machine-id reader per platform with `import()` for its host
 * detector, which the app never runs (its resource is the service name alone), and the Azure Monitor exporter
 * brings its own copies of that package: esbuild would make a file of each reader of each copy (fifteen files of
 * the fifty the package may hold). They all become one module that finds no id, as the detector's own
 * unsupported-platform reader does.
 */
function oneMachineIdReader(): Plugin {
  return {
    name: 'one-machine-id-reader',
    setup(build) {
      build.onResolve({ filter: /^\.\/getMachineId-(darwin|linux|bsd|win|unsupported)\.m?js$/ }, (args) =>
        /[\\/]@opentelemetry[\\/]resources[\\/]/.test(args.importer) ? { path: 'getMachineId', namespace: 'no-machine-id' } : undefined,
      );
      build.onLoad({ filter: /.*/, namespace: 'no-machine-id' }, () => ({ contents: 'export async function getMachineId() { return undefined; }', loader: 'js' }));
    },
  };
}

/** esbuild's namespace of builtinsThroughRequire's modules (their sources in the maps are named by it). */
const BUILTIN_NAMESPACE = 'builtin-require';

/**
 * A CommonJS module that stands for the built-in `name` and requires it on first use: its exports are the
 * built-in's names (Node's own list, read when the bundle is built), each a getter and setter that read or write
 * the built-in's own property, so that every value the app reads is the built-in's own. esbuild's interop copies
 * the names into the importing module's object without reading them, so nothing is required until the app reads
 * one: `node:https` (with tls), `node:dns`, `node:fs/promises`, `node:timers/promises` are then read when a
 * callback is sent or a log archived, not at start, where nothing else needs them.
 */
export function lazyBuiltin(name: string): string {
  const exported = process.getBuiltinModule(name) as Record<string, unknown> | undefined;
  if (exported === undefined) throw new Error(`${name} is not one of Node's built-in modules`);
  const accessors = Object.getOwnPropertyNames(exported)
    .filter((key) => key !== 'default')
    .map((key) => {
      const k = JSON.stringify(key);
      return `get ${k}() { return builtin()[${k}]; }, set ${k}(value) { builtin()[${k}] = value; }`;
    });
  return [`let loaded;`, `const builtin = () => (loaded ??= require(${JSON.stringify(name)}));`, `module.exports = {\n  ${accessors.join(',\n  ')}\n};`].join('\n');
}

/**
 * Node's built-in modules are reached through `require` (the banner's), as the bundled CommonJS code reaches them,
 * not through ES module imports. An ES module import of a built-in makes Node build the module's ESM facade, which
 * reads every one of its exports, lazy getters included: `import http from 'node:http'` loads Node's own fetch
 * (undici), http2, zlib and worker_threads with it (http.WebSocket and friends), about 30 ms of a cold start,
 * against 5 ms for `require('node:http')`. Each built-in the app's own modules import becomes a small CommonJS
 * module (lazyBuiltin) that requires it when the app first reads one of its exports; esbuild turns the import into
 * property reads of that module, which give the same objects the facade would. The app's imports only: the
 * dependencies' ES modules that import built-ins are in the lazily loaded files.
 */
function builtinsThroughRequire(): Plugin {
  // The app's own modules, all in the file read at start but for the lazily loaded clients' re-exports: a built-in
  // imported from files of several chunks would become a small file of its own, shared by them.
  const isStartCode = (importer: string) => {
    const path = importer.split(sep).join('/');
    return path.startsWith('dist/src/') && !path.startsWith('dist/src/clients/sdk/');
  };
  return {
    name: 'builtins-through-require',
    setup(build) {
      build.onResolve({ filter: /^[a-z]/ }, (args) =>
        args.kind === 'import-statement' && isBuiltin(args.path) && isStartCode(relative(projectRoot, args.importer))
          ? { path: args.path, namespace: BUILTIN_NAMESPACE }
          : undefined,
      );
      build.onLoad({ filter: /.*/, namespace: BUILTIN_NAMESPACE }, (args) => ({ contents: lazyBuiltin(args.path), loader: 'js' }));
    },
  };
}

/**
 * The packages a new instance evaluates at start (the app's file, scripts/package.ts startFiles) whose code reads
 * no function's or class's `name` to decide or say anything: their functions and classes may be renamed by the
 * minifier. Each was searched for `constructor.name`, `new.target.name` and a function's `.name` (zod names its
 * classes itself, `$constructor` in zod/v4/core/core.js; its `util.getParsedType` reads the constructor name of
 * the data parsed, which minifying the bundle does not touch). cron-parser is not here: its field classes' names
 * are in its messages (`${this.constructor.name} Validation error, ...`), which src/core/schedule.ts passes on.
 */
const NAMES_UNUSED = ['zod', 'luxon', 'cronstrue', 'cookie', '@azure/functions', '@azure/functions-extensions-base', '@opentelemetry/api', '@opentelemetry/api-logs', '@kubernetes/client-node'];

/**
 * esbuild's `keepNames` for the dependencies that may need it, not the whole bundle. Minified, a class or function
 * loses its name unless `keepNames` restores it with a call (`__name(fn, "name")`) run when the code defining it
 * runs: about 11 ms of a start for the app's own code and the packages of NAMES_UNUSED, which never read a name.
 * Every other dependency's file (storage-blob matches credential classes by `constructor.name`, jose and
 * openid-client name their errors by it, cron-parser its messages) goes through esbuild's `transform` with
 * `keepNames` before it is bundled, which writes those calls into the file itself, so its names survive the
 * minifier as before; the app's sources (dist/src) name nothing by a constructor's name either (the package test
 * checks that cron-parser's messages still name their field).
 */
function namesWhereRead(): Plugin {
  const unused = new RegExp(`[\\\\/]node_modules[\\\\/](${NAMES_UNUSED.map((name) => name.replace('/', '[\\\\/]')).join('|')})[\\\\/]`);
  return {
    name: 'names-where-read',
    setup(build) {
      build.onLoad({ filter: /[\\/]node_modules[\\/].*\.[cm]?js$/ }, async (args) => {
        if (unused.test(args.path)) return undefined;
        const source = await readFile(args.path, 'utf8');
        const { code } = await transform(source, { loader: 'js', keepNames: true, sourcefile: args.path });
        return { contents: code, loader: 'js' };
      });
    },
  };
}

/**
 * Bundle the compiled entry point (tsc's output, so what is bundled is what the type checker passed) into
 * `outdir`: ESM for Node 22, split where the app imports lazily (the heavy clients of src/clients/lazy.ts each
 * become a file of their own, loaded on first use), with source maps that chain to the TypeScript sources through tsc's maps.
 */
export async function bundle(entry: string, outdir: string, lock: Lockfile): Promise<{ metafile: Metafile; leftOut: string[] }> {
  const leftOut = new Set<string>();
  const result = await build({
    entryPoints: { index: entry },
    outdir,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    splitting: true,
    chunkNames: '[name]-[hash]',
    external: [...hostProvided],
    sourcemap: 'linked',
    sourcesContent: false,
    // Metafile paths relative to the repository, where the lockfile's package paths are.
    absWorkingDir: projectRoot,
    banner: { js: esmBanner },
    define: { __dirname: '__bundle_dirname', __filename: '__bundle_filename' },
    legalComments: 'eof',
    minify: true,
    // Names kept where a dependency reads them (namesWhereRead), not in the app's start file.
    keepNames: false,
    metafile: true,
    logLevel: 'warning',
    plugins: [builtinsThroughRequire(), leaveOutDevPackages(lock, leftOut), oneMachineIdReader(), namesWhereRead()],
  });
  commonJsAsFunctions(outdir, result.metafile);
  return { metafile: result.metafile, leftOut: [...leftOut].sort() };
}

/**
 * Every CommonJS module's wrapper in the bundle in `outdir` becomes a function expression instead of esbuild's
 * arrow (scripts/commonjs-functions.ts says why), its map moved to match and the metafile's sizes with it.
 */
function commonJsAsFunctions(outdir: string, metafile: Metafile): void {
  const files = readdirSync(outdir).filter((file) => file.endsWith('.js'));
  const code = new Map(files.map((file) => [file, readFileSync(join(outdir, file), 'utf8')]));
  const helperOf = helperExports(code);
  for (const file of files) {
    const text = code.get(file) ?? '';
    const edits = commonJsWrapperEdits(text, helperOf);
    if (edits.length === 0) continue;
    const mapFile = join(outdir, `${file}.map`);
    const map = existsSync(mapFile) ? (JSON.parse(readFileSync(mapFile, 'utf8')) as SourceMap) : undefined;
    const edited = applyEdits(text, edits, map);
    writeFileSync(join(outdir, file), edited.code);
    if (edited.map) writeFileSync(mapFile, JSON.stringify(edited.map));
    const output = metafile.outputs[relative(projectRoot, join(outdir, file)).split(sep).join('/')];
    if (output) output.bytes = Buffer.byteLength(edited.code);
  }
}

/**
 * What the files read at start (startFiles) may weigh, in bytes: 1.55 MB when the Kubernetes and Azure clients
 * became lazy, 0.77 MB once durable-functions (with axios) loaded on first call and zod's locales were left out,
 * 0.62 MB once zod was imported as a namespace, and room for the app's own growth, not for another SDK. The
 * package test holds the bundle to it; a client that would break it belongs in src/clients/lazy.ts.
 */
export const startBudgetBytes = 1_000_000;

/** The compiled entry point and the app it imports (src/main.ts's `import('./index.js')`), as the metafile names them. */
const ENTRY_INPUT = 'dist/src/main.js';
const APP_INPUT = 'dist/src/index.js';

/**
 * The bundle files a new instance reads before every function is registered: the entry point, the app's file
 * (the entry imports it dynamically, right away) and every file they import statically, as esbuild's metafile
 * records them (paths as its outputs name them). Files reached only by a dynamic import elsewhere, the lazily
 * loaded clients (src/clients/lazy.ts), are not among them.
 */
export function startFiles(metafile: Metafile): string[] {
  const roots = Object.entries(metafile.outputs)
    .filter(([, output]) => output.entryPoint === ENTRY_INPUT || output.entryPoint === APP_INPUT)
    .map(([file]) => file);
  if (roots.length !== 2) throw new Error(`the metafile names ${String(roots.length)} files for ${ENTRY_INPUT} and ${APP_INPUT}, not 2`);
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const imported of metafile.outputs[file]?.imports ?? []) if (!imported.external && imported.kind === 'import-statement') visit(imported.path);
  };
  for (const root of roots) visit(root);
  return [...seen].sort();
}

/**
 * A source of the app's own: a file under the repository's `src/`, as the map in `mapFolder` names it (relative to
 * the map). Not a bundled dependency's, whether esbuild names it by its path in node_modules or by a URL the
 * dependency's own map gave it (@azure/functions, built by webpack, names its sources `webpack://...`), nor a
 * plugin's module (`builtin-require:node:http`, `no-machine-id:getMachineId`).
 */
export function isAppSource(source: string, mapFolder: string): boolean {
  if (/^[a-z][a-z0-9+.-]+:/i.test(source)) return false;
  const path = relative(join(projectRoot, 'src'), resolve(mapFolder, source));
  return path !== '' && !path.startsWith('..') && !isAbsolute(path) && !path.split(sep).includes('node_modules');
}

/**
 * Cut every map in `outdir` down to the app's own sources (scripts/sourcemap.ts says why). A file with none
 * of them loses its map and the comment that links it.
 */
export function trimSourceMaps(outdir: string): void {
  for (const file of readdirSync(outdir)) {
    if (!file.endsWith('.js')) continue;
    const mapFile = join(outdir, `${file}.map`);
    if (!existsSync(mapFile)) continue;
    const map = keepSources(JSON.parse(readFileSync(mapFile, 'utf8')) as SourceMap, (source) => isAppSource(source, outdir));
    if (map.sources.length > 0) {
      writeFileSync(mapFile, JSON.stringify(map));
      continue;
    }
    rmSync(mapFile);
    const code = readFileSync(join(outdir, file), 'utf8');
    writeFileSync(join(outdir, file), code.replace(`//# sourceMappingURL=${file}.map\n`, ''));
  }
}

export async function buildPackage(backend: DurableBackend = durableBackendOf(process.env)): Promise<string> {
  const out = join(projectRoot, packageFolder);
  rmSync(out, { recursive: true, force: true });

  // A fresh dist/: a file left by a source since deleted would otherwise be bundled.
  clean(projectRoot);
  run('npm', ['run', '--silent', 'build']);

  const lock = JSON.parse(readFileSync(join(projectRoot, 'package-lock.json'), 'utf8')) as Lockfile;
  const { metafile } = await bundle(join(projectRoot, 'dist', 'src', 'main.js'), join(out, dirname(bundledMain)), lock);
  trimSourceMaps(join(out, dirname(bundledMain)));
  writeFileSync(join(projectRoot, metafilePath), JSON.stringify(metafile));
  // The console's static files, where src/http/console.ts looks for them beside the bundle.
  cpSync(join(projectRoot, 'dist', 'console'), join(out, dirname(bundledMain), 'console'), { recursive: true });
  writeFileSync(join(out, 'host.json'), hostJsonFor(backend, readFileSync(join(projectRoot, 'host.json'), 'utf8')));

  const manifest = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as Record<string, unknown>;
  const { name, version, description, private: isPrivate, type, engines } = manifest;
  // No dependencies: everything but the host's own module is inside the bundle.
  writeFileSync(
    join(out, 'package.json'),
    `${JSON.stringify({ name, version, description, private: isPrivate, type, main: bundledMain, engines }, null, 2)}\n`,
  );

  const packages = bundledPackages(metafile, lock);
  writeFileSync(join(out, noticesFile), thirdPartyNotices(packages, projectRoot));
  writeFileSync(join(out, '.funcignore'), funcignore);
  return out;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const backend = durableBackendOf(process.env);
  const out = await buildPackage(backend);
  const { files, bytes } = sizeOf(out);
  const where = relative(projectRoot, out) || basename(out);
  const entry = join(out, bundledMain);
  if (!existsSync(entry)) throw new Error(`the bundle has no ${bundledMain}`);
  console.log(`${where}${sep}: ${String(files)} files, ${(bytes / 1e6).toFixed(1)} MB unpacked, Durable backend ${backend}`);
}
