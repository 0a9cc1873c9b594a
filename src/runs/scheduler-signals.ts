import type { V1CronJob } from '@kubernetes/client-node';

import { count, emitEvent, record } from '../clients/otel-events.js';
import type { Invocation } from '../clients/telemetry.js';
import type { Expectation } from '../core/schedule-signals.js';
import { rfc3339 } from '../core/scheduler.js';
import { ATTRIBUTES, EVENTS, METRICS } from '../core/telemetry-names.js';

/**
 * The scheduler's signals (docs/operations.md, "Alerts"): a heartbeat and duration per tick, the lateness of each
 * run it fires, the due time it expects next per handed-over CronJob, and the due times it found missed. Through the
 * OpenTelemetry API globals: no-ops until the SDK is registered.
 */

function where(cluster: string, cronJob: V1CronJob): Record<string, string> {
  return {
    [ATTRIBUTES.cluster]: cluster,
    [ATTRIBUTES.namespace]: cronJob.metadata?.namespace ?? '',
    [ATTRIBUTES.cronJob]: cronJob.metadata?.name ?? '',
  };
}

/** One tick ran to its end: the heartbeat, and how long it took. */
export function tickDone(seconds: number, clean: boolean): void {
  const attributes = { [ATTRIBUTES.outcome]: clean ? 'ok' : 'errors' };
  count(METRICS.schedulerTicks, '{tick}', 'Scheduler ticks that ran to their end: the heartbeat', attributes);
  record(METRICS.schedulerTickDuration, 's', 'How long one scheduler tick took', seconds, attributes);
}

/**
 * A handed-over CronJob's next due time, and the deadline by which its run must have started. The events of this
 * file are in the trace of `invocation` (the timer's InvocationContext) when given.
 */
export function expectedDueTime(cluster: string, cronJob: V1CronJob, expectation: Expectation, invocation?: Invocation): void {
  const dueAt = rfc3339(expectation.dueAt);
  const attributes = { ...where(cluster, cronJob), [ATTRIBUTES.dueAt]: dueAt, [ATTRIBUTES.deadlineAt]: rfc3339(expectation.deadlineAt) };
  emitEvent(EVENTS.scheduleExpected, `${cronJob.metadata?.namespace ?? ''}/${cronJob.metadata?.name ?? ''} is due at ${dueAt}`, attributes, 'info', invocation);
}

/** The scheduler started a run this many seconds after its due time. */
export function firedLate(cluster: string, cronJob: V1CronJob, seconds: number): void {
  record(METRICS.schedulerLateness, 's', 'Fire time minus due time of each run the scheduler started', seconds, where(cluster, cronJob));
}

/** A due time passed without a run and was skipped; `dueAt` when it is known (a 'missed' decision). */
export function missedDueTime(cluster: string, cronJob: V1CronJob, reason: string, message: string, dueAt: Date | null, invocation?: Invocation): void {
  const attributes = { ...where(cluster, cronJob), [ATTRIBUTES.reason]: reason, ...(dueAt ? { [ATTRIBUTES.dueAt]: rfc3339(dueAt) } : {}) };
  count(METRICS.schedulerMissed, '{due}', 'Due times of handed-over CronJobs that passed without a run', attributes);
  emitEvent(EVENTS.scheduleMissed, message, attributes, 'warn', invocation);
}
