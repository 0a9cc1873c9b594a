import type { PollPolicy } from '../config.js';

/** Delay before poll number `poll` (0-based): initial × factor^poll, capped at max. */
export function pollDelayMs(policy: Pick<PollPolicy, 'initialSeconds' | 'maxSeconds' | 'factor'>, poll: number): number {
  const seconds = Math.min(policy.maxSeconds, policy.initialSeconds * policy.factor ** Math.min(poll, 64));
  return Math.round(seconds * 1000);
}
