import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';

import { orchestratorRunner } from '../../local/durable/engine.js';
import { LocalDurable } from '../../local/durable/runtime.js';
import type { BlobStore } from '../../src/clients/blob.js';
import { loadConfig } from '../../src/config.js';
import { namespaceRunsPrefix } from '../../src/core/archive.js';
import { RUNNABLE_ANNOTATION } from '../../src/core/consent.js';
import { CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION, MANAGED_SELECTOR } from '../../src/core/labels.js';
import type { RunSnapshot } from '../../src/core/run.js';
import { archiveRun } from '../../src/functions/archiveRun.js';
import { jobRun } from '../../src/functions/jobRun.js';
import { listRuns } from '../../src/functions/listRuns.js';
import { observeRun } from '../../src/functions/observeRun.js';
import { startJobRun } from '../../src/functions/startJobRun.js';
import { stopRun } from '../../src/functions/stopRun.js';
import { submitRun } from '../../src/functions/submitRun.js';
import { ADMIN_ROLE } from '../../src/http/caller.js';
import { archiveFinishedJobs } from '../../src/runs/archive.js';
import { createServices, services, setServices } from '../../src/services.js';
import { COMPLETE_DELAY_ANNOTATION, fails } from '../../testenv/fates.js';
import { adminKube, testJob, useNamespace, waitFor } from './helpers.js';

/**
 * GET /runs (issue 22 item 6) on the real control plane and a real Azurite: runs started over HTTP by a key caller
 * and by two Entra callers, run to their verdict by the orchestration (local Durable runtime) and archived;
 * Jobs the CronJob controller's way made and swept into the archive; one Job deleted so that its run is in the
 * archive only. Every caller sees what it may, and nothing of a source kept out.
 */
const ns = useNamespace('runslist');
const kube = adminKube();
let durable: LocalDurable;
let store: BlobStore;
const context = () => new InvocationContext({ functionName: 'it', invocationId: 'inv-runs', logHandler: () => undefined });
const BASE = 'http://127.0.0.1:7071/api';
const APP_A = 'aaaaaaaa-0000-4000-8000-00000000000a';
const APP_B = 'bbbbbbbb-0000-4000-8000-00000000000b';
const ADMIN = 'dddddddd-0000-4000-8000-00000000000d';

function principal(appId: string, roles: string[] = []): string {
  const claims = [{ typ: 'appid', val: appId }, { typ: 'oid', val: `${appId}-sp` }, ...roles.map((val) => ({ typ: 'roles', val }))];
  return Buffer.from(JSON.stringify({ auth_typ: 'aad', claims, role_typ: 'roles' })).toString('base64');
}
const as = (appId: string, roles: string[] = []) => ({ 'x-ms-client-principal': principal(appId, roles) });
const KEY = { 'x-functions-key': 'runs-key' };

interface Item {
  runId: string;
  status: string;
  trigger: string;
  failureKind: string | null;
  live: boolean;
  archived: boolean;
  source: { kind: string; name: string } | null;
  startedBy: unknown;
  durationSeconds: number | null;
}
async function list(headers: Record<string, string>, query = ''): Promise<HttpResponseInit> {
  return listRuns(new HttpRequest({ method: 'GET', url: `${BASE}/runs?namespace=${ns()}${query}`, headers }), context());
}
const items = (r: HttpResponseInit) => (r.jsonBody as { items: Item[] }).items;
const ids = (r: HttpResponseInit) => items(r).map((i) => i.runId);

async function start(source: string, headers: Record<string, string>): Promise<string> {
  const response = await startJobRun(
    new HttpRequest({ method: 'POST', url: `${BASE}/jobs/${ns()}/${source}/runs`, params: { namespace: ns(), name: source }, headers: { 'content-type': 'application/json', ...headers }, body: { string: '{}' } }),
    durable,
    context(),
  );
  expect(response.status, JSON.stringify(response.jsonBody)).toBe(202);
  return (response.jsonBody as { runId: string }).runId;
}

async function completed(runId: string): Promise<RunSnapshot> {
  return waitFor(
    `run ${runId} to complete and be archived`,
    async () => {
      const status = await durable.getStatus(runId);
      return (status.runtimeStatus as string) === 'Completed' ? (status.output as RunSnapshot) : undefined;
    },
    90_000,
    500,
  );
}

