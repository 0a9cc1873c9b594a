import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import type { V1CronJob, V1Deployment } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { LocalDurable } from '../../local/durable/runtime.js';
import { RUNNABLE_ANNOTATION } from '../../src/core/consent.js';
import { createCronJob } from '../../src/functions/createCronJob.js';
import { deleteCronJob } from '../../src/functions/deleteCronJob.js';
import { getCronJob } from '../../src/functions/getCronJob.js';
import { getRunLogs } from '../../src/functions/getRunLogs.js';
import { listClusters } from '../../src/functions/listClusters.js';
import { listCronJobRuns } from '../../src/functions/listCronJobRuns.js';
import { startCronJobRun } from '../../src/functions/startCronJobRun.js';
import { updateCronJob } from '../../src/functions/updateCronJob.js';
import { createServices, setServices } from '../../src/services.js';
import { COMPLETE_DELAY_ANNOTATION } from '../../testenv/fates.js';
import { adminKube, testJob, useNamespace, waitFor } from './helpers.js';
import { localRunPath, runPathConfig } from './run-path.js';

/**
 * Issue 21 items 1, 4, 5 and 9 replayed as the tester did, on the real control plane: a key caller confined by
 * CALLER_POLICIES, two Entra callers, a CronJob its owner kept out. Each attack is refused, and what the cluster
 * holds afterwards (read with admin rights) shows that nothing reached it.
 */
const ns = useNamespace('routesec');
const other = useNamespace('routesec-demo');
const kube = adminKube();
const context = () => new InvocationContext({ functionName: 'it', invocationId: 'inv-routesec', logHandler: () => undefined });
const BASE = 'http://127.0.0.1:7071/api';
const APP_A = 'aaaaaaaa-0000-4000-8000-00000000000a';
const APP_C = 'cccccccc-0000-4000-8000-00000000000c';
const KEY = { 'x-functions-key': 'tester-key' };
let durable: LocalDurable;

function principal(appId: string): Record<string, string> {
  const claims = [
    { typ: 'appid', val: appId },
    { typ: 'oid', val: `${appId}-sp` },
  ];
  return { 'x-ms-client-principal': Buffer.from(JSON.stringify({ auth_typ: 'aad', claims })).toString('base64') };
}

function useSettings(settings: Record<string, string> = {}): void {
  const config = runPathConfig(ns(), {
    CLUSTERS: JSON.stringify([{ alias: 'local', type: 'kubeconfig', kubeconfigPath: inject('kubeconfigPath'), namespaces: [ns(), other()] }]),
    EASY_AUTH_ENABLED: 'true',
    // The key caller and caller C are confined to the first namespace; A has no entry.
    CALLER_POLICIES: JSON.stringify({ key: { namespaces: [ns()] }, [APP_C]: { namespaces: [ns()] } }),
    ...settings,
  });
  setServices(createServices(config));
}

function request(method: string, path: string, params: Record<string, string>, headers: Record<string, string>, body?: unknown): HttpRequest {
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

function cronJob(name: string, annotations: Record<string, string> = {}, runFor = '1h'): V1CronJob {
  const env = [
    { name: 'REPORT_DATE', value: 'today' },
    { name: 'API_TOKEN', value: 'plain-but-private' },
  ];
  const job = testJob({ name, namespace: '', env, annotations: { [COMPLETE_DELAY_ANNOTATION]: runFor } });
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name, annotations },
    spec: { schedule: '0 3 * * *', suspend: true, concurrencyPolicy: 'Forbid', jobTemplate: { spec: job.spec } },
  };
}

async function stored(namespace: string, name: string): Promise<V1CronJob | undefined> {
  return kube.batch.readNamespacedCronJob({ namespace, name }).catch(() => undefined);
}

