import type { V1Job } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import type { GracePeriods } from '../../src/config.js';
import { KubeApiError } from '../../src/core/errors.js';
import type { RunRef } from '../../src/core/run.js';
import { OBSERVE_FAILED, observeOnce } from '../../src/runs/observe.js';
import { FakeKube } from '../fakes/kube.js';

const t0 = new Date('2026-11-23T10:00:00Z');
const RUN_ID = 'nightly-0123456789';
const ref: RunRef = { runId: RUN_ID, cluster: 'dev', namespace: 'batch', source: { kind: 'Job', name: 'nightly' } };
const grace: GracePeriods = { imagePullSeconds: 120, containerConfigSeconds: 60, unschedulableSeconds: 600, quotaSeconds: 300 };

function runningJob(): V1Job {
  return {
    metadata: { name: RUN_ID, namespace: 'batch', creationTimestamp: t0 },
    spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36' }] } } },
    status: { active: 1, ready: 0, startTime: t0 },
  };
}

const look = (kube: FakeKube) => observeOnce(kube, ref, grace, null, new Date(t0.getTime() + 30_000));

/** A fake whose Job moves on by one status at each read, as the Job controller's writes would. */
class Moving extends FakeKube {
  reads = 0;
  constructor(private readonly statuses: V1Job['status'][]) {
    super();
  }
  override readJob(namespace: string, name: string): Promise<V1Job | null> {
    const status = this.statuses[Math.min(this.reads++, this.statuses.length - 1)];
    return Promise.resolve({ ...runningJob(), metadata: { name, namespace, creationTimestamp: t0 }, status });
  }
}
const settle = { reads: 5, intervalMs: 1 };
const interim = { startTime: t0, active: 1, succeeded: 0, conditions: [{ type: 'SuccessCriteriaMet', status: 'True', reason: 'CompletionsReached' }] };
const complete = { startTime: t0, active: 0, succeeded: 1, conditions: [{ type: 'Complete', status: 'True', reason: 'CompletionsReached' }] };

describe('observeOnce: a verdict is read once the Job has settled', () => {
  it('reads a Job at SuccessCriteriaMet again until Complete: the counts are those of the final status', async () => {
    const kube = new Moving([interim, interim, complete]);
    const snapshot = await observeOnce(kube, ref, grace, null, t0, settle);
    expect(snapshot).toMatchObject({ status: 'Success', pods: { active: 0, succeeded: 1 } });
    expect(kube.reads).toBe(3);
  });

  it('gives the verdict as it is when the Job does not settle within the bound', async () => {
    const kube = new Moving([interim]);
    const snapshot = await observeOnce(kube, ref, grace, null, t0, settle);
    expect(snapshot).toMatchObject({ status: 'Success', reason: 'CompletionsReached' });
    expect(kube.reads).toBe(1 + settle.reads);
  });

  it('does not read a Job that has settled again', async () => {
    const kube = new Moving([complete]);
    await observeOnce(kube, ref, grace, null, t0, settle);
    expect(kube.reads).toBe(1);
  });
});

describe('observeOnce: what the observe activity makes of cluster errors', () => {
  it('reads a running Job', async () => {
    const snapshot = await look(new FakeKube().addJob(runningJob()));
    expect(snapshot).toMatchObject({ status: 'Running', reason: 'Running', message: '1 pod(s) active, 0 ready' });
  });

  it.each([401, 403])('answers ObserveFailed, without throwing (so nothing retries it), when reading the Job gets %i', async (code) => {
    const kube = new FakeKube().addJob(runningJob()).failNext('readJob', code, code === 403 ? 'Forbidden' : 'Unauthorized');
    const snapshot = await look(kube);
    expect(snapshot).toMatchObject({ status: 'Unknown', reason: OBSERVE_FAILED });
    expect(snapshot.message).toContain(`HTTP ${code}`);
  });

  it.each([0, 429, 500, 503])('throws a transient error (%i) for the activity retry policy', async (code) => {
    const kube = new FakeKube().addJob(runningJob()).failNext('readJob', code);
    await expect(look(kube)).rejects.toBeInstanceOf(KubeApiError);
  });

  it('judges the run from its Job alone when the Role does not allow listing pods, and says so', async () => {
    const kube = new FakeKube().addJob(runningJob()).failNext('listPods', 403, 'Forbidden');
    const snapshot = await look(kube);
    expect(snapshot).toMatchObject({ status: 'Running', reason: 'Running' });
    expect(snapshot.message).toMatch(/^1 pod\(s\) active, 0 ready \(judged from the Job alone, the cluster refused pods: .*HTTP 403 Forbidden/);
  });

  it('throws when listing events fails transiently, rather than judging without them', async () => {
    const kube = new FakeKube().addJob(runningJob()).failNext('listEvents', 429);
    await expect(look(kube)).rejects.toMatchObject({ code: 429 });
  });
});
