import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import { loadAllYaml, type V1CronJob, type V1Job, type V1Role, type V1RoleBinding } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';

import { orchestratorRunner } from '../../local/durable/engine.js';
import { LocalDurable } from '../../local/durable/runtime.js';
import type { BlobStore } from '../../src/clients/blob.js';
import { loadConfig } from '../../src/config.js';
import { type ArchiveIndex, indexBlobName } from '../../src/core/archive.js';
import { CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION } from '../../src/core/labels.js';
import type { RunSnapshot } from '../../src/core/run.js';
import { archiveRun } from '../../src/functions/archiveRun.js';
import { cancelRun } from '../../src/functions/cancelRun.js';
import { getRun } from '../../src/functions/getRun.js';
import { getRunLogs } from '../../src/functions/getRunLogs.js';
import { jobRun } from '../../src/functions/jobRun.js';
import { listCronJobRuns } from '../../src/functions/listCronJobRuns.js';
import { observeRun } from '../../src/functions/observeRun.js';
import { startCronJobRun } from '../../src/functions/startCronJobRun.js';
import { startJobRun } from '../../src/functions/startJobRun.js';
import { stopRun } from '../../src/functions/stopRun.js';
import { submitRun } from '../../src/functions/submitRun.js';
import { ArchivedJobs, archiveFinishedJobs, archiveRun as archiveRunNow, readIndex, readRunLog, sweepArchive } from '../../src/runs/archive.js';
import { createServices, services, setServices } from '../../src/services.js';
import { COMPLETE_DELAY_ANNOTATION, LOCAL_POD_LOG_LINES } from '../../testenv/fates.js';
import { adminKube, jobPods, testJob, useNamespace, waitFor } from './helpers.js';

/** The logs archive against the real control plane (kwok serves pod logs through the API server) and a real Azurite. */
const ns = useNamespace('archive');
const kube = adminKube();
let durable: LocalDurable;
let store: BlobStore;
const context = () => new InvocationContext({ functionName: 'it', invocationId: 'inv-archive', logHandler: () => undefined });
const BASE = 'http://127.0.0.1:7071/api';
const LOG_TEXT = `${LOCAL_POD_LOG_LINES.join('\n')}\n`;
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

beforeAll(() => {
  const config = loadConfig({
    CLUSTERS: JSON.stringify([
      { alias: 'local', type: 'kubeconfig', kubeconfigPath: inject('kubeconfigPath'), namespaces: [ns()] },
      // The app's identity with only what a Role grants it (see the RBAC test below).
      { alias: 'limited', type: 'kubeconfig', kubeconfigPath: inject('noRightsKubeconfigPath'), namespaces: [ns()] },
    ]),
    POLL_INITIAL_SECONDS: '1',
    POLL_MAX_SECONDS: '2',
    ACTIVITY_RETRY_FIRST_SECONDS: '1',
    LOGS_CONNECTION_STRING: inject('logsConnectionString'),
  });
  setServices(createServices(config));
  const logs = services().logs;
  if (!logs) throw new Error('the archive is not configured');
  store = logs;
  durable = new LocalDurable({ orchestrators: { jobRun: orchestratorRunner(jobRun) }, activities: { submitRun: (input, context) => submitRun(input, durable, context), observeRun, stopRun, archiveRun } });
});
afterAll(() => durable.close());

function get(path: string, params: Record<string, string>): HttpRequest {
  return new HttpRequest({ method: 'GET', url: `${BASE}/${path}`, params });
}
function post(path: string, params: Record<string, string>): HttpRequest {
  return new HttpRequest({ method: 'POST', url: `${BASE}/${path}`, params, headers: { 'content-type': 'application/json' }, body: { string: '{}' } });
}
function json(r: HttpResponseInit): Record<string, unknown> {
  return r.jsonBody as Record<string, unknown>;
}
function header(r: HttpResponseInit, name: string): string | undefined {
  return (r.headers as Record<string, string> | undefined)?.[name];
}
async function logs(runId: string, query = ''): Promise<HttpResponseInit> {
  return getRunLogs(get(`runs/${runId}/logs${query}`, { runId }), durable, context());
}

