/**
 * sendCallback against real receivers on loopback (node:http and node:https servers on 127.0.0.1, port 0).
 * Every test that refuses an address gives its own resolver, which answers addresses like 10.x and 169.254.x
 * without any of them being connected to: the refusal happens before the connection is opened.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type CallbackOptions, isPublicAddress, parseRetryAfter, type ResolvedAddress, sendCallback } from '../../src/clients/callback.js';

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

interface Receiver {
  url: string;
  port: number;
  received: Received[];
  close: () => Promise<void>;
}

const servers: { close: () => Promise<void> }[] = [];

/** Closes a server and every connection it holds (a receiver that never answers keeps its own open). */
function closer(server: net.Server): () => Promise<void> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      if (!server.listening) {
        resolve();
        return;
      }
      server.close(() => {
        resolve();
      });
    });
  servers.push({ close });
  return close;
}

async function receiver(answer: (req: IncomingMessage, res: ServerResponse) => void, tls?: { key: string; cert: string }): Promise<Receiver> {
  const received: Received[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      answer(req, res);
    });
  };
  const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  const close = closer(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`, port, received, close };
}

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

const local: CallbackOptions = { timeoutMs: 3000, allowPrivate: true, allowedPrivateHosts: [] };
const azure: CallbackOptions = { timeoutMs: 3000, allowPrivate: false, allowedPrivateHosts: [] };
const BODY = JSON.stringify({ runId: 'r-1', status: 'Success' });
const HEADERS = { 'content-type': 'application/json', 'webhook-id': 'r-1:Success' };

/** A resolver that answers what it is told and counts its calls; it never resolves anything for real. */
function resolver(...answers: ResolvedAddress[][]) {
  const calls: string[] = [];
  const resolve = (hostname: string) => {
    calls.push(hostname);
    return Promise.resolve(answers[Math.min(calls.length - 1, answers.length - 1)] ?? []);
  };
  return { calls, resolve };
}
const v4 = (address: string): ResolvedAddress => ({ address, family: 4 });
const v6 = (address: string): ResolvedAddress => ({ address, family: 6 });

describe('sendCallback: answers of a receiver on loopback', () => {
  it('POSTs the body and headers, and answers 200 without the receiver\'s body', async () => {
    const r = await receiver((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('RECEIVER-SECRET-BODY'));
    const result = await sendCallback(new URL(`${r.url}/hook?sig=s3cret`), BODY, HEADERS, local);
    expect(result).toEqual({ status: 200 });
    expect(JSON.stringify(result)).not.toContain('RECEIVER-SECRET-BODY');
    expect(r.received).toHaveLength(1);
    expect(r.received[0]).toMatchObject({ method: 'POST', url: '/hook?sig=s3cret', body: BODY });
    expect(r.received[0]?.headers).toMatchObject({ 'content-type': 'application/json', 'webhook-id': 'r-1:Success', 'content-length': String(BODY.length) });
  });

  it('answers 500 as a status', async () => {
    const r = await receiver((_req, res) => res.writeHead(500).end('boom'));
    expect(await sendCallback(new URL(`${r.url}/hook`), BODY, HEADERS, local)).toEqual({ status: 500 });
  });

  it('answers 429 with Retry-After in seconds as a moment', async () => {
    const r = await receiver((_req, res) => res.writeHead(429, { 'retry-after': '120' }).end());
    const before = Date.now();
    const result = await sendCallback(new URL(`${r.url}/hook`), BODY, HEADERS, local);
    expect(result).toMatchObject({ status: 429 });
    const at = 'retryAfter' in result ? result.retryAfter?.getTime() ?? 0 : 0;
    expect(at).toBeGreaterThanOrEqual(before + 120_000);
    expect(at).toBeLessThanOrEqual(Date.now() + 120_000);
  });

  it('answers 503 with Retry-After as an HTTP-date', async () => {
    const r = await receiver((_req, res) => res.writeHead(503, { 'retry-after': 'Wed, 21 Oct 2037 07:28:00 GMT' }).end());
    expect(await sendCallback(new URL(`${r.url}/hook`), BODY, HEADERS, local)).toEqual({ status: 503, retryAfter: new Date('2037-10-21T07:28:00Z') });
  });

  it('answers 410 Gone as a status', async () => {
    const r = await receiver((_req, res) => res.writeHead(410).end());
    expect(await sendCallback(new URL(`${r.url}/hook`), BODY, HEADERS, local)).toEqual({ status: 410 });
  });

  it.each([301, 302, 307, 308])('never follows a %i redirect: it is the answer, and the other server gets nothing', async (code) => {
    const elsewhere = await receiver((_req, res) => res.writeHead(200).end());
    const r = await receiver((_req, res) => res.writeHead(code, { location: `${elsewhere.url}/steal` }).end());
    expect(await sendCallback(new URL(`${r.url}/hook`), BODY, HEADERS, local)).toEqual({ status: code });
    expect(elsewhere.received).toHaveLength(0);
  });

  it('drains a large answer without keeping it', async () => {
    const r = await receiver((_req, res) => res.writeHead(200).end(Buffer.alloc(2 * 1024 * 1024, 65)));
    expect(await sendCallback(new URL(`${r.url}/hook`), BODY, HEADERS, local)).toEqual({ status: 200 });
  });

  it('times out on a receiver that never answers: transient', async () => {
    const r = await receiver(() => undefined);
    const started = Date.now();
    const result = await sendCallback(new URL(`${r.url}/hook`), BODY, HEADERS, { ...local, timeoutMs: 400 });
    expect(result).toEqual({ error: 'http://127.0.0.1:' + String(r.port) + ': no answer within 400 ms', transient: true });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(r.received).toHaveLength(1);
  });

  it('times out connecting when the TLS handshake never ends: transient', async () => {
    const silent = net.createServer(() => undefined);
    closer(silent);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    const result = await sendCallback(new URL(`https://127.0.0.1:${port}/hook`), BODY, HEADERS, { ...local, timeoutMs: 2000, connectTimeoutMs: 300 });
    expect(result).toEqual({ error: `https://127.0.0.1:${port}: could not connect within 300 ms`, transient: true });
  });

  it('answers a refused connection as transient, naming the host but not the query', async () => {
    const r = await receiver(() => undefined);
    await r.close();
    const result = await sendCallback(new URL(`${r.url}/hook?sig=s3cret`), BODY, HEADERS, local);
    expect(result).toEqual({ error: `${r.url}: the request failed (ECONNREFUSED)`, transient: true });
  });
});

