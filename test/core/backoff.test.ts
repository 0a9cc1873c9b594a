import { describe, expect, it } from 'vitest';

import { pollDelayMs } from '../../src/core/backoff.js';

describe('pollDelayMs', () => {
  const policy = { initialSeconds: 5, maxSeconds: 60, factor: 2 };

  it.each([
    { poll: 0, expected: 5_000 },
    { poll: 1, expected: 10_000 },
    { poll: 2, expected: 20_000 },
    { poll: 3, expected: 40_000 },
    { poll: 4, expected: 60_000 },
    { poll: 5, expected: 60_000 },
    { poll: 1_000, expected: 60_000 },
  ])('poll $poll waits $expected ms (initial 5 s, factor 2, max 60 s)', ({ poll, expected }) => {
    expect(pollDelayMs(policy, poll)).toBe(expected);
  });

  it.each([
    { name: 'a fractional factor is rounded to whole milliseconds', policy: { initialSeconds: 5, maxSeconds: 60, factor: 1.5 }, poll: 3, expected: 16_875 },
    { name: 'factor 1 keeps the initial delay', policy: { initialSeconds: 5, maxSeconds: 60, factor: 1 }, poll: 40, expected: 5_000 },
    { name: 'initial equal to max never grows', policy: { initialSeconds: 30, maxSeconds: 30, factor: 2 }, poll: 3, expected: 30_000 },
    { name: 'a huge poll number stays finite and capped', policy: { initialSeconds: 1, maxSeconds: 60, factor: 10 }, poll: 10_000, expected: 60_000 },
  ])('$name', ({ policy: p, poll, expected }) => {
    expect(pollDelayMs(p, poll)).toBe(expected);
  });

  it('never shrinks from one poll to the next', () => {
    const delays = Array.from({ length: 20 }, (_, poll) => pollDelayMs({ initialSeconds: 5, maxSeconds: 60, factor: 1.5 }, poll));
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThanOrEqual(delays[i - 1] ?? 0);
  });
});
