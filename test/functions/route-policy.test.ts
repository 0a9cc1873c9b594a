import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import { beforeEach, describe, expect, it } from 'vitest';

import { API_ROUTES, type ApiRoute } from '../../src/api/routes.js';
import { loadConfig } from '../../src/config.js';
import type { JobRunInput } from '../../src/core/schemas.js';
import { subscriptionIdOf } from '../../src/core/subscriptions.js';
import { subscribe, SubscriptionStore } from '../../src/runs/subscriptions.js';
import { createServices, setServices } from '../../src/services.js';
import { MemoryBlobs } from '../fakes/blobs.js';
import { FakeDurableClient } from '../fakes/durable-client.js';
import { FakeKube } from '../fakes/kube.js';

/**
 * Issue 21 item 1: CALLER_POLICIES holds on every route that names a cluster or namespace, not only the start
 * routes. The test walks the route table (API_ROUTES, itself held against the registered functions by
 * test/api/openapi.test.ts) and calls each route's exported handler (file name = handler name = function name) as a
 * confined caller, against a namespace, then a cluster, outside its policy: each is refused and nothing reaches
 * the cluster or Durable. A route added later fails here until it is classified below.
 */
const t0 = new Date('2026-11-23T10:00:00Z');
const BASE = 'https://jobs.example.net/api';
const APP = 'aaaaaaaa-0000-4000-8000-00000000000a';
const OBJECT = 'aaaaaaaa-0000-4000-8000-0000000000a1';
const CLUSTERS = JSON.stringify([
  { alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/nonexistent/kubeconfig', namespaces: ['batch', 'demo'] },
  { alias: 'prod', type: 'kubeconfig', kubeconfigPath: '/nonexistent/kubeconfig', namespaces: ['batch', 'demo'] },
]);
const CONFINED = { clusters: ['dev'], namespaces: ['batch'] };

/** How each route names where it acts, and what a confined caller gets outside its policy. */
type Kind =
  /** The namespace is in the path. */
  | 'path'
  /** The namespace is in the query (listings). */
  | 'query'
  /** The cluster and namespace are in the JSON body (POST /subscriptions, a connector trigger's registration). */
  | 'body'
  /** A run id: the run's namespace is the app's record; outside the policy it is a 404, as for an unknown id. */
  | 'run'
  /** Lists what the caller may name: answered, narrowed to its policy. */
  | 'clusters'
  /** Names no cluster or namespace: nothing to confine. */
  | 'none'
  /** For admins only (an Entra caller with the AksJobRunner.Admin role), whatever its policy: everyone else a 403. */
  | 'admin';
const KINDS: Record<string, Kind> = {
  startJobRun: 'path',
  startCronJobRun: 'path',
  createCronJob: 'path',
  getCronJob: 'path',
  updateCronJob: 'path',
  deleteCronJob: 'path',
  listCronJobRuns: 'path',
  listJobs: 'query',
  listCronJobs: 'query',
  listDeployments: 'query',
  listRuns: 'query',
  getRun: 'run',
  cancelRun: 'run',
  getRunLogs: 'run',
  rerunRun: 'run',
  createRunSubscription: 'run',
  getRunSubscription: 'run',
  deleteRunSubscription: 'run',
  // Names a callback URL, not a run: a caller that may not read the URL's run gets the 204 an unknown URL gets and
  // changes nothing (test/functions/subscriptions.test.ts tries it).
  unsubscribeCallback: 'none',
  createSourceSubscription: 'body',
  // Names a subscription id only: one the caller did not make, or outside its policy, is the 404 an unknown id gets
  // (test/http/source-subscriptions.test.ts tries both).
  deleteSourceSubscription: 'none',
  listClusters: 'clusters',
  listAuditRecords: 'admin',
  previewSchedule: 'none',
  serveConsole: 'none',
  getOpenApiDocument: 'none',
  getSwaggerDocument: 'none',
};

type Caller = 'key' | 'entra';
let kube: FakeKube;
let client: FakeDurableClient;

function principal(appId: string, objectId: string, roles: string[] = []): string {
  const claims = [
    { typ: 'appid', val: appId },
    { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: objectId },
    ...roles.map((role) => ({ typ: 'roles', val: role })),
  ];
  return Buffer.from(JSON.stringify({ auth_typ: 'aad', claims, name_typ: 'name', role_typ: 'roles' })).toString('base64');
}
const HEADERS: Record<Caller, Record<string, string>> = {
  key: { 'x-functions-key': 'confined-key' },
  entra: { 'x-functions-key': 'confined-key', 'x-ms-client-principal': principal(APP, OBJECT), 'x-ms-client-principal-id': OBJECT, 'x-ms-client-principal-idp': 'aad' },
};

function useSettings(caller: Caller): void {
  const config = loadConfig({
    CLUSTERS,
    DEFAULT_CLUSTER: 'dev',
    EASY_AUTH_ENABLED: 'true',
    CALLER_POLICIES: JSON.stringify(caller === 'key' ? { key: CONFINED } : { [APP]: CONFINED }),
    FALLBACK_IMAGES: 'docker.io/library/',
    HTTP_CALL_ALLOWED_URLS: 'https://x.example/api/',
  });
  setServices({ ...createServices(config, { gatewayFactory: () => kube, now: () => t0, newSuffix: () => 'abcdefg001' }), subscriptions });
}

/** The runs' subscriptions: one on the run each walk uses, so its GET and DELETE have something to find. */
let subscriptions: SubscriptionStore;
const SUBSCRIPTION_URL = 'https://prod-00.westus.logic.azure.com/workflows/x/runs/y/actions/z/run?sig=abc';
const SUBSCRIPTION_ID = subscriptionIdOf('report-abcdefg999', SUBSCRIPTION_URL);
async function seedSubscription(): Promise<void> {
  subscriptions = new SubscriptionStore(new MemoryBlobs());
  await subscribe('report-abcdefg999', { url: SUBSCRIPTION_URL }, { store: subscriptions, checkUrl: (raw) => ({ url: new URL(raw) }), display: (u) => u.origin, canSign: false, now: t0, apiBase: null });
}

/** What the cluster holds in every namespace: a Job, a CronJob, a Deployment, a run's Job; a caller reaching any would show. */
function seed(): void {
  kube = new FakeKube();
  for (const namespace of ['batch', 'demo']) {
    const spec = { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36', env: [{ name: 'X', value: '1' }] }] } } };
    kube.addJob({ metadata: { name: 'report', namespace, uid: `j-${namespace}` }, spec });
    kube.addJob({ metadata: { name: 'report-abcdefg999', namespace, uid: `r-${namespace}` }, spec });
    kube.addCronJob({ metadata: { name: 'report', namespace, uid: `c-${namespace}`, resourceVersion: '1' }, spec: { schedule: '0 3 * * *', jobTemplate: { spec } } });
    kube.addDeployment({
      metadata: { name: 'web', namespace },
      spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'web:1' }] } } },
    });
    kube.pods.push({
      metadata: { name: 'report-abcdefg999-abcde', namespace, labels: { 'batch.kubernetes.io/job-name': 'report-abcdefg999' }, creationTimestamp: t0 },
      spec: { containers: [{ name: 'main', image: 'busybox:1.36' }] },
    });
  }
  kube.calls.length = 0;
}