describe('sendCallback over TLS, to a host name the operator allowed', () => {
  let tls: { key: string; cert: string };
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'callback-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=hooks.internal.test', '-addext', 'subjectAltName=DNS:hooks.internal.test'], { stdio: 'ignore' });
    tls = { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('connects to the address the name resolved to and checks the certificate against the name', async () => {
    const r = await receiver((_req, res) => res.writeHead(204).end(), tls);
    const dns = resolver([v4('127.0.0.1')]);
    const url = new URL(`https://hooks.internal.test:${r.port}/hook?sig=s3cret`);
    const result = await sendCallback(url, BODY, HEADERS, { ...azure, allowedPrivateHosts: ['hooks.internal.test'], resolve: dns.resolve, ca: tls.cert });
    expect(result).toEqual({ status: 204 });
    expect(dns.calls).toEqual(['hooks.internal.test']);
    expect(r.received[0]?.headers.host).toBe(`hooks.internal.test:${r.port}`);
  });

  it('refuses a certificate that does not name the host, as a transient failure', async () => {
    const r = await receiver((_req, res) => res.writeHead(204).end(), tls);
    const dns = resolver([v4('127.0.0.1')]);
    const result = await sendCallback(new URL(`https://other.internal.test:${r.port}/hook`), BODY, HEADERS, { ...azure, allowedPrivateHosts: ['other.internal.test'], resolve: dns.resolve, ca: tls.cert });
    expect(result).toMatchObject({ transient: true });
    expect('error' in result && result.error).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);
    expect(r.received).toHaveLength(0);
  });
});

