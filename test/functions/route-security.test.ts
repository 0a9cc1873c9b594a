import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import type { V1CronJob, V1Job } from '@kubernetes/client-node';
import { beforeEach, describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config.js';
import { cloneJob } from '../../src/core/clone.js';
import { RUNNABLE_ANNOTATION } from '../../src/core/consent.js';
import { CALLER_ANNOTATION, MANAGED_BY_LABEL, MANAGED_BY_VALUE, RUN_ID_LABEL, SOURCE_KIND_LABEL, SOURCE_NAME_LABEL } from '../../src/core/labels.js';
import { createCronJob } from '../../src/functions/createCronJob.js';
import { deleteCronJob } from '../../src/functions/deleteCronJob.js';
import { getCronJob } from '../../src/functions/getCronJob.js';
import { getRunLogs } from '../../src/functions/getRunLogs.js';
import { listCronJobRuns } from '../../src/functions/listCronJobRuns.js';
import { listCronJobs } from '../../src/functions/listCronJobs.js';
import { startCronJobRun } from '../../src/functions/startCronJobRun.js';
import { updateCronJob } from '../../src/functions/updateCronJob.js';
import { ADMIN_ROLE } from '../../src/http/caller.js';
import { createServices, setServices } from '../../src/services.js';
import { FakeDurableClient } from '../fakes/durable-client.js';
import { FakeKube } from '../fakes/kube.js';

/** Issue 21 items 4, 5 and 9, each attack through the real handlers over an in-memory cluster. */
const t0 = new Date('2026-11-23T10:00:00Z');
const BASE = 'https://jobs.example.net/api';
const APP_A = 'aaaaaaaa-0000-4000-8000-00000000000a';
const APP_C = 'cccccccc-0000-4000-8000-00000000000c';
const ADMIN = 'dddddddd-0000-4000-8000-00000000000d';
const A_RUN = 'report-aaaaaaaa01';
const CLUSTERS = JSON.stringify([{ alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/nonexistent/kubeconfig', namespaces: ['batch'] }]);

let kube: FakeKube;
let client: FakeDurableClient;
let suffix = 0;
const context = () => new InvocationContext({ functionName: 'test', invocationId: 'inv-1', logHandler: () => undefined });

function useSettings(settings: Record<string, string> = {}): void {
  const config = loadConfig({ CLUSTERS, EASY_AUTH_ENABLED: 'true', HTTP_CALL_ALLOWED_URLS: 'https://x.example/api/', ...settings });
  setServices(createServices(config, { gatewayFactory: () => kube, newSuffix: () => `abcdefg${String(suffix++).padStart(3, '0')}`, now: () => t0 }));
}

function principal(appId: string, roles: string[] = []): string {
  const claims = [{ typ: 'appid', val: appId }, { typ: 'oid', val: `${appId}-sp` }, ...roles.map((val) => ({ typ: 'roles', val }))];
  return Buffer.from(JSON.stringify({ auth_typ: 'aad', claims, role_typ: 'roles' })).toString('base64');
}
const as = (appId: string, roles: string[] = []) => ({ 'x-ms-client-principal': principal(appId, roles) });
const KEY = { 'x-functions-key': 'key-1' };

const template = (env: { name: string; value: string }[] = [{ name: 'REPORT_DATE', value: 'today' }, { name: 'API_TOKEN', value: 'plain-but-private' }]) => ({
  spec: { template: { spec: { restartPolicy: 'OnFailure', containers: [{ name: 'main', image: 'busybox:1.36', env }] } } },
});
function cronJob(name: string, annotations: Record<string, string> = {}, uid = `uid-${name}`): V1CronJob {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name, namespace: 'batch', uid, resourceVersion: '5', annotations },
    spec: { schedule: '0 3 * * *', concurrencyPolicy: 'Forbid', jobTemplate: template() },
    status: {},
  };
}

/** A run of CronJob `report` the app started for caller A: its Job, unfinished, with A on it. */
function runOfA(): V1Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: A_RUN,
      namespace: 'batch',
      creationTimestamp: t0,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [RUN_ID_LABEL]: A_RUN, [SOURCE_KIND_LABEL]: 'CronJob', [SOURCE_NAME_LABEL]: 'report' },
      annotations: { [CALLER_ANNOTATION]: `entra:${APP_A}:${APP_A}-sp`, 'cronjob.kubernetes.io/instantiate': 'manual' },
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'report', uid: 'uid-report', controller: true }],
    },
    spec: template().spec,
    status: { active: 1, startTime: t0 },
  };
}

