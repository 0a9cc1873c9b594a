import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LocalDurable } from '../../local/durable/runtime.js';
import { ALLOW_ENV_ANNOTATION } from '../../src/core/consent.js';
import { startJobRun } from '../../src/functions/startJobRun.js';
import { createServices, setServices } from '../../src/services.js';
import { COMPLETE_DELAY_ANNOTATION } from '../../testenv/fates.js';
import { adminKube, jobPods, localRunPath, runPathConfig, testJob, useNamespace, waitFor } from './helpers.js';

/** The start path's guards as the API server sees what the app creates (issue 16). */
const ns = useNamespace('security');
const kube = adminKube();
let durable: LocalDurable;
const context = () => new InvocationContext({ functionName: 'it', invocationId: 'inv-security', logHandler: () => undefined });
const BASE = 'http://127.0.0.1:7071/api';

function useSettings(settings: Record<string, string> = {}): void {
  const config = runPathConfig(ns(), {
    FALLBACK_IMAGES: 'docker.io/library/',
    ...settings,
  });
  setServices(createServices(config));
}

beforeAll(async () => {
  useSettings();
  durable = localRunPath();
  const source = (name: string, jobAnnotations: Record<string, string> = {}, delay = '1s') =>
    kube.batch.createNamespacedJob({
      namespace: ns(),
      body: testJob({ name, namespace: ns(), suspend: true, env: [{ name: 'BATCH_DATE', value: 'today' }], annotations: { [COMPLETE_DELAY_ANNOTATION]: delay }, jobAnnotations }),
    });
  await source('plain');
  await source('consenting', { [ALLOW_ENV_ANNOTATION]: 'DB_HOST' });
  await source('slow', {}, '1h');
});
afterAll(() => durable.close());

function json(r: HttpResponseInit): Record<string, unknown> {
  return r.jsonBody as Record<string, unknown>;
}

async function start(name: string, body: unknown = {}, query = ''): Promise<HttpResponseInit> {
  const request = new HttpRequest({
    method: 'POST',
    url: `${BASE}/jobs/${ns()}/${name}/runs${query}`,
    params: { namespace: ns(), name },
    headers: { 'content-type': 'application/json' },
    body: { string: JSON.stringify(body) },
  });
  return startJobRun(request, durable, context());
}

async function created(runId: string) {
  return waitFor(`Job ${runId}`, () => kube.batch.readNamespacedJob({ name: runId, namespace: ns() }));
}

describe('a fallback run, as the API server stored it', () => {
  it('has no service-account token, requests and limits, a non-root user, no privilege escalation, no capabilities, RuntimeDefault seccomp and a deadline', async () => {
    const started = await start('adhoc', {}, '?image=docker.io/library/busybox:1.36&command=["sh","-c","id"]');
    expect(started.status, JSON.stringify(started.jsonBody)).toBe(202);
    const job = await created(json(started).runId as string);
    expect(job.spec?.activeDeadlineSeconds).toBe(86_400);
    const pod = job.spec?.template.spec;
    expect(pod).toMatchObject({
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
    });
    expect(pod?.containers[0]).toMatchObject({
      image: 'docker.io/library/busybox:1.36',
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } },
      securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
    });

    // The pod the Job controller made: the ServiceAccount admission plugin mounted no token into it.
    const [fallbackPod] = await waitFor('the fallback pod', async () => {
      const pods = await jobPods(kube, ns(), job.metadata?.name ?? '');
      return pods.length > 0 ? pods : undefined;
    });
    expect(fallbackPod?.spec?.volumes?.some((v) => v.name.startsWith('kube-api-access-')) ?? false).toBe(false);
    expect(fallbackPod?.spec?.containers[0]?.volumeMounts ?? []).toEqual([]);
  });

  it('a clone keeps the source pod as written (a token mounted) and gets the default deadline', async () => {
    const started = await start('plain');
    expect(started.status, JSON.stringify(started.jsonBody)).toBe(202);
    const job = await created(json(started).runId as string);
    expect(job.spec?.activeDeadlineSeconds).toBe(86_400);
    const [pod] = await waitFor('the clone pod', async () => {
      const pods = await jobPods(kube, ns(), job.metadata?.name ?? '');
      return pods.length > 0 ? pods : undefined;
    });
    // The contrast that shows the fallback's missing token is the admission plugin obeying the spec.
    expect(pod?.spec?.volumes?.some((v) => v.name.startsWith('kube-api-access-'))).toBe(true);
  });

  it('is refused for an image outside FALLBACK_IMAGES, and nothing is created', async () => {
    const started = await start('adhoc-evil', {}, '?image=ghcr.io/attacker/miner:1');
    expect(started.status).toBe(403);
    expect(json(started).title).toBe('FallbackNotAllowed');
    const jobs = await kube.batch.listNamespacedJob({ namespace: ns() });
    expect(jobs.items.map((j) => j.spec?.template.spec?.containers[0]?.image)).not.toContain('ghcr.io/attacker/miner:1');
  });
});

describe('env consent, read from the source as stored', () => {
  it('a new name is refused on a source without consent and set on one whose annotation names it', async () => {
    const refused = await start('plain', { DB_HOST: 'evil.example' });
    expect(refused.status).toBe(400);
    expect(json(refused).detail).toContain(ALLOW_ENV_ANNOTATION);
    const started = await start('consenting', { DB_HOST: 'db2.internal', BATCH_DATE: '2026-12-01' });
    expect(started.status, JSON.stringify(started.jsonBody)).toBe(202);
    const job = await created(json(started).runId as string);
    expect(job.spec?.template.spec?.containers[0]?.env).toEqual([
      { name: 'BATCH_DATE', value: '2026-12-01' },
      { name: 'DB_HOST', value: 'db2.internal' },
    ]);
  });

  it('a loader variable is refused even on a consenting source', async () => {
    const refused = await start('consenting', { LD_PRELOAD: '/tmp/x.so' });
    expect(refused.status).toBe(400);
    expect(json(refused).detail).toContain('"LD_PRELOAD" changes what code the run loads');
  });
});

describe('the active-run cap, counted on the API server', () => {
  it('answers 429 with Retry-After once the cluster has MAX_ACTIVE_RUNS_PER_CLUSTER unfinished runs of the app', async () => {
    // The runs of the tests above count too, finished or not: the cap is set from what is unfinished now.
    const unfinished = (await kube.batch.listNamespacedJob({ namespace: ns(), labelSelector: 'app.kubernetes.io/managed-by=aks-job-runner' })).items.filter(
      (j) => !(j.status?.conditions ?? []).some((c) => c.status === 'True' && ['Complete', 'Failed', 'SuccessCriteriaMet', 'FailureTarget'].includes(c.type)),
    ).length;
    useSettings({ MAX_ACTIVE_RUNS_PER_CLUSTER: String(unfinished + 1) });
    try {
      const first = await start('slow');
      expect(first.status, JSON.stringify(first.jsonBody)).toBe(202);
      await created(json(first).runId as string);
      const second = await start('slow');
      expect(second.status).toBe(429);
      expect(json(second).title).toBe('ActiveRunLimit');
      expect((second.headers as Record<string, string>)['Retry-After']).toBe('60');
    } finally {
      useSettings();
    }
  });
});
