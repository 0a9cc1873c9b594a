import { createHash } from 'node:crypto';

import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { type LocalAzurite, startAzurite } from '../../local/azurite.js';
import { API_ROUTES, type ApiRoute } from '../../src/api/routes.js';
import { loadConfig } from '../../src/config.js';
import { type AuditRecord, auditRecordSchema, KEY_HASH_LENGTH } from '../../src/core/audit.js';
import type { JobRunInput } from '../../src/core/schemas.js';
import { subscriptionIdOf } from '../../src/core/subscriptions.js';
import { EVENTS, OPERATIONS_ATTRIBUTES } from '../../src/core/telemetry-names.js';
import { createServices, services, setServices } from '../../src/services.js';
import { FakeDurableClient } from '../fakes/durable-client.js';
import { FakeKube } from '../fakes/kube.js';
import { captureTelemetry, type TelemetryCapture } from '../support/otel-capture.js';

/**
 * Issue 24, item 5: every route that changes something writes one audit record, to the telemetry and to the day's
 * append blob (on a real Azurite), whatever it answers. The walk takes the route table's mutating routes (every
 * method but GET), so a route added later is held to it without being named here: it fails until it is
 * registered through `audited` (src/http/audit.ts).
 */
const t0 = new Date('2026-11-23T10:00:00Z');
const BASE = 'https://jobs.example.net/api';
const KEY = 'audit-walk-function-key-0123456789';
const APP = 'aaaaaaaa-0000-4000-8000-00000000000a';
const OBJECT = 'aaaaaaaa-0000-4000-8000-0000000000a1';
const DAY_BLOB = '2026/11/23.jsonl';
/** A Logic Apps callback URL: its query string (`sig=`) is a secret, never in an audit record or its event. */
const SIG = 'audit-walk-callback-signature-0123456789';
const CALLBACK_QUERY = `api-version=2016-10-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=${SIG}`;
const CALLBACK_URL = `https://prod-00.westus.logic.azure.com/workflows/audit/triggers/manual/paths/invoke?${CALLBACK_QUERY}`;

let azurite: LocalAzurite;
let telemetry: TelemetryCapture;
let kube: FakeKube;
let client: FakeDurableClient;

function principal(roles: string[] = []): string {
  const claims = [
    { typ: 'appid', val: APP },
    { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: OBJECT },
    ...roles.map((val) => ({ typ: 'roles', val })),
  ];
  return Buffer.from(JSON.stringify({ auth_typ: 'aad', claims, name_typ: 'name', role_typ: 'roles' })).toString('base64');
}

function seed(): void {
  kube = new FakeKube();
  const spec = { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36', env: [{ name: 'X', value: '1' }] }] } } };
  kube.addJob({ metadata: { name: 'report', namespace: 'batch', uid: 'j-1' }, spec });
  kube.addJob({ metadata: { name: 'report-abcdefg999', namespace: 'batch', uid: 'r-1' }, spec });
  kube.addCronJob({ metadata: { name: 'report', namespace: 'batch', uid: 'c-1', resourceVersion: '1' }, spec: { schedule: '0 3 * * *', jobTemplate: { spec } } });
  kube.addDeployment({
    metadata: { name: 'web', namespace: 'batch' },
    spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'web:1' }] } } },
  });
  client = new FakeDurableClient(() => t0);
  const { poll, activityRetry } = loadConfig({ CLUSTERS: '[{"alias":"dev","type":"kubeconfig","kubeconfigPath":"/x","namespaces":["batch"]}]' });
  const input: JobRunInput = {
    poll,
    retry: activityRetry,
    request: { runId: 'report-abcdefg999', cluster: 'dev', namespace: 'batch', source: { kind: 'Job', name: 'report' }, overrides: {}, requestHash: 'h', trigger: { kind: 'http' }, caller: { kind: 'key' } },
  };
  client.put({ instanceId: 'report-abcdefg999', input });
}

