import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { LocalDurable } from '../../local/durable/runtime.js';
import { ALLOW_ENV_ANNOTATION } from '../../src/core/consent.js';
import { MANAGED_SELECTOR } from '../../src/core/labels.js';
import { cancelRun } from '../../src/functions/cancelRun.js';
import { getRun } from '../../src/functions/getRun.js';
import { startJobRun } from '../../src/functions/startJobRun.js';
import type { RunClient } from '../../src/http/runs.js';
import { createServices, setServices } from '../../src/services.js';
import { COMPLETE_DELAY_ANNOTATION } from '../../testenv/fates.js';
import { adminKube, testJob, useNamespace, waitFor } from './helpers.js';
import { localRunPath, runPathConfig } from './run-path.js';

/**
 * Starts at once, on the local Durable runtime against the real control plane: the active-run cap under
 * concurrency (issue 21, item 6) and one idempotency key racing a run that finishes fast (issue 20, item 3).
 */
const ns = useNamespace('starts');
const kube = adminKube();
let durable: LocalDurable;
const context = () => new InvocationContext({ functionName: 'it', invocationId: 'inv-it', logHandler: () => undefined });
const BASE = 'http://127.0.0.1:7071/api';

beforeAll(async () => {
  setServices(createServices(runPathConfig(ns(), { MAX_ACTIVE_RUNS_PER_CLUSTER: '3' })));
  durable = localRunPath();
  const consent = { [ALLOW_ENV_ANNOTATION]: '*' };
  // Runs of `long` stay active for the whole file; runs of `quick` finish within a second or two.
  await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'long', namespace: ns(), suspend: true, jobAnnotations: consent, annotations: { [COMPLETE_DELAY_ANNOTATION]: '1h' } }) });
  await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'quick', namespace: ns(), suspend: true, jobAnnotations: consent, annotations: { [COMPLETE_DELAY_ANNOTATION]: '100ms' } }) });
});
afterAll(() => durable.close());

function start(client: RunClient, name: string, headers: Record<string, string> = {}): Promise<HttpResponseInit> {
  const request = new HttpRequest({
    method: 'POST',
    url: `${BASE}/jobs/${ns()}/${name}/runs`,
    params: { namespace: ns(), name },
    headers: { 'content-type': 'application/json', ...headers },
    body: { string: '{}' },
  });
  return startJobRun(request, client, context());
}

async function status(runId: string): Promise<Record<string, unknown>> {
  const response = await getRun(new HttpRequest({ method: 'GET', url: `${BASE}/runs/${runId}`, params: { runId } }), durable, context());
  return response.jsonBody as Record<string, unknown>;
}

async function appJobs(): Promise<string[]> {
  return (await kube.batch.listNamespacedJob({ namespace: ns(), labelSelector: MANAGED_SELECTOR })).items.map((j) => j.metadata?.name ?? '');
}

describe('starts at once on the local runtime and control plane', () => {
  it('ten parallel starts against MAX_ACTIVE_RUNS_PER_CLUSTER=3: 3 accepted, 7 answered 429 ActiveRunLimit, and 3 Jobs', async () => {
    const answers = await Promise.all(Array.from({ length: 10 }, () => start(durable, 'long')));
    const accepted = answers.filter((a) => a.status === 202).map((a) => (a.jsonBody as { runId: string }).runId);
    const refused = answers.filter((a) => a.status !== 202);
    expect(accepted).toHaveLength(3);
    expect(refused).toHaveLength(7);
    for (const answer of refused) {
      expect(answer.status).toBe(429);
      expect(answer.jsonBody).toMatchObject({ title: 'ActiveRunLimit', status: 429 });
      expect((answer.jsonBody as { detail: string }).detail).toContain('MAX_ACTIVE_RUNS_PER_CLUSTER');
    }
    // Every accepted run's Job exists and runs; no refused start left an orchestration that could make one.
    for (const runId of accepted) await waitFor(`run ${runId} to run`, async () => (await status(runId)).status === 'Running', 60_000, 250);
    expect((await appJobs()).sort()).toEqual([...accepted].sort());
    expect((await durable.getStatusBy({})).map((s) => s.instanceId).sort()).toEqual([...accepted].sort());

    // With its Jobs running the cluster is still full; once one is cancelled, one more start is accepted.
    expect((await start(durable, 'long')).status).toBe(429);
    const [first] = accepted;
    if (first === undefined) throw new Error('no run was accepted');
    const cancel = await cancelRun(new HttpRequest({ method: 'POST', url: `${BASE}/runs/${first}/cancel`, params: { runId: first } }), durable, context());
    expect(cancel.status).toBe(202);
    await waitFor(`run ${first} to be cancelled`, async () => (await status(first)).status === 'Cancelled', 60_000, 250);
    const next = await start(durable, 'long');
    expect(next.status, JSON.stringify(next.jsonBody)).toBe(202);
    for (const runId of [...accepted.slice(1), (next.jsonBody as { runId: string }).runId]) {
      await cancelRun(new HttpRequest({ method: 'POST', url: `${BASE}/runs/${runId}/cancel`, params: { runId } }), durable, context());
      await waitFor(`run ${runId} to be cancelled`, async () => (await status(runId)).status === 'Cancelled', 60_000, 250);
    }
  });

  it('two starts with one idempotency key racing a run that finishes fast run it once', async () => {
    // The second start's first read of Durable is taken before the first start and answered only once the first
    // start's run has finished; on the host startNew would then replace the finished instance (the extension's
    // NonRunningStates, OverridableStates.cs), as the local engine does.
    let release!: () => void;
    const firstDone = new Promise<void>((resolve) => (release = resolve));
    let held = false;
    const late: RunClient = {
      startNew: (name, options) => durable.startNew(name, options),
      getStatusBy: (filter) => durable.getStatusBy(filter),
      raiseEvent: (id, event, data) => durable.raiseEvent(id, event, data),
      getStatus: async (id) => {
        const answer = durable.getStatus(id);
        if (!held) {
          held = true;
          await answer.catch(() => undefined);
          await firstDone;
        }
        return answer;
      },
    };
    const headers = { 'Idempotency-Key': 'quick-once' };
    let created: Date | undefined;
    const first = start(durable, 'quick', headers).then(async (answer) => {
      expect(answer.status, JSON.stringify(answer.jsonBody)).toBe(202);
      const runId = (answer.jsonBody as { runId: string }).runId;
      await waitFor(`run ${runId} to finish`, async () => (await status(runId)).status === 'Success', 60_000, 250);
      // The race that matters is with a Completed instance, the state host.json's NonRunningStates lets a start
      // replace: from orchestration 3.1 the verdict is shown while the archive and the subscribers' notice still run.
      await waitFor(`run ${runId}'s orchestration to complete`, async () => (await durable.getStatus(runId)).runtimeStatus === df.OrchestrationRuntimeStatus.Completed, 60_000, 250);
      created = (await durable.getStatus(runId)).createdTime;
      release();
      return answer;
    });
    const second = start(late, 'quick', headers);
    const [a, b] = await Promise.all([first, second]);
    expect([a.status, b.status]).toEqual([202, 202]);
    const runId = (a.jsonBody as { runId: string }).runId;
    expect((b.jsonBody as { runId: string }).runId).toBe(runId);
    // Still the first run, finished: not replaced by a second instance (another createdTime, Pending or Running).
    const after = await durable.getStatus(runId);
    expect(after.runtimeStatus).toBe('Completed');
    expect(after.createdTime).toEqual(created);
    expect((await status(runId)).status).toBe('Success');
  });
});
