/**
 * The SSRF attacks on push callbacks (issue 23, item 6), one table, through both checks a callback goes through
 * in Azure: checkCallbackUrl when the URL is given (core/callback-url.ts), then sendCallback when the request is
 * made (clients/callback.ts), with the policy and the names allowed by name taken from CALLBACK_ALLOWED_URLS as
 * config.ts parses it. Receivers are HTTPS servers on 127.0.0.1; host names reach them through a resolver the
 * test gives, which also answers the private addresses of the attacks: none of those is ever connected to.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type CallbackResult, type ResolvedAddress, sendCallback } from '../../src/clients/callback.js';
import { type Config, loadConfig } from '../../src/config.js';
import { checkCallbackUrl, hostsAllowedByName } from '../../src/core/callback-url.js';

let config: Config;
const SETTING = 'CALLBACK_ALLOWED_URLS';

let dir: string;
let cert: string;
let receiver: Server;
let elsewhere: Server;
let port: number;
let elsewherePort: number;
const hits = { receiver: 0, elsewhere: 0 };

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'callback-ssrf-'));
  const san = 'subjectAltName=DNS:internal.contoso.com,DNS:*.hooks.contoso.com,DNS:prod-03.westus.logic.azure.com';
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=internal.contoso.com', '-addext', san], { stdio: 'ignore' });
  cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  const tls = { key: readFileSync(join(dir, 'key.pem')), cert };
  elsewhere = createServer(tls, (_req, res) => {
    hits.elsewhere += 1;
    res.writeHead(200).end();
  });
  elsewherePort = await listen(elsewhere);
  receiver = createServer(tls, (req, res) => {
    hits.receiver += 1;
    if (req.url?.includes('redirect') === true) res.writeHead(302, { location: `https://internal.contoso.com:${elsewherePort}/aks-jobs/stolen` }).end();
    else res.writeHead(200).end();
  });
  port = await listen(receiver);
  // The receivers' port is in the list, as an operator's non-default port would be.
  config = loadConfig({
    CLUSTERS: JSON.stringify([{ alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/k', namespaces: ['batch'] }]),
    CALLBACK_ALLOWED_URLS: `default https://*.hooks.contoso.com:${port}/aks-jobs/ https://internal.contoso.com:${port}/aks-jobs/`,
  });
});

afterAll(async () => {
  for (const server of [receiver, elsewhere]) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => { resolve(); }));
  }
  rmSync(dir, { recursive: true, force: true });
});

/** Addresses by host name, a list per successive look-up (the last one repeats); anything else does not resolve. */
type Dns = Record<string, ResolvedAddress[][]>;
const at = (address: string): ResolvedAddress[] => [{ address, family: address.includes(':') ? 6 : 4 }];

/** A callback as the app makes it in Azure: checked when given, then sent. */
async function attempt(raw: (p: number) => string, dns: Dns): Promise<{ refusedAt: 'check'; problem: string; setting?: string } | { result: CallbackResult }> {
  const checked = checkCallbackUrl(raw(port), { allowed: config.callbackAllowedUrls, local: false });
  if ('problem' in checked) return { refusedAt: 'check', ...checked };
  const calls = new Map<string, number>();
  const resolve = (hostname: string) => {
    const n = calls.get(hostname) ?? 0;
    calls.set(hostname, n + 1);
    const answers = dns[hostname] ?? [[]];
    return Promise.resolve(answers[Math.min(n, answers.length - 1)] ?? []);
  };
  // The look-up a naive implementation would check the URL with before connecting (DNS rebinding's first answer).
  await resolve(checked.url.hostname);
  const result = await sendCallback(checked.url, '{"runId":"r"}', { 'content-type': 'application/json' }, {
    timeoutMs: 3000,
    allowPrivate: false,
    allowedPrivateHosts: hostsAllowedByName(config.callbackAllowedUrls),
    resolve,
    ca: cert,
  });
  return { result };
}

const loopback = at('127.0.0.1');

