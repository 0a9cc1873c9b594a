import type * as df from 'durable-functions';
import { describe, expect, it } from 'vitest';

import { snapshotOf } from '../../src/core/run.js';
import { instanceFinished, snapshotFromInstance, verdictMade } from '../../src/http/runs.js';

const t0 = new Date('2026-11-23T10:00:00Z');
const request = { runId: 'nightly-abcdefghij', cluster: 'dev', namespace: 'batch', source: { kind: 'Job' as const, name: 'nightly' } };
const input = {
  request: { ...request, overrides: {}, requestHash: 'h' },
  poll: { initialSeconds: 5, maxSeconds: 60, factor: 2, continueAsNewAfter: 50 },
  retry: { firstRetryMs: 1000, maxAttempts: 3 },
};

/** A status as Durable's client returns it; runtimeStatus as the plain string it is on the wire. */
function instance(fields: { runtimeStatus?: string; output?: unknown; customStatus?: unknown }): df.DurableOrchestrationStatus {
  return {
    name: 'jobRun',
    instanceId: request.runId,
    createdTime: t0,
    lastUpdatedTime: t0,
    input,
    runtimeStatus: 'Running',
    ...fields,
  } as unknown as df.DurableOrchestrationStatus;
}

describe('the run as its orchestration tells it', () => {
  it.each([
    ['no output at all', null],
    ['an output that is not a snapshot', 'done'],
    ['a snapshot of an earlier version without a status', { runId: request.runId, reason: 'Complete', message: 'old' }],
  ])('a finished instance with %s gets a final answer that says its result could not be read', (_, output) => {
    const snapshot = snapshotFromInstance(instance({ runtimeStatus: 'Completed', output }));
    expect(snapshot).toMatchObject({ status: 'Failed', reason: 'ResultUnreadable', cluster: 'dev', namespace: 'batch' });
    expect(snapshot.message).toMatch(/the run finished but its result could not be read/);
  });

  it('reads what it can of a snapshot written by an earlier version: status, reason, outputs, the rest from the request', () => {
    const output = { runId: request.runId, status: 'Success', reason: 'Complete', message: 'the Job completed', outputs: { rows: 3 }, pods: { succeeded: 1 } };
    const snapshot = snapshotFromInstance(instance({ runtimeStatus: 'Completed', output }));
    expect(snapshot).toMatchObject({
      status: 'Success',
      reason: 'Complete',
      message: 'the Job completed',
      outputs: { rows: 3 },
      pods: { active: 0, ready: 0, succeeded: 1, failed: 0 },
      cluster: 'dev',
      jobName: request.runId,
    });
  });

  it('a finished instance whose result says Running is still final: Unknown would answer 202 for ever', () => {
    const output = snapshotOf(request, { status: 'Running', reason: 'Running', message: 'x' }, t0);
    const snapshot = snapshotFromInstance(instance({ runtimeStatus: 'Completed', output }));
    expect(snapshot).toMatchObject({ status: 'Failed', reason: 'ResultUnreadable' });
  });

  it.each([
    ['a running instance whose custom status is a verdict (its stop activity runs)', 'Running', snapshotOf(request, { status: 'Cancelled', reason: 'CancelRequested', message: 'x' }, t0), true],
    ['a running instance still polling', 'Running', snapshotOf(request, { status: 'Running', reason: 'Running', message: 'x' }, t0), false],
    ['a completed instance', 'Completed', undefined, true],
  ] as const)('verdictMade: %s', (_, runtimeStatus, customStatus, made) => {
    const status = instance({ runtimeStatus, customStatus, output: snapshotOf(request, { status: 'Success', reason: 'Complete', message: '' }, t0) });
    expect(verdictMade(status)).toBe(made);
    expect(instanceFinished(status)).toBe(runtimeStatus === 'Completed');
  });
});
