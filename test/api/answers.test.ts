import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import type { V1Deployment, V1Job, V1Pod } from '@kubernetes/client-node';
import { beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';

import { openApiDocument } from '../../src/api/openapi.js';
import { API_ROUTES, COMPONENT_SCHEMAS } from '../../src/api/routes.js';
import { problemSchema } from '../../src/api/schemas.js';
import { loadConfig } from '../../src/config.js';
import { ALLOW_ENV_ANNOTATION } from '../../src/core/consent.js';
import { snapshotOf } from '../../src/core/run.js';
import type { JobRunInput } from '../../src/core/schemas.js';
import { cancelRun } from '../../src/functions/cancelRun.js';
import { createCronJob } from '../../src/functions/createCronJob.js';
import { createRunSubscription } from '../../src/functions/createRunSubscription.js';
import { createSourceSubscription } from '../../src/functions/createSourceSubscription.js';
import { deleteCronJob } from '../../src/functions/deleteCronJob.js';
import { deleteRunSubscription } from '../../src/functions/deleteRunSubscription.js';
import { deleteSourceSubscription } from '../../src/functions/deleteSourceSubscription.js';
import { getCronJob } from '../../src/functions/getCronJob.js';
import { getOpenApiDocument } from '../../src/functions/getOpenApiDocument.js';
import { getRun } from '../../src/functions/getRun.js';
import { getRunLogs } from '../../src/functions/getRunLogs.js';
import { getRunSubscription } from '../../src/functions/getRunSubscription.js';
import { getSwaggerDocument } from '../../src/functions/getSwaggerDocument.js';
import { listAuditRecords } from '../../src/functions/listAuditRecords.js';
import { listClusters } from '../../src/functions/listClusters.js';
import { listCronJobRuns } from '../../src/functions/listCronJobRuns.js';
import { listCronJobs } from '../../src/functions/listCronJobs.js';
import { listDeployments } from '../../src/functions/listDeployments.js';
import { listJobs } from '../../src/functions/listJobs.js';
import { listRuns } from '../../src/functions/listRuns.js';
import { previewSchedule } from '../../src/functions/previewSchedule.js';
import { rerunRun } from '../../src/functions/rerunRun.js';
import { serveConsole } from '../../src/functions/serveConsole.js';
import { startCronJobRun } from '../../src/functions/startCronJobRun.js';
import { startJobRun } from '../../src/functions/startJobRun.js';
import { unsubscribeCallback } from '../../src/functions/unsubscribeCallback.js';
import { updateCronJob } from '../../src/functions/updateCronJob.js';
import { SubscriptionStore } from '../../src/runs/subscriptions.js';
import { createServices, setServices } from '../../src/services.js';
import { MemoryBlobs } from '../fakes/blobs.js';
import { FakeDurableClient } from '../fakes/durable-client.js';
import { FakeKube } from '../fakes/kube.js';

/**
 * The handlers' real answers against what the route table documents: every status one gives is documented for
 * its operation, every documented JSON body parses with the schema the document names, every error is
 * problem+json. Schemathesis does the same against the local runtime with generated input; these are the cases
 * a person picked, one per answer, over in-memory clusters.
 */
const t0 = new Date('2026-11-23T10:00:00Z');
const BASE = 'https://jobs.example.net/api';
const config = loadConfig({
  CLUSTERS: JSON.stringify([{ alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/nonexistent/kubeconfig', namespaces: ['batch', 'etl'] }]),
  FALLBACK_IMAGES: 'busybox',
});
const context = () => new InvocationContext({ functionName: 'test', invocationId: 'inv-1', logHandler: () => undefined });

let kube: FakeKube;
let client: FakeDurableClient;

function request(method: string, path: string, params: Record<string, string> = {}, body?: unknown, headers: Record<string, string> = {}): HttpRequest {
  return new HttpRequest({
    method,
    url: `${BASE}/${path}`,
    params,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: { string: typeof body === 'string' ? body : JSON.stringify(body) } }),
  });
}

const job: V1Job = {
  metadata: { name: 'nightly', namespace: 'batch', uid: 'u1', creationTimestamp: t0, annotations: { [ALLOW_ENV_ANNOTATION]: '*' } },
  spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36', env: [{ name: 'DAY', value: 'today' }] }] } } },
};
const deployment: V1Deployment = {
  metadata: { name: 'web', namespace: 'batch' },
  spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'web:1' }] } } },
};
const pod: V1Pod = {
  metadata: { name: 'nightly-abcdefghij-x1', namespace: 'batch', labels: { 'batch.kubernetes.io/job-name': 'nightly-abcdefghij' }, creationTimestamp: t0 },
  spec: { containers: [{ name: 'main', image: 'busybox' }] },
  status: { phase: 'Running', containerStatuses: [{ name: 'main', image: 'busybox', imageID: '', ready: true, restartCount: 0, state: { running: {} } }] },
};

