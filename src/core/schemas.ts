import * as z from 'zod';

import { FAILURE_KINDS } from './failure.js';
import { lazySchema } from './lazy-schema.js';
import { MAX_ATTEMPTS, MAX_RETRIES_ON_DISRUPTION } from './retry.js';

/**
 * Schemas of what crosses the orchestration boundary (history is JSON): checked where it comes back in. Each is
 * built on its first use (core/lazy-schema.ts): every function module imports this one, most parse none of them.
 */

/** A W3C Trace Context traceparent, version 00: `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`. */
export const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

export const runSourceSchema = lazySchema(() =>
  z.object({
    kind: z.enum(['Job', 'CronJob']),
    name: z.string().min(1),
    fallbackImage: z.string().optional(),
  }),
);

/**
 * Who started a run: an HTTP caller, the app's scheduler for a CronJob's scheduled time (RFC 3339, UTC), or a
 * rerun of another run (its id).
 */
export const runTriggerSchema = lazySchema(() =>
  z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('http') }),
    z.object({ kind: z.literal('schedule'), scheduledTime: z.iso.datetime() }),
    z.object({ kind: z.literal('rerun'), of: z.string().min(1).max(63) }),
  ]),
);
export type RunTrigger = z.infer<ReturnType<typeof runTriggerSchema>>;

export const runRefSchema = lazySchema(() =>
  z.object({
    runId: z.string().min(1).max(63),
    cluster: z.string().min(1),
    namespace: z.string().min(1),
    source: runSourceSchema(),
    /**
     * The Job of the run's current attempt, from version 3.1 when it is a retry (core/retry.ts attemptJobName);
     * absent: the run id, the name of every run's first Job.
     */
    jobName: z.string().min(1).max(63).optional(),
  }),
);

/**
 * What the orchestrator adds to the run's ref in the activities' inputs (jobRun.ts, refOf): the run's trace
 * context and trigger, for the activity's span. Lenient: telemetry never fails an activity.
 */
export const tracedRefSchema = lazySchema(() =>
  z
    .object({
      traceparent: z.string().regex(TRACEPARENT).optional().catch(undefined),
      trigger: z.enum(['http', 'schedule', 'rerun']).optional().catch(undefined),
    })
    .catch({}),
);

export const runRequestSchema = lazySchema(() =>
  runRefSchema().extend({
    overrides: z.record(z.string(), z.string()),
    fallback: z
      .object({ image: z.string().min(1), command: z.array(z.string()).optional(), args: z.array(z.string()).optional() })
      .optional(),
    requestHash: z.string().min(1),
    timeoutSeconds: z.number().int().positive().optional(),
    startedBy: z.string().optional(),
    /** Absent in inputs written before runs recorded their trigger: those were all started over HTTP. */
    trigger: runTriggerSchema().optional(),
    caller: z
      .discriminatedUnion('kind', [
        z.object({ kind: z.literal('key') }),
        z.object({ kind: z.literal('entra'), appId: z.string().min(1), objectId: z.string().min(1) }),
      ])
      .optional(),
    /**
     * The run's trace (W3C traceparent of the start's span), which each activity continues: the trace context
     * crosses the Durable boundary in the input. Absent when telemetry was off at the start, and in older inputs.
     */
    traceparent: z.string().regex(TRACEPARENT).optional(),
    /**
     * Fresh Jobs the run may make after one that failed for an infrastructure cause (core/retry.ts), as resolved
     * at the start from the source's consent and the request. Absent: none.
     */
    retryOnDisruption: z.number().int().min(0).max(MAX_RETRIES_ON_DISRUPTION).optional(),
  }),
);

/** Why a run failed, or who stopped it (core/failure.ts; docs/http-api.md, "Why a run failed"). */
export const runFailureSchema = lazySchema(() =>
  z.object({
    kind: z.enum(FAILURE_KINDS).meta({ description: 'The cause, from a documented set; Unknown with the raw reason when nothing matches.' }),
    exitCode: z.number().int().nullable().meta({ description: "The failing container's exit code, when it terminated." }),
    signal: z.string().nullable().meta({ description: 'The signal that ended the container (SIGKILL for exit code 137), when one did.' }),
    container: z.string().nullable(),
    pod: z.string().nullable(),
    node: z.string().nullable(),
    attempt: z.number().int().nullable().meta({ description: "How many of the run's pods had failed, this one included." }),
    reason: z.string().meta({ description: "Kubernetes' or the app's own reason: OOMKilled, Error, EvictionByEvictionAPI, BackoffLimitExceeded..." }),
    message: z.string(),
    at: z.string().nullable().meta({ description: 'When it happened, as the cluster recorded it (RFC 3339).' }),
    rule: z.number().int().optional().meta({ description: "PodFailurePolicy: the index of the Job's rule that failed it." }),
    logTail: z.string().optional().meta({ description: "The failing container's last lines (at most 50, bounded in bytes); left out of the status while running when large." }),
  }),
);

