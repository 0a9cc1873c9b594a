import type { CoreV1Event, V1ContainerStatus, V1Job, V1JobCondition, V1Pod, V1PodCondition } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import { classifyFailure, type FailureEvidence, failureOfVerdict, logTail, logTailTarget, type RunFailure, withFailure } from '../../src/core/failure.js';
import type { RunSnapshot } from '../../src/core/run.js';
import { runFailureSchema, runSnapshotSchema } from '../../src/core/schemas.js';

/**
 * Failure causes, each case built from the status shapes Kubernetes v1.34 writes (the component that writes
 * it is named in the case, its source cited in src/core/failure.ts).
 */
const t0 = new Date('2026-11-23T10:00:00Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
const RUN = 'nightly-abcdefghij';
const NS = 'batch';

function job(condition: V1JobCondition | undefined, failed = 1): V1Job {
  return {
    metadata: { name: RUN, namespace: NS },
    spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'registry.example.com/nightly:1' }] } } },
    status: { failed, conditions: condition ? [condition] : [] },
  };
}
const failedJob = (reason: string, message: string, failed = 1) =>
  job({ type: 'Failed', status: 'True', reason, message, lastTransitionTime: at(60) }, failed);
const BACKOFF = failedJob('BackoffLimitExceeded', 'Job has reached the specified backoff limit');

function terminated(exitCode: number, reason: string, finishedAt = at(30), message?: string): V1ContainerStatus {
  return {
    name: 'main',
    image: 'registry.example.com/nightly:1',
    imageID: '',
    ready: false,
    restartCount: 0,
    state: { terminated: { exitCode, reason, startedAt: at(5), finishedAt, ...(message ? { message } : {}) } },
  };
}
const running: V1ContainerStatus = { name: 'main', image: 'registry.example.com/nightly:1', imageID: '', ready: true, restartCount: 0, state: { running: { startedAt: at(5) } } };

function pod(name: string, status: V1Pod['status'], extra: { deletionTimestamp?: Date; uid?: string } = {}): V1Pod {
  return {
    metadata: { name, namespace: NS, uid: extra.uid ?? `uid-${name}`, creationTimestamp: at(1), ...(extra.deletionTimestamp ? { deletionTimestamp: extra.deletionTimestamp } : {}) },
    spec: { nodeName: 'aks-nodepool1-0', restartPolicy: 'Never', containers: [{ name: 'main', image: 'registry.example.com/nightly:1' }] },
    status,
  };
}
const disruption = (reason: string, message: string): V1PodCondition => ({ type: 'DisruptionTarget', status: 'True', reason, message, lastTransitionTime: at(40) });

function event(podName: string, reason: string, message: string): CoreV1Event {
  return {
    metadata: { name: `${podName}.1`, namespace: NS },
    involvedObject: { kind: 'Pod', name: podName, namespace: NS },
    reason,
    message,
    lastTimestamp: at(45),
  };
}

const failedVerdict = (reason = 'BackoffLimitExceeded', message = 'Job has reached the specified backoff limit'): FailureEvidence['verdict'] => ({
  status: 'Failed',
  reason,
  message,
});

interface Case {
  evidence: Omit<FailureEvidence, 'now'>;
  expected: Partial<RunFailure>;
}