function request(method: string, path: string, params: Record<string, string>, headers: Record<string, string> = {}, body?: unknown): HttpRequest {
  return new HttpRequest({
    method,
    url: `${BASE}/${path}`,
    params,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: { string: JSON.stringify(body) } }),
  });
}
const json = (r: HttpResponseInit) => r.jsonBody as Record<string, unknown>;
const text = (r: HttpResponseInit) => JSON.stringify(r.jsonBody);
const startReport = (headers: Record<string, string>, query = '') =>
  startCronJobRun(request('POST', `cronjobs/batch/report/runs${query}`, { namespace: 'batch', name: 'report' }, headers, {}), client, context());
const detail = (name: string, headers: Record<string, string>) => getCronJob(request('GET', `cronjobs/batch/${name}`, { namespace: 'batch', name }, headers), context());
const runs = (name: string, headers: Record<string, string>) => listCronJobRuns(request('GET', `cronjobs/batch/${name}/runs`, { namespace: 'batch', name }, headers), context());
const patch = (name: string, body: unknown, headers: Record<string, string> = KEY) =>
  updateCronJob(request('PATCH', `cronjobs/batch/${name}`, { namespace: 'batch', name }, { ...headers, 'If-Match': '"5"' }, body), context());
const remove = (name: string, headers: Record<string, string> = KEY) => deleteCronJob(request('DELETE', `cronjobs/batch/${name}`, { namespace: 'batch', name }, headers), context());
const logs = (job: string, headers: Record<string, string> = KEY) =>
  getRunLogs(request('GET', `runs/${job}/logs?namespace=batch`, { runId: job }, headers), client, context());
const writes = () => kube.calls.filter((c) => /^(create|patch|delete|readPodLog)/.test(c));

beforeEach(() => {
  suffix = 0;
  kube = new FakeKube().addCronJob({ ...cronJob('report'), status: { active: [{ name: A_RUN, namespace: 'batch' }] } }).addJob(runOfA());
  client = new FakeDurableClient();
  client.put({ instanceId: A_RUN, input: { request: { runId: A_RUN, cluster: 'dev', namespace: 'batch', source: { kind: 'CronJob', name: 'report' }, caller: { kind: 'entra', appId: APP_A, objectId: `${APP_A}-sp` } } } });
  useSettings();
});

describe('Entra callers are isolated on CronJob runs (item 5)', () => {
  it("?concurrencyPolicy=Replace by caller C does not cancel caller A's run: 409, nothing cancelled, nothing started, A's run not named", async () => {
    const response = await startReport(as(APP_C), '?concurrencyPolicy=Replace');
    expect(response.status, text(response)).toBe(409);
    expect(json(response).detail).toContain('an active run started by another caller');
    expect(text(response)).not.toContain(A_RUN);
    expect(client.events).toEqual([]);
    expect(kube.calls.filter((c) => c.startsWith('deleteJob'))).toEqual([]);
    expect(client.startCount).toBe(0);
  });

  it("Forbid's 409 says another caller's run is active without naming it", async () => {
    const response = await startReport(as(APP_C));
    expect(response.status).toBe(409);
    expect(json(response).detail).toContain('concurrencyPolicy Forbid and an active run started by another caller');
    expect(text(response)).not.toContain(A_RUN);
  });

  it("a key caller cannot replace an Entra caller's run either", async () => {
    const response = await startReport(KEY, '?concurrencyPolicy=Replace');
    expect(response.status).toBe(409);
    expect(client.events).toEqual([]);
  });

  it('the run\'s own starter, and an admin, replace it: the cancel event is raised and its Job deleted', async () => {
    for (const who of [as(APP_A), as(ADMIN, [ADMIN_ROLE])]) {
      kube.addJob(runOfA());
      client.events.length = 0;
      const response = await startReport(who, '?concurrencyPolicy=Replace');
      expect(response.status, text(response)).toBe(202);
      expect(client.events.map((e) => e.instanceId)).toEqual([A_RUN]);
      expect(kube.calls).toContain(`deleteJob batch/${A_RUN}`);
    }
  });

  it("the Forbid 409 still names the caller's own run", async () => {
    const response = await startReport(as(APP_A));
    expect(response.status).toBe(409);
    expect(json(response).detail).toContain(`"${A_RUN}"`);
  });

  it("the runs listing, the CronJob's detail and the CronJob listing show A's run to A and an admin only", async () => {
    const listed = async (headers: Record<string, string>) => {
      const list = await listCronJobs(request('GET', 'cronjobs?namespace=batch', {}, headers), context());
      return [await runs('report', headers), await detail('report', headers), list].map((r) => {
        expect(r.status, text(r)).toBe(200);
        return text(r).includes(A_RUN);
      });
    };
    expect(await listed(as(APP_C))).toEqual([false, false, false]);
    expect(await listed(KEY)).toEqual([false, false, false]);
    expect(await listed(as(APP_A))).toEqual([true, true, true]);
    expect(await listed(as(ADMIN, [ADMIN_ROLE]))).toEqual([true, true, true]);
  });

  it('a clone carries its caller, and never a caller annotation its source wrote', () => {
    const source: V1Job = { ...runOfA(), metadata: { name: 'src', namespace: 'batch', annotations: { [CALLER_ANNOTATION]: `entra:${APP_C}:x` } } };
    const identity = { runId: 'src-abcdefgh', namespace: 'batch', sourceKind: 'Job' as const, sourceName: 'src', requestHash: 'h' };
    expect(cloneJob(source, { ...identity, caller: { kind: 'entra', appId: APP_A, objectId: 'o' } }, {}).metadata?.annotations?.[CALLER_ANNOTATION]).toBe(`entra:${APP_A}:o`);
    expect(cloneJob(source, identity, {}).metadata?.annotations?.[CALLER_ANNOTATION]).toBeUndefined();
  });
});

