import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { type LocalApp, startLocalApp } from '../../local/host/server.js';
import { RETRY_ON_DISRUPTION_ANNOTATION, RUN_ID_LABEL } from '../../src/core/labels.js';
import { succeeds } from '../../testenv/fates.js';
import { adminKube, jobPods, testJob, useNamespace, waitFor } from '../integration/helpers.js';
import { appCalls } from '../support/app-calls.js';
import { localAppSettings } from '../support/e2e-settings.js';
import { type Delivery, Receiver, verifyStandardWebhook } from '../support/webhook-receiver.js';

/**
 * The `started` event (issue 23, item 3) end to end: the app on the local runtime against the local control plane
 * and Azurite, a real HTTP receiver on loopback. Counted is what the receiver saw: one start and one verdict per
 * run, each id once, signed as Standard Webhooks has it (checked by the test's own implementation).
 */
const ns = useNamespace('started');
const kube = adminKube();
const SECRET_BYTES = randomBytes(32);
const LOGIC_APPS_CALLBACK = 'https://prod-07.westeurope.logic.azure.com:443/workflows/4f1c/runs/0858/actions/Run_job/run?api-version=2016-06-01&sp=%2Fruns%2F0858&sv=1.0&sig=s3cr3t-sig';
/** Stands for the kubelet's graceful termination of an evicted pod, which kwok does not model (as in retry-on-disruption.test.ts). */
const HOLD = 'aks-job-runner.test/hold';
let app: LocalApp;
let stateDir: string;
const receiver = new Receiver();

const { call, start, finalOf } = appCalls(() => app, ns, 180_000);

/** The CloudEvents a path received, each request's signature verified and its webhook-id the event's id. */
function eventsAt(path: string): { type: string; id: string; subject: string; data: Record<string, unknown>; at: number }[] {
  return receiver.at(path).map((d: Delivery) => {
    const { id } = verifyStandardWebhook(d, SECRET_BYTES);
    expect(d.headers['content-type']).toContain('application/cloudevents+json');
    const event = JSON.parse(d.body) as { type: string; id: string; subject: string; data: Record<string, unknown> };
    expect(event.id).toBe(id);
    return { ...event, at: d.at };
  });
}