beforeAll(async () => {
  durable = localRunPath();
  for (const namespace of [ns(), other()]) {
    await kube.batch.createNamespacedCronJob({ namespace, body: cronJob('report') });
    const deployment: V1Deployment = {
      metadata: { name: 'web' },
      spec: {
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'web:1', env: [{ name: 'API_TOKEN', value: 'plain-but-private' }] }] } },
      },
    };
    await kube.apps.createNamespacedDeployment({ namespace, body: deployment });
  }
  await kube.batch.createNamespacedCronJob({ namespace: ns(), body: cronJob('kept', { [RUNNABLE_ANNOTATION]: 'false' }) });
  await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'kept-job', namespace: ns(), jobAnnotations: { [RUNNABLE_ANNOTATION]: 'false' } }) });
});
afterAll(() => durable.close());

describe('a key caller and an Entra caller confined to one namespace (item 1)', () => {
  it.each([
    ['key', KEY],
    ['Entra', principal(APP_C)],
  ])('the %s caller cannot create, patch, delete or list the runs of CronJobs in another namespace; the cluster is unchanged', async (_, who) => {
    useSettings();
    const before = await stored(other(), 'report');
    const at = { namespace: other(), name: 'report' };
    const answers = [
      await createCronJob(request('POST', `cronjobs/${other()}`, { namespace: other() }, who, { name: 'evil', fromDeployment: 'web', schedule: '* * * * *' }), context()),
      await updateCronJob(request('PATCH', `cronjobs/${other()}/report`, at, { ...who, 'If-Match': `"${before?.metadata?.resourceVersion ?? ''}"` }, { suspend: false, schedule: '* * * * *' }), context()),
      await deleteCronJob(request('DELETE', `cronjobs/${other()}/report`, at, who), context()),
      await listCronJobRuns(request('GET', `cronjobs/${other()}/report/runs`, at, who), context()),
      await getCronJob(request('GET', `cronjobs/${other()}/report`, at, who), context()),
      await startCronJobRun(request('POST', `cronjobs/${other()}/report/runs`, at, who, {}), durable, context()),
    ];
    for (const answer of answers) {
      expect(answer.status, text(answer)).toBe(403);
      expect(json(answer).detail).toContain('CALLER_POLICIES');
    }
    const after = await stored(other(), 'report');
    expect(after?.metadata?.resourceVersion).toBe(before?.metadata?.resourceVersion);
    expect(after?.spec.suspend).toBe(true);
    expect(await stored(other(), 'evil')).toBeUndefined();
    expect((await kube.batch.listNamespacedJob({ namespace: other() })).items).toEqual([]);
    // GET /clusters names only the namespace it may use.
    const clusters = listClusters(request('GET', 'clusters', {}, who), context());
    expect(clusters.jsonBody).toEqual({ default: 'local', items: [{ alias: 'local', namespaces: [ns()] }] });
  });
});

describe('a CronJob and a Job their owners kept out (item 4)', () => {
  it("its env, schedule and suspension cannot be patched, it cannot be deleted, its runs and its Job's logs cannot be read", async () => {
    useSettings();
    const before = await stored(ns(), 'kept');
    const at = { namespace: ns(), name: 'kept' };
    const ifMatch = { ...KEY, 'If-Match': `"${before?.metadata?.resourceVersion ?? ''}"` };
    await waitFor('a pod of kept-job', async () => (await kube.core.listNamespacedPod({ namespace: ns(), labelSelector: 'batch.kubernetes.io/job-name=kept-job' })).items[0]);
    const answers = [
      await updateCronJob(request('PATCH', `cronjobs/${ns()}/kept`, at, ifMatch, { env: { REPORT_DATE: 'x; id' } }), context()),
      await updateCronJob(request('PATCH', `cronjobs/${ns()}/kept`, at, ifMatch, { schedule: '* * * * *' }), context()),
      await updateCronJob(request('PATCH', `cronjobs/${ns()}/kept`, at, ifMatch, { suspend: false }), context()),
      await deleteCronJob(request('DELETE', `cronjobs/${ns()}/kept`, at, KEY), context()),
      await listCronJobRuns(request('GET', `cronjobs/${ns()}/kept/runs`, at, KEY), context()),
      await getRunLogs(request('GET', `runs/kept-job/logs?namespace=${ns()}`, { runId: 'kept-job' }, KEY), durable, context()),
    ];
    for (const answer of answers) {
      expect(answer.status, text(answer)).toBe(403);
      expect(json(answer).title).toBe('SourceNotRunnable');
    }
    const after = await stored(ns(), 'kept');
    expect(after?.metadata?.resourceVersion).toBe(before?.metadata?.resourceVersion);
    expect(after?.spec).toMatchObject({ schedule: '0 3 * * *', suspend: true });
  });
});

