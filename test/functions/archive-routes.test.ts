import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { beforeEach, describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config.js';
import type { JobRunInput } from '../../src/core/schemas.js';
import { getRunLogs } from '../../src/functions/getRunLogs.js';
import { listCronJobRuns } from '../../src/functions/listCronJobRuns.js';
import { createServices, setServices } from '../../src/services.js';
import { FakeDurableClient } from '../fakes/durable-client.js';
import { FakeKube } from '../fakes/kube.js';

/**
 * The logs and runs routes' own logic over in-memory clusters, with no archive configured (the archive itself
 * is tested on a real Azurite in test/integration/archive.test.ts).
 */
const t0 = new Date('2026-11-23T10:00:00Z');
const BASE = 'https://jobs.example.net/api';
const config = loadConfig({
  CLUSTERS: JSON.stringify([
    { alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/nonexistent', namespaces: ['batch'] },
    { alias: 'staging', type: 'kubeconfig', kubeconfigPath: '/nonexistent', namespaces: ['batch'] },
  ]),
  DEFAULT_CLUSTER: 'dev',
});

let kube: FakeKube;
let client: FakeDurableClient;
const context = () => new InvocationContext({ functionName: 'test', invocationId: 'inv-1', logHandler: () => undefined });
const get = (path: string, params: Record<string, string>) => new HttpRequest({ method: 'GET', url: `${BASE}/${path}`, params });
const json = (r: HttpResponseInit) => r.jsonBody as Record<string, unknown>;
const header = (r: HttpResponseInit, name: string) => (r.headers as Record<string, string> | undefined)?.[name];
const logs = (runId: string, query = '') => getRunLogs(get(`runs/${runId}/logs${query}`, { runId }), client, context());
const runs = (name: string, query = '') => listCronJobRuns(get(`cronjobs/batch/${name}/runs${query}`, { namespace: 'batch', name }), context());

function appRun(runId: string, namespace = 'batch'): JobRunInput {
  return {
    request: { runId, cluster: 'dev', namespace, source: { kind: 'Job', name: 'nightly' }, overrides: {}, requestHash: 'h' },
    poll: { initialSeconds: 5, maxSeconds: 60, factor: 2, continueAsNewAfter: 50, maxObserveFailures: 10 },
    retry: { firstRetryMs: 1000, maxAttempts: 2 },
  };
}

function pod(name: string, job: string, createdMinute: number): V1Pod {
  return {
    metadata: { name, namespace: 'batch', labels: { 'batch.kubernetes.io/job-name': job }, creationTimestamp: new Date(t0.getTime() + createdMinute * 60_000) },
    spec: { initContainers: [{ name: 'setup' }], containers: [{ name: 'main' }, { name: 'helper' }] },
    status: { phase: 'Succeeded' },
  };
}

const owner = { apiVersion: 'batch/v1', kind: 'CronJob', name: 'tidy', uid: 'cj-1', controller: true };
function cronRun(name: string, startMinute: number, metadata: Partial<NonNullable<V1Job['metadata']>> = {}, complete = true): V1Job {
  const at = new Date(t0.getTime() + startMinute * 60_000);
  return {
    metadata: { name, namespace: 'batch', creationTimestamp: at, ownerReferences: [owner], ...metadata },
    status: {
      startTime: at,
      ...(complete ? { completionTime: at, conditions: [{ type: 'Complete', status: 'True', reason: 'CompletionsReached' }] } : { active: 1 }),
    },
  };
}

beforeEach(() => {
  kube = new FakeKube();
  client = new FakeDurableClient();
  setServices(createServices(config, { gatewayFactory: () => kube, now: () => t0 }));
});

describe('GET /runs/{runId}/logs', () => {
  it("finds an app run's cluster and namespace from its orchestration and reads the newest pod's first container, as text", async () => {
    client.put({ instanceId: 'nightly-0123456789', input: appRun('nightly-0123456789') });
    kube.pods.push(pod('nightly-0123456789-old', 'nightly-0123456789', 0), pod('nightly-0123456789-new', 'nightly-0123456789', 1));
    const response = await logs('nightly-0123456789', '?tailLines=10');
    expect(response.status).toBe(200);
    expect(header(response, 'Content-Type')).toBe('text/plain; charset=utf-8');
    expect(header(response, 'X-Log-Source')).toBe('live');
    expect(header(response, 'Content-Disposition')).toBe('inline; filename="nightly-0123456789-new-main.log"');
    expect(kube.calls).toContain('readPodLog batch/nightly-0123456789-new/main');
  });

  it('reads a named container and pod, and the previous instance, as a download when asked', async () => {
    kube.pods.push(pod('tidy-1-a', 'tidy-1', 0), pod('tidy-1-b', 'tidy-1', 1));
    const response = await logs('tidy-1', '?namespace=batch&pod=tidy-1-a&container=setup&previous=true&download=true');
    expect(response.status).toBe(200);
    expect(header(response, 'Content-Disposition')).toBe('attachment; filename="tidy-1-a-setup-previous.log"');
    expect(kube.calls).toContain('readPodLog batch/tidy-1-a/setup');
  });

  it('answers 404 naming the containers when the pod has no such container', async () => {
    kube.pods.push(pod('tidy-1-a', 'tidy-1', 0));
    const response = await logs('tidy-1', '?namespace=batch&container=sidecar');
    expect(response.status).toBe(404);
    expect(json(response).detail).toBe('pod tidy-1-a of run "tidy-1" has no container "sidecar"; its containers: setup, main, helper');
  });

  it.each([
    { name: 'a run the app did not start, without a namespace', query: '', status: 404, detail: /the app started no run with id "tidy-1"; for a Job it did not start .* pass \?namespace=/ },
    { name: 'no pods and no archive configured', query: '?namespace=batch', status: 404, detail: /no pods in namespace "batch" of cluster "dev" \(not yet, or not any more\), and no logs archive is configured \(LOGS_ACCOUNT_URL or LOGS_CONNECTION_STRING\)/ },
    { name: 'a namespace the cluster does not allow', query: '?namespace=kube-system', status: 403, detail: /namespace "kube-system" is not allowed on cluster "dev"/ },
    { name: 'an unknown cluster', query: '?namespace=batch&cluster=nope', status: 403, detail: /cluster "nope" is not configured/ },
    { name: 'a tail of no lines', query: '?namespace=batch&tailLines=0', status: 400, detail: /tailLines must be a whole number from 1 to 100000, got "0"/ },
    { name: 'previous that is not a boolean', query: '?namespace=batch&previous=yes', status: 400, detail: /previous must be true or false, got "yes"/ },
  ])('answers $status for $name, saying why', async ({ query, status, detail }) => {
    const response = await logs('tidy-1', query);
    expect(response.status).toBe(status);
    expect(header(response, 'Content-Type')).toBe('application/problem+json');
    expect(json(response).detail).toMatch(detail);
  });

  // Found by the fuzz (test/e2e/fuzz.test.ts): the cluster was ignored when no namespace came with it.
  it.each([
    { name: 'a cluster the app does not know is a 403, as on every route', query: '?cluster=nope', status: 403, says: /cluster "nope" is not configured/ },
    { name: 'a known cluster the run is not on is a 404 naming the run\'s', query: '?cluster=staging', status: 404, says: /runs on cluster "dev", not "staging"/ },
    { name: 'an unknown cluster is a 403 also with an empty namespace', query: '?namespace=&cluster=0', status: 403, says: /cluster "0" is not configured/ },
  ])('without a namespace, $name', async ({ query, status, says }) => {
    client.put({ instanceId: 'nightly-0123456789', input: appRun('nightly-0123456789') });
    kube.pods.push(pod('nightly-0123456789-a', 'nightly-0123456789', 0));
    const response = await logs('nightly-0123456789', query);
    expect(response.status).toBe(status);
    expect(header(response, 'Content-Type')).toBe('application/problem+json');
    expect(String(json(response).detail)).toMatch(says);
    expect(kube.calls.filter((c) => c.startsWith('readPodLog'))).toEqual([]);
  });

  it("with the run's own cluster, or an empty one, reads the run's log", async () => {
    client.put({ instanceId: 'nightly-0123456789', input: appRun('nightly-0123456789') });
    kube.pods.push(pod('nightly-0123456789-a', 'nightly-0123456789', 0));
    expect((await logs('nightly-0123456789', '?cluster=dev')).status).toBe(200);
    expect((await logs('nightly-0123456789', '?cluster=&namespace=')).status).toBe(200);
  });

  it('answers 404 for something that cannot be a run id', async () => {
    const response = await logs('Not_A_Run');
    expect(response.status).toBe(404);
    expect(json(response).detail).toMatch(/run ids are Job names/);
  });
});

describe('GET /cronjobs/{namespace}/{name}/runs', () => {
  beforeEach(() => {
    kube.addCronJob({ metadata: { name: 'tidy', namespace: 'batch', uid: 'cj-1' }, spec: { schedule: '* * * * *', jobTemplate: { spec: { template: {} } } } });
  });

  it("lists the controller's and the app's runs newest first, each with its trigger, status and links; other Jobs are not its runs", async () => {
    kube.addJob(cronRun('tidy-29923598', 1, { annotations: { 'batch.kubernetes.io/cronjob-scheduled-timestamp': '2026-11-23T10:01:00Z' } }));
    kube.addJob(
      cronRun('tidy-abcdefghij', 3, {
        labels: { 'app.kubernetes.io/managed-by': 'aks-job-runner', 'aks-job-runner.io/source-kind': 'CronJob', 'aks-job-runner.io/source-name': 'tidy' },
        annotations: { 'cronjob.kubernetes.io/instantiate': 'manual' },
      }, false),
    );
    kube.addJob(cronRun('tidy-manual', 2, { annotations: { 'cronjob.kubernetes.io/instantiate': 'manual' } }));
    kube.addJob(cronRun('other-1', 4, { ownerReferences: [{ ...owner, name: 'other', uid: 'cj-2' }] }));
    const response = await runs('tidy');
    expect(response.status).toBe(200);
    expect(json(response)).toEqual({
      items: [
        {
          runId: 'tidy-abcdefghij',
          status: 'Running',
          reason: 'Running',
          startTime: '2026-11-23T10:03:00.000Z',
          completionTime: null,
          trigger: 'http',
          live: true,
          archived: false,
          statusUrl: `${BASE}/runs/tidy-abcdefghij`,
          logsUrl: `${BASE}/runs/tidy-abcdefghij/logs?cluster=dev&namespace=batch`,
        },
        expect.objectContaining({ runId: 'tidy-manual', trigger: 'manual', status: 'Success' }) as unknown,
        expect.objectContaining({ runId: 'tidy-29923598', trigger: 'cluster', status: 'Success', reason: 'CompletionsReached', completionTime: '2026-11-23T10:01:00.000Z' }) as unknown,
      ],
      continue: null,
    });
    expect((json(response).items as Record<string, unknown>[])[2]).not.toHaveProperty('statusUrl');
  });

  it('pages with limit and continue, every run once', async () => {
    for (let i = 0; i < 5; i++) kube.addJob(cronRun(`tidy-${String(29923590 + i)}`, i));
    const seen: string[] = [];
    let token: string | null = null;
    do {
      const page = await runs('tidy', `?limit=2${token ? `&continue=${encodeURIComponent(token)}` : ''}`);
      expect(page.status).toBe(200);
      seen.push(...(json(page).items as { runId: string }[]).map((r) => r.runId));
      token = json(page).continue as string | null;
    } while (token);
    expect(seen).toEqual(['tidy-29923594', 'tidy-29923593', 'tidy-29923592', 'tidy-29923591', 'tidy-29923590']);
  });

  it('an existing CronJob with no runs yet has an empty history', async () => {
    expect(json(await runs('tidy'))).toEqual({ items: [], continue: null });
  });

  it.each([
    { name: 'a CronJob that does not exist and has no archived runs', cronJob: 'nope', query: '', status: 404, detail: /no CronJob "nope" in namespace "batch" of cluster "dev", and no archived runs of one by that name/ },
    { name: 'a CronJob name longer than 52', cronJob: 'a'.repeat(53), query: '', status: 400, detail: /at most 52 characters/ },
    { name: 'a limit over the maximum', cronJob: 'tidy', query: '?limit=501', status: 400, detail: /limit must be a whole number from 1 to 500/ },
    { name: 'a continue token it did not give out', cronJob: 'tidy', query: '?continue=abc', status: 400, detail: /continue is not a token this route gave out/ },
    { name: 'an unknown cluster', cronJob: 'tidy', query: '?cluster=prod', status: 403, detail: /cluster "prod" is not configured/ },
  ])('answers $status for $name', async ({ cronJob, query, status, detail }) => {
    const response = await runs(cronJob, query);
    expect(response.status).toBe(status);
    expect(json(response).detail).toMatch(detail);
  });
});

describe('GET /runs/{runId}/logs?follow=true', () => {
  const followConfig = loadConfig({
    CLUSTERS: JSON.stringify([{ alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/nonexistent', namespaces: ['batch'] }]),
    LOGS_FOLLOW_SEGMENT_SECONDS: '1',
    LOGS_FOLLOW_MAX_STREAMS: '3',
    LOGS_FOLLOW_MAX_STREAMS_PER_CALLER: '2',
  });
  const RUN = 'nightly-0123456789';
  const follow = (query: string, key: string) =>
    getRunLogs(new HttpRequest({ method: 'GET', url: `${BASE}/runs/${RUN}/logs?follow=true${query}`, params: { runId: RUN }, headers: { 'x-functions-key': key } }), client, context());
  const running = (): V1Pod => ({
    ...pod(`${RUN}-a`, RUN, 0),
    status: { phase: 'Running', containerStatuses: [{ name: 'main', image: 'busybox', imageID: '', ready: true, restartCount: 0, state: { running: {} } }] },
  });
  async function text(response: HttpResponseInit): Promise<string> {
    let out = '';
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) out += new TextDecoder().decode(chunk);
    return out;
  }

  beforeEach(() => {
    setServices(createServices(followConfig, { gatewayFactory: () => kube, now: () => t0 }));
    client.put({ instanceId: RUN, input: appRun(RUN) });
    kube.addJob({ metadata: { name: RUN, namespace: 'batch' }, status: {} });
    kube.pods.push(running());
    kube.appendLog(`batch/${RUN}-a/main`, '2026-11-23T10:00:01.5Z', 'hello');
  });

  it('streams the log as text/plain and ends the segment with the cursor to resume from', async () => {
    const response = await follow('', 'key-a');
    expect(response.status).toBe(200);
    expect(header(response, 'Content-Type')).toBe('text/plain; charset=utf-8');
    expect(header(response, 'X-Log-Follow-Segment-Seconds')).toBe('1');
    expect(response.body).toBeInstanceOf(ReadableStream);
    const lines = (await text(response)).split('\n');
    expect(lines).toContain('hello');
    expect(lines.at(-2)).toMatch(/^--- aks-job-runner: continue since=[A-Za-z0-9_-]+$/);
    expect(kube.openStreams.size).toBe(0);
  });

  it.each([
    { name: 'a since that is no cursor', query: '&since=not-a-cursor', detail: /since must be the cursor a followed log ended with/ },
    { name: 'with previous', query: '&previous=true', detail: /leave out previous, tailLines, pod and download/ },
    { name: 'with tailLines', query: '&tailLines=5', detail: /leave out previous, tailLines, pod and download/ },
  ])('answers 400 for $name, saying why', async ({ query, detail }) => {
    const response = await follow(query, 'key-a');
    expect(response.status).toBe(400);
    expect(json(response).detail).toMatch(detail);
  });

  it('answers 400 for a follow that is not a boolean', async () => {
    const response = await getRunLogs(get(`runs/${RUN}/logs?follow=maybe`, { runId: RUN }), client, context());
    expect(response.status).toBe(400);
    expect(json(response).detail).toMatch(/follow must be true or false, got "maybe"/);
  });

  it('answers 400 for since without follow', async () => {
    const response = await getRunLogs(get(`runs/${RUN}/logs?since=abc`, { runId: RUN }), client, context());
    expect(response.status).toBe(400);
    expect(json(response).detail).toMatch(/it goes with follow=true/);
  });

  it('a caller past its own cap gets 429, the instance past its cap 503, each with Retry-After; a finished stream frees its place', async () => {
    const held = [await follow('', 'key-a'), await follow('', 'key-a')];
    const third = await follow('', 'key-a');
    expect(third.status).toBe(429);
    expect(json(third)).toMatchObject({ title: 'FollowLimit' });
    expect(json(third).detail).toMatch(/LOGS_FOLLOW_MAX_STREAMS_PER_CALLER/);
    expect(header(third, 'Retry-After')).toMatch(/^\d+$/);
    held.push(await follow('', 'key-b'));
    const fourth = await follow('', 'key-c');
    expect(fourth.status).toBe(503);
    expect(json(fourth)).toMatchObject({ title: 'FollowCapacity' });
    expect(header(fourth, 'Retry-After')).toMatch(/^\d+$/);
    await Promise.all(held.map(text));
    expect((await follow('', 'key-c')).status).toBe(200);
  });

  it('a Job kept out of the app by its owner is refused as without follow, and holds no place', async () => {
    kube.addJob({ metadata: { name: 'kept-1', namespace: 'batch', annotations: { 'aks-job-runner.io/runnable': 'false' } }, status: {} });
    for (const query of ['', '&follow=true']) {
      const response = await getRunLogs(get(`runs/kept-1/logs?namespace=batch${query}`, { runId: 'kept-1' }), client, context());
      expect(response.status).toBe(403);
      expect(json(response).detail).toMatch(/kept out of this app by its annotation/);
    }
  });

  it('a namespace the app does not allow is refused before anything streams', async () => {
    const response = await getRunLogs(get(`runs/other-1/logs?namespace=kube-system&follow=true`, { runId: 'other-1' }), client, context());
    expect(response.status).toBe(403);
  });
});
