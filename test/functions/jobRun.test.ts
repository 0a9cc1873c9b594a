import { describe, expect, it } from 'vitest';

import { CUSTOM_STATUS_BUDGET_CHARS, MAX_MESSAGE_CHARS } from '../../src/core/limits.js';
import { type RunRequest, type RunSnapshot, snapshotOf } from '../../src/core/run.js';
import type { JobRunInput } from '../../src/core/schemas.js';
import { jobRun, STOP_THROTTLED_FOR_MS, STOP_THROTTLED_MAX_WAIT_MS } from '../../src/functions/jobRun.js';
import { ACTIVITIES, CANCEL_EVENT } from '../../src/functions/names.js';
import type { StopThrottled } from '../../src/runs/observe.js';
import type { SubmitResult } from '../../src/runs/submit.js';
import { OrchestrationHarness } from '../support/harness.js';

const t0 = new Date('2026-11-23T10:00:00Z');
const seconds = (n: number) => new Date(t0.getTime() + n * 1000);

const request: RunRequest = {
  runId: 'nightly-0123456789',
  cluster: 'dev',
  namespace: 'batch',
  source: { kind: 'Job', name: 'nightly' },
  overrides: { BATCH_DATE: '2026-11-23' },
  requestHash: 'hash-1',
};
const ref = { runId: request.runId, cluster: request.cluster, namespace: request.namespace, source: request.source };

function input(overrides: Partial<JobRunInput> = {}, req: Partial<RunRequest> = {}): JobRunInput {
  return {
    request: { ...request, ...req },
    poll: { initialSeconds: 5, maxSeconds: 60, factor: 2, continueAsNewAfter: 50, maxObserveFailures: 3 },
    retry: { firstRetryMs: 1000, maxAttempts: 2 },
    ...overrides,
  };
}

function snap(status: RunSnapshot['status'], reason: string, at: Date, extra: Partial<RunSnapshot> = {}): RunSnapshot {
  return snapshotOf(ref, { status, reason, message: `${status} ${reason}`, ...extra }, at);
}

const submitted: SubmitResult = { outcome: 'submitted', snapshot: snap('Starting', 'Submitted', t0) };

const ARCHIVED = { location: 'run-logs/dev/batch/nightly-0123456789/index.json' };

/**
 * The verdict is known: the archive activity runs, once, and its outcome goes on the final snapshot; then (from
 * version 3.1) the push activity, which starts the deliveries of the run's subscriptions (none here).
 */
async function archived(h: OrchestrationHarness, outcome: unknown = ARCHIVED): Promise<OrchestrationHarness> {
  await h.complete(ACTIVITIES.archiveRun, outcome);
  return notified(h);
}

async function notified(h: OrchestrationHarness): Promise<OrchestrationHarness> {
  return h.pending.some((w) => w.kind === 'activity' && w.name === ACTIVITIES.notifyRun) ? h.complete(ACTIVITIES.notifyRun, 0) : h;
}

async function started(i: JobRunInput = input()): Promise<OrchestrationHarness> {
  const h = await new OrchestrationHarness(jobRun, i, t0).start();
  return h.complete(ACTIVITIES.submitRun, submitted);
}

