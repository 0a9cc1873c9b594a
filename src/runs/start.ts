import type { ClusterRegistry } from '../clients/clusters.js';
import { currentTraceparent, instruments, type Invocation, markRun, runMetricAttributes, withInvocationContext, withSpan } from '../clients/telemetry.js';
import type { Config } from '../config.js';
import { authorizeStart, type Caller, callerScope, jobVisibleTo, startedByOf } from '../core/callers.js';
import type { FallbackSpec } from '../core/clone.js';
import type { ConcurrencyPolicy } from '../core/concurrency.js';
import { BadRequestError, ConflictError } from '../core/errors.js';
import { parseImageReference } from '../core/image-reference.js';
import { assertNamespace, assertObjectName, runIdFor, type SourceKind } from '../core/naming.js';
import { resolveRetries } from '../core/retry.js';
import { requestHash, type RunRequest } from '../core/run.js';
import type { JobRunInput, RunTrigger } from '../core/schemas.js';
import { ATTRIBUTES } from '../core/telemetry-names.js';
import { assertRunCapacity } from './capacity.js';
import { honourConcurrencyPolicy, type RequestCancel } from './concurrency.js';
import { buildRunJob } from './submit.js';

/** What starting runs needs from Durable: the run's instance, a new one, a cancel. */
export interface RunInstances {
  /**
   * The input the run's instance was started with, in any state; undefined when there is no such instance.
   * Throws when Durable cannot be asked: that is never a reason to start the run again.
   */
  find(runId: string): Promise<{ input: unknown } | undefined>;
  /** Start the run's orchestration under its id; rejects when it cannot (an instance with the id exists, among others). */
  start(runId: string, input: JobRunInput): Promise<void>;
  /** The ids of the runs on this cluster that Durable has accepted and that have no verdict yet. */
  accepted(cluster: string): Promise<string[]>;
  requestCancel: RequestCancel;
}

/** A start as plain data: what a route parsed, a rerun or a schedule asks for. */
export interface RunStartRequest {
  kind: SourceKind;
  /** The cluster alias; the default cluster when absent. */
  cluster?: string | undefined;
  namespace: string;
  name: string;
  caller: Caller;
  overrides: Record<string, string>;
  /** Run this image when the source Job does not exist (Job runs only). */
  fallback?: FallbackSpec | undefined;
  timeoutSeconds?: number | undefined;
  /** The caller's key for this run: the same key (and request) is the same run. */
  idempotencyKey?: string | undefined;
  /**
   * Retries on disruption this request asks for (core/retry.ts), at most what the source's annotation allows;
   * absent: what it allows.
   */
  retryOnDisruption?: number | undefined;
  /** For this one run of a CronJob, instead of its own concurrencyPolicy. */
  concurrencyPolicy?: ConcurrencyPolicy | undefined;
  /** The invocation that started it. */
  startedBy: string;
  trigger: RunTrigger;
}

export interface StartDeps {
  config: Config;
  clusters: ClusterRegistry;
  newSuffix: () => string;
  runs: RunInstances;
  log: (line: string) => void;
  /** The Functions invocation that starts the run (its InvocationContext), whose telemetry the run's start is. */
  invocation?: Invocation | undefined;
}

/** The run a start led to: a new one, or the one its idempotency key already named. */
export interface StartedRun {
  runId: string;
  cluster: string;
  existing: boolean;
}

/**
 * METRICS.runsStarted for a run whose instance was just made: its trigger (http, schedule, rerun), who called
 * (absent for the scheduler) and, for a scheduled run, its CronJob (ATTRIBUTES.cronJob, which the missed-due-time
 * alert matches against the scheduler's expectations).
 */
function countStarted(input: JobRunInput): void {
  const { runId, cluster, namespace, source, trigger, caller } = input.request;
  const kind = trigger?.kind ?? 'http';
  instruments().runsStarted.add(
    1,
    runMetricAttributes(
      { runId, cluster, namespace, source, trigger: kind },
      { [ATTRIBUTES.callerKind]: caller?.kind, [ATTRIBUTES.cronJob]: kind === 'schedule' ? source.name : undefined },
    ),
  );
}

/**
 * Start the orchestration of a run, or meet the one that exists under its id. `existing` is true when the
 * instance was there already (a race with another start of the same id, or an earlier start); a failure to
 * start that leaves no instance is rethrown.
 *
 * Every run starts here, an HTTP caller's (startRun) and the scheduler's alike, so here is where
 * METRICS.runsStarted counts it: once, when its instance was made.
 */
export async function launchRun(runs: Pick<RunInstances, 'find' | 'start'>, runId: string, input: JobRunInput): Promise<{ existing: { input: unknown } | undefined }> {
  try {
    await runs.start(runId, input);
    countStarted(input);
    return { existing: undefined };
  } catch (err) {
    const raced = await runs.find(runId);
    if (!raced) throw err;
    return { existing: raced };
  }
}

/**
 * Start a run of a Job or of a CronJob's template. Everything that can be wrong with the request is found
 * here, before anything is started: names, allow-lists, the caller's policy, the source's existence, the
 * cluster's capacity, the CronJob's concurrencyPolicy. A request whose run exists (same idempotency key) is that
 * run, if it asks for the same thing.
 */
