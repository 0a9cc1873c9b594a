import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { AzureMonitorTraceExporter } from '@azure/monitor-opentelemetry-exporter';
import { SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { type LocalApp, startLocalApp } from '../../local/host/server.js';
import { SERVICE_NAME, telemetryStarted } from '../../src/clients/telemetry.js';
import { ATTRIBUTES, EVENTS, METRICS } from '../../src/core/telemetry-names.js';
import { fails, succeeds } from '../../testenv/fates.js';
import { adminKube, testJob, useNamespace, waitFor } from '../integration/helpers.js';
import { appCalls } from '../support/app-calls.js';
import { type BreezeEnvelope, type BreezeReceiver, metricSum, ofType, startBreezeReceiver, trustInThisProcess } from '../support/breeze-receiver.js';
import { localAppSettings } from '../support/e2e-settings.js';
import { type IdentityEndpoint, startIdentityEndpoint } from '../support/identity-endpoint.js';
import { secretsIn } from '../support/no-secrets.js';

/**
 * The app's Azure Monitor path as it runs in Azure, on loopback: src/setup.ts sees
 * APPLICATIONINSIGHTS_CONNECTION_STRING and APPLICATIONINSIGHTS_AUTHENTICATION_STRING `Authorization=AAD;ClientId=...`
 * (what infra sets), builds DefaultAzureCredential for that user-assigned identity, which gets its token from the
 * App Service managed identity endpoint (IDENTITY_ENDPOINT, IDENTITY_HEADER; test/support/identity-endpoint.ts), and
 * src/clients/telemetry-sdk.ts hands it to @azure/monitor-opentelemetry-exporter's three exporters, which send to
 * an Application Insights ingestion API (test/support/breeze-receiver.ts: its comment cites the exporter's source
 * for each thing it checks) that, like a resource with local authentication off, refuses anything without that
 * Entra token. Runs go through the HTTP API, the orchestration and its activities on the local runtime and
 * control plane, as in test/e2e/telemetry.test.ts for OTLP.
 */
const ns = useNamespace('azmon');
const kube = adminKube();
const INSTRUMENTATION_KEY = randomUUID();
const CLIENT_ID = randomUUID();
const ENTRA_TOKEN = `entra-${randomBytes(16).toString('hex')}`;
const IDENTITY_HEADER = `identity-${randomBytes(8).toString('hex')}`;
const KEY = `azmon-key-${randomBytes(8).toString('hex')}`;
const CALLBACK_SIG = `sig-${randomBytes(12).toString('hex')}`;
const SIGNING_SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const ENV = ['CLUSTERS', 'POLL_INITIAL_SECONDS', 'POLL_MAX_SECONDS', 'STATUS_RETRY_AFTER_SECONDS', 'OTEL_METRIC_EXPORT_INTERVAL', 'LOGS_CONNECTION_STRING', 'WEBHOOK_SIGNING_SECRET',
  'APPLICATIONINSIGHTS_CONNECTION_STRING', 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', 'HTTPS_PROXY', 'NO_PROXY', 'IDENTITY_ENDPOINT', 'IDENTITY_HEADER',
  'APPLICATIONINSIGHTS_SDKSTATS_EXPORT_INTERVAL', 'APPLICATIONINSIGHTS_SDKSTATS_DISABLED'];

let app: LocalApp;
const { runToVerdict } = appCalls(() => app, ns, 90_000);
let receiver: BreezeReceiver;
let identity: IdentityEndpoint;
let untrust: () => void = () => undefined;
let callbacks: Server;
let callbackBase = '';
const delivered: string[] = [];
let stateDir: string;

const dependencies = () => ofType(receiver.envelopes, 'RemoteDependencyData');
const props = (e: BreezeEnvelope) => e.data.baseData.properties ?? {};

/** The run's span envelopes, once those of the start, the orchestration and each activity it ran have arrived. */
function spansOf(runId: string, names: readonly string[]): Promise<BreezeEnvelope[]> {
  return waitFor(`the span envelopes of ${runId}`, () => {
    const spans = dependencies().filter((e) => props(e)[ATTRIBUTES.runId] === runId);
    return Promise.resolve(names.every((n) => spans.some((e) => e.data.baseData.name === n)) ? spans : undefined);
  }, 30_000);
}

/** The trace id the run's orchestration input carries across the Durable boundary (request.traceparent). */
async function traceIdOf(runId: string): Promise<string> {
  const status = await app.durable.getStatus(runId);
  const traceparent = (status.input as { request?: { traceparent?: string } } | undefined)?.request?.traceparent ?? '';
  const traceId = /^00-([0-9a-f]{32})-[0-9a-f]{16}-0[01]$/.exec(traceparent)?.[1];
  if (!traceId) throw new Error(`run ${runId} carries no traceparent: ${traceparent}`);
  return traceId;
}

beforeAll(async () => {
  identity = await startIdentityEndpoint({ header: IDENTITY_HEADER, token: ENTRA_TOKEN, clientId: CLIENT_ID });
  receiver = await startBreezeReceiver({ instrumentationKey: INSTRUMENTATION_KEY, token: ENTRA_TOKEN });
  // The exporter sends over HTTPS only (see the receiver); this process trusts the receiver's certificate as
  // NODE_EXTRA_CA_CERTS would make a host trust it.
  untrust = trustInThisProcess(receiver.ca);
  callbacks = createServer((req, res) => {
    delivered.push(req.url ?? '');
    req.resume();
    req.on('end', () => res.writeHead(200).end());
  });
  await new Promise<void>((resolve) => callbacks.listen(0, '127.0.0.1', resolve));
  callbackBase = `http://127.0.0.1:${String((callbacks.address() as AddressInfo).port)}`;
  Object.assign(process.env, localAppSettings(ns(), {
    OTEL_METRIC_EXPORT_INTERVAL: '1000',
    LOGS_CONNECTION_STRING: inject('logsConnectionString'),
    WEBHOOK_SIGNING_SECRET: SIGNING_SECRET,
    // What infra/main.bicep sets for the app: the resource's connection string and the host's Entra setting. The
    // connection string names a regional ingestion host, reached through the receiver's tunnel (HTTPS_PROXY).
    ...receiver.env,
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: `Authorization=AAD;ClientId=${CLIENT_ID}`,
    // What App Service sets for a function app with a managed identity.
    ...identity.env,
    // The exporter's customer SDK stats every second rather than every 15 minutes, so that if they were on (they
    // would go to the app's resource with the instrumentation key alone), they would be refused during this test.
    APPLICATIONINSIGHTS_SDKSTATS_EXPORT_INTERVAL: '1',
  }));
  stateDir = await mkdtemp(join(tmpdir(), 'aks-job-runner-azmon-'));
  app = await startLocalApp({ functionKey: KEY, stateDir });
  await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'report', namespace: ns(), suspend: true, fate: succeeds({ runFor: '1s' }) }) });
  await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'broken', namespace: ns(), suspend: true, fate: fails({ exitCode: 3, runFor: '1s' }) }) });
});