const cases: Record<string, Case> = {
  'a container that exits 3 (kubelet: terminated, reason Error) is ExitCode with its code, container, pod, node and attempt': {
    evidence: { verdict: failedVerdict(), job: BACKOFF, pods: [pod('p-1', { phase: 'Failed', containerStatuses: [terminated(3, 'Error')] })], events: [] },
    expected: { kind: 'ExitCode', exitCode: 3, signal: null, container: 'main', pod: 'p-1', node: 'aks-nodepool1-0', attempt: 1, reason: 'Error', at: at(30).toISOString() },
  },
  'a container the runtime OOM-killed (terminated, reason OOMKilled, 137) is OOMKilled with SIGKILL': {
    evidence: { verdict: failedVerdict(), job: BACKOFF, pods: [pod('p-1', { phase: 'Failed', containerStatuses: [terminated(137, 'OOMKilled')] })], events: [] },
    expected: { kind: 'OOMKilled', exitCode: 137, signal: 'SIGKILL', reason: 'OOMKilled' },
  },
  'BackoffLimitExceeded after three attempts: the cause is the last attempt\'s (the latest finishedAt)': {
    evidence: {
      verdict: failedVerdict(),
      job: failedJob('BackoffLimitExceeded', 'Job has reached the specified backoff limit', 3),
      pods: [
        pod('p-1', { phase: 'Failed', containerStatuses: [terminated(137, 'OOMKilled', at(10))] }),
        pod('p-3', { phase: 'Failed', containerStatuses: [terminated(2, 'Error', at(50))] }),
        pod('p-2', { phase: 'Failed', containerStatuses: [terminated(1, 'Error', at(30))] }),
      ],
      events: [],
    },
    expected: { kind: 'ExitCode', exitCode: 2, pod: 'p-3', attempt: 3 },
  },
  'the kubelet evicting under node pressure (phase Failed, reason Evicted, DisruptionTarget TerminationByKubelet) is Evicted': {
    evidence: {
      verdict: failedVerdict(),
      job: BACKOFF,
      pods: [
        pod('p-1', {
          phase: 'Failed',
          reason: 'Evicted',
          message: 'The node was low on resource: memory. Threshold quantity: 100Mi, available: 52Mi. Container main was using 1843Mi, request is 0, has larger consumption of memory.',
          conditions: [disruption('TerminationByKubelet', 'The node was low on resource: memory.')],
          containerStatuses: [terminated(137, 'Error')],
        }),
      ],
      events: [],
    },
    expected: { kind: 'Evicted', reason: 'Evicted', exitCode: 137, signal: 'SIGKILL' },
  },
  'a pod evicted through the Eviction API (DisruptionTarget EvictionByEvictionAPI, being deleted) is DisruptionTarget': {
    evidence: {
      verdict: failedVerdict(),
      job: BACKOFF,
      pods: [pod('p-1', { phase: 'Running', conditions: [disruption('EvictionByEvictionAPI', 'Eviction API: evicting')], containerStatuses: [running] }, { deletionTimestamp: at(40) })],
      events: [],
    },
    expected: { kind: 'DisruptionTarget', reason: 'EvictionByEvictionAPI', message: 'Eviction API: evicting', exitCode: null, at: at(40).toISOString() },
  },
  'a pod the scheduler preempted (DisruptionTarget PreemptionByScheduler) is DisruptionTarget': {
    evidence: {
      verdict: failedVerdict(),
      job: BACKOFF,
      pods: [pod('p-1', { phase: 'Failed', conditions: [disruption('PreemptionByScheduler', 'batch/urgent-x on node aks-nodepool1-0')], containerStatuses: [terminated(143, 'Error')] })],
      events: [],
    },
    expected: { kind: 'DisruptionTarget', reason: 'PreemptionByScheduler', exitCode: 143, signal: 'SIGTERM' },
  },
  'a pod stopped by the kubelet for a node shutdown (reason Terminated, TerminationByKubelet) is DisruptionTarget, not Evicted': {
    evidence: {
      verdict: failedVerdict(),
      job: BACKOFF,
      pods: [
        pod('p-1', {
          phase: 'Failed',
          reason: 'Terminated',
          message: 'Pod was terminated in response to imminent node shutdown.',
          conditions: [disruption('TerminationByKubelet', 'Pod was terminated in response to imminent node shutdown.')],
          containerStatuses: [terminated(137, 'Error')],
        }),
      ],
      events: [],
    },
    expected: { kind: 'DisruptionTarget', reason: 'TerminationByKubelet' },
  },
  'a pod PodGC deleted because its node was deleted (DisruptionTarget DeletionByPodGC) is NodeLost': {
    evidence: {
      verdict: failedVerdict(),
      job: BACKOFF,
      pods: [pod('p-1', { phase: 'Failed', conditions: [disruption('DeletionByPodGC', 'PodGC: node no longer exists')], containerStatuses: [running] }, { deletionTimestamp: at(40) })],
      events: [],
    },
    expected: { kind: 'NodeLost', reason: 'DeletionByPodGC', node: 'aks-nodepool1-0', exitCode: null },
  },
  'a pod in phase Unknown (its node stopped reporting) is NodeLost': {
    evidence: { verdict: failedVerdict(), job: BACKOFF, pods: [pod('p-1', { phase: 'Unknown', containerStatuses: [running] })], events: [] },
    expected: { kind: 'NodeLost', reason: 'Unknown' },
  },
  'activeDeadlineSeconds passed (Job condition DeadlineExceeded) is DeadlineExceeded, not the pod\'s killed container': {
    evidence: {
      verdict: failedVerdict('DeadlineExceeded', 'Job was active longer than specified deadline'),
      job: failedJob('DeadlineExceeded', 'Job was active longer than specified deadline'),
      pods: [pod('p-1', { phase: 'Failed', containerStatuses: [terminated(137, 'Error')] }, { deletionTimestamp: at(59) })],
      events: [],
    },
    expected: { kind: 'DeadlineExceeded', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline', pod: 'p-1', exitCode: null, at: at(60).toISOString() },
  },
  'a podFailurePolicy FailJob rule on exit codes names the rule, the exit code, the container and the pod': {
    evidence: {
      verdict: failedVerdict('PodFailurePolicy', 'Container main for pod batch/p-1 failed with exit code 42 matching FailJob rule at index 0'),
      job: job({ type: 'FailureTarget', status: 'True', reason: 'PodFailurePolicy', message: 'Container main for pod batch/p-1 failed with exit code 42 matching FailJob rule at index 0' }),
      pods: [pod('p-1', { phase: 'Failed', containerStatuses: [terminated(42, 'Error')] })],
      events: [],
    },
    expected: { kind: 'PodFailurePolicy', exitCode: 42, rule: 0, container: 'main', pod: 'p-1', node: 'aks-nodepool1-0', reason: 'PodFailurePolicy' },
  },
  'a podFailurePolicy FailJob rule on a pod condition names the rule and the pod': {
    evidence: {
      verdict: failedVerdict('PodFailurePolicy', 'Pod batch/p-1 has condition DisruptionTarget matching FailJob rule at index 1'),
      job: failedJob('PodFailurePolicy', 'Pod batch/p-1 has condition DisruptionTarget matching FailJob rule at index 1'),
      pods: [],
      events: [],
    },
    expected: { kind: 'PodFailurePolicy', exitCode: null, rule: 1, pod: 'p-1' },
  },
  'an image that cannot be pulled, past its grace (the app\'s verdict ImagePullBackOff), is ImagePull on the waiting container': {
    evidence: {
      verdict: failedVerdict('ImagePullBackOff', 'container main: Back-off pulling image "registry.invalid/nope:1"'),
      job: job(undefined, 0),
      pods: [
        pod('p-1', {
          phase: 'Pending',
          containerStatuses: [{ name: 'main', image: 'registry.invalid/nope:1', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff' } } }],
        }),
      ],
      events: [],
    },
    expected: { kind: 'ImagePull', reason: 'ImagePullBackOff', container: 'main', pod: 'p-1', exitCode: null },
  },
  'a missing Secret key (the app\'s verdict CreateContainerConfigError) is CreateContainerConfigError': {
    evidence: {
      verdict: failedVerdict('CreateContainerConfigError', 'container main: couldn\'t find key password in Secret batch/db'),
      job: job(undefined, 0),
      pods: [
        pod('p-1', {
          phase: 'Pending',
          containerStatuses: [
            { name: 'main', image: 'x', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'CreateContainerConfigError', message: "couldn't find key password in Secret batch/db" } } },
          ],
        }),
      ],
      events: [],
    },
    expected: { kind: 'CreateContainerConfigError', container: 'main', pod: 'p-1' },
  },
  'a pod no node can take (the app\'s verdict Unschedulable) is Unschedulable, on no node': {
    evidence: {
      verdict: failedVerdict('Unschedulable', '0/2 nodes are available: 2 node(s) didn\'t match Pod\'s node affinity/selector.'),
      job: job(undefined, 0),
      pods: [pod('p-1', { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] })],
      events: [],
    },
    expected: { kind: 'Unschedulable', pod: 'p-1', node: null },
  },
  'pods refused by a quota (the app\'s verdict QuotaExceeded) is PodCreation': {
    evidence: { verdict: failedVerdict('QuotaExceeded', 'pods "p-1" is forbidden: exceeded quota: q'), job: job(undefined, 0), pods: [], events: [] },
    expected: { kind: 'PodCreation', reason: 'QuotaExceeded' },
  },
  'the app\'s own timeout is RunTimeout': {
    evidence: { verdict: failedVerdict('RunTimeout', 'the run did not finish within timeoutSeconds=60, so its Job was deleted'), job: null, pods: [], events: [] },
    expected: { kind: 'RunTimeout', reason: 'RunTimeout', exitCode: null },
  },
  'a Job the orchestration could not create is NotSubmitted': {
    evidence: { verdict: failedVerdict('SubmitFailed', 'could not create the Job: no answer'), job: null, pods: [], events: [] },
    expected: { kind: 'NotSubmitted', reason: 'SubmitFailed' },
  },
  'a cancel on request is Cancelled, with its reason and message (who asked, and why)': {
    evidence: { verdict: { status: 'Cancelled', reason: 'CancelRequested', message: 'cancelled: the window closed' }, job: null, pods: [], events: [] },
    expected: { kind: 'Cancelled', reason: 'CancelRequested', message: 'cancelled: the window closed' },
  },
  'a Job deleted by someone else is Cancelled with reason JobDeleted': {
    evidence: { verdict: { status: 'Cancelled', reason: 'JobDeleted', message: 'the Job was deleted by someone else while it was running' }, job: null, pods: [], events: [] },
    expected: { kind: 'Cancelled', reason: 'JobDeleted' },
  },
  'a pod gone by the verdict but seen evicted by an earlier look keeps its cause': {
    evidence: {
      verdict: failedVerdict(),
      job: BACKOFF,
      pods: [],
      seenPods: [pod('p-1', { phase: 'Running', conditions: [disruption('EvictionByEvictionAPI', 'Eviction API: evicting')], containerStatuses: [running] }, { deletionTimestamp: at(40) })],
      events: [],
    },
    expected: { kind: 'DisruptionTarget', reason: 'EvictionByEvictionAPI', pod: 'p-1' },
  },
  'a pod gone and never seen, with the kubelet\'s Evicted event left, is Evicted': {
    evidence: { verdict: failedVerdict(), job: BACKOFF, pods: [], events: [event('p-1', 'Evicted', 'The node was low on resource: ephemeral-storage.')] },
    expected: { kind: 'Evicted', pod: 'p-1', message: 'The node was low on resource: ephemeral-storage.' },
  },
  'a pod gone and never seen, with the scheduler\'s Preempted event left, is DisruptionTarget PreemptionByScheduler': {
    evidence: { verdict: failedVerdict(), job: BACKOFF, pods: [], events: [event('p-1', 'Preempted', 'Preempted by pod 6f1c on node aks-nodepool1-0')] },
    expected: { kind: 'DisruptionTarget', reason: 'PreemptionByScheduler', pod: 'p-1' },
  },
  'a failed Job with nothing left that explains it is Unknown with the raw reason': {
    evidence: { verdict: failedVerdict(), job: BACKOFF, pods: [], events: [] },
    expected: { kind: 'Unknown', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' },
  },
  'a failed init container is the failing container': {
    evidence: {
      verdict: failedVerdict(),
      job: BACKOFF,
      pods: [
        pod('p-1', {
          phase: 'Failed',
          initContainerStatuses: [{ ...terminated(1, 'Error'), name: 'migrate' }],
          containerStatuses: [{ name: 'main', image: 'x', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'PodInitializing' } } }],
        }),
      ],
      events: [],
    },
    expected: { kind: 'ExitCode', container: 'migrate', exitCode: 1 },
  },
  'restartPolicy OnFailure: a container waiting in CrashLoopBackOff is judged by its last termination': {
    evidence: {
      verdict: failedVerdict(),
      job: BACKOFF,
      pods: [
        pod(
          'p-1',
          {
            phase: 'Running',
            containerStatuses: [
              { name: 'main', image: 'x', imageID: '', ready: false, restartCount: 6, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 2, reason: 'Error', finishedAt: at(50) } } },
            ],
          },
          { deletionTimestamp: at(55) },
        ),
      ],
      events: [],
    },
    expected: { kind: 'ExitCode', exitCode: 2 },
  },
};

