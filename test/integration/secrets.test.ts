import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { KubeConfig } from '@kubernetes/client-node';
import * as df from 'durable-functions';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';

import { orchestratorRunner } from '../../local/durable/engine.js';
import { LocalDurable } from '../../local/durable/runtime.js';
import { ConfiguredClusters } from '../../src/clients/clusters.js';
import type { AksManagement } from '../../src/clients/credentials.js';
import { type FunctionsHooks, startTelemetry, type Telemetry } from '../../src/clients/telemetry.js';
import { loadConfig } from '../../src/config.js';
import { randomSuffix } from '../../src/core/naming.js';
import { deliveryInstanceIdOf, subscriptionIdOf } from '../../src/core/subscriptions.js';
import { ATTRIBUTES, EVENTS, METRICS } from '../../src/core/telemetry-names.js';
import { archiveRun } from '../../src/functions/archiveRun.js';
import { attemptDelivery } from '../../src/functions/attemptDelivery.js';
import { createCronJob } from '../../src/functions/createCronJob.js';
import { createRunSubscription } from '../../src/functions/createRunSubscription.js';
import { deadLetterDelivery } from '../../src/functions/deadLetterDelivery.js';
import { deliverRunEvent } from '../../src/functions/deliverRunEvent.js';
import { getCronJob } from '../../src/functions/getCronJob.js';
import { getRun } from '../../src/functions/getRun.js';
import { getRunLogs } from '../../src/functions/getRunLogs.js';
import { jobRun } from '../../src/functions/jobRun.js';
import { listClusters } from '../../src/functions/listClusters.js';
import { listCronJobRuns } from '../../src/functions/listCronJobRuns.js';
import { listCronJobs } from '../../src/functions/listCronJobs.js';
import { listDeployments } from '../../src/functions/listDeployments.js';
import { notifyRun } from '../../src/functions/notifyRun.js';
import { observeRun } from '../../src/functions/observeRun.js';
import { startCronJobRun } from '../../src/functions/startCronJobRun.js';
import { startJobRun } from '../../src/functions/startJobRun.js';
import { stopRun } from '../../src/functions/stopRun.js';
import { submitRun } from '../../src/functions/submitRun.js';
import { updateCronJob } from '../../src/functions/updateCronJob.js';
import { SubscriptionStore } from '../../src/runs/subscriptions.js';
import { setServices } from '../../src/services.js';
import { succeeds } from '../../testenv/fates.js';
import { MemoryBlobs } from '../fakes/blobs.js';
import { secretsIn } from '../support/no-secrets.js';
import { metricTotal, type OtlpReceiver, startOtlpReceiver } from '../support/otlp-receiver.js';
import { adminKube, testJob, useNamespace, waitFor } from './helpers.js';

/**
 * No secret of a full run leaks: the values of Secrets the source Job's env reads (valueFrom, envFrom), the
 * kubeconfig's token, and on the AKS path the Entra ID token and the client key in ARM's kubeconfig. Each is
 * looked for in the local runtime's stored state on disk (histories, custom status, output), in every log
 * line the functions and the process wrote, and in every HTTP answer.
 */
const ns = useNamespace('secrets');
const kube = adminKube();
const SECRET_VALUE = `s3cret-${randomBytes(8).toString('hex')}`;
const FROM_ENV_VALUE = `envfrom-${randomBytes(8).toString('hex')}`;
// Not a key: the PEM shape only, so a leak would be recognisable. Its label is built, so no scanner takes the
// source for a committed private key.
const PEM_LABEL = ['RSA', 'PRIVATE', 'KEY'].join(' ');
const CLIENT_KEY = `-----BEGIN ${PEM_LABEL}-----\nFAKE${randomBytes(12).toString('hex')}\n-----END ${PEM_LABEL}-----\n`;
const logs: string[] = [];
const answers: HttpResponseInit[] = [];
/**
 * A callback URL's signature (issue 23): the local cluster's run has a subscription to a receiver on loopback whose
 * URL carries it in its query string, as a Logic Apps callback URL does. It must reach the receiver and nothing else.
 */