afterAll(async () => {
  await app.close();
  await telemetryStarted()?.shutdown();
  await receiver.close();
  await identity.close();
  await new Promise((resolve) => callbacks.close(resolve));
  untrust();
  await rm(stateDir, { recursive: true, force: true });
  // What the exporter kept on disk for a retry (the refused batches below): a directory per instrumentation key
  // under the temp directory (src/platform/nodejs/persist/fileSystemPersist.ts getStorageDirectory).
  for (const entry of await readdir(tmpdir())) {
    if (!entry.startsWith('Microsoft-AzureMonitor-')) continue;
    const inside = await readdir(join(tmpdir(), entry)).catch(() => []);
    if (inside.some((d) => d.endsWith(INSTRUMENTATION_KEY))) await rm(join(tmpdir(), entry), { recursive: true, force: true });
  }
  for (const name of ENV) Reflect.deleteProperty(process.env, name);
});

describe('telemetry of a run, exported to Application Insights with Entra ID', () => {
  it('is one operation from the start request through the orchestration and each activity, every envelope carrying the run', async () => {
    expect(telemetryStarted()?.destinations).toEqual(['azure-monitor']);
    const callback = `${callbackBase}/la/done?api-version=2016-06-01&sp=%2Ftriggers&sv=1.0&sig=${CALLBACK_SIG}`;
    const { runId, status } = await runToVerdict('report', { subscription: { url: callback, format: 'snapshot' } });
    expect(status).toBe(200);
    const traceId = await traceIdOf(runId);
    const spans = await spansOf(runId, ['start run', 'submitRun', 'observeRun', 'archiveRun', 'orchestration jobRun']);
    const start = spans.find((e) => e.data.baseData.name === 'start run');
    // One operation: ai.operation.id is the trace id the input carried (src/utils/spanUtils.ts createTagsFromSpan).
    for (const span of spans) expect(span.tags['ai.operation.id'], span.data.baseData.name).toBe(traceId);
    // The start's span is the root here (in Azure, a child of the host's request) and the parent of every other.
    expect(start?.tags['ai.operation.parentId']).toBeUndefined();
    for (const span of spans.filter((e) => e !== start)) expect(span.tags['ai.operation.parentId'], span.data.baseData.name).toBe(start?.data.baseData.id);
    for (const span of spans) {
      const name = span.data.baseData.name;
      expect(span.iKey, name).toBe(INSTRUMENTATION_KEY);
      // The app's spans are internal ones (SpanKind.INTERNAL): dependencies of type InProc when they have a parent
      // (src/utils/spanUtils.ts createDependencyData). The start's parent is the host's request span in Azure; the
      // local runtime has no host span, so here the start is the root and keeps the exporter's default type.
      expect(span.data.baseData, name).toMatchObject({ type: span === start ? 'Dependency' : 'InProc', success: true });
      // The resource's service.name is the cloud role the application map and the KQL of infra/queries show.
      expect(span.tags['ai.cloud.role'], name).toBe(SERVICE_NAME);
      expect(props(span), name).toMatchObject({
        [ATTRIBUTES.runId]: runId,
        [ATTRIBUTES.cluster]: 'local',
        [ATTRIBUTES.namespace]: ns(),
        [ATTRIBUTES.sourceKind]: 'Job',
        [ATTRIBUTES.sourceName]: 'report',
        [ATTRIBUTES.trigger]: 'http',
      });
    }
    const orchestration = spans.find((e) => e.data.baseData.name === 'orchestration jobRun');
    expect(orchestration && props(orchestration)[ATTRIBUTES.status]).toBe('Success');

    // The run's log lines and its verdict event as MessageData (AppTraces) in the same operation, with the run.
    const messages = await waitFor("the run's messages", () => {
      const found = ofType(receiver.envelopes, 'MessageData').filter((e) => props(e)[ATTRIBUTES.runId] === runId && props(e)['event.name'] !== EVENTS.audit);
      return Promise.resolve(found.some((e) => e.data.baseData.message?.includes('submit')) && found.some((e) => props(e)['event.name'] === EVENTS.runFinished) ? found : undefined);
    }, 15_000);
    for (const message of messages) {
      expect(message.tags['ai.operation.id'], message.data.baseData.message).toBe(traceId);
      expect(props(message)[ATTRIBUTES.sourceName], message.data.baseData.message).toBe('report');
    }
    // The verdict reached the subscriber, so its delivery is in what was exported too (checked for secrets below).
    await waitFor('the callback', () => Promise.resolve(delivered.length > 0 ? true : undefined), 30_000);
  });

  it('sends the documented metrics as MetricData under their names, as deltas that add up to what happened', async () => {
    const succeeded = (p: Record<string, unknown>) => p[ATTRIBUTES.sourceName] === 'report' && p[ATTRIBUTES.status] === 'Success';
    await waitFor('the run metrics', () => Promise.resolve(metricSum(receiver.envelopes, METRICS.runsFinished, succeeded) === 1 ? true : undefined), 15_000);
    expect(metricSum(receiver.envelopes, METRICS.runsStarted, (p) => p[ATTRIBUTES.sourceName] === 'report' && p[ATTRIBUTES.trigger] === 'http' && p[ATTRIBUTES.callerKind] === 'key')).toBe(1);
    // A histogram: its envelope's count is the values recorded and its value their sum, in seconds.
    expect(metricSum(receiver.envelopes, METRICS.runDuration, (p) => p[ATTRIBUTES.sourceName] === 'report', 'count')).toBe(1);
    const duration = metricSum(receiver.envelopes, METRICS.runDuration, (p) => p[ATTRIBUTES.sourceName] === 'report');
    expect(duration).toBeGreaterThan(0.5);
    expect(duration).toBeLessThan(90);
    // The Job's create, as the API server answered it, and a list not throttled.
    expect(metricSum(receiver.envelopes, METRICS.kubeRequests, (p) => p[ATTRIBUTES.verb] === 'create' && p[ATTRIBUTES.resource] === 'jobs' && String(p[ATTRIBUTES.statusCode]) === '201')).toBeGreaterThanOrEqual(1);
    expect(metricSum(receiver.envelopes, METRICS.kubeRequests, (p) => p[ATTRIBUTES.verb] === 'list' && String(p[ATTRIBUTES.throttled]) === 'false')).toBeGreaterThanOrEqual(1);
    await waitFor('the archive metric', () => Promise.resolve(metricSum(receiver.envelopes, METRICS.archiveBytes, (p) => p[ATTRIBUTES.namespace] === ns()) > 0 ? true : undefined), 15_000);
    expect(metricSum(receiver.envelopes, METRICS.callbackDeliveries, (p) => p[ATTRIBUTES.outcome] === 'delivered')).toBe(1);
    // Every ajr.* metric sent is one of the documented names (src/core/telemetry-names.ts).
    const sent = new Set(ofType(receiver.envelopes, 'MetricData').flatMap((e) => (e.data.baseData.metrics ?? []).map((m) => m.name)).filter((n) => n.startsWith('ajr.')));
    expect([...sent].filter((n) => !(Object.values(METRICS) as string[]).includes(n))).toEqual([]);
    // Deltas, not running totals: Application Insights adds up what it receives, so after more exports (one a
    // second) the one run is still counted once.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(metricSum(receiver.envelopes, METRICS.runsFinished, succeeded)).toBe(1);
    expect(metricSum(receiver.envelopes, METRICS.runsStarted, (p) => p[ATTRIBUTES.sourceName] === 'report')).toBe(1);
  });

  it('counts a failed run under its verdict and failure kind, its orchestration a failed dependency', async () => {
    const { runId, status, body } = await runToVerdict('broken');
    expect(status).toBe(424);
    const kind = body.failureKind;
    expect(kind).toBe('ExitCode');
    await waitFor('the failure metric', () =>
      Promise.resolve(metricSum(receiver.envelopes, METRICS.runsFinished, (p) => p[ATTRIBUTES.sourceName] === 'broken' && p[ATTRIBUTES.status] === 'Failed' && p[ATTRIBUTES.failureKind] === kind) === 1 ? true : undefined),
    15_000);
    const orchestration = (await spansOf(runId, ['orchestration jobRun'])).find((e) => e.data.baseData.name === 'orchestration jobRun');
    expect(orchestration?.data.baseData.success).toBe(false);
    expect(orchestration && props(orchestration)[ATTRIBUTES.failureKind]).toBe(kind);
    expect(orchestration?.tags['ai.operation.id']).toBe(await traceIdOf(runId));
  });
});

