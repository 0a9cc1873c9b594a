import type { Caller } from '../core/callers.js';
import { NotFoundError } from '../core/errors.js';
import { jobRunInputSchema } from '../core/schemas.js';
import { type StartDeps, type StartedRun,startRun } from './start.js';

/** A rerun as plain data: which run, who asks, and what changes. */
export interface RerunRequest {
  /** The run to run again. */
  of: string;
  /** The run's record: its orchestration's input, as Durable keeps it after the Job and its pods are gone. */
  record: unknown;
  caller: Caller;
  /** Env overrides merged over the original run's. */
  overrides: Record<string, string>;
  idempotencyKey?: string | undefined;
  startedBy: string;
}

/**
 * Run a run again: the same source, cluster, namespace, fallback image and timeout, the original's env overrides
 * with the request's merged over them, as a new run whose trigger names the original. It is a start like any
 * other (src/runs/start.ts): the caller's policy, the source's and the operator's consent, the cluster's
 * capacity and a CronJob's concurrencyPolicy are all checked again, now. The parameters come from the run's
 * record, so the original's Job and pods need not exist any more. An idempotency key is the caller's for this
 * rerun of this run: the same key reruns another run separately.
 */
export async function rerunRun(request: RerunRequest, deps: StartDeps): Promise<StartedRun> {
  const parsed = jobRunInputSchema().safeParse(request.record);
  if (!parsed.success) {
    throw new NotFoundError(`run "${request.of}" cannot be run again: its record was written by an earlier version of the app and does not say what it ran`);
  }
  const original = parsed.data.request;
  return startRun(
    {
      kind: original.source.kind,
      cluster: original.cluster,
      namespace: original.namespace,
      name: original.source.name,
      caller: request.caller,
      overrides: { ...original.overrides, ...request.overrides },
      fallback: original.fallback,
      timeoutSeconds: original.timeoutSeconds,
      idempotencyKey: request.idempotencyKey === undefined ? undefined : `rerun:${request.of}:${request.idempotencyKey}`,
      startedBy: request.startedBy,
      trigger: { kind: 'rerun', of: request.of },
    },
    deps,
  );
}
