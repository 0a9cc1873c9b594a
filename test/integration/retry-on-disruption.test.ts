import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { LocalDurable } from '../../local/durable/runtime.js';
import { RETRY_ON_DISRUPTION_ANNOTATION, RUN_ID_LABEL } from '../../src/core/labels.js';
import type { RunAttempt } from '../../src/core/retry.js';
import { getRun } from '../../src/functions/getRun.js';
import { startJobRun } from '../../src/functions/startJobRun.js';
import { createServices, setServices } from '../../src/services.js';
import { evicted, fails, succeeds } from '../../testenv/fates.js';
import { adminKube, jobPods, testJob, useNamespace, waitFor } from './helpers.js';
import { localRunPath, runPathConfig } from './run-path.js';

/**
 * Retries for infrastructure faults only (issue 22, item 4), on the local control plane through the app's whole
 * run path (orchestration 3.1 in the local Durable runtime): the faults are the fault matrix's, produced for real
 * (the Eviction API, kwok playing the kubelet's eviction under node pressure, a container's exit code), and every
 * Job the run made is counted in the cluster by the run id label all of a run's Jobs carry.
 */
const ns = useNamespace('retries');
const kube = adminKube();
let durable: LocalDurable;
const context = () => new InvocationContext({ functionName: 'it', invocationId: 'inv-retries', logHandler: () => undefined });
const BASE = 'http://127.0.0.1:7071/api';
/** Stands for the kubelet's graceful termination of an evicted pod, which kwok does not model (as in failure-matrix.test.ts). */
const HOLD = 'aks-job-runner.test/hold';

beforeAll(() => {
  setServices(createServices(runPathConfig(ns())));
  durable = localRunPath();
});

afterAll(async () => {
  await durable.close();
});

function json(r: HttpResponseInit): Record<string, unknown> {
  return r.jsonBody as Record<string, unknown>;
}

function startRequest(name: string, query = ''): HttpRequest {
  return new HttpRequest({
    method: 'POST',
    url: `${BASE}/jobs/${ns()}/${name}/runs${query}`,
    params: { namespace: ns(), name },
    headers: { 'content-type': 'application/json' },
    body: { string: '{}' },
  });
}

async function start(name: string, query = ''): Promise<string> {
  const response = await startJobRun(startRequest(name, query), durable, context());
  expect(response.status, JSON.stringify(response.jsonBody)).toBe(202);
  return json(response).runId as string;
}

async function finished(runId: string): Promise<Record<string, unknown>> {
  return waitFor(
    `run ${runId} to finish`,
    async () => {
      const response = await getRun(new HttpRequest({ method: 'GET', url: `${BASE}/runs/${runId}`, params: { runId } }), durable, context());
      return response.status === 202 ? undefined : { ...json(response), http: response.status };
    },
    180_000,
    500,
  );
}

/** A source Job kept suspended, whose owner allows `retries` retries on disruption. */
async function source(name: string, retries: string, fate: Parameters<typeof testJob>[0]['fate']): Promise<void> {
  const job: V1Job = testJob({ name, namespace: ns(), suspend: true, fate, jobAnnotations: { [RETRY_ON_DISRUPTION_ANNOTATION]: retries } });
  await kube.batch.createNamespacedJob({ namespace: ns(), body: job });
}

/** The Jobs of a run in the cluster now, by the run id label every attempt's Job carries. */
async function jobsOf(runId: string): Promise<string[]> {
  const jobs = await kube.batch.listNamespacedJob({ namespace: ns(), labelSelector: `${RUN_ID_LABEL}=${runId}` });
  return jobs.items.map((j) => j.metadata?.name ?? '').sort();
}

async function runningPod(job: string): Promise<V1Pod> {
  return waitFor(`a running pod of ${job}`, async () => (await jobPods(kube, ns(), job)).find((p) => p.status?.phase === 'Running'), 60_000);
}

async function hold(pod: V1Pod): Promise<void> {
  await kube.core.patchNamespacedPod({ name: pod.metadata?.name ?? '', namespace: ns(), body: [{ op: 'add', path: '/metadata/finalizers/-', value: HOLD }] });
}

async function release(job: string): Promise<void> {
  for (const pod of await jobPods(kube, ns(), job)) {
    const at = (pod.metadata?.finalizers ?? []).indexOf(HOLD);
    if (at < 0) continue;
    await kube.core
      .patchNamespacedPod({
        name: pod.metadata?.name ?? '',
        namespace: ns(),
        body: [
          { op: 'test', path: `/metadata/finalizers/${String(at)}`, value: HOLD },
          { op: 'remove', path: `/metadata/finalizers/${String(at)}` },
        ],
      })
      .catch(() => undefined);
  }
}

