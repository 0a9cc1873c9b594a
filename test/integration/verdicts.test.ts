import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import { type V1Job, Watch } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LocalDurable } from '../../local/durable/runtime.js';
import type { PodCounts, RunRef, RunSnapshot } from '../../src/core/run.js';
import { mapRunStatus } from '../../src/core/status.js';
import { cancelRun } from '../../src/functions/cancelRun.js';
import { getRun } from '../../src/functions/getRun.js';
import { CANCEL_EVENT } from '../../src/functions/names.js';
import { startJobRun } from '../../src/functions/startJobRun.js';
import { observeOnce } from '../../src/runs/observe.js';
import { createServices, services, setServices } from '../../src/services.js';
import { fails, succeeds } from '../../testenv/fates.js';
import { adminKube, condition, localRunPath, runPathConfig, testJob, useNamespace, waitFor } from './helpers.js';

/** Where the real Job controller decides: the counts at its verdict, and a cancel that meets a Job's own end. */
const ns = useNamespace('verdicts');
const kube = adminKube();
let durable: LocalDurable;
const context = () => new InvocationContext({ functionName: 'it', invocationId: 'inv-it', logHandler: () => undefined });
const BASE = 'http://127.0.0.1:7071/api';

beforeAll(() => {
  const config = runPathConfig(ns(), {
    // Polls far apart: the run does not see its Job end on its own before the test acts.
    POLL_INITIAL_SECONDS: '600',
    POLL_MAX_SECONDS: '600',
  });
  setServices(createServices(config));
  durable = localRunPath();
});
afterAll(() => durable.close());

const ref = (runId: string): RunRef => ({ runId, cluster: 'local', namespace: ns(), source: { kind: 'Job', name: runId } });
const countsOf = (job: V1Job): PodCounts => ({
  active: job.status?.active ?? 0,
  ready: job.status?.ready ?? 0,
  succeeded: job.status?.succeeded ?? 0,
  failed: job.status?.failed ?? 0,
});
const finalCondition = (job: V1Job) => condition(job, 'Complete')?.status === 'True' || condition(job, 'Failed')?.status === 'True';
const verdictCondition = (job: V1Job) =>
  ['SuccessCriteriaMet', 'FailureTarget', 'Complete', 'Failed'].some((type) => condition(job, type)?.status === 'True');

/** Every version of the Job's status the controller writes, until its final condition; and one observe at its first verdict. */
async function watchToTheEnd(name: string): Promise<{ statuses: V1Job[]; atVerdict: Promise<RunSnapshot> }> {
  const statuses: V1Job[] = [];
  let atVerdict: Promise<RunSnapshot> | undefined;
  const gateway = services().clusters.gateway('local');
  let request: { abort: () => void } | undefined;
  await new Promise<void>((resolve, reject) => {
    new Watch(kube.kc)
      .watch(
        `/apis/batch/v1/namespaces/${ns()}/jobs`,
        { fieldSelector: `metadata.name=${name}` },
        (_type: string, job: V1Job) => {
          statuses.push(structuredClone(job));
          if (!atVerdict && verdictCondition(job)) atVerdict = observeOnce(gateway, ref(name), services().config.grace, null, new Date());
          if (finalCondition(job)) resolve();
        },
        (err: unknown) => {
          if (err) reject(err instanceof Error ? err : new Error(JSON.stringify(err)));
        },
      )
      .then((req: { abort: () => void }) => {
        request = req;
      }, reject);
  });
  request?.abort();
  if (!atVerdict) throw new Error('no status with a verdict was seen');
  return { statuses, atVerdict };
}

describe('the counts of a finished run are those of the Job\'s final status', () => {
  it.each([
    ['succeeds (SuccessCriteriaMet, then Complete)', 'counts-ok', succeeds({ runFor: '500ms' })],
    ['fails (FailureTarget, then Failed)', 'counts-bad', fails({ runFor: '500ms' })],
  ])('a Job that %s: every status with a verdict maps to the final counts, and an observe at the verdict reports them', async (_, name, fate) => {
    const watching = watchToTheEnd(name);
    await kube.batch.createNamespacedJob({ namespace: ns(), body: { ...testJob({ name, namespace: ns(), fate }), spec: { ...testJob({ name, namespace: ns(), fate }).spec, completions: 2, parallelism: 2 } as V1Job['spec'] } });
    const { statuses, atVerdict } = await watching;
    const last = statuses.at(-1);
    if (!last) throw new Error('no status seen');
    const final = countsOf(last);
    const mapped = statuses.filter(verdictCondition).map((job) => mapRunStatus(ref(name), { job, pods: [], events: [], now: new Date() }, services().config.grace, null).pods);
    expect(mapped.length).toBeGreaterThan(0);
    for (const counts of mapped) expect({ succeeded: counts.succeeded, failed: counts.failed }).toEqual({ succeeded: final.succeeded, failed: final.failed });
    expect((await atVerdict).pods).toEqual(final);
  });
});

describe('a cancel that races the run\'s own end', () => {
  const post = (path: string, params: Record<string, string>, body: unknown = {}) =>
    new HttpRequest({ method: 'POST', url: `${BASE}/${path}`, params, headers: { 'content-type': 'application/json' }, body: { string: JSON.stringify(body) } });
  const json = (r: HttpResponseInit) => r.jsonBody as Record<string, unknown>;
  const MESSAGE = '{"rows":42}';

  async function runToItsOwnEnd(name: string): Promise<string> {
    await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name, namespace: ns(), suspend: true, fate: succeeds({ runFor: '300ms', terminationMessage: MESSAGE }) }) });
    const started = await startJobRun(post(`jobs/${ns()}/${name}/runs`, { namespace: ns(), name }), durable, context());
    expect(started.status, JSON.stringify(started.jsonBody)).toBe(202);
    const runId = json(started).runId as string;
    await waitFor('the Job to complete in Kubernetes', async () => finalCondition(await kube.batch.readNamespacedJob({ name: runId, namespace: ns() })));
    // The run has not looked since: its next poll is minutes away.
    expect((await durable.getStatus(runId)).customStatus).toMatchObject({ status: 'Starting' });
    return runId;
  }

  it('the cancel route answers 409 for a Job that has ended, and deletes nothing', async () => {
    const runId = await runToItsOwnEnd('race-route');
    const response = await cancelRun(post(`runs/${runId}/cancel`, { runId }), durable, context());
    expect(response.status).toBe(409);
    expect(json(response).detail).toContain('its Job has already ended: Success');
    await expect(kube.batch.readNamespacedJob({ name: runId, namespace: ns() })).resolves.toBeDefined();
  });

  it('a cancel event that reaches the orchestration after the Job ended keeps Success and the outputs, and the Job', async () => {
    const runId = await runToItsOwnEnd('race-event');
    await durable.raiseEvent(runId, CANCEL_EVENT, { reason: 'too late' });
    const final = await waitFor('the run to finish', async () => {
      const r = await getRun(new HttpRequest({ method: 'GET', url: `${BASE}/runs/${runId}`, params: { runId } }), durable, context());
      return r.status === 202 ? undefined : r;
    });
    expect(final.status).toBe(200);
    expect(json(final)).toMatchObject({ status: 'Success', outputs: { rows: 42 }, pods: { succeeded: 1 } });
    await expect(kube.batch.readNamespacedJob({ name: runId, namespace: ns() })).resolves.toBeDefined();
  });
});