/** A run the caller itself started, in `namespace` of `cluster`: only the policy stands between it and the caller. */
function ownRun(caller: Caller, cluster: string, namespace: string): void {
  client = new FakeDurableClient();
  const { poll, activityRetry } = loadConfig({ CLUSTERS });
  const input: JobRunInput = {
    poll,
    retry: activityRetry,
    request: {
      runId: 'report-abcdefg999',
      cluster,
      namespace,
      source: { kind: 'Job', name: 'report' },
      overrides: {},
      requestHash: 'h',
      trigger: { kind: 'http' },
      caller: caller === 'key' ? { kind: 'key' } : { kind: 'entra', appId: APP, objectId: OBJECT },
    },
  };
  client.put({ instanceId: 'report-abcdefg999', input });
}

function requestFor(route: ApiRoute, caller: Caller, where: { cluster: string; namespace: string }): HttpRequest {
  const params: Record<string, string> = { namespace: where.namespace, name: 'report', runId: 'report-abcdefg999', path: 'index.html', subscriptionId: SUBSCRIPTION_ID };
  const path = route.route.replace(/\{\*?(\w+)\}/g, (_, name: string) => params[name] ?? '');
  const url = new URL(`${BASE}/${path}`);
  url.searchParams.set('cluster', where.cluster);
  if (KINDS[route.name] === 'query') url.searchParams.set('namespace', where.namespace);
  const bodies: Record<string, unknown> = {
    createCronJob: { name: 'nightly', fromDeployment: 'web', schedule: '0 3 * * *' },
    updateCronJob: { schedule: '0 4 * * *', resourceVersion: '1' },
    createRunSubscription: { url: 'https://prod-01.westus.logic.azure.com/workflows/x/runs/y/actions/z/run?sig=def' },
  };
  if (KINDS[route.name] === 'body') {
    bodies[route.name] = { ...where, source: { kind: 'Job', name: 'report' }, url: 'https://prod-02.westus.logic.azure.com/workflows/x/triggers/manual/paths/invoke?sig=ghi' };
  }
  const body = bodies[route.name] ?? (route.method === 'POST' ? {} : undefined);
  return new HttpRequest({
    method: route.method,
    url: url.toString(),
    params,
    headers: { 'content-type': 'application/json', ...HEADERS[caller] },
    ...(body === undefined ? {} : { body: { string: JSON.stringify(body) } }),
  });
}