describe('classifyFailure', () => {
  it.each(Object.entries(cases))('%s', (_, { evidence, expected }) => {
    const failure = classifyFailure({ ...evidence, now: at(90) });
    expect(failure).toMatchObject(expected);
    // Every failure is what the snapshot schema documents.
    expect(runFailureSchema().parse(failure)).toEqual(failure);
  });

  it('a successful run has no failure', () => {
    expect(classifyFailure({ verdict: { status: 'Success', reason: 'Complete', message: '' }, job: null, pods: [], events: [], now: t0 })).toBeUndefined();
  });

  it('a verdict made without a look gets the kind its reason gives, at the verdict time', () => {
    expect(failureOfVerdict({ status: 'Failed', reason: 'RunTimeout', message: 'late' }, t0)).toMatchObject({ kind: 'RunTimeout', at: t0.toISOString() });
    expect(failureOfVerdict({ status: 'Failed', reason: 'OrchestrationFailed', message: 'boom' }, t0)).toMatchObject({ kind: 'Unknown', reason: 'OrchestrationFailed' });
    expect(failureOfVerdict({ status: 'Running', reason: 'Running', message: '' }, t0)).toBeUndefined();
  });

  it('withFailure puts the kind and exit code at the top level too, and the snapshot schema takes them', () => {
    const snapshot: RunSnapshot = {
      runId: RUN,
      status: 'Failed',
      reason: 'BackoffLimitExceeded',
      message: '',
      cluster: 'dev',
      namespace: NS,
      jobName: RUN,
      source: { kind: 'Job', name: 'nightly' },
      startTime: null,
      completionTime: null,
      pods: { active: 0, ready: 0, succeeded: 0, failed: 1 },
      monitorUrl: null,
      outputs: {},
      observedAt: t0.toISOString(),
    };
    const oom = cases['a container the runtime OOM-killed (terminated, reason OOMKilled, 137) is OOMKilled with SIGKILL'];
    if (!oom) throw new Error('no such case');
    const failure = classifyFailure({ ...oom.evidence, now: t0 });
    const withIt = withFailure(snapshot, failure);
    expect(withIt).toMatchObject({ failureKind: 'OOMKilled', exitCode: 137, failure: { kind: 'OOMKilled' } });
    expect(runSnapshotSchema().parse(withIt)).toEqual(withIt);
    expect(withFailure(snapshot, undefined)).toBe(snapshot);
  });
});

