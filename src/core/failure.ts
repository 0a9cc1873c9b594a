import type { CoreV1Event, V1ContainerStateTerminated, V1ContainerStatus, V1Job, V1JobCondition, V1Pod, V1PodCondition } from '@kubernetes/client-node';

import { boundText } from './limits.js';
import type { RunSnapshot } from './run.js';

/**
 * Why a run failed (or who stopped it), from what the cluster shows at the verdict: the Job's conditions, the
 * run's pods and their events. Pure: the caller reads the cluster. Every reason matched here is one a
 * Kubernetes component sets; each is cited where it is used (Kubernetes v1.34, the control plane the tests run).
 */

/**
 * The documented set (docs/http-api.md, "Why a run failed"). Infrastructure faults (Evicted, DisruptionTarget,
 * NodeLost) are told apart from the program's own (ExitCode, OOMKilled), so a caller can decide whether a
 * second try could help.
 */
export const FAILURE_KINDS = [
  'ExitCode',
  'OOMKilled',
  'Evicted',
  'DisruptionTarget',
  'NodeLost',
  'DeadlineExceeded',
  'PodFailurePolicy',
  'ImagePull',
  'Unschedulable',
  'CreateContainerConfigError',
  'PodCreation',
  'RunTimeout',
  'NotSubmitted',
  'Cancelled',
  'Unknown',
] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];

/** The kinds that are the infrastructure's doing, not the program's: what a retry of the same Job could get past. */
export const INFRASTRUCTURE_KINDS: readonly FailureKind[] = ['Evicted', 'DisruptionTarget', 'NodeLost'];

export interface RunFailure {
  kind: FailureKind;
  /** The failing container's exit code, when it terminated. */
  exitCode: number | null;
  /** The signal that ended it (from the runtime, else an exit code above 128 read as 128 + signal). */
  signal: string | null;
  container: string | null;
  pod: string | null;
  node: string | null;
  /** How many of the run's pods had failed, this one included (for BackoffLimitExceeded: the last attempt). */
  attempt: number | null;
  /** Kubernetes' own word for it: the container's termination reason, the condition's reason, the app's reason. */
  reason: string;
  message: string;
  /** When it happened, as the cluster recorded it; else when the verdict was made. */
  at: string | null;
  /** For PodFailurePolicy: the index of the rule that failed the Job. */
  rule?: number | undefined;
  /** The failing container's last lines (added where the log can be read, bounded). */
  logTail?: string | undefined;
}

/** What a failure is judged from. */
export interface FailureEvidence {
  verdict: Pick<RunSnapshot, 'status' | 'reason' | 'message'>;
  job: V1Job | null;
  pods: readonly V1Pod[];
  events: readonly CoreV1Event[];
  /** Pods of the run seen earlier that are gone now (an evicted or orphaned pod is deleted soon after it fails). */
  seenPods?: readonly V1Pod[];
  now: Date;
}

/** Linux signal names by number, for exit codes 128 + n (what a shell and the container runtimes report). */
const SIGNALS: Readonly<Record<number, string>> = {
  1: 'SIGHUP',
  2: 'SIGINT',
  3: 'SIGQUIT',
  4: 'SIGILL',
  6: 'SIGABRT',
  7: 'SIGBUS',
  8: 'SIGFPE',
  9: 'SIGKILL',
  11: 'SIGSEGV',
  13: 'SIGPIPE',
  14: 'SIGALRM',
  15: 'SIGTERM',
};

function signalOf(terminated: V1ContainerStateTerminated): string | null {
  const number = terminated.signal ?? (terminated.exitCode > 128 && terminated.exitCode < 160 ? terminated.exitCode - 128 : undefined);
  if (number === undefined || number === 0) return null;
  return SIGNALS[number] ?? `signal ${String(number)}`;
}

function iso(value: Date | string | undefined | null): string | null {
  if (value === undefined || value === null) return null;
  return new Date(value).toISOString();
}

function trueJobCondition(job: V1Job | null, type: string): V1JobCondition | undefined {
  return job?.status?.conditions?.find((c) => c.type === type && c.status === 'True');
}

function podCondition(pod: V1Pod, type: string): V1PodCondition | undefined {
  return pod.status?.conditions?.find((c) => c.type === type && c.status === 'True');
}