function configure(): void {
  const config = loadConfig({
    CLUSTERS: JSON.stringify([{ alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/nonexistent/kubeconfig', namespaces: ['batch'] }]),
    DEFAULT_CLUSTER: 'dev',
    EASY_AUTH_ENABLED: 'true',
    FALLBACK_IMAGES: 'docker.io/library/',
    LOGS_CONNECTION_STRING: azurite.connectionString,
  });
  setServices(createServices(config, { gatewayFactory: () => kube, now: () => t0, newSuffix: () => 'abcdefg001' }));
}

type Who = 'key' | 'entra';
function requestFor(route: ApiRoute, who: Who, namespace: string, extra: { body?: unknown; headers?: Record<string, string>; runId?: string } = {}): HttpRequest {
  const runId = extra.runId ?? 'report-abcdefg999';
  const values: Record<string, string> = { namespace, name: 'report', runId, subscriptionId: subscriptionIdOf(runId, CALLBACK_URL) };
  // Only the route's own parameters, as the host gives them.
  const params: Record<string, string> = {};
  const path = route.route.replace(/\{\*?(\w+)\}/g, (_, name: string) => (params[name] = values[name] ?? ''));
  const bodies: Record<string, unknown> = {
    createCronJob: { name: 'nightly', fromDeployment: 'web', schedule: '0 3 * * *' },
    updateCronJob: { schedule: '0 4 * * *', resourceVersion: '1' },
    createRunSubscription: { url: CALLBACK_URL },
    unsubscribeCallback: { url: CALLBACK_URL },
  };
  const body = extra.body ?? bodies[route.name] ?? (route.method === 'POST' ? {} : undefined);
  const headers: Record<string, string> =
    who === 'key'
      ? { 'x-functions-key': KEY }
      : { 'x-functions-key': KEY, 'x-ms-client-principal': principal(), 'x-ms-client-principal-id': OBJECT, 'x-ms-client-principal-idp': 'aad' };
  return new HttpRequest({
    method: route.method,
    url: `${BASE}/${path}`,
    params,
    headers: { 'content-type': 'application/json', ...headers, ...extra.headers },
    ...(body === undefined ? {} : { body: { string: JSON.stringify(body) } }),
  });
}

type Handler = (request: HttpRequest, ...rest: unknown[]) => Promise<HttpResponseInit>;
async function handlerOf(name: string): Promise<Handler> {
  const module = (await import(/* @vite-ignore */ new URL(`../../src/functions/${name}.ts`, import.meta.url).href)) as Record<string, Handler>;
  const handler = module[name];
  if (!handler) throw new Error(`src/functions/${name}.ts exports no handler ${name}`);
  return handler;
}
async function call(name: string, request: HttpRequest): Promise<HttpResponseInit> {
  const handler = await handlerOf(name);
  const context = new InvocationContext({ functionName: name, invocationId: `inv-${name}`, logHandler: () => undefined });
  return handler.length === 3 ? handler(request, client, context) : handler(request, context);
}

async function stored(): Promise<AuditRecord[]> {
  const store = services().audit;
  if (!store) throw new Error('no audit store');
  const text = (await store.get(DAY_BLOB))?.toString('utf8') ?? '';
  return text.split('\n').filter((line) => line !== '').map((line) => auditRecordSchema().parse(JSON.parse(line)));
}

const mutating = API_ROUTES.filter((r) => r.method !== 'GET');
/** Bodies that routes with neither a namespace nor a run in their path refuse (a 400). */
const REFUSED_BODIES: Record<string, unknown> = { unsubscribeCallback: { callbackUrl: CALLBACK_URL } };

beforeAll(async () => {
  azurite = await startAzurite();
  telemetry = captureTelemetry();
}, 60_000);
afterAll(async () => {
  await telemetry.stop();
  await azurite.stop();
});
beforeEach(async () => {
  seed();
  configure();
  await telemetry.reset();
});

describe('the audit trail, walked over the route table', () => {
  it('finds the mutating routes (the walk itself works)', () => {
    expect(mutating.map((r) => r.name)).toEqual(
      expect.arrayContaining(['startJobRun', 'startCronJobRun', 'cancelRun', 'rerunRun', 'createCronJob', 'updateCronJob', 'deleteCronJob', 'createRunSubscription', 'deleteRunSubscription', 'unsubscribeCallback']),
    );
  });

  describe.each(['key', 'entra'] as const)('as a %s caller', (who) => {
    it.each(mutating.map((r) => [r.name, r] as const))('%s writes exactly one record when it does the change, and one when it is refused', async (_, route) => {
      const before = (await stored()).length;
      const done = await call(route.name, requestFor(route, who, 'batch'));
      // Outside the allow-list, or a run that does not exist: refused before anything is touched. A route named by
      // neither (the Logic Apps Unsubscribe, which answers 204 to a URL it does not know) is refused a bad body.
      const refusal = REFUSED_BODIES[route.name];
      const refused = await call(route.name, requestFor(route, who, 'kube-system', { runId: 'no-such-run', ...(refusal ? { body: refusal } : {}) }));
      const records = (await stored()).slice(before);
      expect(records.map((r) => [r.action, r.status])).toEqual([
        [route.name, done.status ?? 200],
        [route.name, refused.status ?? 200],
      ]);
      expect(refused.status).toBeGreaterThanOrEqual(400);
      expect(records[1]?.outcome).toBe('refused');
      expect(records[1]?.reason).toBe((refused.jsonBody as { title?: string }).title);
      const events = telemetry.events(EVENTS.audit);
      expect(events.map((e) => [e[OPERATIONS_ATTRIBUTES.auditAction], e['http.response.status_code']])).toEqual([
        [route.name, done.status ?? 200],
        [route.name, refused.status ?? 200],
      ]);
      for (const record of records) {
        expect(record.time).toBe(t0.toISOString());
        expect(record.invocationId).toBe(`inv-${route.name}`);
        expect(record.caller).toEqual(who === 'key' ? { kind: 'key', keyHash: createHash('sha256').update(KEY).digest('hex').slice(0, KEY_HASH_LENGTH) } : { kind: 'entra', appId: APP, objectId: OBJECT });
      }
      // Never the key, nor the longer hash that scopes idempotency keys, nor the principal header.
      const everything = JSON.stringify({ records, events });
      expect(everything).not.toContain(KEY);
      expect(everything).not.toContain(createHash('sha256').update(KEY).digest('hex').slice(0, 32));
      expect(everything).not.toContain(principal());
      // Nor a callback URL's query string (the subscription routes take one in their body).
      expect(everything).not.toContain(SIG);
      expect(everything).not.toContain(CALLBACK_QUERY);
    });
  });

  it('names where a change acted: the cluster, namespace and name of the route, and the run a start made', async () => {
    const route = API_ROUTES.find((r) => r.name === 'startJobRun');
    if (!route) throw new Error('no startJobRun');
    const answer = await call(route.name, requestFor(route, 'key', 'batch'));
    expect(answer.status).toBe(202);
    const [record] = (await stored()).slice(-1);
    expect(record).toMatchObject({ action: 'startJobRun', outcome: 'succeeded', status: 202, target: { namespace: 'batch', name: 'report', runId: (answer.jsonBody as { runId: string }).runId } });
  });

  it('tells a hand-over from other edits, by field names only', async () => {
    const route = API_ROUTES.find((r) => r.name === 'updateCronJob');
    if (!route) throw new Error('no updateCronJob');
    const answer = await call(route.name, requestFor(route, 'entra', 'batch', { body: { scheduler: 'app', resourceVersion: '1' } }));
    expect(answer.status, JSON.stringify(answer.jsonBody)).toBe(200);
    const [record] = (await stored()).slice(-1);
    expect(record?.detail).toMatch(/^handOver; changed .*scheduler/);
  });

  it('a refused principal is recorded as an unknown caller, with the 400', async () => {
    const route = API_ROUTES.find((r) => r.name === 'cancelRun');
    if (!route) throw new Error('no cancelRun');
    configureWithoutEasyAuth();
    const answer = await call(route.name, requestFor(route, 'entra', 'batch'));
    expect(answer.status).toBe(400);
    const [record] = (await stored()).slice(-1);
    expect(record).toMatchObject({ action: 'cancelRun', caller: { kind: 'unknown' }, outcome: 'refused', reason: 'UntrustedPrincipal' });
  });
});

function configureWithoutEasyAuth(): void {
  const config = loadConfig({
    CLUSTERS: JSON.stringify([{ alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/nonexistent/kubeconfig', namespaces: ['batch'] }]),
    LOGS_CONNECTION_STRING: azurite.connectionString,
  });
  setServices(createServices(config, { gatewayFactory: () => kube, now: () => t0 }));
}

describe('reading the audit trail (GET /api/audit)', () => {
  const read = (query: string, roles: string[]) =>
    call(
      'listAuditRecords',
      new HttpRequest({
        method: 'GET',
        url: `${BASE}/audit${query}`,
        headers: { 'x-functions-key': KEY, 'x-ms-client-principal': principal(roles), 'x-ms-client-principal-id': OBJECT, 'x-ms-client-principal-idp': 'aad' },
      }),
    );

  it('pages an admin through the day, in the order written, and refuses everyone else', async () => {
    const all = await stored();
    expect(all.length).toBeGreaterThan(3);
    expect((await read('?date=2026-11-23', [])).status).toBe(403);
    const seen: AuditRecord[] = [];
    let query = '?date=2026-11-23&limit=3';
    for (let pages = 0; pages < 100; pages++) {
      const page = await read(query, ['AksJobRunner.Admin']);
      expect(page.status, JSON.stringify(page.jsonBody)).toBe(200);
      const body = page.jsonBody as { date: string; items: AuditRecord[]; continue: string | null };
      expect(body.date).toBe('2026-11-23');
      expect(body.items.length).toBeLessThanOrEqual(3);
      seen.push(...body.items);
      if (!body.continue) break;
      query = `?limit=3&continue=${encodeURIComponent(body.continue)}`;
    }
    expect(seen).toEqual(all.slice(0, seen.length));
    expect(seen.length).toBeGreaterThanOrEqual(all.length);
  });

  it.each([
    ['a day that is no date', '?date=23-11-2026', 'date must be a day as YYYY-MM-DD'],
    ['a day that does not exist', '?date=2026-02-30', 'date must be a day'],
    ['a continue token it did not give', '?continue=bm90LWEtdG9rZW4', 'continue is not a token this route gave'],
    ['a limit out of range', '?limit=501', 'limit must be a whole number from 1 to 500'],
  ])('answers %s with a 400 that says what to send', async (_, query, says) => {
    const answer = await read(query, ['AksJobRunner.Admin']);
    expect(answer.status).toBe(400);
    expect((answer.jsonBody as { detail: string }).detail).toContain(says);
  });

  it('answers an empty page for a day without records', async () => {
    const answer = await read('?date=2020-01-01', ['AksJobRunner.Admin']);
    expect(answer).toMatchObject({ status: 200, jsonBody: { date: '2020-01-01', items: [], continue: null } });
  });
});
