import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { type LocalApp, startLocalApp } from '../../local/host/server.js';
import { ALLOW_COMMAND_ANNOTATION, ALLOW_ENV_ANNOTATION } from '../../src/core/consent.js';
import { RETRY_ON_DISRUPTION_ANNOTATION } from '../../src/core/labels.js';
import { serveConsoleFrom } from '../../src/http/console.js';
import { COMPLETE_DELAY_ANNOTATION, TERMINATION_MESSAGE_ANNOTATION } from '../../testenv/fates.js';
import { adminKube, testJob, useNamespace, waitFor } from '../integration/helpers.js';
import { localAppSettings } from '../support/e2e-settings.js';
import { assertLoopback, documentOperations, errorsWithoutProblemJson, externalRefs, fuzz, type FuzzRun, operationOf, schemathesisBinary } from '../support/schemathesis.js';

/**
 * Bad and hostile input over HTTP: Schemathesis generates requests from the app's own OpenAPI document, valid
 * and invalid, and sends them to the app on the local runtime, against the real local control plane. Every
 * answer must be one the document promises (status, Content-Type, headers, body schema), never a 5xx, never
 * slow; every error a problem+json. docs/testing.md, "Fuzzing the HTTP API", says how to run it alone and replay a failure.
 */
const ns = useNamespace('fuzz');
const kube = adminKube();
const FUNCTION_KEY = 'fuzz-key';
/** The seed decides every generated case; FUZZ_SEED replays another run's (its output prints the seed). */
const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
/** Operations for Entra callers with the admin role, which the fuzz (a function-key caller) can only be refused. */
const ADMIN_ONLY = ['GET /audit'];
/** The whole run's bound, well inside CI's limit; a run that needs longer fails, it is never cut short silently. */
const BUDGET_MS = 210_000;
const CHECKS = [
  // Every answer as the document says, and no 5xx.
  'not_a_server_error',
  'status_code_conformance',
  'content_type_conformance',
  'response_schema_conformance',
  'response_headers_conformance',
  // Input the document calls invalid is refused with a 4xx; no keyed operation answers without the key; a
  // missing required header is refused.
  'negative_data_rejection',
  'ignored_auth',
  'missing_required_header',
  // A deleted CronJob stays gone; a created one can be read.
  'use_after_free',
  'ensure_resource_availability',
];

let app: LocalApp;
let dir: string;
/** Written into files the console must never serve: one outside its folder, one a dot file inside it. */
const SECRET = 'fuzz-secret-not-for-serving';
/** Runs started before the fuzz, so run ids it draws can name real runs: one finished, one still running. */
const runIds: string[] = [];
/** A receiver on loopback (which the local runtime may call back over plain HTTP), and subscriptions made to it. */
let receiver: Server;
let callbackUrl = '';
const subscriptionIds: string[] = [];

async function startRun(job: string): Promise<string> {
  const response = await fetch(`${app.url}/api/jobs/${ns()}/${job}/runs`, { method: 'POST', headers: { 'x-functions-key': FUNCTION_KEY } });
  expect(response.status).toBe(202);
  return ((await response.json()) as { runId: string }).runId;
}

/**
 * Real names next to generated ones: each named parameter takes a sample's name (or a real schedule, time
 * zone, run id) half of the time, so the valid paths reach real objects (a run started and cancelled, a CronJob
 * made, read, patched and deleted, logs read, a schedule previewed) and not only 400s, 403s and 404s. The
 * operations that take a body get the real cluster and namespace always: those are checked first, so a
 * generated one would stop every body at the same 403 (the other operations fuzz both). DELETE takes its own
 * victim, so the CronJobs the others read live on.
 */