const CALLBACK_SIG = `sig-${randomBytes(12).toString('hex')}`;
const callbacks: { path: string; query: string }[] = [];
let callbackServer: Server | undefined;
let callbackUrl = '';
/** The caller's function key (a header the host checks); it must never reach the telemetry. */
const FUNCTION_KEY = `key-${randomBytes(12).toString('hex')}`;
let receiver: OtlpReceiver;
let telemetry: Telemetry | null = null;
/** The app's log hook (app.hook.log), which the Functions worker runs for every context.log line. */
let logHook: Parameters<FunctionsHooks['hook']['log']>[0] | undefined;
const runIds: string[] = [];
let stateDir = '';
let durable: LocalDurable;
let tokensIssued = 0;

const context = () =>
  new InvocationContext({
    functionName: 'it',
    invocationId: 'inv-secrets',
    logHandler: (level, ...args) => {
      logHook?.({ level, message: args.map(String).join(' '), category: 'user' });
      logs.push(args.map(String).join(' '));
    },
  });
const post = (path: string, params: Record<string, string>, body: unknown = {}, headers: Record<string, string> = {}) =>
  new HttpRequest({ method: 'POST', url: `http://127.0.0.1:7071/api/${path}`, params, headers: { 'content-type': 'application/json', ...headers }, body: { string: JSON.stringify(body) } });
const get = (path: string, params: Record<string, string>) => new HttpRequest({ method: 'GET', url: `http://127.0.0.1:7071/api/${path}`, params });

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'secrets-state-'));
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    callbacks.push({ path: url.pathname, query: url.search });
    req.resume();
    req.on('end', () => res.writeHead(200).end());
  });
  callbackServer = server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  callbackUrl = `http://127.0.0.1:${String(typeof address === 'object' && address ? address.port : 0)}/hooks/done?sp=%2Ftriggers&sv=1.0&sig=${CALLBACK_SIG}`;
  // The app's telemetry, exported with its real OTLP exporters to a receiver on loopback, with the worker's hooks.
  receiver = await startOtlpReceiver();
  telemetry = await startTelemetry(loadConfig({ CLUSTERS: '[{"alias":"x","type":"kubeconfig","kubeconfigPath":"/x","namespaces":["x"]}]', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint }).telemetry, {
    functions: {
      setup: () => undefined,
      hook: {
        log: (handler) => {
          logHook = handler;
        },
        preInvocation: () => undefined,
      },
    },
  });
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      logs.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
    });
  }
  await kube.core.createNamespacedSecret({ namespace: ns(), body: { metadata: { name: 'db' }, stringData: { password: SECRET_VALUE, extra: FROM_ENV_VALUE } } });
  const job = testJob({ name: 'uses-secrets', namespace: ns(), suspend: true, fate: succeeds({ runFor: '200ms', terminationMessage: '{"rows":3}' }) });
  const container = job.spec?.template.spec?.containers[0];
  if (!container) throw new Error('no container');
  container.env = [{ name: 'PLAIN', value: 'visible' }, { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }];
  container.envFrom = [{ secretRef: { name: 'db' } }];
  await kube.batch.createNamespacedJob({ namespace: ns(), body: job });

  // The AKS path against the real API server: ARM's kubeconfig (server, CA and a client key the app must
  // drop) and an Entra ID token, which here is a token the local API server accepts.
  const admin = new KubeConfig();
  admin.loadFromFile(inject('kubeconfigPath'));
  const caData = admin.getCurrentCluster()?.caData ?? '';
  const management: AksManagement = {
    getCluster: () => Promise.resolve({ aadProfile: { managed: true } }),
    userKubeconfig: () =>
      Promise.resolve(
        [
          'apiVersion: v1',
          'kind: Config',
          `clusters: [{ name: aks, cluster: { server: "${inject('kubeServer')}", certificate-authority-data: "${caData}" } }]`,
          'contexts: [{ name: aks, context: { cluster: aks, user: u } }]',
          'current-context: aks',
          `users: [{ name: u, user: { client-key-data: "${Buffer.from(CLIENT_KEY).toString('base64')}", client-certificate-data: "${Buffer.from('cert').toString('base64')}" } }]`,
        ].join('\n'),
      ),
  };
  const credential: TokenCredential = {
    getToken: (): Promise<AccessToken> => {
      tokensIssued++;
      return Promise.resolve({ token: inject('adminToken'), expiresOnTimestamp: Date.now() + 3600_000 });
    },
  };
  const config = loadConfig({
    CLUSTERS: JSON.stringify([
      { alias: 'local', type: 'kubeconfig', kubeconfigPath: inject('kubeconfigPath'), namespaces: [ns()] },
      { alias: 'aks', type: 'aks', subscriptionId: '00000000-0000-0000-0000-000000000001', resourceGroup: 'rg', clusterName: 'aks-local', namespaces: [ns()] },
    ]),
    POLL_INITIAL_SECONDS: '1',
    POLL_MAX_SECONDS: '2',
    ACTIVITY_RETRY_FIRST_SECONDS: '1',
    // A receiver that is not a Logic Apps callback gets signed deliveries; the local runtime allows it on loopback.
    WEBHOOK_SIGNING_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
  });
  setServices({
    config,
    clusters: new ConfiguredClusters(config, { credential: () => credential, management: () => Promise.resolve(management) }),
    now: () => new Date(),
    newSuffix: randomSuffix,
    logs: null,
    audit: null,
    subscriptions: new SubscriptionStore(new MemoryBlobs()),
  });
  durable = new LocalDurable({
    stateDir,
    orchestrators: { jobRun: orchestratorRunner(jobRun), deliverRunEvent: orchestratorRunner(deliverRunEvent) },
    activities: { submitRun: (input, context) => submitRun(input, durable, context), observeRun, stopRun, archiveRun, notifyRun: (input, ctx) => notifyRun(input, durable, ctx), attemptDelivery, deadLetterDelivery },
    log: (line) => logs.push(line),
  });
});
afterAll(async () => {
  await durable.close();
  await telemetry?.shutdown();
  await receiver.close();
  await new Promise((resolve) => callbackServer?.close(resolve));
  vi.restoreAllMocks();
  await rm(stateDir, { recursive: true, force: true });
});