type Handler = (request: HttpRequest, ...rest: unknown[]) => HttpResponseInit | Promise<HttpResponseInit>;
async function call(route: ApiRoute, request: HttpRequest): Promise<HttpResponseInit> {
  const file = new URL(`../../src/functions/${route.name}.ts`, import.meta.url).href;
  const module = (await import(/* @vite-ignore */ file)) as Record<string, Handler>;
  const handler = module[route.name];
  if (!handler) throw new Error(`src/functions/${route.name}.ts exports no handler ${route.name}`);
  const context = new InvocationContext({ functionName: route.name, invocationId: 'inv-walk', logHandler: () => undefined });
  // Durable client routes take (request, client, context), the others (request, context).
  return handler.length === 3 ? handler(request, client, context) : handler(request, context);
}

const confined = API_ROUTES.filter((r) => KINDS[r.name] === 'path' || KINDS[r.name] === 'query' || KINDS[r.name] === 'body' || KINDS[r.name] === 'run');
const adminOnly = API_ROUTES.filter((r) => KINDS[r.name] === 'admin');

describe('the route table, walked as a confined caller', () => {
  it('classifies every route, so a new one cannot skip the caller check unnoticed', () => {
    expect(API_ROUTES.map((r) => r.name).sort()).toEqual(Object.keys(KINDS).sort());
  });

  describe.each(['key', 'entra'] as const)('a %s caller confined to cluster dev, namespace batch', (caller) => {
    beforeEach(async () => {
      seed();
      await seedSubscription();
      useSettings(caller);
    });

    it.each(confined.map((r) => [r.name, r] as const))('%s: refused in namespace demo, and nothing reached the cluster', async (_, route) => {
      ownRun(caller, 'dev', 'demo');
      const response = await call(route, requestFor(route, caller, { cluster: 'dev', namespace: 'demo' }));
      const expected = KINDS[route.name] === 'run' ? 404 : 403;
      expect(response.status, JSON.stringify(response.jsonBody)).toBe(expected);
      if (expected === 403) expect((response.jsonBody as { detail: string }).detail).toContain('CALLER_POLICIES');
      expect(kube.calls).toEqual([]);
      expect(client.startCount).toBe(0);
      expect(client.events).toEqual([]);
    });

    it.each(confined.map((r) => [r.name, r] as const))('%s: refused on cluster prod, and nothing reached the cluster', async (_, route) => {
      ownRun(caller, 'prod', 'batch');
      const response = await call(route, requestFor(route, caller, { cluster: 'prod', namespace: 'batch' }));
      expect(response.status, JSON.stringify(response.jsonBody)).toBe(KINDS[route.name] === 'run' ? 404 : 403);
      expect(kube.calls).toEqual([]);
      expect(client.startCount).toBe(0);
      expect(client.events).toEqual([]);
    });

    it.each(confined.map((r) => [r.name, r] as const))('%s: the same request inside the policy gets past the check (the refusal above is the policy)', async (_, route) => {
      ownRun(caller, 'dev', 'batch');
      const response = await call(route, requestFor(route, caller, { cluster: 'dev', namespace: 'batch' }));
      expect(response.status, JSON.stringify(response.jsonBody)).toBeLessThan(300);
    });

    it.each(adminOnly.map((r) => [r.name, r] as const))('%s: refused to a caller without the admin role (403), and answered past that check to one with it', async (_, route) => {
      const refused = await call(route, requestFor(route, caller, { cluster: 'dev', namespace: 'batch' }));
      expect(refused.status).toBe(403);
      expect((refused.jsonBody as { detail: string }).detail).toContain('AksJobRunner.Admin');
      if (caller === 'entra') {
        const admin = requestFor(route, caller, { cluster: 'dev', namespace: 'batch' });
        admin.headers.set('x-ms-client-principal', principal(APP, OBJECT, ['AksJobRunner.Admin']));
        const answered = await call(route, admin);
        // No audit store is configured here: the 503 says so, after the admin check let the request through.
        expect(answered.status, JSON.stringify(answered.jsonBody)).toBe(503);
        expect((answered.jsonBody as { detail: string }).detail).toContain('no audit store');
      }
      expect(kube.calls).toEqual([]);
    });

    it('GET /clusters lists only the clusters and namespaces the policy allows', async () => {
      const route = API_ROUTES.find((r) => r.name === 'listClusters');
      if (!route) throw new Error('no listClusters route');
      const response = await call(route, requestFor(route, caller, { cluster: 'dev', namespace: 'batch' }));
      expect(response.status).toBe(200);
      expect(response.jsonBody).toEqual({ default: 'dev', items: [{ alias: 'dev', namespaces: ['batch'] }] });
    });
  });
});
