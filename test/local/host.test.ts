import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as df from 'durable-functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { orchestratorRunner } from '../../local/durable/engine.js';
import { LocalDurable } from '../../local/durable/runtime.js';
import { type LocalApp, startLocalApp } from '../../local/host/server.js';
import { serveConsoleFrom } from '../../src/http/console.js';

/**
 * The local runtime answers like the Functions host where callers and tests depend on it: routing, keys,
 * body limit, and the custom status across continueAsNew.
 */
let app: LocalApp;

beforeAll(async () => {
  // Handlers read their settings on the first request; no request here reaches a cluster.
  process.env.CLUSTERS = JSON.stringify([{ alias: 'local', type: 'kubeconfig', kubeconfigPath: '/nonexistent/kubeconfig', namespaces: ['batch'] }]);
  app = await startLocalApp({ functionKey: 'fn-key', hostKey: 'host-key', masterKey: 'master-key', maxBodyBytes: 1024 });
});
afterAll(() => app.close());

async function call(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${app.url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** An answer of the app's own handler (its problems carry a type), not of the host in front of it. */
function fromHandler(answer: { body: Record<string, unknown> }): boolean {
  return typeof answer.body.type === 'string';
}

describe('the local runtime, like the Functions host', () => {
  it('answers 404, not 405, for a route that is served only with other methods', async () => {
    const answer = await call('GET', '/api/jobs/batch/nightly/runs?code=fn-key');
    expect(answer.status).toBe(404);
    expect(fromHandler(answer)).toBe(false);
  });

  it('answers 404 for a path no function serves', async () => {
    expect((await call('GET', '/api/nothing-here?code=fn-key')).status).toBe(404);
  });

  interface KeyCase {
    name: string;
    headers: Record<string, string>;
    query: string;
  }

  it.each<KeyCase>([
    { name: 'no key', headers: {}, query: '' },
    { name: 'a wrong key in ?code=', headers: {}, query: '?code=wrong' },
    { name: 'a wrong key in x-functions-key', headers: { 'x-functions-key': 'wrong' }, query: '' },
    { name: 'a wrong header beside a right ?code= (the header wins)', headers: { 'x-functions-key': 'wrong' }, query: '?code=fn-key' },
  ])('answers 401 alike for $name', async ({ headers, query }) => {
    const answer = await call('GET', `/api/runs/no-such-run-0000000000${query}`, headers);
    expect(answer.status).toBe(401);
    expect(answer.body.title).toBe('Unauthorized');
  });

  it.each<KeyCase>([
    { name: 'the function key in ?code=', headers: {}, query: '?code=fn-key' },
    { name: 'the function key in x-functions-key', headers: { 'x-functions-key': 'fn-key' }, query: '' },
    { name: 'a host key', headers: {}, query: '?code=host-key' },
    { name: 'the master key', headers: { 'x-functions-key': 'master-key' }, query: '' },
  ])('takes $name on a function-level route', async ({ headers, query }) => {
    const answer = await call('GET', `/api/runs/no-such-run-0000000000${query}`, headers);
    expect(answer.status).toBe(404);
    expect(fromHandler(answer)).toBe(true);
  });

  it("answers 413 for a body over the host's limit, before the function runs", async () => {
    const answer = await call('POST', '/api/jobs/batch/nightly/runs?code=fn-key', { 'content-type': 'application/json' }, JSON.stringify({ A: 'x'.repeat(2048) }));
    expect(answer.status).toBe(413);
    expect(fromHandler(answer)).toBe(false);
  });
});

describe("the local runtime's catch-all route and the console", () => {
  let dir: string;
  let dev: LocalApp;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'console-host-'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><html><head><title>c</title></head><body></body></html>');
    serveConsoleFrom(dir);
    dev = await startLocalApp({ functionKey: 'dev-key', consoleKey: 'dev-key' });
  });
  afterAll(async () => {
    await dev.close();
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['/api/console', 308],
    ['/api/console/', 200],
    ['/api/console/index.html', 200],
    ['/api/console/assets/deep/er/missing.js', 404],
  ])('routes %s to the console function, anonymously (%i)', async (path, status) => {
    const response = await fetch(`${app.url}${path}`, { redirect: 'manual' });
    expect(response.status).toBe(status);
    if (status === 404) expect(((await response.json()) as { type?: string }).type).toBeDefined();
  });

  it('writes the development key into the page only when told to', async () => {
    const told = await (await fetch(`${dev.url}/api/console/`)).text();
    expect(told).toContain('<meta name="aks-job-runner-dev-key" content="dev-key"></head>');
    const untold = await (await fetch(`${app.url}/api/console/`)).text();
    expect(untold).not.toContain('aks-job-runner-dev-key');
  });
});