function runInput(runId: string): JobRunInput {
  return {
    request: { runId, cluster: 'dev', namespace: 'batch', source: { kind: 'Job', name: 'nightly' }, overrides: {}, requestHash: 'h' },
    poll: { initialSeconds: 5, maxSeconds: 60, factor: 2, continueAsNewAfter: 50, maxObserveFailures: 10 },
    retry: { firstRetryMs: 1000, maxAttempts: 2 },
  };
}
const RUN_REF = { runId: 'nightly-abcdefghij', cluster: 'dev', namespace: 'batch', source: { kind: 'Job' as const, name: 'nightly' } };
function finished(runId: string, status: 'Success' | 'Failed'): void {
  client.put({ instanceId: runId, input: runInput(runId), runtimeStatus: 'Completed', output: snapshotOf({ ...RUN_REF, runId }, { status, reason: status === 'Success' ? 'Completed' : 'BackoffLimitExceeded', message: 'done', outputs: { rows: 42 } }, t0) });
}

const cronJobPath = { namespace: 'batch', name: 'report' };
async function makeCronJob(): Promise<string> {
  const created = await createCronJob(request('POST', 'cronjobs/batch', { namespace: 'batch' }, { name: 'report', fromDeployment: 'web', schedule: '0 3 * * *' }), context());
  return ((created.headers as Record<string, string> | undefined)?.ETag ?? '').replace(/"/g, '');
}

beforeEach(() => {
  kube = new FakeKube().addJob(job).addDeployment(deployment);
  kube.pods.push(pod);
  client = new FakeDurableClient(() => t0);
  setServices({ ...createServices(config, { gatewayFactory: () => kube, now: () => t0 }), subscriptions: new SubscriptionStore(new MemoryBlobs()) });
});

const HOOK = 'https://prod-00.westus.logic.azure.com/workflows/x/runs/y/actions/z/run?sp=%2F&sv=1.0&sig=abc';
/** A running run with one subscription (to a Logic Apps callback URL, which the default CALLBACK_ALLOWED_URLS admits); its id. */
async function subscribed(): Promise<string> {
  client.put({ instanceId: 'nightly-abcdefghij', input: runInput('nightly-abcdefghij'), runtimeStatus: 'Running' });
  const made = await createRunSubscription(request('POST', 'runs/nightly-abcdefghij/subscriptions', { runId: 'nightly-abcdefghij' }, { url: HOOK }), client, context());
  return (made.jsonBody as { id: string }).id;
}

/** A trigger's registration for the runs of Job batch/nightly (as a connector makes it); the answer. */
function triggerSubscription(body: Record<string, unknown> = {}): Promise<HttpResponseInit> {
  return createSourceSubscription(request('POST', 'subscriptions', {}, { namespace: 'batch', source: { kind: 'Job', name: 'nightly' }, url: TRIGGER_HOOK, ...body }), context());
}
const TRIGGER_HOOK = 'https://prod-00.westus.logic.azure.com/workflows/t/triggers/manual/paths/invoke?sp=%2F&sv=1.0&sig=trg';

interface Case {
  name: string;
  operationId: string;
  status: number;
  call: () => Promise<HttpResponseInit> | HttpResponseInit;
}

const big = { DATA: 'x'.repeat(300 * 1024) };
const CASES: Case[] = [
  { name: 'a run of a Job', operationId: 'startJobRun', status: 202, call: () => startJobRun(request('POST', 'jobs/batch/nightly/runs', { namespace: 'batch', name: 'nightly' }, { DAY: 'monday' }), client, context()) },
  { name: 'a namespace that is no DNS label', operationId: 'startJobRun', status: 400, call: () => startJobRun(request('POST', 'jobs/Bad_NS/nightly/runs', { namespace: 'Bad_NS', name: 'nightly' }), client, context()) },
  { name: 'a cluster not configured', operationId: 'startJobRun', status: 403, call: () => startJobRun(request('POST', 'jobs/batch/nightly/runs?cluster=elsewhere', { namespace: 'batch', name: 'nightly' }), client, context()) },
  { name: 'a Job that does not exist', operationId: 'startJobRun', status: 404, call: () => startJobRun(request('POST', 'jobs/batch/missing/runs', { namespace: 'batch', name: 'missing' }), client, context()) },
  { name: 'a body over 256 KiB', operationId: 'startJobRun', status: 413, call: () => startJobRun(request('POST', 'jobs/batch/nightly/runs', { namespace: 'batch', name: 'nightly' }, big), client, context()) },
  { name: 'a body that is an array', operationId: 'startJobRun', status: 400, call: () => startJobRun(request('POST', 'jobs/batch/nightly/runs', { namespace: 'batch', name: 'nightly' }, [1]), client, context()) },
  { name: 'timeoutSeconds=0', operationId: 'startJobRun', status: 400, call: () => startJobRun(request('POST', 'jobs/batch/nightly/runs?timeoutSeconds=0', { namespace: 'batch', name: 'nightly' }), client, context()) },
  {
    name: 'a CronJob run with an unknown concurrencyPolicy',
    operationId: 'startCronJobRun',
    status: 400,
    call: () => startCronJobRun(request('POST', 'cronjobs/batch/report/runs?concurrencyPolicy=Sometimes', cronJobPath), client, context()),
  },
  {
    name: 'a run of a CronJob',
    operationId: 'startCronJobRun',
    status: 202,
    call: async () => {
      await makeCronJob();
      return startCronJobRun(request('POST', 'cronjobs/batch/report/runs', cronJobPath), client, context());
    },
  },
  {
    name: 'a run that is starting',
    operationId: 'getRun',
    status: 202,
    call: () => {
      client.put({ instanceId: 'nightly-abcdefghij', input: runInput('nightly-abcdefghij'), runtimeStatus: 'Pending' });
      return getRun(request('GET', 'runs/nightly-abcdefghij', { runId: 'nightly-abcdefghij' }), client, context());
    },
  },
  {
    name: 'a run that succeeded',
    operationId: 'getRun',
    status: 200,
    call: () => {
      finished('nightly-abcdefghij', 'Success');
      return getRun(request('GET', 'runs/nightly-abcdefghij', { runId: 'nightly-abcdefghij' }), client, context());
    },
  },
  {
    name: 'a run that failed',
    operationId: 'getRun',
    status: 424,
    call: () => {
      finished('nightly-abcdefghij', 'Failed');
      return getRun(request('GET', 'runs/nightly-abcdefghij', { runId: 'nightly-abcdefghij' }), client, context());
    },
  },
  { name: 'an unknown run', operationId: 'getRun', status: 404, call: () => getRun(request('GET', 'runs/nightly-zzzzzzzzzz', { runId: 'nightly-zzzzzzzzzz' }), client, context()) },
  {
    name: "Durable's task hub not answering",
    operationId: 'getRun',
    status: 503,
    call: () => {
      client.failGetStatus = new Error('storage is down');
      return getRun(request('GET', 'runs/nightly-zzzzzzzzzz', { runId: 'nightly-zzzzzzzzzz' }), client, context());
    },
  },
  {
    name: 'a cancel of a running run',
    operationId: 'cancelRun',
    status: 202,
    call: () => {
      client.put({ instanceId: 'nightly-abcdefghij', input: runInput('nightly-abcdefghij'), runtimeStatus: 'Running' });
      kube.addJob({ ...job, metadata: { name: 'nightly-abcdefghij', namespace: 'batch' }, status: { active: 1, startTime: t0 } });
      return cancelRun(request('POST', 'runs/nightly-abcdefghij/cancel', { runId: 'nightly-abcdefghij' }), client, context());
    },
  },
  {
    name: 'a cancel of a finished run',
    operationId: 'cancelRun',
    status: 409,
    call: () => {
      finished('nightly-abcdefghij', 'Success');
      return cancelRun(request('POST', 'runs/nightly-abcdefghij/cancel', { runId: 'nightly-abcdefghij' }), client, context());
    },
  },
  {
    name: 'a rerun of a failed run',
    operationId: 'rerunRun',
    status: 202,
    call: () => {
      finished('nightly-abcdefghij', 'Failed');
      return rerunRun(request('POST', 'runs/nightly-abcdefghij/rerun', { runId: 'nightly-abcdefghij' }, { DAY: 'tuesday' }), client, context());
    },
  },
  {
    name: 'a subscription to a running run',
    operationId: 'createRunSubscription',
    status: 201,
    call: () => {
      client.put({ instanceId: 'nightly-abcdefghij', input: runInput('nightly-abcdefghij'), runtimeStatus: 'Running' });
      return createRunSubscription(request('POST', 'runs/nightly-abcdefghij/subscriptions', { runId: 'nightly-abcdefghij' }, { url: HOOK }), client, context());
    },
  },
  {
    name: 'the same subscription again',
    operationId: 'createRunSubscription',
    status: 200,
    call: async () => {
      await subscribed();
      return createRunSubscription(request('POST', 'runs/nightly-abcdefghij/subscriptions', { runId: 'nightly-abcdefghij' }, { url: HOOK }), client, context());
    },
  },
  {
    name: 'a subscription to a URL that is not https',
    operationId: 'createRunSubscription',
    status: 400,
    call: () => {
      client.put({ instanceId: 'nightly-abcdefghij', input: runInput('nightly-abcdefghij'), runtimeStatus: 'Running' });
      return createRunSubscription(request('POST', 'runs/nightly-abcdefghij/subscriptions', { runId: 'nightly-abcdefghij' }, { url: 'http://hooks.example/x' }), client, context());
    },
  },
  {
    name: 'a sixth subscription',
    operationId: 'createRunSubscription',
    status: 409,
    call: async () => {
      await subscribed();
      for (let i = 1; i < 5; i++) await createRunSubscription(request('POST', 'runs/nightly-abcdefghij/subscriptions', { runId: 'nightly-abcdefghij' }, { url: `${HOOK}${String(i)}` }), client, context());
      return createRunSubscription(request('POST', 'runs/nightly-abcdefghij/subscriptions', { runId: 'nightly-abcdefghij' }, { url: `${HOOK}6` }), client, context());
    },
  },
  { name: 'a subscription to an unknown run', operationId: 'createRunSubscription', status: 404, call: () => createRunSubscription(request('POST', 'runs/nightly-zzzzzzzzzz/subscriptions', { runId: 'nightly-zzzzzzzzzz' }, { url: HOOK }), client, context()) },
  { name: "a trigger's registration", operationId: 'createSourceSubscription', status: 201, call: () => triggerSubscription() },
  {
    name: "the same trigger's registration again",
    operationId: 'createSourceSubscription',
    status: 200,
    call: async () => {
      await triggerSubscription();
      return triggerSubscription();
    },
  },
  { name: 'a trigger for a whole namespace', operationId: 'createSourceSubscription', status: 201, call: () => triggerSubscription({ source: undefined }) },
  { name: 'a trigger to a URL that is not https', operationId: 'createSourceSubscription', status: 400, call: () => triggerSubscription({ url: 'http://hooks.example/x' }) },
  { name: 'a trigger on a cluster not configured', operationId: 'createSourceSubscription', status: 403, call: () => triggerSubscription({ cluster: 'elsewhere' }) },
  { name: 'a trigger on a Job that does not exist', operationId: 'createSourceSubscription', status: 404, call: () => triggerSubscription({ source: { kind: 'Job', name: 'missing' } }) },
  {
    name: 'a sixth trigger on one Job',
    operationId: 'createSourceSubscription',
    status: 409,
    call: async () => {
      for (let i = 1; i <= 5; i++) await triggerSubscription({ url: `${TRIGGER_HOOK}${String(i)}` });
      return triggerSubscription({ url: `${TRIGGER_HOOK}6` });
    },
  },
  {
    name: "a trigger's removal",
    operationId: 'deleteSourceSubscription',
    status: 204,
    call: async () => {
      const id = ((await triggerSubscription()).jsonBody as { id: string }).id;
      return deleteSourceSubscription(request('DELETE', `subscriptions/${id}`, { subscriptionId: id }), context());
    },
  },
  { name: 'an unknown trigger subscription', operationId: 'deleteSourceSubscription', status: 404, call: () => deleteSourceSubscription(request('DELETE', 'subscriptions/0123456789abcdef0123', { subscriptionId: '0123456789abcdef0123' }), context()) },
  {
    name: 'a subscription',
    operationId: 'getRunSubscription',
    status: 200,
    call: async () => {
      const id = await subscribed();
      return getRunSubscription(request('GET', `runs/nightly-abcdefghij/subscriptions/${id}`, { runId: 'nightly-abcdefghij', subscriptionId: id }), client, context());
    },
  },
  {
    name: 'an unknown subscription',
    operationId: 'getRunSubscription',
    status: 404,
    call: async () => {
      await subscribed();
      return getRunSubscription(request('GET', 'runs/nightly-abcdefghij/subscriptions/0123456789abcdef0123', { runId: 'nightly-abcdefghij', subscriptionId: '0123456789abcdef0123' }), client, context());
    },
  },
  {
    name: 'a deleted subscription (what DELETE removed stays gone, as Schemathesis checks statefully)',
    operationId: 'getRunSubscription',
    status: 404,
    call: async () => {
      const id = await subscribed();
      const params = { runId: 'nightly-abcdefghij', subscriptionId: id };
      expect((await deleteRunSubscription(request('DELETE', `runs/nightly-abcdefghij/subscriptions/${id}`, params), client, context())).status).toBe(204);
      return getRunSubscription(request('GET', `runs/nightly-abcdefghij/subscriptions/${id}`, params), client, context());
    },
  },
  {
    name: 'an unsubscribe',
    operationId: 'deleteRunSubscription',
    status: 204,
    call: async () => {
      const id = await subscribed();
      return deleteRunSubscription(request('DELETE', `runs/nightly-abcdefghij/subscriptions/${id}`, { runId: 'nightly-abcdefghij', subscriptionId: id }), client, context());
    },
  },
  {
    name: 'an unsubscribe of an unknown subscription',
    operationId: 'deleteRunSubscription',
    status: 404,
    call: async () => {
      await subscribed();
      return deleteRunSubscription(request('DELETE', 'runs/nightly-abcdefghij/subscriptions/nope', { runId: 'nightly-abcdefghij', subscriptionId: 'nope' }), client, context());
    },
  },
  {
    name: 'an unsubscribe by callback URL',
    operationId: 'unsubscribeCallback',
    status: 204,
    call: async () => {
      await subscribed();
      return unsubscribeCallback(request('POST', 'subscriptions/unsubscribe', {}, { url: HOOK }), client, context());
    },
  },
  { name: 'an unsubscribe without a url', operationId: 'unsubscribeCallback', status: 400, call: () => unsubscribeCallback(request('POST', 'subscriptions/unsubscribe', {}, {}), client, context()) },
  { name: 'a rerun of an unknown run', operationId: 'rerunRun', status: 404, call: () => rerunRun(request('POST', 'runs/nightly-zzzzzzzzzz/rerun', { runId: 'nightly-zzzzzzzzzz' }), client, context()) },
  { name: 'a cancel reason that is a number', operationId: 'cancelRun', status: 400, call: () => cancelRun(request('POST', 'runs/nightly-abcdefghij/cancel', { runId: 'nightly-abcdefghij' }, { reason: 5 }), client, context()) },
  {
    name: "a running run's log",
    operationId: 'getRunLogs',
    status: 200,
    call: () => getRunLogs(request('GET', 'runs/nightly-abcdefghij/logs?namespace=batch', { runId: 'nightly-abcdefghij' }), client, context()),
  },
  { name: 'a log of a name that is no Job name', operationId: 'getRunLogs', status: 404, call: () => getRunLogs(request('GET', 'runs/NOPE/logs', { runId: 'NOPE' }), client, context()) },
  { name: 'tailLines=0', operationId: 'getRunLogs', status: 400, call: () => getRunLogs(request('GET', 'runs/nightly-abcdefghij/logs?tailLines=0', { runId: 'nightly-abcdefghij' }), client, context()) },
  { name: 'Jobs of a namespace', operationId: 'listJobs', status: 200, call: () => listJobs(request('GET', 'jobs?namespace=batch'), context()) },
  { name: 'Jobs without a namespace where two are allowed', operationId: 'listJobs', status: 400, call: () => listJobs(request('GET', 'jobs'), context()) },
  { name: 'Jobs with limit=0', operationId: 'listJobs', status: 400, call: () => listJobs(request('GET', 'jobs?namespace=batch&limit=0'), context()) },
  { name: 'Jobs of a namespace not allowed', operationId: 'listJobs', status: 403, call: () => listJobs(request('GET', 'jobs?namespace=default'), context()) },
  {
    name: 'CronJobs of a namespace',
    operationId: 'listCronJobs',
    status: 200,
    call: async () => {
      await makeCronJob();
      return listCronJobs(request('GET', 'cronjobs?namespace=batch'), context());
    },
  },
  { name: 'Deployments of a namespace', operationId: 'listDeployments', status: 200, call: () => listDeployments(request('GET', 'deployments?namespace=batch'), context()) },
  { name: 'a CronJob from a Deployment', operationId: 'createCronJob', status: 201, call: () => createCronJob(request('POST', 'cronjobs/batch', { namespace: 'batch' }, { name: 'report', fromDeployment: 'web', preset: 'daily', at: '02:30' }), context()) },
  { name: 'a dry run of a CronJob', operationId: 'createCronJob', status: 200, call: () => createCronJob(request('POST', 'cronjobs/batch?dryRun=true', { namespace: 'batch' }, { name: 'report', fromDeployment: 'web', schedule: '@hourly' }), context()) },
  { name: 'a CronJob body with a misspelt field', operationId: 'createCronJob', status: 400, call: () => createCronJob(request('POST', 'cronjobs/batch', { namespace: 'batch' }, { name: 'report', fromDeployment: 'web', scedule: '@hourly' }), context()) },
  { name: 'a CronJob from a Deployment that does not exist', operationId: 'createCronJob', status: 404, call: () => createCronJob(request('POST', 'cronjobs/batch', { namespace: 'batch' }, { name: 'report', fromDeployment: 'gone', schedule: '@hourly' }), context()) },
  {
    name: 'one CronJob',
    operationId: 'getCronJob',
    status: 200,
    call: async () => {
      await makeCronJob();
      return getCronJob(request('GET', 'cronjobs/batch/report', cronJobPath), context());
    },
  },
  { name: 'a CronJob that does not exist', operationId: 'getCronJob', status: 404, call: () => getCronJob(request('GET', 'cronjobs/batch/report', cronJobPath), context()) },
  {
    name: 'an update with the ETag read',
    operationId: 'updateCronJob',
    status: 200,
    call: async () => {
      const etag = await makeCronJob();
      return updateCronJob(request('PATCH', 'cronjobs/batch/report', cronJobPath, { suspend: true }, { 'If-Match': `"${etag}"` }), context());
    },
  },
  { name: 'an update without a version', operationId: 'updateCronJob', status: 428, call: () => updateCronJob(request('PATCH', 'cronjobs/batch/report', cronJobPath, { suspend: true }), context()) },
  {
    name: 'a delete',
    operationId: 'deleteCronJob',
    status: 204,
    call: async () => {
      await makeCronJob();
      return deleteCronJob(request('DELETE', 'cronjobs/batch/report', cronJobPath), context());
    },
  },
  { name: 'a delete of a CronJob that does not exist', operationId: 'deleteCronJob', status: 404, call: () => deleteCronJob(request('DELETE', 'cronjobs/batch/report', cronJobPath), context()) },
  {
    name: "a CronJob's runs",
    operationId: 'listCronJobRuns',
    status: 200,
    call: async () => {
      await makeCronJob();
      return listCronJobRuns(request('GET', 'cronjobs/batch/report/runs', cronJobPath), context());
    },
  },
  { name: 'runs of a CronJob that never was', operationId: 'listCronJobRuns', status: 404, call: () => listCronJobRuns(request('GET', 'cronjobs/batch/report/runs', cronJobPath), context()) },
  {
    name: "a namespace's runs",
    operationId: 'listRuns',
    status: 200,
    call: () => {
      kube.addJob({
        metadata: {
          name: 'nightly-abcdefghij',
          namespace: 'batch',
          creationTimestamp: t0,
          labels: { 'app.kubernetes.io/managed-by': 'aks-job-runner', 'aks-job-runner.io/run-id': 'nightly-abcdefghij', 'aks-job-runner.io/source-kind': 'Job', 'aks-job-runner.io/source-name': 'nightly' },
          annotations: { 'aks-job-runner.io/caller': 'key' },
        },
        status: { startTime: t0, active: 1 },
      });
      return listRuns(request('GET', 'runs?namespace=batch&status=Running'), context());
    },
  },
  { name: 'runs of a status that is none', operationId: 'listRuns', status: 400, call: () => listRuns(request('GET', 'runs?namespace=batch&status=Done'), context()) },
  { name: 'runs of a namespace not allowed', operationId: 'listRuns', status: 403, call: () => listRuns(request('GET', 'runs?namespace=kube-system'), context()) },
  { name: 'a schedule preview', operationId: 'previewSchedule', status: 200, call: () => previewSchedule(request('GET', 'schedules/preview?schedule=%40daily&count=2'), context()) },
  { name: 'a schedule that is not cron', operationId: 'previewSchedule', status: 400, call: () => previewSchedule(request('GET', 'schedules/preview?schedule=often'), context()) },
  { name: 'the audit trail to a function-key caller', operationId: 'listAuditRecords', status: 403, call: () => listAuditRecords(request('GET', 'audit'), context()) },
  { name: 'the clusters', operationId: 'listClusters', status: 200, call: () => listClusters(new HttpRequest({ method: 'GET', url: 'http://localhost/api/clusters' }), new InvocationContext()) },
  { name: 'the console without its slash', operationId: 'serveConsole', status: 308, call: () => serveConsole(request('GET', 'console', {}), context()) },
  { name: 'a file the console does not have', operationId: 'serveConsole', status: 404, call: () => serveConsole(request('GET', 'console/nothing.exe', { path: 'nothing.exe' }), context()) },
  { name: 'the OpenAPI document', operationId: 'getOpenApiDocument', status: 200, call: () => getOpenApiDocument(request('GET', 'openapi.json'), context()) },
  { name: 'the Swagger document', operationId: 'getSwaggerDocument', status: 200, call: () => getSwaggerDocument(request('GET', 'swagger.json'), context()) },
];

const DOCUMENTED = (openApiDocument({ serverUrl: BASE }).components as { schemas: Record<string, unknown> }).schemas;

function routeOf(operationId: string) {
  const route = API_ROUTES.find((r) => r.name === operationId);
  if (!route) throw new Error(`no route ${operationId}`);
  return route;
}

describe('answers as the document describes them', () => {
  it.each(CASES)('$operationId, $name: $status, documented, its body as the document says', async ({ operationId, status, call }) => {
    const route = routeOf(operationId);
    const response = await call();
    const headers = (response.headers ?? {}) as Record<string, string>;
    const answered = response.status ?? 200;
    expect(answered, JSON.stringify(response.jsonBody)).toBe(status);
    const answer = route.answers[answered as keyof typeof route.answers];
    if (answered >= 400 && !answer) {
      expect(route.errors).toContain(answered);
      expect(headers['Content-Type']).toBe('application/problem+json');
      expect(problemSchema.safeParse(response.jsonBody).success).toBe(true);
      expect(z.fromJSONSchema(DOCUMENTED.Problem as Parameters<typeof z.fromJSONSchema>[0]).safeParse(response.jsonBody).success).toBe(true);
      expect(response.jsonBody).toMatchObject({ status: answered, type: expect.stringMatching(/^docs\/errors\.md#/) as unknown });
      if (answered === 429 || answered === 503) expect(headers['Retry-After']).toMatch(/^\d+$/);
      return;
    }
    expect(answer, `status ${answered} is not documented for ${operationId}`).toBeDefined();
    for (const name of answer?.headers ?? []) {
      if (name === 'ETag' && headers.ETag === undefined) continue;
      expect(headers[name], name).toBeDefined();
    }
    const body = answer?.body;
    if (body && 'schema' in body) {
      // The JSON Schema the document carries, not the zod it was made from: what a client or fuzzer checks.
      const parsed = z.fromJSONSchema(DOCUMENTED[body.schema] as Parameters<typeof z.fromJSONSchema>[0]).safeParse(response.jsonBody);
      expect(parsed.error?.issues ?? []).toEqual([]);
      expect(COMPONENT_SCHEMAS[body.schema].schema.safeParse(response.jsonBody).success).toBe(true);
    } else if (body) {
      expect(response.jsonBody === undefined ? response.body : response.jsonBody).toBeDefined();
    } else {
      expect(response.jsonBody).toBeUndefined();
    }
  });

  it('covers every operation of the document at least once', () => {
    expect([...new Set(CASES.map((c) => c.operationId))].sort()).toEqual(API_ROUTES.map((r) => r.name).sort());
  });
});