function config(): string {
  const list = (values: string[]) => `values = [${values.map((v) => JSON.stringify(v)).join(', ')}]`;
  const pick = (dictionary: string) => `{ dictionary = "${dictionary}", probability = 0.5 }`;
  return [
    `[dictionaries.namespaces]`,
    list([ns()]),
    `[dictionaries.names]`,
    list(['report', 'slow', 'nightly', 'web']),
    `[dictionaries.clusters]`,
    list(['local']),
    `[dictionaries.runs]`,
    list(runIds),
    `[dictionaries.deployments]`,
    list(['web']),
    `[dictionaries.schedules]`,
    list(['0 3 * * *', '*/5 * * * *', '30 2 * * 1-5', '@daily', '0 0 29 2 *', '0 12 1 * *']),
    `[dictionaries.zones]`,
    list(['Europe/Amsterdam', 'UTC', 'America/New_York', 'Australia/Lord_Howe']),
    `[dictionaries.callbacks]`,
    list([callbackUrl]),
    `[dictionaries.subscriptions]`,
    list(subscriptionIds),
    `[dictionaries.victims]`,
    list(['doomed']),
    // The console's page, and ways out of its folder that must stay 404s (Schemathesis sends no path value
    // with a slash in it, so `../` is the console's unit tests' to try).
    `[dictionaries.console]`,
    list(['index.html', '.hidden.txt', '..\\outside.txt', '..', '.']),
    `[parameters]`,
    `"path.namespace" = ${pick('namespaces')}`,
    `"query.namespace" = ${pick('namespaces')}`,
    `"path.name" = ${pick('names')}`,
    `"query.cluster" = ${pick('clusters')}`,
    `"path.runId" = ${pick('runs')}`,
    `"body.fromDeployment" = ${pick('deployments')}`,
    `"query.schedule" = ${pick('schedules')}`,
    `"body.schedule" = ${pick('schedules')}`,
    `"query.timeZone" = ${pick('zones')}`,
    `"body.url" = ${pick('callbacks')}`,
    `"path.subscriptionId" = ${pick('subscriptions')}`,
    `"body.timeZone" = ${pick('zones')}`,
    `[[operations]]`,
    `include-operation-id = ["createCronJob", "updateCronJob", "startJobRun", "startCronJobRun"]`,
    `parameters = { "query.cluster" = "local", "path.namespace" = ${JSON.stringify(ns())} }`,
    `[[operations]]`,
    `include-operation-id = "createSourceSubscription"`,
    `parameters = { "body.cluster" = "local", "body.namespace" = ${JSON.stringify(ns())} }`,
    `[[operations]]`,
    `include-operation-id = "serveConsole"`,
    `parameters = { "path.path" = ${pick('console')} }`,
    `[[operations]]`,
    `include-operation-id = "deleteCronJob"`,
    `parameters = { "path.name" = ${pick('victims')} }`,
    '',
  ].join('\n');
}

/** What a person needs from a failed run: Schemathesis' own report (with a curl line per case) and how to replay it. */
function explain(run: FuzzRun): string {
  return [
    run.output,
    `--- ${run.overran ? `Schemathesis overran its budget of ${BUDGET_MS / 1000} s and was stopped` : `Schemathesis exited ${String(run.exitCode)}`} after ${Math.round(run.elapsedMs / 1000)} s`,
    `replay the same cases: FUZZ_SEED=${SEED} npx vitest run --project integration test/e2e/fuzz.test.ts`,
    `the key in the curl lines above ([Filtered]) is "${FUNCTION_KEY}"; the command was:`,
    run.command,
  ].join('\n');
}

