import { describe, expect, it } from 'vitest';

import type { FailureKind, RunFailure } from '../../src/core/failure.js';
import { CUSTOM_STATUS_BUDGET_CHARS } from '../../src/core/limits.js';
import { type RunRequest, type RunSnapshot, snapshotOf } from '../../src/core/run.js';
import type { JobRunInput } from '../../src/core/schemas.js';
import { jobRun } from '../../src/functions/jobRun.js';
import { ACTIVITIES, CANCEL_EVENT } from '../../src/functions/names.js';
import type { SubmitResult } from '../../src/runs/submit.js';
import { OrchestrationHarness } from '../support/harness.js';

/**
 * Orchestration 3.1: retries for infrastructure faults (issue 22, item 4). Driven through durable-functions'
 * own replay machinery (test/support/harness.ts), continueAsNew included: each attempt is an execution of its own.
 */
const t0 = new Date('2026-11-23T10:00:00Z');
const seconds = (n: number) => new Date(t0.getTime() + n * 1000);

const request: RunRequest = {
  runId: 'nightly-0123456789',
  cluster: 'dev',
  namespace: 'batch',
  source: { kind: 'Job', name: 'nightly' },
  overrides: {},
  requestHash: 'hash-1',
};
const ref = { runId: request.runId, cluster: request.cluster, namespace: request.namespace, source: request.source };
const second = `${request.runId}-2`;
const third = `${request.runId}-3`;

function input(retries: number | undefined, timeoutSeconds?: number): JobRunInput {
  return {
    request: { ...request, ...(retries === undefined ? {} : { retryOnDisruption: retries }), ...(timeoutSeconds ? { timeoutSeconds } : {}) },
    poll: { initialSeconds: 5, maxSeconds: 60, factor: 2, continueAsNewAfter: 50, maxObserveFailures: 3 },
    retry: { firstRetryMs: 1000, maxAttempts: 2 },
  };
}

function snap(status: RunSnapshot['status'], reason: string, at: Date, jobName = request.runId, extra: Partial<RunSnapshot> = {}): RunSnapshot {
  return snapshotOf({ ...ref, jobName }, { status, reason, message: `${status} ${reason}`, ...extra }, at);
}

function failedWith(kind: FailureKind, at: Date, jobName = request.runId, more: Partial<RunFailure> = {}): RunSnapshot {
  const failure: RunFailure = { kind, exitCode: null, signal: null, container: 'main', pod: `${jobName}-abcde`, node: 'node-1', attempt: 1, reason: kind, message: `${kind} happened`, at: at.toISOString(), ...more };
  return snap('Failed', kind === 'DeadlineExceeded' || kind === 'PodFailurePolicy' ? kind : 'BackoffLimitExceeded', at, jobName, { failure, failureKind: kind, exitCode: failure.exitCode });
}

const submittedAs = (jobName: string, at: Date): SubmitResult => ({ outcome: 'submitted', snapshot: snap('Starting', 'Submitted', at, jobName) });

/** Submitted, one Running look, then the attempt's verdict. */
/** The archive written, then, from orchestration 3.1, the verdict's notification of the run's subscribers. */
async function archived(h: OrchestrationHarness): Promise<void> {
  await h.complete(ACTIVITIES.archiveRun, { location: 'x' });
  if (h.pending.some((w) => w.kind === 'activity' && w.name === ACTIVITIES.notifyRun)) await h.complete(ACTIVITIES.notifyRun, 0);
}

async function attempt(h: OrchestrationHarness, jobName: string, verdict: (at: Date) => RunSnapshot): Promise<void> {
  expect(h.activity().name).toBe(ACTIVITIES.submitRun);
  expect((h.activity().input as RunRequest).jobName).toBe(jobName === request.runId ? undefined : jobName);
  await h.complete(ACTIVITIES.submitRun, submittedAs(jobName, h.now));
  await h.fire();
  expect(h.activity(ACTIVITIES.observeRun).input).toEqual(jobName === request.runId ? ref : { ...ref, jobName });
  await h.complete(ACTIVITIES.observeRun, snap('Running', 'Running', h.now, jobName));
  await h.fire();
  await h.complete(ACTIVITIES.observeRun, verdict(h.now));
}

/** The failed attempt's Job is deleted before the next: the stop activity, for that Job. */
async function deletesFailed(h: OrchestrationHarness, jobName: string): Promise<void> {
  const stop = h.activity(ACTIVITIES.stopRun);
  expect(stop.input).toMatchObject({ ref: jobName === request.runId ? ref : { ...ref, jobName }, verdict: { status: 'Failed' } });
  await h.complete(ACTIVITIES.stopRun, snap('Failed', 'BackoffLimitExceeded', h.now, jobName));
}