export async function startRun(request: RunStartRequest, deps: StartDeps): Promise<StartedRun> {
  const { config, clusters } = deps;
  const { kind, namespace, name, caller, overrides, fallback } = request;
  assertNamespace(namespace);
  assertObjectName(kind, name);
  const cluster = request.cluster ?? clusters.defaultAlias;
  clusters.authorize(cluster, namespace);
  if (kind === 'CronJob' && fallback) {
    throw new BadRequestError('image, command and args apply only to Job runs; a CronJob run always uses its jobTemplate');
  }
  // A string no runtime can pull is a 400 now, not an InvalidImageName on the node after a Job exists.
  if (fallback) parseImageReference(fallback.image);
  authorizeStart(caller, config.callers, { cluster, namespace, fallback: fallback !== undefined });
  if (kind === 'Job' && request.concurrencyPolicy) throw new BadRequestError('concurrencyPolicy applies only to CronJob runs');

  const runId = runIdFor(
    { cluster, namespace, sourceKind: kind, sourceName: name, idempotencyKey: request.idempotencyKey, callerScope: callerScope(caller) },
    deps.newSuffix,
  );
  const source = { kind, name };
  const runRequest: RunRequest = {
    runId,
    cluster,
    namespace,
    source,
    overrides,
    fallback,
    requestHash: requestHash({ cluster, namespace, source, overrides, fallback }),
    timeoutSeconds: request.timeoutSeconds,
    startedBy: request.startedBy,
    trigger: request.trigger,
    caller: startedByOf(caller),
  };

  // The run's trace starts here: its input carries this span's context to the orchestration's activities.
  return withSpan(
    'start run',
    { [ATTRIBUTES.callerKind]: caller.kind },
    (span) => markRun(span, { runId, cluster, namespace, source, trigger: request.trigger.kind }, () => oneAtATime(runId, () => startOnce(runRequest, request, deps)), deps.invocation),
    deps.invocation,
  );
}

/**
 * Starts of one run id (and, around the capacity check and startNew, of one cluster) in this process, one
 * after the other. Durable's startNew replaces a finished instance
 * (the host's only setting that refuses anything refuses running ones: docs/decisions.md, "Issue 20, item 3"),
 * so two starts with one idempotency key that both read "no run" before either started would run it twice if
 * the first run finished before the second startNew.
 */
const inFlight = new Map<string, Promise<unknown>>();

async function oneAtATime<T>(key: string, work: () => Promise<T>): Promise<T> {
  const current = (inFlight.get(key) ?? Promise.resolve()).catch(() => undefined).then(work);
  inFlight.set(key, current);
  try {
    return await current;
  } finally {
    if (inFlight.get(key) === current) inFlight.delete(key);
  }
}

async function startOnce(runRequest: RunRequest, request: RunStartRequest, deps: StartDeps): Promise<StartedRun> {
  const { config, clusters } = deps;
  const { runId, cluster, namespace } = runRequest;
  const { kind, name } = request;
  const existing = await deps.runs.find(runId);
  if (existing) return sameRun(existing, runRequest);

  // A first look at the cluster's Jobs, so a full cluster is a 429 before the source is read or a run replaced.
  const gateway = clusters.gateway(cluster);
  await assertRunCapacity(gateway, clusters.settings(cluster), namespace, config.maxActiveRunsPerCluster);
  // Building the Job reads the source: a missing one is a 404 now, not a failed run later.
  const built = await buildRunJob(gateway, runRequest, config.runPolicy);
  runRequest.source = built.source;
  // Resolved once, here: the owner's consent when the run started bounds all of its attempts.
  const retries = resolveRetries(built.retry, request.retryOnDisruption, `${kind} ${namespace}/${name}`);
  if (retries > 0) runRequest.retryOnDisruption = retries;
  if (kind === 'CronJob') {
    // Replace and Forbid see only the runs this caller may read (issue 21 item 5).
    await honourConcurrencyPolicy(deps.runs.requestCancel, gateway, { namespace, name }, request.concurrencyPolicy, runId, deps.log, jobVisibleTo(request.caller));
  }

  // The cap holds for starts at once: one start per cluster at a time in this process counts, then starts, and
  // the count takes in the runs Durable has accepted whose Job does not exist yet (docs/decisions.md, "Issue 21,
  // item 6").
  return oneAtATime(`cluster:${cluster}`, async () => {
    await assertRunCapacity(gateway, clusters.settings(cluster), namespace, config.maxActiveRunsPerCluster, await deps.runs.accepted(cluster));
    // Read again right before starting: the checks above take a while, and a start of the same id in another
    // instance of the app may have started (and even finished) the run meanwhile.
    const meanwhile = await deps.runs.find(runId);
    if (meanwhile) return sameRun(meanwhile, runRequest);
    const traceparent = currentTraceparent(deps.invocation);
    const input: JobRunInput = {
      request: { ...runRequest, ...(traceparent ? { traceparent } : {}) },
      poll: { ...config.poll },
      retry: { ...config.activityRetry },
      startedAt: new Date().toISOString(),
    };
    // Two requests with the same key raced: the other one started the run, which is this run.
    // In the start's span: Durable's client sends the active context to the host with the request.
    const launched = await withInvocationContext(deps.invocation, () => launchRun(deps.runs, runId, input));
    if (launched.existing) return sameRun(launched.existing, runRequest);
    deps.log(`run ${runId}: started from ${kind} ${namespace}/${name} on ${cluster}`);
    return { runId, cluster, existing: false };
  });
}

/** The run that exists under the request's id, when it was started for the same request. */
function sameRun(existing: { input: unknown }, runRequest: RunRequest): StartedRun {
  const previous = (existing.input as Partial<JobRunInput> | undefined)?.request?.requestHash;
  if (previous !== undefined && previous !== runRequest.requestHash) {
    throw new ConflictError(
      `the idempotency key of run "${runRequest.runId}" was already used for a different request (other parameters); use a new key for a new request`,
    );
  }
  return { runId: runRequest.runId, cluster: runRequest.cluster, existing: true };
}