describe('sendCallback in Azure: internal addresses refused when the connection is made (SSRF)', () => {
  it.each([
    ['a private 10.x address', [v4('10.1.2.3')]],
    ['a private 172.16-31.x address', [v4('172.20.0.5')]],
    ['a private 192.168.x address', [v4('192.168.1.10')]],
    ['the instance metadata endpoint (link-local)', [v4('169.254.169.254')]],
    ['Azure\'s platform address', [v4('168.63.129.16')]],
    ['a CGNAT address', [v4('100.64.0.1')]],
    ['loopback', [v4('127.0.0.1')]],
    ['IPv6 loopback', [v6('::1')]],
    ['an IPv6 unique-local address', [v6('fd00::1')]],
    ['an IPv6 link-local address', [v6('fe80::1')]],
    ['an IPv4-mapped IPv6 address of a private one', [v6('::ffff:10.0.0.1')]],
    ['an IPv4-mapped IPv6 address of a public one', [v6('::ffff:93.184.216.34')]],
    ['a public and a private address together', [v4('93.184.216.34'), v4('10.0.0.7')]],
  ])('refuses a name that resolves to %s, naming CALLBACK_ALLOWED_URLS', async (_name, answer) => {
    const r = await receiver((_req, res) => res.writeHead(200).end());
    const dns = resolver(answer);
    const result = await sendCallback(new URL(`http://hooks.attacker.test:${r.port}/hook?sig=s3cret`), BODY, HEADERS, { ...azure, resolve: dns.resolve });
    expect(result).toMatchObject({ transient: false });
    expect('error' in result && result.error).toMatch(/CALLBACK_ALLOWED_URLS/);
    expect('error' in result && result.error).not.toContain('s3cret');
    expect(dns.calls).toEqual(['hooks.attacker.test']);
    expect(r.received).toHaveLength(0);
  });

  it('checks the addresses the connection uses, not an earlier answer (DNS rebinding)', async () => {
    // The attacker's name answers a public address to a first look-up (a check made when the URL was given) and a
    // private one to the next: the connection's own look-up is the one checked, so the request never leaves.
    const dns = resolver([v4('93.184.216.34')], [v4('10.0.0.5')]);
    expect(await dns.resolve('rebind.attacker.test')).toEqual([v4('93.184.216.34')]);
    const result = await sendCallback(new URL('https://rebind.attacker.test/hook'), BODY, HEADERS, { ...azure, resolve: dns.resolve });
    expect(result).toEqual({
      error: expect.stringMatching(/^rebind\.attacker\.test resolves to 10\.0\.0\.5, .*CALLBACK_ALLOWED_URLS$/) as unknown,
      transient: false,
    });
    expect(dns.calls).toHaveLength(2);
  });

  it.each([
    ['a private IPv4 literal', 'https://10.0.0.1/hook'],
    ['the metadata endpoint literal', 'http://169.254.169.254/metadata/identity/oauth2/token'],
    ['an IPv6 loopback literal', 'https://[::1]/hook'],
    ['an IPv4-mapped literal', 'https://[::ffff:a00:1]/hook'],
  ])('refuses %s without looking anything up', async (_name, raw) => {
    const dns = resolver([v4('93.184.216.34')]);
    const result = await sendCallback(new URL(raw), BODY, HEADERS, { ...azure, resolve: dns.resolve });
    expect(result).toMatchObject({ transient: false, error: expect.stringMatching(/CALLBACK_ALLOWED_URLS/) as unknown });
    expect(dns.calls).toEqual([]);
  });

  it('refuses a loopback literal in Azure: the receiver gets nothing', async () => {
    const r = await receiver((_req, res) => res.writeHead(200).end());
    expect(await sendCallback(new URL(`${r.url}/hook`), BODY, HEADERS, azure)).toMatchObject({ transient: false });
    expect(r.received).toHaveLength(0);
  });

  it('sends to a loopback receiver by a name the operator allowed', async () => {
    const r = await receiver((_req, res) => res.writeHead(200).end());
    const dns = resolver([v4('127.0.0.1')]);
    const options = { ...azure, allowedPrivateHosts: ['hooks.internal.test'], resolve: dns.resolve };
    expect(await sendCallback(new URL(`http://hooks.internal.test:${r.port}/hook`), BODY, HEADERS, options)).toEqual({ status: 200 });
    expect(r.received).toHaveLength(1);
  });

  it('refuses localhost as the system resolver answers it (/etc/hosts: loopback)', async () => {
    const r = await receiver((_req, res) => res.writeHead(200).end());
    const result = await sendCallback(new URL(`http://localhost:${r.port}/hook`), BODY, HEADERS, azure);
    expect(result).toMatchObject({ transient: false, error: expect.stringMatching(/^localhost resolves to (127\.0\.0\.1|::1), /) as unknown });
    expect(r.received).toHaveLength(0);
  });

  it('sends to localhost in the local runtime, through the system resolver', async () => {
    const r = await receiver((_req, res) => res.writeHead(200).end());
    expect(await sendCallback(new URL(`http://localhost:${r.port}/hook`), BODY, HEADERS, local)).toEqual({ status: 200 });
  });

  it('answers a name that does not resolve as transient', async () => {
    const dns = resolver([]);
    expect(await sendCallback(new URL('https://gone.attacker.test/hook'), BODY, HEADERS, { ...azure, resolve: dns.resolve })).toEqual({
      error: 'https://gone.attacker.test: the request failed (ENOTFOUND)',
      transient: true,
    });
  });
});

describe('isPublicAddress', () => {
  it.each([
    ['93.184.216.34', true],
    ['20.42.65.92', true],
    ['2606:2800:220:1:248:1893:25c8:1946', true],
    ['10.255.255.255', false],
    ['172.31.0.1', false],
    ['172.32.0.1', true],
    ['100.127.255.254', false],
    ['0.0.0.0', false],
    ['224.0.0.1', false],
    ['255.255.255.255', false],
    ['::', false],
    ['::ffff:8.8.8.8', false],
    ['64:ff9b::a00:1', false],
    ['2002:a00:1::', false],
    ['fc00::1', false],
    ['ff02::1', false],
    ['not-an-address', false],
  ])('%s → %s', (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });
});

describe('parseRetryAfter', () => {
  const now = new Date('2026-12-07T03:00:00Z');
  it.each([
    ['120', new Date('2026-12-07T03:02:00Z')],
    ['0', now],
    ['Mon, 07 Dec 2026 04:00:00 GMT', new Date('2026-12-07T04:00:00Z')],
    ['Monday, 07-Dec-26 04:00:00 GMT', new Date('2026-12-07T04:00:00Z')],
    ['Sun, 06 Dec 2026 04:00:00 GMT', now],
    ['-5', undefined],
    ['1.5', undefined],
    ['soon', undefined],
    ['2026-12-07', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('%s → %s', (value, expected) => {
    expect(parseRetryAfter(value, now)).toEqual(expected);
  });
});
