import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { LocalDurable } from '../../local/durable/runtime.js';
import type { FailureKind } from '../../src/core/failure.js';
import { cancelRun } from '../../src/functions/cancelRun.js';
import { getRun } from '../../src/functions/getRun.js';
import { startJobRun } from '../../src/functions/startJobRun.js';
import { createServices, setServices } from '../../src/services.js';
import { evicted, fails, FATES,LOCAL_POD_LOG_LINES, succeeds, UNPULLABLE_IMAGE, UNSCHEDULABLE_NODE_SELECTOR, waits } from '../../testenv/fates.js';
import { adminKube, jobPods, testJob, useNamespace, waitFor } from './helpers.js';
import { localRunPath, runPathConfig } from './run-path.js';

/**
 * The fault matrix (issue 22): every failure cause the app names, produced for real on the local control plane
 * (the real Job controller, scheduler, Eviction API and PodGC; kwok playing the kubelet through stages that set
 * the container's terminated state), run through the app's whole run path, each run's failureKind and exitCode
 * asserted. Pods that a cause deletes (an eviction, a deleted node) get a finalizer of the test's own: it stands
 * for the kubelet's graceful termination, which kwok does not model (kwok removes a deleted pod at a random
 * moment from 1 s on); a real kubelet keeps the pod for its grace period, as the pod's status then shows.
 */
const ns = useNamespace('failures');
const kube = adminKube();
let durable: LocalDurable;
const context = () => new InvocationContext({ functionName: 'it', invocationId: 'inv-failures', logHandler: () => undefined });
const BASE = 'http://127.0.0.1:7071/api';
/** Stands for the kubelet's graceful termination (see above); removed when the case is done. */
const HOLD = 'aks-job-runner.test/hold';
/** A node of this file's own, tainted so no other file's pod lands on it, deleted by the node-lost case. */
const NODE_TAINT = { key: 'aks-job-runner.test/failure-matrix', value: 'true', effect: 'NoSchedule' };
let nodeName = '';

beforeAll(async () => {
  setServices(
    createServices(
      runPathConfig(ns(), {
        // Pod problems fail the run at once: the grace periods themselves are tested in test/core/status.test.ts.
        GRACE_IMAGE_PULL_SECONDS: '1',
        GRACE_CONTAINER_CONFIG_SECONDS: '1',
        GRACE_UNSCHEDULABLE_SECONDS: '1',
      }),
    ),
  );
  durable = localRunPath();
  nodeName = `matrix-${ns()}`.slice(0, 63);
  await kube.core.createNode({
    body: {
      metadata: {
        name: nodeName,
        annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
        labels: { 'kubernetes.io/hostname': nodeName, 'kubernetes.io/os': 'linux', type: 'kwok' },
      },
      spec: { taints: [NODE_TAINT] },
      status: { capacity: { cpu: '4', memory: '16Gi', pods: '20' }, allocatable: { cpu: '4', memory: '16Gi', pods: '20' } },
    },
  });
  await waitFor(`node ${nodeName} to be Ready and untainted`, async () => {
    const node = await kube.core.readNode({ name: nodeName });
    const ready = node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    return ready && !(node.spec?.taints ?? []).some((t) => t.key === 'node.kubernetes.io/not-ready');
  }, 90_000);
});

afterAll(async () => {
  await durable.close();
  await kube.core.deleteNode({ name: nodeName }).catch(() => undefined);
});

function json(r: HttpResponseInit): Record<string, unknown> {
  return r.jsonBody as Record<string, unknown>;
}

async function start(name: string, query = ''): Promise<string> {
  const request = new HttpRequest({
    method: 'POST',
    url: `${BASE}/jobs/${ns()}/${name}/runs${query}`,
    params: { namespace: ns(), name },
    headers: { 'content-type': 'application/json' },
    body: { string: '{}' },
  });
  const response = await startJobRun(request, durable, context());
  expect(response.status, JSON.stringify(response.jsonBody)).toBe(202);
  return json(response).runId as string;
}

async function finished(runId: string): Promise<Record<string, unknown>> {
  return waitFor(
    `run ${runId} to finish`,
    async () => {
      const response = await getRun(new HttpRequest({ method: 'GET', url: `${BASE}/runs/${runId}`, params: { runId } }), durable, context());
      return response.status === 202 ? undefined : json(response);
    },
    150_000,
    500,
  );
}

async function runningPod(runId: string): Promise<V1Pod> {
  return waitFor(`a running pod of ${runId}`, async () => (await jobPods(kube, ns(), runId)).find((p) => p.status?.phase === 'Running'), 60_000);
}

/** Keep the pod in the API until the case is done, as a kubelet keeps a terminating pod for its grace period. */
async function hold(pod: V1Pod): Promise<void> {
  await kube.core.patchNamespacedPod({ name: pod.metadata?.name ?? '', namespace: ns(), body: [{ op: 'add', path: '/metadata/finalizers/-', value: HOLD }] });
}