beforeAll(async () => {
  Object.assign(process.env, localAppSettings(ns(), {
    LOGS_CONNECTION_STRING: inject('logsConnectionString'),
    // The fuzz starts runs: this bounds how many are live at once (past it the start route answers 429).
    MAX_ACTIVE_RUNS_PER_CLUSTER: '20',
    // A followed log answers for a whole segment: short here, inside the 10 s an answer may take. The instance cap
    // (a 503) is out of reach; the per-caller one (a documented 429) is the fuzz's to meet.
    LOGS_FOLLOW_SEGMENT_SECONDS: '1',
    LOGS_FOLLOW_MAX_STREAMS: '1000',
    // Deliveries to a receiver that is not a Logic Apps callback are signed: without a secret they are refused.
    WEBHOOK_SIGNING_SECRET: `whsec_${Buffer.alloc(32, 7).toString('base64')}`,
  }));
  dir = await mkdtemp(join(tmpdir(), 'aks-job-runner-fuzz-'));
  // A console page, so its route serves a real file, next to files it must never serve.
  const site = join(dir, 'site');
  await mkdir(join(site, 'console'), { recursive: true });
  await writeFile(join(site, 'console', 'index.html'), '<!doctype html><html><head><title>console</title></head><body></body></html>');
  await writeFile(join(site, 'console', '.hidden.txt'), SECRET);
  await writeFile(join(site, 'outside.txt'), SECRET);
  serveConsoleFrom(join(site, 'console'));
  // The scheduler's timer is not an HTTP surface; off, the fuzz's CronJobs start nothing by themselves.
  app = await startLocalApp({ functionKey: FUNCTION_KEY, timersOnClock: false });
  // The most retries on disruption: every retryOnDisruption the document allows is then one the sources allow.
  const retries = { [RETRY_ON_DISRUPTION_ANNOTATION]: '5' };
  const consent = { [ALLOW_ENV_ANNOTATION]: 'LIMIT,DRY_RUN,X', ...retries };
  await kube.batch.createNamespacedJob({
    namespace: ns(),
    body: testJob({ name: 'report', namespace: ns(), suspend: true, env: [{ name: 'MODE', value: 'full' }], jobAnnotations: consent, annotations: { [COMPLETE_DELAY_ANNOTATION]: '1s', [TERMINATION_MESSAGE_ANNOTATION]: '{"rows":42}' } }),
  });
  await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'slow', namespace: ns(), suspend: true, annotations: { [COMPLETE_DELAY_ANNOTATION]: '1h' } }) });
  for (const name of ['nightly', 'doomed']) {
    await kube.batch.createNamespacedCronJob({
      namespace: ns(),
      body: {
        metadata: { name, annotations: retries },
        spec: { schedule: '0 3 * * *', timeZone: 'Europe/Amsterdam', suspend: true, jobTemplate: { spec: { backoffLimit: 0, template: testJob({ name, namespace: ns() }).spec?.template ?? {} } } },
      },
    });
  }
  await kube.apps.createNamespacedDeployment({
    namespace: ns(),
    body: {
      metadata: { name: 'web', annotations: { [ALLOW_COMMAND_ANNOTATION]: 'true' } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'busybox:1.36', command: ['httpd', '-f'], env: [{ name: 'MODE', value: 'serve' }] }] } },
      },
    },
  });
  const done = await startRun('report');
  runIds.push(done, await startRun('slow'));
  await waitFor('the sample run to finish', async () => (await fetch(`${app.url}/api/runs/${done}`, { headers: { 'x-functions-key': FUNCTION_KEY } })).status === 200);
  // A subscription of each kind, so the subscription routes reach real ones (and their pushes a real receiver).
  receiver = createServer((request, response) => {
    request.resume();
    request.on('end', () => response.writeHead(204).end());
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  callbackUrl = `http://127.0.0.1:${String((receiver.address() as AddressInfo).port)}/hook`;
  const subscribe = async (path: string, body: object) => {
    const response = await fetch(`${app.url}/api/${path}`, { method: 'POST', headers: { 'x-functions-key': FUNCTION_KEY, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(response.status, await response.clone().text()).toBe(201);
    subscriptionIds.push(((await response.json()) as { id: string }).id);
  };
  await subscribe(`runs/${done}/subscriptions`, { url: callbackUrl });
  await subscribe('subscriptions', { cluster: 'local', namespace: ns(), source: { kind: 'Job', name: 'report' }, url: callbackUrl });
});

afterAll(async () => {
  await app.close();
  receiver.closeAllConnections();
  await new Promise((resolve) => receiver.close(resolve));
  if (process.env.FUZZ_KEEP_REPORTS === '1') console.log(`fuzz: Schemathesis' reports (JUnit, HAR, JSON) kept in ${dir}`);
  else await rm(dir, { recursive: true, force: true });
});

describe('the HTTP API under Schemathesis', () => {
  it('answers every generated request, valid or hostile, as its OpenAPI document says: no 5xx, no hang, every error a problem+json', { timeout: BUDGET_MS + 60_000 }, async () => {
    const st = schemathesisBinary();
    const schemaUrl = `${app.url}/api/openapi.json`;
    assertLoopback(schemaUrl);
    const doc: unknown = await (await fetch(schemaUrl)).json();
    const operations = documentOperations(doc);
    expect(operations.length, 'the document describes the API').toBeGreaterThan(10);
    // Schemathesis would fetch an external reference: the document must be whole, so nothing leaves loopback.
    expect(externalRefs(doc)).toEqual([]);

    const run = await fuzz({
      st,
      schemaUrl,
      baseUrl: `${app.url}/api`,
      headers: { 'x-functions-key': FUNCTION_KEY },
      checks: CHECKS,
      maxExamples: 100,
      seed: SEED,
      // One worker: Python 3.11's ast module is not thread-safe (CPython gh-106905), and Hypothesis parses its
      // strategies' lambdas with it, so two workers failed the run with SystemError.
      workers: 1,
      requestTimeoutSeconds: 20,
      maxResponseTimeSeconds: 10,
      budgetMs: BUDGET_MS,
      config: config(),
      dir,
    });
    const report = run.report;
    console.log(
      `fuzz: seed ${SEED}, ${report?.operations?.tested ?? 0} of ${operations.length} operations, ${report?.test_cases.generated ?? 0} test cases, ${run.har.length} requests, ${Math.round(run.elapsedMs / 1000)} s`,
    );
    expect(run.overran, explain(run)).toBe(false);
    expect(run.exitCode, explain(run)).toBe(0);
    expect(report?.complete, explain(run)).toBe(true);
    expect(report?.failures, explain(run)).toEqual([]);
    expect(report?.errors, explain(run)).toEqual([]);
    // The config above names operations and parameters of the document: a rename must not leave it unused.
    expect(report?.warnings.unmatched_filter, explain(run)).toEqual([]);
    expect(report?.warnings.dictionary_mismatch, explain(run)).toEqual([]);

    // A fuzz that tested nothing would pass the checks above: it must have exercised every operation.
    expect(report?.operations).toMatchObject({ total: operations.length, selected: operations.length, tested: operations.length, errored: 0, skipped: 0 });
    const tested = run.junit.filter((c) => c.name !== 'Stateful tests');
    expect(tested.map((c) => c.name).sort()).toEqual([...operations].sort());
    expect(tested.filter((c) => c.skipped).map((c) => c.name)).toEqual([]);

    // Every request went to the app on loopback, and every error it answered is a problem+json.
    expect(run.har.length).toBeGreaterThan(operations.length);
    expect(run.har.filter((e) => !e.request.url.startsWith(`${app.url}/`)).map((e) => e.request.url)).toEqual([]);
    expect(errorsWithoutProblemJson(run.har)).toEqual([]);
    // Valid requests reached real objects: every operation answered a 2xx at least once (a run started and
    // cancelled, a CronJob made, read, patched and deleted, a log read).
    const answeredOk = new Set(run.har.filter((e) => e.response.status >= 200 && e.response.status < 300).map((e) => operationOf(operations, `${app.url}/api`, e.request.method, e.request.url)));
    expect(operations.filter((op) => !answeredOk.has(op) && !ADMIN_ONLY.includes(op))).toEqual([]);
    // The audit trail answers Entra admins only (test/functions/audit.test.ts reads it as one): whatever the fuzz
    // sent with the function key, it got the 403, or the host's 401 without a key; never a record.
    const adminAnswers = run.har.filter((e) => ADMIN_ONLY.includes(operationOf(operations, `${app.url}/api`, e.request.method, e.request.url) ?? ''));
    expect(adminAnswers.length).toBeGreaterThan(0);
    expect([...new Set(adminAnswers.map((e) => e.response.status))].filter((status) => status !== 401 && status !== 403)).toEqual([]);
    // The console route never served a file outside its folder or a dot file.
    expect(run.har.filter((e) => e.response.content.text?.includes(SECRET)).map((e) => e.request.url)).toEqual([]);
  });
});