/** A Job made as the CronJob controller makes one, run to Complete, then archived by the sweep. */
async function cronRun(cronJob: string, uid: string, minute: number): Promise<string> {
  const name = `${cronJob}-${String(minute)}`;
  await kube.batch.createNamespacedJob({
    namespace: ns(),
    body: {
      metadata: {
        name,
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: cronJob, uid, controller: true, blockOwnerDeletion: true }],
        annotations: { [CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION]: new Date(minute * 60_000).toISOString() },
      },
      spec: testJob({ name: 'x', namespace: ns(), annotations: { [COMPLETE_DELAY_ANNOTATION]: '1s' } }).spec,
    },
  });
  await waitFor(`${name} to finish`, async () => {
    const job = await kube.batch.readNamespacedJob({ name, namespace: ns() });
    return job.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True');
  });
  return name;
}

const runs: Record<'keyOk' | 'keyFailed' | 'a' | 'b' | 'tidy' | 'hush', string> = { keyOk: '', keyFailed: '', a: '', b: '', tidy: '', hush: '' };

beforeAll(async () => {
  const config = loadConfig({
    CLUSTERS: JSON.stringify([{ alias: 'local', type: 'kubeconfig', kubeconfigPath: inject('kubeconfigPath'), namespaces: [ns(), 'elsewhere'] }]),
    EASY_AUTH_ENABLED: 'true',
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

  // The sources: a Job that succeeds, one that fails with exit code 4, a CronJob, and a CronJob its owner keeps out.
  await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'report', namespace: ns(), suspend: true, annotations: { [COMPLETE_DELAY_ANNOTATION]: '1s' }, terminationGracePeriodSeconds: 0 }) });
  await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'broken', namespace: ns(), suspend: true, fate: fails({ exitCode: 4, runFor: '1s' }) }) });
  const jobSpec = testJob({ name: 'x', namespace: ns() }).spec;
  const cron = (name: string, annotations: Record<string, string> = {}) =>
    kube.batch.createNamespacedCronJob({ namespace: ns(), body: { metadata: { name, annotations }, spec: { schedule: '0 0 1 1 *', suspend: true, jobTemplate: { spec: jobSpec } } } });
  const tidy = await cron('tidy');
  const hush = await cron('hush', { [RUNNABLE_ANNOTATION]: 'false' });

  runs.keyOk = await start('report', KEY);
  runs.keyFailed = await start('broken', KEY);
  runs.a = await start('report', as(APP_A));
  runs.b = await start('report', as(APP_B));
  await Promise.all([runs.keyOk, runs.keyFailed, runs.a, runs.b].map(completed));
  runs.tidy = await cronRun('tidy', tidy.metadata?.uid ?? '', 29_923_598);
  runs.hush = await cronRun('hush', hush.metadata?.uid ?? '', 29_923_599);
  const { clusters, now } = services();
  const sweep = await archiveFinishedJobs(clusters.gateway('local'), store, 'local', ns(), config.logs.maxBytesPerContainer, now());
  expect(sweep.archived.sort()).toEqual([runs.hush, runs.tidy].sort());
  // B's run from the archive only: its Job and pods gone.
  await kube.batch.deleteNamespacedJob({ name: runs.b, namespace: ns(), propagationPolicy: 'Background' });
  await waitFor(`Job ${runs.b} gone`, async () => kube.batch.readNamespacedJob({ name: runs.b, namespace: ns() }).then(() => false, () => true));
}, 240_000);
afterAll(() => durable.close());