describe('a source kept out is kept out of every route (item 4)', () => {
  beforeEach(() => {
    kube.addCronJob(cronJob('kept', { [RUNNABLE_ANNOTATION]: 'false' }));
    const keptJob: V1Job = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'kept-job', namespace: 'batch', annotations: { [RUNNABLE_ANNOTATION]: 'false' } }, spec: template().spec };
    kube.addJob(keptJob);
    // A run the cluster fired from CronJob kept: its Job carries nothing of the CronJob's annotations.
    kube.addJob({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'kept-29000000', namespace: 'batch', ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'kept', uid: 'uid-kept', controller: true }] }, spec: template().spec });
    for (const job of ['kept-job', 'kept-29000000']) {
      kube.pods.push({ metadata: { name: `${job}-pod`, namespace: 'batch', labels: { 'batch.kubernetes.io/job-name': job }, creationTimestamp: t0 }, spec: { containers: [{ name: 'main' }] } });
    }
    kube.calls.length = 0;
  });

  it.each([
    ['PATCH of its env', () => patch('kept', { env: { REPORT_DATE: 'x' } })],
    ['PATCH of its schedule', () => patch('kept', { schedule: '* * * * *' })],
    ['PATCH of its suspension', () => patch('kept', { suspend: false })],
    ['DELETE', () => remove('kept')],
    ['GET its detail', () => detail('kept', KEY)],
    ['GET its runs', () => runs('kept', KEY)],
    ['GET the logs of its run the cluster fired', () => logs('kept-29000000')],
    ['GET the logs of a kept-out Job', () => logs('kept-job')],
  ])('%s: 403 SourceNotRunnable naming the annotation, and nothing written or read from its pods', async (_, call) => {
    const response = await call();
    expect(response.status, text(response)).toBe(403);
    expect(json(response).title).toBe('SourceNotRunnable');
    expect(json(response).detail).toContain(RUNNABLE_ANNOTATION);
    expect(writes()).toEqual([]);
    expect(kube.calls.filter((c) => c.startsWith('listPods'))).toEqual([]);
  });

  it('the same routes answer for a CronJob and Job that are not kept out (the refusal is the annotation)', async () => {
    expect((await patch('report', { schedule: '0 4 * * *' })).status).toBe(200);
    kube.pods.push({ metadata: { name: `${A_RUN}-pod`, namespace: 'batch', labels: { 'batch.kubernetes.io/job-name': A_RUN }, creationTimestamp: t0 }, spec: { containers: [{ name: 'main' }] } });
    expect((await logs(A_RUN, as(APP_A))).status).toBe(200);
    kube.addJob({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'open-job', namespace: 'batch' }, spec: template().spec });
    kube.pods.push({ metadata: { name: 'open-job-pod', namespace: 'batch', labels: { 'batch.kubernetes.io/job-name': 'open-job' }, creationTimestamp: t0 }, spec: { containers: [{ name: 'main' }] } });
    expect((await logs('open-job')).status).toBe(200);
    expect((await remove('report')).status).toBe(204);
  });

  it('under SOURCES_OPT_IN a CronJob without runnable "true" is refused on every route, and an httpCall CronJob the app made is opted in', async () => {
    useSettings({ SOURCES_OPT_IN: 'true' });
    expect((await patch('report', { schedule: '0 4 * * *' })).status).toBe(403);
    expect((await remove('report')).status).toBe(403);
    expect((await runs('report', KEY)).status).toBe(403);
    const created = await createCronJob(request('POST', 'cronjobs/batch', { namespace: 'batch' }, KEY, { name: 'ping', httpCall: { url: 'https://x.example/api/ping', method: 'POST' }, schedule: '0 3 * * *' }), context());
    expect(created.status, text(created)).toBe(201);
    expect(kube.cronJobs.get('batch/ping')?.metadata?.annotations?.[RUNNABLE_ANNOTATION]).toBe('true');
    expect((await remove('ping')).status).toBe(204);
  });

  it("another caller's run is not readable through the logs route by naming its namespace", async () => {
    client.instances.clear();
    kube.pods.push({ metadata: { name: `${A_RUN}-pod`, namespace: 'batch', labels: { 'batch.kubernetes.io/job-name': A_RUN }, creationTimestamp: t0 }, spec: { containers: [{ name: 'main' }] } });
    expect((await logs(A_RUN, as(APP_C))).status).toBe(404);
    expect((await logs(A_RUN, as(APP_A))).status).toBe(200);
  });
});

