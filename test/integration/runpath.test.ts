import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import { ApiException, type V1Job } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LocalDurable } from '../../local/durable/runtime.js';
import { ALLOW_ENV_ANNOTATION } from '../../src/core/consent.js';
import { MAX_RUN_ID, runIdFor } from '../../src/core/naming.js';
import { getRun } from '../../src/functions/getRun.js';
import { listJobs } from '../../src/functions/listJobs.js';
import { createServices, setServices } from '../../src/services.js';
import { COMPLETE_DELAY_ANNOTATION } from '../../testenv/fates.js';
import { adminKube, testJob, useNamespace, waitFor } from './helpers.js';
import { localRunPath, runPathConfig, startJob } from './run-path.js';

/** Run-path limits checked against the API server's own rules (Kubernetes v1.34), not our reading of them. */
const ns = useNamespace('runpath');
const kube = adminKube();
let durable: LocalDurable;
const context = () => new InvocationContext({ functionName: 'it', invocationId: 'inv-runpath', logHandler: () => undefined });
const BASE = 'http://127.0.0.1:7071/api';
const INT32_MAX = 2 ** 31 - 1;

beforeAll(() => {
  const config = runPathConfig(ns());
  setServices(createServices(config));
  durable = localRunPath();
});
afterAll(() => durable.close());

function json(r: HttpResponseInit): Record<string, unknown> {
  return r.jsonBody as Record<string, unknown>;
}

function start(name: string, body: unknown): Promise<HttpResponseInit> {
  return startJob(durable, ns(), name, body);
}

async function finished(runId: string): Promise<HttpResponseInit> {
  return waitFor(
    `run ${runId} to finish`,
    async () => {
      const response = await getRun(new HttpRequest({ method: 'GET', url: `${BASE}/runs/${runId}`, params: { runId } }), durable, context());
      return response.status === 202 ? undefined : response;
    },
    90_000,
    500,
  );
}

/** The API server's answer to creating this Job: 201, or its status code (422 for an invalid one). */
async function create(job: V1Job): Promise<number> {
  try {
    await kube.batch.createNamespacedJob({ namespace: ns(), body: job });
    return 201;
  } catch (err) {
    if (err instanceof ApiException) return err.code;
    throw err;
  }
}

function indexed(name: string, completions: number, parallelism: number, suspend: boolean): V1Job {
  const job = testJob({ name, namespace: ns(), suspend, annotations: { [COMPLETE_DELAY_ANNOTATION]: '1s' } });
  if (job.spec) Object.assign(job.spec, { completionMode: 'Indexed', completions, parallelism });
  return job;
}

describe('Indexed Jobs with long names', () => {
  it('runs a 61-character Indexed Job to Success: the run id leaves room for its pods hostnames', async () => {
    const name = `indexed-${'x'.repeat(61 - 'indexed-'.length)}`;
    expect(await create(indexed(name, 3, 3, true))).toBe(201);
    const started = await start(name, {});
    expect(started.status, JSON.stringify(started.jsonBody)).toBe(202);
    const runId = json(started).runId as string;
    expect(runId.length).toBeLessThanOrEqual(MAX_RUN_ID);
    const response = await finished(runId);
    expect(response.status, JSON.stringify(response.jsonBody)).toBe(200);
    expect(json(response)).toMatchObject({ status: 'Success' });
    const pods = await kube.core.listNamespacedPod({ namespace: ns(), labelSelector: `batch.kubernetes.io/job-name=${runId}` });
    expect(pods.items.map((p) => p.spec?.hostname).sort()).toEqual([`${runId}-0`, `${runId}-1`, `${runId}-2`]);
  });

  it('the API server takes the longest run id with the largest completions an int32 holds, and not one character more', async () => {
    const longest = runIdFor({ cluster: 'local', namespace: ns(), sourceKind: 'Job', sourceName: 'y'.repeat(63) });
    expect(longest).toHaveLength(MAX_RUN_ID);
    // Suspended: the Job controller creates no pod for these, the API server only validates them.
    expect(await create(indexed(longest, INT32_MAX, 1, true))).toBe(201);
    expect(await create(indexed(`z${longest}`, INT32_MAX, 1, true))).toBe(422);
    await kube.batch.deleteNamespacedJob({ name: longest, namespace: ns(), propagationPolicy: 'Background' });
  });
});