async function release(runId: string): Promise<void> {
  for (const pod of await jobPods(kube, ns(), runId)) {
    const finalizers = pod.metadata?.finalizers ?? [];
    const at = finalizers.indexOf(HOLD);
    if (at < 0) continue;
    await kube.core
      .patchNamespacedPod({
        name: pod.metadata?.name ?? '',
        namespace: ns(),
        body: [
          { op: 'test', path: `/metadata/finalizers/${String(at)}`, value: HOLD },
          { op: 'remove', path: `/metadata/finalizers/${String(at)}` },
        ],
      })
      .catch(() => undefined);
  }
}

async function source(job: V1Job): Promise<void> {
  await kube.batch.createNamespacedJob({ namespace: ns(), body: job });
}

/** A source Job kept suspended: the app's runs are clones of it, not suspended. */
const sourceJob = (name: string, options: Omit<Parameters<typeof testJob>[0], 'name' | 'namespace'>, spec: Partial<NonNullable<V1Job['spec']>> = {}): V1Job => {
  const job = testJob({ name, namespace: ns(), suspend: true, ...options });
  return { ...job, spec: { ...(job.spec as NonNullable<V1Job['spec']>), ...spec } };
};

const onOwnNode = (job: V1Job): V1Job => {
  const template = job.spec?.template;
  if (!template?.spec) throw new Error('no pod template');
  template.spec.nodeSelector = { 'kubernetes.io/hostname': nodeName };
  template.spec.tolerations = [{ key: NODE_TAINT.key, operator: 'Equal', value: NODE_TAINT.value, effect: 'NoSchedule' }];
  return job;
};

interface Case {
  /** What produces the cause, for real. */
  produce: () => Promise<Record<string, unknown>>;
  kind: FailureKind;
  exitCode: number | null;
  /** More of the failure to check. */
  also?: Record<string, unknown>;
}

