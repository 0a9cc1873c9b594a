import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import type { V1Job } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { LocalDurable } from '../../local/durable/runtime.js';
import { ALLOW_ENV_ANNOTATION } from '../../src/core/consent.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, RUN_ID_LABEL } from '../../src/core/labels.js';
import { requestHash, type RunRequest } from '../../src/core/run.js';
import { cancelRun } from '../../src/functions/cancelRun.js';
import { getRun } from '../../src/functions/getRun.js';
import { listJobs } from '../../src/functions/listJobs.js';
import { startJobRun } from '../../src/functions/startJobRun.js';
import { createRun } from '../../src/runs/submit.js';
import { createServices, services, setServices } from '../../src/services.js';
import { COMPLETE_DELAY_ANNOTATION, FAIL_LABEL, TERMINATION_MESSAGE_ANNOTATION } from '../../testenv/fates.js';
import { adminKube, localRunPath, runPathConfig, testJob, useNamespace, waitFor } from './helpers.js';

/** The run path against the real control plane: real Job controller, real 409s, real pagination. */
const ns = useNamespace('runs');
const kube = adminKube();
let durable: LocalDurable;
const context = () => new InvocationContext({ functionName: 'it', invocationId: 'inv-it', logHandler: () => undefined });
const BASE = 'http://127.0.0.1:7071/api';

beforeAll(() => {
  const config = runPathConfig(ns(), {
    GRACE_IMAGE_PULL_SECONDS: '3',
    FALLBACK_IMAGES: 'registry.invalid/',
  });
  setServices(createServices(config));
  durable = localRunPath();
});
afterAll(() => durable.close());

function post(path: string, body: unknown, params: Record<string, string>, headers: Record<string, string> = {}): HttpRequest {
  return new HttpRequest({ method: 'POST', url: `${BASE}/${path}`, params, headers: { 'content-type': 'application/json', ...headers }, body: { string: JSON.stringify(body) } });
}
function json(r: HttpResponseInit): Record<string, unknown> {
  return r.jsonBody as Record<string, unknown>;
}

async function source(job: V1Job): Promise<void> {
  await kube.batch.createNamespacedJob({ namespace: ns(), body: job });
}