/** One Job of a run that retries on disruption (core/retry.ts RunAttempt). */
export const runAttemptSchema = lazySchema(() =>
  z.object({
    job: z.string().meta({ description: "The attempt's Job: the run id for the first, `<runId>-<n>` for attempt n." }),
    failure: runFailureSchema().nullable().meta({ description: 'Why the attempt failed; null while it runs and for the one that succeeded.' }),
    startTime: z.string().nullable(),
    completionTime: z.string().nullable(),
  }),
);

export const runSnapshotSchema = lazySchema(() =>
  z.object({
    runId: z.string(),
    status: z.enum(['Starting', 'Running', 'Success', 'Failed', 'Cancelled', 'Unknown']),
    reason: z.string(),
    message: z.string(),
    cluster: z.string(),
    namespace: z.string(),
    jobName: z.string(),
    source: runSourceSchema(),
    startTime: z.string().nullable(),
    completionTime: z.string().nullable(),
    pods: z.object({ active: z.number(), ready: z.number(), succeeded: z.number(), failed: z.number() }),
    monitorUrl: z.string().nullable(),
    outputs: z.record(z.string(), z.unknown()),
    observedAt: z.string(),
    /** The final snapshot's logs archive: where it is, or why there is none. Absent on earlier snapshots. */
    archive: z.object({ location: z.string().nullable(), error: z.string().optional() }).optional(),
    trigger: runTriggerSchema().optional(),
    /** On Failed and Cancelled snapshots: why. */
    failure: runFailureSchema().optional(),
    /** failure.kind and failure.exitCode at the top level, for callers that map top-level properties (Polysync, Logic Apps). */
    failureKind: z.enum(FAILURE_KINDS).optional(),
    exitCode: z.number().int().nullable().optional(),
    /**
     * The env overrides the run was started with, each as the process sees it (the app makes them literal); values
     * null when DISCOVERY_SHOW_ENV_VALUES is off. The status route adds them from the run's input.
     */
    parameters: z.record(z.string(), z.string().nullable()).optional(),
    /**
     * A run that may retry on disruption (or did): each of its Jobs, the current one last. The verdict is the last
     * attempt's.
     */
    attempts: z.array(runAttemptSchema()).max(MAX_ATTEMPTS).optional(),
  }),
);

export const pollPolicySchema = lazySchema(() =>
  z.object({
    initialSeconds: z.number().positive(),
    maxSeconds: z.number().positive(),
    factor: z.number().min(1),
    continueAsNewAfter: z.number().int().positive(),
    // Defaults keep inputs written before the setting existed readable.
    maxObserveFailures: z.number().int().positive().default(10),
  }),
);

export const retryPolicySchema = lazySchema(() =>
  z.object({
    firstRetryMs: z.number().int().positive(),
    maxAttempts: z.number().int().positive(),
  }),
);

/** State a run's orchestration carries across continueAsNew. */
export const progressSchema = lazySchema(() =>
  z.object({
    deadline: z.string().nullable(),
    polls: z.number().int().min(0),
    generation: z.number().int().min(0),
    /** Polls in a row that could not read the run. */
    observeFailures: z.number().int().min(0).default(0),
    last: runSnapshotSchema(),
  }),
);

export const jobRunInputSchema = lazySchema(() =>
  z.object({
    request: runRequestSchema(),
    poll: pollPolicySchema(),
    retry: retryPolicySchema(),
    progress: progressSchema().optional(),
    /** When the first submit was tried, carried over a continueAsNew while the API server throttles it. */
    submitSince: z.iso.datetime().optional(),
    /** When the run was started (its start request), for the run's duration metrics. Absent in older inputs. */
    startedAt: z.iso.datetime().optional(),
    /** From version 3.1, on a retry: the attempts before the current Job, carried over continueAsNew. */
    attempts: z.array(runAttemptSchema()).max(MAX_ATTEMPTS).optional(),
    /** From version 3.1, on a retry: the run's deadline, set by its first Job's submit (null: none), which every attempt keeps. */
    runDeadline: z.iso.datetime().nullable().optional(),
  }),
);

export type JobRunInput = z.infer<ReturnType<typeof jobRunInputSchema>>;
export type RunProgress = z.infer<ReturnType<typeof progressSchema>>;
