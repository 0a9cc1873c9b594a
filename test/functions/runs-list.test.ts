import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import type { V1CronJob, V1Job, V1Pod } from '@kubernetes/client-node';
import { beforeEach, describe, expect, it } from 'vitest';

import { BlobStoreError } from '../../src/clients/blob.js';
import type { ListOptions, Page } from '../../src/clients/kube.js';
import { loadConfig } from '../../src/config.js';
import { namespaceRunsPrefix } from '../../src/core/archive.js';
import { RUNNABLE_ANNOTATION } from '../../src/core/consent.js';
import {
  CALLER_ANNOTATION,
  CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  MANAGED_SELECTOR,
  RUN_ID_LABEL,
  SOURCE_KIND_LABEL,
  SOURCE_NAME_LABEL,
} from '../../src/core/labels.js';
import type { RunStatus } from '../../src/core/run.js';
import { listRuns } from '../../src/functions/listRuns.js';
import { ADMIN_ROLE } from '../../src/http/caller.js';
import { archiveRun } from '../../src/runs/archive.js';
import { MAX_ARCHIVE_PAGES } from '../../src/runs/namespace-runs.js';
import { createServices, setServices } from '../../src/services.js';
import { MemoryBlobStore } from '../fakes/blob.js';
import { FakeKube } from '../fakes/kube.js';

/**
 * GET /runs (issue 22 item 6) through its real handler over an in-memory cluster and archive: what a caller sees of
 * a namespace's runs, and every refusal tried as an attack. The real API server and Azurite: test/integration/runs-list.test.ts.
 */
const t0 = new Date('2026-11-23T10:00:00Z');
const at = (minute: number) => new Date(t0.getTime() + minute * 60_000);
const NOW = at(60);
const BASE = 'https://jobs.example.net/api';
const APP_A = 'aaaaaaaa-0000-4000-8000-00000000000a';
const APP_B = 'bbbbbbbb-0000-4000-8000-00000000000b';
const ADMIN = 'dddddddd-0000-4000-8000-00000000000d';
const CLUSTERS = JSON.stringify([{ alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/nonexistent/kubeconfig', namespaces: ['batch', 'other'] }]);
const context = () => new InvocationContext({ functionName: 'listRuns', invocationId: 'inv-1', logHandler: () => undefined });

/** FakeKube that also records each list's label selector, to hold the route to the reads it promises. */
class RecordingKube extends FakeKube {
  readonly selectors: string[] = [];
  override listJobs(namespace: string, options: ListOptions = {}): Promise<Page<V1Job>> {
    this.selectors.push(`jobs ${options.labelSelector ?? '(all)'}`);
    return super.listJobs(namespace, options);
  }
  override listCronJobs(namespace: string, options: ListOptions = {}): Promise<Page<V1CronJob>> {
    this.selectors.push(`cronjobs ${options.labelSelector ?? '(all)'}`);
    return super.listCronJobs(namespace, options);
  }
}

let kube: RecordingKube;
let store: MemoryBlobStore;

function useSettings(settings: Record<string, string> = {}): void {
  const config = loadConfig({ CLUSTERS, EASY_AUTH_ENABLED: 'true', LOGS_CONNECTION_STRING: 'UseDevelopmentStorage=true', ...settings });
  setServices({ ...createServices(config, { gatewayFactory: () => kube, now: () => NOW }), logs: store.asStore() });
}

function principal(appId: string, roles: string[] = []): string {
  const claims = [{ typ: 'appid', val: appId }, { typ: 'oid', val: `${appId}-sp` }, ...roles.map((val) => ({ typ: 'roles', val }))];
  return Buffer.from(JSON.stringify({ auth_typ: 'aad', claims, role_typ: 'roles' })).toString('base64');
}
const as = (appId: string, roles: string[] = []) => ({ 'x-ms-client-principal': principal(appId, roles) });
const KEY = { 'x-functions-key': 'key-1' };
const entraTag = (appId: string) => `entra:${appId}:${appId}-sp`;

type Item = { runId: string; status: RunStatus; trigger: string; startedBy: unknown; source: unknown; failureKind: string | null; durationSeconds: number | null; statusUrl?: string; logsUrl: string; live: boolean; archived: boolean };
async function list(headers: Record<string, string>, query = 'namespace=batch'): Promise<HttpResponseInit> {
  return listRuns(new HttpRequest({ method: 'GET', url: `${BASE}/runs?${query}`, headers }), context());
}
const items = (r: HttpResponseInit) => (r.jsonBody as { items: Item[] }).items;
const ids = (r: HttpResponseInit) => items(r).map((i) => i.runId);

const spec = { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36' }] } } };

/** A Job the app made: its labels, its caller annotation (HTTP runs), the scheduled timestamp (the app scheduler's). */
function appJob(runId: string, minute: number, source: { kind: 'Job' | 'CronJob'; name: string }, options: { caller?: string; scheduled?: boolean; status?: V1Job['status'] } = {}): V1Job {
  return {
    metadata: {
      name: runId,
      namespace: 'batch',
      creationTimestamp: at(minute),
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [RUN_ID_LABEL]: runId, [SOURCE_KIND_LABEL]: source.kind, [SOURCE_NAME_LABEL]: source.name },
      annotations: {
        ...(options.caller ? { [CALLER_ANNOTATION]: options.caller } : {}),
        ...(options.scheduled ? { [CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION]: at(minute).toISOString() } : {}),
      },
      ...(source.kind === 'CronJob' ? { ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: source.name, uid: `uid-${source.name}`, controller: true }] } : {}),
    },
    spec,
    status: options.status ?? { startTime: at(minute), active: 1 },
  };
}

/** A Job the CronJob controller made. */
function clusterJob(name: string, minute: number, cronJob: string, status: V1Job['status']): V1Job {
  return {
    metadata: {
      name,
      namespace: 'batch',
      creationTimestamp: at(minute),
      annotations: { [CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION]: at(minute).toISOString() },
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: cronJob, uid: `uid-${cronJob}`, controller: true }],
    },
    spec,
    status,
  };
}