describe('smaller leaks (item 9)', () => {
  it('DISCOVERY_SHOW_ENV_VALUES=false hides env values in the CronJob detail, a PATCH answer and a (dry-run) create from a Deployment', async () => {
    useSettings({ DISCOVERY_SHOW_ENV_VALUES: 'false' });
    kube.addDeployment({
      metadata: { name: 'web', namespace: 'batch' },
      spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'web:1', env: [{ name: 'API_TOKEN', value: 'plain-but-private' }] }] } } },
    });
    const got = await detail('report', KEY);
    expect(got.status).toBe(200);
    expect((json(got).settings as { containers: { env: unknown }[] }).containers[0]?.env).toEqual({ REPORT_DATE: null, API_TOKEN: null });
    const patched = await patch('report', { schedule: '0 4 * * *' });
    expect(patched.status).toBe(200);
    const body = { name: 'from-web', fromDeployment: 'web', schedule: '0 3 * * *' };
    const dry = await createCronJob(request('POST', 'cronjobs/batch?dryRun=true', { namespace: 'batch' }, KEY, body), context());
    const made = await createCronJob(request('POST', 'cronjobs/batch', { namespace: 'batch' }, KEY, body), context());
    expect([dry.status, made.status]).toEqual([200, 201]);
    for (const answer of [got, patched, dry, made]) {
      expect(text(answer)).not.toContain('plain-but-private');
      expect(text(answer)).toContain('API_TOKEN');
    }
    // The cluster got the values: only the answer leaves them out.
    expect(JSON.stringify(kube.cronJobs.get('batch/from-web'))).toContain('plain-but-private');
  });

  it('with the default (values shown) the detail shows them, as discovery does', async () => {
    expect(text(await detail('report', KEY))).toContain('plain-but-private');
  });

  it.each([
    ['create', () => createCronJob(request('POST', 'cronjobs/batch', { namespace: 'batch' }, as(APP_C), { name: 'x', fromDeployment: 'web', schedule: '0 3 * * *' }), context())],
    ['detail', () => detail('report', as(APP_C))],
    ['patch', () => patch('report', { schedule: '0 4 * * *' }, as(APP_C))],
    ['delete', () => remove('report', as(APP_C))],
    ['runs', () => runs('report', as(APP_C))],
  ])('with Easy Auth off, principal headers are refused on the CronJob %s route: 400 UntrustedPrincipal, nothing asked of the cluster', async (_, call) => {
    useSettings({ EASY_AUTH_ENABLED: 'false' });
    kube.calls.length = 0;
    const response = await call();
    expect(response.status).toBe(400);
    expect(json(response).title).toBe('UntrustedPrincipal');
    expect(kube.calls).toEqual([]);
  });
});