/** The run's final snapshot, once the orchestration (archive included) is done. */
async function completed(runId: string): Promise<RunSnapshot> {
  return waitFor(
    `run ${runId} to complete`,
    async () => {
      const status = await durable.getStatus(runId);
      return (status.runtimeStatus as string) === 'Completed' ? (status.output as RunSnapshot) : undefined;
    },
    90_000,
    500,
  );
}

async function gone(runId: string): Promise<void> {
  await kube.batch.deleteNamespacedJob({ name: runId, namespace: ns(), propagationPolicy: 'Background' });
  await waitFor('the Job and its pods to be gone', async () => {
    const job = await kube.batch.readNamespacedJob({ name: runId, namespace: ns() }).then(() => true, () => false);
    return !job && (await jobPods(kube, ns(), runId)).length === 0;
  });
}

describe('the logs archive on a real control plane and Azurite', () => {
  it("archives a run's logs when it ends; they are read live, then from the archive once the Job and its pods are gone", async () => {
    const source = testJob({ name: 'report', namespace: ns(), suspend: true, annotations: { [COMPLETE_DELAY_ANNOTATION]: '1s' }, terminationGracePeriodSeconds: 0 });
    const spec = source.spec?.template.spec;
    if (spec) spec.initContainers = [{ name: 'setup', image: 'busybox:1.36', command: ['sh', '-c', 'echo setup'] }];
    await kube.batch.createNamespacedJob({ namespace: ns(), body: source });
    const started = await startJobRun(post(`jobs/${ns()}/report/runs`, { namespace: ns(), name: 'report' }), durable, context());
    expect(started.status, JSON.stringify(started.jsonBody)).toBe(202);
    const runId = json(started).runId as string;

    const final = await completed(runId);
    expect(final).toMatchObject({ status: 'Success', archive: { location: `run-logs/${indexBlobName('local', ns(), runId)}` } });
    expect(final.archive?.error).toBeUndefined();
    const status = await getRun(get(`runs/${runId}`, { runId }), durable, context());
    expect(json(status).archive).toEqual(final.archive);
    expect(JSON.stringify(final)).not.toMatch(/AccountKey|Eby8vdM02/);

    const index = (await readIndex(store, 'local', ns(), runId)) as ArchiveIndex;
    expect(index).toMatchObject({ runId, trigger: 'http', source: { kind: 'Job', name: 'report' }, verdict: { status: 'Success' }, job: { blob: 'job.json' } });
    expect(index.logs.map((l) => [l.container, l.role, l.previous, l.truncated, l.bytes])).toEqual([
      ['setup', 'init', false, false, Buffer.byteLength(LOG_TEXT)],
      ['main', 'main', false, false, Buffer.byteLength(LOG_TEXT)],
    ]);
    expect(index.events.count).toBeGreaterThan(0);
    const events = JSON.parse((await store.get(`local/${ns()}/${runId}/events.json`))?.toString() ?? '[]') as { reason?: string }[];
    expect(events.map((e) => e.reason)).toContain('Completed');
    const job = JSON.parse((await store.get(`local/${ns()}/${runId}/job.json`))?.toString() ?? '{}') as V1Job;
    expect(job.metadata?.name).toBe(runId);
    expect(job.metadata?.managedFields).toBeUndefined();

    const live = await logs(runId);
    expect(live.status).toBe(200);
    expect(header(live, 'Content-Type')).toBe('text/plain; charset=utf-8');
    expect(header(live, 'X-Log-Source')).toBe('live');
    expect(header(live, 'X-Log-Container')).toBe('main');
    expect(header(live, 'Content-Disposition')).toMatch(new RegExp(`^inline; filename="${runId}-[a-z0-9]+-main\\.log"$`));
    expect(live.body).toBe(LOG_TEXT);

    await gone(runId);

    const archived = await logs(runId);
    expect(archived.status).toBe(200);
    expect(header(archived, 'X-Log-Source')).toBe('archive');
    expect(archived.body).toBe(LOG_TEXT);
    const tail = await logs(runId, '?tailLines=2');
    expect(tail.body).toBe(`${LOCAL_POD_LOG_LINES.slice(-2).join('\n')}\n`);
    const init = await logs(runId, '?container=setup');
    expect([init.status, header(init, 'X-Log-Container'), init.body]).toEqual([200, 'setup', LOG_TEXT]);

    const previous = await logs(runId, '?previous=true');
    expect(previous.status).toBe(404);
    expect(json(previous).detail).toMatch(/previous instance.*no pods .* \(not yet, or not any more\).*the archive holds: .*\/main/);
  });

  it('archives a cancelled run too: its Job is deleted first, its terminating pod still gives its log', async () => {
    await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'long', namespace: ns(), suspend: true, annotations: { [COMPLETE_DELAY_ANNOTATION]: '1h' } }) });
    const started = await startJobRun(post(`jobs/${ns()}/long/runs`, { namespace: ns(), name: 'long' }), durable, context());
    const runId = json(started).runId as string;
    await waitFor('the run to be Running', async () => ((await durable.getStatus(runId)).customStatus as { status?: string } | undefined)?.status === 'Running');
    await waitFor('its pod to run', async () => (await jobPods(kube, ns(), runId)).some((p) => p.status?.phase === 'Running'));
    const cancelled = await cancelRun(post(`runs/${runId}/cancel`, { runId }), durable, context());
    expect(cancelled.status).toBe(202);
    const final = await completed(runId);
    expect(final).toMatchObject({ status: 'Cancelled', archive: { location: expect.stringContaining(runId) as unknown } });
    const index = (await readIndex(store, 'local', ns(), runId)) as ArchiveIndex;
    expect(index).toMatchObject({ verdict: { status: 'Cancelled', reason: 'CancelRequested' }, job: null, source: { kind: 'Job', name: 'long' } });
    expect(index.logs.map((l) => [l.container, l.bytes])).toEqual([['main', Buffer.byteLength(LOG_TEXT)]]);
  });

  it('bounds each log, in the archive and when read live, keeping its head and its tail and saying what it left out', async () => {
    await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'chatty', namespace: ns(), annotations: { [COMPLETE_DELAY_ANNOTATION]: '1s' } }) });
    await waitFor('chatty to finish', async () => (await kube.batch.readNamespacedJob({ name: 'chatty', namespace: ns() })).status?.conditions?.some((c) => c.type === 'Complete'));
    const gateway = services().clusters.gateway('local');
    const verdict = { status: 'Success' as const, reason: 'CompletionsReached', message: 'done' };
    // The local cluster's log is five lines: a bound of 150 bytes cuts it.
    await archiveRunNow(gateway, store, { cluster: 'local', namespace: ns(), runId: 'chatty', verdict, startTime: null, completionTime: null }, 150, new Date());
    const index = (await readIndex(store, 'local', ns(), 'chatty')) as ArchiveIndex;
    const [entry] = index.logs;
    expect(index.maxBytesPerContainer).toBe(150);
    expect(entry).toMatchObject({ container: 'main', truncated: true, omitted: { atLeast: false } });
    const kept = (await store.get(`local/${ns()}/chatty/logs/${index.pods[0] ?? ''}/main.log`))?.toString() ?? '';
    expect(Buffer.byteLength(kept)).toBeLessThanOrEqual(150);
    expect(Buffer.byteLength(kept)).toBe(entry?.bytes);
    const [head = '', tail = ''] = kept.split(/\n?\[aks-job-runner: \d+ bytes \(\d+ lines\) of this log are left out here\]\n/);
    expect(LOG_TEXT.startsWith(head)).toBe(true);
    expect(LOG_TEXT.endsWith(tail)).toBe(true);
    expect(tail.endsWith(`${LOCAL_POD_LOG_LINES.at(-1) ?? ''}\n`)).toBe(true);
    // The marker says exactly what is missing between the two.
    expect(entry?.omitted?.bytes).toBe(Buffer.byteLength(LOG_TEXT) - Buffer.byteLength(head) - Buffer.byteLength(tail));
    expect(kept).toContain(`[aks-job-runner: ${String(entry?.omitted?.bytes)} bytes (${String(entry?.omitted?.lines)} lines) of this log are left out here]`);
    const live = await readRunLog(gateway, store, { cluster: 'local', namespace: ns(), runId: 'chatty', previous: false, maxBytes: 150 });
    expect(live).toMatchObject({ from: 'live', truncated: true, text: kept, omitted: entry?.omitted });
  });

  it('answers 404 saying why when neither the cluster nor the archive has the run, and 400 for bad parameters', async () => {
    const unknown = await logs('no-such-run-0000000000');
    expect(unknown.status).toBe(404);
    expect(json(unknown).detail).toMatch(/the app started no run with id "no-such-run-0000000000".*pass \?namespace=/);

    const notArchived = await logs('no-such-run-0000000000', `?namespace=${ns()}`);
    expect(notArchived.status).toBe(404);
    expect(json(notArchived).detail).toMatch(/no pods in namespace .* \(not yet, or not any more\), and the archive has nothing under local\/archive-[a-f0-9]+\/no-such-run-0000000000\//);

    for (const [query, message] of [
      ['?tailLines=0', /tailLines must be a whole number from 1/],
      ['?previous=maybe', /previous must be true or false/],
      ['?container=Main_1', /container "Main_1" is not a valid Kubernetes name/],
    ] as const) {
      const bad = await logs('no-such-run-0000000000', `${query}&namespace=${ns()}`);
      expect([bad.status, json(bad).detail]).toEqual([400, expect.stringMatching(message)]);
    }
    const forbidden = await logs('no-such-run-0000000000', '?namespace=kube-system');
    expect(forbidden.status).toBe(403);
  });

  it("archives the cluster's CronJob runs once; a run pruned by the history limit is still listed and its logs still readable", async () => {
    const jobSpec = testJob({ name: 'x', namespace: ns(), annotations: { [COMPLETE_DELAY_ANNOTATION]: '1s' }, terminationGracePeriodSeconds: 0 }).spec;
    const cronJob: V1CronJob = {
      metadata: { name: 'tidy', namespace: ns() },
      spec: {
        // Never due during the test: its Jobs are made here, as the controller makes them, and pruned by it.
        schedule: '0 0 1 1 *',
        successfulJobsHistoryLimit: 1,
        jobTemplate: { spec: jobSpec },
      },
    };
    const created = await kube.batch.createNamespacedCronJob({ namespace: ns(), body: cronJob });
    const owner = { apiVersion: 'batch/v1', kind: 'CronJob', name: 'tidy', uid: created.metadata?.uid ?? '', controller: true, blockOwnerDeletion: true };
    const fire = async (minute: number) => {
      const name = `tidy-${String(minute)}`;
      await kube.batch.createNamespacedJob({
        namespace: ns(),
        body: {
          metadata: { name, ownerReferences: [owner], annotations: { [CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION]: new Date(minute * 60_000).toISOString() } },
          spec: jobSpec,
        },
      });
      await waitFor(`${name} to finish`, async () => {
        const job = await kube.batch.readNamespacedJob({ name, namespace: ns() });
        return job.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True');
      });
      return name;
    };
    const { clusters, config, now } = services();
    const gateway = clusters.gateway('local');
    const sweep = () => archiveFinishedJobs(gateway, store, 'local', ns(), config.logs.maxBytesPerContainer, now());

    const first = await fire(29_923_598);
    const asked = vi.spyOn(store, 'exists');
    expect(await sweep()).toEqual({ archived: [first], failed: [], deferred: [] });
    expect(asked).toHaveBeenCalledTimes(1);
    // Archived once, known from then on: the next ticks do not ask the blob store about it again.
    expect(await sweep()).toEqual({ archived: [], failed: [], deferred: [] });
    expect(asked).toHaveBeenCalledTimes(1);
    // A worker that did not archive it (another instance, a restart) asks once, and knows it from then on.
    const otherWorker = new ArchivedJobs();
    expect(await archiveFinishedJobs(gateway, store, 'local', ns(), config.logs.maxBytesPerContainer, now(), otherWorker)).toEqual({ archived: [], failed: [], deferred: [] });
    expect(asked).toHaveBeenCalledTimes(2);
    asked.mockRestore();
    // What the archive sweep's timer calls: every allowed namespace of every cluster. Nothing is left to do on
    // "local"; "limited" (no Role bound yet) fails, and does not hold "local" back.
    const refused = [expect.stringMatching(new RegExp(`^limited/${ns()}: list Jobs in ${ns()} failed: HTTP 403`)) as unknown];
    expect(await sweepArchive(services(), now())).toEqual({ archived: [], errors: refused, deferred: [] });
    const second = await fire(29_923_599);
    expect(await sweepArchive(services(), now())).toEqual({ archived: [`local/${ns()}/${second}`], errors: refused, deferred: [] });
    await waitFor(`the CronJob controller to prune ${first} (successfulJobsHistoryLimit 1)`, async () =>
      kube.batch.readNamespacedJob({ name: first, namespace: ns() }).then(() => false, () => true),
    );
    const index = (await readIndex(store, 'local', ns(), first)) as ArchiveIndex;
    expect(index).toMatchObject({ trigger: 'cluster', source: { kind: 'CronJob', name: 'tidy' }, verdict: { status: 'Success' } });

    // An app run of the same CronJob is one of its runs too.
    const started = await startCronJobRun(post(`cronjobs/${ns()}/tidy/runs`, { namespace: ns(), name: 'tidy' }), durable, context());
    const appRun = json(started).runId as string;
    await completed(appRun);

    const runs = async (query = '') => listCronJobRuns(get(`cronjobs/${ns()}/tidy/runs${query}`, { namespace: ns(), name: 'tidy' }), context());
    const all = await runs();
    expect(all.status).toBe(200);
    const items = json(all).items as { runId: string; status: string; trigger: string; live: boolean; archived: boolean; logsUrl: string; statusUrl?: string }[];
    expect(items.map((r) => [r.runId, r.trigger, r.status, r.archived])).toEqual([
      [appRun, 'http', 'Success', true],
      [second, 'cluster', 'Success', true],
      [first, 'cluster', 'Success', true],
    ]);
    expect(items.find((r) => r.runId === first)?.live).toBe(false);
    expect(items[0]?.statusUrl).toBe(`http://127.0.0.1:7071/api/runs/${appRun}`);
    expect(json(all).continue).toBeNull();

    const pruned = await logs(first, `?namespace=${ns()}&cluster=local`);
    expect([pruned.status, header(pruned, 'X-Log-Source'), pruned.body]).toEqual([200, 'archive', LOG_TEXT]);
    expect(items.find((r) => r.runId === first)?.logsUrl).toBe(`http://127.0.0.1:7071/api/runs/${first}/logs?cluster=local&namespace=${ns()}`);

    const seen: string[] = [];
    let token: string | null = null;
    do {
      const page = await runs(`?limit=1${token ? `&continue=${encodeURIComponent(token)}` : ''}`);
      expect(page.status).toBe(200);
      seen.push(...(json(page).items as { runId: string }[]).map((r) => r.runId));
      token = json(page).continue as string | null;
    } while (token && seen.length < 10);
    expect(seen).toEqual([appRun, second, first]);

    const badToken = await runs('?continue=nope');
    expect([badToken.status, json(badToken).detail]).toEqual([400, expect.stringMatching(/continue is not a token this route gave out/)]);
    const missing = await listCronJobRuns(get(`cronjobs/${ns()}/nope/runs`, { namespace: ns(), name: 'nope' }), context());
    expect([missing.status, json(missing).detail]).toEqual([404, expect.stringMatching(/no CronJob "nope" in namespace .* and no archived runs/)]);
  });

  it('sweeps a cluster configured with "*": the namespaces that hold CronJobs, found with one list across all of them', async () => {
    const jobSpec = testJob({ name: 'x', namespace: ns(), annotations: { [COMPLETE_DELAY_ANNOTATION]: '1s' }, terminationGracePeriodSeconds: 0 }).spec;
    const created = await kube.batch.createNamespacedCronJob({
      namespace: ns(),
      body: { metadata: { name: 'everywhere', namespace: ns() }, spec: { schedule: '0 0 1 1 *', jobTemplate: { spec: jobSpec } } },
    });
    const name = 'everywhere-29923600';
    await kube.batch.createNamespacedJob({
      namespace: ns(),
      body: {
        metadata: { name, ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'everywhere', uid: created.metadata?.uid ?? '', controller: true }] },
        spec: jobSpec,
      },
    });
    await waitFor(`${name} to finish`, async () => {
      const job = await kube.batch.readNamespacedJob({ name, namespace: ns() });
      return job.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True');
    });
    // The cluster allows every namespace, under an alias of its own so its archive is apart from "local"'s.
    const config = loadConfig({
      CLUSTERS: JSON.stringify([{ alias: 'all-namespaces', type: 'kubeconfig', kubeconfigPath: inject('kubeconfigPath'), namespaces: ['*'] }]),
      LOGS_CONNECTION_STRING: inject('logsConnectionString'),
    });
    const wide = createServices(config);
    const report = await sweepArchive(wide, new Date());
    // Other test files' CronJobs may be swept too (the control plane is shared); this one must be.
    expect(report.archived).toContain(`all-namespaces/${ns()}/${name}`);
    expect(report.errors.filter((e) => e.includes(ns()))).toEqual([]);
    expect(await readIndex(store, 'all-namespaces', ns(), name)).toMatchObject({ trigger: 'cluster', source: { kind: 'CronJob', name: 'everywhere' } });
    // Nothing of a system namespace: `*` stops at them.
    expect(report.archived.filter((r) => /^all-namespaces\/(kube-|aks-)|-system\//.test(r))).toEqual([]);
  });

  it("works with exactly infra/kubernetes/rbac.yaml's Role; without pods/log the archive notes each log it could not read", async () => {
    const yaml = (await readFile(join(ROOT, 'infra/kubernetes/rbac.yaml'), 'utf8')).replaceAll('NAMESPACE', ns()).replaceAll('PRINCIPAL_OBJECT_ID', inject('noRightsUser'));
    const [role, binding] = loadAllYaml(yaml) as [V1Role, V1RoleBinding];
    await kube.rbac.createNamespacedRole({ namespace: ns(), body: role });
    await kube.rbac.createNamespacedRoleBinding({ namespace: ns(), body: binding });
    await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'audited', namespace: ns(), annotations: { [COMPLETE_DELAY_ANNOTATION]: '1s' } }) });
    await waitFor('audited to finish', async () => (await kube.batch.readNamespacedJob({ name: 'audited', namespace: ns() })).status?.conditions?.some((c) => c.type === 'Complete'));
    const limited = services().clusters.gateway('limited');
    const request = { cluster: 'limited', namespace: ns(), runId: 'audited', verdict: { status: 'Success' as const, reason: 'CompletionsReached', message: 'done' }, startTime: null, completionTime: null };
    const archive = () => archiveRunNow(limited, store, request, 1024, new Date());

    const granted = await waitFor('the binding to take effect', archive, 10_000);
    expect(granted.error).toBeUndefined();
    const full = (await readIndex(store, 'limited', ns(), 'audited')) as ArchiveIndex;
    expect(full.logs.map((l) => [l.container, l.bytes, l.error])).toEqual([['main', Buffer.byteLength(LOG_TEXT), undefined]]);
    expect(full.events.count).toBeGreaterThan(0);
    expect(full.events.error).toBeUndefined();
    const read = await logs('audited', `?cluster=limited&namespace=${ns()}`);
    expect([read.status, header(read, 'X-Log-Source'), read.body]).toEqual([200, 'live', LOG_TEXT]);

    await kube.rbac.replaceNamespacedRole({ name: role.metadata?.name ?? '', namespace: ns(), body: { ...role, rules: role.rules?.filter((r) => !r.resources?.includes('pods/log')) } });
    await waitFor('pods/log to be refused', async () => (await logs('audited', `?cluster=limited&namespace=${ns()}`)).status === 403, 10_000);
    const refused = await logs('audited', `?cluster=limited&namespace=${ns()}`);
    expect(json(refused)).toMatchObject({ title: 'ClusterForbidden', detail: expect.stringMatching(/infra\/kubernetes\/rbac\.yaml/) as unknown });
    const partial = await archive();
    expect(partial.location).toContain(indexBlobName('limited', ns(), 'audited'));
    const noted = (await readIndex(store, 'limited', ns(), 'audited')) as ArchiveIndex;
    expect(noted.logs).toEqual([expect.objectContaining({ container: 'main', bytes: 0, error: expect.stringMatching(/HTTP 403/) as unknown })]);
    expect(noted.logs[0]?.blob).toBeUndefined();
  });
});
