import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import type { V1Job } from '@kubernetes/client-node';
import { beforeEach, describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config.js';
import { ALLOW_ENV_ANNOTATION } from '../../src/core/consent.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../src/core/labels.js';
import { snapshotOf } from '../../src/core/run.js';
import type { JobRunInput } from '../../src/core/schemas.js';
import { cancelRun } from '../../src/functions/cancelRun.js';
import { getRun } from '../../src/functions/getRun.js';
import { listCronJobs } from '../../src/functions/listCronJobs.js';
import { listJobs } from '../../src/functions/listJobs.js';
import { CANCEL_EVENT } from '../../src/functions/names.js';
import { startCronJobRun } from '../../src/functions/startCronJobRun.js';
import { startJobRun } from '../../src/functions/startJobRun.js';
import { createServices, setServices } from '../../src/services.js';
import { FakeDurableClient } from '../fakes/durable-client.js';
import { FakeKube } from '../fakes/kube.js';

const t0 = new Date('2026-11-23T10:00:00Z');
const BASE = 'https://jobs.example.net/api';
const SUB = '00000000-0000-0000-0000-000000000001';
const config = loadConfig({
  CLUSTERS: JSON.stringify([
    { alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/nonexistent/kubeconfig', namespaces: ['batch', 'etl'] },
    { alias: 'prod', type: 'aks', subscriptionId: SUB, resourceGroup: 'rg-batch', clusterName: 'aks-prod', namespaces: ['batch'] },
  ]),
  STATUS_RETRY_AFTER_SECONDS: '7',
  FALLBACK_IMAGES: 'busybox',
});

let kube: FakeKube;
let client: FakeDurableClient;
const context = () => new InvocationContext({ functionName: 'test', invocationId: 'inv-1', logHandler: () => undefined });

function sourceJob(name = 'nightly', namespace = 'batch'): V1Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    // These tests are about the route, not consent (test/http/consent.test.ts): the source lets callers set any name.
    metadata: { name, namespace, uid: 'u1', creationTimestamp: t0, annotations: { [ALLOW_ENV_ANNOTATION]: '*' } },
    spec: {
      selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': 'u1' } },
      template: {
        metadata: { labels: { 'batch.kubernetes.io/controller-uid': 'u1', 'job-name': name } },
        spec: {
          restartPolicy: 'Never',
          containers: [{ name: 'main', image: 'busybox:1.36', env: [{ name: 'BATCH_DATE', value: 'today' }, { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] }],
        },
      },
    },
  };
}

function post(path: string, body?: unknown, headers: Record<string, string> = {}, params: Record<string, string> = {}): HttpRequest {
  return new HttpRequest({
    method: 'POST',
    url: `${BASE}/${path}`,
    headers: { 'content-type': 'application/json', ...headers },
    params,
    ...(body === undefined ? {} : { body: { string: typeof body === 'string' ? body : JSON.stringify(body) } }),
  });
}

function get(path: string, params: Record<string, string> = {}): HttpRequest {
  return new HttpRequest({ method: 'GET', url: `${BASE}/${path}`, params });
}

const runParams = { namespace: 'batch', name: 'nightly' };
const startJob = (body?: unknown, query = '', headers: Record<string, string> = {}) =>
  startJobRun(post(`jobs/batch/nightly/runs${query}`, body, headers, runParams), client, context());

function json(response: HttpResponseInit): Record<string, unknown> {
  return response.jsonBody as Record<string, unknown>;
}
function header(response: HttpResponseInit, name: string): string | undefined {
  return (response.headers as Record<string, string> | undefined)?.[name];
}
function startedInput(runId: string): JobRunInput {
  return client.instances.get(runId)?.input as JobRunInput;
}

beforeEach(() => {
  kube = new FakeKube().addJob(sourceJob());
  client = new FakeDurableClient();
  setServices(createServices(config, { gatewayFactory: () => kube, newSuffix: () => 'abcdefghij', now: () => t0 }));
});

describe('POST /jobs/{namespace}/{name}/runs', () => {
  it('starts a run and answers 202 with Location, Retry-After and the run links', async () => {
    const response = await startJob({ BATCH_DATE: '2026-11-23', ROWS: 42, DRY_RUN: false }, '?code=caller-key');
    expect(response.status).toBe(202);
    const body = json(response);
    expect(body.runId).toBe('nightly-abcdefghij');
    expect(body.statusUrl).toBe(`${BASE}/runs/nightly-abcdefghij?code=caller-key`);
    expect(body.cancelUrl).toBe(`${BASE}/runs/nightly-abcdefghij/cancel?code=caller-key`);
    expect(body.id).toBe('nightly-abcdefghij');
    expect(body.statusQueryGetUri).toBe(body.statusUrl);
    expect(body.terminatePostUri).toBe(body.cancelUrl);
    expect(header(response, 'Location')).toBe(body.statusUrl);
    expect(header(response, 'Retry-After')).toBe('7');
    const input = startedInput('nightly-abcdefghij');
    expect(input.request).toMatchObject({
      runId: 'nightly-abcdefghij',
      cluster: 'dev',
      namespace: 'batch',
      source: { kind: 'Job', name: 'nightly' },
      overrides: { BATCH_DATE: '2026-11-23', ROWS: '42', DRY_RUN: 'false' },
      startedBy: 'inv-1',
    });
    expect(input.poll).toEqual(config.poll);
  });

  it('gives an AKS cluster run the portal workloads blade as monitor URL', async () => {
    const response = await startJob({}, '?cluster=prod');
    expect(json(response).monitorUrl).toBe(
      `https://portal.azure.com/#resource/subscriptions/${SUB}/resourceGroups/rg-batch/providers/Microsoft.ContainerService/managedClusters/aks-prod/workloads`,
    );
  });

  it('drops body properties that repeat the route parameters, as Polysync sends them', async () => {
    const response = await startJob({ namespace: 'batch', name: 'nightly', LIMIT: 5 });
    expect(response.status).toBe(202);
    expect(startedInput('nightly-abcdefghij').request.overrides).toEqual({ LIMIT: '5' });
  });

  it.each([
    ['malformed JSON', '{"BATCH_DATE": ', 'not valid JSON'],
    ['a JSON array body', '[1,2]', 'must be a JSON object'],
    ['a null value', { BATCH_DATE: null }, '"BATCH_DATE" is null'],
    ['an object value', { OPTIONS: { a: 1 } }, '"OPTIONS" is an object'],
    ['an array value', { IDS: [1, 2] }, '"IDS" is an array'],
    ['an env name with "="', { 'A=B': 'x' }, 'not a valid environment variable name'],
    ['an env name with a control character', { 'A\u0001': 'x' }, 'not a valid environment variable name'],
    ['too many env vars', Object.fromEntries(Array.from({ length: 2001 }, (_, i) => [`V${i}`, ''])), 'a run takes at most 2000'],
    ['an env var over 128 KiB', { BIG: 'x'.repeat(128 * 1024) }, 'environment variable "BIG" is 131077 bytes as NAME=value; at most 131072'],
    ['a body namespace that differs from the route', { namespace: 'etl' }, 'differs from the route'],
  ])('answers 400 problem+json for %s', async (_name, body, detail) => {
    const response = await startJob(body);
    expect(response.status).toBe(400);
    expect(header(response, 'Content-Type')).toBe('application/problem+json');
    expect(json(response).detail).toContain(detail);
    expect(client.startCount).toBe(0);
  });

  it.each([
    ['timeoutSeconds=0', '?timeoutSeconds=0', 'timeoutSeconds'],
    ['timeoutSeconds=abc', '?timeoutSeconds=abc', 'timeoutSeconds'],
    ['command without image', '?command=echo', 'only used with image'],
    ['command that is not a string array', '?image=busybox&command=[1]', 'JSON array of strings'],
  ])('answers 400 for %s', async (_name, query, detail) => {
    const response = await startJob({}, query);
    expect(response.status).toBe(400);
    expect(json(response).detail).toContain(detail);
  });

  it('answers 400 for a source name that is not a Kubernetes name', async () => {
    const response = await startJobRun(post('jobs/batch/Bad_Name/runs', {}, {}, { namespace: 'batch', name: 'Bad_Name' }), client, context());
    expect(response.status).toBe(400);
  });

  it('answers 403 for a namespace outside the allow-list, naming the namespace asked for (not the allowed ones)', async () => {
    const response = await startJobRun(post('jobs/kube-system/x/runs', {}, {}, { namespace: 'kube-system', name: 'x' }), client, context());
    expect(response.status).toBe(403);
    expect(json(response).detail).toContain('namespace "kube-system" is not allowed on cluster "dev"');
    expect(json(response).detail).not.toContain('"etl"');
  });

  it('answers 403 for an unknown cluster alias', async () => {
    const response = await startJob({}, '?cluster=elsewhere');
    expect(response.status).toBe(403);
    expect(json(response).detail).toContain('cluster "elsewhere" is not configured');
  });

  it('answers 404 when the source Job does not exist and no image was given', async () => {
    kube.jobs.clear();
    const response = await startJob({});
    expect(response.status).toBe(404);
    expect(json(response).detail).toContain('pass image');
    expect(client.startCount).toBe(0);
  });

  it('falls back to the given image when the source Job does not exist', async () => {
    kube.jobs.clear();
    const response = await startJob({}, '?image=busybox:1.36&command=["sh","-c","echo hi"]');
    expect(response.status).toBe(202);
    const request = startedInput('nightly-abcdefghij').request;
    expect(request.fallback).toEqual({ image: 'busybox:1.36', command: ['sh', '-c', 'echo hi'], args: undefined });
    expect(request.source).toEqual({ kind: 'Job', name: 'nightly', fallbackImage: 'busybox:1.36' });
  });

  it('answers 503 with Retry-After when the cluster does not answer', async () => {
    kube.failNext('readJob', 0);
    const response = await startJob({});
    expect(response.status).toBe(503);
    expect(header(response, 'Retry-After')).toBe('10');
  });

  it('answers 403 naming the fix when the cluster refuses the app identity', async () => {
    kube.failNext('readJob', 403, 'Forbidden');
    const response = await startJob({});
    expect(response.status).toBe(403);
    expect(json(response).detail).toContain('rbac.yaml');
  });

  it('answers 502, not 401, when the cluster refuses the app credentials: the caller key is not at fault', async () => {
    kube.failNext('readJob', 401, 'Unauthorized');
    const response = await startJob({});
    expect(response.status).toBe(502);
    expect(json(response)).toMatchObject({ title: 'ClusterCredentials' });
    expect(json(response).detail).toContain('Cluster User Role');
  });

  it('answers 503 and starts nothing when the task hub cannot say whether a keyed run exists', async () => {
    client.failGetStatus = new Error('The operation failed with an unexpected status code: 500. Details: {}');
    const response = await startJob({}, '', { 'Idempotency-Key': 'key-1' });
    expect(response.status).toBe(503);
    expect(header(response, 'Retry-After')).toBe('10');
    expect(client.startCount).toBe(0);
    expect(kube.calls.filter((c) => c.startsWith('createJob'))).toEqual([]);
  });

  it('with the same Idempotency-Key twice starts one run and answers both with it', async () => {
    const first = await startJob({ A: '1' }, '', { 'Idempotency-Key': 'polysync-run-77' });
    const second = await startJob({ A: '1' }, '', { 'Idempotency-Key': 'polysync-run-77' });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(json(second).runId).toBe(json(first).runId);
    expect(json(first).runId).not.toBe('nightly-abcdefghij');
    expect(client.startCount).toBe(1);
  });

  it('treats the runId query parameter as the idempotency key', async () => {
    const viaHeader = await startJob({}, '', { 'Idempotency-Key': 'k-1' });
    const viaQuery = await startJob({}, '?runId=k-1');
    expect(json(viaQuery).runId).toBe(json(viaHeader).runId);
    expect(client.startCount).toBe(1);
  });

  it('answers 409 when an idempotency key is reused for a different request', async () => {
    await startJob({ A: '1' }, '', { 'Idempotency-Key': 'k-2' });
    const response = await startJob({ A: '2' }, '', { 'Idempotency-Key': 'k-2' });
    expect(response.status).toBe(409);
    expect(json(response).detail).toContain('already used for a different request');
  });

  it('answers 400 when Idempotency-Key and runId disagree', async () => {
    const response = await startJob({}, '?runId=a', { 'Idempotency-Key': 'b' });
    expect(response.status).toBe(400);
  });
});

describe('POST /jobs/{namespace}/{name}/runs: body size and links', () => {
  it('answers 413 naming the limit for a body over 256 KiB, and starts nothing', async () => {
    const response = await startJob({ DATA: 'x'.repeat(2_200_000) });
    expect(response.status).toBe(413);
    expect(header(response, 'Content-Type')).toBe('application/problem+json');
    expect(json(response)).toMatchObject({ title: 'PayloadTooLarge', type: 'docs/errors.md#payloadtoolarge' });
    expect(json(response).detail).toContain('the app takes at most 262144 bytes (256 KiB)');
    expect(client.startCount).toBe(0);
  });

  it('answers 413 from Content-Length alone, before reading the body', async () => {
    const response = await startJob({ A: '1' }, '', { 'content-length': String(300 * 1024) });
    expect(response.status).toBe(413);
    expect(json(response).detail).toContain(`the request body is ${300 * 1024} bytes`);
  });

  it('accepts a body of exactly 256 KiB', async () => {
    // Four variables, each under Linux's 128 KiB per-string limit, padded to exactly the body limit.
    const chunk = 'x'.repeat(64 * 1024);
    const skeleton = JSON.stringify({ A: chunk, B: chunk, C: chunk, D: '' });
    const body = JSON.stringify({ A: chunk, B: chunk, C: chunk, D: 'y'.repeat(256 * 1024 - skeleton.length) });
    expect(Buffer.byteLength(body)).toBe(256 * 1024);
    expect((await startJob(body)).status).toBe(202);
  });

  it('points every link at PUBLIC_BASE_URL behind a gateway, keeping the caller code', async () => {
    const behind = loadConfig({ CLUSTERS: JSON.stringify(config.clusters), PUBLIC_BASE_URL: 'https://apim.contoso.com/aks-jobs' });
    setServices(createServices(behind, { gatewayFactory: () => kube, newSuffix: () => 'abcdefghij', now: () => t0 }));
    const started = await startJob({}, '?code=k1');
    expect(header(started, 'Location')).toBe('https://apim.contoso.com/aks-jobs/runs/nightly-abcdefghij?code=k1');
    expect(json(started).cancelUrl).toBe('https://apim.contoso.com/aks-jobs/runs/nightly-abcdefghij/cancel?code=k1');
    const listed = json(await listJobs(get('jobs?namespace=batch&code=k1'), context())) as { items: { runUrl: string }[] };
    expect(listed.items[0]?.runUrl).toBe('https://apim.contoso.com/aks-jobs/jobs/batch/nightly/runs?cluster=dev&code=k1');
  });

  it('follows X-Forwarded-Host and -Prefix only when TRUST_FORWARDED_HEADERS is on', async () => {
    const forwardedHeaders = { 'x-forwarded-host': 'jobs.contoso.com', 'x-forwarded-prefix': '/batch' };
    expect(header(await startJob({}, '', forwardedHeaders), 'Location')).toBe(`${BASE}/runs/nightly-abcdefghij`);
    const trusting = loadConfig({ CLUSTERS: JSON.stringify(config.clusters), TRUST_FORWARDED_HEADERS: 'true' });
    setServices(createServices(trusting, { gatewayFactory: () => kube, newSuffix: () => 'klmnopqrst', now: () => t0 }));
    expect(header(await startJob({}, '', forwardedHeaders), 'Location')).toBe('https://jobs.contoso.com/batch/api/runs/nightly-klmnopqrst');
  });
});

describe('discovery and start agree on env names', () => {
  it('every param discovery lists, 1BAD and names with spaces included, can be sent back to the start route', async () => {
    const job = sourceJob('odd');
    const container = job.spec?.template.spec?.containers[0];
    if (container) container.env = [{ name: '1BAD', value: 'a' }, { name: 'BATCH DATE', value: 'b' }, { name: 'x.y-z', value: 'c' }, { name: '$HOME~', value: 'd' }];
    kube.addJob(job);
    const listed = json(await listJobs(get('jobs?namespace=batch&code=k1'), context())) as { items: { name: string; params: Record<string, string>; runUrl: string }[] };
    const odd = listed.items.find((i) => i.name === 'odd');
    expect(Object.keys(odd?.params ?? {})).toEqual(['1BAD', 'BATCH DATE', 'x.y-z', '$HOME~']);
    expect(odd?.runUrl).toBe(`${BASE}/jobs/batch/odd/runs?cluster=dev&code=k1`);
    const body = Object.fromEntries(Object.keys(odd?.params ?? {}).map((name) => [name, `new ${name}`]));
    const url = new URL(odd?.runUrl ?? 'https://missing');
    const response = await startJobRun(post(`jobs/batch/odd/runs${url.search}`, body, {}, { namespace: 'batch', name: 'odd' }), client, context());
    expect(response.status, JSON.stringify(response.jsonBody)).toBe(202);
    expect(startedInput(json(response).runId as string).request.overrides).toEqual(body);
  });
});

describe('POST /cronjobs/{namespace}/{name}/runs', () => {
  beforeEach(() => {
    const job = sourceJob('report');
    kube.addCronJob({
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'report', namespace: 'batch', uid: 'cj-1', annotations: { [ALLOW_ENV_ANNOTATION]: '*' } },
      spec: { schedule: '0 3 * * *', jobTemplate: { metadata: {}, spec: job.spec } },
    });
  });

  it('starts a run of the CronJob template', async () => {
    const response = await startCronJobRun(post('cronjobs/batch/report/runs', { X: 1 }, {}, { namespace: 'batch', name: 'report' }), client, context());
    expect(response.status).toBe(202);
    expect(startedInput('report-abcdefghij').request.source).toEqual({ kind: 'CronJob', name: 'report' });
  });

  it('refuses image for a CronJob run', async () => {
    const response = await startCronJobRun(post('cronjobs/batch/report/runs?image=x', {}, {}, { namespace: 'batch', name: 'report' }), client, context());
    expect(response.status).toBe(400);
  });

  it('answers 404 for a CronJob that does not exist', async () => {
    const response = await startCronJobRun(post('cronjobs/batch/nope/runs', {}, {}, { namespace: 'batch', name: 'nope' }), client, context());
    expect(response.status).toBe(404);
  });
});