describe('what the clone keeps, as the README says', () => {
  it('a source with a manual selector runs with the selector the API server generates for the clone', async () => {
    const source = testJob({ name: 'manual', namespace: ns(), suspend: true, labels: { app: 'manual-batch' }, annotations: { [COMPLETE_DELAY_ANNOTATION]: '1s' } });
    if (source.spec) Object.assign(source.spec, { manualSelector: true, selector: { matchLabels: { app: 'manual-batch' } } });
    expect(await create(source)).toBe(201);
    const started = await start('manual', {});
    expect(started.status, JSON.stringify(started.jsonBody)).toBe(202);
    const runId = json(started).runId as string;
    expect((await finished(runId)).status).toBe(200);
    const run = await kube.batch.readNamespacedJob({ name: runId, namespace: ns() });
    expect(run.spec?.manualSelector ?? false).toBe(false);
    expect(run.spec?.selector?.matchLabels).toEqual({ 'batch.kubernetes.io/controller-uid': run.metadata?.uid });
    expect(run.spec?.template.metadata?.labels).toMatchObject({ app: 'manual-batch' });
    expect(run.spec?.suspend).toBe(false);
  });
});

describe('env names and sizes, as the API server takes them', () => {
  it('names Kubernetes 1.34 accepts (1BAD, with spaces) are listed by discovery and accepted by the start route', async () => {
    const odd = testJob({ name: 'odd-names', namespace: ns(), suspend: true, env: [{ name: '1BAD', value: 'a' }, { name: 'BATCH DATE', value: 'b' }], annotations: { [COMPLETE_DELAY_ANNOTATION]: '1s' }, jobAnnotations: { [ALLOW_ENV_ANNOTATION]: '$ ~!' } });
    expect(await create(odd)).toBe(201);
    const listed = json(await listJobs(new HttpRequest({ method: 'GET', url: `${BASE}/jobs?namespace=${ns()}` }), context())) as { items: { name: string; params: Record<string, string> }[] };
    const params = listed.items.find((i) => i.name === 'odd-names')?.params ?? {};
    expect(params).toEqual({ '1BAD': 'a', 'BATCH DATE': 'b' });
    const body = { ...Object.fromEntries(Object.keys(params).map((k) => [k, `new ${k}`])), '$ ~!': 'c' };
    const started = await start('odd-names', body);
    expect(started.status, JSON.stringify(started.jsonBody)).toBe(202);
    const runId = json(started).runId as string;
    expect((await finished(runId)).status).toBe(200);
    const run = await kube.batch.readNamespacedJob({ name: runId, namespace: ns() });
    expect(run.spec?.template.spec?.containers[0]?.env).toEqual([
      { name: '1BAD', value: 'new 1BAD' },
      { name: 'BATCH DATE', value: 'new BATCH DATE' },
      { name: '$ ~!', value: 'c' },
    ]);
  });

  it.each([
    { name: 'with "="', env: 'A=B' },
    { name: 'with a letter outside ASCII', env: 'DATUM_É' },
    { name: 'with a tab', env: 'A\tB' },
  ])('a name $name is refused by the API server and, before it, by the start route', async ({ env }) => {
    expect(await create(testJob({ name: `refused-${String(env.charCodeAt(1))}`, namespace: ns(), suspend: true, env: [{ name: env, value: 'x' }] }))).toBe(422);
    const started = await start('odd-names', { [env]: 'x' });
    expect(started.status).toBe(400);
    expect(json(started).detail).toContain('is not a valid environment variable name');
  });

  it('a body near the 256 KiB limit, in variables under 128 KiB each, makes a Job the API server takes', async () => {
    await create(testJob({ name: 'big-env', namespace: ns(), suspend: true, annotations: { [COMPLETE_DELAY_ANNOTATION]: '1s' }, jobAnnotations: { [ALLOW_ENV_ANNOTATION]: 'A,B' } }));
    const chunk = 'v'.repeat(120 * 1024);
    const started = await start('big-env', { A: chunk, B: chunk });
    expect(started.status, JSON.stringify(started.jsonBody)).toBe(202);
    const runId = json(started).runId as string;
    expect((await finished(runId)).status).toBe(200);
  });
});
