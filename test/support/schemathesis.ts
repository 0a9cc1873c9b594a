import { execFileSync, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Runs Schemathesis (the OpenAPI fuzzer that scripts/schemathesis installs) against an app on loopback and
 * reads back what it did: its JSON run report, its JUnit XML (one test case per operation it tested) and its
 * HAR (every request and answer).
 */

const SCRIPT = join(import.meta.dirname, '../../scripts/schemathesis');

/** The `st` binary, installed into the cache first if it is not there yet (about 15 s, once). */
export function schemathesisBinary(): string {
  return execFileSync('bash', [SCRIPT, 'install'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Throws unless `url` is plain HTTP to this machine: the fuzzer sends hostile input and must reach nothing else. */
export function assertLoopback(url: string): URL {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' || !LOOPBACK_HOSTS.has(parsed.hostname)) throw new Error(`the fuzzer only targets http on loopback, not ${url}`);
  return parsed;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** Every operation of an OpenAPI document, as Schemathesis labels it: `GET /jobs/{namespace}/{name}/runs`. */
export function documentOperations(doc: unknown): string[] {
  const paths = (doc as { paths?: Record<string, Record<string, unknown>> }).paths ?? {};
  return Object.entries(paths).flatMap(([path, item]) => METHODS.filter((m) => m in item).map((m) => `${m.toUpperCase()} ${path}`));
}

/**
 * The document operation a recorded request was for (`GET /runs/{runId}`), or undefined for one no operation
 * takes (Schemathesis also tries methods and paths the document lacks). Literal paths win over templates.
 */
export function operationOf(operations: string[], baseUrl: string, method: string, url: string): string | undefined {
  if (!url.startsWith(`${baseUrl}/`)) return undefined;
  const path = url.slice(baseUrl.length).split('?')[0] ?? '';
  const candidates = operations.filter((op) => op.startsWith(`${method.toUpperCase()} `));
  const matches = (op: string) => {
    const template = op.slice(op.indexOf(' ') + 1);
    const source = template.split('/').map((segment) => (/^\{[^}]+\}$/.test(segment) ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/');
    return new RegExp(`^${source}$`).test(path);
  };
  return candidates.find((op) => !op.includes('{') && matches(op)) ?? candidates.find(matches);
}

/** Every `$ref` of a document that points outside it (Schemathesis would fetch it). */
export function externalRefs(doc: unknown): string[] {
  const found: string[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (value !== null && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) {
        if ((key === '$ref' || key === 'externalValue') && typeof inner === 'string' && !inner.startsWith('#')) found.push(inner);
        else walk(inner);
      }
    }
  };
  walk(doc);
  return found;
}

export interface JunitCase {
  /** The operation, `GET /runs/{runId}`. */
  name: string;
  failed: boolean;
  /** Not tested (no case could be generated, or the run stopped first). */
  skipped: boolean;
}

const XML_ENTITIES: Record<string, string> = { '&quot;': '"', '&apos;': "'", '&lt;': '<', '&gt;': '>', '&amp;': '&' };

/** The test cases of Schemathesis' JUnit XML: one per operation, failed when a check failed or an error came. */
export function parseJunit(xml: string): JunitCase[] {
  const cases: JunitCase[] = [];
  for (const match of xml.matchAll(/<testcase\b[^>]*\bname="([^"]*)"[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const name = (match[1] ?? '').replace(/&(quot|apos|lt|gt|amp);/g, (entity) => XML_ENTITIES[entity] ?? entity);
    const body = match[3] ?? '';
    cases.push({ name, failed: /<(failure|error)\b/.test(body), skipped: /<skipped\b/.test(body) });
  }
  return cases;
}

export interface HarEntry {
  request: { method: string; url: string };
  /** status 0: no answer came (a timeout or a dropped connection). */
  response: { status: number; headers: { name: string; value: string }[]; content: { mimeType?: string; text?: string } };
  /** Milliseconds until the answer. */
  time: number;
}

export function header(entry: HarEntry, name: string): string | undefined {
  return entry.response.headers.find((h) => h.name.toLowerCase() === name.toLowerCase())?.value;
}

/**
 * A run's status route answers 424 with the run's own snapshot for a Failed or Cancelled run (src/api/routes.ts:
 * getRun's answers), a verdict rather than an error of the request: application/json by design.
 */
function runVerdict(entry: HarEntry): boolean {
  const path = new URL(entry.request.url).pathname;
  return entry.request.method === 'GET' && entry.response.status === 424 && /^\/api\/runs\/[^/]+$/.test(path);
}

/** The requests whose answer is an error (or never came) without an application/problem+json body. */
export function errorsWithoutProblemJson(entries: HarEntry[]): string[] {
  return entries
    .filter((e) => e.response.status === 0 || e.response.status >= 400)
    .filter((e) => !runVerdict(e))
    .filter((e) => {
      const type = (header(e, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase();
      if (type !== 'application/problem+json') return true;
      try {
        const body = JSON.parse(e.response.content.text ?? '') as { status?: unknown; title?: unknown };
        return body.status !== e.response.status || typeof body.title !== 'string';
      } catch {
        return true;
      }
    })
    .map((e) => `${e.request.method} ${e.request.url} → ${e.response.status || 'no answer'} ${header(e, 'content-type') ?? '(no Content-Type)'}`);
}

/** What Schemathesis' JSON run report (`--report json`) says of the run, the parts the test reads. */
export interface RunReport {
  seed: number | null;
  running_time: number;
  stop_reason: string;
  complete: boolean;
  exit_code: number;
  operations: { total: number; selected: number; tested: number; errored: number; skipped: number } | null;
  test_cases: { generated: number; with_failures: number; unique_failures: number; errored: number };
  failures: { code: string; title: string; count: number; operations: string[] }[];
  errors: { title: string; count: number }[];
  /** Each warning's name, with the operations (or config entries) it is about. */
  warnings: Record<string, string[]>;
}

export interface FuzzOptions {
  /** The `st` binary (schemathesisBinary()). */
  st: string;
  /** Where the document is served, `http://127.0.0.1:<port>/api/openapi.json`. */
  schemaUrl: string;
  /** The base URL every request goes to, whatever the document's `servers` say. */
  baseUrl: string;
  /** Sent with every request (the function key). */
  headers: Record<string, string>;
  checks: string[];
  maxExamples: number;
  seed: number;
  workers: number;
  /** A request without an answer by then is an error: the app hangs. */
  requestTimeoutSeconds: number;
  /** An answer slower than this fails the run (check max_response_time). */
  maxResponseTimeSeconds: number;
  /** The whole run's bound: past it Schemathesis is interrupted (SIGINT, then SIGKILL 15 s later). */
  budgetMs: number;
  /** schemathesis.toml text (dictionaries, parameters, per-operation settings). */
  config: string;
  /** A scratch dir for the config, the reports and Schemathesis' own caches. */
  dir: string;
}

export interface FuzzRun {
  /** The command line as run, to repeat it by hand. */
  command: string;
  exitCode: number | null;
  /** True when the budget ran out before Schemathesis finished. */
  overran: boolean;
  /** Schemathesis' terminal output: its summary, and per failure the answer and a curl line to reproduce it. */
  output: string;
  elapsedMs: number;
  report: RunReport | undefined;
  junit: JunitCase[];
  har: HarEntry[];
}

const PROXY_VARIABLES = ['HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'all_proxy'];

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Runs Schemathesis once, bounded by `budgetMs`, and reads its reports. Never throws for a failed run. */
export async function fuzz(o: FuzzOptions): Promise<FuzzRun> {
  assertLoopback(o.schemaUrl);
  assertLoopback(o.baseUrl);
  const configPath = join(o.dir, 'schemathesis.toml');
  await writeFile(configPath, o.config);
  const reports = { junit: join(o.dir, 'junit.xml'), har: join(o.dir, 'har.json'), json: join(o.dir, 'report.json') };
  const args = [
    '--config-file', configPath,
    'run', o.schemaUrl,
    '--url', o.baseUrl,
    // Schemathesis leaves out the operation that served the document unless a filter names it: this one
    // names every operation, so GET /openapi.json is fuzzed like the rest.
    '--include-path-regex', '.',
    ...Object.entries(o.headers).flatMap(([name, value]) => ['-H', `${name}: ${value}`]),
    '--checks', o.checks.join(','),
    '--max-examples', String(o.maxExamples),
    '--seed', String(o.seed),
    '--workers', String(o.workers),
    '--request-timeout', String(o.requestTimeoutSeconds),
    '--max-response-time', String(o.maxResponseTimeSeconds),
    // A redirect could lead the fuzzer off loopback; the API answers none.
    '--max-redirects', '0',
    // Earlier runs' failures are not replayed first: a seed alone decides the cases.
    '--generation-database', 'none',
    '--report', 'junit,har,json',
    '--report-junit-path', reports.junit,
    '--report-har-path', reports.har,
    '--report-json-path', reports.json,
    '--no-color',
  ];
  const env: NodeJS.ProcessEnv = { ...process.env, NO_PROXY: '*', no_proxy: '*', COLUMNS: '120' };
  for (const name of PROXY_VARIABLES) env[name] = undefined;
  const started = Date.now();
  const child = spawn(o.st, args, { cwd: o.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let overran = false;
  let killer: NodeJS.Timeout | undefined;
  const budget = setTimeout(() => {
    overran = true;
    child.kill('SIGINT');
    killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  }, o.budgetMs);
  const exitCode = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(budget);
  clearTimeout(killer);
  const elapsedMs = Date.now() - started;
  const json = await readOptional(reports.json);
  const junit = await readOptional(reports.junit);
  const har = await readOptional(reports.har);
  return {
    command: [o.st, ...args].map(quote).join(' '),
    exitCode,
    overran,
    output,
    elapsedMs,
    report: json === undefined ? undefined : (JSON.parse(json) as RunReport),
    junit: junit === undefined ? [] : parseJunit(junit),
    har: har === undefined ? [] : (JSON.parse(har) as { log: { entries: HarEntry[] } }).log.entries,
  };
}
