import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { ContainerServiceClientOptionalParams } from '@azure/arm-containerservice';
import { InvocationContext } from '@azure/functions';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { ConfiguredClusters } from '../../src/clients/clusters.js';
import { AKS_AAD_SCOPE, type AksManagement, AksSource, armManagement, classifyAzureFailure, CredentialError, KubeconfigFileSource, serverUrlFor, TOKEN_REFRESH_MARGIN_MS } from '../../src/clients/credentials.js';
import { ClientNodeGateway } from '../../src/clients/kube.js';
import { type AksClusterSettings, loadConfig } from '../../src/config.js';
import { KubeApiError } from '../../src/core/errors.js';
import { errorResponse } from '../../src/http/problem.js';
import { observeOnce } from '../../src/runs/observe.js';

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

describe('private clusters: serverFqdn is the host the app connects to, never a parameter of ARM', () => {
  /** What ARM reports of a private cluster that also has a public FQDN (enablePrivateClusterPublicFqdn). */
  const privateCluster = {
    aadProfile: { managed: true },
    privateFqdn: 'aks-prod-1a2b3c4d.privatelink.westeurope.azmk8s.io',
    fqdn: 'aks-prod-dns-5e6f7a8b.hcp.westeurope.azmk8s.io',
  };
  const CA = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64');
  /** The kubeconfig ARM hands out by default: for a private cluster, its private FQDN on port 443. */
  function armKubeconfig(user: string): string {
    return kubeconfigYaml(user).replace(`{ server: "${serverUrl}", insecure-skip-tls-verify: true }`, `{ server: "https://${privateCluster.privateFqdn}:443", certificate-authority-data: ${CA} }`);
  }
  function privateManagement(user = EXEC_USER): AksManagement {
    return { getCluster: () => Promise.resolve(privateCluster), userKubeconfig: () => Promise.resolve(armKubeconfig(user)) };
  }

  it('connects to the serverFqdn CLUSTERS names, with the port and CA of the kubeconfig ARM returned', async () => {
    const source = new AksSource({ ...settings, serverFqdn: privateCluster.fqdn }, privateManagement(), credential(() => 0));
    const cluster = (await source.kubeConfig()).getCurrentCluster();
    expect(cluster?.server).toBe(`https://${privateCluster.fqdn}:443`);
    expect(cluster?.caData).toBe(CA);
  });

  it('without serverFqdn keeps the server ARM names, which for a private cluster is its private FQDN', async () => {
    const source = new AksSource(settings, privateManagement(), credential(() => 0));
    expect((await source.kubeConfig()).getCurrentCluster()?.server).toBe(`https://${privateCluster.privateFqdn}:443`);
  });

  it('puts serverFqdn into a local-account kubeconfig too, keeping its user', async () => {
    const source = new AksSource({ ...settings, serverFqdn: privateCluster.fqdn }, { ...privateManagement('{ token: local-account-token }'), getCluster: () => Promise.resolve({ ...privateCluster, aadProfile: undefined }) }, credential(() => 0), Date.now, true);
    const kc = await source.kubeConfig();
    expect(kc.getCurrentCluster()?.server).toBe(`https://${privateCluster.fqdn}:443`);
    expect(kc.getCurrentCluster()?.caData).toBe(CA);
    expect(kc.getCurrentUser()?.token).toBe('local-account-token');
  });

  it('refuses a serverFqdn that is none of the names ARM reports (the certificate would not match), naming those', async () => {
    const source = new AksSource({ ...settings, serverFqdn: 'public' }, privateManagement(), credential(() => 0));
    const error = await source.kubeConfig().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CredentialError);
    expect((error as CredentialError).status).toBe(502);
    expect((error as CredentialError).message).toContain('serverFqdn "public"');
    expect((error as CredentialError).message).toContain(privateCluster.privateFqdn);
    expect((error as CredentialError).message).toContain(privateCluster.fqdn);
  });

  it('compares the name without case, as DNS does, and leaves a path of the server as it was', () => {
    expect(serverUrlFor('https://a.example:443/base', { ...settings, serverFqdn: 'B.Example' }, { fqdn: 'b.example' })).toBe('https://b.example:443/base');
    expect(serverUrlFor('https://a.example:443', settings, {})).toBe('https://a.example:443');
  });

  it('asks ARM for the user credentials without server-fqdn, which ARM reads as a type ("public"), not a host', async () => {
    type HttpClient = NonNullable<ContainerServiceClientOptionalParams['httpClient']>;
    type Response = Awaited<ReturnType<HttpClient['sendRequest']>>;
    const sent: URL[] = [];
    const body = JSON.stringify({ kubeconfigs: [{ name: 'clusterUser', value: Buffer.from(armKubeconfig(EXEC_USER)).toString('base64') }] });
    const headers = new Map([['content-type', 'application/json']]);
    const httpClient: HttpClient = {
      sendRequest: (request) => {
        sent.push(new URL(request.url));
        const response: Response = {
          request,
          status: 200,
          bodyAsText: body,
          headers: {
            get: (name) => headers.get(name.toLowerCase()),
            has: (name) => headers.has(name.toLowerCase()),
            set: (name, value) => void headers.set(name.toLowerCase(), String(value)),
            delete: (name) => void headers.delete(name.toLowerCase()),
            toJSON: () => Object.fromEntries(headers),
            [Symbol.iterator]: () => headers.entries(),
          },
        };
        return Promise.resolve(response);
      },
    };
    const management = await armManagement(credential(() => Date.now()), { httpClient });
    const yaml = await management.userKubeconfig({ ...settings, serverFqdn: privateCluster.privateFqdn });
    expect(yaml).toContain(privateCluster.privateFqdn);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.pathname).toMatch(/\/managedClusters\/aks-prod\/listClusterUserCredential$/);
    expect(sent[0]?.searchParams.has('server-fqdn')).toBe(false);
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

describe('credential fetches are single-flight, and ARM throttling is honoured for the whole cluster', () => {
  /** Answers only after every caller has asked, so a second flight would be seen. */
  function slowManagement(): AksManagement & { loads: number; kubeconfigs: number } {
    const m = {
      loads: 0,
      kubeconfigs: 0,
      getCluster: async () => {
        m.loads++;
        await new Promise((resolve) => setTimeout(resolve, 30));
        return { aadProfile: { managed: true } };
      },
      userKubeconfig: async () => {
        m.kubeconfigs++;
        await new Promise((resolve) => setTimeout(resolve, 30));
        return kubeconfigYaml(EXEC_USER);
      },
    };
    return m;
  }

  it('N activities that start cold on one cluster make one ARM call and fetch one token', async () => {
    const m = slowManagement();
    // ConfiguredClusters' sources run on the wall clock.
    const cred = credential(() => Date.now());
    let managements = 0;
    const clusters = new ConfiguredClusters(loadConfig({ CLUSTERS: JSON.stringify([settings]) }), {
      credential: () => cred,
      management: () => {
        managements++;
        return Promise.resolve(m);
      },
    });
    const jobs = await Promise.all(Array.from({ length: 20 }, () => clusters.gateway('prod').readJob('batch', 'x')));
    expect(jobs.every((j) => j?.metadata?.name === 'x')).toBe(true);
    expect({ managements, loads: m.loads, kubeconfigs: m.kubeconfigs, tokens: cred.issued }).toEqual({ managements: 1, loads: 1, kubeconfigs: 1, tokens: 1 });
  });

  it('N calls refused at once with a 401 share one reload of the credentials', async () => {
    const m = management(true);
    const cred = credential(() => 1_000_000);
    const gateway = new ClientNodeGateway(new AksSource(settings, m, cred, () => 1_000_000), 5000);
    await gateway.readJob('batch', 'x');
    rejectTokens.add('tok-1');
    await Promise.all(Array.from({ length: 10 }, () => gateway.readJob('batch', 'x')));
    expect(m.loads).toBe(2);
    expect(cred.issued).toBe(2);
  });

  it('ARM 429 with Retry-After: the same transient error for every caller in that window, without another ARM call', async () => {
    let calls = 0;
    const clock = { t: 1_000_000 };
    const throttled = Object.assign(restError(429, 'TooManyRequests: throttled'), { response: { headers: { get: (h: string) => (h === 'retry-after' ? '30' : undefined) } } });
    const armThrottling: AksManagement = {
      getCluster: () => {
        calls++;
        return Promise.reject(throttled);
      },
      userKubeconfig: () => Promise.reject(throttled),
    };
    const source = new AksSource(settings, armThrottling, credential(() => clock.t), () => clock.t);
    const first = await source.kubeConfig().catch((e: unknown) => e);
    expect(first).toMatchObject({ transient: true, retryAfterMs: 30_000 });
    expect((first as Error).message).toMatch(/Azure Resource Manager throttled the app .*asks again after 30s/);
    clock.t += 29_000;
    await expect(source.kubeConfig()).rejects.toBe(first);
    expect(calls).toBe(1);
    clock.t += 2_000;
    await expect(source.kubeConfig()).rejects.toBeInstanceOf(CredentialError);
    expect(calls).toBe(2);
  });

  it('an observe while ARM throttles is Throttled, not a failure of the run', async () => {
    const throttled = Object.assign(restError(429, 'TooManyRequests'), { response: { headers: { get: () => '30' } } });
    const gateway = new ClientNodeGateway(new AksSource(settings, failingManagement(throttled), credential(() => 0)), 5000);
    const ref = { runId: 'r-1', cluster: 'prod', namespace: 'batch', source: { kind: 'Job' as const, name: 'r' } };
    const grace = { imagePullSeconds: 1, containerConfigSeconds: 1, unschedulableSeconds: 1, quotaSeconds: 1 };
    const snapshot = await observeOnce(gateway, ref, grace, null, new Date(), { reads: 0, intervalMs: 0 });
    expect(snapshot).toMatchObject({ status: 'Unknown', reason: 'Throttled' });
    expect(snapshot.message).toMatch(/Azure Resource Manager \(listClusterUserCredentials\) asked the app to slow down/);
  });
});

describe('connections to a cluster are reused', () => {
  async function connectionsFor(reuse: boolean): Promise<number> {
    let connections = 0;
    const count = () => {
      connections++;
    };
    server.on('connection', count);
    try {
      const m = management(true);
      const gateway = new ClientNodeGateway(new AksSource(settings, m, credential(() => 1_000_000), () => 1_000_000), 5000, reuse);
      for (let i = 0; i < 10; i++) await gateway.readJob('batch', 'x');
    } finally {
      server.off('connection', count);
    }
    return connections;
  }

  it('ten requests in a row with the same credentials go over the keep-alive connections of one pool', async () => {
    // undici's pool may open a second connection when the next request comes before it marks the first idle.
    expect(await connectionsFor(true)).toBeLessThanOrEqual(2);
  });

  it('without the shared pool (client-node as it is) every request opens a connection of its own', async () => {
    expect(await connectionsFor(false)).toBe(10);
  });
});
