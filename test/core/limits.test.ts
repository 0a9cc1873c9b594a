import { describe, expect, it } from 'vitest';

import { boundText, CUSTOM_STATUS_BUDGET_CHARS, forCustomStatus, forOutput, MAX_MESSAGE_CHARS, MAX_OUTPUTS_CHARS, MAX_REASON_CHARS } from '../../src/core/limits.js';
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
    ['a field added to the snapshot later, too large on its own', full({ failure: { logTail: long('t', 20_000) } })],
  ])('forCustomStatus keeps %s within the budget, and the result still parses as a snapshot', (_, snapshot) => {
    const status = forCustomStatus(snapshot);
    expect(JSON.stringify(status).length).toBeLessThanOrEqual(CUSTOM_STATUS_BUDGET_CHARS);
    expect(status.reason.length).toBeLessThanOrEqual(MAX_REASON_CHARS);
    expect(runSnapshotSchema.safeParse(status).error).toBeUndefined();
    expect(status.status).toBe(snapshot.status);
  });

  it('forOutput bounds the reason and the archive error too', () => {
    const output = forOutput(full());
    expect(output.reason.length).toBeLessThanOrEqual(MAX_REASON_CHARS);
    expect(output.archive?.error?.length).toBeLessThanOrEqual(MAX_MESSAGE_CHARS);
  });
});