function cronJob(name: string, annotations: Record<string, string> = {}): V1CronJob {
  return { metadata: { name, namespace: 'batch', uid: `uid-${name}`, annotations }, spec: { schedule: '0 3 * * *', jobTemplate: { spec } } };
}

const failed = (minute: number, reason = 'BackoffLimitExceeded'): V1Job['status'] => ({
  startTime: at(minute),
  failed: 1,
  conditions: [{ type: 'Failed', status: 'True', reason, message: `the Job failed: ${reason}`, lastTransitionTime: at(minute + 2) }],
});
const succeeded = (minute: number): V1Job['status'] => ({
  startTime: at(minute),
  completionTime: at(minute + 3),
  succeeded: 1,
  conditions: [{ type: 'Complete', status: 'True', reason: 'CompletionsReached', message: '' }],
});

/** Archive a Job as the app does (the real archiveRun, into the memory store), then let it go from the cluster. */
async function archiveThenDelete(job: V1Job, verdict: { status: RunStatus; reason: string }, pods: V1Pod[] = []): Promise<void> {
  kube.addJob(job);
  kube.pods.push(...pods);
  const runId = job.metadata?.name ?? '';
  await archiveRun(kube, store.asStore(), { cluster: 'dev', namespace: 'batch', runId, verdict: { ...verdict, message: '' }, startTime: null, completionTime: null }, 1024, NOW);
  kube.jobs.delete(`batch/${runId}`);
  for (const p of pods) kube.pods.splice(kube.pods.indexOf(p), 1);
}

function oomPod(job: string): V1Pod {
  return {
    metadata: { name: `${job}-x1`, namespace: 'batch', labels: { 'batch.kubernetes.io/job-name': job }, creationTimestamp: t0 },
    spec: { containers: [{ name: 'main', image: 'busybox:1.36' }] },
    status: {
      phase: 'Failed',
      containerStatuses: [{ name: 'main', image: 'busybox:1.36', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 137, reason: 'OOMKilled', finishedAt: at(5) } } }],
    },
  };
}

/**
 * The namespace: the sources (Job report, CronJobs nightly and hush, hush kept out by its owner, Job quiet kept out),
 * live runs of the app (key, A, B, the scheduler, an A run of the kept-out Job), and archived runs (the cluster's of
 * nightly, OOM-killed; the cluster's of hush; B's run of report).
 */
