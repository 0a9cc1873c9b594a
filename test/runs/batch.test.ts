import type { CoreV1Event, V1ContainerStatus, V1Job, V1JobStatus, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import type { GracePeriods } from '../../src/config.js';
import { JOB_NAME_POD_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE, RUN_ID_LABEL } from '../../src/core/labels.js';
import type { RunRef, RunSnapshot } from '../../src/core/run.js';
import { KUEUE_QUEUE_LABEL } from '../../src/core/status.js';
import { BATCH, type BatchSettings, DEFAULT_THROTTLE_MS } from '../../src/runs/batch.js';
import { observeOnce, perRunReads, runReader, THROTTLED } from '../../src/runs/observe.js';
import { FakeKube } from '../fakes/kube.js';

const NS = 'batch';
const t0 = new Date('2026-11-23T10:00:00Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
const now = at(400);
const grace: GracePeriods = { imagePullSeconds: 120, containerConfigSeconds: 60, unschedulableSeconds: 600, quotaSeconds: 300 };
const noSettle = { reads: 0, intervalMs: 0 };
/** Short windows, so the tests do not wait; each test gets its own settings, so its own observers. */
const fast = (extra: Partial<BatchSettings> = {}): BatchSettings => ({ ...BATCH, gatherMs: 5, freshMs: 50, ...extra });

const ref = (runId: string): RunRef => ({ runId, cluster: 'dev', namespace: NS, source: { kind: 'Job', name: 'nightly' } });

function job(name: string, status: V1JobStatus | undefined, extra: { suspend?: boolean; deletionTimestamp?: Date; labels?: Record<string, string> } = {}): V1Job {
  return {
    metadata: {
      name,
      namespace: NS,
      creationTimestamp: t0,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [RUN_ID_LABEL]: name, ...extra.labels },
      ...(extra.deletionTimestamp ? { deletionTimestamp: extra.deletionTimestamp } : {}),
    },
    spec: { suspend: extra.suspend ?? false, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36' }] } } },
    ...(status ? { status } : {}),
  };
}

function pod(jobName: string, suffix: string, phase: string, statuses: V1ContainerStatus[] = [], extra: Partial<V1Pod['status']> = {}): V1Pod {
  return {
    metadata: { name: `${jobName}-${suffix}`, namespace: NS, creationTimestamp: at(1), labels: { [JOB_NAME_POD_LABEL]: jobName, [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } },
    spec: { containers: [{ name: 'main', image: 'busybox:1.36' }] },
    status: { phase, containerStatuses: statuses, ...extra },
  };
}

let eventCount = 0;
function event(kind: 'Job' | 'Pod', name: string, reason: string, message: string, last: Date): CoreV1Event {
  eventCount++;
  return {
    metadata: { name: `${name}.${String(eventCount).padStart(4, '0')}`, namespace: NS },
    involvedObject: { kind, name, namespace: NS },
    reason,
    message,
    firstTimestamp: last,
    lastTimestamp: last,
    type: 'Warning',
  };
}

const done = (type: string, reason: string, extra: Partial<V1JobStatus> = {}): V1JobStatus => ({
  startTime: at(1),
  completionTime: type === 'Complete' ? at(30) : undefined,
  active: 0,
  conditions: [{ type, status: 'True', reason, message: `${type} ${reason}`, lastTransitionTime: at(30) }],
  ...extra,
});

/**
 * One namespace as the control plane showed it: runs in every state the verdict distinguishes, next to
 * workloads that are not the app's (they must never be read), and finished Jobs of the app nobody watches.
 */
function recordedNamespace(): { kube: FakeKube; runs: string[] } {
  const kube = new FakeKube();
  const add = (j: V1Job, pods: V1Pod[] = [], events: CoreV1Event[] = []) => {
    kube.addJob(j);
    kube.pods.push(...pods);
    kube.events.push(...events);
  };
  add(job('run-running', { startTime: at(1), active: 1, ready: 1 }), [pod('run-running', 'a', 'Running', [{ name: 'main', image: 'b', imageID: '', ready: true, restartCount: 0, state: { running: { startedAt: at(2) } } }])]);
  add(job('run-created', undefined));
  add(
    job('run-pull', { startTime: at(1), active: 1, ready: 0 }),
    [pod('run-pull', 'a', 'Pending', [{ name: 'main', image: 'b', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff' } } }])],
    [event('Pod', 'run-pull-a', 'Failed', 'Failed to pull image "nope": not found', at(300)), event('Pod', 'run-pull-a', 'BackOff', 'Back-off pulling image "nope"', at(350))],
  );
  add(
    job('run-unschedulable', { startTime: at(1), active: 1, ready: 0 }),
    [pod('run-unschedulable', 'a', 'Pending', [], { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] })],
    [event('Pod', 'run-unschedulable-a', 'FailedScheduling', '0/3 nodes are available: 3 Insufficient cpu.', at(390))],
  );
  add(job('run-quota', { startTime: at(1), active: 0 }), [], [event('Job', 'run-quota', 'FailedCreate', 'pods "x" is forbidden: exceeded quota: compute', at(200))]);
  add(
    job('run-success', done('Complete', 'CompletionsReached', { succeeded: 1 })),
    [pod('run-success', 'a', 'Succeeded', [{ name: 'main', image: 'b', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, message: '{"rows":42}' } } }])],
  );
  add(job('run-failed', done('Failed', 'BackoffLimitExceeded', { failed: 2 })), [pod('run-failed', 'a', 'Failed'), pod('run-failed', 'b', 'Failed')]);
  add(job('run-deleting', { startTime: at(1), active: 1 }, { deletionTimestamp: at(395) }), [pod('run-deleting', 'a', 'Running')]);
  add(job('run-suspended', { startTime: at(1), active: 0, conditions: [{ type: 'Suspended', status: 'True', reason: 'JobSuspended' }] }, { suspend: true }));
  add(job('run-queued', { active: 0 }, { suspend: true, labels: { [KUEUE_QUEUE_LABEL]: 'team-a' } }));
  // Gone after its TTL: only its controller's events tell it had completed.
  kube.events.push(event('Job', 'run-ttl', 'Completed', 'Job completed', at(60)));
  // Not the app's: never listed.
  kube.jobs.set(`${NS}/someone-else`, { metadata: { name: 'someone-else', namespace: NS, labels: { app: 'other' } }, status: { active: 1 } });
  kube.pods.push({ metadata: { name: 'someone-else-x', namespace: NS, labels: { [JOB_NAME_POD_LABEL]: 'someone-else' } }, status: { phase: 'Pending' } });
  // The app's, finished long ago, not watched by anyone.
  for (let i = 0; i < 30; i++) add(job(`old-${String(i).padStart(2, '0')}`, done('Complete', 'CompletionsReached', { succeeded: 1 })));
  const runs = ['run-running', 'run-created', 'run-pull', 'run-unschedulable', 'run-quota', 'run-success', 'run-failed', 'run-deleting', 'run-suspended', 'run-queued', 'run-ttl', 'run-missing'];
  return { kube, runs };
}

async function bothPaths(settings: BatchSettings): Promise<{ perRun: RunSnapshot[]; batched: RunSnapshot[]; kube: FakeKube }> {
  const { kube, runs } = recordedNamespace();
  const perRun = await Promise.all(runs.map((id) => observeOnce(kube, ref(id), grace, null, now, noSettle)));
  kube.calls.length = 0;
  const read = runReader(kube, true, settings);
  const batched = await Promise.all(runs.map((id) => observeOnce(kube, ref(id), grace, null, now, noSettle, read)));
  return { perRun, batched, kube };
}

describe('batched observation: a run sees exactly what reads of its own would show', () => {
  it.each([
    ['events read by name', fast()],
    ['events listed once for the namespace', fast({ eventNamesByName: 0, pageSize: 3 })],
    ['lists paged two items at a time, one run id per selector', fast({ pageSize: 2, idsPerList: 1 })],
  ] as const)('every field of every snapshot is equal (%s)', async (_name, settings) => {
    const { perRun, batched } = await bothPaths(settings);
    expect(batched).toEqual(perRun);
    // The recorded states cover the verdicts that need events and those that do not.
    expect(perRun.map((s) => `${s.runId} ${s.status} ${s.reason}`)).toEqual([
      'run-running Running Running',
      'run-created Starting Created',
      'run-pull Failed ImagePullBackOff',
      'run-unschedulable Starting Unschedulable',
      'run-quota Starting QuotaExceeded',
      'run-success Success CompletionsReached',
      'run-failed Failed BackoffLimitExceeded',
      'run-deleting Cancelled JobDeleted',
      'run-suspended Cancelled Suspended',
      'run-queued Starting Queued',
      'run-ttl Success CompletionsReached',
      'run-missing Cancelled JobDeleted',
    ]);
    expect(perRun.find((s) => s.runId === 'run-pull')?.message).toContain('Back-off pulling image');
    expect(perRun.find((s) => s.runId === 'run-success')?.outputs).toEqual({ rows: 42 });
  });

  it('one list of Jobs and one of pods answer all the runs, by the app labels and run ids only', async () => {
    const { kube } = await bothPaths(fast({ eventNamesByName: 20 }));
    const jobLists = kube.calls.filter((c) => c.startsWith('listJobs'));
    const podLists = kube.calls.filter((c) => c.startsWith('listPodsPage'));
    expect(jobLists).toHaveLength(1);
    expect(podLists).toHaveLength(1);
    expect(podLists[0]).toContain(`${JOB_NAME_POD_LABEL} in (run-created,run-deleting,`);
    expect(kube.calls.filter((c) => c.startsWith('readJob') || c.startsWith('listPods '))).toEqual([]);
    // Events only for the runs where they can change the verdict, never for the running or finished ones.
    const events = kube.calls.filter((c) => c.startsWith('listEvents')).map((c) => c.replace(`listEvents ${NS}/`, ''));
    expect(events.sort()).toEqual(['run-created', 'run-deleting', 'run-missing', 'run-pull', 'run-pull-a', 'run-quota', 'run-suspended', 'run-queued', 'run-ttl', 'run-unschedulable', 'run-unschedulable-a'].sort());
    expect(kube.calls.filter((c) => c.startsWith('listNamespaceEvents'))).toEqual([]);
  });

  it('N running runs cost two lists per window whatever N, against three reads each on their own', async () => {
    const kube = new FakeKube();
    const ids = Array.from({ length: 200 }, (_, i) => `run-${String(i).padStart(3, '0')}`);
    for (const id of ids) {
      kube.addJob(job(id, { startTime: at(1), active: 1, ready: 1 }));
      kube.pods.push(pod(id, 'a', 'Running'));
    }
    const read = runReader(kube, true, fast({ idsPerList: 200 }));
    const snapshots = await Promise.all(ids.map((id) => observeOnce(kube, ref(id), grace, null, now, noSettle, read)));
    expect(snapshots.every((s) => s.status === 'Running')).toBe(true);
    expect(kube.calls).toHaveLength(2);
    kube.calls.length = 0;
    await Promise.all(ids.slice(0, 10).map((id) => perRunReads(kube, ref(id))));
    expect(kube.calls).toHaveLength(30);
  });

  it('a look that comes a moment after the others reuses their list, which already covered it', async () => {
    const kube = new FakeKube();
    for (const id of ['a-run', 'b-run']) kube.addJob(job(id, { startTime: at(1), active: 1 })).pods.push(pod(id, 'x', 'Running'));
    const read = runReader(kube, true, fast({ freshMs: 10_000 }));
    await Promise.all(['a-run', 'b-run'].map((id) => read(ref(id))));
    const calls = kube.calls.length;
    await read(ref('b-run'));
    expect(kube.calls.length).toBe(calls);
  });
});

describe('a run on its second Job (retries on disruption, core/retry.ts)', () => {
  it("the batched and the per-run reads both see the current attempt's Job and pods, never the failed first Job's", async () => {
    const kube = new FakeKube();
    const runId = 'run-retried';
    const second = `${runId}-2`;
    // The first attempt's Job is still there (its delete failed), evicted; the second runs. Both carry the run id.
    kube.addJob(job(runId, done('Failed', 'BackoffLimitExceeded', { failed: 1 })));
    kube.pods.push(pod(runId, 'a', 'Failed', [], { reason: 'Evicted', message: 'The node was low on resource: memory.' }));
    kube.addJob(job(second, { startTime: at(40), active: 1, ready: 1 }, { labels: { [RUN_ID_LABEL]: runId } }));
    kube.pods.push(pod(second, 'b', 'Running'));
    kube.addJob(job('run-other', { startTime: at(1), active: 1 })).pods.push(pod('run-other', 'c', 'Running'));

    const attempt2: RunRef = { ...ref(runId), jobName: second };
    const read = runReader(kube, true, fast());
    const [batched, other] = await Promise.all([observeOnce(kube, attempt2, grace, null, now, noSettle, read), observeOnce(kube, ref('run-other'), grace, null, now, noSettle, read)]);
    const perRun = await observeOnce(kube, attempt2, grace, null, now, noSettle);
    expect(batched).toEqual(perRun);
    expect(batched).toMatchObject({ runId, jobName: second, status: 'Running', pods: { active: 1 } });
    expect(other).toMatchObject({ runId: 'run-other', status: 'Running' });
    // One list of Jobs by run id (the fake applies the selector: every attempt's Job carries the run id) and one
    // of pods by the current Jobs' names.
    expect(kube.calls.filter((c) => c.startsWith('listJobs'))).toHaveLength(1);
    expect(kube.calls.filter((c) => c.startsWith('listPodsPage'))).toEqual([`listPodsPage ${NS} ${JOB_NAME_POD_LABEL} in (run-other,${second})`]);
  });
});

describe('back-pressure: the API server throttles', () => {
  it.each([
    ['429 with Retry-After', 429, 300],
    ['429 without Retry-After', 429, undefined],
    ['503 with Retry-After', 503, 300],
  ] as const)('%s: every run of the window is Throttled, and the namespace is left alone until it passes', async (_name, code, retryAfter) => {
    const kube = new FakeKube();
    for (const id of ['a-run', 'b-run']) kube.addJob(job(id, { startTime: at(1), active: 1 })).pods.push(pod(id, 'x', 'Running'));
    kube.failNext('listJobs', code, 'TooManyRequests', retryAfter);
    const read = runReader(kube, true, fast());
    const first = await Promise.all(['a-run', 'b-run'].map((id) => observeOnce(kube, ref(id), grace, null, now, noSettle, read)));
    expect(first.map((s) => [s.status, s.reason])).toEqual([['Unknown', THROTTLED], ['Unknown', THROTTLED]]);
    expect(first[0]?.message).toMatch(new RegExp(`the API server asked the app to slow down \\(HTTP ${code}\\) until .*; the app waits that long before it reads namespace batch again`));
    const calls = kube.calls.length;
    // Within the window: no call at all, on either path.
    expect((await observeOnce(kube, ref('a-run'), grace, null, now, noSettle, read)).reason).toBe(THROTTLED);
    expect((await observeOnce(kube, ref('a-run'), grace, null, now, noSettle)).reason).toBe(THROTTLED);
    expect(kube.calls.length).toBe(calls);
    await new Promise((resolve) => setTimeout(resolve, (retryAfter ?? DEFAULT_THROTTLE_MS) + 50));
    expect((await observeOnce(kube, ref('a-run'), grace, null, now, noSettle, read)).status).toBe('Running');
  });

  it('a 503 that does not say for how long is an outage, which the activity retries, not throttling', async () => {
    const kube = new FakeKube().addJob(job('a-run', { active: 1 }));
    kube.failNext('listJobs', 503);
    await expect(observeOnce(kube, ref('a-run'), grace, null, now, noSettle, runReader(kube, true, fast()))).rejects.toMatchObject({ code: 503 });
  });

  it('the per-run path is throttled the same way', async () => {
    const kube = new FakeKube().addJob(job('solo-run', { active: 1 }));
    kube.failNext('readJob', 429, 'TooManyRequests', 60_000);
    expect((await observeOnce(kube, ref('solo-run'), grace, null, now, noSettle)).reason).toBe(THROTTLED);
  });

  it('a refused pod list still judges every run from its Job, and says so', async () => {
    const kube = new FakeKube().addJob(job('a-run', { startTime: at(1), active: 1 }));
    kube.failNext('listPodsPage', 403, 'Forbidden');
    const snapshot = await observeOnce(kube, ref('a-run'), grace, null, now, noSettle, runReader(kube, true, fast()));
    expect(snapshot).toMatchObject({ status: 'Running' });
    expect(snapshot.message).toMatch(/judged from the Job alone, the cluster refused pods: .*HTTP 403/);
  });

  it('a refused Job list is ObserveFailed for the runs of the window, as a refused read is for one', async () => {
    const kube = new FakeKube().addJob(job('a-run', { active: 1 }));
    kube.failNext('listJobs', 403, 'Forbidden');
    expect((await observeOnce(kube, ref('a-run'), grace, null, now, noSettle, runReader(kube, true, fast()))).reason).toBe('ObserveFailed');
  });
});

describe('N workers: each batches alone, with nothing shared (docs/scale.md, "N workers")', () => {
  it.each([
    { workers: 4, runs: 200 },
    { workers: 10, runs: 200 },
    { workers: 8, runs: 3 },
  ])('$workers workers observing $runs runs of a namespace cost 2·min(N, runs) lists per window, whichever worker gets which run', async ({ workers: n, runs }) => {
    const kube = new FakeKube();
    const ids = Array.from({ length: runs }, (_, i) => `run-${String(i).padStart(3, '0')}`);
    for (const id of ids) kube.addJob(job(id, { startTime: at(1), active: 1, ready: 1 })).pods.push(pod(id, 'a', 'Running'));
    // All the workers call the same API server. A worker is a process of its own, with observers of its own:
    // here a settings object of its own gives each reader its own (observers are kept per settings object).
    const readers = Array.from({ length: n }, () => runReader(kube, true, fast()));
    // Durable hands a run's observe to any worker, on both backends: a different one in the second window.
    for (const shift of [0, 1]) {
      kube.calls.length = 0;
      const snapshots = await Promise.all(ids.map((id, i) => observeOnce(kube, ref(id), grace, null, now, noSettle, readers[(i + shift) % n])));
      expect(snapshots.every((s) => s.status === 'Running')).toBe(true);
      expect(kube.calls.filter((c) => c.startsWith('listJobs'))).toHaveLength(Math.min(n, runs));
      expect(kube.calls.filter((c) => c.startsWith('listPodsPage'))).toHaveLength(Math.min(n, runs));
      expect(kube.calls).toHaveLength(2 * Math.min(n, runs));
    }
  });
});
