import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import azureFunctions, { type HttpResponseInit } from '@azure/functions';

import { LocalDurable } from '../durable/runtime.js';
import { type HttpFunction, loadApp } from './app.js';
import { startDurableHttpApi } from './durable-http.js';
import { refuseUnlessLoopback } from './loopback.js';
import { runLogHooks } from './registrations.js';
import { startTimers } from './timers.js';

// @azure/functions is CommonJS whose classes Node's ESM loader cannot see as named exports.
const { HttpRequest, HttpResponse, InvocationContext } = azureFunctions;

export interface LocalAppOptions {
  /** 0 picks a free port. Always bound to 127.0.0.1. */
  port?: number;
  /** The key `function`-level routes require (`?code=` or `x-functions-key`); random when absent. */
  functionKey?: string;
  /** A host key: the host accepts it on every `function`-level route too; random when absent. */
  hostKey?: string;
  /** The master key: accepted on `function`- and `admin`-level routes, as the host does; random when absent. */
  masterKey?: string;
  /** The host refuses larger bodies with 413 (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, 100 MB by default). */
  maxBodyBytes?: number;
  /** Where orchestration state is kept, so a restart resumes runs; in memory when absent. */
  stateDir?: string;
  /**
   * Development only: the key written into the console's page (a meta tag), so a person on this machine is not
   * asked for it. The app itself never reveals a key; only this local host does, when told to.
   */
  consoleKey?: string;
  log?: (line: string) => void;
  /** Fire timer functions on the real clock (default true); tests that drive ticks themselves turn it off. */
  timersOnClock?: boolean;
  /**
   * Load the app from this entry point (a deployment bundle's `main`) instead of the repository's src/index.ts.
   * Its functions with a Durable client binding then reach LocalDurable over the Durable HTTP API, through the
   * bundle's own client.
   */
  main?: string;
}

export interface LocalApp {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly functionKey: string;
  readonly hostKey: string;
  readonly masterKey: string;
  readonly durable: LocalDurable;
  /** How many kept orchestrations were picked up again at start. */
  readonly resumed: number;
  /** Run a timer function once, deciding for the instant `at` (default now): `tick('scheduler', at)`. */
  tick(name: string, at?: Date): Promise<unknown>;
  close(): Promise<void>;
}

interface CompiledRoute {
  fn: HttpFunction;
  pattern: RegExp;
  names: string[];
}

/**
 * Route templates as the host reads them: `runs/{runId}` matches one path segment per parameter; a last
 * `{*path}` takes the rest of the path, also none (`console/{*path}` matches `console` and `console/a/b.js`).
 */
function compile(fn: HttpFunction): CompiledRoute {
  const names: string[] = [];
  const source = fn.route
    .split('/')
    .map((segment, i, all) => {
      const catchAll = /^\{\*([A-Za-z0-9_]+)\}$/.exec(segment);
      if (catchAll?.[1] && i === all.length - 1) {
        names.push(catchAll[1]);
        return '\0';
      }
      const param = /^\{([A-Za-z0-9_]+)(:[^}]*)?\??\}$/.exec(segment);
      if (param?.[1]) {
        names.push(param[1]);
        return '([^/]+)';
      }
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/')
    .replace('/\0', '(?:/(.*))?');
  return { fn, pattern: new RegExp(`^/api/${source}/?$`, 'i'), names };
}

function sameKey(given: string | null, key: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(key);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The Functions host's default request body limit (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT). */
export const HOST_MAX_BODY_BYTES = 100 * 1024 * 1024;

/** The body, or undefined once it passes the limit (the rest is drained, not kept). */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= limit) chunks.push(chunk as Buffer);
  }
  return size <= limit ? Buffer.concat(chunks) : undefined;
}

/** A body the handler reads as a stream, in pieces as a client's upload arrives, never as one buffer. */
function chunked(bytes: Buffer): ReadableStream<Uint8Array> | undefined {
  if (bytes.length === 0) return undefined;
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(new Uint8Array(bytes.subarray(at, at + 16 * 1024)));
      at += 16 * 1024;
      if (at >= bytes.length) controller.close();
    },
  });
}

