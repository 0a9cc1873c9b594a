import type { V1Job } from '@kubernetes/client-node';

import { CredentialError } from '../clients/credentials.js';
import type { KubeGateway } from '../clients/kube.js';
import { cloneJob, fallbackJob, isSameRun, jobFromCronJob, type RunIdentity, scheduledJobFromCronJob, withDeadline } from '../core/clone.js';
import { assertRunConsent, isConsentRefusal, type RunPolicy } from '../core/consent.js';
import { AppError, isAlreadyExists, KubeApiError, NotFoundError } from '../core/errors.js';
import { notSubmitted, withFailure } from '../core/failure.js';
import { attemptNumberOf, type RetryConsent, retryConsentOf } from '../core/retry.js';
import { jobNameOf, type RunRequest, type RunSnapshot, type RunSource, snapshotOf } from '../core/run.js';
import { scheduledTimestamp } from '../core/scheduler.js';
import { namespaceThrottle, ThrottledError } from './batch.js';
import { refusal } from './failures.js';
import { THROTTLED } from './observe.js';

export type SubmitResult =
  /** The Job exists: created now, or by an earlier attempt of the same run. */
  | { outcome: 'submitted'; snapshot: RunSnapshot }
  /** Nothing was created and retrying will not help: a person must act. */
  | { outcome: 'rejected'; snapshot: RunSnapshot }
  /** The API server (or ARM) asked the app to slow down: nothing was created yet, try again at `retryAt`. */
  | { outcome: 'throttled'; snapshot: RunSnapshot; retryAt: string };

function identity(request: RunRequest): RunIdentity {
  return {
    runId: request.runId,
    jobName: request.jobName,
    attempt: attemptNumberOf(request.runId, request.jobName),
    namespace: request.namespace,
    sourceKind: request.source.kind,
    sourceName: request.source.name,
    requestHash: request.requestHash,
    startedBy: request.startedBy,
    caller: request.trigger?.kind === 'schedule' ? undefined : (request.caller ?? { kind: 'key' }),
  };
}

function sourceMissing(request: RunRequest): NotFoundError {
  const { kind, name } = request.source;
  const hint = kind === 'Job' ? '; pass image (and optionally command, args) in the query string to run without a source Job' : '';
  return new NotFoundError(`${kind} "${name}" does not exist in namespace "${request.namespace}"${hint}`);
}

/**
 * The Job to create for a request, from its source as it is now, and the source it was built from. The source's
 * and the operator's consent is checked here, where the source is read: at the start route and again in the
 * submit activity, since the source may have changed in between. With them, what the source's owner allows
 * for retries on disruption (core/retry.ts), which the start resolves.
 */
export async function buildRunJob(gateway: KubeGateway, request: RunRequest, policy: RunPolicy): Promise<{ job: V1Job; source: RunSource; retry: RetryConsent }> {
  const id = identity(request);
  const { kind, name } = request.source;
  if (kind === 'CronJob') {
    const cronJob = await gateway.readCronJob(request.namespace, name);
    if (!cronJob) throw sourceMissing(request);
    assertRunConsent(policy, kind, name, cronJob.metadata, cronJob.spec.jobTemplate.spec?.template, request);
    const trigger = request.trigger;
    const job =
      trigger?.kind === 'schedule'
        ? scheduledJobFromCronJob(cronJob, id, scheduledTimestamp(new Date(trigger.scheduledTime), cronJob.spec.timeZone))
        : jobFromCronJob(cronJob, id, request.overrides);
    return { job: withDeadline(job, policy.jobActiveDeadlineSeconds), source: { kind, name }, retry: retryConsentOf(cronJob.metadata?.annotations) };
  }
  const source = await gateway.readJob(request.namespace, name);
  if (source) {
    assertRunConsent(policy, kind, name, source.metadata, source.spec?.template, request);
    return {
      job: withDeadline(cloneJob(source, id, request.overrides), policy.jobActiveDeadlineSeconds),
      source: { kind, name },
      retry: retryConsentOf(source.metadata?.annotations),
    };
  }
  if (request.fallback) {
    assertRunConsent(policy, kind, name, undefined, undefined, request);
    const job = fallbackJob(request.fallback, id, request.overrides, policy.fallback, policy.jobActiveDeadlineSeconds);
    const retry = { retries: 0, problem: "a run of the caller's own image has no source whose owner could allow retries" };
    return { job, source: { kind, name, fallbackImage: request.fallback.image }, retry };
  }
  throw sourceMissing(request);
}

