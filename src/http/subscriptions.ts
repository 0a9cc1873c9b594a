import type { HttpRequest, InvocationContext } from '@azure/functions';
import type * as df from 'durable-functions';

import { ensureError, ServiceUnavailableError } from '../core/errors.js';
import type { RunRef } from '../core/run.js';
import { runRefSchema } from '../core/schemas.js';
import { type StoredSubscription, type SubscriptionRequest, type SubscriptionView, viewOf } from '../core/subscriptions.js';
import { ORCHESTRATORS } from '../functions/names.js';
import { subscribeDepsOf } from '../runs/push.js';
import { type DeliveryStarter, startDeliveries, subscribe, type SubscriptionStore } from '../runs/subscriptions.js';
import { services } from '../services.js';
import { apiBase } from './links.js';
import { findRun, isUnknownInstance, type RunClient, snapshotFromInstance, verdictMade } from './runs.js';

/** What starting a delivery needs from Durable's client. */
export type DeliveryClient = Pick<df.DurableClient, 'startNew' | 'getStatus'>;

async function instanceExists(client: DeliveryClient, instanceId: string): Promise<boolean> {
  try {
    const status = await client.getStatus(instanceId);
    return Boolean(status.instanceId);
  } catch (err) {
    if (isUnknownInstance(err)) return false;
    throw err;
  }
}

/**
 * Start a delivery orchestration under its id unless one with that id exists (in any state: startNew would
 * replace a finished one, and with it the record that the event was delivered). Two starters that both found none
 * meet at startNew: the host refuses the second while the first is pending or running, and a delivery that already
 * finished sees the event delivered in its subscription's blob and sends nothing (runs/subscriptions.ts attemptDelivery).
 */
export function deliveryStarterOf(client: DeliveryClient): DeliveryStarter {
  return async (instanceId, input) => {
    if (await instanceExists(client, instanceId)) return false;
    try {
      await client.startNew(ORCHESTRATORS.deliverRunEvent, { instanceId, input });
      return true;
    } catch (err) {
      if (await instanceExists(client, instanceId)) return false;
      throw err;
    }
  };
}

/** The subscriptions' store, or a 503 that says which setting gives one. */
export function requireSubscriptions(): SubscriptionStore {
  const store = services().subscriptions;
  if (!store) {
    throw new ServiceUnavailableError('subscriptions are kept in the logs archive\'s storage account, and none is configured (LOGS_ACCOUNT_URL or LOGS_CONNECTION_STRING)');
  }
  return store;
}

/** `<api>/runs/<runId>/subscriptions/<id>`, without any key: a subscription's Location. */
export function subscriptionLocation(request: HttpRequest, runId: string, id: string): string {
  const url = new URL(`${apiBase(request)}/runs/${encodeURIComponent(runId)}/subscriptions/${id}`);
  const code = new URL(request.url).searchParams.get('code');
  if (code) url.searchParams.set('code', code);
  return url.toString();
}

/**
 * Subscribe to a run and, when its verdict is already made, start the delivery at once. The order closes the race
 * with the verdict: the subscription is written first and the run read after. The orchestrator makes the verdict its
 * custom status before it schedules the activity that lists the subscriptions (functions/jobRun.ts), so either that
 * listing finds this subscription, or it ran before the write, and then this read finds the verdict made. Both may
 * happen: they start the same delivery instance (deliveryStarterOf).
 */
export async function subscribeToRun(request: HttpRequest, client: RunClient, runId: string, body: SubscriptionRequest, context: InvocationContext): Promise<{ sub: StoredSubscription; created: boolean }> {
  const store = requireSubscriptions();
  const { config, now } = services();
  const result = await subscribe(runId, body, subscribeDepsOf(config, store, now(), apiBase(request)));
  const instance = await findRun(client, runId);
  if (instance && verdictMade(instance)) {
    const ref = runRefSchema.safeParse((instance.input as { request?: unknown } | null | undefined)?.request);
    const runRef: RunRef = ref.success ? ref.data : { runId, cluster: '', namespace: '', source: { kind: 'Job', name: '' } };
    const started = await startDeliveries(store, runRef, snapshotFromInstance(instance), deliveryStarterOf(client), result.sub.id);
    if (started.length > 0) context.log(`run ${runId}: subscription ${result.sub.id} made after the verdict, delivery started`);
  }
  return result;
}

/** The run's subscriptions as a snapshot shows them; undefined when there is no store, or it could not be read (said in the log). */
export async function subscriptionViews(runId: string, context: InvocationContext): Promise<SubscriptionView[] | undefined> {
  const store = services().subscriptions;
  if (!store) return undefined;
  try {
    return (await store.list(runId)).map(viewOf);
  } catch (err) {
    context.warn(`run ${runId}: its subscriptions could not be read: ${ensureError(err).message}`);
    return undefined;
  }
}