describe('GET /runs/{runId}', () => {
  const request = { runId: 'nightly-abcdefghij', cluster: 'dev', namespace: 'batch', source: { kind: 'Job' as const, name: 'nightly' } };
  const input = { request: { ...request, overrides: {}, requestHash: 'h' }, poll: config.poll, retry: config.activityRetry };
  const status = () => getRun(get('runs/nightly-abcdefghij?code=k', { runId: 'nightly-abcdefghij' }), client, context());

  it('answers 404 for an unknown run', async () => {
    const response = await getRun(get('runs/nope-0123456789', { runId: 'nope-0123456789' }), client, context());
    expect(response.status).toBe(404);
    expect(header(response, 'Content-Type')).toBe('application/problem+json');
  });

  it('answers 503 with Retry-After, not 404, when the task hub does not answer: the run may well exist', async () => {
    client.put({ instanceId: 'nightly-abcdefghij', input });
    client.failGetStatus = new Error('connect ECONNREFUSED 127.0.0.1:7071');
    const response = await status();
    expect(response.status).toBe(503);
    expect(header(response, 'Retry-After')).toBe('10');
    expect(json(response).detail).toContain('ECONNREFUSED');
  });

  it('answers 404 for an instance that is not a run', async () => {
    client.put({ instanceId: 'other-0123456789', name: 'somethingElse', input: {} });
    const response = await getRun(get('runs/other-0123456789', { runId: 'other-0123456789' }), client, context());
    expect(response.status).toBe(404);
  });

  it('answers 202 Starting with Location and Retry-After before the first snapshot', async () => {
    client.put({ instanceId: request.runId, input, runtimeStatus: 'Pending' });
    const response = await status();
    expect(response.status).toBe(202);
    expect(header(response, 'Location')).toBe(`${BASE}/runs/nightly-abcdefghij?code=k`);
    expect(header(response, 'Retry-After')).toBe('7');
    expect(json(response)).toMatchObject({ status: 'Starting', runtimeStatus: 'Pending', output: null, cluster: 'dev' });
  });

  it('answers 202 with the latest snapshot while running', async () => {
    client.put({ instanceId: request.runId, input, customStatus: snapshotOf(request, { status: 'Running', reason: 'Running', message: '1 pod(s)' }, t0) });
    const response = await status();
    expect(response.status).toBe(202);
    expect(json(response)).toMatchObject({ status: 'Running', runtimeStatus: 'Running' });
  });

  it('answers 200 on Success with outputs under outputs, output and, where free, at the top level', async () => {
    const outputs = { rows: 42, status: 'shadowed', file: 'out.csv' };
    client.put({ instanceId: request.runId, input, runtimeStatus: 'Completed', output: snapshotOf(request, { status: 'Success', reason: 'CompletionsReached', message: 'done', outputs }, t0) });
    const response = await status();
    expect(response.status).toBe(200);
    const body = json(response);
    expect(body).toMatchObject({ status: 'Success', runtimeStatus: 'Completed', outputs, output: outputs, rows: 42, file: 'out.csv' });
    expect(header(response, 'Location')).toBeUndefined();
  });

  it.each([
    ['Failed', 'BackoffLimitExceeded', 'Failed'],
    ['Cancelled', 'CancelRequested', 'Terminated'],
  ] as const)('answers 424 for a %s run', async (runStatus, reason, runtimeStatus) => {
    client.put({ instanceId: request.runId, input, runtimeStatus: 'Completed', output: snapshotOf(request, { status: runStatus, reason, message: 'm', outputs: { rows: 1 } }, t0) });
    const response = await status();
    expect(response.status).toBe(424);
    expect(json(response)).toMatchObject({ status: runStatus, reason, runtimeStatus });
    expect(json(response).rows).toBeUndefined();
  });

  it('answers 424 Failed OrchestrationFailed when the orchestration itself failed', async () => {
    client.put({ instanceId: request.runId, input, runtimeStatus: 'Failed', output: 'boom' });
    const response = await status();
    expect(response.status).toBe(424);
    expect(json(response)).toMatchObject({ status: 'Failed', reason: 'OrchestrationFailed' });
  });

  it('answers 424 Cancelled for a terminated orchestration', async () => {
    client.put({ instanceId: request.runId, input, runtimeStatus: 'Terminated', output: 'by admin' });
    expect(json(await status())).toMatchObject({ status: 'Cancelled', reason: 'Terminated' });
  });
});