/** After AlreadyExists: the Job is this run's (a retried or replayed attempt) or someone else's. */
async function sameRunOrConflict(
  gateway: KubeGateway,
  request: RunRequest,
  source: RunSource,
  submitted: (source: RunSource) => SubmitResult,
  rejected: (reason: string, message: string) => SubmitResult,
): Promise<SubmitResult> {
  const name = jobNameOf(request);
  let existing: V1Job | null;
  try {
    existing = await gateway.readJob(request.namespace, name);
  } catch (err) {
    const refused = refusal(err);
    if (!refused) throw err;
    return rejected(
      'NameConflict',
      `a Job named "${name}" already exists in namespace "${request.namespace}" and could not be read to tell whether this run created it: ${refused.message}`,
    );
  }
  if (existing && isSameRun(existing, identity(request))) return submitted(source);
  return rejected('NameConflict', `a Job named "${name}" already exists in namespace "${request.namespace}" and was not created by this run`);
}

/** Create the run's Job once (see createRun); throttling and other transient errors throw. */
async function createOnce(gateway: KubeGateway, request: RunRequest, monitorUrl: string | null, now: Date, policy: RunPolicy): Promise<SubmitResult> {
  const rejected = (reason: string, message: string): SubmitResult => ({
    outcome: 'rejected',
    snapshot: withFailure(snapshotOf(request, { status: 'Failed', reason, message, monitorUrl }, now), notSubmitted({ reason, message }, now)),
  });
  const submitted = (source: RunSource): SubmitResult => ({
    outcome: 'submitted',
    snapshot: snapshotOf({ ...request, source }, { status: 'Starting', reason: 'Submitted', message: 'the Job was created', monitorUrl }, now),
  });

  let job: V1Job;
  let source: RunSource;
  try {
    ({ job, source } = await buildRunJob(gateway, request, policy));
  } catch (err) {
    if (err instanceof NotFoundError) return rejected('SourceNotFound', err.message);
    if (isConsentRefusal(err)) return rejected(err.reason, err.message);
    if (err instanceof KubeApiError || err instanceof CredentialError) {
      const refused = refusal(err);
      if (!refused) throw err;
      return rejected(err instanceof CredentialError ? refused.reason : 'SourceUnreadable', refused.message);
    }
    if (err instanceof AppError) return rejected('InvalidSource', err.message);
    throw err;
  }

  try {
    await gateway.createJob(request.namespace, job);
    return submitted(source);
  } catch (err) {
    if (isAlreadyExists(err)) return sameRunOrConflict(gateway, request, source, submitted, rejected);
    const refused = refusal(err);
    if (refused) return rejected(refused instanceof KubeApiError ? (refused.kubeReason ?? 'CreateRejected') : refused.reason, refused.message);
    throw err;
  }
}

/**
 * Create the run's Job. Runs at least once, so it is create-or-get: AlreadyExists of this same run (a retried
 * or replayed attempt) is success; of any other object it is a conflict nobody should retry.
 * Throttling (429, or 503 with Retry-After, from the API server; 429 from ARM) comes back as `throttled` with
 * the time it asked for, and the namespace gets no call from this worker before then; other transient errors
 * are thrown for the orchestrator's RetryOptions; every other failure is a rejection.
 */
export async function createRun(gateway: KubeGateway, request: RunRequest, monitorUrl: string | null, now: Date, policy: RunPolicy): Promise<SubmitResult> {
  const result = await namespaceThrottle(gateway, request.namespace).unlessThrottled(() => createOnce(gateway, request, monitorUrl, now, policy));
  if (!(result instanceof ThrottledError)) return result;
  const message = `${result.message}; the Job is created after that, and the run waits meanwhile`;
  return {
    outcome: 'throttled',
    snapshot: snapshotOf(request, { status: 'Starting', reason: THROTTLED, message, monitorUrl }, now),
    retryAt: result.until.toISOString(),
  };
}
