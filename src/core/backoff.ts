import type { PollPolicy } from '../config.js';

/** Delay before poll number `poll` (0-based): initial × factor^poll, capped at max. */
export function pollDelayMs(policy: Pick<PollPolicy, 'initialSeconds' | 'maxSeconds' | 'factor'>, poll: number): number {
  const seconds = Math.min(policy.maxSeconds, policy.initialSeconds * policy.factor ** Math.min(poll, 64));
  return Math.round(seconds * 1000);
}

/**
 * The instant a poll timer fires: the first multiple of the interval on the wall clock at least `minGapMs`
 * after now (at most interval + minGap later). Runs at the same backoff step then wake in the same window,
 * so one worker's observes of a namespace can share one list; a function of the orchestration's own clock,
 * so a replay computes the same instant.
 */
export function alignedFireAt(now: Date, intervalMs: number, minGapMs = 1000): Date {
  const step = Math.max(1, Math.round(intervalMs));
  const earliest = now.getTime() + Math.min(minGapMs, step);
  return new Date(Math.ceil(earliest / step) * step);
}

/** A Retry-After header (seconds or an HTTP date) in milliseconds from now; undefined when absent or unreadable. */
export function retryAfterMs(header: string | undefined, now: Date): number | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}
