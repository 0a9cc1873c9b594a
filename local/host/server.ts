import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import azureFunctions, { type HttpResponseInit } from '@azure/functions';

import { LocalDurable } from '../durable/runtime.js';
import { type HttpFunction, loadApp } from './app.js';
import { startTimers } from './timers.js';

// @azure/functions is CommonJS whose classes Node's ESM loader cannot see as named exports.
const { HttpRequest, InvocationContext } = azureFunctions;

export interface LocalAppOptions {
  /** 0 picks a free port. Always bound to 127.0.0.1. */
  port?: number;
  /** The key `function`-level routes require (`?code=` or `x-functions-key`); random when absent. */
  functionKey?: string;
  /** Where orchestration state is kept, so a restart resumes runs; in memory when absent. */
  stateDir?: string;
  log?: (line: string) => void;
  /** Fire timer functions on the real clock (default true); tests that drive ticks themselves turn it off. */
  timersOnClock?: boolean;
}

export interface LocalApp {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly functionKey: string;
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

/** Route templates as the host reads them: `runs/{runId}` matches one path segment per parameter. */
function compile(fn: HttpFunction): CompiledRoute {
  const names: string[] = [];
  const source = fn.route
    .split('/')
    .map((segment) => {
      const param = /^\{([A-Za-z0-9_]+)(:[^}]*)?\??\}$/.exec(segment);
      if (param?.[1]) {
        names.push(param[1]);
        return '([^/]+)';
      }
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return { fn, pattern: new RegExp(`^/api/${source}/?$`, 'i'), names };
}

function sameKey(given: string | null, key: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(key);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
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
  // Handlers only ask for the client when a request comes in, after it exists.
  const app = await loadApp(() => durable);
  const durable = new LocalDurable({ orchestrators: app.orchestrators, activities: app.activities, stateDir: options.stateDir, log });
  const resumed = await durable.resume();
  const routes = app.http.map(compile);
  let invocations = 0;

  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
      const matches = routes.map((r) => ({ r, m: r.pattern.exec(url.pathname) })).filter((x) => x.m);
      if (matches.length === 0) { problem(res, 404, 'NotFound', `no function serves ${url.pathname}`); return; }
      const method = (req.method ?? 'GET').toUpperCase();
      const match = matches.find((x) => x.r.fn.methods.map((m) => m.toUpperCase()).includes(method));
      if (!match?.m) { problem(res, 405, 'MethodNotAllowed', `${method} is not allowed on ${url.pathname}`); return; }
      const { fn, names } = match.r;
      if (fn.authLevel !== 'anonymous') {
        const given = url.searchParams.get('code') ?? (req.headers['x-functions-key'] as string | undefined) ?? null;
        if (!sameKey(given, functionKey)) { problem(res, 401, 'Unauthorized', 'a function key is required: ?code=<key> or the x-functions-key header'); return; }
      }
      const params = Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(match.m?.[i + 1] ?? '')]));
      const body = await readBody(req);
      const headers = Object.fromEntries(Object.entries(req.headers).flatMap(([k, v]) => (v === undefined ? [] : [[k, Array.isArray(v) ? v.join(', ') : v]])));
      const request = new HttpRequest({
        method,
        url: url.toString(),
        headers,
        params,
        ...(body.length > 0 ? { body: { bytes: body } } : {}),
      });
      const context = new InvocationContext({
        functionName: fn.name,
        invocationId: `local-${++invocations}`,
        logHandler: (_level, ...args) => {
          log(`[${fn.name}] ${args.map(String).join(' ')}`);
        },
      });
      try {
        send(res, await fn.invoke(request, context));
      } catch (err) {
        log(`[${fn.name}] unhandled: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        problem(res, 500, 'InternalError', 'the function failed; see the local runtime log');
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const timers = startTimers(app.timers, { realClock: options.timersOnClock ?? true, log });
  return {
    url: `http://127.0.0.1:${port}`,
    functionKey,
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
    },
  };
}
