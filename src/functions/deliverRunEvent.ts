import type * as df from 'durable-functions';
import * as z from 'zod';

import { durableRetryOptions, orchestration } from '../clients/durable.js';
import { ensureError } from '../core/errors.js';
import { lazySchema } from '../core/lazy-schema.js';
import { runRefSchema, runSnapshotSchema } from '../core/schemas.js';
import { type AttemptOutcome, DELIVERY_GIVE_UP_MS, deliveryWaitMs } from '../core/subscriptions.js';
import type { AttemptDeliveryInput } from './attemptDelivery.js';
import type { DeadLetterInput } from './deadLetterDelivery.js';
import { ACTIVITIES, ORCHESTRATORS } from './names.js';

export const deliveryInputSchema = lazySchema(() =>
  z.object({
    ref: runRefSchema(),
    subscriptionId: z.string(),
    eventId: z.string(),
    snapshot: runSnapshotSchema(),
  }),
);

/** How a delivery ended, as its output says. */
export interface DeliveryResult {
  outcome: 'delivered' | 'skipped' | 'gone' | 'deadLettered';
  attempts: number;
  lastError?: string;
}

/**
 * One subscription's delivery of one event (issue 23): an attempt, and while it fails, a durable timer and another,
 * waiting twice as long each time (from a second, up to an hour, never sooner than the receiver's Retry-After), for
 * up to a day; then a dead letter in the run's archive folder. Its input holds ids and the snapshot, never the URL
 * (the attempt activity reads it from the subscription's blob). The event id is the input's, so every attempt,
 * also after a restart, sends the same id. At most about 35 attempts fit in a day, so no continueAsNew is needed.
 */
export function* deliverRunEvent(context: df.OrchestrationContext): Generator<df.Task, DeliveryResult, unknown> {
  const input = deliveryInputSchema().parse(context.df.getInput());
  const since = context.df.currentUtcDateTime.getTime();
  const attempt: AttemptDeliveryInput = { ref: input.ref, subscriptionId: input.subscriptionId, eventId: input.eventId, snapshot: input.snapshot };
  for (let attempts = 1; ; attempts++) {
    let outcome: AttemptOutcome;
    try {
      outcome = (yield context.df.callActivity(ACTIVITIES.attemptDelivery, attempt)) as AttemptOutcome;
    } catch (err) {
      // The subscription's blob could not be read or written: as good as a failed request.
      outcome = { kind: 'retry', error: `the delivery could not be made: ${ensureError(err).message}` };
    }
    if (outcome.kind === 'delivered' || outcome.kind === 'gone') return { outcome: outcome.kind, attempts };
    if (outcome.kind === 'skipped') return { outcome: 'skipped', attempts };
    const lastError = outcome.error;
    const now = context.df.currentUtcDateTime.getTime();
    const retryAfterMs = outcome.kind === 'retry' && outcome.retryAfter ? new Date(outcome.retryAfter).getTime() - now : undefined;
    const next = now + deliveryWaitMs(attempts, retryAfterMs);
    if (outcome.kind === 'failed' || next - since > DELIVERY_GIVE_UP_MS) {
      const letter: DeadLetterInput = { ...attempt, attempts, lastError };
      try {
        yield context.df.callActivityWithRetry(ACTIVITIES.deadLetterDelivery, durableRetryOptions(5_000, 5), letter);
      } catch {
        // The subscription's state still shows its last error.
      }
      return { outcome: 'deadLettered', attempts, lastError };
    }
    yield context.df.createTimer(new Date(next));
  }
}

orchestration(ORCHESTRATORS.deliverRunEvent, deliverRunEvent);