describe('jobRun orchestration', () => {
  it('submits once, polls on growing timers and returns the Success snapshot as output', async () => {
    const h = await new OrchestrationHarness(jobRun, input(), t0).start();
    expect(h.activity().name).toBe(ACTIVITIES.submitRun);
    expect(h.activity().input).toEqual(request);

    await h.complete(ACTIVITIES.submitRun, submitted);
    expect(h.state.customStatus).toMatchObject({ status: 'Starting', reason: 'Submitted' });
    expect(h.timer().fireAt).toEqual(seconds(5));

    await h.fire();
    expect(h.activity().name).toBe(ACTIVITIES.observeRun);
    expect(h.activity().input).toEqual(ref);
    await h.complete(ACTIVITIES.observeRun, snap('Running', 'Running', seconds(5)));
    expect(h.state.customStatus).toMatchObject({ status: 'Running' });
    // 10 s later, rounded up to a multiple of 10 s on the wall clock, where every run at this step wakes.
    expect(h.timer().fireAt).toEqual(seconds(10));

    await h.fire();
    const success = snap('Success', 'CompletionsReached', seconds(10), { outputs: { rows: 42 } });
    await h.complete(ACTIVITIES.observeRun, success);
    expect(h.state.customStatus).toEqual(success);
    expect(h.activity().input).toEqual({ ref, final: { status: 'Success', reason: 'CompletionsReached', message: success.message, startTime: null, completionTime: null }, trigger: 'http', caller: { kind: 'key' } });
    await archived(h);
    expect(h.state.status).toBe('Completed');
    expect(h.state.output).toEqual({ ...success, archive: ARCHIVED });
    expect(h.state.customStatus).toEqual({ ...success, archive: ARCHIVED });
    expect(h.pending).toEqual([]);
  });

  it('caps the poll interval at the configured maximum', async () => {
    const h = await started(input({ poll: { initialSeconds: 5, maxSeconds: 12, factor: 3, continueAsNewAfter: 50, maxObserveFailures: 3 } }));
    const fireTimes: number[] = [];
    for (let i = 0; i < 3; i++) {
      fireTimes.push((h.timer().fireAt.getTime() - h.now.getTime()) / 1000);
      await h.fire();
      await h.complete(ACTIVITIES.observeRun, snap('Running', 'Running', h.now));
    }
    // Aligned to multiples of the interval: from t0 + 5 s the next multiple of 12 s is 7 s away.
    expect(fireTimes).toEqual([5, 7, 12]);
  });

  it('ends Failed with the observed reason when the Job fails', async () => {
    const h = await started();
    await h.fire();
    const failed = snap('Failed', 'BackoffLimitExceeded', seconds(5));
    await h.complete(ACTIVITIES.observeRun, failed);
    await archived(h);
    expect(h.state.status).toBe('Completed');
    expect(h.state.output).toMatchObject({ status: 'Failed', reason: 'BackoffLimitExceeded' });
  });

  it('returns a rejected submit as the final snapshot without polling', async () => {
    const h = await new OrchestrationHarness(jobRun, input(), t0).start();
    const rejected: SubmitResult = { outcome: 'rejected', snapshot: snap('Failed', 'SourceNotFound', t0) };
    await h.complete(ACTIVITIES.submitRun, rejected);
    await archived(h);
    expect(h.state.status).toBe('Completed');
    expect(h.state.output).toMatchObject({ status: 'Failed', reason: 'SourceNotFound' });
    expect(h.state.records.filter((r) => r.kind === 'timerCreated')).toHaveLength(0);
  });

  it.each([
    ['3.0', false],
    ['2', true],
  ] as const)('deletes any half-created Job and fails the run when submit keeps failing after its retries (version %s)', async (version, hostRetries) => {
    const h = await new OrchestrationHarness(jobRun, input(), t0, 'run-abc', version).start();
    await h.fail(ACTIVITIES.submitRun, 'create Job batch/x failed: HTTP 503');
    expect(h.timer().fireAt).toEqual(seconds(1));
    await h.fire(); // the retry delay
    expect(h.activity().name).toBe(ACTIVITIES.submitRun);
    await h.fail(ACTIVITIES.submitRun, 'create Job batch/x failed: HTTP 503');
    // With RetryOptions (before 3.0) the host writes one more timer when attempts run out; from 3.0 the
    // orchestrator retries by itself and stops at once.
    if (hostRetries) await h.fire();
    const stop = h.activity(ACTIVITIES.stopRun);
    expect(stop.input).toMatchObject({ ref, verdict: { status: 'Failed', reason: 'SubmitFailed' } });
    await h.complete(ACTIVITIES.stopRun, snap('Failed', 'SubmitFailed', h.now));
    await archived(h);
    expect(h.state.status).toBe('Completed');
    expect(h.state.output).toMatchObject({ status: 'Failed', reason: 'SubmitFailed' });
  });

  it('retries a transiently failing observe and goes on polling', async () => {
    const h = await started();
    await h.fire();
    await h.fail(ACTIVITIES.observeRun, 'list Pods failed: HTTP 429');
    await h.fire(); // retry delay
    expect(h.activity().name).toBe(ACTIVITIES.observeRun);
    await h.complete(ACTIVITIES.observeRun, snap('Running', 'Running', h.now));
    expect(h.state.customStatus).toMatchObject({ status: 'Running' });
    expect(h.timer()).toBeDefined();
  });

  it('reports Unknown ClusterUnavailable and keeps polling when the cluster does not answer even after retries', async () => {
    const h = await started();
    await h.fire();
    await h.fail(ACTIVITIES.observeRun, 'no answer from the API server');
    await h.fire();
    await h.fail(ACTIVITIES.observeRun, 'no answer from the API server');
    await h.fire();
    expect(h.state.status).toBe('Running');
    expect(h.state.customStatus).toMatchObject({ status: 'Unknown', reason: 'ClusterUnavailable' });
    expect((h.state.customStatus as RunSnapshot).message).toContain('no answer from the API server');
    expect(h.timer()).toBeDefined();
  });

  it('throttling keeps the run\'s status, says Throttled while it lasts, and never counts towards ObserveFailed', async () => {
    const h = await started(); // maxObserveFailures: 3
    await h.fire();
    const running = snap('Running', 'Running', h.now, { pods: { active: 1, ready: 1, succeeded: 0, failed: 0 } });
    await h.complete(ACTIVITIES.observeRun, running);
    for (let i = 0; i < 5; i++) {
      await h.fire();
      await h.complete(ACTIVITIES.observeRun, snap('Unknown', 'Throttled', h.now, { message: 'the API server asked the app to slow down (HTTP 429)' }));
      expect(h.state.customStatus).toMatchObject({ status: 'Running', reason: 'Throttled', pods: running.pods, message: 'the API server asked the app to slow down (HTTP 429)' });
    }
    expect(h.state.status).toBe('Running');
    expect(h.state.records.some((r) => r.kind === 'scheduled' && r.name === ACTIVITIES.stopRun)).toBe(false);
    await h.fire();
    await h.complete(ACTIVITIES.observeRun, snap('Success', 'CompletionsReached', h.now));
    await archived(h);
    expect(h.state.output).toMatchObject({ status: 'Success' });
  });

  it('an outage does not end the run: a cluster that does not answer for many polls keeps it Unknown, its Job untouched', async () => {
    const h = await started(); // maxObserveFailures: 3
    for (let i = 0; i < 6; i++) {
      await h.fire();
      await h.fail(ACTIVITIES.observeRun, 'read Job failed: no answer from the API server');
      await h.fire(); // retry delay
      await h.fail(ACTIVITIES.observeRun, 'read Job failed: no answer from the API server');
      await h.fire(); // attempts ran out
      expect(h.state.customStatus).toMatchObject({ status: 'Unknown', reason: 'ClusterUnavailable' });
    }
    expect(h.state.status).toBe('Running');
    expect(h.state.records.some((r) => r.kind === 'scheduled' && r.name === ACTIVITIES.stopRun)).toBe(false);
    await h.fire();
    await h.complete(ACTIVITIES.observeRun, snap('Success', 'CompletionsReached', h.now));
    await archived(h);
    expect(h.state.output).toMatchObject({ status: 'Success' });
  });

  it('an outage is bounded by the run\'s own timeout', async () => {
    const h = await started(input({}, { timeoutSeconds: 30 }));
    while (!h.state.records.some((r) => r.kind === 'scheduled' && r.name === ACTIVITIES.stopRun)) {
      if (h.pending.some((w) => w.kind === 'activity')) await h.fail(ACTIVITIES.observeRun, 'read Job failed: HTTP 503');
      else await h.fire();
    }
    expect(h.activity(ACTIVITIES.stopRun).input).toMatchObject({ verdict: { status: 'Failed', reason: 'RunTimeout' } });
  });

  it('cancels the pending timer, looks once more and deletes the Job when a cancel event arrives', async () => {
    const h = await started();
    expect(h.timer().fireAt).toEqual(seconds(5));
    h.now = seconds(2);
    await h.raise(CANCEL_EVENT, { reason: 'wrong date' });
    expect(h.pending.filter((w) => w.kind === 'timer')).toEqual([]);
    await h.complete(ACTIVITIES.observeRun, snap('Running', 'Running', seconds(2)));
    const stop = h.activity(ACTIVITIES.stopRun);
    expect(stop.input).toMatchObject({ ref, verdict: { status: 'Cancelled', reason: 'CancelRequested', message: 'cancelled: wrong date' } });
    // The verdict is made while the Job is being deleted: the cancel route answers 409 from the custom status.
    expect(h.state.customStatus).toMatchObject({ status: 'Cancelled', reason: 'CancelRequested' });
    await h.complete(ACTIVITIES.stopRun, snap('Cancelled', 'CancelRequested', seconds(2)));
    await archived(h);
    expect(h.state.status).toBe('Completed');
    expect(h.state.output).toMatchObject({ status: 'Cancelled' });
  });

  it('a cancel that meets a Job which ended on its own keeps that verdict and its outputs and deletes nothing', async () => {
    const h = await started();
    await h.raise(CANCEL_EVENT, {});
    const success = snap('Success', 'CompletionsReached', seconds(1), { outputs: { rows: 7 }, pods: { active: 0, ready: 0, succeeded: 1, failed: 0 } });
    await h.complete(ACTIVITIES.observeRun, success);
    await archived(h);
    expect(h.state.status).toBe('Completed');
    expect(h.state.output).toEqual({ ...success, archive: ARCHIVED });
    expect(h.state.records.some((r) => r.kind === 'scheduled' && r.name === ACTIVITIES.stopRun)).toBe(false);
  });

  it('a cancel whose Job the cancel route already deleted is the cancel, with its reason', async () => {
    const h = await started();
    await h.raise(CANCEL_EVENT, { reason: 'wrong date' });
    await h.complete(ACTIVITIES.observeRun, snap('Cancelled', 'JobDeleted', seconds(1)));
    expect(h.activity(ACTIVITIES.stopRun).input).toMatchObject({ verdict: { status: 'Cancelled', reason: 'CancelRequested' } });
  });

  it('instances created before versioning (version 1) cancel as they always did: stop at once, no last look', async () => {
    const h = await new OrchestrationHarness(jobRun, input(), t0, 'run-abc', null).start();
    await h.complete(ACTIVITIES.submitRun, submitted);
    await h.raise(CANCEL_EVENT, {});
    expect(h.activity().name).toBe(ACTIVITIES.stopRun);
  });

  it('stops the run as Failed RunTimeout when timeoutSeconds passes, with the last timer cut to the deadline', async () => {
    const h = await started(input({}, { timeoutSeconds: 8 }));
    await h.fire();
    await h.complete(ACTIVITIES.observeRun, snap('Running', 'Running', seconds(5)));
    expect(h.timer().fireAt).toEqual(seconds(8));
    await h.fire();
    // One last look before the verdict: the Job is still running.
    await h.complete(ACTIVITIES.observeRun, snap('Running', 'Running', seconds(8)));
    const stop = h.activity(ACTIVITIES.stopRun);
    expect(stop.input).toMatchObject({ verdict: { status: 'Failed', reason: 'RunTimeout' } });
    expect(h.state.customStatus).toMatchObject({ status: 'Failed', reason: 'RunTimeout' });
    await h.complete(ACTIVITIES.stopRun, snap('Failed', 'RunTimeout', seconds(12)));
    await archived(h);
    expect(h.state.output).toMatchObject({ status: 'Failed', reason: 'RunTimeout' });
  });

  it('keeps the verdict of a Job that finished just before the deadline: no timeout, no delete', async () => {
    const h = await started(input({}, { timeoutSeconds: 12 }));
    await h.fire();
    await h.complete(ACTIVITIES.observeRun, snap('Running', 'Running', seconds(5)));
    await h.fire();
    const success = snap('Success', 'CompletionsReached', seconds(12), { outputs: { rows: 7 } });
    await h.complete(ACTIVITIES.observeRun, success);
    await archived(h);
    expect(h.state.status).toBe('Completed');
    expect(h.state.output).toEqual({ ...success, archive: ARCHIVED });
    expect(h.state.records.some((r) => r.kind === 'scheduled' && r.name === ACTIVITIES.stopRun)).toBe(false);
  });

  it.each([
    ['a pod problem past its grace (the autoscaler could still place the pod later)', 'Failed', 'Unschedulable'],
    ['an image that cannot be pulled', 'Failed', 'ErrImagePull'],
    ['quota refusing pods', 'Failed', 'QuotaExceeded'],
    ['a suspended Job (someone could resume it)', 'Cancelled', 'Suspended'],
  ] as const)('deletes the Job when it ends the run itself on %s', async (_, status, reason) => {
    const h = await started();
    await h.fire();
    const verdict = snap(status, reason, seconds(5), { pods: { active: 0, ready: 0, succeeded: 0, failed: 0 } });
    await h.complete(ACTIVITIES.observeRun, verdict);
    const stop = h.activity(ACTIVITIES.stopRun);
    expect(stop.input).toMatchObject({ ref, verdict: { status, reason, message: verdict.message } });
    await h.complete(ACTIVITIES.stopRun, snap(status, reason, seconds(5)));
    await archived(h);
    expect(h.state.status).toBe('Completed');
    expect(h.state.output).toMatchObject({ status, reason });
  });

  it('does not delete a Job that failed by its own conditions: its pods stay for the post-mortem', async () => {
    const h = await started();
    await h.fire();
    await h.complete(ACTIVITIES.observeRun, snap('Failed', 'DeadlineExceeded', seconds(5)));
    expect(h.activity().name).toBe(ACTIVITIES.archiveRun);
    await archived(h);
    expect(h.state.status).toBe('Completed');
    expect(h.state.records.some((r) => r.kind === 'scheduled' && r.name === ACTIVITIES.stopRun)).toBe(false);
    expect(h.pending).toEqual([]);
  });

  it('still gives the verdict when the Job cannot be deleted, and says the Job must be deleted by hand', async () => {
    const h = await started(input({ retry: { firstRetryMs: 1000, maxAttempts: 1 } }));
    await h.fire();
    await h.complete(ACTIVITIES.observeRun, snap('Failed', 'ErrImagePull', seconds(5)));
    await h.fail(ACTIVITIES.stopRun, 'delete Job batch/nightly-0123456789 failed: HTTP 403 Forbidden');
    await h.fire(); // the retry policy's last timer: attempts ran out
    await archived(h);
    expect(h.state.status).toBe('Completed');
    expect(h.state.output).toMatchObject({ status: 'Failed', reason: 'ErrImagePull' });
    expect((h.state.output as RunSnapshot).message).toMatch(/delete it by hand: .*HTTP 403/);
  });

  it('ends the run Failed ObserveFailed after maxObserveFailures unreadable polls in a row, a good read resetting the count', async () => {
    const h = await started(); // maxObserveFailures: 3
    const unreadable = (at: Date) => snap('Unknown', 'ObserveFailed', at, { message: 'read Job failed: HTTP 403 Forbidden' });
    await h.fire();
    await h.complete(ACTIVITIES.observeRun, unreadable(h.now));
    await h.fire();
    await h.complete(ACTIVITIES.observeRun, unreadable(h.now));
    await h.fire();
    await h.complete(ACTIVITIES.observeRun, snap('Running', 'Running', h.now));
    for (let i = 0; i < 2; i++) {
      await h.fire();
      await h.complete(ACTIVITIES.observeRun, unreadable(h.now));
      expect(h.state.customStatus).toMatchObject({ status: 'Unknown', reason: 'ObserveFailed' });
      expect(h.timer()).toBeDefined();
    }
    await h.fire();
    await h.complete(ACTIVITIES.observeRun, unreadable(h.now));
    const stop = h.activity(ACTIVITIES.stopRun);
    expect(stop.input).toMatchObject({ verdict: { status: 'Failed', reason: 'ObserveFailed' } });
    expect((stop.input as { verdict: { message: string } }).verdict.message).toMatch(/3 times in a row .*HTTP 403/);
  });

  it('continues as new every N polls, carrying its progress and never submitting again', async () => {
    const h = await started(input({ poll: { initialSeconds: 5, maxSeconds: 60, factor: 2, continueAsNewAfter: 2, maxObserveFailures: 3 } }));
    await h.fire();
    await h.complete(ACTIVITIES.observeRun, snap('Running', 'Running', seconds(5)));
    await h.fire();
    const last = snap('Running', 'Running', seconds(10), { pods: { active: 1, ready: 1, succeeded: 0, failed: 0 } });
    await h.complete(ACTIVITIES.observeRun, last);

    expect(h.state.status).toBe('Running');
    expect(h.state.input).toMatchObject({ progress: { polls: 2, generation: 1, deadline: null, last } });
    expect(h.state.records.filter((r) => r.kind === 'scheduled')).toEqual([]);
    expect(h.state.customStatus).toEqual(last);
    // The backoff goes on from where it was: 5 × 2² = 20 s, to the next multiple of 20 s.
    expect(h.timer().fireAt).toEqual(seconds(20));
    await h.fire();
    expect(h.activity().name).toBe(ACTIVITIES.observeRun);
  });

  it('a cancel that arrives during the last observe of a generation wins over continueAsNew: the Job is stopped', async () => {
    const h = await started(input({ poll: { initialSeconds: 5, maxSeconds: 60, factor: 2, continueAsNewAfter: 2, maxObserveFailures: 3 } }));
    await h.fire();
    await h.complete(ACTIVITIES.observeRun, snap('Running', 'Running', seconds(5)));
    await h.fire();
    expect(h.activity().name).toBe(ACTIVITIES.observeRun);
    await h.raise(CANCEL_EVENT, { reason: 'wrong date' });
    await h.complete(ACTIVITIES.observeRun, snap('Running', 'Running', seconds(15)));
    expect(h.state.input).not.toHaveProperty('progress');
    await h.complete(ACTIVITIES.observeRun, snap('Running', 'Running', seconds(15))); // the cancel's last look
    const stop = h.activity(ACTIVITIES.stopRun);
    expect(stop.input).toMatchObject({ verdict: { status: 'Cancelled', reason: 'CancelRequested', message: 'cancelled: wrong date' } });
  });

  it('keeps the custom status under the host\'s 16 KB whatever the cluster says, and the outputs in the result', async () => {
    const h = await started();
    await h.fire();
    await h.complete(ACTIVITIES.observeRun, snap('Running', 'Running', h.now, { message: 'webhook said: '.padEnd(20_000, 'x') }));
    expect(h.state.status).toBe('Running');
    expect((h.state.customStatus as RunSnapshot).message.length).toBeLessThanOrEqual(MAX_MESSAGE_CHARS);
    await h.fire();
    const outputs = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`key${String(i)}`, 'v'.repeat(150)]));
    await h.complete(ACTIVITIES.observeRun, snap('Success', 'CompletionsReached', h.now, { outputs, message: 'y'.repeat(9000) }));
    expect(JSON.stringify(h.state.customStatus).length).toBeLessThanOrEqual(CUSTOM_STATUS_BUDGET_CHARS);
    await archived(h, { location: null, error: 'z'.repeat(20_000) });
    expect(h.state.status).toBe('Completed');
    expect((h.state.output as RunSnapshot).outputs).toEqual(outputs);
    expect(JSON.stringify(h.state.customStatus).length).toBeLessThanOrEqual(CUSTOM_STATUS_BUDGET_CHARS);
  });

  it('a replay of the same history schedules nothing new: the submit ran exactly once', async () => {
    const h = await started();
    await h.fire();
    await h.complete(ACTIVITIES.observeRun, snap('Running', 'Running', seconds(5)));
    const before = JSON.stringify(h.state.records);
    const { orchestratorRunner, replay } = await import('../../local/durable/engine.js');
    await replay(h.state, orchestratorRunner(jobRun), h.now);
    expect(JSON.stringify(h.state.records)).toBe(before);
    expect(h.state.records.filter((r) => r.kind === 'scheduled' && r.name === ACTIVITIES.submitRun)).toHaveLength(1);
  });

  it('keeps the verdict when archiving fails even after its retries, and says why on the final snapshot', async () => {
    const h = await started(input({ retry: { firstRetryMs: 1000, maxAttempts: 1 } }));
    await h.fire();
    const failed = snap('Failed', 'BackoffLimitExceeded', seconds(5));
    await h.complete(ACTIVITIES.observeRun, failed);
    await h.fail(ACTIVITIES.archiveRun, 'write blob dev/batch/x/index.json failed: HTTP 503: ServerBusy');
    await h.fire(); // attempts ran out
    await notified(h);
    expect(h.state.status).toBe('Completed');
    expect(h.state.output).toEqual({
      ...failed,
      archive: { location: null, error: expect.stringMatching(/^the logs could not be archived: .*index\.json failed: HTTP 503: ServerBusy/) as unknown },
    });
  });

  it('archives once, after the last execution: a continueAsNew schedules no archive', async () => {
    const h = await started(input({ poll: { initialSeconds: 5, maxSeconds: 60, factor: 2, continueAsNewAfter: 1, maxObserveFailures: 3 } }));
    await h.fire();
    await h.complete(ACTIVITIES.observeRun, snap('Running', 'Running', seconds(5)));
    expect(h.state.records.filter((r) => r.kind === 'scheduled')).toEqual([]);
    await h.fire();
    const success = snap('Success', 'CompletionsReached', h.now);
    await h.complete(ACTIVITIES.observeRun, success);
    expect(h.pending.map((w) => (w.kind === 'activity' ? w.name : w.kind))).toEqual([ACTIVITIES.archiveRun]);
    await archived(h);
    expect(h.state.output).toEqual({ ...success, archive: ARCHIVED });
  });

  it('fails the orchestration at start when its input is malformed', async () => {
    const h = await new OrchestrationHarness(jobRun, { request: { runId: 42 } }, t0).start();
    expect(h.state.status).toBe('Failed');
  });
});