describe('Entra ID authentication to Application Insights', () => {
  it('sends every batch with the bearer token of the identity the authentication string names, for Azure Monitor', () => {
    expect(receiver.requests.length).toBeGreaterThan(0);
    expect(receiver.requests.filter((r) => r.status !== 200)).toEqual([]);
    expect(new Set(receiver.requests.map((r) => r.authorization))).toEqual(new Set([`Bearer ${ENTRA_TOKEN}`]));
    expect(new Set(receiver.requests.map((r) => r.path))).toEqual(new Set(['/v2.1/track']));
    // Compressed, as the exporter sends to an Azure ingestion host (src/platform/nodejs/gzipHttpClient.ts).
    expect(new Set(receiver.requests.map((r) => r.contentEncoding))).toEqual(new Set(['gzip']));
    // Asked of the managed identity endpoint with its header, for the Azure Monitor audience
    // (src/platform/nodejs/httpSender.ts: https://monitor.azure.com/.default) and the user-assigned identity.
    expect(identity.requests.length).toBeGreaterThan(0);
    for (const asked of identity.requests) {
      expect(asked.headers['x-identity-header']).toBe(IDENTITY_HEADER);
      expect(asked.resource).toBe('https://monitor.azure.com');
      expect(asked.clientId).toBe(CLIENT_ID);
    }
  });

  it('is what the receiver checks: an exporter with the instrumentation key alone is refused and nothing it sent is kept', async () => {
    const exporter = new AzureMonitorTraceExporter({ connectionString: receiver.connectionString, disableOfflineStorage: true });
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    const before = receiver.requests.length;
    provider.getTracer('attack').startSpan('with the key alone').end();
    await provider.forceFlush();
    await waitFor('the refused request', () => Promise.resolve(receiver.requests.slice(before).some((r) => r.status === 401) ? true : undefined), 10_000);
    // The app's own batches go on meanwhile, each with its token; the one without is the attacker's.
    expect(receiver.requests.slice(before).filter((r) => r.authorization !== `Bearer ${ENTRA_TOKEN}`)).toEqual([expect.objectContaining({ authorization: undefined, status: 401 })]);
    expect(dependencies().some((e) => e.data.baseData.name === 'with the key alone')).toBe(false);
    await provider.shutdown();
  });

  it('keeps a batch Application Insights refuses with a retriable answer and sends it again after Retry-After', async () => {
    const before = receiver.requests.length;
    receiver.answerNext(503, { 'Retry-After': '1' });
    // Something to send: an idle app exports nothing (delta metrics with no change make no envelope). A start of a
    // Job that does not exist is a 404 with its audit record, span and Kubernetes request.
    const missing = await fetch(`${app.url}/api/jobs/${ns()}/no-such-job/runs?code=${KEY}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    expect(missing.status).toBe(404);
    const refused = await waitFor('the refused batch', () => Promise.resolve(receiver.requests.slice(before).find((r) => r.status === 503)), 10_000);
    const batch = JSON.parse(refused.body) as BreezeEnvelope[];
    expect(batch.length).toBeGreaterThan(0);
    // The same envelopes, accepted once the second has passed (src/platform/nodejs/baseSender.ts: persisted, then
    // sent by the retry timer set from Retry-After).
    await waitFor('the batch sent again', () => {
      const accepted = new Set(receiver.envelopes.map((e) => JSON.stringify(e)));
      return Promise.resolve(batch.every((e) => accepted.has(JSON.stringify(e))) ? true : undefined);
    }, 15_000);
  });
});

describe('what leaves the app for Azure Monitor', () => {
  it("is the resource's ingestion host and, besides it, at most the exporter's own Microsoft services; nothing else", () => {
    // Of the exporter's own doing, neither with telemetry of the app nor a token: it polls its dynamic configuration
    // (OneSettings: src/_configuration/configurationManager.ts, src/Declarations/Constants.ts ONE_SETTINGS_CNAME) and
    // sends Statsbeat, its usage metrics, to Microsoft's ingestion under Microsoft's key (non-EU regions: westus-0;
    // src/export/statsbeat/types.ts NON_EU_CONNECTION_STRING). The tunnel refused both.
    const microsoft = new Set(['settings.sdk.monitor.azure.com:443', 'westus-0.in.applicationinsights.azure.com:443']);
    expect(receiver.refused.filter((host) => !microsoft.has(host))).toEqual([]);
  });
});

describe('no credential in what is sent to Application Insights', () => {
  it('no envelope holds the function key, the kubeconfig token, the callback signature, the signing secret or the Entra token', async () => {
    await telemetryStarted()?.flush();
    // The haystack is real: the start's audit record, the runs' spans and lines, the callback delivered.
    const messages = ofType(receiver.envelopes, 'MessageData');
    expect(messages.some((e) => props(e)['event.name'] === EVENTS.audit && props(e)['ajr.audit.action'] === 'startJobRun')).toBe(true);
    expect(delivered.some((url) => url.includes(CALLBACK_SIG))).toBe(true);
    const sent = receiver.requests.map((r) => r.body).join('\n');
    expect(sent.length).toBeGreaterThan(0);
    expect(secretsIn(sent, {
      "the caller's function key": KEY,
      'the kubeconfig token': inject('adminToken'),
      "the callback URL's signature": CALLBACK_SIG,
      'the webhook signing secret': SIGNING_SECRET,
      'the Entra token for Application Insights': ENTRA_TOKEN,
      'the managed identity header': IDENTITY_HEADER,
    })).toEqual([]);
  });
});
