import { describe, expect, it } from 'vitest';

import { BadRequestError } from '../../src/core/errors.js';
import { FAILURE_KINDS, type FailureKind, type RunFailure } from '../../src/core/failure.js';
import { RETRY_ON_DISRUPTION_ANNOTATION } from '../../src/core/labels.js';
import { isRunId, MAX_JOB_NAME, MAX_RUN_ID, scheduledRunName } from '../../src/core/naming.js';
import {
  attemptJobName,
  attemptNumberOf,
  MAX_ATTEMPTS,
  MAX_RETRIES_ON_DISRUPTION,
  nextAttempt,
  parseRetryRequest,
  resolveRetries,
  retriesFor,
  RETRY_KINDS,
  retryConsentOf,
  withAttempts,
} from '../../src/core/retry.js';
import { type RunSnapshot, snapshotOf } from '../../src/core/run.js';

const at = new Date('2026-11-23T10:00:00Z');
const ref = { runId: 'nightly-0123456789', cluster: 'dev', namespace: 'batch', source: { kind: 'Job' as const, name: 'nightly' } };

function failed(kind: FailureKind, status: RunSnapshot['status'] = 'Failed'): RunSnapshot {
  const failure: RunFailure = { kind, exitCode: null, signal: null, container: null, pod: null, node: null, attempt: 1, reason: kind, message: kind, at: at.toISOString() };
  return snapshotOf(ref, { status, reason: 'BackoffLimitExceeded', message: 'x', failure, failureKind: kind }, at);
}

describe('which failures a retry is made for', () => {
  it('exactly the infrastructure kinds: Evicted, DisruptionTarget, NodeLost', () => {
    expect([...RETRY_KINDS].sort()).toEqual(['DisruptionTarget', 'Evicted', 'NodeLost']);
  });

  it.each(FAILURE_KINDS.map((kind) => [kind, ['Evicted', 'DisruptionTarget', 'NodeLost'].includes(kind)] as const))('%s is retried: %s', (kind, retried) => {
    expect(retriesFor({ kind })).toBe(retried);
    expect(nextAttempt(failed(kind), 2, 0, true)).toBe(retried ? 2 : undefined);
  });

  it('no failure, a Success or a Cancelled run is never retried', () => {
    expect(retriesFor(undefined)).toBe(false);
    expect(nextAttempt(snapshotOf(ref, { status: 'Success', reason: 'CompletionsReached', message: 'ok' }, at), 2, 0, true)).toBeUndefined();
    expect(nextAttempt(failed('Evicted', 'Cancelled'), 2, 0, true)).toBeUndefined();
  });

  it('counts: with 2 retries the first and second failures are retried (attempts 2, 3), the third is the verdict', () => {
    expect(nextAttempt(failed('Evicted'), 2, 0, true)).toBe(2);
    expect(nextAttempt(failed('Evicted'), 2, 1, true)).toBe(3);
    expect(nextAttempt(failed('Evicted'), 2, 2, true)).toBeUndefined();
    expect(nextAttempt(failed('Evicted'), 0, 0, true)).toBeUndefined();
  });

  it('never past the run time or MAX_RETRIES_ON_DISRUPTION, whatever the input says', () => {
    expect(nextAttempt(failed('Evicted'), 2, 0, false)).toBeUndefined();
    expect(nextAttempt(failed('Evicted'), 99, MAX_RETRIES_ON_DISRUPTION, true)).toBeUndefined();
    expect(MAX_ATTEMPTS).toBe(MAX_RETRIES_ON_DISRUPTION + 1);
  });
});

describe("a source's consent: the annotation", () => {
  const consent = (value: string | undefined) => retryConsentOf(value === undefined ? {} : { [RETRY_ON_DISRUPTION_ANNOTATION]: value });

  it.each([
    [undefined, 0],
    ['0', 0],
    ['1', 1],
    ['2', 2],
    [' 3 ', 3],
    ['5', 5],
    // An owner who allows more allows the app's most.
    ['6', MAX_RETRIES_ON_DISRUPTION],
    ['1000', MAX_RETRIES_ON_DISRUPTION],
  ] as const)('%j allows %i retries, with no problem', (value, retries) => {
    expect(consent(value)).toEqual({ retries });
  });

  it.each(['', 'two', '-1', '1.5', '0x2', '1e1', 'true', '+2', '１', '99999999999'])('garbage %j allows none and says what is wrong', (value) => {
    const c = consent(value);
    expect(c.retries).toBe(0);
    expect(c.problem).toContain(RETRY_ON_DISRUPTION_ANNOTATION);
    expect(c.problem).toContain('not a whole number from 0 to 5');
  });

  it('a very long garbage value is cut in the message', () => {
    const c = consent('x'.repeat(5000));
    expect(c.problem?.length).toBeLessThan(300);
  });

  it('no annotations at all: none', () => {
    expect(retryConsentOf(undefined)).toEqual({ retries: 0 });
  });
});

