import { describe, expect, it } from 'vitest';

import { attemptOutcome, attemptRows } from '../../console/src/logic/attempts.js';
import type { RunAttempt, RunFailure } from '../../console/src/types.js';

function failure(kind: string, exitCode: number | null = null, signal: string | null = null, at: string | null = null): RunFailure {
  return { kind, exitCode, signal, container: 'main', pod: 'p', node: 'n', attempt: null, reason: 'r', message: 'm', at };
}

const evicted: RunAttempt = { job: 'nightly-4kq0xh2d5a', failure: failure('DisruptionTarget', null, null, '2026-11-23T10:00:58Z'), startTime: '2026-11-23T10:00:02Z', completionTime: null };
const second: RunAttempt = { job: 'nightly-4kq0xh2d5a-2', failure: null, startTime: '2026-11-23T10:01:10Z', completionTime: '2026-11-23T10:03:12Z' };

describe("the run page's attempts", () => {
  it('names a failed attempt by its kind, with the exit code and signal when a container exited', () => {
    expect(attemptOutcome(evicted, false, 'Success')).toBe('DisruptionTarget');
    expect(attemptOutcome({ ...evicted, failure: failure('ExitCode', 3) }, true, 'Failed')).toBe('ExitCode · exit code 3');
    expect(attemptOutcome({ ...evicted, failure: failure('OOMKilled', 137, 'SIGKILL') }, true, 'Failed')).toBe('OOMKilled · exit code 137 (SIGKILL)');
    expect(attemptOutcome({ ...evicted, failure: failure('Evicted', 0) }, false, 'Running')).toBe('Evicted · exit code 0');
  });

  it("tells the current attempt without a failure by the run's state", () => {
    expect(attemptOutcome(second, true, 'Success')).toBe('succeeded');
    expect(attemptOutcome(second, true, 'Running')).toBe('running');
    expect(attemptOutcome(second, true, 'Starting')).toBe('running');
    expect(attemptOutcome(second, true, 'Cancelled')).toBe('cancelled');
    expect(attemptOutcome(second, false, 'Success')).toBe('—');
  });

  it('numbers the rows from 1 in the order the run made them, the current one last', () => {
    expect(attemptRows([evicted, second], 'Success')).toEqual([
      // A failed Job has no completionTime: the attempt ended when its failure was seen.
      { n: 1, job: 'nightly-4kq0xh2d5a', outcome: 'DisruptionTarget', startTime: '2026-11-23T10:00:02Z', completionTime: '2026-11-23T10:00:58Z' },
      { n: 2, job: 'nightly-4kq0xh2d5a-2', outcome: 'succeeded', startTime: '2026-11-23T10:01:10Z', completionTime: '2026-11-23T10:03:12Z' },
    ]);
  });

  it('leaves the end of a running attempt unknown', () => {
    expect(attemptRows([{ ...second, completionTime: null }], 'Running')[0]?.completionTime).toBeNull();
  });

  it('has no rows for a run without attempts (one that may not retry)', () => {
    expect(attemptRows(undefined, 'Success')).toEqual([]);
  });
});
