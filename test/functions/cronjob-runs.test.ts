import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import type { V1CronJob, V1Job } from '@kubernetes/client-node';
import { beforeEach, describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, RUN_ID_LABEL, SCHEDULER_LABEL } from '../../src/core/labels.js';
import { getRun } from '../../src/functions/getRun.js';
import { listCronJobs } from '../../src/functions/listCronJobs.js';
import { CANCEL_EVENT } from '../../src/functions/names.js';
import { startCronJobRun } from '../../src/functions/startCronJobRun.js';
import { startJobRun } from '../../src/functions/startJobRun.js';
import { createServices, setServices } from '../../src/services.js';
import { FakeDurableClient } from '../fakes/durable-client.js';
import { FakeKube } from '../fakes/kube.js';

/** Manual CronJob runs and concurrencyPolicy; the scheduler's fields in the CronJob listing; a run's trigger. */
const t0 = new Date('2026-11-23T10:05:00Z');
const BASE = 'https://jobs.example.net/api';
const config = loadConfig({ CLUSTERS: JSON.stringify([{ alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/x', namespaces: ['batch'] }]) });
const context = () => new InvocationContext({ functionName: 'test', invocationId: 'inv-1', logHandler: () => undefined });

let kube: FakeKube;
let client: FakeDurableClient;

function cronJob(policy?: string, extra: Partial<V1CronJob['metadata']> = {}, spec: Partial<V1CronJob['spec']> = {}): V1CronJob {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'report', namespace: 'batch', uid: 'cj-1', creationTimestamp: new Date('2026-11-23T08:00:00Z'), ...extra },
    spec: {
      schedule: '*/15 * * * *',
      ...(policy ? { concurrencyPolicy: policy } : {}),
      jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox', env: [{ name: 'X', value: '0' }] }] } } } },
      ...spec,
    },
  };
}

function activeRun(name: string, appRun: boolean): V1Job {
  return {
    metadata: {
      name,
      namespace: 'batch',
      labels: appRun ? { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [RUN_ID_LABEL]: name } : {},
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'report', uid: 'cj-1', controller: true }],
    },
    spec: { template: { spec: { containers: [] } } },
    status: { active: 1 },
  };
}

function start(query = '', headers: Record<string, string> = {}): Promise<HttpResponseInit> {
  return startCronJobRun(
    new HttpRequest({
      method: 'POST',
      url: `${BASE}/cronjobs/batch/report/runs${query}`,
      params: { namespace: 'batch', name: 'report' },
      headers: { 'content-type': 'application/json', ...headers },
      body: { string: '{"X":"1"}' },
    }),
    client,
    context(),
  );
}

function json(response: HttpResponseInit): Record<string, unknown> {
  return response.jsonBody as Record<string, unknown>;
}

beforeEach(() => {
  kube = new FakeKube();
  client = new FakeDurableClient();
  setServices(createServices(config, { gatewayFactory: () => kube, newSuffix: () => 'abcdefghij', now: () => t0 }));
});

describe('manual CronJob runs honour concurrencyPolicy', () => {
  it('Forbid with an active run answers 409 naming it, and starts nothing', async () => {
    kube.addCronJob(cronJob('Forbid')).addJob(activeRun('report-29000000', false));
    const response = await start();
    expect(response.status).toBe(409);
    expect(json(response).detail).toContain('"report-29000000"');
    expect(json(response).detail).toContain('?concurrencyPolicy=Allow');
    expect(client.startCount).toBe(0);
  });

  it('Forbid with only finished runs starts', async () => {
    const done = activeRun('report-29000000', false);
    done.status = { conditions: [{ type: 'Complete', status: 'True' }] };
    kube.addCronJob(cronJob('Forbid')).addJob(done);
    expect((await start()).status).toBe(202);
  });

  it('?concurrencyPolicy=Allow runs alongside the active run', async () => {
    kube.addCronJob(cronJob('Forbid')).addJob(activeRun('report-29000000', false));
    expect((await start('?concurrencyPolicy=Allow')).status).toBe(202);
    expect(client.startCount).toBe(1);
    expect(kube.jobs.has('batch/report-29000000')).toBe(true);
  });

  it('a replayed request (same idempotency key) meets its own run, not a 409', async () => {
    kube.addCronJob(cronJob('Forbid'));
    const first = await start('', { 'Idempotency-Key': 'k1' });
    const runId = json(first).runId as string;
    kube.addJob(activeRun(runId, true));
    const again = await start('', { 'Idempotency-Key': 'k1' });
    expect(again.status).toBe(202);
    expect(json(again).runId).toBe(runId);
  });

  it('Replace cancels the active runs first: the app’s through its orchestration, the cluster’s by deleting it', async () => {
    kube.addCronJob(cronJob('Replace')).addJob(activeRun('report-app0000001', true)).addJob(activeRun('report-29000000', false));
    client.put({ instanceId: 'report-app0000001', input: {} });
    const response = await start();
    expect(response.status).toBe(202);
    expect(client.events).toEqual([
      { instanceId: 'report-app0000001', name: CANCEL_EVENT, data: { reason: 'replaced by run report-abcdefghij (concurrencyPolicy Replace)' } },
    ]);
    expect([...kube.jobs.keys()]).toEqual([]);
    expect(client.startCount).toBe(1);
  });

  it('?concurrencyPolicy=Forbid applies Forbid to a CronJob that allows', async () => {
    kube.addCronJob(cronJob()).addJob(activeRun('report-29000000', false));
    expect((await start('?concurrencyPolicy=Forbid')).status).toBe(409);
  });

  it('a concurrencyPolicy that is not one of the three is a 400', async () => {
    kube.addCronJob(cronJob());
    const response = await start('?concurrencyPolicy=Sometimes');
    expect(response.status).toBe(400);
    expect(json(response).detail).toContain('Allow, Forbid, Replace');
  });

  it('concurrencyPolicy on a Job run is a 400', async () => {
    const response = await startJobRun(
      new HttpRequest({ method: 'POST', url: `${BASE}/jobs/batch/x/runs?concurrencyPolicy=Allow&image=busybox`, params: { namespace: 'batch', name: 'x' } }),
      client,
      context(),
    );
    expect(response.status).toBe(400);
    expect(json(response).detail).toContain('only to CronJob runs');
  });
});

describe('the CronJob listing shows who schedules it', () => {
  it('a handed-over CronJob: scheduler app, its next time, the app’s last scheduled time', async () => {
    kube.addCronJob(
      cronJob(undefined, { labels: { [SCHEDULER_LABEL]: 'app' }, annotations: { 'aks-job-runner.io/last-schedule-time': '2026-11-23T10:00:00Z' } }, { suspend: true }),
    );
    const body = json(await listCronJobs(new HttpRequest({ method: 'GET', url: `${BASE}/cronjobs?namespace=batch` }), context())) as { items: Record<string, unknown>[] };
    expect(body.items[0]).toMatchObject({ scheduler: 'app', nextRunTime: '2026-11-23T10:15:00Z', warnings: [], lastScheduleTime: '2026-11-23T10:00:00.000Z' });
  });

  it('a labelled CronJob the cluster still fires: scheduler cluster, with the warning to act on', async () => {
    kube.addCronJob(cronJob(undefined, { labels: { [SCHEDULER_LABEL]: 'app' } }));
    const body = json(await listCronJobs(new HttpRequest({ method: 'GET', url: `${BASE}/cronjobs?namespace=batch` }), context())) as { items: Record<string, unknown>[] };
    expect(body.items[0]).toMatchObject({ scheduler: 'cluster', nextRunTime: '2026-11-23T10:15:00Z', warnings: [expect.objectContaining({ reason: 'NotSuspended' })] });
  });
});

describe('a run’s snapshot says who started it', () => {
  const request = { runId: 'report-29000000', cluster: 'dev', namespace: 'batch', source: { kind: 'CronJob' as const, name: 'report' }, overrides: {}, requestHash: 'h' };
  const status = (runId: string) => getRun(new HttpRequest({ method: 'GET', url: `${BASE}/runs/${runId}`, params: { runId } }), client, context());

  it('a scheduled run: schedule, with the scheduled time', async () => {
    const trigger = { kind: 'schedule', scheduledTime: '2026-11-23T10:00:00Z' };
    client.put({ instanceId: 'report-29000000', input: { request: { ...request, trigger }, poll: config.poll, retry: config.activityRetry } });
    expect(json(await status('report-29000000')).trigger).toEqual(trigger);
  });

  it('a run started before triggers were recorded: http', async () => {
    client.put({ instanceId: 'report-29000000', input: { request, poll: config.poll, retry: config.activityRetry } });
    expect(json(await status('report-29000000')).trigger).toEqual({ kind: 'http' });
  });

  it('a run started over HTTP records it in its input', async () => {
    kube.addCronJob(cronJob());
    await start();
    expect((client.instances.get('report-abcdefghij')?.input as { request: { trigger: unknown } }).request.trigger).toEqual({ kind: 'http' });
    expect(json(await status('report-abcdefghij')).trigger).toEqual({ kind: 'http' });
  });
});