async function fullRun(cluster: string): Promise<HttpResponseInit> {
  const started = await startJobRun(
    post(`jobs/${ns()}/uses-secrets/runs?cluster=${cluster}`, { namespace: ns(), name: 'uses-secrets' }, {}, { 'x-functions-key': FUNCTION_KEY }),
    durable,
    context(),
  );
  answers.push(started);
  expect(started.status, JSON.stringify(started.jsonBody)).toBe(202);
  const runId = (started.jsonBody as { runId: string }).runId;
  runIds.push(runId);
  if (cluster === 'local') {
    // Subscribed while the run runs: the verdict is pushed to the callback URL, signature and all.
    const subscribed = await createRunSubscription(post(`runs/${runId}/subscriptions`, { runId }, { url: callbackUrl }, { 'x-functions-key': FUNCTION_KEY }), durable, context());
    answers.push(subscribed);
    expect([200, 201], JSON.stringify(subscribed.jsonBody)).toContain(subscribed.status);
  }
  return waitFor(
    `run ${runId} on ${cluster} to finish`,
    async () => {
      const status = await getRun(get(`runs/${runId}`, { runId }), durable, context());
      answers.push(status);
      return status.status === 200 || status.status === 424 ? status : undefined;
    },
    60_000,
    500,
  );
}

async function storedState(): Promise<string> {
  const files = await readdir(stateDir);
  return (await Promise.all(files.map((f) => readFile(join(stateDir, f), 'utf8')))).join('\n');
}