describe('logTail', () => {
  const numbered = (n: number) => Array.from({ length: n }, (_, i) => `line ${String(i + 1)}`).join('\n') + '\n';

  it('keeps the last 50 lines, ending with the last line printed', () => {
    const tail = logTail(numbered(500));
    const lines = tail.split('\n');
    expect(lines).toHaveLength(50);
    expect(lines[0]).toBe('line 451');
    expect(lines.at(-1)).toBe('line 500');
  });

  it('keeps whole lines within the byte bound, the last ones', () => {
    const long = Array.from({ length: 40 }, (_, i) => `${String(i).padStart(2, '0')} ${'x'.repeat(200)}`).join('\n');
    const tail = logTail(long, 50, 1000);
    expect(Buffer.byteLength(tail)).toBeLessThanOrEqual(1000);
    expect(tail.split('\n').every((l) => l.length === 203)).toBe(true);
    expect(tail.endsWith('x')).toBe(true);
    expect(tail.split('\n').at(-1)?.startsWith('39 ')).toBe(true);
  });

  it('keeps the end of one line longer than the bound, never splitting a UTF-8 character', () => {
    const tail = logTail(`${'é'.repeat(3000)}END`, 50, 1001);
    expect(Buffer.byteLength(tail)).toBeLessThanOrEqual(1001);
    expect(tail.endsWith('END')).toBe(true);
    expect(tail).not.toContain('\uFFFD');
  });

  it('a short log is kept whole', () => {
    expect(logTail('one\ntwo\n')).toBe('one\ntwo');
  });
});

