import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import type { V1Deployment, V1Job, V1Pod } from '@kubernetes/client-node';
import { beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';

import { API_ROUTES, type ApiParameter } from '../../src/api/routes.js';
import { cancelRequestSchema } from '../../src/api/schemas.js';
import { loadConfig } from '../../src/config.js';
import type { JobRunInput } from '../../src/core/schemas.js';
import { cancelRun } from '../../src/functions/cancelRun.js';
import { createCronJob } from '../../src/functions/createCronJob.js';
import { getRunLogs } from '../../src/functions/getRunLogs.js';
import { listJobs } from '../../src/functions/listJobs.js';
import { listRuns } from '../../src/functions/listRuns.js';
import { previewSchedule } from '../../src/functions/previewSchedule.js';
import { startCronJobRun } from '../../src/functions/startCronJobRun.js';
import { startJobRun } from '../../src/functions/startJobRun.js';
import { createServices, setServices } from '../../src/services.js';
import { FakeDurableClient } from '../fakes/durable-client.js';
import { FakeKube } from '../fakes/kube.js';

/**
 * The query parameters the document gives, value by value against the handler that reads them: a value the
 * document allows is never a 400, a value it does not allow always is. What a fuzzer sends as valid then reaches
 * the handler's logic, and what it sends as invalid is refused.
 */
const t0 = new Date('2026-11-23T10:00:00Z');
const BASE = 'https://jobs.example.net/api';
const config = loadConfig({ CLUSTERS: JSON.stringify([{ alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/nonexistent/kubeconfig', namespaces: ['batch'] }]) });
const context = () => new InvocationContext({ functionName: 'test', invocationId: 'inv-1', logHandler: () => undefined });

let kube: FakeKube;
let client: FakeDurableClient;

const RUN = 'nightly-abcdefghij';
const job: V1Job = {
  metadata: { name: 'nightly', namespace: 'batch', uid: 'u1', creationTimestamp: t0 },
  spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36' }] } } },
};
/** A source whose owner allows the most retries on disruption, so every value the document allows is accepted. */
const retrying: V1Job = { ...job, metadata: { ...job.metadata, name: 'retrying', uid: 'u2', annotations: { 'aks-job-runner.io/retry-on-disruption': '5' } } };
const deployment: V1Deployment = {
  metadata: { name: 'web', namespace: 'batch' },
  spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'web:1' }] } } },
};
const pod: V1Pod = {
  metadata: { name: `${RUN}-x1`, namespace: 'batch', labels: { 'batch.kubernetes.io/job-name': RUN }, creationTimestamp: t0 },
  spec: { containers: [{ name: 'main', image: 'busybox' }] },
  status: { phase: 'Running' },
};
const input: JobRunInput = {
  request: { runId: RUN, cluster: 'dev', namespace: 'batch', source: { kind: 'Job', name: 'nightly' }, overrides: {}, requestHash: 'h' },
  poll: { initialSeconds: 5, maxSeconds: 60, factor: 2, continueAsNewAfter: 50, maxObserveFailures: 10 },
  retry: { firstRetryMs: 1000, maxAttempts: 2 },
};

beforeEach(() => {
  kube = new FakeKube().addJob(job).addJob(retrying).addDeployment(deployment);
  kube.pods.push(pod);
  client = new FakeDurableClient(() => t0);
  setServices(createServices(config, { gatewayFactory: () => kube, now: () => t0 }));
});

const req = (method: string, path: string, params: Record<string, string> = {}, body?: unknown) =>
  new HttpRequest({ method, url: `${BASE}/${path}`, params, ...(body === undefined ? {} : { body: { string: JSON.stringify(body) } }) });
const q = (name: string, value: string) => `${name}=${encodeURIComponent(value)}`;

function parameter(operationId: string, name: string): ApiParameter {
  const found = API_ROUTES.find((r) => r.name === operationId)?.parameters.find((p) => p.name === name && p.in === 'query');
  if (!found) throw new Error(`${operationId} documents no query parameter ${name}`);
  return found;
}

/** Does the document allow this raw query value? An integer is written in decimal digits, as tools write one. */
function documented(p: ApiParameter, raw: string): boolean {
  if (raw === '') return p.allowEmpty === true;
  if (p.schema instanceof z.ZodNumber) return /^-?\d+$/.test(raw) && p.schema.safeParse(Number(raw)).success;
  return p.schema.safeParse(raw).success;
}

const INTEGERS = ['', '0', '1', '2', '49', '50', '51', '499', '500', '501', '100000', '100001', '-1', '1.5', 'abc', 'true'];
const FLAGS = ['', 'true', 'false', '1', '0', 'TRUE', 'yes', 'no'];

interface Case {
  operationId: string;
  name: string;
  values: readonly string[];
  call: (value: string) => Promise<HttpResponseInit> | HttpResponseInit;
}

const CASES: Case[] = [
  { operationId: 'listJobs', name: 'limit', values: INTEGERS, call: (v) => listJobs(req('GET', `jobs?namespace=batch&${q('limit', v)}`), context()) },
  { operationId: 'listRuns', name: 'limit', values: INTEGERS, call: (v) => listRuns(req('GET', `runs?namespace=batch&${q('limit', v)}`), context()) },
  {
    operationId: 'listRuns',
    name: 'status',
    values: ['', 'Failed', 'Failed,Cancelled', 'Starting,Running,Success,Failed,Cancelled,Unknown', 'failed', 'Failed,', ',', 'Failed, Cancelled', 'Done', 'Running,Done'],
    call: (v) => listRuns(req('GET', `runs?namespace=batch&${q('status', v)}`), context()),
  },
  { operationId: 'previewSchedule', name: 'count', values: INTEGERS, call: (v) => previewSchedule(req('GET', `schedules/preview?schedule=%40hourly&${q('count', v)}`), context()) },
  ...(['tailLines', 'previous', 'download', 'container', 'pod'] as const).map(
    (name): Case => ({
      operationId: 'getRunLogs',
      name,
      values: name === 'tailLines' ? INTEGERS : name === 'container' || name === 'pod' ? ['', 'main', 'other', 'Main', 'a.b', '-a', 'x'.repeat(63), 'x'.repeat(64), 'x'.repeat(254)] : FLAGS,
      call: (v) => getRunLogs(req('GET', `runs/${RUN}/logs?namespace=batch&${q(name, v)}`, { runId: RUN }), client, context()),
    }),
  ),
  {
    operationId: 'createCronJob',
    name: 'dryRun',
    values: ['', 'true', 'false', '1', 'TRUE', 'yes'],
    call: (v) => createCronJob(req('POST', `cronjobs/batch?${q('dryRun', v)}`, { namespace: 'batch' }, { name: 'report', fromDeployment: 'web', schedule: '@daily' }), context()),
  },
  {
    operationId: 'startCronJobRun',
    name: 'concurrencyPolicy',
    values: ['', 'Allow', 'Forbid', 'Replace', 'allow', 'Never'],
    call: (v) => startCronJobRun(req('POST', `cronjobs/batch/report/runs?${q('concurrencyPolicy', v)}`, { namespace: 'batch', name: 'report' }), client, context()),
  },
  {
    operationId: 'startJobRun',
    name: 'timeoutSeconds',
    // The largest is MAX_RUN_TIMEOUT_SECONDS, a setting: the document says so in words, not as a maximum.
    values: ['', '1', '3600', '604800', '0', '-1', '1.5', 'abc'],
    call: (v) => startJobRun(req('POST', `jobs/batch/nightly/runs?${q('timeoutSeconds', v)}`, { namespace: 'batch', name: 'nightly' }), client, context()),
  },
  {
    operationId: 'startJobRun',
    name: 'retryOnDisruption',
    values: ['', '0', '1', '5', '6', '-1', '1.5', 'abc', '01'],
    call: (v) => startJobRun(req('POST', `jobs/batch/retrying/runs?${q('retryOnDisruption', v)}`, { namespace: 'batch', name: 'retrying' }), client, context()),
  },
  {
    operationId: 'startJobRun',
    name: 'runId',
    values: ['order-42', '', 'a b', 'x'.repeat(200), 'x'.repeat(201)],
    call: (v) => startJobRun(req('POST', `jobs/batch/nightly/runs?${q('runId', v)}`, { namespace: 'batch', name: 'nightly' }), client, context()),
  },
];

describe('query parameters: the document against the handlers', () => {
  it.each(CASES.flatMap((c) => c.values.map((value) => ({ ...c, value, shown: JSON.stringify(value.length > 20 ? `${value.slice(0, 8)}…(${String(value.length)})` : value) }))))(
    '$operationId ?$name=$shown: a 400 exactly when the document does not allow it',
    async ({ operationId, name, value, call }) => {
      const response = await call(value);
      const allowed = documented(parameter(operationId, name), value);
      expect(response.status === 400, `${String(response.status)} ${JSON.stringify(response.jsonBody)}`).toBe(!allowed);
    },
  );
});

describe('the cancel body: its schema is the handler’s', () => {
  it.each<{ name: string; body: unknown }>([
    { name: 'no reason', body: {} },
    { name: 'a reason', body: { reason: 'wrong date' } },
    { name: 'a reason of 500 characters', body: { reason: 'x'.repeat(500) } },
    { name: 'a reason of 501 characters', body: { reason: 'x'.repeat(501) } },
    { name: 'a reason that is a number', body: { reason: 5 } },
    { name: 'a null reason', body: { reason: null } },
    { name: 'other properties only', body: { by: 'ops' } },
    { name: 'null', body: null },
    { name: 'an array', body: [] },
    { name: 'a string', body: 'stop' },
  ])('$name', async ({ body }) => {
    client.put({ instanceId: RUN, input, runtimeStatus: 'Running' });
    const response = await cancelRun(req('POST', `runs/${RUN}/cancel`, { runId: RUN }, body), client, context());
    expect(response.status === 400).toBe(!cancelRequestSchema.safeParse(body).success);
  });
});