/** Time a delivery would have had to arrive, before counting what did. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 4_000));

beforeAll(async () => {
  Object.assign(process.env, localAppSettings(ns(), {
    LOGS_CONNECTION_STRING: inject('logsConnectionString'),
    WEBHOOK_SIGNING_SECRET: `whsec_${SECRET_BYTES.toString('base64')}`,
    // The defaults admit Logic Apps callback URLs, so the refusal tested below is the started rule's, not the allow-list's.
    CALLBACK_ALLOWED_URLS: 'default, https://hooks.contoso.example/aks/',
  }));
  stateDir = await mkdtemp(join(tmpdir(), 'aks-job-runner-started-'));
  app = await startLocalApp({ functionKey: 'started-key', stateDir });
  await receiver.listen();
  const job = (name: string, fate: ReturnType<typeof succeeds>, jobAnnotations?: Record<string, string>) =>
    kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name, namespace: ns(), suspend: true, fate, ...(jobAnnotations ? { jobAnnotations } : {}) }) });
  await job('short', succeeds({ runFor: '3s', terminationMessage: '{"rows":7}' }));
  await job('long', succeeds({ runFor: '1h' }));
  await job('drained', succeeds({ runFor: '20s' }), { [RETRY_ON_DISRUPTION_ANNOTATION]: '1' });
});

afterAll(async () => {
  await receiver.close();
  await app.close();
  await rm(stateDir, { recursive: true, force: true });
});

describe('a subscriber asking for started and finished', () => {
  it('gets exactly one started event, then one finished event: distinct ids, the right types, signed', async () => {
    const runId = await start('short', { subscription: { url: receiver.url('/both/start-body'), events: ['started', 'finished'] } });
    const final = await finalOf(runId);
    expect(final.status).toBe('Success');
    await waitFor('both events', () => Promise.resolve(receiver.at('/both/start-body').length >= 2 ? true : undefined), 60_000);
    await settle();
    const events = eventsAt('/both/start-body');
    expect(events.map((e) => [e.type, e.id, e.subject])).toEqual([
      ['io.aks-job-runner.run.started', `${runId}:Started`, runId],
      ['io.aks-job-runner.run.finished', `${runId}:Success`, runId],
    ]);
    const [startedEvent, finishedEvent] = events;
    // The start's data is the snapshot when the Job was made; the verdict's the final one.
    expect(startedEvent?.data).toMatchObject({ runId, status: 'Starting', reason: 'Submitted' });
    expect(finishedEvent?.data).toMatchObject({ runId, status: 'Success', outputs: { rows: 7 } });
    expect((startedEvent?.at ?? 0) <= (finishedEvent?.at ?? 0)).toBe(true);
    // The run shows each event's delivery.
    const shown = await waitFor('both deliveries recorded', async () => {
      const subs = (await call('GET', `runs/${runId}`)).body.subscriptions as { state: string; deliveries: Record<string, { state: string; attempts: number }> }[] | undefined;
      const sub = subs?.[0];
      return sub?.deliveries.started?.state === 'delivered' && sub.deliveries.finished?.state === 'delivered' ? sub : undefined;
    });
    expect(shown).toMatchObject({ state: 'delivered', deliveries: { started: { attempts: 1 }, finished: { attempts: 1 } } });
  });

  it('a run retried on disruption starts once for its subscribers: the second attempt\'s Job sends no second started', async () => {
    const runId = await start('drained', { subscription: { url: receiver.url('/both/retried'), events: ['started', 'finished'] } });
    const pod = await waitFor(`a running pod of ${runId}`, async () => (await jobPods(kube, ns(), runId)).find((p: V1Pod) => p.status?.phase === 'Running'), 60_000);
    const name = pod.metadata?.name ?? '';
    await kube.core.patchNamespacedPod({ name, namespace: ns(), body: [{ op: 'add', path: '/metadata/finalizers/-', value: HOLD }] });
    try {
      await kube.core.createNamespacedPodEviction({ name, namespace: ns(), body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: ns() } } });
      await waitFor(`the second Job of ${runId}`, async () => {
        const jobs = await kube.batch.listNamespacedJob({ namespace: ns(), labelSelector: `${RUN_ID_LABEL}=${runId}` });
        return jobs.items.some((j) => j.metadata?.name === `${runId}-2`) ? true : undefined;
      }, 90_000);
    } finally {
      for (const p of await jobPods(kube, ns(), runId)) {
        const at = (p.metadata?.finalizers ?? []).indexOf(HOLD);
        if (at >= 0) {
          await kube.core
            .patchNamespacedPod({ name: p.metadata?.name ?? '', namespace: ns(), body: [{ op: 'remove', path: `/metadata/finalizers/${String(at)}` }] })
            .catch(() => undefined);
        }
      }
    }
    const final = await finalOf(runId);
    expect(final).toMatchObject({ status: 'Success', jobName: `${runId}-2` });
    await waitFor('the verdict', () => Promise.resolve(receiver.at('/both/retried').length >= 2 ? true : undefined), 60_000);
    await settle();
    expect(eventsAt('/both/retried').map((e) => e.id)).toEqual([`${runId}:Started`, `${runId}:Success`]);
  }, 240_000);
});

describe('a subscription made after the Job started', () => {
  it('gets the started event at once, with the run as it is then', async () => {
    const runId = await start('long');
    await waitFor('the run to be running', async () => ((await call('GET', `runs/${runId}`)).body.status === 'Running' ? true : undefined), 60_000);
    const made = await call('POST', `runs/${runId}/subscriptions`, { url: receiver.url('/late/started'), events: ['started'] });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ events: ['started'], deliveries: { started: { state: expect.any(String) as string } } });
    const [event] = await waitFor('the start', () => Promise.resolve(receiver.at('/late/started').length >= 1 ? eventsAt('/late/started') : undefined), 30_000);
    expect(event).toMatchObject({ type: 'io.aks-job-runner.run.started', id: `${runId}:Started`, data: { runId, status: 'Running' } });
    // Asked for the start only: the verdict is not sent.
    expect((await call('POST', `runs/${runId}/cancel`)).status).toBe(202);
    await finalOf(runId);
    await settle();
    expect(receiver.at('/late/started')).toHaveLength(1);
  });
});

describe('a Logic Apps callback URL asking for started', () => {
  it('is a 400 saying why, on the subscriptions route and on a start; nothing is stored, started or sent', async () => {
    const runId = await start('long');
    for (const events of [['started'], ['started', 'finished']]) {
      const answer = await call('POST', `runs/${runId}/subscriptions`, { url: LOGIC_APPS_CALLBACK, events });
      expect(answer.status, events.join(',')).toBe(400);
      expect(answer.headers.get('content-type')).toContain('application/problem+json');
      expect(String(answer.body.detail)).toContain('may ask for "finished" only, not "started"');
      expect(String(answer.body.detail)).toContain('resumes its workflow on the first request');
      expect(JSON.stringify(answer.body)).not.toContain('s3cr3t');
    }
    expect((await call('GET', `runs/${runId}`)).body.subscriptions ?? []).toEqual([]);
    // The same URL asking for the verdict only is accepted: the refusal is the event's, not the URL's.
    expect((await call('POST', `runs/${runId}/subscriptions`, { url: LOGIC_APPS_CALLBACK, events: ['finished'] })).status).toBe(201);
    const listed = (await call('GET', `runs/${runId}`)).body.subscriptions as { host: string; events: string[] }[];
    expect(listed.map((s) => [s.host, s.events])).toEqual([['https://prod-07.westeurope.logic.azure.com', ['finished']]]);
    expect((await call('POST', `runs/${runId}/cancel`)).status).toBe(202);

    const jobsBefore = (await kube.batch.listNamespacedJob({ namespace: ns() })).items.length;
    const refused = await call('POST', `jobs/${ns()}/short/runs`, { subscription: { url: LOGIC_APPS_CALLBACK, events: ['started'] } });
    expect(refused.status).toBe(400);
    expect(String(refused.body.detail)).toContain('may ask for "finished" only, not "started"');
    await settle();
    expect((await kube.batch.listNamespacedJob({ namespace: ns() })).items.length).toBe(jobsBefore);
  });
});
