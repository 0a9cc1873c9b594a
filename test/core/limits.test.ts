import { describe, expect, it } from 'vitest';

import { type RunFailure, withFailure } from '../../src/core/failure.js';
import {
  boundText,
  CUSTOM_STATUS_BUDGET_CHARS,
  forCustomStatus,
  forOutput,
  MAX_FAILURE_MESSAGE_CHARS,
  MAX_LOG_TAIL_CHARS,
  MAX_MESSAGE_CHARS,
  MAX_OUTPUTS_CHARS,
  MAX_REASON_CHARS,
} from '../../src/core/limits.js';
import { type RunSnapshot, snapshotOf } from '../../src/core/run.js';
import { runSnapshotSchema } from '../../src/core/schemas.js';

const t0 = new Date('2026-11-23T10:00:00Z');
const ref = { runId: 'nightly-0123456789', cluster: 'dev', namespace: 'batch', source: { kind: 'Job' as const, name: 'nightly' } };
const snap = (message: string, outputs: Record<string, unknown> = {}): RunSnapshot =>
  snapshotOf(ref, { status: 'Success', reason: 'CompletionsReached', message, outputs }, t0);
const outputsOf = (chars: number) => ({ data: 'o'.repeat(chars) });

describe('limits on what the orchestration stores', () => {
  it.each([
    ['a short text', 'abc', 10, 'abc'],
    ['a text of exactly the limit', 'abcdefghij', 10, 'abcdefghij'],
    ['a text over the limit, which says how much was cut', 'x'.repeat(100), 40, `${'x'.repeat(17)}… (83 more characters)`],
  ])('boundText: %s', (_, text, max, expected) => {
    expect(boundText(text, max)).toBe(expected);
    expect(boundText(text, max).length).toBeLessThanOrEqual(max);
  });

  it.each([
    ['a small snapshot, kept whole', snap('done', { rows: 1 }), true],
    ['a 50,000-character message', snap('m'.repeat(50_000)), true],
    ['outputs of 6,000 characters', snap('done', outputsOf(6000)), false],
    ['outputs of 4,000 characters and a long message', snap('m'.repeat(9000), outputsOf(4000)), false],
  ])('forCustomStatus keeps %s under the budget', (_, snapshot, keepsOutputs) => {
    const status = forCustomStatus(snapshot);
    expect(JSON.stringify(status).length).toBeLessThanOrEqual(CUSTOM_STATUS_BUDGET_CHARS);
    expect(status.message.length).toBeLessThanOrEqual(MAX_MESSAGE_CHARS);
    expect(status.outputs).toEqual(keepsOutputs ? snapshot.outputs : {});
  });

  it('forOutput keeps outputs up to its limit and says so when it drops larger ones', () => {
    expect(forOutput(snap('done', outputsOf(5000))).outputs).toEqual(outputsOf(5000));
    const dropped = forOutput(snap('done', outputsOf(MAX_OUTPUTS_CHARS)));
    expect(dropped.outputs).toEqual({});
    expect(dropped.message).toMatch(/the outputs were dropped/);
  });

  const long = (c: string, n: number) => c.repeat(n);
  const full = (extra: Partial<RunSnapshot> & Record<string, unknown> = {}): RunSnapshot => ({
    ...snapshotOf(
      { ...ref, source: { kind: 'Job', name: long('n', 5000), fallbackImage: long('i', 5000) } },
      { status: 'Failed', reason: long('r', 50_000), message: long('m', 50_000), outputs: outputsOf(10_000), monitorUrl: long('u', 5000) },
      t0,
    ),
    archive: { location: long('l', 800), error: long('e', 50_000) },
    ...extra,
  });

  it.each([
    ['a 50,000-character reason', snapshotOf(ref, { status: 'Failed', reason: long('r', 50_000), message: 'x' }, t0)],
    ['a 50,000-character archive error with a long message', { ...snap(long('m', 50_000)), archive: { location: null, error: long('e', 50_000) } }],
    ['every text at its worst at once', full()],
    ['a field added to the snapshot later, too large on its own', full({ addedLater: { text: long('t', 20_000) } })],
  ])('forCustomStatus keeps %s within the budget, and the result still parses as a snapshot', (_, snapshot) => {
    const status = forCustomStatus(snapshot);
    expect(JSON.stringify(status).length).toBeLessThanOrEqual(CUSTOM_STATUS_BUDGET_CHARS);
    expect(status.reason.length).toBeLessThanOrEqual(MAX_REASON_CHARS);
    expect(runSnapshotSchema().safeParse(status).error).toBeUndefined();
    expect(status.status).toBe(snapshot.status);
  });

  it('forOutput bounds the reason and the archive error too', () => {
    const output = forOutput(full());
    expect(output.reason.length).toBeLessThanOrEqual(MAX_REASON_CHARS);
    expect(output.archive?.error?.length).toBeLessThanOrEqual(MAX_MESSAGE_CHARS);
  });
});

describe('limits on a failure', () => {
  const failure = (logTail: string, message = 'container main exited with code 1'): RunFailure => ({
    kind: 'ExitCode',
    exitCode: 1,
    signal: null,
    container: 'main',
    pod: 'nightly-0123456789-abcde',
    node: 'aks-nodepool1-0',
    attempt: 1,
    reason: 'Error',
    message,
    at: t0.toISOString(),
    logTail,
  });
  const failed = (f: RunFailure, message = 'Job has reached the specified backoff limit', outputs: Record<string, unknown> = {}): RunSnapshot =>
    withFailure(snapshotOf(ref, { status: 'Failed', reason: 'BackoffLimitExceeded', message, outputs }, t0), f);

  it('the custom status keeps a small log tail', () => {
    expect(forCustomStatus(failed(failure('line 1\nline 2'))).failure?.logTail).toBe('line 1\nline 2');
  });

  it('the custom status drops the log tail first, before the outputs and the message; the output keeps it', () => {
    const snapshot = failed(failure('é'.repeat(4000)), 'Job has reached the specified backoff limit', outputsOf(1500));
    const status = forCustomStatus(snapshot);
    expect(JSON.stringify(status).length).toBeLessThanOrEqual(CUSTOM_STATUS_BUDGET_CHARS);
    expect(status.failure).toMatchObject({ kind: 'ExitCode', exitCode: 1 });
    expect(status.failure?.logTail).toBeUndefined();
    expect(status.outputs).toEqual(outputsOf(1500));
    expect(status.message).toBe(snapshot.message);
    expect(forOutput(snapshot).failure?.logTail).toBe('é'.repeat(4000));
  });

  it('a huge failure message, log tail and run message still fit the budget, with the kind and exit code kept', () => {
    const status = forCustomStatus(failed(failure('x'.repeat(50_000), 'm'.repeat(50_000)), 'm'.repeat(50_000), outputsOf(5000)));
    expect(JSON.stringify(status).length).toBeLessThanOrEqual(CUSTOM_STATUS_BUDGET_CHARS);
    expect(status).toMatchObject({ failureKind: 'ExitCode', exitCode: 1, failure: { kind: 'ExitCode', exitCode: 1, pod: 'nightly-0123456789-abcde' } });
  });

  it('the output bounds the failure\'s message and log tail', () => {
    const output = forOutput(failed(failure('x'.repeat(50_000), 'm'.repeat(50_000))));
    expect(output.failure?.message.length).toBeLessThanOrEqual(MAX_FAILURE_MESSAGE_CHARS);
    expect(output.failure?.logTail?.length).toBeLessThanOrEqual(MAX_LOG_TAIL_CHARS);
  });
});