describe("a request's ask, bounded by the consent", () => {
  it.each([
    [null, undefined],
    ['', undefined],
    ['0', 0],
    ['3', 3],
    [' 5 ', 5],
  ] as const)('the query value %j is %j', (raw, value) => {
    expect(parseRetryRequest(raw)).toBe(value);
  });

  it.each(['6', '-1', 'x', '1.0', '2e0', '10'])('the query value %j is a 400 naming the bounds', (raw) => {
    expect(() => parseRetryRequest(raw)).toThrow(BadRequestError);
    expect(() => parseRetryRequest(raw)).toThrow('retryOnDisruption must be a whole number from 0 to 5');
  });

  it("without an ask the run gets what the source allows; an ask at or under it gets the ask", () => {
    expect(resolveRetries({ retries: 2 }, undefined, 'Job batch/nightly')).toBe(2);
    expect(resolveRetries({ retries: 2 }, 2, 'Job batch/nightly')).toBe(2);
    expect(resolveRetries({ retries: 2 }, 1, 'Job batch/nightly')).toBe(1);
    expect(resolveRetries({ retries: 2 }, 0, 'Job batch/nightly')).toBe(0);
    expect(resolveRetries({ retries: 0 }, undefined, 'Job batch/nightly')).toBe(0);
  });

  it('an ask over the consent is refused (400), never cut, with what the source allows', () => {
    expect(() => resolveRetries({ retries: 1 }, 3, 'Job batch/nightly')).toThrow(BadRequestError);
    expect(() => resolveRetries({ retries: 1 }, 3, 'Job batch/nightly')).toThrow(
      `retryOnDisruption=3 asks for more retries than Job batch/nightly allows: its annotation ${RETRY_ON_DISRUPTION_ANNOTATION} allows 1; ask for at most 1`,
    );
    expect(() => resolveRetries({ retries: 0 }, 1, 'Job batch/nightly')).toThrow(`it has no annotation ${RETRY_ON_DISRUPTION_ANNOTATION} allowing retries`);
    expect(() => resolveRetries(retryConsentOf({ [RETRY_ON_DISRUPTION_ANNOTATION]: 'two' }), 1, 'Job batch/nightly')).toThrow('is "two", not a whole number');
  });
});

describe("an attempt's Job name", () => {
  it('the first is the run id; then <runId>-<n>', () => {
    expect(attemptJobName('nightly-0123456789', 1)).toBe('nightly-0123456789');
    expect(attemptJobName('nightly-0123456789', 2)).toBe('nightly-0123456789-2');
    expect(attemptJobName('nightly-0123456789', MAX_ATTEMPTS)).toBe(`nightly-0123456789-${String(MAX_ATTEMPTS)}`);
  });

  it('is deterministic, never a run id, and read back to its attempt', () => {
    for (let n = 2; n <= MAX_ATTEMPTS; n++) {
      const name = attemptJobName('nightly-0123456789', n);
      expect(attemptJobName('nightly-0123456789', n)).toBe(name);
      expect(isRunId(name)).toBe(false);
      expect(attemptNumberOf('nightly-0123456789', name)).toBe(n);
    }
    expect(attemptNumberOf('nightly-0123456789', undefined)).toBe(1);
    expect(attemptNumberOf('nightly-0123456789', 'nightly-0123456789')).toBe(1);
  });

  it("fits a label value (63) for the longest run ids: a keyed run's 52 and a scheduled run's 61", () => {
    const keyed = `${'a'.repeat(MAX_RUN_ID - 11)}-0123456789`;
    expect(keyed).toHaveLength(MAX_RUN_ID);
    const scheduled = scheduledRunName('c'.repeat(52), at);
    expect(scheduled).toHaveLength(61);
    for (const runId of [keyed, scheduled]) {
      for (let n = 2; n <= MAX_ATTEMPTS; n++) {
        const name = attemptJobName(runId, n);
        expect(name.length).toBeLessThanOrEqual(MAX_JOB_NAME);
        expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
        expect(name.startsWith(runId)).toBe(true);
      }
    }
  });

  it('a run id longer than any the app makes is cut to fit, never ending in a dash before the number', () => {
    const name = attemptJobName(`${'a'.repeat(60)}-b`, 3);
    expect(name).toBe(`${'a'.repeat(60)}-3`);
    expect(name.length).toBeLessThanOrEqual(MAX_JOB_NAME);
  });
});

describe("a snapshot's attempts", () => {
  it('only for a run that may retry or did', () => {
    const s = failed('Evicted');
    expect(withAttempts(s, [], 0)).toBe(s);
    expect(withAttempts(s, [], 1).attempts).toEqual([{ job: ref.runId, failure: s.failure, startTime: null, completionTime: null }]);
    const earlier = [{ job: 'x', failure: null, startTime: null, completionTime: null }];
    expect(withAttempts(s, earlier, 0).attempts).toHaveLength(2);
  });
});
