import { describe, expect, it } from 'vitest';

import { alignedFireAt, pollDelayMs, retryAfterMs } from '../../src/core/backoff.js';

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

describe('alignedFireAt', () => {
  const at = (iso: string) => new Date(iso);
  it.each([
    { name: 'on a multiple: one interval later', now: '2026-11-23T10:00:00.000Z', interval: 10_000, expected: '2026-11-23T10:00:10.000Z' },
    { name: 'between multiples: the next one', now: '2026-11-23T10:00:03.250Z', interval: 10_000, expected: '2026-11-23T10:00:10.000Z' },
    { name: 'just before a multiple: the one after, at least a second away', now: '2026-11-23T10:00:09.500Z', interval: 10_000, expected: '2026-11-23T10:00:20.000Z' },
    { name: 'a fractional backoff step', now: '2026-11-23T10:00:01.000Z', interval: 7_500, expected: '2026-11-23T10:00:07.500Z' },
    { name: 'an interval under the minimum gap', now: '2026-11-23T10:00:00.200Z', interval: 500, expected: '2026-11-23T10:00:01.000Z' },
  ])('$name', ({ now, interval, expected }) => {
    expect(alignedFireAt(at(now), interval).toISOString()).toBe(expected);
  });

  it('runs at the same step that start at different instants wake in the same window, never more than interval + 1 s later', () => {
    const base = Date.parse('2026-11-23T10:00:00Z');
    const fires = [0, 1_234, 4_999, 7_777].map((offset) => {
      const now = new Date(base + offset);
      const fire = alignedFireAt(now, 10_000);
      expect(fire.getTime() - now.getTime()).toBeLessThanOrEqual(11_000);
      expect(fire.getTime() - now.getTime()).toBeGreaterThanOrEqual(1_000);
      return fire.toISOString();
    });
    expect(new Set(fires)).toEqual(new Set(['2026-11-23T10:00:10.000Z']));
  });
});

describe('retryAfterMs', () => {
  const now = new Date('2026-11-23T10:00:00Z');
  it.each([
    { name: 'seconds', header: '7', expected: 7_000 },
    { name: 'an HTTP date', header: 'Mon, 23 Nov 2026 10:00:30 GMT', expected: 30_000 },
    { name: 'a date in the past is now', header: 'Mon, 23 Nov 2026 09:00:00 GMT', expected: 0 },
    { name: 'absent', header: undefined, expected: undefined },
    { name: 'unreadable', header: 'soon', expected: undefined },
  ])('$name', ({ header, expected }) => {
    expect(retryAfterMs(header, now)).toBe(expected);
  });
});