describe('POST /runs/{runId}/cancel', () => {
  const request = { runId: 'nightly-abcdefghij', cluster: 'dev', namespace: 'batch', source: { kind: 'Job' as const, name: 'nightly' } };
  const input = { request: { ...request, overrides: {}, requestHash: 'h' }, poll: config.poll, retry: config.activityRetry };
  const cancel = (body?: unknown) => cancelRun(post('runs/nightly-abcdefghij/cancel', body, {}, { runId: request.runId }), client, context());

  it('raises the cancel event, deletes the Job and answers 202 with Location', async () => {
    client.put({ instanceId: request.runId, input, customStatus: snapshotOf(request, { status: 'Running', reason: 'Running', message: '' }, t0) });
    kube.addJob({ ...sourceJob(request.runId), metadata: { name: request.runId, namespace: 'batch' } });
    const response = await cancel({ reason: 'wrong input' });
    expect(response.status).toBe(202);
    expect(header(response, 'Location')).toBe(`${BASE}/runs/nightly-abcdefghij`);
    expect(client.events).toEqual([{ instanceId: request.runId, name: CANCEL_EVENT, data: { reason: 'wrong input (by a function-key caller)' } }]);
    expect(kube.jobs.has(`batch/${request.runId}`)).toBe(false);
  });

  it('answers 409 for a run that has already finished', async () => {
    client.put({ instanceId: request.runId, input, runtimeStatus: 'Completed', output: snapshotOf(request, { status: 'Success', reason: 'Complete', message: '' }, t0) });
    const response = await cancel();
    expect(response.status).toBe(409);
    expect(json(response).detail).toContain('already finished with status Success');
    expect(client.events).toEqual([]);
  });

  it('answers 404 for an unknown run', async () => {
    expect((await cancel()).status).toBe(404);
  });

  it('answers 400 for a cancel body of the wrong shape', async () => {
    client.put({ instanceId: request.runId, input });
    expect((await cancel({ reason: 5 })).status).toBe(400);
    expect((await cancel('{oops')).status).toBe(400);
  });
});

