import type { InvocationContext } from '@azure/functions';
import * as z from 'zod';

import { activity, durableClientInput, durableClientOf } from '../clients/durable.js';
import { EventGridError } from '../clients/eventgrid.js';
import { lazySchema } from '../core/lazy-schema.js';
import type { StartedBy } from '../core/run.js';
import { runRefSchema, runRequestSchema, runSnapshotSchema } from '../core/schemas.js';
import { jobCreated } from '../core/subscriptions.js';
import { type DeliveryClient, deliveryStarterOf } from '../http/subscriptions.js';
import { verdictEvent } from '../runs/push.js';
import { startDeliveries, startSourceDeliveries, startStartedDeliveries } from '../runs/subscriptions.js';
import { services } from '../services.js';
import { ACTIVITIES } from './names.js';

export const notifyRunInputSchema = lazySchema(() =>
  z.object({ ref: runRefSchema(), snapshot: runSnapshotSchema() }),
);
export type NotifyRunInput = z.infer<ReturnType<typeof notifyRunInputSchema>>;

/**
 * Who started the run, as its instance's input records it (GET /runs/{runId}'s rule: a run recorded without a
 * caller counts as a function-key caller's). Throws when the instance cannot be read, for RetryOptions.
 */
async function starterOfRun(client: DeliveryClient, runId: string): Promise<StartedBy> {
  const status = await client.getStatus(runId);
  const recorded = runRequestSchema().shape.caller.safeParse((status.input as { request?: { caller?: unknown } } | null | undefined)?.request?.caller);
  return (recorded.success ? recorded.data : undefined) ?? { kind: 'key' };
}

/**
 * Activity, at a run's verdict (orchestration 3.1): start one delivery orchestration per subscription. Each has an
 * id of its own run, verdict and subscription, so a retried activity, or the subscriptions route racing the
 * verdict, meets the delivery already started instead of starting another. Throws only when the subscriptions
 * could not be read, or Event Grid (EVENT_GRID_TOPIC_ENDPOINT) could not take the verdict's CloudEvent for now, for
 * RetryOptions. The number of deliveries it started (none without subscriptions).
 */
export async function notifyRun(input: unknown, client: DeliveryClient, context: InvocationContext): Promise<number> {
  const { ref, snapshot } = notifyRunInputSchema().parse(input);
  const { subscriptions, eventGrid, config } = services();
  // The start's deliveries first: the submit activity started them when the Job was made, and this starts only any
  // it missed (the store could not be read then, or a subscription was written just after it looked); the same
  // instance ids, so none twice.
  const started = subscriptions && jobCreated(snapshot) ? await startStartedDeliveries(subscriptions, ref, snapshot, deliveryStarterOf(client)) : [];
  if (subscriptions) started.push(...(await startDeliveries(subscriptions, ref, snapshot, deliveryStarterOf(client))));
  if (subscriptions) {
    // Source subscriptions (a connector's "When a run finishes" trigger): told of the runs their owner may read, so
    // the run's starter is read from its instance (the orchestrator's input stays as it is: no version change).
    started.push(...(await startSourceDeliveries(subscriptions, ref, snapshot, () => starterOfRun(client, ref.runId), deliveryStarterOf(client), services().now())));
  }
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

activity(ACTIVITIES.notifyRun, {
  extraInputs: [durableClientInput()],
  handler: async (input: unknown, context: InvocationContext) => notifyRun(input, await durableClientOf(context), context),
});
