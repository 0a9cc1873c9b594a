import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { InvocationContext } from '@azure/functions';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { AKS_AAD_SCOPE, type AksManagement, AksSource, classifyAzureFailure, CredentialError, KubeconfigFileSource, TOKEN_REFRESH_MARGIN_MS } from '../../src/clients/credentials.js';
import { ClientNodeGateway } from '../../src/clients/kube.js';
import type { AksClusterSettings } from '../../src/config.js';
import { KubeApiError } from '../../src/core/errors.js';
import { errorResponse } from '../../src/http/problem.js';

/**
 * The credential path end to end through client-node's real HTTP stack, against a loopback server that only
 * records what it is sent and answers 200 or 401. What a Job means is the real control plane's business.
 */
let server: Server;
let seen: IncomingHttpHeaders[] = [];
let rejectTokens = new Set<string>();
let serverUrl = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.headers);
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (rejectTokens.has(token)) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', reason: 'Unauthorized', code: 401, message: 'Unauthorized' }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'x', namespace: 'batch' } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => { resolve(); })));
beforeEach(() => {
  seen = [];
  rejectTokens = new Set();
});

const settings: AksClusterSettings = {
  alias: 'prod',
  type: 'aks',
  subscriptionId: '00000000-0000-0000-0000-000000000001',
  resourceGroup: 'rg',
  clusterName: 'aks-prod',
  namespaces: ['batch'],
};

