import { createHash } from 'node:crypto';

import type { EnvOverrides, FallbackSpec } from './clone.js';
import type { FailureKind, RunFailure } from './failure.js';
import type { SourceKind } from './naming.js';
import type { RunAttempt } from './retry.js';
import type { RunTrigger } from './schemas.js';

/** The run's status, in the vocabulary Polysync's AKS job types use. */
export type RunStatus = 'Starting' | 'Running' | 'Success' | 'Failed' | 'Cancelled' | 'Unknown';
export const TERMINAL_STATUSES: readonly RunStatus[] = ['Success', 'Failed', 'Cancelled'];
export function isTerminal(status: RunStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export interface RunSource {
  kind: SourceKind;
  name: string;
  /** Set when the source Job did not exist and the run was built from the caller's image. */
  fallbackImage?: string;
}

/** What identifies a run and where it lives. No credential: clusters are looked up by alias. */
export interface RunRef {
  runId: string;
  cluster: string;
  namespace: string;
  source: RunSource;
  /** The Job of the run's current attempt when it is a retry (core/retry.ts attemptJobName); absent: the run id. */
  jobName?: string | undefined;
}

/** The Job a run's reference is about: its current attempt's, which is the run id's until a retry. */
export function jobNameOf(ref: RunRef): string {
  return ref.jobName ?? ref.runId;
}

/** Everything needed to submit a run; this is stored in orchestration history, so it holds no secret of ours. */
export interface RunRequest extends RunRef {
  overrides: EnvOverrides;
  fallback?: FallbackSpec | undefined;
  requestHash: string;
  timeoutSeconds?: number | undefined;
  startedBy?: string | undefined;
  /** Absent means an HTTP caller (every run before the scheduler existed). */
  trigger?: RunTrigger | undefined;
  /** Who started the run (startedBy is the invocation); runs recorded before this existed were key callers'. */
  caller?: StartedBy | undefined;
  /** The run's trace context (W3C traceparent), which each activity continues; none when nothing is traced. */
  traceparent?: string | undefined;
  /** Fresh Jobs the run may make after one that failed for an infrastructure cause (core/retry.ts); absent: none. */
  retryOnDisruption?: number | undefined;
}

/** The starter of a run as its history keeps it: ids only, never a key or token. */
export type StartedBy = { kind: 'key' } | { kind: 'entra'; appId: string; objectId: string };

/** The starter as the app writes it on the run's Job (CALLER_ANNOTATION) and archive marker. */
export function callerTag(by: StartedBy): string {
  return by.kind === 'key' ? 'key' : `entra:${by.appId}:${by.objectId}`;
}

/** A tag read back; undefined for none, and for one the app did not write (it then proves nothing). */
export function parseCallerTag(tag: string | undefined): StartedBy | undefined {
  if (tag === 'key') return { kind: 'key' };
  const match = /^entra:([^:\s]+):([^:\s]+)$/.exec(tag ?? '');
  return match?.[1] && match[2] ? { kind: 'entra', appId: match[1], objectId: match[2] } : undefined;
}

export interface PodCounts {
  active: number;
  ready: number;
  succeeded: number;
  failed: number;
}

export interface RunSnapshot {
  runId: string;
  status: RunStatus;
  reason: string;
  message: string;
  cluster: string;
  namespace: string;
  jobName: string;
  source: RunSource;
  startTime: string | null;
  completionTime: string | null;
  pods: PodCounts;
  monitorUrl: string | null;
  outputs: Record<string, unknown>;
  /** When this snapshot was taken (the API server's view at that instant). */
  observedAt: string;
  /** On the final snapshot: where the run's logs were archived (index.json), or why they were not. */
  archive?: { location: string | null; error?: string | undefined };
  /** Who started the run; the status route adds it from the run's input. */
  trigger?: RunTrigger | undefined;
  /** On Failed and Cancelled runs: why (core/failure.ts). */
  failure?: RunFailure | undefined;
  /** failure.kind and failure.exitCode again, at the top level, for callers that map top-level properties. */
  failureKind?: FailureKind | undefined;
  exitCode?: number | null | undefined;
  /** The env overrides as the process sees them (literal); the status route adds them from the run's input. */
  parameters?: Record<string, string | null> | undefined;
  /** A run that may retry on disruption (or did): each of its Jobs, the current one last (core/retry.ts). */
  attempts?: RunAttempt[] | undefined;
}

export const NO_PODS: PodCounts = Object.freeze({ active: 0, ready: 0, succeeded: 0, failed: 0 });

/** A snapshot before anything was observed, or from what an orchestrator decided on its own. */
export function snapshotOf(
  ref: RunRef,
  fields: Pick<RunSnapshot, 'status' | 'reason' | 'message'> & Partial<RunSnapshot>,
  at: Date,
): RunSnapshot {
  return {
    runId: ref.runId,
    cluster: ref.cluster,
    namespace: ref.namespace,
    jobName: jobNameOf(ref),
    source: ref.source,
    startTime: null,
    completionTime: null,
    pods: { ...NO_PODS },
    monitorUrl: null,
    outputs: {},
    ...fields,
    // `at` is when this snapshot was made, also when its other fields come from an earlier one.
    observedAt: at.toISOString(),
  };
}

/**
 * Hash of what the caller asked for. Reusing an idempotency key with a different request is refused rather
 * than silently answered with the first run.
 */
export function requestHash(input: {
  cluster: string;
  namespace: string;
  source: Pick<RunSource, 'kind' | 'name'>;
  overrides: EnvOverrides;
  fallback?: FallbackSpec | undefined;
}): string {
  const canonical = JSON.stringify([
    input.cluster,
    input.namespace,
    input.source.kind,
    input.source.name,
    Object.entries(input.overrides).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    input.fallback ? [input.fallback.image, input.fallback.command ?? null, input.fallback.args ?? null] : null,
  ]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 32);
}