/** The key a request presents, as the host reads it: the `x-functions-key` header first, else `?code=`. */
function presentedKey(req: IncomingMessage, url: URL): string | null {
  const header = req.headers['x-functions-key'];
  return (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('code');
}

/** Response headers the worker's proxy does not pass on (@azure/functions src/http/httpProxy.ts). */
const BLOCKED_STREAM_HEADERS = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'trailers', 'transfer-encoding', 'upgrade']);

function isStreamed(init: HttpResponseInit): boolean {
  const body: unknown = init.body;
  return init.jsonBody === undefined && body !== undefined && body !== null && typeof body !== 'string' && !Buffer.isBuffer(body) && !(body instanceof Uint8Array);
}

/**
 * A body that is a stream (a web ReadableStream, a Node Readable, an async iterable), sent as the worker sends
 * every response with HTTP streaming on (@azure/functions src/http/httpProxy.ts, sendProxyResponse): the init made
 * into an HttpResponse (a fetch Response), its headers but the hop-by-hop ones, then each chunk written to the
 * client as the body gives it, no buffering, and the response ended when the body ends. Like the worker it reads
 * the body to its end also after the client has gone (the host tells the worker nothing of it).
 */
export async function sendStreamed(res: ServerResponse, init: HttpResponseInit): Promise<void> {
  const response = new HttpResponse(init);
  res.on('error', () => undefined);
  const connection = response.headers.get('connection')?.split(',').map((h) => h.trim().toLowerCase()) ?? [];
  for (const [name, value] of response.headers.entries()) {
    if (!BLOCKED_STREAM_HEADERS.has(name.toLowerCase()) && !connection.includes(name.toLowerCase())) res.setHeader(name, value);
  }
  res.statusCode = response.status;
  // The headers go at once, before the first chunk, as the host's forwarder sends them.
  res.flushHeaders();
  if (response.body) {
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      if (!res.destroyed) res.write(chunk);
    }
  }
  res.end();
}

function send(res: ServerResponse, init: HttpResponseInit): void {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries((init.headers ?? {}) as Record<string, string>)) headers[name] = value;
  let body: string | Buffer = '';
  if (init.jsonBody !== undefined) {
    body = JSON.stringify(init.jsonBody);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/json; charset=utf-8';
  } else if (typeof init.body === 'string' || Buffer.isBuffer(init.body)) {
    body = init.body;
  }
  res.writeHead(init.status ?? 200, headers).end(body);
}

/** The console's page with the development key in a meta tag, which the page reads instead of asking. */
function withConsoleKey(init: HttpResponseInit, key: string): HttpResponseInit {
  const type = Object.entries((init.headers ?? {}) as Record<string, string>).find(([name]) => name.toLowerCase() === 'content-type')?.[1] ?? '';
  if (!type.startsWith('text/html') || !(Buffer.isBuffer(init.body) || typeof init.body === 'string')) return init;
  const escaped = key.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return { ...init, body: init.body.toString().replace('</head>', `<meta name="aks-job-runner-dev-key" content="${escaped}"></head>`) };
}

function problem(res: ServerResponse, status: number, title: string, detail: string): void {
  send(res, { status, headers: { 'Content-Type': 'application/problem+json' }, jsonBody: { title, status, detail } });
}

/**
 * A development host for the app: every HTTP function it registers, on 127.0.0.1, with the same routes,
 * methods and auth checks, and its orchestrations and activities run in-process by LocalDurable.
 * Production runs on the Azure Functions host; this exists so the app can be tried and tested end to end
 * where Core Tools cannot be installed.
 */
