import type { CoreV1Event } from '@kubernetes/client-node';

import type { KubeGateway } from '../clients/kube.js';
import type { GracePeriods } from '../config.js';
import { JOB_NAME_POD_LABEL } from '../core/labels.js';
import { isTerminal, type RunRef, type RunSnapshot, snapshotOf } from '../core/run.js';
import { mapRunStatus, outputsFromPods } from '../core/status.js';

/**
 * Look at a run in the cluster: the Job, its pods, and the events of the Job and of any pod that has not
 * started (the only place some reasons live). Outputs are read once the run has ended.
 */
export async function inspectRun(
  gateway: KubeGateway,
  ref: RunRef,
  grace: GracePeriods,
  monitorUrl: string | null,
  now: Date,
): Promise<RunSnapshot> {
  const [job, pods, jobEvents] = await Promise.all([
    gateway.readJob(ref.namespace, ref.runId),
    gateway.listPods(ref.namespace, `${JOB_NAME_POD_LABEL}=${ref.runId}`),
    gateway.listEvents(ref.namespace, ref.runId),
  ]);
  const waiting = pods.filter((pod) => pod.status?.phase === 'Pending' || pod.status?.phase === undefined);
  const podEvents: CoreV1Event[][] = await Promise.all(
    waiting.map((pod) => gateway.listEvents(ref.namespace, pod.metadata?.name ?? '')),
  );
  const snapshot = mapRunStatus(ref, { job, pods, events: [...jobEvents, ...podEvents.flat()], now }, grace, monitorUrl);
  return isTerminal(snapshot.status) ? { ...snapshot, outputs: outputsFromPods(pods) } : snapshot;
}

/**
 * Stop a run: delete its Job with propagation Background, so its pods go too (a plain delete through batch/v1
 * would orphan them). A Job already gone is fine: the run is stopped either way.
 */
export async function deleteRun(
  gateway: KubeGateway,
  ref: RunRef,
  verdict: Pick<RunSnapshot, 'status' | 'reason' | 'message'>,
  last: RunSnapshot | undefined,
  monitorUrl: string | null,
  now: Date,
): Promise<RunSnapshot> {
  await gateway.deleteJob(ref.namespace, ref.runId);
  return snapshotOf(
    ref,
    {
      ...(last ? { startTime: last.startTime, pods: last.pods } : {}),
      ...verdict,
      monitorUrl,
      completionTime: now.toISOString(),
    },
    now,
  );
}
