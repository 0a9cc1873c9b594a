import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import type { GracePeriods } from '../../src/config.js';
import { KubeApiError } from '../../src/core/errors.js';
import { type RunRef, snapshotOf } from '../../src/core/run.js';
import { deleteRun, OBSERVE_FAILED, observeOnce, SeenPods } from '../../src/runs/observe.js';
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

  it.each([0, 500, 502, 503])('throws a transient error (%i, no Retry-After) for the activity retry policy', async (code) => {
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
    const kube = new FakeKube().addJob(runningJob()).failNext('listEvents', 500);
    await expect(look(kube)).rejects.toMatchObject({ code: 500 });
  });
});

describe('observeOnce: why a run failed', () => {
  const failedJob = (failed: number): V1Job => ({
    ...runningJob(),
    status: { startTime: t0, failed, conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }] },
  });
  const pod = (name: string, status: V1Pod['status'], deletionTimestamp?: Date): V1Pod => ({
    metadata: { name, namespace: 'batch', uid: `uid-${name}`, labels: { 'batch.kubernetes.io/job-name': RUN_ID }, creationTimestamp: t0, ...(deletionTimestamp ? { deletionTimestamp } : {}) },
    spec: { nodeName: 'node-0', restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36' }] },
    status,
  });
  const numbered = (n: number) => Array.from({ length: n }, (_, i) => `line ${String(i + 1)}`).join('\n') + '\n';

  it('a container that exited 3: failure, failureKind and exitCode, and the last 50 lines of its log', async () => {
    const kube = new FakeKube().addJob(failedJob(1));
    kube.pods.push(pod('p-1', { phase: 'Failed', containerStatuses: [{ name: 'main', image: 'b', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 3, reason: 'Error', finishedAt: t0 } } }] }));
    kube.logs.set('batch/p-1/main', numbered(120));
    const snapshot = await observeOnce(kube, ref, grace, null, t0, { reads: 0, intervalMs: 0 }, undefined, new SeenPods());
    expect(snapshot).toMatchObject({ status: 'Failed', failureKind: 'ExitCode', exitCode: 3, failure: { kind: 'ExitCode', exitCode: 3, pod: 'p-1', container: 'main', node: 'node-0' } });
    const tail = snapshot.failure?.logTail?.split('\n') ?? [];
    expect(tail).toHaveLength(50);
    expect(tail.at(-1)).toBe('line 120');
  });

  it('a pod seen evicted by an earlier look and gone by the verdict keeps its cause; without the memory it would be Unknown', async () => {
    const seen = new SeenPods();
    const kube = new FakeKube().addJob(runningJob());
    kube.pods.push(
      pod('p-1', { phase: 'Running', conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'EvictionByEvictionAPI', message: 'Eviction API: evicting' }] }, t0),
    );
    expect(await observeOnce(kube, ref, grace, null, t0, settle, undefined, seen)).toMatchObject({ status: 'Running' });
    kube.pods.length = 0;
    kube.addJob(failedJob(1));
    expect(await observeOnce(kube, ref, grace, null, t0, settle, undefined, seen)).toMatchObject({ failureKind: 'DisruptionTarget', failure: { reason: 'EvictionByEvictionAPI', pod: 'p-1' } });
    expect(await observeOnce(kube, ref, grace, null, t0, settle, undefined, new SeenPods())).toMatchObject({ failureKind: 'Unknown', failure: { reason: 'BackoffLimitExceeded' } });
  });

  it('a log that cannot be read leaves the failure without its tail, and the verdict as it is', async () => {
    const kube = new FakeKube().addJob(failedJob(1)).failNext('readPodLog', 403, 'Forbidden');
    kube.pods.push(pod('p-1', { phase: 'Failed', containerStatuses: [{ name: 'main', image: 'b', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 1, reason: 'Error' } } }] }));
    const snapshot = await observeOnce(kube, ref, grace, null, t0, { reads: 0, intervalMs: 0 }, undefined, new SeenPods());
    expect(snapshot).toMatchObject({ status: 'Failed', failureKind: 'ExitCode', exitCode: 1 });
    expect(snapshot.failure?.logTail).toBeUndefined();
  });

  it('SeenPods forgets the oldest runs past its bound', () => {
    const seen = new SeenPods(2);
    const failed = pod('p-1', { phase: 'Failed' });
    for (const runId of ['a', 'b', 'c']) seen.note({ ...ref, runId }, [failed]);
    expect(seen.of({ ...ref, runId: 'a' })).toEqual([]);
    expect(seen.of({ ...ref, runId: 'c' })).toHaveLength(1);
    seen.note({ ...ref, runId: 'd' }, [pod('p-2', { phase: 'Running' })]);
    expect(seen.of({ ...ref, runId: 'd' })).toEqual([]);
  });
});

describe('deleteRun: the failure of a verdict the app made', () => {
  const verdict = { status: 'Failed' as const, reason: 'RunTimeout', message: 'the run did not finish within timeoutSeconds=60, so its Job was deleted' };

  it('a timeout names the run\'s newest pod and its last lines, read before the Job is deleted', async () => {
    const kube = new FakeKube().addJob(runningJob());
    kube.pods.push({
      metadata: { name: 'p-1', namespace: 'batch', labels: { 'batch.kubernetes.io/job-name': RUN_ID }, creationTimestamp: t0 },
      spec: { nodeName: 'node-0', containers: [{ name: 'main', image: 'b' }] },
      status: { phase: 'Running', containerStatuses: [{ name: 'main', image: 'b', imageID: '', ready: true, restartCount: 0, state: { running: {} } }] },
    });
    kube.logs.set('batch/p-1/main', 'waiting for the lock\nstill waiting\n');
    const result = await deleteRun(kube, ref, verdict, undefined, null, t0);
    expect(result).toMatchObject({ failureKind: 'RunTimeout', exitCode: null, failure: { kind: 'RunTimeout', pod: 'p-1', node: 'node-0', container: 'main', logTail: 'waiting for the lock\nstill waiting' } });
    expect(kube.calls.findIndex((c) => c.startsWith('readPodLog'))).toBeLessThan(kube.calls.findIndex((c) => c.startsWith('deleteJob')));
  });

  it('keeps the failure a look found for the same verdict (a pod problem past its grace)', async () => {
    const kube = new FakeKube().addJob(runningJob());
    const found = { kind: 'ImagePull' as const, exitCode: null, signal: null, container: 'main', pod: 'p-1', node: null, attempt: null, reason: 'ImagePullBackOff', message: 'x', at: null };
    const last = { ...snapshotOf(ref, { status: 'Failed', reason: 'ImagePullBackOff', message: 'x' }, t0), failure: found };
    const result = await deleteRun(kube, ref, { status: 'Failed', reason: 'ImagePullBackOff', message: 'x' }, last, null, t0);
    expect(result).toMatchObject({ failureKind: 'ImagePull', failure: found });
  });
});