/** A container that ended with a failure: its current state, else (restarted since) its last. */
function failedTermination(status: V1ContainerStatus): V1ContainerStateTerminated | undefined {
  for (const terminated of [status.state?.terminated, status.lastState?.terminated]) {
    if (terminated && (terminated.exitCode !== 0 || terminated.reason === 'OOMKilled')) return terminated;
  }
  return undefined;
}

/** The container of a pod that failed it: the last to end with a failure, init containers included. */
function failedContainer(pod: V1Pod): { name: string; terminated: V1ContainerStateTerminated } | undefined {
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  const failed = statuses
    .map((s) => ({ name: s.name, terminated: failedTermination(s) }))
    .filter((x): x is { name: string; terminated: V1ContainerStateTerminated } => x.terminated !== undefined);
  return failed.sort((a, b) => new Date(b.terminated.finishedAt ?? 0).getTime() - new Date(a.terminated.finishedAt ?? 0).getTime())[0];
}

/** True when a pod of the run shows that it did not succeed (failed, disrupted, lost or being deleted). */
export function podFailed(pod: V1Pod): boolean {
  return (
    pod.status?.phase === 'Failed' ||
    pod.status?.phase === 'Unknown' ||
    podCondition(pod, 'DisruptionTarget') !== undefined ||
    failedContainer(pod) !== undefined ||
    (pod.metadata?.deletionTimestamp !== undefined && pod.status?.phase !== 'Succeeded')
  );
}

/** When a pod failed, as its own status records it. */
function failedAt(pod: V1Pod): number {
  const container = failedContainer(pod);
  const raw =
    container?.terminated.finishedAt ??
    podCondition(pod, 'DisruptionTarget')?.lastTransitionTime ??
    pod.metadata?.deletionTimestamp ??
    pod.status?.startTime ??
    pod.metadata?.creationTimestamp;
  return raw ? new Date(raw).getTime() : 0;
}

/** The pods of the run that failed, seen now or earlier, one per uid (the latest view of each), last failure first. */
function failedPods(pods: readonly V1Pod[], seen: readonly V1Pod[]): V1Pod[] {
  const byUid = new Map<string, V1Pod>();
  for (const pod of [...seen, ...pods]) byUid.set(pod.metadata?.uid ?? pod.metadata?.name ?? '', pod);
  return [...byUid.values()].filter(podFailed).sort((a, b) => failedAt(b) - failedAt(a));
}

function failedCount(job: V1Job | null): number {
  return (job?.status?.failed ?? 0) + (job?.status?.uncountedTerminatedPods?.failed?.length ?? 0);
}

type Place = Pick<RunFailure, 'pod' | 'node' | 'attempt'>;

function placeOf(pod: V1Pod | undefined, attempt: number | null): Place {
  return { pod: pod?.metadata?.name ?? null, node: pod?.spec?.nodeName ?? null, attempt };
}

function failure(kind: FailureKind, fields: Partial<RunFailure> & Pick<RunFailure, 'reason' | 'message'>): RunFailure {
  return {
    kind,
    exitCode: null,
    signal: null,
    container: null,
    pod: null,
    node: null,
    attempt: null,
    at: null,
    ...fields,
    message: boundText(fields.message, 1000),
  };
}

/**
 * The cause written on one failed pod.
 * - DisruptionTarget (k8s.io/api core/v1 types.go, `DisruptionTarget` and its `PodReason*` constants), set by:
 *   the kubelet's eviction manager and node-shutdown manager (TerminationByKubelet), the scheduler's preemption
 *   (PreemptionByScheduler), the Eviction API (EvictionByEvictionAPI, pkg/registry/core/pod/storage/eviction.go),
 *   the taint-eviction controller (DeletionByTaintManager) and PodGC (DeletionByPodGC, "PodGC: node no longer
 *   exists" for a pod whose node was deleted, pkg/controller/podgc/gc_controller.go gcOrphaned).
 * - `status.reason: Evicted`: the kubelet's eviction manager under node pressure (pkg/kubelet/eviction, `Reason = "Evicted"`).
 * - Phase Unknown, or reason NodeLost (the node controller's word for a pod on an unresponsive node): NodeLost.
 * - A container terminated with reason OOMKilled (the container runtime's word, passed on by the kubelet), else a
 *   non-zero exit code.
 */