const cases: Record<string, Case> = {
  'a container exiting 3 (kwok as the kubelet: terminated, Error)': {
    kind: 'ExitCode',
    exitCode: 3,
    also: { reason: 'Error', container: 'main', attempt: 1 },
    produce: async () => {
      await source(sourceJob('exit3', { fate: fails({ exitCode: 3, runFor: '500ms' }) }));
      return finished(await start('exit3'));
    },
  },
  'a container OOM-killed (terminated, OOMKilled, 137)': {
    kind: 'OOMKilled',
    exitCode: 137,
    also: { reason: 'OOMKilled', signal: 'SIGKILL' },
    produce: async () => {
      await source(sourceJob('oom', { fate: fails({ exitCode: 137, reason: 'OOMKilled', runFor: '500ms' }) }));
      return finished(await start('oom'));
    },
  },
  'the last of three attempts decides (backoffLimit 2, exit 5 each time)': {
    kind: 'ExitCode',
    exitCode: 5,
    also: { attempt: 3 },
    produce: async () => {
      await source(sourceJob('retried', { fate: fails({ exitCode: 5, runFor: '200ms' }), backoffLimit: 2 }));
      return finished(await start('retried'));
    },
  },
  'the kubelet evicting under node pressure (kwok stage: Failed, Evicted, TerminationByKubelet)': {
    kind: 'Evicted',
    exitCode: 137,
    also: { reason: 'Evicted' },
    produce: async () => {
      await source(sourceJob('pressure', { fate: evicted({ after: '1s' }) }));
      return finished(await start('pressure'));
    },
  },
  'an eviction through the Eviction API (the API server sets DisruptionTarget, then deletes the pod)': {
    kind: 'DisruptionTarget',
    exitCode: null,
    also: { reason: 'EvictionByEvictionAPI' },
    produce: async () => {
      await source(sourceJob('drained', { fate: succeeds({ runFor: '1h' }) }));
      const runId = await start('drained');
      const pod = await runningPod(runId);
      await hold(pod);
      await kube.core.createNamespacedPodEviction({
        name: pod.metadata?.name ?? '',
        namespace: ns(),
        body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod.metadata?.name ?? '', namespace: ns() } },
      });
      try {
        return await finished(runId);
      } finally {
        await release(runId);
      }
    },
  },
  'a node deleted under a running pod (PodGC: DisruptionTarget DeletionByPodGC)': {
    kind: 'NodeLost',
    exitCode: null,
    also: { reason: 'DeletionByPodGC' },
    produce: async () => {
      await source(onOwnNode(sourceJob('orphaned', { fate: succeeds({ runFor: '1h' }) })));
      const runId = await start('orphaned');
      const pod = await runningPod(runId);
      expect(pod.spec?.nodeName).toBe(nodeName);
      await hold(pod);
      await kube.core.deleteNode({ name: nodeName });
      try {
        return await finished(runId);
      } finally {
        await release(runId);
      }
    },
  },
  'activeDeadlineSeconds passing (the Job controller: DeadlineExceeded)': {
    kind: 'DeadlineExceeded',
    exitCode: null,
    also: { reason: 'DeadlineExceeded' },
    produce: async () => {
      await source(sourceJob('deadline', { fate: succeeds({ runFor: '1h' }), terminationGracePeriodSeconds: 1 }, { activeDeadlineSeconds: 3 }));
      return finished(await start('deadline'));
    },
  },
  'a podFailurePolicy FailJob rule on exit code 42': {
    kind: 'PodFailurePolicy',
    exitCode: 42,
    also: { rule: 0, container: 'main' },
    produce: async () => {
      await source(
        sourceJob(
          'policy',
          { fate: fails({ exitCode: 42, runFor: '500ms' }), backoffLimit: 6 },
          {
            podFailurePolicy: {
              rules: [
                { action: 'FailJob', onExitCodes: { containerName: 'main', operator: 'In', values: [42] } },
                { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
              ],
            },
          },
        ),
      );
      return finished(await start('policy'));
    },
  },
  'a missing Secret key (CreateContainerConfigError past its grace)': {
    kind: 'CreateContainerConfigError',
    exitCode: null,
    also: { container: 'main' },
    produce: async () => {
      const job = sourceJob('secretless', { fate: waits(FATES.createContainerConfigError) });
      const container = job.spec?.template.spec?.containers[0];
      if (container) container.env = [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'missing-secret', key: 'password' } } }];
      await source(job);
      return finished(await start('secretless'));
    },
  },
  'an image that cannot be pulled (ErrImagePull past its grace)': {
    kind: 'ImagePull',
    exitCode: null,
    also: { container: 'main' },
    produce: async () => {
      await source(sourceJob('unpullable', { image: UNPULLABLE_IMAGE }));
      return finished(await start('unpullable'));
    },
  },
  'a request no node can take (the scheduler: Unschedulable past its grace)': {
    kind: 'Unschedulable',
    exitCode: null,
    also: { reason: 'Unschedulable' },
    produce: async () => {
      await source(sourceJob('nowhere', { nodeSelector: UNSCHEDULABLE_NODE_SELECTOR }));
      return finished(await start('nowhere'));
    },
  },
  'the run\'s own timeoutSeconds (RunTimeout), with the last lines of its pod': {
    kind: 'RunTimeout',
    exitCode: null,
    also: { logTail: LOCAL_POD_LOG_LINES.join('\n') },
    produce: async () => {
      await source(sourceJob('slowpoke', { fate: succeeds({ runFor: '1h' }) }));
      // Long enough for its pod to be running when the time is up, however busy the machine: a pod that never ran has no log.
      const runId = await start('slowpoke', '?timeoutSeconds=15');
      await runningPod(runId);
      return finished(runId);
    },
  },
  'a cancel': {
    kind: 'Cancelled',
    exitCode: null,
    // Who and why: CancelRequested with the caller's reason. The cancel route deletes the Job as well as raising
    // the event, so an observe already under way can find the Job gone and make the verdict JobDeleted before the
    // event is taken; both are this cancel. test/functions/cancelRun.test.ts checks the who and why.
    also: { reason: expect.stringMatching(/^(CancelRequested|JobDeleted)$/) as unknown },
    produce: async () => {
      await source(sourceJob('cancelled', { fate: succeeds({ runFor: '1h' }) }));
      const runId = await start('cancelled');
      await runningPod(runId);
      const response = await cancelRun(
        new HttpRequest({
          method: 'POST',
          url: `${BASE}/runs/${runId}/cancel`,
          params: { runId },
          headers: { 'content-type': 'application/json' },
          body: { string: JSON.stringify({ reason: 'the window closed' }) },
        }),
        durable,
        context(),
      );
      expect(response.status).toBe(202);
      return finished(runId);
    },
  },
};

describe('the fault matrix: each cause produced for real, each run classified', () => {
  it('every case gets its failureKind and exitCode (100 %), at the top level and in failure', async () => {
    const results = await Promise.all(
      Object.entries(cases).map(async ([name, c]) => {
        const body = await c.produce();
        return { name, c, body };
      }),
    );
    const table = results.map(({ name, c, body }) => ({
      case: name,
      expected: `${c.kind} ${String(c.exitCode)}`,
      got: `${String(body.failureKind)} ${String(body.exitCode)}`,
    }));
    console.log(`failure matrix (${String(table.filter((r) => r.expected === r.got).length)}/${String(table.length)} classified correctly):\n${table.map((r) => `  ${r.got === r.expected ? 'ok ' : 'BAD'} ${r.case}: ${r.got}`).join('\n')}`);
    expect(table.filter((r) => r.expected !== r.got)).toEqual([]);
    for (const { name, c, body } of results) {
      expect(body.failure, `${name}: ${JSON.stringify(body.failure)}`).toMatchObject({ kind: c.kind, exitCode: c.exitCode, ...c.also });
    }
  }, 300_000);

  it('a failed container\'s log tail ends with the line it printed last', async () => {
    await source(sourceJob('tail', { fate: fails({ exitCode: 1, runFor: '500ms' }) }));
    const body = await finished(await start('tail'));
    const failure = body.failure as { logTail?: string };
    expect(failure.logTail?.split('\n').at(-1)).toBe(LOCAL_POD_LOG_LINES.at(-1));
  }, 120_000);
});
