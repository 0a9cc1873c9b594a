import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isLoopbackHost, isLoopbackOrigin, refuseUnlessLoopback } from '../../local/host/loopback.js';
import { type LocalApp, startLocalApp } from '../../local/host/server.js';
import { serveConsoleFrom } from '../../src/http/console.js';

describe('which Host and Origin values the local runtime takes', () => {
  it.each([
    ['127.0.0.1:7071', true],
    ['127.0.0.1', true],
    ['localhost:7071', true],
    ['LOCALHOST:1', true],
    ['localhost.:7071', true],
    ['[::1]:7071', true],
    ['[::1]', true],
    ['attacker.example:7071', false],
    ['attacker.example', false],
    ['localhost.attacker.example:7071', false],
    ['127.0.0.1.nip.io:7071', false],
    ['127.0.0.2:7071', false],
    ['0.0.0.0:7071', false],
    ['[::ffff:127.0.0.1]:7071', false],
    ['127.0.0.1:7071@attacker.example', false],
    ['::1', false],
    ['', false],
  ])('Host %j is loopback: %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });

  it.each([
    ['http://127.0.0.1:7071', true],
    ['http://localhost:5173', true],
    ['https://[::1]:8443', true],
    ['https://attacker.example', false],
    ['http://localhost.attacker.example', false],
    ['null', false],
    ['file://', false],
  ])('Origin %j is loopback: %s', (origin, loopback) => {
    expect(isLoopbackOrigin(origin)).toBe(loopback);
  });

  it.each([
    { name: 'a GET to a loopback host', method: 'GET', host: '127.0.0.1:7071', origin: undefined, refused: null },
    { name: 'a GET from another page to a loopback host (CORS keeps the answer from it)', method: 'GET', host: '127.0.0.1:7071', origin: 'https://attacker.example', refused: null },
    { name: 'a POST without Origin (curl, a test, a server)', method: 'POST', host: 'localhost:7071', origin: undefined, refused: null },
    { name: "a POST from the console's own page", method: 'POST', host: '127.0.0.1:7071', origin: 'http://127.0.0.1:7071', refused: null },
    { name: 'any request for another host name (DNS rebinding)', method: 'GET', host: 'attacker.example:7071', origin: undefined, refused: 'HostNotAllowed' },
    { name: 'a request with no Host', method: 'GET', host: undefined, origin: undefined, refused: 'HostNotAllowed' },
    { name: 'a cross-site POST to a loopback host', method: 'POST', host: '127.0.0.1:7071', origin: 'https://attacker.example', refused: 'OriginNotAllowed' },
    { name: 'a DELETE from a sandboxed page (Origin null)', method: 'DELETE', host: '127.0.0.1:7071', origin: 'null', refused: 'OriginNotAllowed' },
    { name: 'a PATCH from another site', method: 'patch', host: 'localhost:7071', origin: 'http://evil.test', refused: 'OriginNotAllowed' },
  ])('$name: $refused', ({ method, host, origin, refused }) => {
    expect(refuseUnlessLoopback(method, { host, origin })?.title ?? null).toBe(refused);
  });
});

/**
 * The attack as a DNS-rebinding page makes it, against the real local runtime with the development key in its
 * console page (as `npm run dev` starts it): the browser connects to 127.0.0.1 but names the attacker's host.
 */
describe('the local runtime refuses a DNS-rebinding page and cross-site requests', () => {
  let dir: string;
  let app: LocalApp;

  beforeAll(async () => {
    process.env.CLUSTERS = JSON.stringify([{ alias: 'local', type: 'kubeconfig', kubeconfigPath: '/nonexistent/kubeconfig', namespaces: ['demo'] }]);
    dir = await mkdtemp(join(tmpdir(), 'console-rebinding-'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><html><head><title>c</title></head><body></body></html>');
    serveConsoleFrom(dir);
    app = await startLocalApp({ functionKey: 'local', consoleKey: 'local', timersOnClock: false });
  });
  afterAll(async () => {
    await app.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A raw request (fetch cannot set Host), as the browser sends it after the rebinding. */
  function send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; text: string; json: Record<string, unknown> | null }> {
    const { port } = new URL(app.url);
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let json: Record<string, unknown> | null;
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            json = null;
          }
          resolve({ status: res.statusCode ?? 0, text, json });
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  const port = () => new URL(app.url).port;

  it("does not hand the console's page, with its key, to another host name", async () => {
    const answer = await send('GET', '/api/console/', { Host: `attacker.example:${port()}` });
    expect(answer.status).toBe(403);
    expect(answer.json).toMatchObject({ title: 'HostNotAllowed', status: 403 });
    expect(answer.text).not.toContain('aks-job-runner-dev-key');
    expect(answer.text).toContain('127.0.0.1');
  });

  it('serves the page, with its key, to the loopback names', async () => {
    for (const host of [`127.0.0.1:${port()}`, `localhost:${port()}`, `[::1]:${port()}`]) {
      const answer = await send('GET', '/api/console/', { Host: host });
      expect(answer.status, host).toBe(200);
      expect(answer.text).toContain('<meta name="aks-job-runner-dev-key" content="local">');
    }
  });

  it('refuses API calls for another host name even with the right key, before any function runs', async () => {
    const listing = await send('GET', '/api/clusters?code=local', { Host: `attacker.example:${port()}` });
    expect(listing.status).toBe(403);
    expect(listing.json?.title).toBe('HostNotAllowed');
    const start = await send('POST', '/api/jobs/demo/slow/runs?code=local', { Host: `attacker.example:${port()}`, Origin: `http://attacker.example:${port()}`, 'Content-Type': 'application/json' }, '{}');
    expect(start.status).toBe(403);
    expect(start.json?.title).toBe('HostNotAllowed');
    // A function's own answers carry a problem type; the host's guard answers before any function.
    expect(start.json?.type).toBeUndefined();
  });

  it("refuses a cross-site page's POST to 127.0.0.1 with the default key, and takes the same POST from a loopback page", async () => {
    const crossSite = await send('POST', '/api/jobs/demo/slow/runs?code=local', { Host: `127.0.0.1:${port()}`, Origin: 'https://attacker.example', 'Content-Type': 'text/plain' }, '{}');
    expect(crossSite.status).toBe(403);
    expect(crossSite.json).toMatchObject({ title: 'OriginNotAllowed' });
    expect(crossSite.json?.type).toBeUndefined();
    // The same request from the console's own origin reaches the function (whatever it then answers).
    const sameSite = await send('POST', '/api/jobs/demo/nope/runs?code=local', { Host: `127.0.0.1:${port()}`, Origin: app.url, 'Content-Type': 'application/json' }, '{}');
    expect(sameSite.json?.title).not.toBe('OriginNotAllowed');
    expect(typeof sameSite.json?.type).toBe('string');
  });
});
