import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import type { V1Job } from '@kubernetes/client-node';
import { beforeEach, describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config.js';
import { ALLOW_ENV_ANNOTATION, RUNNABLE_ANNOTATION } from '../../src/core/consent.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../src/core/labels.js';
import type { JobRunInput } from '../../src/core/schemas.js';
import { cancelRun } from '../../src/functions/cancelRun.js';
import { getRun } from '../../src/functions/getRun.js';
import { listJobs } from '../../src/functions/listJobs.js';
import { startCronJobRun } from '../../src/functions/startCronJobRun.js';
import { startJobRun } from '../../src/functions/startJobRun.js';
import { ADMIN_ROLE } from '../../src/http/caller.js';
import { createRun } from '../../src/runs/submit.js';
import { createServices, setServices } from '../../src/services.js';
import { FakeDurableClient } from '../fakes/durable-client.js';
import { FakeKube } from '../fakes/kube.js';

/** The attacks of issue 16 on the start path, each through the real handlers over in-memory clusters. */
const t0 = new Date('2026-11-23T10:00:00Z');
const BASE = 'https://jobs.example.net/api';
const APP_A = 'aaaaaaaa-0000-4000-8000-00000000000a';
const APP_B = 'bbbbbbbb-0000-4000-8000-00000000000b';
const CLUSTERS = JSON.stringify([{ alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/nonexistent/kubeconfig', namespaces: ['batch', 'etl'] }]);

let kube: FakeKube;
let client: FakeDurableClient;
let suffix = 0;
const context = () => new InvocationContext({ functionName: 'test', invocationId: 'inv-1', logHandler: () => undefined });

function useSettings(settings: Record<string, string>): void {
  const config = loadConfig({ CLUSTERS, ...settings });
  setServices(createServices(config, { gatewayFactory: () => kube, newSuffix: () => `abcdefg${String(suffix++).padStart(3, '0')}`, now: () => t0 }));
}

function sourceJob(annotations: Record<string, string> = {}, name = 'nightly'): V1Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: 'batch', uid: 'u1', creationTimestamp: t0, annotations },
    spec: {
      template: {
        spec: {
          restartPolicy: 'Never',
          containers: [
            {
              name: 'main',
              image: 'busybox:1.36',
              env: [
                { name: 'BATCH_DATE', value: 'today' },
                { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
              ],
            },
          ],
        },
      },
    },
  };
}

/** The X-MS-CLIENT-PRINCIPAL App Service Authentication sends for an application token. */
function principal(appId: string, objectId: string, roles: string[] = []): string {
  const claims = [
    { typ: 'appid', val: appId },
    { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: objectId },
    ...roles.map((val) => ({ typ: 'roles', val })),
  ];
  return Buffer.from(JSON.stringify({ auth_typ: 'aad', claims, name_typ: 'name', role_typ: 'roles' })).toString('base64');
}
const entra = (appId: string, objectId = `${appId}-sp`, roles: string[] = []) => ({
  'x-ms-client-principal': principal(appId, objectId, roles),
  'x-ms-client-principal-id': objectId,
  'x-ms-client-principal-idp': 'aad',
});

function request(method: 'GET' | 'POST', path: string, params: Record<string, string>, headers: Record<string, string> = {}, body?: unknown): HttpRequest {
  return new HttpRequest({
    method,
    url: `${BASE}/${path}`,
    headers: { 'content-type': 'application/json', ...headers },
    params,
    ...(body === undefined ? {} : { body: { string: JSON.stringify(body) } }),
  });
}
const start = (body: unknown = {}, query = '', headers: Record<string, string> = {}, name = 'nightly') =>
  startJobRun(request('POST', `jobs/batch/${name}/runs${query}`, { namespace: 'batch', name }, headers, body), client, context());
const status = (runId: string, headers: Record<string, string> = {}) => getRun(request('GET', `runs/${runId}`, { runId }, headers), client, context());
const cancel = (runId: string, headers: Record<string, string> = {}) => cancelRun(request('POST', `runs/${runId}/cancel`, { runId }, headers), client, context());

function problem(response: HttpResponseInit): { title: string; detail: string } {
  return response.jsonBody as { title: string; detail: string };
}
function header(response: HttpResponseInit, name: string): string | undefined {
  return (response.headers as Record<string, string> | undefined)?.[name];
}
function inputOf(response: HttpResponseInit): JobRunInput {
  const runId = (response.jsonBody as { runId: string }).runId;
  return client.instances.get(runId)?.input as JobRunInput;
}

beforeEach(() => {
  kube = new FakeKube().addJob(sourceJob());
  client = new FakeDurableClient();
  suffix = 0;
  useSettings({});
});

describe('fallback runs', () => {
  it('are refused while FALLBACK_IMAGES is empty (the default), with a 403 saying how to allow them', async () => {
    const response = await start({}, '?image=docker.io/library/busybox:1.36&command=["sh","-c","id"]', {}, 'missing');
    expect(response.status).toBe(403);
    expect(problem(response).title).toBe('FallbackNotAllowed');
    expect(problem(response).detail).toContain('FALLBACK_IMAGES');
    expect(client.startCount).toBe(0);
  });

  it('are refused for an image outside the allow-list and started for one inside it', async () => {
    useSettings({ FALLBACK_IMAGES: 'myacr.azurecr.io/tools/' });
    const outside = await start({}, '?image=docker.io/attacker/miner:1', {}, 'missing');
    expect(outside.status).toBe(403);
    expect(problem(outside).detail).toContain('image "docker.io/attacker/miner:1" is not one this app may run');
    const inside = await start({}, '?image=myacr.azurecr.io/tools/curl:8', {}, 'missing');
    expect(inside.status).toBe(202);
  });

  it('are refused to a caller whose policy says "fallback": false', async () => {
    useSettings({ FALLBACK_IMAGES: 'myacr.azurecr.io/tools/', EASY_AUTH_ENABLED: 'true', CALLER_POLICIES: JSON.stringify({ [APP_A]: { fallback: false } }) });
    const response = await start({}, '?image=myacr.azurecr.io/tools/curl:8', entra(APP_A), 'missing');
    expect(response.status).toBe(403);
    expect(problem(response).detail).toContain(`runs from an image are not allowed for application ${APP_A}`);
  });
});

describe('env overrides', () => {
  it('a new name is refused without consent and accepted with it', async () => {
    const refused = await start({ DB_HOST: 'evil.example' });
    expect(refused.status).toBe(400);
    expect(problem(refused).title).toBe('EnvNotAllowed');
    expect(problem(refused).detail).toContain('"DB_HOST"');
    expect(problem(refused).detail).toContain(ALLOW_ENV_ANNOTATION);
    kube.addJob(sourceJob({ [ALLOW_ENV_ANNOTATION]: 'DB_HOST' }));
    expect((await start({ DB_HOST: 'db2.internal' })).status).toBe(202);
  });

  it('a valueFrom replacement is refused without consent and accepted with it', async () => {
    const refused = await start({ DB_PASSWORD: 'guess' });
    expect(refused.status).toBe(400);
    expect(problem(refused).detail).toContain('"DB_PASSWORD" takes its value from a Secret');
    kube.addJob(sourceJob({ [ALLOW_ENV_ANNOTATION]: '*' }));
    expect((await start({ DB_PASSWORD: 'rotated' })).status).toBe(202);
  });

  it('a loader variable is refused even under "*", and accepted when the source names it', async () => {
    kube.addJob(sourceJob({ [ALLOW_ENV_ANNOTATION]: '*' }));
    const refused = await start({ NODE_OPTIONS: '--import=data:text/javascript,process.exit(7)' });
    expect(refused.status).toBe(400);
    expect(problem(refused).detail).toContain('"NODE_OPTIONS" changes what code the run loads');
    kube.addJob(sourceJob({ [ALLOW_ENV_ANNOTATION]: 'NODE_OPTIONS' }));
    expect((await start({ NODE_OPTIONS: '--max-old-space-size=512' })).status).toBe(202);
  });

  it("a CronJob run follows the CronJob's own annotation and its jobTemplate's env", async () => {
    const cronJob = (annotations: Record<string, string>) => ({
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'report', namespace: 'batch', uid: 'cj-1', annotations },
      spec: { schedule: '0 3 * * *', jobTemplate: { metadata: { annotations: { [ALLOW_ENV_ANNOTATION]: '*' } }, spec: sourceJob().spec } },
    });
    const startCron = (body: unknown) =>
      startCronJobRun(request('POST', 'cronjobs/batch/report/runs', { namespace: 'batch', name: 'report' }, {}, body), client, context());
    kube.addCronJob(cronJob({}));
    expect((await startCron({ BATCH_DATE: 'x' })).status).toBe(202);
    const refused = await startCron({ REPORT_DAY: 'x' });
    expect(refused.status).toBe(400);
    expect(problem(refused).detail).toContain('"REPORT_DAY" is not declared by CronJob "report"');
    kube.addCronJob(cronJob({ [ALLOW_ENV_ANNOTATION]: 'REPORT_DAY' }));
    expect((await startCron({ REPORT_DAY: 'x' })).status).toBe(202);
  });

  it('a declared plain value is accepted as before', async () => {
    const response = await start({ BATCH_DATE: '2026-11-24' });
    expect(response.status).toBe(202);
    expect(inputOf(response).request.overrides).toEqual({ BATCH_DATE: '2026-11-24' });
  });

  it('is checked again when the run is submitted: a source that withdrew its consent meanwhile rejects the run', async () => {
    kube.addJob(sourceJob({ [ALLOW_ENV_ANNOTATION]: 'DB_HOST' }));
    const response = await start({ DB_HOST: 'db2' });
    expect(response.status).toBe(202);
    kube.addJob(sourceJob());
    const config = loadConfig({ CLUSTERS });
    const result = await createRun(kube, inputOf(response).request, null, t0, config.runPolicy);
    expect(result).toMatchObject({ outcome: 'rejected', snapshot: { status: 'Failed', reason: 'EnvNotAllowed' } });
    expect(kube.calls.filter((c) => c.startsWith('createJob'))).toEqual([]);
  });
});

describe('sources kept out', () => {
  it(`a source annotated ${RUNNABLE_ANNOTATION}: "false" answers 403 naming the annotation`, async () => {
    kube.addJob(sourceJob({ [RUNNABLE_ANNOTATION]: 'false' }));
    const response = await start();
    expect(response.status).toBe(403);
    expect(problem(response).title).toBe('SourceNotRunnable');
    expect(problem(response).detail).toContain(RUNNABLE_ANNOTATION);
  });

  it('with SOURCES_OPT_IN only sources annotated runnable "true" run', async () => {
    useSettings({ SOURCES_OPT_IN: 'true' });
    const refused = await start();
    expect(refused.status).toBe(403);
    expect(problem(refused).detail).toContain('SOURCES_OPT_IN');
    kube.addJob(sourceJob({ [RUNNABLE_ANNOTATION]: 'true' }));
    expect((await start()).status).toBe(202);
  });

  it('discovery marks a source that cannot be run, with the reason, and keeps it on its page', async () => {
    kube.addJob(sourceJob({ [RUNNABLE_ANNOTATION]: 'false' }, 'private'));
    const response = await listJobs(request('GET', 'jobs?namespace=batch', {}), context());
    const items = (response.jsonBody as { items: { name: string; runnable: boolean; notRunnableReason: string | null }[] }).items;
    expect(items.map((i) => [i.name, i.runnable])).toEqual([
      ['nightly', true],
      ['private', false],
    ]);
    expect(items[1]?.notRunnableReason).toContain(RUNNABLE_ANNOTATION);
  });
});

describe('deadlines and the active-run cap', () => {
  it('every run has a timeout by default (DEFAULT_RUN_TIMEOUT_SECONDS, 25 h) and timeoutSeconds is bounded by MAX_RUN_TIMEOUT_SECONDS', async () => {
    expect(inputOf(await start()).request.timeoutSeconds).toBe(90_000);
    useSettings({ MAX_RUN_TIMEOUT_SECONDS: '3600', DEFAULT_RUN_TIMEOUT_SECONDS: '600' });
    expect(inputOf(await start()).request.timeoutSeconds).toBe(600);
    const tooLong = await start({}, '?timeoutSeconds=3601');
    expect(tooLong.status).toBe(400);
    expect(problem(tooLong).detail).toContain('from 1 to 3600 (MAX_RUN_TIMEOUT_SECONDS)');
  });

  function managedJob(name: string, namespace: string, finished?: 'Complete' | 'Failed'): V1Job {
    return {
      metadata: { name, namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } },
      spec: { template: { spec: { containers: [] } } },
      ...(finished ? { status: { conditions: [{ type: finished, status: 'True' }] } } : {}),
    };
  }

  it('answers 429 with Retry-After once the cluster has MAX_ACTIVE_RUNS_PER_CLUSTER unfinished runs, counting every allowed namespace', async () => {
    useSettings({ MAX_ACTIVE_RUNS_PER_CLUSTER: '2' });
    kube.addJob(managedJob('done-1', 'batch', 'Complete')).addJob(managedJob('done-2', 'etl', 'Failed')).addJob(managedJob('active-1', 'batch'));
    expect((await start()).status).toBe(202);
    kube.addJob(managedJob('active-2', 'etl'));
    const response = await start();
    expect(response.status).toBe(429);
    expect(problem(response).title).toBe('ActiveRunLimit');
    expect(header(response, 'Retry-After')).toBe('60');
    expect(kube.calls.filter((c) => c.startsWith('listJobs'))).toContain('listJobs etl');
  });
});

