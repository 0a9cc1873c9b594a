import type { CoreV1Event, V1ContainerStatus, V1Job, V1JobCondition, V1JobStatus, V1Pod, V1PodCondition } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import type { GracePeriods } from '../../src/config.js';
import type { RunRef, RunSnapshot } from '../../src/core/run.js';
import { aksMonitorUrl, KUEUE_QUEUE_LABEL, mapRunStatus, type Observation, outputsFromPods, verdictOutlivedByJob } from '../../src/core/status.js';

const t0 = new Date('2026-11-23T10:00:00Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);

const RUN_ID = 'nightly-abcdefghij';
const ref: RunRef = { runId: RUN_ID, cluster: 'dev', namespace: 'batch', source: { kind: 'Job', name: 'nightly' } };
const grace: GracePeriods = { imagePullSeconds: 120, containerConfigSeconds: 60, unschedulableSeconds: 600, quotaSeconds: 300 };
const MONITOR = 'https://portal.azure.com/#resource/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks/workloads';

function job(status?: V1JobStatus, extra: { suspend?: boolean; deletionTimestamp?: Date } = {}): V1Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: RUN_ID,
      namespace: 'batch',
      creationTimestamp: t0,
      ...(extra.deletionTimestamp ? { deletionTimestamp: extra.deletionTimestamp } : {}),
    },
    spec: {
      ...(extra.suspend === undefined ? {} : { suspend: extra.suspend }),
      template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'registry.example.com/nightly:1' }] } },
    },
    ...(status ? { status } : {}),
  };
}

function cond(type: string, reason?: string, message?: string, status = 'True', lastTransitionTime?: Date): V1JobCondition {
  return {
    type,
    status,
    ...(reason ? { reason } : {}),
    ...(message ? { message } : {}),
    ...(lastTransitionTime ? { lastTransitionTime } : {}),
  };
}

function waiting(name: string, reason: string, message?: string): V1ContainerStatus {
  return {
    name,
    image: 'registry.example.com/nightly:1',
    imageID: '',
    ready: false,
    restartCount: 0,
    state: { waiting: { reason, ...(message ? { message } : {}) } },
  };
}

function running(name: string): V1ContainerStatus {
  return { name, image: 'registry.example.com/nightly:1', imageID: '', ready: true, restartCount: 0, state: { running: { startedAt: t0 } } };
}

interface PodShape {
  name?: string;
  created?: Date;
  containers?: V1ContainerStatus[];
  initContainers?: V1ContainerStatus[];
  conditions?: V1PodCondition[];
  phase?: string;
  deletionTimestamp?: Date;
}

function pod(shape: PodShape = {}): V1Pod {
  return {
    metadata: {
      name: shape.name ?? `${RUN_ID}-x7k2p`,
      namespace: 'batch',
      creationTimestamp: shape.created ?? at(10),
      labels: { 'batch.kubernetes.io/job-name': RUN_ID },
      ...(shape.deletionTimestamp ? { deletionTimestamp: shape.deletionTimestamp } : {}),
    },
    spec: { containers: [{ name: 'main', image: 'registry.example.com/nightly:1' }] },
    status: {
      phase: shape.phase ?? 'Pending',
      ...(shape.containers ? { containerStatuses: shape.containers } : {}),
      ...(shape.initContainers ? { initContainerStatuses: shape.initContainers } : {}),
      ...(shape.conditions ? { conditions: shape.conditions } : {}),
    },
  };
}

function event(kind: 'Job' | 'Pod', name: string, reason: string, message: string, last: Date, first: Date = last): CoreV1Event {
  return {
    metadata: { name: `${name}.${String(last.getTime())}`, namespace: 'batch' },
    involvedObject: { kind, name, namespace: 'batch' },
    reason,
    message,
    firstTimestamp: first,
    lastTimestamp: last,
  };
}

function observe(observation: Partial<Observation> & { now: Date }, monitorUrl: string | null = MONITOR): RunSnapshot {
  return mapRunStatus(ref, { job: null, pods: [], events: [], ...observation }, grace, monitorUrl);
}

type Verdict = Pick<RunSnapshot, 'status' | 'reason' | 'message'>;
const verdict = (s: RunSnapshot): Verdict => ({ status: s.status, reason: s.reason, message: s.message });