function podCause(pod: V1Pod, attempt: number | null): RunFailure | undefined {
  const place = placeOf(pod, attempt);
  const container = failedContainer(pod);
  const exit = container
    ? { exitCode: container.terminated.exitCode, signal: signalOf(container.terminated), container: container.name, at: iso(container.terminated.finishedAt) }
    : {};
  const disruption = podCondition(pod, 'DisruptionTarget');
  const podReason = pod.status?.reason;
  if (podReason === 'Evicted' || (disruption?.reason === 'TerminationByKubelet' && podReason === 'Evicted')) {
    return failure('Evicted', { ...place, ...exit, reason: 'Evicted', message: pod.status?.message ?? disruption?.message ?? 'the kubelet evicted the pod', at: iso(disruption?.lastTransitionTime) ?? exit.at ?? null });
  }
  if (disruption) {
    const kind: FailureKind = disruption.reason === 'DeletionByPodGC' ? 'NodeLost' : 'DisruptionTarget';
    return failure(kind, {
      ...place,
      ...exit,
      reason: disruption.reason ?? 'DisruptionTarget',
      message: disruption.message ?? pod.status?.message ?? 'the pod was disrupted',
      at: iso(disruption.lastTransitionTime) ?? exit.at ?? null,
    });
  }
  if (pod.status?.phase === 'Unknown' || podReason === 'NodeLost') {
    return failure('NodeLost', { ...place, ...exit, reason: podReason ?? 'Unknown', message: pod.status?.message ?? `the node ${place.node ?? ''} of the pod stopped reporting`.trim() });
  }
  if (container) {
    const { terminated } = container;
    const kind: FailureKind = terminated.reason === 'OOMKilled' ? 'OOMKilled' : 'ExitCode';
    const said = terminated.message?.trim() ? `: ${terminated.message.trim()}` : '';
    return failure(kind, {
      ...place,
      ...exit,
      reason: terminated.reason ?? 'Error',
      message:
        kind === 'OOMKilled'
          ? `container ${container.name} was killed for using more memory than its limit (exit code ${String(terminated.exitCode)})${said}`
          : `container ${container.name} exited with code ${String(terminated.exitCode)}${said}`,
    });
  }
  return undefined;
}

/**
 * Events that outlive a pod deleted right after it failed: the kubelet's `Evicted`, the scheduler's `Preempted`,
 * the taint-eviction controller's `TaintManagerEviction`.
 */
function eventCause(events: readonly CoreV1Event[], attempt: number | null): RunFailure | undefined {
  const podEvents = events.filter((e) => e.involvedObject.kind === 'Pod');
  const find = (reason: string) =>
    podEvents
      .filter((e) => e.reason === reason)
      .sort((a, b) => new Date(b.lastTimestamp ?? b.eventTime ?? 0).getTime() - new Date(a.lastTimestamp ?? a.eventTime ?? 0).getTime())[0];
  const at = (e: CoreV1Event) => iso(e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp);
  const evicted = find('Evicted');
  if (evicted) return failure('Evicted', { pod: evicted.involvedObject.name ?? null, attempt, reason: 'Evicted', message: evicted.message ?? 'the kubelet evicted the pod', at: at(evicted) });
  const preempted = find('Preempted');
  if (preempted) {
    return failure('DisruptionTarget', { pod: preempted.involvedObject.name ?? null, attempt, reason: 'PreemptionByScheduler', message: preempted.message ?? 'preempted', at: at(preempted) });
  }
  const tainted = find('TaintManagerEviction');
  if (tainted) {
    return failure('DisruptionTarget', { pod: tainted.involvedObject.name ?? null, attempt, reason: 'DeletionByTaintManager', message: tainted.message ?? 'deleted by the taint manager', at: at(tainted) });
  }
  return undefined;
}

/**
 * The Job controller's PodFailurePolicy message (pkg/controller/job/pod_failure_policy.go): "Container %s for
 * pod %s/%s failed with exit code %v matching %v rule at index %d", or "Pod %s/%s has condition %v matching %v
 * rule at index %d".
 */