async function seed(): Promise<void> {
  kube = new RecordingKube();
  store = new MemoryBlobStore();
  kube.addJob({ metadata: { name: 'report', namespace: 'batch' }, spec });
  kube.addJob({ metadata: { name: 'quiet', namespace: 'batch', annotations: { [RUNNABLE_ANNOTATION]: 'false' } }, spec });
  kube.addCronJob(cronJob('nightly')).addCronJob(cronJob('hush', { [RUNNABLE_ANNOTATION]: 'false' }));
  await archiveThenDelete(clusterJob('nightly-29000001', 1, 'nightly', failed(1)), { status: 'Failed', reason: 'BackoffLimitExceeded' }, [oomPod('nightly-29000001')]);
  await archiveThenDelete(clusterJob('hush-29000002', 2, 'hush', succeeded(2)), { status: 'Success', reason: 'CompletionsReached' });
  await archiveThenDelete(appJob('report-bbbbbbbb03', 3, { kind: 'Job', name: 'report' }, { caller: entraTag(APP_B), status: succeeded(3) }), { status: 'Success', reason: 'CompletionsReached' });
  kube.addJob(appJob('report-keykeyke10', 10, { kind: 'Job', name: 'report' }, { caller: 'key' }));
  kube.addJob(appJob('report-aaaaaaaa11', 11, { kind: 'Job', name: 'report' }, { caller: entraTag(APP_A), status: failed(11, 'DeadlineExceeded') }));
  kube.addJob(appJob('nightly-29000012', 12, { kind: 'CronJob', name: 'nightly' }, { scheduled: true }));
  kube.addJob(appJob('quiet-aaaaaaaa13', 13, { kind: 'Job', name: 'quiet' }, { caller: entraTag(APP_A) }));
  kube.addJob(appJob('hush-aaaaaaaa14', 14, { kind: 'CronJob', name: 'hush' }, { caller: entraTag(APP_A) }));
  kube.calls.length = 0;
  kube.selectors.length = 0;
  store.lists.length = 0;
}

beforeEach(async () => {
  await seed();
  useSettings();
});

