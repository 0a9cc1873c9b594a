import type { InvocationContext } from '@azure/functions';
import * as z from 'zod';

import { activity } from '../clients/durable.js';
import { runPrefix } from '../core/archive.js';
import { lazySchema } from '../core/lazy-schema.js';
import { runRefSchema, runSnapshotSchema } from '../core/schemas.js';
import { eventTypeOfId, viewOf } from '../core/subscriptions.js';
import { countDeadLettered } from '../runs/push.js';
import { markDeadLettered } from '../runs/subscriptions.js';
import { services } from '../services.js';
import { ACTIVITIES } from './names.js';

export const deadLetterInputSchema = lazySchema(() =>
  z.object({
    ref: runRefSchema(),
    subscriptionId: z.string(),
    eventId: z.string(),
    snapshot: runSnapshotSchema(),
    attempts: z.number().int(),
    lastError: z.string(),
  }),
);
export type DeadLetterInput = z.infer<ReturnType<typeof deadLetterInputSchema>>;

/**
 * Activity: a delivery that gave up is written into the run's archive folder, `dead-letters/<subscription>.json`
 * (`<subscription>-started.json` for the start's event):
 * the event id, the subscription as a snapshot shows it (host only), the attempts, the last error and the snapshot
 * that was to be sent, so an operator can see what was lost and send it by hand. Idempotent: a replay rewrites it.
 */
export async function deadLetterDelivery(input: unknown, context: InvocationContext): Promise<string | null> {
  const letter = deadLetterInputSchema().parse(input);
  const { logs, subscriptions, now } = services();
  if (!logs || !subscriptions) {
    countDeadLettered(letter.ref.runId, letter.subscriptionId, subscriptions ? await subscriptions.get(letter.ref.runId, letter.subscriptionId) : undefined, letter.attempts, letter.lastError, context);
    return null;
  }
  const sub = await subscriptions.get(letter.ref.runId, letter.subscriptionId);
  // The verdict's letter keeps the name it always had; the start's has its own, so neither overwrites the other.
  const suffix = eventTypeOfId(letter.eventId) === 'started' ? '-started' : '';
  const name = `${runPrefix(letter.ref.cluster, letter.ref.namespace, letter.ref.runId)}dead-letters/${letter.subscriptionId}${suffix}.json`;
  const record = {
    eventId: letter.eventId,
    subscription: sub ? viewOf(sub) : { id: letter.subscriptionId },
    attempts: letter.attempts,
    lastError: letter.lastError,
    deadLetteredAt: now().toISOString(),
    snapshot: letter.snapshot,
  };
  await logs.put(name, JSON.stringify(record, null, 2), 'application/json');
  const location = logs.path(name);
  await markDeadLettered(subscriptions, letter.ref.runId, letter.subscriptionId, location, letter.eventId);
  // Counted once the letter is written: a failed write is retried (the orchestrator's RetryOptions), not counted twice.
  countDeadLettered(letter.ref.runId, letter.subscriptionId, sub, letter.attempts, letter.lastError, context);
  context.warn(`run ${letter.ref.runId}: delivery of ${letter.eventId} to subscription ${letter.subscriptionId} dead-lettered after ${letter.attempts} attempts: ${letter.lastError}`);
  return location;
}

activity(ACTIVITIES.deadLetterDelivery, { handler: deadLetterDelivery });
