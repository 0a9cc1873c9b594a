import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { type LocalApp, startLocalApp } from '../../local/host/server.js';
import { ALLOW_COMMAND_ANNOTATION, ALLOW_ENV_ANNOTATION } from '../../src/core/consent.js';
import { COMPLETE_DELAY_ANNOTATION, TERMINATION_MESSAGE_ANNOTATION } from '../../testenv/fates.js';
import { adminKube, testJob, useNamespace, waitFor } from '../integration/helpers.js';
import { assertLoopback, documentOperations, errorsWithoutProblemJson, externalRefs, fuzz, type FuzzRun, schemathesisBinary } from '../support/schemathesis.js';

/**
 * Bad and hostile input over HTTP: Schemathesis generates requests from the app's own OpenAPI document, valid
 * and invalid, and sends them to the app on the local runtime, against the real local control plane. Every
 * answer must be one the document promises (status, Content-Type, headers, body schema), never a 5xx, never
 * slow; every error a problem+json. README, "Fuzzing", says how to run it alone and replay a failure.
 */
const ns = useNamespace('fuzz');
const kube = adminKube();
const FUNCTION_KEY = 'fuzz-key';
/** The seed decides every generated case; FUZZ_SEED replays another run's (its output prints the seed). */
const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
/** The whole run's bound, well inside CI's limit; a run that needs longer fails, it is never cut short silently. */
const BUDGET_MS = 210_000;
const CHECKS = ['not_a_server_error', 'status_code_conformance', 'content_type_conformance', 'response_schema_conformance', 'response_headers_conformance'];

let app: LocalApp;
let dir: string;
/** Runs started before the fuzz, so run ids it draws can name real runs: one finished, one still running. */
const runIds: string[] = [];

async function startRun(job: string): Promise<string> {
  const response = await fetch(`${app.url}/api/jobs/${ns()}/${job}/runs`, { method: 'POST', headers: { 'x-functions-key': FUNCTION_KEY } });
  expect(response.status).toBe(202);
  return ((await response.json()) as { runId: string }).runId;
}

/**
 * Real names next to generated ones: each named parameter takes a sample's name half of the time, so the
 * valid paths reach real objects (a run started, a CronJob read, made from a Deployment, patched, deleted)
 * and not only 403s and 404s.
 */
function config(): string {
  const list = (values: string[]) => `values = [${values.map((v) => JSON.stringify(v)).join(', ')}]`;
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
    `[parameters]`,
    `"path.namespace" = { dictionary = "namespaces", probability = 0.5 }`,
    `"query.namespace" = { dictionary = "namespaces", probability = 0.5 }`,
    `"path.name" = { dictionary = "names", probability = 0.5 }`,
    `"query.cluster" = { dictionary = "clusters", probability = 0.5 }`,
    `"path.runId" = { dictionary = "runs", probability = 0.5 }`,
    `"body.fromDeployment" = { dictionary = "deployments", probability = 0.5 }`,
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
  Object.assign(process.env, {
    CLUSTERS: JSON.stringify([{ alias: 'local', type: 'kubeconfig', kubeconfigPath: inject('kubeconfigPath'), namespaces: [ns()] }]),
    LOGS_CONNECTION_STRING: inject('logsConnectionString'),
    POLL_INITIAL_SECONDS: '1',
    POLL_MAX_SECONDS: '2',
    STATUS_RETRY_AFTER_SECONDS: '1',
    // The fuzz starts runs: this bounds how many are live at once (past it the start route answers 429).
    MAX_ACTIVE_RUNS_PER_CLUSTER: '20',
  });
  dir = await mkdtemp(join(tmpdir(), 'aks-job-runner-fuzz-'));
  // The scheduler's timer is not an HTTP surface; off, the fuzz's CronJobs start nothing by themselves.
  app = await startLocalApp({ functionKey: FUNCTION_KEY, timersOnClock: false });
  const consent = { [ALLOW_ENV_ANNOTATION]: 'LIMIT,DRY_RUN,X' };
  await kube.batch.createNamespacedJob({
    namespace: ns(),
    body: testJob({ name: 'report', namespace: ns(), suspend: true, env: [{ name: 'MODE', value: 'full' }], jobAnnotations: consent, annotations: { [COMPLETE_DELAY_ANNOTATION]: '1s', [TERMINATION_MESSAGE_ANNOTATION]: '{"rows":42}' } }),
  });
  await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'slow', namespace: ns(), suspend: true, annotations: { [COMPLETE_DELAY_ANNOTATION]: '1h' } }) });
  await kube.batch.createNamespacedCronJob({
    namespace: ns(),
    body: {
      metadata: { name: 'nightly' },
      spec: { schedule: '0 3 * * *', timeZone: 'Europe/Amsterdam', suspend: true, jobTemplate: { spec: { backoffLimit: 0, template: testJob({ name: 'x', namespace: ns() }).spec?.template ?? {} } } },
    },
  });
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
});

afterAll(async () => {
  await app.close();
  await rm(dir, { recursive: true, force: true });
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
      maxExamples: 20,
      seed: SEED,
      workers: 2,
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

    // A fuzz that tested nothing would pass the checks above: it must have exercised every operation.
    expect(report?.operations).toMatchObject({ total: operations.length, selected: operations.length, tested: operations.length, errored: 0, skipped: 0 });
    expect(run.junit.map((c) => c.name).sort()).toEqual([...operations].sort());
    expect(run.junit.filter((c) => c.skipped).map((c) => c.name)).toEqual([]);

    // Every request went to the app on loopback, and every error it answered is a problem+json.
    expect(run.har.length).toBeGreaterThan(operations.length);
    expect(run.har.filter((e) => !e.request.url.startsWith(`${app.url}/`)).map((e) => e.request.url)).toEqual([]);
    expect(errorsWithoutProblemJson(run.har)).toEqual([]);
  });
});