describe("GET /runs on a real control plane and Azurite: a namespace's runs, live and archived", () => {
  it('an admin sees every run but the kept-out CronJob\'s, newest first, with their causes and where each one is', async () => {
    const response = await list(as(ADMIN, [ADMIN_ROLE]));
    expect(response.status, JSON.stringify(response.jsonBody)).toBe(200);
    const shown = items(response);
    expect(shown.map((i) => i.runId).sort()).toEqual([runs.keyOk, runs.keyFailed, runs.a, runs.b, runs.tidy].sort());
    const times = shown.map((i) => i.runId);
    // Newest first: the cluster's run was made last.
    expect(times[0]).toBe(runs.tidy);
    const byId = new Map(shown.map((i) => [i.runId, i]));
    expect(byId.get(runs.keyFailed)).toMatchObject({ status: 'Failed', failureKind: 'ExitCode', trigger: 'http', startedBy: { kind: 'key' }, source: { kind: 'Job', name: 'broken' }, live: true, archived: true });
    expect(byId.get(runs.b)).toMatchObject({ status: 'Success', live: false, archived: true, startedBy: { kind: 'entra', appId: APP_B } });
    expect(byId.get(runs.tidy)).toMatchObject({ status: 'Success', trigger: 'cluster', startedBy: null, source: { kind: 'CronJob', name: 'tidy' }, live: true, archived: true });
    expect(byId.get(runs.keyOk)?.durationSeconds).toBeGreaterThanOrEqual(0);
    // The archive wrote each run into the namespace index (the cluster's runs too, through the sweep).
    const indexed = await store.list(namespaceRunsPrefix('local', ns()));
    expect(indexed.items.map((b) => b.name.replace(/^.*\./, '')).sort()).toEqual([runs.keyOk, runs.keyFailed, runs.a, runs.b, runs.tidy, runs.hush].sort());
  });

  it("key callers, and each Entra caller, see their own runs and those no caller started; never another's", async () => {
    expect(ids(await list(KEY)).sort()).toEqual([runs.keyOk, runs.keyFailed, runs.tidy].sort());
    expect(ids(await list(as(APP_A))).sort()).toEqual([runs.a, runs.tidy].sort());
    expect(ids(await list(as(APP_B))).sort()).toEqual([runs.b, runs.tidy].sort());
  });

  it('filters by status', async () => {
    expect(ids(await list(as(ADMIN, [ADMIN_ROLE]), '&status=Failed'))).toEqual([runs.keyFailed]);
    expect(ids(await list(as(APP_A), '&status=Failed'))).toEqual([]);
  });

  it('pages one run at a time through every run exactly once, in the order of the whole list', async () => {
    const whole = ids(await list(as(ADMIN, [ADMIN_ROLE])));
    const seen: string[] = [];
    let token: string | null = null;
    for (let i = 0; i < 20; i++) {
      const response = await list(as(ADMIN, [ADMIN_ROLE]), `&limit=1${token ? `&continue=${encodeURIComponent(token)}` : ''}`);
      seen.push(...ids(response));
      token = (response.jsonBody as { continue: string | null }).continue;
      if (!token) break;
    }
    expect(seen).toEqual(whole);
  });

  it("asks the API server for one label-selected list of the app's Jobs, one of the others and one of CronJobs: no read per run", async () => {
    const gateway = services().clusters.gateway('local');
    const jobLists = vi.spyOn(gateway, 'listJobs');
    const cronJobLists = vi.spyOn(gateway, 'listCronJobs');
    const reads = [vi.spyOn(gateway, 'readJob'), vi.spyOn(gateway, 'readCronJob'), vi.spyOn(gateway, 'listPods')];
    try {
      await list(as(ADMIN, [ADMIN_ROLE]));
      expect(jobLists.mock.calls.map(([, options]) => options?.labelSelector).sort()).toEqual([MANAGED_SELECTOR, 'app.kubernetes.io/managed-by!=aks-job-runner'].sort());
      expect(cronJobLists).toHaveBeenCalledTimes(1);
      for (const read of reads) expect(read).not.toHaveBeenCalled();
    } finally {
      vi.restoreAllMocks();
    }
  });

  it('a continue token made by hand, with a marker Blob Storage does not know, is a 400, never a 5xx', async () => {
    const forged = Buffer.from(JSON.stringify([Date.now(), 'x', '!not-a-marker/../..'])).toString('base64url');
    const response = await list(KEY, `&continue=${forged}`);
    // Azurite lists from the start for a marker it does not know (the cursor still keeps what it shows after its
    // place); Blob Storage refuses one with 400, which the route answers as a 400 (test/functions/runs-list.test.ts).
    expect(response.status, JSON.stringify(response.jsonBody)).toBe(200);
  });

  it('refuses a namespace the app does not allow, and one outside the caller\'s policy, before anything is read', async () => {
    const notAllowed = await listRuns(new HttpRequest({ method: 'GET', url: `${BASE}/runs?namespace=kube-system`, headers: KEY }), context());
    expect(notAllowed.status).toBe(403);
    const config = loadConfig({
      CLUSTERS: JSON.stringify([{ alias: 'local', type: 'kubeconfig', kubeconfigPath: inject('kubeconfigPath'), namespaces: [ns(), 'elsewhere'] }]),
      EASY_AUTH_ENABLED: 'true',
      CALLER_POLICIES: JSON.stringify({ [APP_A]: { namespaces: ['elsewhere'] } }),
      LOGS_CONNECTION_STRING: inject('logsConnectionString'),
    });
    const previous = services();
    setServices(createServices(config));
    try {
      const confined = await list(as(APP_A));
      expect(confined.status).toBe(403);
      expect((confined.jsonBody as { detail: string }).detail).toContain('CALLER_POLICIES');
    } finally {
      setServices(previous);
    }
  });
});
