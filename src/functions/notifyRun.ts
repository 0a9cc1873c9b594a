import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { z } from 'zod';

import { runRefSchema, runSnapshotSchema } from '../core/schemas.js';
import { type DeliveryClient,deliveryStarterOf } from '../http/subscriptions.js';
import { startDeliveries } from '../runs/subscriptions.js';
import { services } from '../services.js';
import { ACTIVITIES } from './names.js';

export const notifyRunInputSchema = z.object({ ref: runRefSchema, snapshot: runSnapshotSchema });
export type NotifyRunInput = z.infer<typeof notifyRunInputSchema>;

/**
 * Activity, at a run's verdict (orchestration 3.1): start one delivery orchestration per subscription. Each has an
 * id of its own run, verdict and subscription, so a retried activity, or the subscriptions route racing the
 * verdict, meets the delivery already started instead of starting another. Throws only when the subscriptions
 * could not be read, for RetryOptions. The number of deliveries it started (none without subscriptions).
 */
export async function notifyRun(input: unknown, client: DeliveryClient, context: InvocationContext): Promise<number> {
  const { ref, snapshot } = notifyRunInputSchema.parse(input);
  const store = services().subscriptions;
  if (!store) return 0;
  const started = await startDeliveries(store, ref, snapshot, deliveryStarterOf(client));
  if (started.length > 0) context.log(`run ${ref.runId}: ${String(started.length)} deliveries started`);
  return started.length;
}

df.app.activity(ACTIVITIES.notifyRun, {
  extraInputs: [df.input.durableClient()],
  handler: (input: unknown, context: InvocationContext) => notifyRun(input, df.getClient(context), context),
});