describe('GET /runs: a namespace\'s runs, newest first, live and archived', () => {
  it('an admin sees every run of every caller, newest first, each with source, trigger, starter, status, failure kind and duration', async () => {
    const response = await list(as(ADMIN, [ADMIN_ROLE]));
    expect(response.status, JSON.stringify(response.jsonBody)).toBe(200);
    expect(ids(response)).toEqual(['nightly-29000012', 'report-aaaaaaaa11', 'report-keykeyke10', 'report-bbbbbbbb03', 'nightly-29000001']);
    const byId = new Map(items(response).map((i) => [i.runId, i]));
    expect(byId.get('nightly-29000012')).toMatchObject({ trigger: 'schedule', startedBy: null, source: { kind: 'CronJob', name: 'nightly' }, status: 'Running', live: true, archived: false, durationSeconds: 48 * 60 });
    expect(byId.get('report-aaaaaaaa11')).toMatchObject({ trigger: 'http', startedBy: { kind: 'entra', appId: APP_A, objectId: `${APP_A}-sp` }, status: 'Failed', failureKind: 'DeadlineExceeded', durationSeconds: 120 });
    expect(byId.get('report-keykeyke10')).toMatchObject({ startedBy: { kind: 'key' }, status: 'Running', failureKind: null });
    expect(byId.get('report-bbbbbbbb03')).toMatchObject({ source: { kind: 'Job', name: 'report' }, live: false, archived: true, status: 'Success', durationSeconds: 180 });
    // The cluster's run: the archive judged its cause from the pod it read, as the observe would have.
    expect(byId.get('nightly-29000001')).toMatchObject({ trigger: 'cluster', startedBy: null, status: 'Failed', failureKind: 'OOMKilled', live: false, archived: true });
    expect(byId.get('nightly-29000001')?.statusUrl).toBeUndefined();
    expect(byId.get('nightly-29000012')?.statusUrl).toBe(`${BASE}/runs/nightly-29000012`);
    expect(byId.get('nightly-29000001')?.logsUrl).toBe(`${BASE}/runs/nightly-29000001/logs?cluster=dev&namespace=batch`);
    expect((response.jsonBody as { continue: unknown }).continue).toBeNull();
  });

  it("lists the CronJob controller's runs while their Jobs are in the cluster, before the sweep archives them; a kept-out CronJob's stay out", async () => {
    kube.addJob(clusterJob('nightly-29000020', 20, 'nightly', { startTime: at(20), active: 1 }));
    kube.addJob(clusterJob('hush-29000021', 21, 'hush', { startTime: at(21), active: 1 }));
    const response = await list(KEY, 'namespace=batch&status=Running');
    expect(ids(response)).toEqual(['nightly-29000020', 'nightly-29000012', 'report-keykeyke10']);
    expect(items(response)[0]).toMatchObject({ trigger: 'cluster', startedBy: null, live: true, archived: false, source: { kind: 'CronJob', name: 'nightly' } });
  });

  it('never answers a key or its hash: a key caller is {kind: "key"}', async () => {
    const response = await list({ 'x-functions-key': 'the-secret-function-key' });
    const body = JSON.stringify(response.jsonBody);
    expect(body).not.toContain('the-secret-function-key');
    expect(body).not.toMatch(/[0-9a-f]{32}/);
    expect(items(response).find((i) => i.runId === 'report-keykeyke10')?.startedBy).toEqual({ kind: 'key' });
  });

  it('filters by status, one or several', async () => {
    expect(ids(await list(KEY, 'namespace=batch&status=Failed'))).toEqual(['nightly-29000001']);
    expect(ids(await list(as(ADMIN, [ADMIN_ROLE]), 'namespace=batch&status=Failed,Success'))).toEqual(['report-aaaaaaaa11', 'report-bbbbbbbb03', 'nightly-29000001']);
    expect(ids(await list(KEY, 'namespace=batch&status=Cancelled'))).toEqual([]);
  });

  it('pages with a continue token: every run once, in order', async () => {
    const seen: string[] = [];
    let token: string | null = null;
    for (let i = 0; i < 10; i++) {
      const response = await list(as(ADMIN, [ADMIN_ROLE]), `namespace=batch&limit=2${token ? `&continue=${token}` : ''}`);
      expect(items(response).length).toBeLessThanOrEqual(2);
      seen.push(...ids(response));
      token = (response.jsonBody as { continue: string | null }).continue;
      if (!token) break;
    }
    expect(seen).toEqual(['nightly-29000012', 'report-aaaaaaaa11', 'report-keykeyke10', 'report-bbbbbbbb03', 'nightly-29000001']);
  });

  it('costs the API server one label-selected list of the app\'s Jobs, one of source Jobs and one of CronJobs, however many runs there are; no read per run', async () => {
    await list(as(ADMIN, [ADMIN_ROLE]));
    const first = [...kube.selectors];
    expect(first.sort()).toEqual(['cronjobs (all)', `jobs ${MANAGED_SELECTOR}`, 'jobs app.kubernetes.io/managed-by!=aks-job-runner'].sort());
    for (let i = 0; i < 40; i++) kube.addJob(appJob(`report-keymany${String(i).padStart(3, '0')}`, 20 + i, { kind: 'Job', name: 'report' }, { caller: 'key' }));
    kube.selectors.length = 0;
    kube.calls.length = 0;
    const response = await list(as(ADMIN, [ADMIN_ROLE]), 'namespace=batch&limit=100');
    expect(items(response)).toHaveLength(45);
    expect(kube.selectors.sort()).toEqual(first.sort());
    expect(kube.calls.filter((c) => !c.startsWith('list'))).toEqual([]);
  });
});