describe('who the caller is', () => {
  it('principal headers are refused while Easy Auth is off, so nobody can claim an identity', async () => {
    const response = await start({}, '', entra(APP_A, 'sp-a', [ADMIN_ROLE]));
    expect(response.status).toBe(400);
    expect(problem(response).title).toBe('UntrustedPrincipal');
    expect(problem(response).detail).toContain('EASY_AUTH_ENABLED');
    const runId = ((await start()).jsonBody as { runId: string }).runId;
    expect((await status(runId, entra(APP_A, 'sp-a', [ADMIN_ROLE]))).status).toBe(400);
    expect((await cancel(runId, entra(APP_A, 'sp-a', [ADMIN_ROLE]))).status).toBe(400);
  });

  it('each run records who started it: a key caller, or the Entra application and object id', async () => {
    expect(inputOf(await start({}, '?code=key-1')).request.caller).toEqual({ kind: 'key' });
    useSettings({ EASY_AUTH_ENABLED: 'true' });
    const byApp = inputOf(await start({}, '', entra(APP_A, 'sp-a')));
    expect(byApp.request.caller).toEqual({ kind: 'entra', appId: APP_A, objectId: 'sp-a' });
    expect(byApp.request.startedBy).toBe('inv-1');
    expect(JSON.stringify(byApp)).not.toContain('key-1');
  });

  it("with Entra callers a run's status and cancel answer only its starter or an admin; others get 404", async () => {
    useSettings({ EASY_AUTH_ENABLED: 'true' });
    const started = await start({}, '', entra(APP_A, 'sp-a'));
    const runId = (started.jsonBody as { runId: string }).runId;
    expect((await status(runId, entra(APP_A, 'sp-a'))).status).toBe(202);
    expect((await status(runId, entra(APP_A, 'sp-a', [ADMIN_ROLE]))).status).toBe(202);
    expect((await status(runId, entra(APP_B, 'sp-a', [ADMIN_ROLE]))).status).toBe(202);
    for (const other of [entra(APP_B, 'sp-b'), entra(APP_A, 'sp-other'), {}]) {
      const read = await status(runId, other);
      expect(read.status).toBe(404);
      expect(problem(read).detail).toBe(`no run with id "${runId}"; run ids are returned by the start routes`);
      expect((await cancel(runId, other)).status).toBe(404);
    }
    expect(client.events).toEqual([]);
    expect((await cancel(runId, entra(APP_A, 'sp-a'))).status).toBe(202);
  });

  it("a key caller's runs are not an Entra caller's to read", async () => {
    useSettings({ EASY_AUTH_ENABLED: 'true' });
    const runId = (((await start({}, '?code=k')).jsonBody) as { runId: string }).runId;
    expect((await status(runId, { 'x-functions-key': 'another' })).status).toBe(202);
    expect((await status(runId, entra(APP_B, 'sp-b'))).status).toBe(404);
  });

  it('a caller policy limits namespaces and clusters, whatever the request says', async () => {
    useSettings({ EASY_AUTH_ENABLED: 'true', CALLER_POLICIES: JSON.stringify({ [APP_A]: { namespaces: ['etl'] }, key: { clusters: ['prod'] } }) });
    const app = await start({}, '', entra(APP_A, 'sp-a'));
    expect(app.status).toBe(403);
    expect(problem(app).detail).toContain(`namespace "batch" is not allowed for application ${APP_A}`);
    const key = await start({}, '?code=k');
    expect(key.status).toBe(403);
    expect(problem(key).detail).toContain('cluster "dev" is not allowed for function-key callers');
    expect((await start({}, '', entra(APP_B, 'sp-b'))).status).toBe(202);
  });

  it('a caller policy limits discovery too', async () => {
    useSettings({ EASY_AUTH_ENABLED: 'true', CALLER_POLICIES: JSON.stringify({ [APP_A]: { namespaces: ['etl'] } }) });
    expect((await listJobs(request('GET', 'jobs?namespace=batch', {}, entra(APP_A, 'sp-a')), context())).status).toBe(403);
    expect((await listJobs(request('GET', 'jobs?namespace=batch', {}, entra(APP_B, 'sp-b')), context())).status).toBe(200);
  });
});

describe('idempotency keys are scoped to the caller', () => {
  const runIdOf = async (headers: Record<string, string>, query = '') =>
    ((await start({}, query, { 'Idempotency-Key': 'polysync-run-77', ...headers })).jsonBody as { runId: string }).runId;

  it('the same key from two function keys names two runs, from the same function key one', async () => {
    const first = await runIdOf({ 'x-functions-key': 'key-of-team-a' });
    expect(await runIdOf({}, '?code=key-of-team-a')).toBe(first);
    expect(await runIdOf({ 'x-functions-key': 'key-of-team-b' })).not.toBe(first);
  });

  it('the same key from two Entra callers names two runs, so one cannot squat or guess the other', async () => {
    useSettings({ EASY_AUTH_ENABLED: 'true' });
    const a = await runIdOf(entra(APP_A, 'sp-a'));
    expect(await runIdOf(entra(APP_A, 'sp-a'))).toBe(a);
    expect(await runIdOf(entra(APP_B, 'sp-b'))).not.toBe(a);
    expect(await runIdOf({ 'x-functions-key': 'k' })).not.toBe(a);
  });
});