describe('SSRF attacks on push callbacks in Azure: each refused, naming the setting, nothing sent', () => {
  it.each<[string, (p: number) => string, Dns, 'check' | 'connect']>([
    ['non-HTTPS: plain http to an allowed host', (p) => `http://internal.contoso.com:${p}/aks-jobs/x?sig=s3cret`, {}, 'check'],
    ['non-HTTPS: another scheme', () => 'gopher://internal.contoso.com/aks-jobs/x', {}, 'check'],
    ['not allowed: a host outside the list', () => 'https://attacker.example/aks-jobs/x?sig=s3cret', {}, 'check'],
    ['not allowed: the cloud metadata endpoint by address', () => 'https://169.254.169.254/metadata/identity/oauth2/token', {}, 'check'],
    ['not allowed: an allowed host outside its path', (p) => `https://internal.contoso.com:${p}/admin?sig=s3cret`, {}, 'check'],
    ['not allowed: climbing out of the path with ../', (p) => `https://internal.contoso.com:${p}/aks-jobs/../admin`, {}, 'check'],
    ['not allowed: an allowed host on another port', () => 'https://internal.contoso.com/aks-jobs/x', {}, 'check'],
    ['userinfo: an allowed name as the user of another host', (p) => `https://internal.contoso.com:${p}@attacker.example/aks-jobs/x`, {}, 'check'],
    ['userinfo: a user and password before an allowed host', (p) => `https://me:pw@internal.contoso.com:${p}/aks-jobs/x`, {}, 'check'],
    ['overlong: a URL of 3,000 characters', (p) => `https://internal.contoso.com:${p}/aks-jobs/${'a'.repeat(3000)}`, {}, 'check'],
    ['private address: a wildcard host resolving to 10.x', (p) => `https://a.hooks.contoso.com:${p}/aks-jobs/x`, { 'a.hooks.contoso.com': [at('10.0.0.5')] }, 'connect'],
    ['private address: a wildcard host resolving to the metadata endpoint', (p) => `https://b.hooks.contoso.com:${p}/aks-jobs/x`, { 'b.hooks.contoso.com': [at('169.254.169.254')] }, 'connect'],
    ['private address: a wildcard host resolving to loopback', (p) => `https://c.hooks.contoso.com:${p}/aks-jobs/x`, { 'c.hooks.contoso.com': [loopback] }, 'connect'],
    ['private address: a wildcard host resolving to IPv6 unique-local', (p) => `https://d.hooks.contoso.com:${p}/aks-jobs/x`, { 'd.hooks.contoso.com': [at('fd12::7')] }, 'connect'],
    ['private address: an IPv4-mapped IPv6 answer', (p) => `https://e.hooks.contoso.com:${p}/aks-jobs/x`, { 'e.hooks.contoso.com': [at('::ffff:192.168.0.9')] }, 'connect'],
    ['private address: a Logic Apps host (the default list) resolving to CGNAT', () => 'https://prod-03.westus.logic.azure.com/workflows/x?sig=s3cret', { 'prod-03.westus.logic.azure.com': [at('100.64.1.1')] }, 'connect'],
    ['DNS rebinding: public to the first look-up, private to the connection', (p) => `https://f.hooks.contoso.com:${p}/aks-jobs/x`, { 'f.hooks.contoso.com': [at('93.184.216.34'), at('10.1.1.1')] }, 'connect'],
  ])('%s', async (_name, raw, dns, where) => {
    const before = { ...hits };
    const outcome = await attempt(raw, dns);
    if (where === 'check') {
      expect(outcome).toMatchObject({ refusedAt: 'check', setting: SETTING });
      expect('problem' in outcome && outcome.problem).toContain(SETTING);
      expect('problem' in outcome && outcome.problem).not.toContain('s3cret');
    } else {
      expect(outcome).toMatchObject({ result: { transient: false } });
      const error = 'result' in outcome && 'error' in outcome.result ? outcome.result.error : '';
      expect(error).toContain(SETTING);
      expect(error).not.toContain('s3cret');
    }
    expect(hits).toEqual(before);
  });

  it('redirects: a 302 to another host is the answer, never followed; the other host gets nothing', async () => {
    const before = { ...hits };
    const outcome = await attempt((p) => `https://internal.contoso.com:${p}/aks-jobs/redirect`, { 'internal.contoso.com': [loopback] });
    expect(outcome).toEqual({ result: { status: 302 } });
    expect(hits).toEqual({ receiver: before.receiver + 1, elsewhere: before.elsewhere });
  });

  it('the control: a host the operator listed by its full name may be internal, and is delivered to', async () => {
    const before = { ...hits };
    expect(await attempt((p) => `https://internal.contoso.com:${p}/aks-jobs/done?sig=s3cret`, { 'internal.contoso.com': [loopback] })).toEqual({ result: { status: 200 } });
    expect(hits.receiver).toBe(before.receiver + 1);
  });
});