describe('no credential or Secret value leaves the cluster through the app', () => {
  it.each(['local', 'aks'])('a full run on the %s cluster: none in stored histories, custom status, logs or HTTP answers', async (cluster) => {
    const final = await fullRun(cluster);
    expect(final.status, JSON.stringify(final.jsonBody)).toBe(200);
    expect(final.jsonBody).toMatchObject({ status: 'Success', outputs: { rows: 3 } });
    if (cluster === 'aks') expect(tokensIssued).toBeGreaterThan(0);

    // The status route answers 200 once the verdict is made; the orchestration still archives the run's logs
    // after that, so the stored state is read once it has completed.
    const runId = (final.jsonBody as { runId: string }).runId;
    const status = await waitFor(`run ${runId}'s orchestration to complete`, async () => {
      const { runtimeStatus } = await durable.getStatus(runId);
      return runtimeStatus === df.OrchestrationRuntimeStatus.Running || runtimeStatus === df.OrchestrationRuntimeStatus.Pending ? undefined : runtimeStatus;
    }, 30_000, 200);
    expect(status).toBe(df.OrchestrationRuntimeStatus.Completed);
    if (cluster === 'local') {
      // The haystack is real: the verdict reached the receiver at the URL with its signature, by a delivery
      // orchestration whose history is in the stored state.
      await waitFor('the verdict at the callback URL', () => Promise.resolve(callbacks.length > 0 ? true : undefined), 30_000, 200);
      expect(callbacks[0]).toEqual({ path: '/hooks/done', query: `?sp=%2Ftriggers&sv=1.0&sig=${CALLBACK_SIG}` });
      const delivery = deliveryInstanceIdOf(runId, 'Success', subscriptionIdOf(runId, callbackUrl));
      const delivered = await waitFor(`delivery ${delivery} to complete`, async () => {
        const { runtimeStatus } = await durable.getStatus(delivery);
        return runtimeStatus === df.OrchestrationRuntimeStatus.Completed ? runtimeStatus : undefined;
      }, 30_000, 200);
      expect(delivered).toBe(df.OrchestrationRuntimeStatus.Completed);
    }
    const stored = await storedState();
    // The haystacks are real: the run's history and answers are there, with the Secret's reference in the Job.
    expect(stored).toContain('"rows":3');
    expect(logs.join('\n')).toContain('Success');
    const job = await kube.batch.readNamespacedJob({ namespace: ns(), name: runId });
    expect(JSON.stringify(job.spec?.template.spec?.containers[0]?.env)).toContain('secretKeyRef');

    const haystacks = { stored, logs: logs.join('\n'), answers: JSON.stringify(answers.map((a) => ({ body: a.jsonBody as unknown, headers: a.headers }))) };
    const needles = {
      'the Secret value read by valueFrom': SECRET_VALUE,
      'the Secret value read by envFrom': FROM_ENV_VALUE,
      'the kubeconfig and Entra ID token': inject('adminToken'),
      'the client key in ARM\'s kubeconfig': CLIENT_KEY.split('\n')[1] ?? CLIENT_KEY,
      'the client key, base64': Buffer.from(CLIENT_KEY).toString('base64').slice(0, 40),
      "the callback URL's signature": CALLBACK_SIG,
    };
    for (const [where, text] of Object.entries(haystacks)) {
      for (const [what, needle] of Object.entries(needles)) expect(text.includes(needle), `${what} in ${where}`).toBe(false);
      expect(text, where).not.toMatch(/Bearer [A-Za-z0-9]/);
    }
  }, 90_000);
});