const POLICY_EXIT = /^Container (\S+) for pod (\S+)\/(\S+) failed with exit code (-?\d+) matching (\S+) rule at index (\d+)/;
const POLICY_CONDITION = /^Pod (\S+)\/(\S+) has condition (\S+) matching (\S+) rule at index (\d+)/;

function policyCause(condition: V1JobCondition, pods: readonly V1Pod[], attempt: number | null): RunFailure {
  const message = condition.message ?? '';
  const at = iso(condition.lastTransitionTime);
  const node = (name: string | undefined) => pods.find((p) => p.metadata?.name === name)?.spec?.nodeName ?? null;
  const exit = POLICY_EXIT.exec(message);
  if (exit) {
    const exitCode = Number(exit[4]);
    return failure('PodFailurePolicy', {
      exitCode,
      signal: exitCode > 128 && exitCode < 160 ? (SIGNALS[exitCode - 128] ?? null) : null,
      container: exit[1] ?? null,
      pod: exit[3] ?? null,
      node: node(exit[3]),
      attempt,
      rule: Number(exit[6]),
      reason: condition.reason ?? 'PodFailurePolicy',
      message,
      at,
    });
  }
  const byCondition = POLICY_CONDITION.exec(message);
  return failure('PodFailurePolicy', {
    pod: byCondition?.[2] ?? null,
    node: node(byCondition?.[2]),
    attempt,
    rule: byCondition?.[5] === undefined ? undefined : Number(byCondition[5]),
    reason: condition.reason ?? 'PodFailurePolicy',
    message,
    at,
  });
}

/** Reasons this app gives a run whose pod cannot start (status.ts), by the kind they are. */
const START_KINDS: Readonly<Record<string, FailureKind>> = {
  InvalidImageName: 'ImagePull',
  ErrImagePull: 'ImagePull',
  ImagePullBackOff: 'ImagePull',
  ErrImageNeverPull: 'ImagePull',
  CreateContainerConfigError: 'CreateContainerConfigError',
  CreateContainerError: 'CreateContainerConfigError',
  Unschedulable: 'Unschedulable',
  QuotaExceeded: 'PodCreation',
  FailedCreate: 'PodCreation',
};

/** The container and pod a start problem is about: the first waiting with that reason. */
function waitingPlace(pods: readonly V1Pod[], reason: string): Pick<RunFailure, 'pod' | 'node' | 'container'> {
  for (const pod of pods) {
    const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
    const waiting = statuses.find((s) => s.state?.waiting?.reason === reason);
    if (waiting) return { pod: pod.metadata?.name ?? null, node: pod.spec?.nodeName ?? null, container: waiting.name };
    if (reason === 'Unschedulable' && pod.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.reason === 'Unschedulable')) {
      return { pod: pod.metadata?.name ?? null, node: null, container: null };
    }
  }
  return { pod: null, node: null, container: null };
}

/** The reason the orchestration gives a run whose Job could not be created even after retries (jobRun.ts). */
const NOT_SUBMITTED = new Set(['SubmitFailed']);

/**
 * The failure of a finished run: undefined for Success (and for a run not finished). Cancelled runs get kind
 * Cancelled with the verdict's reason and message (who asked and why, when a caller gave it). For
 * BackoffLimitExceeded (and any Job failure without a cause of its own) the cause is the last failed attempt's.
 */