describe('jobRun retries on disruption (orchestration 3.1)', () => {
  it.each(['Evicted', 'DisruptionTarget', 'NodeLost'] as const)('a Job that failed with %s is deleted and a fresh Job <runId>-2 is made, which succeeds: one run', async (kind) => {
    const h = await new OrchestrationHarness(jobRun, input(2), t0).start();
    await attempt(h, request.runId, (at) => failedWith(kind, at));
    // Between the attempts the run is not finished: the status route keeps answering 202.
    expect(h.state.customStatus).toMatchObject({ status: 'Starting', reason: 'RetryOnDisruption', jobName: second });
    expect((h.state.customStatus as RunSnapshot).message).toContain(`attempt 2 of at most 3 gets a fresh Job, ${second}`);
    await deletesFailed(h, request.runId);

    // continueAsNew: the next execution submits the second Job, carrying the first attempt.
    expect(h.state.input).toMatchObject({ request: { jobName: second, retryOnDisruption: 2 }, attempts: [{ job: request.runId, failure: { kind } }], runDeadline: null });
    expect(h.state.input).not.toHaveProperty('progress');
    await attempt(h, second, (at) => snap('Success', 'CompletionsReached', at, second, { outputs: { rows: 1 } }));
    expect(h.activity(ACTIVITIES.archiveRun).input).toMatchObject({ ref: { ...ref, jobName: second }, final: { status: 'Success' } });
    await archived(h);
    expect(h.state.status).toBe('Completed');
    const output = h.state.output as RunSnapshot;
    expect(output).toMatchObject({ runId: request.runId, jobName: second, status: 'Success', outputs: { rows: 1 } });
    expect(output.attempts?.map((a) => [a.job, a.failure?.kind ?? null])).toEqual([
      [request.runId, kind],
      [second, null],
    ]);
    expect(output).not.toHaveProperty('failure');
  });

  it.each(['ExitCode', 'OOMKilled', 'DeadlineExceeded', 'PodFailurePolicy', 'ImagePull', 'Unschedulable', 'CreateContainerConfigError', 'Unknown'] as const)(
    'a Job that failed with %s is not retried: the verdict is that attempt, with one attempt listed',
    async (kind) => {
      const h = await new OrchestrationHarness(jobRun, input(5), t0).start();
      await attempt(h, request.runId, (at) => failedWith(kind, at, request.runId, kind === 'ExitCode' ? { exitCode: 1 } : {}));
      // The Job ended itself: no delete, only the archive.
      expect(h.activity().name).toBe(ACTIVITIES.archiveRun);
      await archived(h);
      const output = h.state.output as RunSnapshot;
      expect(output).toMatchObject({ status: 'Failed', failureKind: kind, jobName: request.runId });
      expect(output.attempts).toHaveLength(1);
      expect(h.state.records.filter((r) => r.kind === 'scheduled' && r.name === ACTIVITIES.submitRun)).toHaveLength(1);
    },
  );

  it('retries at most retryOnDisruption times: the last attempt is the verdict, every attempt listed', async () => {
    const h = await new OrchestrationHarness(jobRun, input(2), t0).start();
    await attempt(h, request.runId, (at) => failedWith('Evicted', at));
    await deletesFailed(h, request.runId);
    await attempt(h, second, (at) => failedWith('NodeLost', at, second));
    await deletesFailed(h, second);
    expect(h.state.input).toMatchObject({ request: { jobName: third }, attempts: [{ job: request.runId }, { job: second }] });
    await attempt(h, third, (at) => failedWith('DisruptionTarget', at, third));
    expect(h.activity().name).toBe(ACTIVITIES.archiveRun);
    await archived(h);
    const output = h.state.output as RunSnapshot;
    expect(output).toMatchObject({ status: 'Failed', failureKind: 'DisruptionTarget', jobName: third });
    expect(output.attempts?.map((a) => a.failure?.kind)).toEqual(['Evicted', 'NodeLost', 'DisruptionTarget']);
  });

  it.each([
    ['no retryOnDisruption in the input', undefined, '3.1'],
    ['retryOnDisruption 0', 0, '3.1'],
    ['an instance of version 3.0, even with retryOnDisruption in its input', 2, '3.0'],
  ] as const)('never retries with %s, and shows no attempts', async (_, retries, version) => {
    const h = await new OrchestrationHarness(jobRun, input(retries), t0, 'run-abc', version).start();
    await attempt(h, request.runId, (at) => failedWith('Evicted', at));
    expect(h.activity().name).toBe(ACTIVITIES.archiveRun);
    await archived(h);
    expect(h.state.output).toMatchObject({ status: 'Failed', failureKind: 'Evicted' });
    expect(h.state.output).not.toHaveProperty('attempts');
  });

  it('a cancel that arrives while the failed Job is deleted ends the run Cancelled, with no second Job', async () => {
    const h = await new OrchestrationHarness(jobRun, input(2), t0).start();
    await attempt(h, request.runId, (at) => failedWith('Evicted', at));
    await h.raise(CANCEL_EVENT, { reason: 'enough' });
    await deletesFailed(h, request.runId);
    const stop = h.activity(ACTIVITIES.stopRun);
    expect(stop.input).toMatchObject({ verdict: { status: 'Cancelled', reason: 'CancelRequested', message: 'cancelled: enough' } });
    await h.complete(ACTIVITIES.stopRun, snap('Cancelled', 'CancelRequested', h.now));
    await archived(h);
    expect(h.state.status).toBe('Completed');
    const output = h.state.output as RunSnapshot;
    expect(output).toMatchObject({ status: 'Cancelled', reason: 'CancelRequested' });
    // Only the attempt that ran: the one the cancel prevented never had a Job.
    expect(output.attempts?.map((a) => [a.job, a.failure?.kind])).toEqual([[request.runId, 'Evicted']]);
    expect(h.state.records.filter((r) => r.kind === 'scheduled' && r.name === ACTIVITIES.submitRun)).toHaveLength(1);
  });

  it('a cancel during the second attempt deletes the second Job', async () => {
    const h = await new OrchestrationHarness(jobRun, input(2), t0).start();
    await attempt(h, request.runId, (at) => failedWith('Evicted', at));
    await deletesFailed(h, request.runId);
    await h.complete(ACTIVITIES.submitRun, submittedAs(second, h.now));
    await h.raise(CANCEL_EVENT, {});
    // From version 2 the run is looked at once more: still running, so the cancel deletes the second Job.
    expect(h.activity(ACTIVITIES.observeRun).input).toEqual({ ...ref, jobName: second });
    await h.complete(ACTIVITIES.observeRun, snap('Running', 'Running', h.now, second));
    expect(h.activity(ACTIVITIES.stopRun).input).toMatchObject({ ref: { ...ref, jobName: second }, verdict: { status: 'Cancelled' } });
  });

  it("keeps the run's deadline across attempts: the retry gets what is left of timeoutSeconds", async () => {
    const h = await new OrchestrationHarness(jobRun, input(2, 60), t0).start();
    await attempt(h, request.runId, (at) => failedWith('Evicted', at));
    await deletesFailed(h, request.runId);
    expect(h.state.input).toMatchObject({ runDeadline: seconds(60).toISOString() });
    await h.complete(ACTIVITIES.submitRun, submittedAs(second, h.now));
    for (;;) {
      const timer = h.timer();
      if (timer.fireAt.getTime() >= seconds(60).getTime()) break;
      await h.fire();
      await h.complete(ACTIVITIES.observeRun, snap('Running', 'Running', h.now, second));
    }
    expect(h.timer().fireAt).toEqual(seconds(60));
    await h.fire();
    await h.complete(ACTIVITIES.observeRun, snap('Running', 'Running', h.now, second));
    expect(h.activity(ACTIVITIES.stopRun).input).toMatchObject({ ref: { ...ref, jobName: second }, verdict: { status: 'Failed', reason: 'RunTimeout' } });
  });

  it('a failure past the deadline is not retried', async () => {
    const h = await new OrchestrationHarness(jobRun, input(2, 10), t0).start();
    await h.complete(ACTIVITIES.submitRun, submittedAs(request.runId, h.now));
    await h.fire();
    await h.complete(ACTIVITIES.observeRun, snap('Running', 'Running', h.now));
    await h.fire(); // the deadline: one last look finds the Job evicted
    expect(h.now).toEqual(seconds(10));
    await h.complete(ACTIVITIES.observeRun, failedWith('Evicted', h.now));
    expect(h.activity().name).toBe(ACTIVITIES.archiveRun);
  });

  it("keeps the custom status within its budget with every attempt's log tail", async () => {
    const tail = 'x'.repeat(4000);
    const h = await new OrchestrationHarness(jobRun, input(5), t0).start();
    const jobs = [request.runId, second, third, `${request.runId}-4`, `${request.runId}-5`];
    for (const job of jobs) {
      await attempt(h, job, (at) => failedWith('Evicted', at, job, { logTail: tail, message: 'm'.repeat(900) }));
      await deletesFailed(h, job);
      expect(JSON.stringify(h.state.customStatus).length).toBeLessThanOrEqual(CUSTOM_STATUS_BUDGET_CHARS);
    }
    await attempt(h, `${request.runId}-6`, (at) => failedWith('Evicted', at, `${request.runId}-6`, { logTail: tail }));
    expect(JSON.stringify(h.state.customStatus).length).toBeLessThanOrEqual(CUSTOM_STATUS_BUDGET_CHARS);
    await archived(h);
    const output = h.state.output as RunSnapshot;
    expect(output.attempts).toHaveLength(6);
    // The result keeps each attempt's log tail.
    expect(output.attempts?.every((a) => a.failure?.logTail === tail)).toBe(true);
  });
});