describe('no Secret value in the answers of the CronJob and listing routes (issue 21)', () => {
  it('the CronJob detail, update, dry-run create, listings, runs, /clusters, a Forbid 409 and the logs route answer none, nor log one', async () => {
    const source = testJob({ name: 'x', namespace: ns(), fate: succeeds({ runFor: '1h' }) });
    const container = source.spec?.template.spec?.containers[0];
    if (!container) throw new Error('no container');
    container.env = [{ name: 'PLAIN', value: 'visible' }, { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }];
    container.envFrom = [{ secretRef: { name: 'db' } }];
    await kube.batch.createNamespacedCronJob({
      namespace: ns(),
      body: { metadata: { name: 'uses-secrets-cron' }, spec: { schedule: '0 3 * * *', suspend: true, concurrencyPolicy: 'Forbid', jobTemplate: { spec: source.spec } } },
    });
    await kube.apps.createNamespacedDeployment({
      namespace: ns(),
      body: { metadata: { name: 'uses-secrets-web' }, spec: { selector: { matchLabels: { app: 'w' } }, template: { metadata: { labels: { app: 'w' } }, spec: { containers: [container] } } } },
    });
    const routeAnswers: HttpResponseInit[] = [];
    const at = { namespace: ns(), name: 'uses-secrets-cron' };
    const started = await startCronJobRun(post(`cronjobs/${ns()}/uses-secrets-cron/runs?cluster=local`, at), durable, context());
    expect(started.status, JSON.stringify(started.jsonBody)).toBe(202);
    const runId = (started.jsonBody as { runId: string }).runId;
    await waitFor(`Job ${runId}`, () => kube.batch.readNamespacedJob({ namespace: ns(), name: runId }));
    const forbid = await startCronJobRun(post(`cronjobs/${ns()}/uses-secrets-cron/runs?cluster=local`, at), durable, context());
    expect(forbid.status).toBe(409);
    routeAnswers.push(started, forbid);
    const detail = await getCronJob(get(`cronjobs/${ns()}/uses-secrets-cron?cluster=local`, at), context());
    expect(detail.status).toBe(200);
    const version = (detail.jsonBody as { resourceVersion: string }).resourceVersion;
    routeAnswers.push(
      detail,
      await updateCronJob(
        new HttpRequest({ method: 'PATCH', url: `http://127.0.0.1:7071/api/cronjobs/${ns()}/uses-secrets-cron?cluster=local`, params: at, headers: { 'content-type': 'application/json', 'if-match': `"${version}"` }, body: { string: JSON.stringify({ schedule: '0 4 * * *' }) } }),
        context(),
      ),
      await createCronJob(post(`cronjobs/${ns()}?cluster=local&dryRun=true`, { namespace: ns() }, { name: 'from-web', fromDeployment: 'uses-secrets-web', schedule: '0 3 * * *' }), context()),
      await listCronJobs(get(`cronjobs?namespace=${ns()}&cluster=local`, {}), context()),
      await listCronJobRuns(get(`cronjobs/${ns()}/uses-secrets-cron/runs?cluster=local`, at), context()),
      await listDeployments(get(`deployments?namespace=${ns()}&cluster=local`, {}), context()),
      listClusters(get('clusters', {}), context()),
      await getRunLogs(get(`runs/${runId}/logs`, { runId }), durable, context()),
    );
    expect(routeAnswers.slice(2).map((a) => a.status ?? 200)).toEqual([200, 200, 200, 200, 200, 200, 200, 200]);
    // The haystacks are real: the Secret's reference and the run's name are in them.
    const text = JSON.stringify(routeAnswers.map((a) => ({ body: a.jsonBody as unknown, text: typeof a.body === 'string' ? a.body : null, headers: a.headers })));
    expect(text).toContain('DB_PASSWORD');
    expect(text).toContain(runId);
    for (const [where, haystack] of Object.entries({ answers: text, logs: logs.join('\n') })) {
      for (const [what, needle] of Object.entries({ 'the valueFrom Secret value': SECRET_VALUE, 'the envFrom Secret value': FROM_ENV_VALUE, 'the token': inject('adminToken') })) {
        expect(haystack.includes(needle), `${what} in ${where}`).toBe(false);
      }
    }
  }, 90_000);
});

describe('no credential in the exported telemetry', () => {
  it('no span, metric attribute or log record the app exported holds a key, token, kubeconfig or Secret value', async () => {
    await telemetry?.flush();
    const exported = receiver.raw.join('\n');
    // The haystack is real: the runs' spans and log records, and the Kubernetes requests of both clusters.
    expect(runIds.length).toBe(2);
    for (const runId of runIds) {
      expect(receiver.spans.some((s) => s.name === 'submitRun' && s.attributes[ATTRIBUTES.runId] === runId), runId).toBe(true);
      expect(receiver.logs.some((l) => l.attributes[ATTRIBUTES.runId] === runId && l.body.includes(runId)), runId).toBe(true);
    }
    for (const cluster of ['local', 'aks']) expect(metricTotal(receiver.metrics, METRICS.kubeRequests, (a) => a[ATTRIBUTES.cluster] === cluster), cluster).toBeGreaterThan(0);
    const needles = {
      'the Secret value read by valueFrom': SECRET_VALUE,
      'the Secret value read by envFrom': FROM_ENV_VALUE,
      'the kubeconfig and Entra ID token': inject('adminToken'),
      "the client key in ARM's kubeconfig": CLIENT_KEY.split('\n')[1] ?? CLIENT_KEY,
      'the client key, base64': Buffer.from(CLIENT_KEY).toString('base64').slice(0, 40),
      "the caller's function key": FUNCTION_KEY,
      "the callback URL's signature": CALLBACK_SIG,
    };
    // The subscription's audit record and its delivery are in the haystack (an exported log record each).
    expect(receiver.logs.some((l) => l.attributes['event.name'] === EVENTS.audit && l.attributes['ajr.audit.action'] === 'createRunSubscription')).toBe(true);
    expect(metricTotal(receiver.metrics, METRICS.callbackDeliveries, (a) => a[ATTRIBUTES.outcome] === 'delivered')).toBe(1);
    // Nor a bearer token or a URL's query string with a key or signature in it (function keys, SAS, callback URLs).
    expect(secretsIn(exported, needles)).toEqual([]);
  });
});
