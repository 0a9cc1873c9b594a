import type { InvocationContext } from '@azure/functions';
import * as z from 'zod';

import { activity } from '../clients/durable.js';
import { lazySchema } from '../core/lazy-schema.js';
import { runRefSchema, runSnapshotSchema } from '../core/schemas.js';
import type { AttemptOutcome } from '../core/subscriptions.js';
import { attemptDepsOf } from '../runs/push.js';
import { attemptDelivery as attempt } from '../runs/subscriptions.js';
import { services } from '../services.js';
import { ACTIVITIES } from './names.js';

export const attemptDeliveryInputSchema = lazySchema(() =>
  z.object({ ref: runRefSchema(), subscriptionId: z.string(), eventId: z.string(), snapshot: runSnapshotSchema() }),
);
export type AttemptDeliveryInput = z.infer<ReturnType<typeof attemptDeliveryInputSchema>>;

/**
 * Activity: one request to a subscription's target. Never throws for the receiver's sake: its answer (or silence)
 * is the outcome the orchestration acts on. Logs say the host and the outcome, never the URL.
 */
export async function attemptDelivery(input: unknown, context: InvocationContext): Promise<AttemptOutcome> {
  const { ref, subscriptionId, eventId, snapshot } = attemptDeliveryInputSchema().parse(input);
  const { config, subscriptions, now } = services();
  if (!subscriptions) return { kind: 'skipped', why: 'no subscriptions store is configured' };
  const outcome = await attempt(ref.runId, subscriptionId, eventId, attemptDepsOf(config, subscriptions, snapshot, eventId, now));
  context.log(`run ${ref.runId}: delivery of ${eventId} to subscription ${subscriptionId}: ${outcome.kind}${'error' in outcome ? ` (${outcome.error})` : ''}`);
  return outcome;
}

activity(ACTIVITIES.attemptDelivery, { handler: attemptDelivery });