describe('GET /runs: who may see what (attacks)', () => {
  it("a key caller lists key callers' runs and runs no caller started, never an Entra caller's", async () => {
    expect(ids(await list(KEY))).toEqual(['nightly-29000012', 'report-keykeyke10', 'nightly-29000001']);
  });

  it("Entra caller A lists its own runs and runs no caller started: not B's, not the key callers'", async () => {
    expect(ids(await list(as(APP_A)))).toEqual(['nightly-29000012', 'report-aaaaaaaa11', 'nightly-29000001']);
  });

  it("Entra caller B gets its archived run, not A's live ones, also when filtering for their status", async () => {
    expect(ids(await list(as(APP_B)))).toEqual(['nightly-29000012', 'report-bbbbbbbb03', 'nightly-29000001']);
    expect(ids(await list(as(APP_B), 'namespace=batch&status=Failed'))).toEqual(['nightly-29000001']);
  });

  it('the same object id under another application is another caller', async () => {
    const spoof = Buffer.from(JSON.stringify({ auth_typ: 'aad', claims: [{ typ: 'appid', val: APP_B }, { typ: 'oid', val: `${APP_A}-sp` }], role_typ: 'roles' })).toString('base64');
    expect(ids(await list({ 'x-ms-client-principal': spoof }))).not.toContain('report-aaaaaaaa11');
  });

  it('a principal header without Easy Auth is refused before anything is read', async () => {
    useSettings({ EASY_AUTH_ENABLED: 'false' });
    const response = await list(as(ADMIN, [ADMIN_ROLE]));
    expect(response.status).toBe(400);
    expect(kube.calls).toEqual([]);
    expect(store.lists).toEqual([]);
  });

  it("a kept-out source's runs are left out, whoever started them and whoever asks; the owner's opt-in brings them back", async () => {
    const admin = as(ADMIN, [ADMIN_ROLE]);
    const shown = ids(await list(admin));
    for (const hidden of ['hush-29000002', 'hush-aaaaaaaa14', 'quiet-aaaaaaaa13']) expect(shown).not.toContain(hidden);
    expect(ids(await list(as(APP_A)))).not.toContain('quiet-aaaaaaaa13');
    // The annotation is what keeps them out: without it they show.
    kube.addCronJob(cronJob('hush'));
    kube.addJob({ metadata: { name: 'quiet', namespace: 'batch' }, spec });
    expect(ids(await list(admin))).toEqual(expect.arrayContaining(['hush-29000002', 'hush-aaaaaaaa14', 'quiet-aaaaaaaa13']));
  });

  it('under SOURCES_OPT_IN a source that has not opted in keeps its runs out; a source gone leaves its runs to the namespace', async () => {
    useSettings({ SOURCES_OPT_IN: 'true' });
    kube.addCronJob(cronJob('nightly', { [RUNNABLE_ANNOTATION]: 'true' }));
    kube.jobs.delete('batch/report');
    expect(ids(await list(as(ADMIN, [ADMIN_ROLE])))).toEqual(['nightly-29000012', 'report-aaaaaaaa11', 'report-keykeyke10', 'report-bbbbbbbb03', 'nightly-29000001']);
    kube.addJob({ metadata: { name: 'report', namespace: 'batch' }, spec });
    expect(ids(await list(as(ADMIN, [ADMIN_ROLE])))).toEqual(['nightly-29000012', 'nightly-29000001']);
  });

  it("a cancelled run archived after its Job was deleted: its caller's when the run's record names it (orchestration 3.1), else an admin's only", async () => {
    const gone = (runId: string, caller?: string) =>
      archiveRun(kube, store.asStore(), {
        cluster: 'dev',
        namespace: 'batch',
        runId,
        verdict: { status: 'Cancelled', reason: 'CancelRequested', message: 'cancelled by a caller' },
        startTime: at(20).toISOString(),
        completionTime: at(21).toISOString(),
        source: { kind: 'Job', name: 'report' },
        trigger: 'http',
        ...(caller ? { caller } : {}),
      }, 1024, NOW);
    await gone('report-aaaacanc21', entraTag(APP_A));
    await gone('report-oldcance22');
    expect(ids(await list(as(APP_A), 'namespace=batch&status=Cancelled'))).toEqual(['report-aaaacanc21']);
    expect(items(await list(as(APP_A), 'namespace=batch&status=Cancelled'))[0]).toMatchObject({ failureKind: 'Cancelled', startedBy: { kind: 'entra', appId: APP_A }, durationSeconds: 60 });
    expect(ids(await list(as(APP_B), 'namespace=batch&status=Cancelled'))).toEqual([]);
    expect(ids(await list(KEY, 'namespace=batch&status=Cancelled'))).toEqual([]);
    const admin = await list(as(ADMIN, [ADMIN_ROLE]), 'namespace=batch&status=Cancelled');
    // Same start: by run id, as the listing orders them.
    expect(ids(admin)).toEqual(['report-aaaacanc21', 'report-oldcance22']);
    expect(items(admin)[1]?.startedBy).toEqual({ kind: 'unknown' });
  });

  it.each([
    { name: 'a namespace the cluster does not allow', query: 'namespace=kube-system', settings: {}, detail: 'not allowed' },
    { name: 'a cluster not configured', query: 'namespace=batch&cluster=prod', settings: {}, detail: 'prod' },
    { name: "a namespace outside the caller's policy", query: 'namespace=other', settings: { CALLER_POLICIES: JSON.stringify({ key: { namespaces: ['batch'] } }) }, detail: 'CALLER_POLICIES' },
  ] as { name: string; query: string; settings: Record<string, string>; detail: string }[])('$name: 403, and nothing is read from the cluster or the archive', async ({ query, settings, detail }) => {
    useSettings(settings);
    const response = await list(KEY, query);
    expect(response.status, JSON.stringify(response.jsonBody)).toBe(403);
    expect((response.jsonBody as { detail: string }).detail).toContain(detail);
    expect(kube.calls).toEqual([]);
    expect(store.lists).toEqual([]);
  });

  it('a namespace is required where the cluster allows more than one', async () => {
    const response = await list(KEY, '');
    expect(response.status).toBe(400);
    expect((response.jsonBody as { detail: string }).detail).toContain('namespace is required');
  });

  it('a continue token forged with a marker Blob Storage refuses is a 400 saying where tokens come from, not a 502', async () => {
    const list0 = store.list.bind(store);
    store.list = (prefix, options) =>
      options?.continueToken === 'forged' ? Promise.reject(new BlobStoreError(`list blobs under ${prefix}`, 400, 'InvalidQueryParameterValue')) : list0(prefix, options);
    const forged = Buffer.from(JSON.stringify([NOW.getTime(), 'x', 'forged'])).toString('base64url');
    const response = await list(KEY, `namespace=batch&continue=${forged}`);
    expect(response.status, JSON.stringify(response.jsonBody)).toBe(400);
    expect((response.jsonBody as { detail: string }).detail).toContain('"continue" value of the previous page');
  });

  it('a continue token that is not one of ours is a 400', async () => {
    const response = await list(KEY, 'namespace=batch&continue=bogus');
    expect(response.status).toBe(400);
  });
});