describe('jobRun under the API server\'s back-pressure on create and delete', () => {
  const throttledSubmit = (retryAt: Date): SubmitResult => ({
    outcome: 'throttled',
    snapshot: snap('Starting', 'Throttled', t0, { message: 'the API server asked the app to slow down (HTTP 429)' }),
    retryAt: retryAt.toISOString(),
  });
  const throttledStop = (retryAt: Date): StopThrottled => ({ outcome: 'throttled', retryAt: retryAt.toISOString(), message: 'deleting Job batch/x waits: HTTP 429' });

  it('a throttled submit waits until the Retry-After, says Throttled meanwhile, then submits and runs on: never a failure', async () => {
    const h = await new OrchestrationHarness(jobRun, input(), t0).start();
    for (let i = 0; i < 8; i++) {
      await h.complete(ACTIVITIES.submitRun, throttledSubmit(new Date(h.now.getTime() + 3_000)));
      expect(h.state.customStatus).toMatchObject({ status: 'Starting', reason: 'Throttled' });
      expect(h.timer().fireAt).toEqual(new Date(h.now.getTime() + 3_000));
      await h.fire();
    }
    expect(h.state.records.some((r) => r.kind === 'scheduled' && r.name === ACTIVITIES.stopRun)).toBe(false);
    await h.complete(ACTIVITIES.submitRun, submitted);
    expect(h.state.customStatus).toMatchObject({ status: 'Starting', reason: 'Submitted' });
    await h.fire();
    await h.complete(ACTIVITIES.observeRun, snap('Success', 'CompletionsReached', h.now));
    await archived(h);
    expect(h.state.output).toMatchObject({ status: 'Success' });
    expect(h.state.records.filter((r) => r.kind === 'scheduled' && r.name === ACTIVITIES.submitRun)).toHaveLength(9);
  });

  it('a Retry-After in the past still waits a second: the app never hammers a throttling API server', async () => {
    const h = await new OrchestrationHarness(jobRun, input(), t0).start();
    await h.complete(ACTIVITIES.submitRun, throttledSubmit(new Date(t0.getTime() - 5_000)));
    expect(h.timer().fireAt).toEqual(seconds(1));
  });

  it('throttled submits are bounded by the run\'s timeout, counted from the first attempt: Failed RunTimeout, and nothing left behind', async () => {
    const h = await new OrchestrationHarness(jobRun, input({}, { timeoutSeconds: 10 }), t0).start();
    await h.complete(ACTIVITIES.submitRun, throttledSubmit(seconds(6)));
    await h.fire();
    await h.complete(ACTIVITIES.submitRun, throttledSubmit(seconds(30)));
    expect(h.timer().fireAt).toEqual(seconds(10)); // cut to the deadline
    await h.fire();
    await h.complete(ACTIVITIES.submitRun, throttledSubmit(seconds(40)));
    const stop = h.activity(ACTIVITIES.stopRun);
    expect(stop.input).toMatchObject({ verdict: { status: 'Failed', reason: 'RunTimeout', message: expect.stringMatching(/^the run did not start within timeoutSeconds=10: the API server asked/) as unknown } });
  });

  it('a cancel while a throttled submit waits stops the run as Cancelled, with its reason', async () => {
    const h = await new OrchestrationHarness(jobRun, input(), t0).start();
    await h.complete(ACTIVITIES.submitRun, throttledSubmit(seconds(30)));
    await h.raise(CANCEL_EVENT, { reason: 'not today' });
    const stop = h.activity(ACTIVITIES.stopRun);
    expect(stop.input).toMatchObject({ verdict: { status: 'Cancelled', reason: 'CancelRequested', message: 'cancelled: not today' } });
    expect(h.pending.some((w) => w.kind === 'timer')).toBe(false);
    await h.complete(ACTIVITIES.stopRun, snap('Cancelled', 'CancelRequested', h.now));
    await archived(h);
    expect(h.state.output).toMatchObject({ status: 'Cancelled' });
  });

  it('a cancel after a throttled wait is seen by the polls that follow (one cancel task for the whole run)', async () => {
    const h = await new OrchestrationHarness(jobRun, input(), t0).start();
    await h.complete(ACTIVITIES.submitRun, throttledSubmit(seconds(3)));
    await h.fire();
    await h.complete(ACTIVITIES.submitRun, submitted);
    await h.raise(CANCEL_EVENT, {});
    await h.complete(ACTIVITIES.observeRun, snap('Running', 'Running', h.now)); // the cancel's last look
    expect(h.activity(ACTIVITIES.stopRun).input).toMatchObject({ verdict: { status: 'Cancelled' } });
  });

  it('continues as new after continueAsNewAfter throttled waits, unsubmitted, keeping when the first submit was tried', async () => {
    const h = await new OrchestrationHarness(jobRun, input({ poll: { initialSeconds: 5, maxSeconds: 60, factor: 2, continueAsNewAfter: 2, maxObserveFailures: 3 } }, { timeoutSeconds: 3600 }), t0).start();
    await h.complete(ACTIVITIES.submitRun, throttledSubmit(seconds(3)));
    await h.fire();
    await h.complete(ACTIVITIES.submitRun, throttledSubmit(seconds(6)));
    await h.fire();
    await h.complete(ACTIVITIES.submitRun, throttledSubmit(seconds(9)));
    expect(h.state.input).toMatchObject({ submitSince: t0.toISOString() });
    expect(h.state.input).not.toHaveProperty('progress');
    // The new execution submits again, and its timeout still counts from t0.
    expect(h.activity().name).toBe(ACTIVITIES.submitRun);
    await h.complete(ACTIVITIES.submitRun, submitted);
    expect(h.state.customStatus).toMatchObject({ reason: 'Submitted' });
  });

  it('a throttled delete waits as asked while the verdict stands, then deletes', async () => {
    const h = await started();
    await h.fire();
    await h.complete(ACTIVITIES.observeRun, snap('Failed', 'ErrImagePull', h.now));
    expect(h.activity(ACTIVITIES.stopRun)).toBeDefined();
    await h.complete(ACTIVITIES.stopRun, throttledStop(new Date(h.now.getTime() + 4_000)));
    expect(h.state.customStatus).toMatchObject({ status: 'Failed', reason: 'ErrImagePull', message: 'Failed ErrImagePull; deleting Job batch/x waits: HTTP 429' });
    expect(h.timer().fireAt).toEqual(new Date(h.now.getTime() + 4_000));
    await h.fire();
    await h.complete(ACTIVITIES.stopRun, snap('Failed', 'ErrImagePull', h.now));
    await archived(h);
    expect(h.state.output).toMatchObject({ status: 'Failed', reason: 'ErrImagePull', message: 'Failed ErrImagePull' });
  });

  it('a delete throttled for an hour gives up: the verdict stands and says to delete the Job by hand', async () => {
    const h = await started();
    await h.fire();
    await h.complete(ACTIVITIES.observeRun, snap('Failed', 'ErrImagePull', h.now));
    const verdictAt = h.now.getTime();
    while (h.now.getTime() < verdictAt + STOP_THROTTLED_FOR_MS) {
      await h.complete(ACTIVITIES.stopRun, throttledStop(new Date(h.now.getTime() + 600_000)));
      await h.fire();
    }
    await h.complete(ACTIVITIES.stopRun, throttledStop(new Date(h.now.getTime() + 600_000)));
    await archived(h);
    expect(h.state.output).toMatchObject({ status: 'Failed', reason: 'ErrImagePull' });
    expect((h.state.output as RunSnapshot).message).toMatch(/throttled the delete of Job batch\/nightly-0123456789 for an hour, so delete it by hand/);
  });

  it('an hour of throttled deletes that ask for 1 s each is a bounded number of waits, growing to a cap (version 3.0)', async () => {
    const h = await started();
    await h.fire();
    await h.complete(ACTIVITIES.observeRun, snap('Failed', 'ErrImagePull', h.now));
    const verdictAt = h.now.getTime();
    const waits: number[] = [];
    while (h.state.status === 'Running' && h.pending.some((w) => w.kind === 'activity' && w.name === ACTIVITIES.stopRun)) {
      await h.complete(ACTIVITIES.stopRun, throttledStop(new Date(h.now.getTime() + 1_000)));
      if (!h.pending.some((w) => w.kind === 'timer')) break;
      const before = h.now.getTime();
      await h.fire();
      waits.push(h.now.getTime() - before);
    }
    await archived(h);
    expect((h.state.output as RunSnapshot).message).toMatch(/for an hour, so delete it by hand/);
    expect(h.now.getTime() - verdictAt).toBeGreaterThanOrEqual(STOP_THROTTLED_FOR_MS);
    // 1 s, 2 s, 4 s ... then the cap: about twenty waits for the hour, not 3,600.
    expect(waits.slice(0, 4)).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(Math.max(...waits)).toBe(STOP_THROTTLED_MAX_WAIT_MS);
    expect(waits.length).toBeLessThanOrEqual(25);
  });

  it('version 2 instances keep their one-second waits on a throttled delete (they replay as recorded)', async () => {
    const h = await new OrchestrationHarness(jobRun, input(), t0, 'run-abc', '2').start();
    await h.complete(ACTIVITIES.submitRun, submitted);
    await h.fire();
    await h.complete(ACTIVITIES.observeRun, snap('Failed', 'ErrImagePull', h.now));
    for (let i = 0; i < 3; i++) {
      await h.complete(ACTIVITIES.stopRun, throttledStop(new Date(h.now.getTime() + 1_000)));
      expect(h.timer().fireAt).toEqual(new Date(h.now.getTime() + 1_000));
      await h.fire();
    }
  });
});