describe('GET /jobs and /cronjobs', () => {
  function manyJobs(n: number): void {
    for (let i = 0; i < n; i++) kube.addJob(sourceJob(`job-${String(i).padStart(3, '0')}`));
    kube.addJob({ ...sourceJob('nightly-run1234567'), metadata: { name: 'nightly-run1234567', namespace: 'batch', labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } } });
  }

  it('lists Jobs with env as string params, hiding the app’s own runs', async () => {
    manyJobs(2);
    const response = await listJobs(get('jobs?namespace=batch'), context());
    expect(response.status).toBe(200);
    const body = json(response) as { items: { name: string; params: Record<string, string>; referencedParams: string[]; runUrl: string }[]; continue: string | null };
    expect(body.items.map((i) => i.name)).toEqual(['job-000', 'job-001', 'nightly']);
    expect(body.items[2]).toMatchObject({ params: { BATCH_DATE: 'today' }, referencedParams: ['TOKEN'], runUrl: `${BASE}/jobs/batch/nightly/runs?cluster=dev` });
    expect((json(await listJobs(get('jobs?namespace=batch&code=caller-key'), context())) as { items: { runUrl: string }[] }).items[2]?.runUrl).toBe(
      `${BASE}/jobs/batch/nightly/runs?cluster=dev&code=caller-key`,
    );
    expect(body.continue).toBeNull();
  });

  it('pages with limit and continue', async () => {
    manyJobs(5);
    const first = json(await listJobs(get('jobs?namespace=batch&limit=4'), context())) as { items: { name: string }[]; continue: string };
    expect(first.items).toHaveLength(4);
    const second = json(await listJobs(get(`jobs?namespace=batch&limit=4&continue=${first.continue}`), context())) as { items: { name: string }[]; continue: string | null };
    expect(second.items.map((i) => i.name)).toEqual(['job-004', 'nightly']);
    expect(second.continue).toBeNull();
  });

  it.each([
    ['no namespace when several are allowed', 'jobs', 400],
    ['a bad limit', 'jobs?namespace=batch&limit=0', 400],
    ['a namespace outside the allow-list', 'jobs?namespace=default', 403],
  ])('answers an error for %s', async (_name, path, code) => {
    expect((await listJobs(get(path), context())).status).toBe(code);
  });

  it('uses the only allowed namespace when none is given', async () => {
    const response = await listJobs(get('jobs?cluster=prod'), context());
    expect(response.status).toBe(200);
  });

  it('lists CronJobs with schedule and state', async () => {
    kube.addCronJob({
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'report', namespace: 'batch' },
      spec: { schedule: '0 3 * * *', timeZone: 'Europe/Amsterdam', suspend: true, jobTemplate: { spec: sourceJob().spec } },
      status: { lastScheduleTime: t0 },
    });
    const body = json(await listCronJobs(get('cronjobs?namespace=batch'), context())) as { items: Record<string, unknown>[] };
    expect(body.items[0]).toMatchObject({ name: 'report', schedule: '0 3 * * *', timeZone: 'Europe/Amsterdam', suspended: true, lastScheduleTime: t0.toISOString(), params: { BATCH_DATE: 'today' } });
  });
});
