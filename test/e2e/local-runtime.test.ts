import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type LocalApp, startLocalApp } from '../../local/host/server.js';
import { ALLOW_ENV_ANNOTATION } from '../../src/core/consent.js';
import { RUN_ID_LABEL } from '../../src/core/labels.js';
import { COMPLETE_DELAY_ANNOTATION, TERMINATION_MESSAGE_ANNOTATION } from '../../testenv/fates.js';
import { adminKube, testJob, useNamespace, waitFor } from '../integration/helpers.js';
import { localAppSettings } from '../support/e2e-settings.js';

/**
 * End to end over real HTTP: the app's registered functions served by the local runtime, against the local
 * control plane, called the way Logic Apps and Polysync call it.
 */
const ns = useNamespace('e2e');
const kube = adminKube();
let app: LocalApp;
let stateDir: string;

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function call(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(url, {
    method,
    headers: { 'Content-Type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/**
 * What the Logic Apps engine does with an asynchronous HTTP action: poll Location with GET while the answer
 * is 202, waiting Retry-After seconds, without the first request's custom headers, until a non-202 answer.
 */
async function logicAppsFollow(first: Answer): Promise<{ final: Answer; polls: number }> {
  let answer = first;
  let polls = 0;
  while (answer.status === 202) {
    const location = answer.headers.get('Location');
    expect(location, 'a 202 always carries Location').toBeTruthy();
    const retryAfter = Number(answer.headers.get('Retry-After'));
    expect(retryAfter).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, retryAfter * 1000));
    answer = await call('GET', location ?? '');
    polls++;
    if (polls > 120) throw new Error('the run did not finish');
  }
  return { final: answer, polls };
}

async function runJobsOf(runId: string): Promise<number> {
  return (await kube.batch.listNamespacedJob({ namespace: ns(), labelSelector: `${RUN_ID_LABEL}=${runId}` })).items.length;
}

beforeAll(async () => {
  Object.assign(process.env, localAppSettings(ns()));
  stateDir = await mkdtemp(join(tmpdir(), 'aks-job-runner-e2e-'));
  app = await startLocalApp({ functionKey: 'e2e-key', stateDir });
  const job = (name: string, annotations: Record<string, string>) =>
    kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name, namespace: ns(), suspend: true, annotations, env: [{ name: 'MODE', value: 'full' }], jobAnnotations: { [ALLOW_ENV_ANNOTATION]: 'LIMIT,DRY_RUN,X' } }) });
  await job('report', { [COMPLETE_DELAY_ANNOTATION]: '2s', [TERMINATION_MESSAGE_ANNOTATION]: '{"rows":42,"file":"report.csv"}' });
  await job('slow', { [COMPLETE_DELAY_ANNOTATION]: '1h' });
  await job('restartable', { [COMPLETE_DELAY_ANNOTATION]: '8s' });
});

afterAll(async () => {
  await app.close();
  await rm(stateDir, { recursive: true, force: true });
});

describe('the app over HTTP on the local runtime', () => {
  it('refuses calls without the function key, as the host does', async () => {
    const answer = await call('GET', `${app.url}/api/jobs?namespace=${ns()}`);
    expect(answer.status).toBe(401);
  });

  it('a Logic-Apps-style client follows 202 + Location + Retry-After to a 200 Success', async () => {
    const first = await call('POST', `${app.url}/api/jobs/${ns()}/report/runs?code=${app.functionKey}`, { MODE: 'quick' });
    expect(first.status).toBe(202);
    expect(first.headers.get('Location')).toContain(`code=${app.functionKey}`);
    const { final, polls } = await logicAppsFollow(first);
    expect(polls).toBeGreaterThan(1);
    expect(final.status).toBe(200);
    expect(final.body).toMatchObject({ status: 'Success', runtimeStatus: 'Completed' });
  });

  it('a Polysync-style call with typed parameters gets its outputs as top-level properties', async () => {
    // Polysync fills the route from parameters of the same names and sends every parameter in the body, typed.
    const first = await call('POST', `${app.url}/api/jobs/${ns()}/report/runs`, { namespace: ns(), name: 'report', LIMIT: 500, DRY_RUN: false }, { 'x-functions-key': app.functionKey });
    expect(first.status).toBe(202);
    const statusUrl = first.body.statusUrl as string;
    const final = await waitFor('the run to end', async () => {
      const answer = await call('GET', statusUrl, undefined, { 'x-functions-key': app.functionKey });
      return answer.status === 202 ? undefined : answer;
    });
    expect(final.status).toBe(200);
    expect(final.body).toMatchObject({ rows: 42, file: 'report.csv', outputs: { rows: 42, file: 'report.csv' } });
    const job = await kube.batch.readNamespacedJob({ name: first.body.runId as string, namespace: ns() });
    expect(job.spec?.template.spec?.containers[0]?.env).toEqual([
      { name: 'MODE', value: 'full' },
      { name: 'LIMIT', value: '500' },
      { name: 'DRY_RUN', value: 'false' },
    ]);
  });

  it('the same idempotency key twice gives one run and one Job', async () => {
    const url = `${app.url}/api/jobs/${ns()}/report/runs?code=${app.functionKey}`;
    const [a, b] = await Promise.all([call('POST', url, { X: 1 }, { 'Idempotency-Key': 'nightly-2026-11-23' }), call('POST', url, { X: 1 }, { 'Idempotency-Key': 'nightly-2026-11-23' })]);
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(a.body.runId).toBe(b.body.runId);
    await logicAppsFollow(a);
    expect(await runJobsOf(a.body.runId as string)).toBe(1);
  });

  it('cancels a run mid-way: 202, then the run ends Cancelled (424) and its Job is gone', async () => {
    const first = await call('POST', `${app.url}/api/jobs/${ns()}/slow/runs?code=${app.functionKey}`, {});
    const statusUrl = first.body.statusUrl as string;
    await waitFor('Running', async () => (await call('GET', statusUrl)).body.status === 'Running');
    const cancel = await call('POST', first.body.cancelUrl as string, { reason: 'e2e' });
    expect(cancel.status).toBe(202);
    const { final } = await logicAppsFollow(cancel);
    expect(final.status).toBe(424);
    expect(final.body.status).toBe('Cancelled');
    const again = await call('POST', first.body.cancelUrl as string, {});
    expect(again.status).toBe(409);
    await waitFor('the Job to be gone', async () => (await runJobsOf(first.body.runId as string)) === 0);
  });

  it('a restart of the local runtime mid-run resumes the orchestration from its kept history, without a second Job', async () => {
    const first = await call('POST', `${app.url}/api/jobs/${ns()}/restartable/runs?code=${app.functionKey}`, {});
    const runId = first.body.runId as string;
    await waitFor('Running', async () => (await call('GET', first.body.statusUrl as string)).body.status === 'Running');
    await app.close();

    app = await startLocalApp({ functionKey: 'e2e-key', stateDir });
    expect(app.resumed).toBeGreaterThanOrEqual(1);
    const status = await call('GET', `${app.url}/api/runs/${runId}?code=${app.functionKey}`);
    expect(status.status).toBe(202);
    const { final } = await logicAppsFollow(status);
    expect(final.status).toBe(200);
    expect(final.body.status).toBe('Success');
    expect(await runJobsOf(runId)).toBe(1);
    const history = app.durable.state(runId)?.records ?? [];
    expect(history.filter((r) => r.kind === 'scheduled' && r.name === 'submitRun')).toHaveLength(1);
  });
});