/**
 * durable-functions 3.5 completes a `waitForExternalEvent` task outside any pending Task.any when its event
 * comes while the orchestrator waits on an activity, and a Task.any made later with that completed task does
 * not resolve on it (TaskOrchestrationExecutor.setTaskValue / trackOpenTask, CompoundTask.handleCompletion in
 * node_modules/durable-functions; upstream: Azure/azure-functions-durable-js issue 558). The run keeps one
 * cancel task, so from version 3.0 it looks at that task before every wait.
 */
describe('jobRun: a cancel raised while an activity runs (version 3.0)', () => {
  const throttledSubmit = (retryAt: Date): SubmitResult => ({
    outcome: 'throttled',
    snapshot: snap('Starting', 'Throttled', t0, { message: 'the API server asked the app to slow down (HTTP 429)' }),
    retryAt: retryAt.toISOString(),
  });
  const scheduled = (h: OrchestrationHarness, name: string) => h.state.records.filter((r) => r.kind === 'scheduled' && r.name === name).length;

  it('a cancel raised during an observe stops the run at once: no further timer, the last look, then the delete', async () => {
    const h = await started();
    await h.fire();
    expect(h.activity().name).toBe(ACTIVITIES.observeRun);
    await h.raise(CANCEL_EVENT, { reason: 'wrong date' });
    await h.complete(ACTIVITIES.observeRun, snap('Running', 'Running', h.now));
    // No poll timer: the cancel's last look comes next, then the stop.
    expect(h.pending.some((w) => w.kind === 'timer')).toBe(false);
    await h.complete(ACTIVITIES.observeRun, snap('Running', 'Running', h.now));
    expect(h.activity(ACTIVITIES.stopRun).input).toMatchObject({ verdict: { status: 'Cancelled', reason: 'CancelRequested', message: 'cancelled: wrong date' } });
    await h.complete(ACTIVITIES.stopRun, snap('Cancelled', 'CancelRequested', h.now));
    await archived(h);
    expect(h.state.output).toMatchObject({ status: 'Cancelled', reason: 'CancelRequested' });
    expect(scheduled(h, ACTIVITIES.observeRun)).toBe(2);
  });

  it('a cancel raised during an observe that ends the Job keeps the Job\'s own verdict', async () => {
    const h = await started();
    await h.fire();
    await h.raise(CANCEL_EVENT, {});
    const success = snap('Success', 'CompletionsReached', h.now, { outputs: { rows: 3 } });
    await h.complete(ACTIVITIES.observeRun, success);
    await archived(h);
    expect(h.state.output).toEqual({ ...success, archive: ARCHIVED });
    expect(scheduled(h, ACTIVITIES.stopRun)).toBe(0);
  });

  it('a cancel raised during a throttled submit\'s retry never lets the Job be created after it', async () => {
    const h = await new OrchestrationHarness(jobRun, input(), t0).start();
    await h.complete(ACTIVITIES.submitRun, throttledSubmit(seconds(3)));
    await h.fire();
    // The second attempt is running when the cancel comes; the API server throttles it again.
    expect(h.activity().name).toBe(ACTIVITIES.submitRun);
    await h.raise(CANCEL_EVENT, { reason: 'not today' });
    await h.complete(ACTIVITIES.submitRun, throttledSubmit(seconds(6)));
    expect(h.activity(ACTIVITIES.stopRun).input).toMatchObject({ verdict: { status: 'Cancelled', reason: 'CancelRequested', message: 'cancelled: not today' } });
    expect(h.pending.some((w) => w.kind === 'timer')).toBe(false);
    await h.complete(ACTIVITIES.stopRun, snap('Cancelled', 'CancelRequested', h.now));
    await archived(h);
    expect(h.state.output).toMatchObject({ status: 'Cancelled' });
    // Two attempts, both before the cancel was seen: none after it.
    expect(scheduled(h, ACTIVITIES.submitRun)).toBe(2);
  });

  it('a cancel raised while the submit that creates the Job runs: the Job is looked at once and deleted', async () => {
    const h = await new OrchestrationHarness(jobRun, input(), t0).start();
    await h.complete(ACTIVITIES.submitRun, throttledSubmit(seconds(3)));
    await h.fire();
    await h.raise(CANCEL_EVENT, {});
    await h.complete(ACTIVITIES.submitRun, submitted);
    expect(h.pending.some((w) => w.kind === 'timer')).toBe(false);
    await h.complete(ACTIVITIES.observeRun, snap('Starting', 'Submitted', h.now));
    expect(h.activity(ACTIVITIES.stopRun).input).toMatchObject({ verdict: { status: 'Cancelled' } });
  });

  it('a cancel raised while a failed submit waits to be retried: no further attempt, any half-made Job deleted', async () => {
    const h = await new OrchestrationHarness(jobRun, input({ retry: { firstRetryMs: 1000, maxAttempts: 5 } }), t0).start();
    await h.fail(ACTIVITIES.submitRun, 'create Job batch/x failed: HTTP 503');
    expect(h.timer().fireAt).toEqual(seconds(1));
    await h.raise(CANCEL_EVENT, { reason: 'changed my mind' });
    expect(h.pending.some((w) => w.kind === 'timer')).toBe(false);
    expect(h.activity(ACTIVITIES.stopRun).input).toMatchObject({ verdict: { status: 'Cancelled', message: 'cancelled: changed my mind' } });
    expect(scheduled(h, ACTIVITIES.submitRun)).toBe(1);
  });

  it('a cancel raised while a failing submit runs: the retry is not made', async () => {
    const h = await new OrchestrationHarness(jobRun, input({ retry: { firstRetryMs: 1000, maxAttempts: 5 } }), t0).start();
    await h.raise(CANCEL_EVENT, {});
    await h.fail(ACTIVITIES.submitRun, 'create Job batch/x failed: HTTP 503');
    expect(h.activity(ACTIVITIES.stopRun).input).toMatchObject({ verdict: { status: 'Cancelled' } });
    expect(scheduled(h, ACTIVITIES.submitRun)).toBe(1);
  });

  it('the submit\'s own retries follow the run\'s policy: delays doubling from firstRetryMs, maxAttempts in all', async () => {
    const h = await new OrchestrationHarness(jobRun, input({ retry: { firstRetryMs: 1000, maxAttempts: 4 } }), t0).start();
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      await h.fail(ACTIVITIES.submitRun, 'HTTP 503');
      const before = h.now.getTime();
      await h.fire();
      delays.push(h.now.getTime() - before);
    }
    expect(delays).toEqual([1000, 2000, 4000]);
    await h.complete(ACTIVITIES.submitRun, submitted);
    expect(h.state.customStatus).toMatchObject({ reason: 'Submitted' });
    expect(scheduled(h, ACTIVITIES.submitRun)).toBe(4);
  });

  it('a cancel raised during the first submit, before any wait, wins the first wait', async () => {
    const h = await new OrchestrationHarness(jobRun, input(), t0).start();
    await h.raise(CANCEL_EVENT, {});
    await h.complete(ACTIVITIES.submitRun, submitted);
    expect(h.pending.some((w) => w.kind === 'timer')).toBe(false);
    expect(h.activity().name).toBe(ACTIVITIES.observeRun);
  });

  it('a cancel delivered in one episode with the poll timer, after it, is seen once the observe is back', async () => {
    const h = await started();
    await h.together({ fire: true }, { raise: CANCEL_EVENT, data: { reason: 'batched' } });
    // The timer won the wait; the observe it started is running when the cancel completes its task.
    expect(h.activity().name).toBe(ACTIVITIES.observeRun);
    await h.complete(ACTIVITIES.observeRun, snap('Running', 'Running', h.now));
    expect(h.pending.some((w) => w.kind === 'timer')).toBe(false);
    await h.complete(ACTIVITIES.observeRun, snap('Running', 'Running', h.now));
    expect(h.activity(ACTIVITIES.stopRun).input).toMatchObject({ verdict: { reason: 'CancelRequested', message: 'cancelled: batched' } });
  });

  it.each([
    ['before', true],
    ['after', false],
  ] as const)('a cancel delivered in one episode with an observe\'s completion, %s it, stops the run', async (_, cancelFirst) => {
    const h = await started();
    await h.fire();
    const observed = { complete: ACTIVITIES.observeRun, result: snap('Running', 'Running', h.now) };
    const cancel = { raise: CANCEL_EVENT, data: {} };
    await h.together(...(cancelFirst ? [cancel, observed] : [observed, cancel]));
    expect(h.pending.some((w) => w.kind === 'timer')).toBe(false);
    await h.complete(ACTIVITIES.observeRun, snap('Running', 'Running', h.now));
    expect(h.activity(ACTIVITIES.stopRun).input).toMatchObject({ verdict: { status: 'Cancelled' } });
  });

  it.each([
    ['2', '2'],
    ['1 (none)', null],
  ])('instances of version %s replay the old path: the cancel waits for the next timer', async (_, version) => {
    const h = await new OrchestrationHarness(jobRun, input(), t0, 'run-abc', version).start();
    await h.complete(ACTIVITIES.submitRun, submitted);
    await h.fire();
    await h.raise(CANCEL_EVENT, {});
    await h.complete(ACTIVITIES.observeRun, snap('Running', 'Running', h.now));
    expect(h.timer()).toBeDefined();
    expect(scheduled(h, ACTIVITIES.stopRun)).toBe(0);
  });
});

