import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { z } from 'zod';

import { EventGridError } from '../clients/eventgrid.js';
import { runRefSchema, runSnapshotSchema } from '../core/schemas.js';
import { type DeliveryClient, deliveryStarterOf } from '../http/subscriptions.js';
import { verdictEvent } from '../runs/push.js';
import { startDeliveries } from '../runs/subscriptions.js';
import { services } from '../services.js';
import { ACTIVITIES } from './names.js';

export const notifyRunInputSchema = z.object({ ref: runRefSchema, snapshot: runSnapshotSchema });
export type NotifyRunInput = z.infer<typeof notifyRunInputSchema>;

/**
 * Activity, at a run's verdict (orchestration 3.1): start one delivery orchestration per subscription. Each has an
 * id of its own run, verdict and subscription, so a retried activity, or the subscriptions route racing the
 * verdict, meets the delivery already started instead of starting another. Throws only when the subscriptions
 * could not be read, or Event Grid (EVENT_GRID_TOPIC_ENDPOINT) could not take the verdict's CloudEvent for now, for
 * RetryOptions. The number of deliveries it started (none without subscriptions).
 */
export async function notifyRun(input: unknown, client: DeliveryClient, context: InvocationContext): Promise<number> {
  const { ref, snapshot } = notifyRunInputSchema.parse(input);
  const { subscriptions, eventGrid, config } = services();
  const started = subscriptions ? await startDeliveries(subscriptions, ref, snapshot, deliveryStarterOf(client)) : [];
  if (started.length > 0) context.log(`run ${ref.runId}: ${String(started.length)} deliveries started`);
  if (eventGrid) {
    // After the deliveries are started, so a retry of this activity for Event Grid's sake starts none twice.
    try {
      await eventGrid.publish([verdictEvent(snapshot, config)]);
    } catch (err) {
      if (err instanceof EventGridError && !err.transient) context.warn(`run ${ref.runId}: not published to Event Grid: ${err.message}`);
      else throw err;
    }
  }
  return started.length;
}

df.app.activity(ACTIVITIES.notifyRun, {
  extraInputs: [df.input.durableClient()],
  handler: (input: unknown, context: InvocationContext) => notifyRun(input, df.getClient(context), context),
});