describe('mapRunStatus: Job conditions', () => {
  const cases: { name: string; job: V1Job; expected: Verdict }[] = [
    {
      name: 'a Job with a Complete condition is Success',
      job: job({ succeeded: 1, conditions: [cond('Complete', 'CompletionsReached', 'Reached expected number of succeeded pods')] }),
      expected: { status: 'Success', reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' },
    },
    {
      name: 'a Job with only SuccessCriteriaMet (pods still terminating) is Success',
      job: job({ active: 0, succeeded: 1, conditions: [cond('SuccessCriteriaMet', 'CompletionsReached', 'Reached expected number of succeeded pods')] }),
      expected: { status: 'Success', reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' },
    },
    {
      name: 'a Job with only FailureTarget BackoffLimitExceeded is Failed with that reason',
      job: job({ failed: 2, conditions: [cond('FailureTarget', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit')] }),
      expected: { status: 'Failed', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' },
    },
    {
      name: 'a Job with only FailureTarget DeadlineExceeded is Failed with that reason',
      job: job({ active: 1, conditions: [cond('FailureTarget', 'DeadlineExceeded', 'Job was active longer than specified deadline')] }),
      expected: { status: 'Failed', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' },
    },
    {
      name: 'a Job with only FailureTarget PodFailurePolicy is Failed with that reason',
      job: job({
        failed: 1,
        conditions: [cond('FailureTarget', 'PodFailurePolicy', 'Container main for pod batch/p failed with exit code 42 matching FailJob rule at index 0')],
      }),
      expected: {
        status: 'Failed',
        reason: 'PodFailurePolicy',
        message: 'Container main for pod batch/p failed with exit code 42 matching FailJob rule at index 0',
      },
    },
    {
      name: 'a Job with a Failed condition is Failed',
      job: job({
        failed: 2,
        conditions: [
          cond('FailureTarget', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit'),
          cond('Failed', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit'),
        ],
      }),
      expected: { status: 'Failed', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' },
    },
    {
      name: 'a Failed condition without reason or message still says Failed',
      job: job({ conditions: [cond('Failed')] }),
      expected: { status: 'Failed', reason: 'Failed', message: 'the Job failed' },
    },
    {
      name: 'a Job with a Suspended condition is Cancelled',
      job: job({ conditions: [cond('Suspended', 'JobSuspended', 'Job suspended')] }, { suspend: true }),
      expected: { status: 'Cancelled', reason: 'Suspended', message: 'Job suspended' },
    },
    {
      name: 'a Job with spec.suspend true and no condition yet is Cancelled',
      job: job(undefined, { suspend: true }),
      expected: {
        status: 'Cancelled',
        reason: 'Suspended',
        message: 'the Job was suspended, so its pods were removed and it will not run on its own',
      },
    },
    {
      name: 'a Job with active pods is Running',
      job: job({ active: 2, ready: 1, startTime: t0 }),
      expected: { status: 'Running', reason: 'Running', message: '2 pod(s) active, 1 ready' },
    },
    {
      name: 'a Job with a startTime and no active pod is Running',
      job: job({ startTime: t0 }),
      expected: { status: 'Running', reason: 'Running', message: '0 pod(s) active, 0 ready' },
    },
    {
      name: 'a Job without status is Starting',
      job: job(),
      expected: { status: 'Starting', reason: 'Created', message: 'the Job is created and waits for its first pod' },
    },
    {
      name: 'a Job with an empty status is Starting',
      job: job({}),
      expected: { status: 'Starting', reason: 'Created', message: 'the Job is created and waits for its first pod' },
    },
    {
      name: 'conditions with status "False" are ignored',
      job: job({
        active: 1,
        ready: 1,
        startTime: t0,
        conditions: [
          cond('Failed', 'BackoffLimitExceeded', 'x', 'False'),
          cond('Complete', 'CompletionsReached', 'y', 'False'),
          cond('Suspended', 'JobResumed', 'z', 'False'),
        ],
      }),
      expected: { status: 'Running', reason: 'Running', message: '1 pod(s) active, 1 ready' },
    },
    {
      name: 'a resumed Job (Suspended False) with spec.suspend false is Running',
      job: job({ active: 1, startTime: t0, conditions: [cond('Suspended', 'JobResumed', 'Job resumed', 'False')] }, { suspend: false }),
      expected: { status: 'Running', reason: 'Running', message: '1 pod(s) active, 0 ready' },
    },
    {
      name: 'a Job with only conditions this app does not know is Unknown',
      job: job({ conditions: [cond('SomethingNew', 'Why', 'what')] }),
      expected: { status: 'Unknown', reason: 'Unknown', message: 'the Job has conditions this app does not know' },
    },
  ];

  it.each(cases)('$name', ({ job: given, expected }) => {
    expect(verdict(observe({ job: given, now: at(30) }))).toEqual(expected);
  });

  it('a Success without completionTime takes the condition transition time', () => {
    const snap = observe({ job: job({ startTime: t0, conditions: [cond('SuccessCriteriaMet', 'CompletionsReached', 'done', 'True', at(42))] }), now: at(45) });
    expect(snap.completionTime).toBe('2026-11-23T10:00:42.000Z');
  });

  it.each(['FailureTarget', 'Failed'])('a failed Job (%s) ended when its condition says: the Job controller sets completionTime on success only', (type) => {
    const snap = observe({ job: job({ startTime: t0, failed: 1, conditions: [cond(type, 'BackoffLimitExceeded', 'Job has reached the specified backoff limit', 'True', at(42))] }), now: at(45) });
    expect(snap).toMatchObject({ status: 'Failed', startTime: t0.toISOString(), completionTime: '2026-11-23T10:00:42.000Z' });
  });
});

describe('mapRunStatus: pod counts at a verdict', () => {
  it.each([
    [
      'SuccessCriteriaMet while the succeeded pods still wait to be counted',
      job({ succeeded: 0, uncountedTerminatedPods: { succeeded: ['u1', 'u2'] }, conditions: [cond('SuccessCriteriaMet', 'CompletionsReached')] }),
      { active: 0, ready: 0, succeeded: 2, failed: 0 },
    ],
    [
      'FailureTarget while a failed pod still waits to be counted',
      job({ failed: 1, uncountedTerminatedPods: { failed: ['u3'] }, conditions: [cond('FailureTarget', 'BackoffLimitExceeded')] }),
      { active: 0, ready: 0, succeeded: 0, failed: 2 },
    ],
    ['Complete, every pod counted', job({ succeeded: 2, uncountedTerminatedPods: {}, conditions: [cond('Complete', 'CompletionsReached')] }), { active: 0, ready: 0, succeeded: 2, failed: 0 }],
  ])('%s: the counts are those the final status will have', (_, given, counts) => {
    expect(observe({ job: given, now: at(5) }).pods).toEqual(counts);
  });
});

describe('mapRunStatus: a Job that is gone', () => {
  const cases: { name: string; job: V1Job | null; events: CoreV1Event[]; expected: Verdict & Partial<RunSnapshot> }[] = [
    {
      name: 'a Job deleted without a verdict event is Cancelled JobDeleted',
      job: null,
      events: [],
      expected: { status: 'Cancelled', reason: 'JobDeleted', message: 'the Job was deleted by someone else while it was running' },
    },
    {
      name: 'a Job removed after its Completed event is Success',
      job: null,
      events: [event('Job', RUN_ID, 'SuccessfulCreate', 'Created pod: p', at(1)), event('Job', RUN_ID, 'Completed', 'Job completed', at(90))],
      expected: {
        status: 'Success',
        reason: 'CompletionsReached',
        message: 'the Job completed and was then removed (Job completed)',
        completionTime: '2026-11-23T10:01:30.000Z',
      },
    },
    {
      name: 'a Job removed after its BackoffLimitExceeded event is Failed',
      job: null,
      events: [event('Job', RUN_ID, 'BackoffLimitExceeded', 'Job has reached the specified backoff limit', at(90))],
      expected: {
        status: 'Failed',
        reason: 'BackoffLimitExceeded',
        message: 'Job has reached the specified backoff limit (the Job was then removed)',
      },
    },
    {
      name: "another Job's Completed event does not count for this run",
      job: null,
      events: [event('Job', 'nightly-0000000000', 'Completed', 'Job completed', at(90))],
      expected: { status: 'Cancelled', reason: 'JobDeleted', message: 'the Job was deleted by someone else while it was running' },
    },
    {
      name: 'a running Job with a deletionTimestamp is Cancelled JobDeleted',
      job: job({ active: 1, ready: 1, startTime: t0 }, { deletionTimestamp: at(60) }),
      events: [],
      expected: {
        status: 'Cancelled',
        reason: 'JobDeleted',
        message: 'the Job was deleted by someone else while it was running',
        pods: { active: 1, ready: 1, succeeded: 0, failed: 0 },
      },
    },
    // The TTL-after-finished controller deletes with Foreground propagation: the finished Job keeps its
    // Complete condition while it waits for its pods to go. That is a success, not a deletion mid-run.
    {
      name: 'a Complete Job that is being deleted (ttlSecondsAfterFinished) is Success',
      job: job(
        {
          succeeded: 1,
          startTime: t0,
          completionTime: at(90),
          conditions: [cond('Complete', 'CompletionsReached', 'Reached expected number of succeeded pods')],
        },
        { deletionTimestamp: at(200) },
      ),
      events: [],
      expected: { status: 'Success', reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' },
    },
  ];

  it.each(cases)('$name', ({ job: given, events, expected }) => {
    expect(observe({ job: given, events, now: at(300) })).toMatchObject(expected);
  });
});

describe('mapRunStatus: pods that cannot start', () => {
  const podCreated = at(10);
  const startedJob = () => job({ active: 1, startTime: at(1) });

  interface ProblemCase {
    name: string;
    graceSeconds: number;
    since: Date;
    job?: () => V1Job;
    pods: V1Pod[];
    events?: CoreV1Event[];
    reason: string;
    message: string;
  }

  const pull = 'Back-off pulling image "registry.example.com/nightly:1"';
  const problems: ProblemCase[] = [
    {
      name: 'a pod in ErrImagePull',
      graceSeconds: grace.imagePullSeconds,
      since: podCreated,
      pods: [pod({ containers: [waiting('main', 'ErrImagePull', 'rpc error: code = NotFound desc = manifest unknown')] })],
      reason: 'ErrImagePull',
      message: 'container main: rpc error: code = NotFound desc = manifest unknown',
    },
    {
      name: 'a pod in ImagePullBackOff',
      graceSeconds: grace.imagePullSeconds,
      since: podCreated,
      pods: [pod({ containers: [waiting('main', 'ImagePullBackOff', pull)] })],
      reason: 'ImagePullBackOff',
      message: `container main: ${pull}`,
    },
    {
      name: 'a pod in ImagePullBackOff without a waiting message (message from the pod event)',
      graceSeconds: grace.imagePullSeconds,
      since: podCreated,
      pods: [pod({ containers: [waiting('main', 'ImagePullBackOff')] })],
      events: [
        event('Pod', `${RUN_ID}-x7k2p`, 'Failed', 'Failed to pull image: older', at(12)),
        event('Pod', `${RUN_ID}-x7k2p`, 'Failed', 'Failed to pull image: 401 Unauthorized', at(20)),
        event('Pod', 'another-pod', 'Failed', 'Failed to pull image: not ours', at(25)),
      ],
      reason: 'ImagePullBackOff',
      message: 'container main: Failed to pull image: 401 Unauthorized',
    },
    {
      name: 'an init container in ImagePullBackOff',
      graceSeconds: grace.imagePullSeconds,
      since: podCreated,
      pods: [pod({ initContainers: [waiting('migrate', 'ImagePullBackOff', pull)], containers: [waiting('main', 'PodInitializing')] })],
      reason: 'ImagePullBackOff',
      message: `container migrate: ${pull}`,
    },
    {
      name: 'a pod in CreateContainerConfigError',
      graceSeconds: grace.containerConfigSeconds,
      since: podCreated,
      pods: [pod({ containers: [waiting('main', 'CreateContainerConfigError', 'secret "db" not found')] })],
      reason: 'CreateContainerConfigError',
      message: 'container main: secret "db" not found',
    },
    {
      name: 'an Unschedulable pod (PodScheduled False)',
      graceSeconds: grace.unschedulableSeconds,
      since: podCreated,
      pods: [
        pod({
          conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient cpu.' }],
        }),
      ],
      reason: 'Unschedulable',
      message: '0/3 nodes are available: 3 Insufficient cpu.',
    },
    {
      name: 'an Unschedulable pod without a condition message (message from the FailedScheduling event)',
      graceSeconds: grace.unschedulableSeconds,
      since: podCreated,
      pods: [pod({ conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] })],
      events: [event('Pod', `${RUN_ID}-x7k2p`, 'FailedScheduling', '0/3 nodes are available: 3 node(s) had untolerated taint.', at(11))],
      reason: 'Unschedulable',
      message: '0/3 nodes are available: 3 node(s) had untolerated taint.',
    },
    {
      name: 'a FailedCreate event for an exceeded quota',
      graceSeconds: grace.quotaSeconds,
      since: at(5),
      job: () => job({ startTime: at(1) }),
      pods: [],
      events: [
        event(
          'Job',
          RUN_ID,
          'FailedCreate',
          `Error creating: pods "${RUN_ID}-x7k2p" is forbidden: exceeded quota: compute, requested: cpu=2, used: cpu=8, limited: cpu=8`,
          at(40),
          at(5),
        ),
      ],
      reason: 'QuotaExceeded',
      message: `Error creating: pods "${RUN_ID}-x7k2p" is forbidden: exceeded quota: compute, requested: cpu=2, used: cpu=8, limited: cpu=8`,
    },
  ];

  it.each(problems)('a Job with $name in its grace period is Starting and says how long is left', (c) => {
    const now = new Date(c.since.getTime() + (c.graceSeconds - 30) * 1000);
    const snap = observe({ job: (c.job ?? startedJob)(), pods: c.pods, events: c.events ?? [], now });
    expect(verdict(snap)).toEqual({ status: 'Starting', reason: c.reason, message: `${c.message} (the run fails if this lasts another 30s)` });
  });

  it.each(problems)('a Job with $name past its grace period is Failed with that reason and message', (c) => {
    const now = new Date(c.since.getTime() + c.graceSeconds * 1000);
    const snap = observe({ job: (c.job ?? startedJob)(), pods: c.pods, events: c.events ?? [], now });
    expect(verdict(snap)).toEqual({ status: 'Failed', reason: c.reason, message: c.message });
  });

  it.each([
    { name: 'InvalidImageName', message: 'Failed to apply default image tag "Registry/Bad Name": invalid reference format' },
    { name: 'ErrImageNeverPull', message: 'Container image "nightly:1" is not present with pull policy of Never' },
  ])('a Job whose pod has $name is Failed at once, without grace', ({ name, message }) => {
    const snap = observe({ job: startedJob(), pods: [pod({ containers: [waiting('main', name, message)] })], now: podCreated });
    expect(verdict(snap)).toEqual({ status: 'Failed', reason: name, message: `container main: ${message}` });
  });

  it('grace is measured from the pod creationTimestamp, not from the Job', () => {
    const pods = [pod({ created: at(10), containers: [waiting('main', 'ImagePullBackOff', pull)] })];
    expect(verdict(observe({ job: startedJob(), pods, now: at(125) }))).toEqual({
      status: 'Starting',
      reason: 'ImagePullBackOff',
      message: `container main: ${pull} (the run fails if this lasts another 5s)`,
    });
    expect(observe({ job: startedJob(), pods, now: at(129) }).status).toBe('Starting');
    expect(observe({ job: startedJob(), pods, now: at(130) }).status).toBe('Failed');
  });

  it('quota grace is measured from the first FailedCreate event, not the last', () => {
    const quota = `Error creating: pods "${RUN_ID}-a" is forbidden: exceeded quota: compute`;
    const events = [
      event('Job', RUN_ID, 'FailedCreate', quota, at(200), at(5)),
      event('Job', RUN_ID, 'FailedCreate', quota, at(250), at(100)),
    ];
    const quotaJob = job({ startTime: at(1) });
    expect(verdict(observe({ job: quotaJob, events, now: at(255) }))).toEqual({
      status: 'Starting',
      reason: 'QuotaExceeded',
      message: `${quota} (the run fails if this lasts another 50s)`,
    });
    expect(verdict(observe({ job: quotaJob, events, now: at(305) }))).toEqual({ status: 'Failed', reason: 'QuotaExceeded', message: quota });
  });

  it('a FailedCreate event of another Job is ignored', () => {
    const events = [event('Job', 'other-job', 'FailedCreate', 'Error creating: pods "x" is forbidden: exceeded quota: compute', at(5))];
    expect(observe({ job: job({ startTime: at(1) }), events, now: at(1000) }).status).toBe('Running');
  });

  // The message of an admission refusal is "pods ... is forbidden: violates PodSecurity ...": it is no quota.
  it('a FailedCreate refused by PodSecurity admission past its grace is Failed with reason FailedCreate, not QuotaExceeded', () => {
    const message = `Error creating: pods "${RUN_ID}-x7k2p" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false`;
    const snap = observe({ job: job({ startTime: at(1) }), events: [event('Job', RUN_ID, 'FailedCreate', message, at(5))], now: at(305) });
    expect(verdict(snap)).toEqual({ status: 'Failed', reason: 'FailedCreate', message });
  });

  // Events live for an hour after the quota cleared; a run whose pod then started is not stuck.
  it('a quota refusal that cleared (the pod was created later and runs) does not fail the run past the grace', () => {
    const events = [event('Job', RUN_ID, 'FailedCreate', `Error creating: pods "${RUN_ID}-a" is forbidden: exceeded quota: compute`, at(5))];
    const pods = [pod({ created: at(60), phase: 'Running', containers: [running('main')] })];
    const snap = observe({ job: job({ active: 1, ready: 1, startTime: at(1) }), pods, events, now: at(400) });
    expect(verdict(snap)).toEqual({ status: 'Running', reason: 'Running', message: '1 pod(s) active, 1 ready' });
  });

  it.each([
    {
      name: 'a FailureTarget condition',
      conditions: [cond('FailureTarget', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit')],
      expected: { status: 'Failed', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' },
    },
    {
      name: 'a Complete condition',
      conditions: [cond('Complete', 'CompletionsReached', 'Reached expected number of succeeded pods')],
      expected: { status: 'Success', reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' },
    },
    {
      name: 'a Suspended condition',
      conditions: [cond('Suspended', 'JobSuspended', 'Job suspended')],
      expected: { status: 'Cancelled', reason: 'Suspended', message: 'Job suspended' },
    },
  ])('a pod problem is ignored once the Job has $name', ({ conditions, expected }) => {
    const pods = [pod({ containers: [waiting('main', 'InvalidImageName', 'bad')] })];
    expect(verdict(observe({ job: job({ startTime: at(1), conditions }), pods, now: at(600) }))).toEqual(expected);
  });

  it('a reason with no grace fails the run even when the observer clock is behind the pod creation time', () => {
    const pods = [pod({ containers: [waiting('main', 'InvalidImageName', 'bad')] })];
    const snapshot = observe({ job: job({ active: 1, startTime: at(1) }), pods, now: new Date(t0.getTime() - 30_000) });
    expect(snapshot.status).toBe('Failed');
    expect(snapshot.reason).toBe('InvalidImageName');
  });

  it('a pod being deleted does not count as a problem', () => {
    const pods = [pod({ deletionTimestamp: at(20), containers: [waiting('main', 'InvalidImageName', 'bad')] })];
    expect(verdict(observe({ job: job({ active: 1, startTime: at(1) }), pods, now: at(600) }))).toEqual({
      status: 'Running',
      reason: 'Running',
      message: '1 pod(s) active, 0 ready',
    });
  });

  it.each(['ContainerCreating', 'PodInitializing'])('a container waiting with %s is no problem: the Job is Running', (reason) => {
    const pods = [pod({ containers: [waiting('main', reason)] })];
    expect(observe({ job: job({ active: 1, startTime: at(1) }), pods, now: at(3600) }).status).toBe('Running');
  });

  it('a PodScheduled False condition for another reason is no problem', () => {
    const pods = [pod({ conditions: [{ type: 'PodScheduled', status: 'False', reason: 'SchedulingGated', message: 'gated' }] })];
    expect(observe({ job: job({ active: 1, startTime: at(1) }), pods, now: at(3600) }).status).toBe('Running');
  });

  it('with two pods, one past its grace fails the run even when the other is still in grace', () => {
    const pods = [
      pod({ name: 'young', created: at(100), containers: [waiting('main', 'ImagePullBackOff', 'young')] }),
      pod({ name: 'old', created: at(0), containers: [waiting('main', 'ImagePullBackOff', 'old')] }),
    ];
    expect(verdict(observe({ job: job({ active: 2, startTime: at(1) }), pods, now: at(150) }))).toEqual({
      status: 'Failed',
      reason: 'ImagePullBackOff',
      message: 'container main: old',
    });
  });
});

describe('mapRunStatus: refusals that cleared, and queued Jobs', () => {
  const quota = `Error creating: pods "${RUN_ID}-a" is forbidden: exceeded quota: compute`;

  it('an old quota refusal does not fail a Job that ran a pod since and now waits out its pod-failure backoff', () => {
    // Quota refused at 5 s; a pod ran from 60 s and failed; the Job controller waits before the next pod.
    const events = [event('Job', RUN_ID, 'FailedCreate', quota, at(5))];
    const pods = [pod({ created: at(60), phase: 'Failed' })];
    const snap = observe({ job: job({ failed: 1, startTime: at(1) }), pods, events, now: at(700) });
    expect(verdict(snap)).toEqual({ status: 'Running', reason: 'Running', message: '0 pod(s) active, 0 ready' });
  });

  it('a refusal after the newest pod counts, its grace running from that pod at the earliest', () => {
    // A series of refusals first seen before the pod and seen again after it: grace starts at the pod (60 s).
    const events = [event('Job', RUN_ID, 'FailedCreate', quota, at(200), at(5))];
    const pods = [pod({ created: at(60), phase: 'Failed' })];
    const inGrace = observe({ job: job({ failed: 1, startTime: at(1) }), pods, events, now: at(300) });
    expect(inGrace).toMatchObject({ status: 'Starting', reason: 'QuotaExceeded' });
    expect(inGrace.message).toContain('the run fails if this lasts another 60s');
    const past = observe({ job: job({ failed: 1, startTime: at(1) }), pods, events, now: at(360) });
    expect(verdict(past)).toEqual({ status: 'Failed', reason: 'QuotaExceeded', message: quota });
  });

  it('a suspended Job with a Kueue queue label waits to be admitted: Starting Queued, not Cancelled', () => {
    const queued = job({ conditions: [cond('Suspended', 'JobSuspended', 'Job suspended')] }, { suspend: true });
    queued.metadata = { ...queued.metadata, labels: { [KUEUE_QUEUE_LABEL]: 'batch-queue' } };
    expect(verdict(observe({ job: queued, now: at(30) }))).toEqual({
      status: 'Starting',
      reason: 'Queued',
      message: 'the Job waits in Kueue queue "batch-queue" to be admitted',
    });
  });
});

describe('verdictOutlivedByJob', () => {
  it.each([
    { status: 'Failed', reason: 'ErrImagePull', expected: true },
    { status: 'Failed', reason: 'ImagePullBackOff', expected: true },
    { status: 'Failed', reason: 'InvalidImageName', expected: true },
    { status: 'Failed', reason: 'CreateContainerConfigError', expected: true },
    { status: 'Failed', reason: 'Unschedulable', expected: true },
    { status: 'Failed', reason: 'QuotaExceeded', expected: true },
    { status: 'Failed', reason: 'FailedCreate', expected: true },
    { status: 'Cancelled', reason: 'Suspended', expected: true },
    { status: 'Failed', reason: 'BackoffLimitExceeded', expected: false },
    { status: 'Failed', reason: 'DeadlineExceeded', expected: false },
    { status: 'Cancelled', reason: 'JobDeleted', expected: false },
    { status: 'Success', reason: 'CompletionsReached', expected: false },
    { status: 'Starting', reason: 'ErrImagePull', expected: false },
  ] as const)('$status $reason → $expected', ({ status, reason, expected }) => {
    expect(verdictOutlivedByJob({ status, reason })).toBe(expected);
  });
});

describe('mapRunStatus: snapshot fields', () => {
  it('carries the run, its times, pod counts and the monitor URL', () => {
    const snap = observe({
      job: job({
        active: 0,
        ready: 0,
        succeeded: 1,
        failed: 2,
        startTime: at(1),
        completionTime: at(90),
        conditions: [cond('Complete', 'CompletionsReached', 'Reached expected number of succeeded pods')],
      }),
      now: at(95),
    });
    expect(snap).toEqual({
      runId: RUN_ID,
      status: 'Success',
      reason: 'CompletionsReached',
      message: 'Reached expected number of succeeded pods',
      cluster: 'dev',
      namespace: 'batch',
      jobName: RUN_ID,
      source: { kind: 'Job', name: 'nightly' },
      startTime: '2026-11-23T10:00:01.000Z',
      completionTime: '2026-11-23T10:01:30.000Z',
      pods: { active: 0, ready: 0, succeeded: 1, failed: 2 },
      monitorUrl: MONITOR,
      outputs: {},
      observedAt: '2026-11-23T10:01:35.000Z',
    });
  });

  it('accepts times as the strings the API server sends', () => {
    const raw = job({ startTime: '2026-11-23T10:00:01Z' as unknown as Date, active: 1 });
    expect(observe({ job: raw, now: at(5) }).startTime).toBe('2026-11-23T10:00:01.000Z');
  });

  it('a running Job has no completion time and null passes through as monitor URL', () => {
    const snap = observe({ job: job({ active: 1, startTime: at(1) }), now: at(5) }, null);
    expect(snap.completionTime).toBeNull();
    expect(snap.monitorUrl).toBeNull();
    expect(snap.pods).toEqual({ active: 1, ready: 0, succeeded: 0, failed: 0 });
  });

  it('a deleted Job has no times and zero pod counts', () => {
    const snap = observe({ job: null, now: at(5) });
    expect(snap).toMatchObject({ startTime: null, completionTime: null, pods: { active: 0, ready: 0, succeeded: 0, failed: 0 }, monitorUrl: MONITOR });
  });
});

describe('outputsFromPods', () => {
  function finished(name: string, exitCode: number, finishedAt: Date, messages: Record<string, string>): V1Pod {
    return {
      metadata: { name, namespace: 'batch' },
      spec: { containers: [{ name: 'main', image: 'i' }, { name: 'sidecar', image: 's' }] },
      status: {
        phase: exitCode === 0 ? 'Succeeded' : 'Failed',
        containerStatuses: Object.entries(messages).map(([container, message]) => ({
          name: container,
          image: 'i',
          imageID: '',
          ready: false,
          restartCount: 0,
          state: { terminated: { exitCode, finishedAt, message } },
        })),
      },
    };
  }

  it.each<{ name: string; pods: V1Pod[]; expected: Record<string, unknown> }>([
    {
      name: "the first container's JSON-object termination message is the outputs",
      pods: [finished('p', 0, at(90), { main: '{"rows": 42, "file": "out.csv", "nested": {"a": [1]}}' })],
      expected: { rows: 42, file: 'out.csv', nested: { a: [1] } },
    },
    { name: 'surrounding whitespace is allowed', pods: [finished('p', 0, at(90), { main: '\n  {"ok": true}\n' })], expected: { ok: true } },
    { name: 'a message that is not JSON gives none', pods: [finished('p', 0, at(90), { main: 'done, 42 rows' })], expected: {} },
    { name: 'a broken JSON object gives none', pods: [finished('p', 0, at(90), { main: '{"rows": 42' })], expected: {} },
    { name: 'a JSON array gives none', pods: [finished('p', 0, at(90), { main: '[{"rows": 42}]' })], expected: {} },
    { name: 'a JSON string gives none', pods: [finished('p', 0, at(90), { main: '"rows"' })], expected: {} },
    { name: 'JSON null gives none', pods: [finished('p', 0, at(90), { main: 'null' })], expected: {} },
    { name: "another container's message gives none", pods: [finished('p', 0, at(90), { main: '', sidecar: '{"rows": 42}' })], expected: {} },
    { name: 'no pods give none', pods: [], expected: {} },
    {
      name: 'with two pods the one that exited 0 wins over a later failed one',
      pods: [finished('ok', 0, at(30), { main: '{"attempt": 1}' }), finished('bad', 1, at(60), { main: '{"attempt": 2}' })],
      expected: { attempt: 1 },
    },
    {
      name: 'with two pods the one that exited 0 wins over an earlier failed one',
      pods: [finished('bad', 1, at(30), { main: '{"attempt": 1}' }), finished('ok', 0, at(60), { main: '{"attempt": 2}' })],
      expected: { attempt: 2 },
    },
    {
      name: 'with only failed pods the latest one wins',
      pods: [finished('first', 1, at(30), { main: '{"attempt": 1}' }), finished('second', 2, at(60), { main: '{"attempt": 2}' })],
      expected: { attempt: 2 },
    },
  ])('$name', ({ pods, expected }) => {
    expect(outputsFromPods(pods)).toEqual(expected);
  });
});

describe('aksMonitorUrl', () => {
  it('points at the workloads blade of the cluster', () => {
    expect(aksMonitorUrl('https://portal.azure.com', '00000000-0000-0000-0000-000000000001', 'rg-batch', 'aks-prod')).toBe(
      'https://portal.azure.com/#resource/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-batch/providers/Microsoft.ContainerService/managedClusters/aks-prod/workloads',
    );
  });
});
