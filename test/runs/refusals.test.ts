import type { V1Job } from '@kubernetes/client-node';
import { describe, expect, it, vi } from 'vitest';

import { CredentialError } from '../../src/clients/credentials.js';
import { type GracePeriods, loadConfig } from '../../src/config.js';
import type { RunRequest } from '../../src/core/run.js';
import { deleteRun, isStopThrottled, OBSERVE_FAILED, observeOnce, THROTTLED } from '../../src/runs/observe.js';
import { createRun } from '../../src/runs/submit.js';
import { FakeKube } from '../fakes/kube.js';

/**
 * Activities throw only what is worth retrying (RetryOptions retries every throw, and has no predicate);
 * every 4xx and every credential the app cannot get comes back as a result, at the first attempt.
 */
const t0 = new Date('2026-11-23T10:00:00Z');
const RUN_ID = 'nightly-0123456789';
const request: RunRequest = {
  runId: RUN_ID,
  cluster: 'dev',
  namespace: 'batch',
  source: { kind: 'Job', name: 'nightly' },
  overrides: {},
  requestHash: 'hash-1',
};
const { runPolicy } = loadConfig({ CLUSTERS: JSON.stringify([{ alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/k', namespaces: ['batch'] }]) });
const grace: GracePeriods = { imagePullSeconds: 120, containerConfigSeconds: 60, unschedulableSeconds: 600, quotaSeconds: 300 };
const verdict = { status: 'Failed' as const, reason: 'ErrImagePull', message: 'the image cannot be pulled' };

const source: V1Job = {
  metadata: { name: 'nightly', namespace: 'batch', uid: 'u1' },
  spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36' }] } } },
};

/** A gateway whose every call fails for want of credentials. */
class NoCredentials extends FakeKube {
  constructor(private readonly error: CredentialError) {
    super();
  }
  override readJob(): Promise<V1Job | null> {
    return Promise.reject(this.error);
  }
  override deleteJob(): Promise<boolean> {
    return Promise.reject(this.error);
  }
}
const misconfigured = new CredentialError('could not get credentials of AKS cluster "aks-prod": AuthorizationFailed. The app identity needs "Azure Kubernetes Service Cluster User Role" on the cluster');
const throttled = new CredentialError('could not get credentials: TooManyRequests', { transient: true });

describe('stopRun does not retry a refused delete', () => {
  it.each([403, 401, 422])('a delete refused with %i gives the verdict at once, naming the Job to delete by hand', async (code) => {
    const kube = new FakeKube().failNext('deleteJob', code, 'Forbidden');
    const snapshot = await deleteRun(kube, request, verdict, undefined, null, t0);
    expect(snapshot).toMatchObject({ status: 'Failed', reason: 'ErrImagePull' });
    expect(snapshot.message).toMatch(new RegExp(`delete it by hand: .*HTTP ${String(code)}`));
  });

  it('a delete without credentials gives the verdict at once too', async () => {
    const snapshot = await deleteRun(new NoCredentials(misconfigured), request, verdict, undefined, null, t0);
    expect(snapshot.message).toMatch(/delete it by hand: .*Cluster User Role/);
  });

  it.each([0, 503])('a delete that fails transiently (%i) throws, for the retry policy', async (code) => {
    await expect(deleteRun(new FakeKube().failNext('deleteJob', code), request, verdict, undefined, null, t0)).rejects.toMatchObject({ code });
  });
});

describe('submitRun does not retry a refusal', () => {
  it('a read refused after AlreadyExists is a NameConflict at once, not a retry', async () => {
    const forbidden = new FakeKube().addJob(source).addJob({ metadata: { name: RUN_ID, namespace: 'batch' } });
    const original = forbidden.readJob.bind(forbidden);
    // The source is read first and must be; the second read, of the Job in the way, is refused.
    let reads = 0;
    forbidden.readJob = (namespace: string, name: string) => {
      reads++;
      if (reads === 2) forbidden.failNext('readJob', 403, 'Forbidden');
      return original(namespace, name);
    };
    const result = await createRun(forbidden, request, null, t0, runPolicy);
    expect(result).toMatchObject({ outcome: 'rejected', snapshot: { status: 'Failed', reason: 'NameConflict' } });
    expect(result.snapshot.message).toMatch(/could not be read to tell whether this run created it: .*HTTP 403/);
  });

  it('credentials the app cannot get reject the run with reason ClusterCredentials, naming the fix', async () => {
    const result = await createRun(new NoCredentials(misconfigured), request, null, t0, runPolicy);
    expect(result).toMatchObject({ outcome: 'rejected', snapshot: { status: 'Failed', reason: 'ClusterCredentials' } });
    expect(result.snapshot.message).toMatch(/Cluster User Role/);
  });

  it('ARM throttling throws, for the retry policy', async () => {
    await expect(createRun(new NoCredentials(throttled), request, null, t0, runPolicy)).rejects.toBe(throttled);
  });
});

describe('observeRun: credentials are a refusal, not an outage', () => {
  it('credentials the app cannot get are ObserveFailed, without throwing', async () => {
    const snapshot = await observeOnce(new NoCredentials(misconfigured), request, grace, null, t0);
    expect(snapshot).toMatchObject({ status: 'Unknown', reason: OBSERVE_FAILED });
    expect(snapshot.message).toMatch(/Cluster User Role/);
  });

  it('ARM throttling throws, for the retry policy', async () => {
    await expect(observeOnce(new NoCredentials(throttled), request, grace, null, t0)).rejects.toBe(throttled);
  });
});

describe('submit and stop under back-pressure: the API server\'s Retry-After, not a failure', () => {
  const cases = [
    ['a 429 with Retry-After', 429, 3_000, '2026-11-23T10:00:03.000Z'],
    ['a 429 without Retry-After (1 s)', 429, undefined, '2026-11-23T10:00:01.000Z'],
    ['a 503 with Retry-After', 503, 7_000, '2026-11-23T10:00:07.000Z'],
  ] as const;

  it.each(cases)('%s on create: throttled until then, nothing created, and the namespace gets no call before then', async (_name, code, retryAfterMs, retryAt) => {
    const kube = new FakeKube().addJob(source).failNext('createJob', code, 'TooManyRequests', retryAfterMs);
    const clock = vi.spyOn(Date, 'now').mockReturnValue(t0.getTime());
    try {
      const result = await createRun(kube, request, null, t0, runPolicy);
      expect(result).toMatchObject({ outcome: 'throttled', retryAt, snapshot: { status: 'Starting', reason: THROTTLED } });
      expect(result.snapshot.message).toMatch(new RegExp(`asked the app to slow down \\(HTTP ${String(code)}\\) until ${retryAt.replace(/\./g, '\\.')}; the Job is created after that`));
      const calls = kube.calls.length;
      // Within the window: the same answer, and not one request.
      expect(await createRun(kube, request, null, t0, runPolicy)).toMatchObject({ outcome: 'throttled', retryAt });
      expect(await deleteRun(kube, request, verdict, undefined, null, t0)).toMatchObject({ outcome: 'throttled', retryAt });
      expect(kube.calls.length).toBe(calls);
      // After it: the Job is created.
      clock.mockReturnValue(new Date(retryAt).getTime() + 1);
      expect(await createRun(kube, request, null, t0, runPolicy)).toMatchObject({ outcome: 'submitted' });
      expect(await kube.readJob('batch', RUN_ID)).not.toBeNull();
    } finally {
      clock.mockRestore();
    }
  });

  it('a throttled read of the source is throttled too, not a rejection', async () => {
    const kube = new FakeKube().addJob(source).failNext('readJob', 429, 'TooManyRequests', 2_000);
    expect(await createRun(kube, request, null, t0, runPolicy)).toMatchObject({ outcome: 'throttled', snapshot: { reason: THROTTLED } });
  });

  it('ARM throttling that says how long (listClusterUserCredentials) is throttled for the cluster\'s namespace', async () => {
    const armThrottled = new CredentialError('could not get credentials: TooManyRequests', { transient: true, retryAfterMs: 10_000 });
    const result = await createRun(new NoCredentials(armThrottled), request, null, t0, runPolicy);
    expect(result).toMatchObject({ outcome: 'throttled' });
    expect(result.snapshot.message).toMatch(/Azure Resource Manager \(listClusterUserCredentials\)/);
  });

  it.each(cases)('%s on delete: the delete says when to try again, with what it waits for', async (_name, code, retryAfterMs, retryAt) => {
    const kube = new FakeKube().failNext('deleteJob', code, 'TooManyRequests', retryAfterMs);
    const clock = vi.spyOn(Date, 'now').mockReturnValue(t0.getTime());
    try {
      const result = await deleteRun(kube, request, verdict, undefined, null, t0);
      expect(result).toEqual({ outcome: 'throttled', retryAt, message: expect.stringMatching(`^deleting Job batch/${RUN_ID} waits: the API server asked the app to slow down`) as unknown });
      expect(isStopThrottled(result)).toBe(true);
    } finally {
      clock.mockRestore();
    }
  });
});