async function start(name: string, body: unknown = {}, query = '', headers: Record<string, string> = {}): Promise<string> {
  const response = await startJobRun(post(`jobs/${ns()}/${name}/runs${query}`, body, { namespace: ns(), name }, headers), durable, context());
  expect(response.status, JSON.stringify(response.jsonBody)).toBe(202);
  return json(response).runId as string;
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

describe('the run path on a real control plane', () => {
  it('clones a Job with the env overlay and runs it to Success (200)', async () => {
    // A template Job kept suspended so it never runs itself: the run must not inherit that.
    await source(
      testJob({
        name: 'nightly',
        namespace: ns(),
        suspend: true,
        env: [{ name: 'BATCH_DATE', value: 'yesterday' }, { name: 'KEEP', value: 'me' }],
        annotations: { [COMPLETE_DELAY_ANNOTATION]: '1s' },
        jobAnnotations: { [ALLOW_ENV_ANNOTATION]: 'LIMIT' },
      }),
    );
    const runId = await start('nightly', { BATCH_DATE: '2026-11-23', LIMIT: 5 });
    const response = await finished(runId);
    expect(response.status).toBe(200);
    expect(json(response)).toMatchObject({ status: 'Success', runtimeStatus: 'Completed', jobName: runId, pods: { succeeded: 1 } });

    const run = await kube.batch.readNamespacedJob({ name: runId, namespace: ns() });
    expect(run.metadata?.labels).toMatchObject({ [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [RUN_ID_LABEL]: runId });
    expect(run.spec?.suspend).toBe(false);
    expect(run.spec?.template.spec?.containers[0]?.env).toEqual([
      { name: 'BATCH_DATE', value: '2026-11-23' },
      { name: 'KEEP', value: 'me' },
      { name: 'LIMIT', value: '5' },
    ]);
  });

  it('treats a replayed submit as success and a foreign Job of the same name as a conflict', async () => {
    await source(testJob({ name: 'replay', namespace: ns(), suspend: true, jobAnnotations: { [ALLOW_ENV_ANNOTATION]: 'A' } }));
    const request: RunRequest = {
      runId: 'replay-0000000001',
      cluster: 'local',
      namespace: ns(),
      source: { kind: 'Job', name: 'replay' },
      overrides: { A: '1' },
      requestHash: requestHash({ cluster: 'local', namespace: ns(), source: { kind: 'Job', name: 'replay' }, overrides: { A: '1' } }),
    };
    const gateway = services().clusters.gateway('local');
    const first = await createRun(gateway, request, null, new Date(), services().config.runPolicy);
    const again = await createRun(gateway, request, null, new Date(), services().config.runPolicy);
    expect([first.outcome, again.outcome]).toEqual(['submitted', 'submitted']);
    const jobs = await kube.batch.listNamespacedJob({ namespace: ns(), labelSelector: `${RUN_ID_LABEL}=replay-0000000001` });
    expect(jobs.items).toHaveLength(1);

    await source(testJob({ name: 'replay-0000000002', namespace: ns(), suspend: true }));
    const conflict = await createRun(gateway, { ...request, runId: 'replay-0000000002' }, null, new Date(), services().config.runPolicy);
    expect(conflict).toMatchObject({ outcome: 'rejected', snapshot: { status: 'Failed', reason: 'NameConflict' } });
  });

  it('reports a failing Job as Failed BackoffLimitExceeded (424)', async () => {
    await source(testJob({ name: 'broken', namespace: ns(), labels: { [FAIL_LABEL]: 'true' }, suspend: true }));
    const runId = await start('broken');
    const response = await finished(runId);
    expect(response.status).toBe(424);
    expect(json(response)).toMatchObject({ status: 'Failed', reason: 'BackoffLimitExceeded', runtimeStatus: 'Failed' });
  });

  it('fails a run whose image cannot be pulled once its grace period is over', async () => {
    const runId = await start('missing', {}, '?image=registry.invalid/no-such-image:1');
    const response = await finished(runId);
    expect(response.status).toBe(424);
    expect(json(response)).toMatchObject({ status: 'Failed', source: { fallbackImage: 'registry.invalid/no-such-image:1' } });
    // Which of the two the pod shows when the grace period ends depends on the kubelet's back-off timing.
    expect(['ErrImagePull', 'ImagePullBackOff']).toContain(json(response).reason);
    expect(json(response).message).toContain('registry.invalid/no-such-image:1');
    // The verdict is the app's, not the Job controller's: the Job is deleted so it cannot run later.
    await waitFor('the Job to be gone', async () => kube.batch.readNamespacedJob({ name: runId, namespace: ns() }).then(() => false, () => true));
  });

  it('carries the termination message into outputs and top-level properties', async () => {
    await source(
      testJob({ name: 'export', namespace: ns(), suspend: true, annotations: { [TERMINATION_MESSAGE_ANNOTATION]: '{"rows":42,"file":"out.csv","status":"ignored"}', [COMPLETE_DELAY_ANNOTATION]: '1s' } }),
    );
    const runId = await start('export');
    const body = json(await finished(runId));
    expect(body).toMatchObject({ status: 'Success', outputs: { rows: 42, file: 'out.csv', status: 'ignored' }, rows: 42, file: 'out.csv' });
    expect(body.status).toBe('Success');
  });

  it('cancels a running run: the Job and its pods are gone and the run is Cancelled (424)', async () => {
    await source(testJob({ name: 'slow', namespace: ns(), suspend: true, annotations: { [COMPLETE_DELAY_ANNOTATION]: '1h' } }));
    const runId = await start('slow');
    await waitFor('the run to be Running', async () => {
      const s = await durable.getStatus(runId);
      return (s.customStatus as { status?: string } | undefined)?.status === 'Running';
    });
    const response = await cancelRun(post(`runs/${runId}/cancel`, { reason: 'test' }, { runId }), durable, context());
    expect(response.status).toBe(202);
    const final = await finished(runId);
    expect(final.status).toBe(424);
    expect(json(final).status).toBe('Cancelled');
    await waitFor('the pods to be gone', async () => (await kube.core.listNamespacedPod({ namespace: ns(), labelSelector: `batch.kubernetes.io/job-name=${runId}` })).items.length === 0);
    await waitFor('the Job to be gone', async () => kube.batch.readNamespacedJob({ name: runId, namespace: ns() }).then(() => false, () => true));
  });

  it('never stores a credential in orchestration input, history, custom status or output', async () => {
    const runId = await start('nightly', { BATCH_DATE: 'x' });
    await finished(runId);
    const state = durable.state(runId);
    const stored = JSON.stringify(state);
    expect(stored.length).toBeGreaterThan(100);
    expect(stored).not.toContain(inject('adminToken'));
    expect(stored).not.toMatch(/token|kubeconfig|Bearer|client-key|certificate-authority/i);
  });

  it('pages discovery past 100 Jobs and hides the app’s own runs', async () => {
    await Promise.all(
      Array.from({ length: 105 }, (_, i) => kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: `bulk-${String(i).padStart(3, '0')}`, namespace: ns(), suspend: true }) })),
    );
    const names: string[] = [];
    let token: string | null = null;
    let pages = 0;
    do {
      const query: string = token ? `&continue=${encodeURIComponent(token)}` : '';
      const response = await listJobs(new HttpRequest({ method: 'GET', url: `${BASE}/jobs?namespace=${ns()}${query}` }), context());
      expect(response.status).toBe(200);
      const body = json(response) as { items: { name: string }[]; continue: string | null };
      names.push(...body.items.map((i) => i.name));
      token = body.continue;
      pages++;
    } while (token);
    expect(pages).toBeGreaterThanOrEqual(2);
    expect(names.filter((n) => n.startsWith('bulk-'))).toHaveLength(105);
    const runs = await kube.batch.listNamespacedJob({ namespace: ns(), labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}` });
    expect(runs.items.length).toBeGreaterThan(0);
    for (const run of runs.items) expect(names).not.toContain(run.metadata?.name);
  });
});