describe('jobRun: the verdict pushed (version 3.1, issue 23)', () => {
  it('after the archive, in the episode that makes the archived snapshot the custom status, one activity starts the deliveries', async () => {
    const h = await started();
    await h.fire();
    const success = snap('Success', 'CompletionsReached', seconds(5));
    await h.complete(ACTIVITIES.observeRun, success);
    // The verdict is the custom status before anything is pushed: a subscription route reading it delivers itself.
    expect(h.state.customStatus).toMatchObject({ status: 'Success' });
    await h.complete(ACTIVITIES.archiveRun, ARCHIVED);
    expect(h.activity().name).toBe(ACTIVITIES.notifyRun);
    expect(h.activity().input).toEqual({ ref, snapshot: { ...success, archive: ARCHIVED } });
    expect(h.state.customStatus).toEqual({ ...success, archive: ARCHIVED });
    await h.complete(ACTIVITIES.notifyRun, 1);
    expect(h.state.status).toBe('Completed');
    expect(h.state.output).toEqual({ ...success, archive: ARCHIVED });
  });

  it('a push that cannot be started even after its retries leaves the verdict as it is', async () => {
    const h = await started(input({ retry: { firstRetryMs: 1000, maxAttempts: 1 } }));
    await h.fire();
    const failed = snap('Failed', 'BackoffLimitExceeded', seconds(5));
    await h.complete(ACTIVITIES.observeRun, failed);
    await h.complete(ACTIVITIES.archiveRun, ARCHIVED);
    await h.fail(ACTIVITIES.notifyRun, 'list blobs under runs/x/ failed: HTTP 503');
    await h.fire();
    expect(h.state.status).toBe('Completed');
    expect(h.state.output).toEqual({ ...failed, archive: ARCHIVED });
  });

  it('an instance of version 3.0 pushes nothing: it ends after its archive, as it was recorded', async () => {
    const h = await new OrchestrationHarness(jobRun, input(), t0, 'run-abc', '3.0').start();
    await h.complete(ACTIVITIES.submitRun, submitted);
    await h.fire();
    await h.complete(ACTIVITIES.observeRun, snap('Success', 'CompletionsReached', seconds(5)));
    await h.complete(ACTIVITIES.archiveRun, ARCHIVED);
    expect(h.state.status).toBe('Completed');
    expect(h.pending).toEqual([]);
  });
});

