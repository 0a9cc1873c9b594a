/**
 * The credential paths of @kubernetes/client-node and @azure/identity, bundled as the deployment package bundles
 * them (scripts/package.ts `bundle`: ESM, minified, the require/__dirname banner) and run in a fresh Node: a
 * kubeconfig file's token user, and an AKS cluster reached with an Entra ID token that DefaultAzureCredential gets
 * from the App Service managed identity endpoint, as a function app's identity does in Azure (IDENTITY_ENDPOINT
 * and IDENTITY_HEADER). Both the endpoint and the API server are HTTP servers of this test on loopback.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type Lockfile } from '../../scripts/notices.js';
import { bundle, projectRoot } from '../../scripts/package.js';
import { AKS_AAD_SCOPE } from '../../src/clients/credentials.js';
import { type IdentityEndpoint, startIdentityEndpoint } from '../support/identity-endpoint.js';

const NODE = join(projectRoot, 'node_modules', '.bin', 'node');
const IDENTITY_HEADER = 'identity-header-of-this-test';
const CLIENT_ID = '11111111-2222-4333-8444-555555555555';
const ENTRA_TOKEN = 'entra-token-from-the-identity-endpoint';
const KUBECONFIG_TOKEN = 'token-of-the-kubeconfig-user';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
}

let work: string;
let apiServer: Server;
let identity: IdentityEndpoint;
const apiRequests: Seen[] = [];
let result: { status: number | null; stderr: string; kubeconfig?: Record<string, unknown>; entra?: Record<string, unknown> };

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve(`http://127.0.0.1:${String((server.address() as AddressInfo).port)}`);
    });
  });
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'aks-job-runner-credentials-'));
  apiServer = createServer((req, res) => {
    apiRequests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const allowed = [`Bearer ${KUBECONFIG_TOKEN}`, `Bearer ${ENTRA_TOKEN}`].includes(req.headers.authorization ?? '');
    if (!allowed || req.url !== '/apis/batch/v1/namespaces/batch/jobs/report') {
      res.writeHead(allowed ? 404 : 401, { 'Content-Type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: allowed ? 404 : 401 }));
      return;
    }
    const job = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'report', namespace: 'batch' }, spec: { template: { spec: { containers: [] } } }, status: { startTime: '2026-01-02T03:04:05Z' } };
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(job));
  });
  identity = await startIdentityEndpoint({ header: IDENTITY_HEADER, token: ENTRA_TOKEN, clientId: CLIENT_ID });
  const server = await listen(apiServer);

  const kubeconfigPath = join(work, 'kubeconfig');
  const kubeconfig = (user: Record<string, unknown>) =>
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      // Plain HTTP, which client-node takes only with TLS verification off; TLS with the kubeconfig's CA through
      // the bundle is what test/e2e/bundle.test.ts does against the local control plane.
      clusters: [{ name: 'c', cluster: { server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    });
  writeFileSync(kubeconfigPath, kubeconfig({ token: KUBECONFIG_TOKEN }));
  // What listClusterUserCredentials gives for an Entra ID cluster: a user that would exec kubelogin, which the
  // app never runs (it takes server and CA only).
  const aksKubeconfig = kubeconfig({ exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: 'kubelogin', args: ['get-token'] } });

  const lock = JSON.parse(readFileSync(join(projectRoot, 'package-lock.json'), 'utf8')) as Lockfile;
  const outdir = join(work, 'dist');
  await bundle(join(projectRoot, 'test/package/probe/credentials-probe.ts'), outdir, lock);
  writeFileSync(join(work, 'package.json'), '{"type":"module"}');
  const out = join(work, 'out.json');
  // Not spawnSync: the servers answering the probe run in this process.
  const child = spawn(NODE, [join(outdir, 'index.js'), out, JSON.stringify({ kubeconfigPath, aksKubeconfig, managedIdentityClientId: CLIENT_ID })], {
    cwd: work,
    env: { PATH: dirname(NODE), HOME: work, ...identity.env },
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  result = { status, stderr, ...(existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as object) : {}) };
}, 300_000);

afterAll(async () => {
  apiServer.close();
  await identity.close();
  rmSync(work, { recursive: true, force: true });
});

describe('client-node and @azure/identity in the bundle', () => {
  it('reads a Job with a kubeconfig file\'s token user, its dates deserialised as client-node types them', () => {
    expect(result.status, result.stderr).toBe(0);
    expect(result.kubeconfig).toEqual({ name: 'report', startTimeIsDate: true });
    expect(apiRequests.some((r) => r.headers.authorization === `Bearer ${KUBECONFIG_TOKEN}`)).toBe(true);
  });

  it('reads a Job on an Entra ID AKS cluster with a token DefaultAzureCredential got from the managed identity endpoint', () => {
    expect(result.entra).toEqual({ name: 'report', startTimeIsDate: true });
    const asked = identity.requests.filter((r) => r.headers['x-identity-header'] === IDENTITY_HEADER);
    expect(asked.length).toBeGreaterThan(0);
    // The AKS server application, and the user-assigned identity the app names (MANAGED_IDENTITY_CLIENT_ID).
    expect(asked[0]?.resource).toBe(AKS_AAD_SCOPE.replace(/\/\.default$/, ''));
    expect(asked[0]?.clientId).toBe(CLIENT_ID);
    expect(apiRequests.some((r) => r.headers.authorization === `Bearer ${ENTRA_TOKEN}`)).toBe(true);
  });
});