describe('two Entra callers on one CronJob (item 5)', () => {
  it("C can neither replace A's run nor learn its id; A's run stays, and only A sees it listed", async () => {
    useSettings();
    const at = { namespace: ns(), name: 'report' };
    const started = await startCronJobRun(request('POST', `cronjobs/${ns()}/report/runs`, at, principal(APP_A), {}), durable, context());
    expect(started.status, text(started)).toBe(202);
    const runA = json(started).runId as string;
    await waitFor(`A's Job ${runA}`, () => kube.batch.readNamespacedJob({ namespace: ns(), name: runA }));

    const replace = await startCronJobRun(request('POST', `cronjobs/${ns()}/report/runs?concurrencyPolicy=Replace`, at, principal(APP_C), {}), durable, context());
    expect(replace.status, text(replace)).toBe(409);
    expect(text(replace)).not.toContain(runA);
    const forbid = await startCronJobRun(request('POST', `cronjobs/${ns()}/report/runs`, at, principal(APP_C), {}), durable, context());
    expect(forbid.status).toBe(409);
    expect(json(forbid).detail).toContain('started by another caller');
    expect(text(forbid)).not.toContain(runA);

    const job = await kube.batch.readNamespacedJob({ namespace: ns(), name: runA });
    expect(job.metadata?.deletionTimestamp).toBeUndefined();
    expect((await durable.getStatus(runA)).runtimeStatus).toBe('Running');
    // One run only: C started nothing.
    const runs = (await kube.batch.listNamespacedJob({ namespace: ns(), labelSelector: 'aks-job-runner.io/source-name=report' })).items;
    expect(runs.map((j) => j.metadata?.name)).toEqual([runA]);

    for (const [who, sees] of [
      [principal(APP_C), false],
      [KEY, false],
      [principal(APP_A), true],
    ] as const) {
      const listing = await listCronJobRuns(request('GET', `cronjobs/${ns()}/report/runs`, at, who), context());
      const detail = await getCronJob(request('GET', `cronjobs/${ns()}/report`, at, who), context());
      expect([listing.status, detail.status]).toEqual([200, 200]);
      expect([text(listing).includes(runA), text(detail).includes(runA)]).toEqual([sees, sees]);
    }
  });
});

describe('smaller leaks (item 9)', () => {
  it('with DISCOVERY_SHOW_ENV_VALUES=false neither the CronJob detail nor a dry-run create from a Deployment answers a plain env value', async () => {
    useSettings({ DISCOVERY_SHOW_ENV_VALUES: 'false' });
    const detail = await getCronJob(request('GET', `cronjobs/${ns()}/report`, { namespace: ns(), name: 'report' }, KEY), context());
    const dry = await createCronJob(request('POST', `cronjobs/${ns()}?dryRun=true`, { namespace: ns() }, KEY, { name: 'from-web', fromDeployment: 'web', schedule: '0 3 * * *' }), context());
    expect([detail.status, dry.status]).toEqual([200, 200]);
    for (const answer of [detail, dry]) {
      expect(text(answer)).toContain('API_TOKEN');
      expect(text(answer)).not.toContain('plain-but-private');
    }
    expect(await stored(ns(), 'from-web')).toBeUndefined();
  });
});