describe('logTailTarget', () => {
  const failure = (pod: string, container: string | null): RunFailure => ({
    kind: 'ExitCode',
    exitCode: 1,
    signal: null,
    container,
    pod,
    node: null,
    attempt: 1,
    reason: 'Error',
    message: '',
    at: null,
  });

  it('the failing container of a pod still there, its current instance when it has terminated', () => {
    const pods = [pod('p-1', { phase: 'Failed', containerStatuses: [terminated(1, 'Error')] })];
    expect(logTailTarget(failure('p-1', 'main'), pods)).toEqual({ pod: 'p-1', container: 'main', previous: false });
  });

  it('the previous instance of a container that restarted since it failed', () => {
    const pods = [
      pod('p-1', {
        phase: 'Running',
        containerStatuses: [{ name: 'main', image: 'x', imageID: '', ready: false, restartCount: 1, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 1 } } }],
      }),
    ];
    expect(logTailTarget(failure('p-1', 'main'), pods)).toEqual({ pod: 'p-1', container: 'main', previous: true });
  });

  it('nothing for a pod that is gone or a container that never ran', () => {
    expect(logTailTarget(failure('p-9', 'main'), [])).toBeUndefined();
    const waiting = [pod('p-1', { phase: 'Pending', containerStatuses: [{ name: 'main', image: 'x', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ErrImagePull' } } }] })];
    expect(logTailTarget(failure('p-1', 'main'), waiting)).toBeUndefined();
  });
});