function kubeconfigYaml(user: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: aks-prod`,
    `  cluster: { server: "${serverUrl}", insecure-skip-tls-verify: true }`,
    'contexts:',
    '- name: aks-prod',
    '  context: { cluster: aks-prod, user: u }',
    'current-context: aks-prod',
    'users:',
    '- name: u',
    `  user: ${user}`,
  ].join('\n');
}

/** A kubeconfig user that would run kubelogin: it must never be used for Entra clusters. */
const EXEC_USER = '{ exec: { apiVersion: client.authentication.k8s.io/v1beta1, command: kubelogin, args: [get-token] } }';

function management(entra: boolean, user = EXEC_USER): AksManagement & { loads: number } {
  const m = {
    loads: 0,
    getCluster: () => {
      m.loads++;
      return Promise.resolve(entra ? { aadProfile: { managed: true } } : {});
    },
    userKubeconfig: () => Promise.resolve(kubeconfigYaml(user)),
  };
  return m;
}

function credential(now: () => number): TokenCredential & { issued: number; scopes: string[] } {
  const c = {
    issued: 0,
    scopes: [] as string[],
    getToken: (scopes: string | string[]): Promise<AccessToken> => {
      c.issued++;
      c.scopes.push(...[scopes].flat());
      return Promise.resolve({ token: `tok-${c.issued}`, expiresOnTimestamp: now() + 3600_000 });
    },
  };
  return c;
}

describe('AKS credentials', () => {
  it('authenticates an Entra ID cluster with a bearer token for the AKS server application, not the kubeconfig user', async () => {
    const clock = { t: 1_000_000 };
    const cred = credential(() => clock.t);
    const gateway = new ClientNodeGateway(new AksSource(settings, management(true), cred, () => clock.t), 5000);
    await gateway.readJob('batch', 'x');
    expect(seen[0]?.authorization).toBe('Bearer tok-1');
    expect(cred.scopes).toEqual([AKS_AAD_SCOPE]);
  });

  it('reuses the token until it nears expiry, then fetches a new one', async () => {
    const clock = { t: 1_000_000 };
    const cred = credential(() => clock.t);
    const gateway = new ClientNodeGateway(new AksSource(settings, management(true), cred, () => clock.t), 5000);
    await gateway.readJob('batch', 'x');
    await gateway.readJob('batch', 'x');
    expect(cred.issued).toBe(1);
    clock.t += 3600_000 - TOKEN_REFRESH_MARGIN_MS + 1;
    await gateway.readJob('batch', 'x');
    expect(cred.issued).toBe(2);
    expect(seen.map((h) => h.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-1', 'Bearer tok-2']);
  });

  it('after a 401 fetches fresh credentials and retries exactly once', async () => {
    const clock = { t: 1_000_000 };
    const cred = credential(() => clock.t);
    const m = management(true);
    const gateway = new ClientNodeGateway(new AksSource(settings, m, cred, () => clock.t), 5000);
    rejectTokens.add('tok-1');
    await expect(gateway.readJob('batch', 'x')).resolves.toMatchObject({ metadata: { name: 'x' } });
    expect(seen.map((h) => h.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-2']);
    expect(m.loads).toBe(2);
  });

  it('gives up with the 401 when fresh credentials are refused too', async () => {
    const clock = { t: 1_000_000 };
    const cred = credential(() => clock.t);
    const gateway = new ClientNodeGateway(new AksSource(settings, management(true), cred, () => clock.t), 5000);
    rejectTokens = new Set(['tok-1', 'tok-2', 'tok-3']);
    const error = await gateway.readJob('batch', 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KubeApiError);
    expect((error as KubeApiError).code).toBe(401);
    expect(seen).toHaveLength(2);
  });

  it('refuses a local-account cluster, whose user credentials are an admin certificate, and says why and what to do', async () => {
    const cred = credential(() => 0);
    const source = new AksSource(settings, management(false, '{ token: local-account-token }'), cred);
    const error = await source.kubeConfig().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CredentialError);
    expect((error as CredentialError).message).toMatch(/"aks-prod" \(alias "prod"\) uses local accounts.*cluster-admin certificate.*--enable-aad.*ALLOW_LOCAL_ACCOUNT_CLUSTERS=true/);
    expect(seen).toHaveLength(0);
  });

  it('uses the returned kubeconfig user as is on a local-account cluster when ALLOW_LOCAL_ACCOUNT_CLUSTERS allows it', async () => {
    const clock = { t: 1_000_000 };
    const cred = credential(() => clock.t);
    const gateway = new ClientNodeGateway(new AksSource(settings, management(false, '{ token: local-account-token }'), cred, () => clock.t, true), 5000);
    await gateway.readJob('batch', 'x');
    expect(seen[0]?.authorization).toBe('Bearer local-account-token');
    expect(cred.issued).toBe(0);
  });

  it('turns a request that times out into a transient KubeApiError', async () => {
    const slow = createServer(() => undefined);
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
    const m: AksManagement = {
      getCluster: () => Promise.resolve({}),
      userKubeconfig: () => Promise.resolve(kubeconfigYaml('{ token: t }').replace(serverUrl, url)),
    };
    const gateway = new ClientNodeGateway(new AksSource(settings, m, credential(() => 0), Date.now, true), 200);
    const error = await gateway.readJob('batch', 'x').catch((e: unknown) => e);
    slow.closeAllConnections();
    slow.close();
    expect(error).toBeInstanceOf(KubeApiError);
    expect((error as KubeApiError).transient).toBe(true);
  });
});

/** An error shaped like @azure/core-rest-pipeline's RestError, as ARM's clients throw it. */
function restError(statusCode: number | undefined, message: string, code?: string): Error {
  return Object.assign(new Error(message), { name: 'RestError', statusCode, code });
}

function failingManagement(err: Error): AksManagement {
  return { getCluster: () => Promise.reject(err), userKubeconfig: () => Promise.reject(err) };
}

describe('credential failures are configuration errors, not an API server that did not answer', () => {
  it.each([
    ['ARM refuses the identity (no Cluster User Role)', restError(403, 'AuthorizationFailed: does not have authorization'), /Cluster User Role/],
    ['a wrong cluster name', restError(404, "ResourceNotFound: The Resource 'aks-prud' was not found"), /check subscriptionId, resourceGroup and clusterName/],
  ])('%s: a 502 CredentialError that names the fix, never transient', async (_, err, fix) => {
    const gateway = new ClientNodeGateway(new AksSource(settings, failingManagement(err), credential(() => 0)), 5000);
    const error = await gateway.readJob('batch', 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CredentialError);
    expect(error).not.toBeInstanceOf(KubeApiError);
    expect(error).toMatchObject({ status: 502, transient: false, reason: 'ClusterCredentials' });
    expect((error as Error).message).toMatch(fix);
    expect((error as Error).message).not.toMatch(/no answer from the API server/);
  });

  it('a managed identity that cannot get a token: a 502 naming the identity, and no request is sent', async () => {
    const noIdentity: TokenCredential = {
      getToken: () => Promise.reject(Object.assign(new Error('ManagedIdentityCredential: no managed identity endpoint found'), { name: 'CredentialUnavailableError' })),
    };
    const gateway = new ClientNodeGateway(new AksSource(settings, management(true), noIdentity), 5000);
    const error = await gateway.readJob('batch', 'x').catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'CredentialError', status: 502, transient: false });
    expect((error as Error).message).toMatch(/managed identity could not get a token/);
    expect(seen).toHaveLength(0);
  });

  it.each([
    ['throttling (429)', restError(429, 'TooManyRequests')],
    ['a server error (503)', restError(503, 'ServiceUnavailable')],
    ['a broken connection', restError(undefined, 'socket hang up', 'ECONNRESET')],
  ])('ARM %s stays transient: a 503 the run path retries', async (_, err) => {
    const gateway = new ClientNodeGateway(new AksSource(settings, failingManagement(err), credential(() => 0)), 5000);
    const error = await gateway.readJob('batch', 'x').catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'CredentialError', status: 503, transient: true });
  });

  it('a kubeconfig file that cannot be read is a 502 naming the setting', async () => {
    const gateway = new ClientNodeGateway(new KubeconfigFileSource('/nonexistent/kubeconfig'), 5000);
    const error = await gateway.readJob('batch', 'x').catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'CredentialError', status: 502, transient: false });
    expect((error as Error).message).toMatch(/kubeconfigPath/);
  });
});

describe('the retry after a 401 sends a really fresh credential, or none', () => {
  it('does not send the same token again: @azure/identity hands back the managed-identity token it cached', async () => {
    const cached: TokenCredential = { getToken: () => Promise.resolve({ token: 'tok-cached', expiresOnTimestamp: Date.now() + 3600_000 }) };
    const gateway = new ClientNodeGateway(new AksSource(settings, management(true), cached), 5000);
    rejectTokens.add('tok-cached');
    const error = await gateway.readJob('batch', 'x').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 401 });
    expect(seen.map((h) => h.authorization)).toEqual(['Bearer tok-cached']);
  });
});

describe('classifyAzureFailure', () => {
  const named = (name: string, fields: Record<string, unknown> = {}) => Object.assign(new Error(name), { name, ...fields });
  it.each([
    ['ARM 403 AuthorizationFailed', restError(403, 'AuthorizationFailed'), 'arm', false, /Cluster User Role/],
    ['ARM 404 ResourceNotFound', restError(404, 'ResourceNotFound'), 'arm', false, /clusterName/],
    ['ARM 429', restError(429, 'TooManyRequests'), 'arm', true, /retried/],
    ['ARM 502', restError(502, 'BadGateway'), 'arm', true, /retried/],
    ['a RestError without an answer', restError(undefined, 'connect ECONNREFUSED', 'REQUEST_SEND_ERROR'), 'arm', true, /retried/],
    ['no managed identity (CredentialUnavailableError)', named('CredentialUnavailableError'), 'token', false, /MANAGED_IDENTITY_CLIENT_ID/],
    ['every credential of a chain unavailable (AggregateAuthenticationError) while calling ARM', named('AggregateAuthenticationError'), 'arm', false, /MANAGED_IDENTITY_CLIENT_ID/],
    ['Entra ID refusing the token request (AuthenticationError 400)', named('AuthenticationError', { statusCode: 400 }), 'token', false, /MANAGED_IDENTITY_CLIENT_ID/],
    ['Entra ID throttling the token request (AuthenticationError 429)', named('AuthenticationError', { statusCode: 429 }), 'token', true, /retried/],
  ] as const)('%s', (_, err, during, transient, hint) => {
    const result = classifyAzureFailure(err, during);
    expect(result.transient).toBe(transient);
    expect(result.hint).toMatch(hint);
  });

  it.each([
    [false, 502, undefined],
    [true, 503, '10'],
  ])('a CredentialError (transient: %s) answers %i over HTTP', (transient, status, retryAfter) => {
    const response = errorResponse(
      new CredentialError('could not get credentials', { transient }),
      new InvocationContext({ functionName: 't', invocationId: 'i', logHandler: () => undefined }),
    );
    expect(response.status).toBe(status);
    expect((response.headers as Record<string, string>)['Retry-After']).toBe(retryAfter);
  });
});