describe('jobRun: the custom status stays within the host\'s limit at every step, the last included', () => {
  it('a 20,000-character reason from the cluster and a 50,000-character archive error: the orchestration completes', async () => {
    const h = await started();
    await h.fire();
    const failed = snap('Failed', 'R'.repeat(20_000), h.now, { message: 'm'.repeat(20_000), outputs: { log: 'o'.repeat(7_000) } });
    await h.complete(ACTIVITIES.observeRun, failed);
    expect(h.state.status).toBe('Running');
    await h.complete(ACTIVITIES.archiveRun, { location: null, error: `the logs could not be archived: ${'e'.repeat(50_000)}` });
    await notified(h);
    // The local engine fails an orchestration over the host's 16 KB exactly as the host does.
    expect(h.state.status).toBe('Completed');
    expect(JSON.stringify(h.state.customStatus).length).toBeLessThanOrEqual(CUSTOM_STATUS_BUDGET_CHARS);
    expect(h.state.output).toMatchObject({ status: 'Failed', outputs: { log: 'o'.repeat(7_000) } });
  });
});

describe('what the archive is told, by orchestration version (issue 22 item 6: the runs listings)', () => {
  const entra = { kind: 'entra' as const, appId: 'app-1', objectId: 'obj-1' };
  const failedVerdict = snap('Failed', 'BackoffLimitExceeded', seconds(5), { failureKind: 'OOMKilled' });

  it('from 3.1: who started the run and why it failed, so a run whose Job is gone is still listed to its caller', async () => {
    const h = new OrchestrationHarness(jobRun, input({}, { caller: entra }), t0, 'run-abc', '3.1');
    h.worker = { version: '3.1' };
    await h.start();
    await h.complete(ACTIVITIES.submitRun, submitted);
    await h.fire();
    await h.complete(ACTIVITIES.observeRun, failedVerdict);
    expect(h.activity(ACTIVITIES.archiveRun).input).toMatchObject({ caller: entra, final: { status: 'Failed', failureKind: 'OOMKilled' } });
  });

  it('from 3.1, a run recorded without a caller is a key caller\'s, as the status route reads it', async () => {
    const h = new OrchestrationHarness(jobRun, input(), t0, 'run-abc', '3.1');
    h.worker = { version: '3.1' };
    await h.start();
    await h.complete(ACTIVITIES.submitRun, submitted);
    await h.fire();
    await h.complete(ACTIVITIES.observeRun, snap('Success', 'Completed', seconds(5)));
    expect(h.activity(ACTIVITIES.archiveRun).input).toMatchObject({ caller: { kind: 'key' } });
    expect((h.activity(ACTIVITIES.archiveRun).input as { final: object }).final).not.toHaveProperty('failureKind');
  });

  it('before 3.1 (an instance in flight at the deploy): the input it had, unchanged', async () => {
    const h = new OrchestrationHarness(jobRun, input({}, { caller: entra }), t0, 'run-abc', '3.0');
    h.worker = { version: '3.1' };
    await h.start();
    await h.complete(ACTIVITIES.submitRun, submitted);
    await h.fire();
    await h.complete(ACTIVITIES.observeRun, failedVerdict);
    expect(h.activity(ACTIVITIES.archiveRun).input).toEqual({
      ref,
      final: { status: 'Failed', reason: 'BackoffLimitExceeded', message: 'Failed BackoffLimitExceeded', startTime: null, completionTime: null },
      trigger: 'http',
    });
  });
});