export function classifyFailure(evidence: FailureEvidence): RunFailure | undefined {
  const { verdict, job, pods, events, now } = evidence;
  if (verdict.status !== 'Failed' && verdict.status !== 'Cancelled') return undefined;
  const at = now.toISOString();
  if (verdict.status === 'Cancelled') return failure('Cancelled', { reason: verdict.reason, message: verdict.message, at });

  const attempt = failedCount(job) || null;
  if (verdict.reason === 'RunTimeout') return failure('RunTimeout', { reason: verdict.reason, message: verdict.message, at });
  const startKind = START_KINDS[verdict.reason];
  if (startKind) return failure(startKind, { ...waitingPlace(pods, verdict.reason), reason: verdict.reason, message: verdict.message, at });
  if (NOT_SUBMITTED.has(verdict.reason)) return failure('NotSubmitted', { reason: verdict.reason, message: verdict.message, at });

  // The Job controller's reasons (k8s.io/api batch/v1 types.go: JobReasonDeadlineExceeded, JobReasonPodFailurePolicy).
  const condition = trueJobCondition(job, 'FailureTarget') ?? trueJobCondition(job, 'Failed');
  const reason = condition?.reason ?? verdict.reason;
  if (reason === 'PodFailurePolicy' && condition) return policyCause(condition, pods, attempt);
  const failed = failedPods(pods, evidence.seenPods ?? []);
  const last = failed[0];
  if (reason === 'DeadlineExceeded') {
    // The controller kills the pods when activeDeadlineSeconds passes; the pod's own end is a consequence.
    return failure('DeadlineExceeded', {
      ...placeOf(last ?? pods[0], attempt),
      reason,
      message: condition?.message ?? verdict.message,
      at: iso(condition?.lastTransitionTime) ?? at,
    });
  }
  const fromPod = last ? podCause(last, attempt) : undefined;
  if (fromPod) return fromPod;
  const fromEvents = eventCause(events, attempt);
  if (fromEvents) return fromEvents;
  return failure('Unknown', { ...placeOf(last, attempt), reason, message: condition?.message ?? verdict.message, at: iso(condition?.lastTransitionTime) ?? at });
}

/**
 * The failure of a verdict made without a look at the cluster (a timeout, a cancel, a Job never created, a run
 * that could not be read): its kind from the verdict's reason alone.
 */
export function failureOfVerdict(verdict: Pick<RunSnapshot, 'status' | 'reason' | 'message'>, now: Date): RunFailure | undefined {
  return classifyFailure({ verdict, job: null, pods: [], events: [], now });
}

/** A run whose Job was never created: the submit's refusal (no source, no consent, a name taken, a create refused). */
export function notSubmitted(verdict: Pick<RunSnapshot, 'reason' | 'message'>, now: Date): RunFailure {
  return failure('NotSubmitted', { reason: verdict.reason, message: verdict.message, at: now.toISOString() });
}

/** Lines of the failing container's log a failure keeps, and the most bytes they may take. */
export const LOG_TAIL_LINES = 50;
export const LOG_TAIL_BYTES = 4096;

/**
 * Which log holds a failure's last lines: the failing container's, its previous instance when it has restarted
 * since (restartPolicy OnFailure), in a pod of the run still there.
 */
export function logTailTarget(failure: RunFailure, pods: readonly V1Pod[]): { pod: string; container: string; previous: boolean } | undefined {
  const pod = pods.find((p) => p.metadata?.name === failure.pod);
  if (!pod || !failure.pod) return undefined;
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  const container = failure.container ?? pod.spec?.containers[0]?.name;
  const status = statuses.find((s) => s.name === container);
  if (!container || !status) return undefined;
  // A container that never ran has no log.
  if (!status.state?.terminated && !status.state?.running && !status.lastState?.terminated) return undefined;
  return { pod: failure.pod, container, previous: !status.state?.terminated && !status.state?.running && status.lastState?.terminated !== undefined };
}

/**
 * The end of a log, at most `lines` lines and `maxBytes` bytes (the last lines win; a line longer than the bound
 * keeps its end). Never splits a UTF-8 character.
 */
export function logTail(text: string, lines: number = LOG_TAIL_LINES, maxBytes: number = LOG_TAIL_BYTES): string {
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  const kept = body.split('\n').slice(-lines).join('\n');
  const bytes = Buffer.from(kept, 'utf8');
  if (bytes.length <= maxBytes) return kept;
  let start = bytes.length - maxBytes;
  // Step forward over continuation bytes (10xxxxxx) to the start of a character.
  while (start < bytes.length && ((bytes[start] ?? 0) & 0xc0) === 0x80) start++;
  const cut = bytes.subarray(start).toString('utf8');
  const newline = cut.indexOf('\n');
  // Whole lines where the bound leaves at least one; else the end of the one long line.
  return newline >= 0 && newline < cut.length - 1 ? cut.slice(newline + 1) : cut;
}

/** The snapshot with its failure, and the failure's kind and exit code at the top level (Polysync maps those). */
export function withFailure(snapshot: RunSnapshot, failure: RunFailure | undefined): RunSnapshot {
  if (!failure) return snapshot;
  return { ...snapshot, failure, failureKind: failure.kind, exitCode: failure.exitCode };
}