export async function startLocalApp(options: LocalAppOptions = {}): Promise<LocalApp> {
  const log = options.log ?? (() => undefined);
  const functionKey = options.functionKey ?? randomBytes(16).toString('hex');
  const hostKey = options.hostKey ?? randomBytes(16).toString('hex');
  const masterKey = options.masterKey ?? randomBytes(16).toString('hex');
  const maxBodyBytes = options.maxBodyBytes ?? HOST_MAX_BODY_BYTES;
  // The keys each auth level takes, as the host's: function and host keys for `function`, the master key for both.
  const keysFor = { function: [functionKey, hostKey, masterKey], admin: [masterKey] } as const;
  // Handlers only ask for the client when a request comes in, after it exists.
  const durableApi = options.main ? await startDurableHttpApi(() => durable) : undefined;
  const app = await loadApp(() => durable, options.main && durableApi ? { main: options.main, clientData: () => durableApi.clientData } : undefined);
  const durable = new LocalDurable({ orchestrators: app.orchestrators, activities: app.activities, stateDir: options.stateDir, log });
  const resumed = await durable.resume();
  const routes = app.http.map(compile);
  let invocations = 0;

  const server: Server = createServer((req, res) => {
    void (async () => {
      const method = (req.method ?? 'GET').toUpperCase();
      // Before anything else, the console's key included: see loopback.ts (DNS rebinding, cross-site requests).
      const refusal = refuseUnlessLoopback(method, { host: req.headers.host, origin: req.headers.origin });
      if (refusal) { problem(res, refusal.status, refusal.title, refusal.detail); return; }
      const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
      // The host routes by method and template together: a route that only takes other methods is a 404, not a 405.
      const match = routes
        .filter((r) => r.fn.methods.map((m) => m.toUpperCase()).includes(method))
        .map((r) => ({ r, m: r.pattern.exec(url.pathname) }))
        .find((x) => x.m);
      if (!match?.m) { problem(res, 404, 'NotFound', `no function serves ${method} ${url.pathname}`); return; }
      const { fn, names } = match.r;
      if (fn.authLevel !== 'anonymous') {
        // A missing key and a wrong one get the same 401, as from the host.
        const given = presentedKey(req, url);
        if (!keysFor[fn.authLevel].some((key) => sameKey(given, key))) {
          problem(res, 401, 'Unauthorized', `a ${fn.authLevel === 'admin' ? 'master' : 'function, host or master'} key is required: the x-functions-key header or ?code=<key>`);
          return;
        }
      }
      const params = Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(match.m?.[i + 1] ?? '')]));
      const body = await readBody(req, maxBodyBytes);
      if (!body) { problem(res, 413, 'PayloadTooLarge', `the Functions host takes request bodies of at most ${maxBodyBytes} bytes`); return; }
      const headers = Object.fromEntries(Object.entries(req.headers).flatMap(([k, v]) => (v === undefined ? [] : [[k, Array.isArray(v) ? v.join(', ') : v]])));
      // As the worker makes it with HTTP streaming on (@azure/functions createStreamRequest): a fetch Request whose
      // body is a stream (GET and HEAD have none), the route's parameters beside it.
      const streamedBody = method === 'GET' || method === 'HEAD' ? undefined : chunked(body);
      const request = new HttpRequest({
        nativeRequest: new Request(url.toString(), { method, headers, body: streamedBody, duplex: 'half' }),
        params,
      } as unknown as ConstructorParameters<typeof HttpRequest>[0]);
      const context = new InvocationContext({
        functionName: fn.name,
        invocationId: `local-${++invocations}`,
        logHandler: (level, ...args) => {
          runLogHooks(level, args, context);
          log(`[${fn.name}] ${args.map(String).join(' ')}`);
        },
      });
      try {
        const answer = await fn.invoke(request, context);
        if (isStreamed(answer)) await sendStreamed(res, answer);
        else send(res, options.consoleKey && fn.name === 'serveConsole' ? withConsoleKey(answer, options.consoleKey) : answer);
      } catch (err) {
        log(`[${fn.name}] unhandled: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        // A streamed body that fails after its headers went out can only be cut off.
        if (res.headersSent) res.destroy();
        else problem(res, 500, 'InternalError', 'the function failed; see the local runtime log');
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const timers = startTimers(app.timers, { realClock: options.timersOnClock ?? true, log });
  return {
    url: `http://127.0.0.1:${port}`,
    functionKey,
    hostKey,
    masterKey,
    durable,
    resumed,
    tick: (name, at) => timers.tick(name, at),
    close: async () => {
      await timers.stop();
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      });
      await durable.close();
      await durableApi?.close();
    },
  };
}