describe('retries on disruption, for real', () => {
  it('an evicted run with the annotation comes back and succeeds on a second Job: one run id, two Jobs counted', async () => {
    // Long enough that the first pod is evicted while it runs; the second runs it to the end.
    await source('drained', '1', succeeds({ runFor: '20s' }));
    const runId = await start('drained');
    const pod = await runningPod(runId);
    await hold(pod);
    let body: Record<string, unknown>;
    try {
      await kube.core.createNamespacedPodEviction({
        name: pod.metadata?.name ?? '',
        namespace: ns(),
        body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod.metadata?.name ?? '', namespace: ns() } },
      });
      // The second Job is made while the first one's pod is still held: the run has moved on.
      const second = await waitFor(`the second Job of ${runId}`, async () => (await jobsOf(runId)).find((name) => name === `${runId}-2`), 90_000);
      expect(second).toBe(`${runId}-2`);
      body = await finished(runId);
    } finally {
      await release(runId);
    }
    expect(body).toMatchObject({ http: 200, status: 'Success', runId, jobName: `${runId}-2` });
    expect(body).not.toHaveProperty('failure');
    const attempts = body.attempts as RunAttempt[];
    expect(attempts.map((a) => [a.job, a.failure?.kind ?? null, a.failure?.reason ?? null])).toEqual([
      [runId, 'DisruptionTarget', 'EvictionByEvictionAPI'],
      [`${runId}-2`, null, null],
    ]);
    // Counted in the cluster: the first Job deleted (pods with it), the second the only one left; two Jobs in all.
    expect(await jobsOf(runId)).toEqual([`${runId}-2`]);
    expect(attempts).toHaveLength(2);
  }, 240_000);

  it('an exit-code failure with the annotation is not retried: one Job counted, its verdict the run\'s', async () => {
    await source('exits', '2', fails({ exitCode: 3, runFor: '500ms' }));
    const runId = await start('exits');
    const body = await finished(runId);
    expect(body).toMatchObject({ http: 424, status: 'Failed', failureKind: 'ExitCode', exitCode: 3, jobName: runId });
    expect((body.attempts as RunAttempt[]).map((a) => [a.job, a.failure?.kind])).toEqual([[runId, 'ExitCode']]);
    // Wait out a poll or two more: no second Job ever appears.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(await jobsOf(runId)).toEqual([runId]);
  }, 120_000);

  it('a run evicted by the kubelet on every Job stops after the retries allowed: 1 + 2 Jobs, Failed with the last', async () => {
    await source('pressure', '2', evicted({ after: '1s' }));
    const runId = await start('pressure');
    const body = await finished(runId);
    expect(body).toMatchObject({ http: 424, status: 'Failed', failureKind: 'Evicted', jobName: `${runId}-3` });
    const attempts = body.attempts as RunAttempt[];
    expect(attempts.map((a) => [a.job, a.failure?.kind])).toEqual([
      [runId, 'Evicted'],
      [`${runId}-2`, 'Evicted'],
      [`${runId}-3`, 'Evicted'],
    ]);
    // The failed attempts' Jobs were deleted before the next; the last ended itself and stays.
    expect(await jobsOf(runId)).toEqual([`${runId}-3`]);
  }, 240_000);

  it('a request asking for more retries than the annotation allows is refused (400), and no run starts', async () => {
    await source('bounded', '1', succeeds());
    const response = await startJobRun(startRequest('bounded', '?retryOnDisruption=2'), durable, context());
    expect(response.status).toBe(400);
    expect(response.headers).toMatchObject({ 'Content-Type': 'application/problem+json' });
    expect(json(response).detail).toContain(`retryOnDisruption=2 asks for more retries than Job ${ns()}/bounded allows: its annotation ${RETRY_ON_DISRUPTION_ANNOTATION} allows 1`);
    const managed = await kube.batch.listNamespacedJob({ namespace: ns(), labelSelector: 'aks-job-runner.io/source-name=bounded' });
    expect(managed.items).toEqual([]);
    // Asking for fewer is the request's to choose.
    const runId = await start('bounded', '?retryOnDisruption=0');
    expect(await finished(runId)).toMatchObject({ http: 200, status: 'Success' });
  }, 120_000);
});