describe('the local Durable runtime, like the Azure Storage provider', () => {
  interface Input {
    generation: number;
  }
  // Generation 0 sets a status and continues as new; generation 1 sets none until its event comes.
  function* twoGenerations(context: df.OrchestrationContext): Generator<df.Task, unknown, unknown> {
    const { generation } = context.df.getInput<Input>();
    if (generation === 0) {
      context.df.setCustomStatus({ generation: 0 });
      context.df.continueAsNew({ generation: 1 });
      return undefined;
    }
    yield context.df.waitForExternalEvent('go');
    context.df.setCustomStatus({ generation: 1 });
    return 'done';
  }

  it("keeps the previous generation's custom status until the new generation sets one", async () => {
    // DurableTask.Core's dispatcher carries the status over (runtimeState.Status = previous ?? carryOverStatus),
    // and the Durable extension only sets a custom status the orchestrator returned non-null.
    const durable = new LocalDurable({ orchestrators: { twoGenerations: orchestratorRunner(twoGenerations) }, activities: {} });
    try {
      await durable.startNew('twoGenerations', { instanceId: 'g', input: { generation: 0 } });
      await durable.idle('g');
      const between = await durable.getStatus('g');
      expect(between.runtimeStatus as string).toBe('Running');
      expect(between.input).toEqual({ generation: 1 });
      expect(between.customStatus).toEqual({ generation: 0 });
      await durable.raiseEvent('g', 'go', null);
      await durable.idle('g');
      const done = await durable.getStatus('g');
      expect(done.runtimeStatus as string).toBe('Completed');
      expect(done.customStatus).toEqual({ generation: 1 });
    } finally {
      await durable.close();
    }
  });
});

describe('the local runtime streams a response body as the worker does with enableHttpStream', () => {
  // The worker copies a body chunk by chunk to the host as the body gives it (@azure/functions
  // src/http/httpProxy.ts, sendProxyResponse: `for await (const chunk of userRes.body.values()) proxyRes.write(chunk)`),
  // and the host's forwarder passes each on; sendStreamed does the same on 127.0.0.1.
  it('a chunk reaches the client while the body is still being written, not at its end', async () => {
    const { createServer } = await import('node:http');
    const { sendStreamed } = await import('../../local/host/server.js');
    let second: () => void = () => undefined;
    const server = createServer((_req, res) => {
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('first\n'));
          second = () => {
            controller.enqueue(new TextEncoder().encode('second\n'));
            controller.close();
          };
        },
      });
      void sendStreamed(res, { status: 200, headers: { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'keep-alive' }, body });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as { port: number };
      const response = await fetch(`http://127.0.0.1:${String(port)}/`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      // Hop-by-hop headers are the host's, not the function's.
      expect(response.headers.get('transfer-encoding')).toBe('chunked');
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      const first = await reader.read();
      expect(new TextDecoder().decode(first.value)).toBe('first\n');
      second();
      let rest = '';
      for (let next = await reader.read(); !next.done; next = await reader.read()) rest += new TextDecoder().decode(next.value);
      expect(rest).toBe('second\n');
    } finally {
      await new Promise<void>((resolve) => server.close(() => { resolve(); }));
    }
  });
});