describe('GET /runs: bounded reads of a large archive', () => {
  it(`an Entra caller with one run among 3,000 others reads at most ${String(MAX_ARCHIVE_PAGES)} listing pages a request, and still reaches it`, async () => {
    // 3,000 archived runs of B, written as the archive writes its namespace markers; A's one run is the oldest.
    for (let i = 0; i < 3000; i++) {
      const runId = `report-bbbb${String(i).padStart(6, '0')}`;
      const name = `${namespaceRunsPrefix('dev', 'batch')}${String(9_999_999_999_999 - at(100 + i).getTime())}.${runId}`;
      await store.put(name, '', 'application/octet-stream', { runid: runId, status: 'Success', reason: 'CompletionsReached', starttime: at(100 + i).toISOString(), completiontime: '', trigger: 'http', caller: encodeURIComponent(entraTag(APP_B)), sourcekind: 'Job', sourcename: 'report' });
    }
    const seen: string[] = [];
    let token: string | null = null;
    let requests = 0;
    for (; requests < 20; requests++) {
      store.lists.length = 0;
      const response = await list(as(APP_A), `namespace=batch&status=Failed${token ? `&continue=${token}` : ''}`);
      expect(response.status).toBe(200);
      expect(store.lists.length).toBeLessThanOrEqual(MAX_ARCHIVE_PAGES);
      seen.push(...ids(response));
      token = (response.jsonBody as { continue: string | null }).continue;
      if (!token) break;
    }
    expect(seen).toEqual(['report-aaaaaaaa11', 'nightly-29000001']);
    expect(requests).toBeGreaterThan(0);
  });
});
