import type { HttpRequest, InvocationContext } from '@azure/functions';
import type * as df from 'durable-functions';

import { ADMIN_ROLE, authorizeTarget, type Caller, mayTarget } from '../core/callers.js';
import { assertRunnable } from '../core/consent.js';
import { ensureError, NotFoundError, ServiceUnavailableError } from '../core/errors.js';
import { assertNamespace, assertObjectName } from '../core/naming.js';
import { jobNameOf, type RunRef } from '../core/run.js';
import { runRefSchema } from '../core/schemas.js';
import {
  isSubscriptionId,
  jobCreated,
  type SourceSubscriptionRequest,
  type StoredSourceSubscription,
  type StoredSubscription,
  type SubscriptionOwner,
  type SubscriptionRequest,
  type SubscriptionView,
  viewOf,
} from '../core/subscriptions.js';
import { ORCHESTRATORS } from '../functions/names.js';
import { subscribeDepsOf } from '../runs/push.js';
import { type DeliveryStarter, startDeliveries, startStartedDeliveries, subscribe, subscribeSource, type SubscriptionStore } from '../runs/subscriptions.js';
import { services } from '../services.js';
import { callerOf } from './caller.js';
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
 *
 * The start (`started`) is the same race with the submit activity, which creates the Job and then lists the
 * subscriptions: when the run's status does not show the Job made yet, the Job itself is read from the cluster, after
 * the write, so either the activity's listing found this subscription or this read finds the Job. Should neither
 * (the Job already gone), the verdict's activity starts it.
 */
export async function subscribeToRun(request: HttpRequest, client: RunClient, runId: string, body: SubscriptionRequest, context: InvocationContext): Promise<{ sub: StoredSubscription; created: boolean }> {
  const store = requireSubscriptions();
  const { config, now } = services();
  const result = await subscribe(runId, body, subscribeDepsOf(config, store, now(), apiBase(request)));
  const instance = await findRun(client, runId);
  if (!instance) return result;
  const ref = runRefSchema().safeParse((instance.input as { request?: unknown } | null | undefined)?.request);
  const runRef: RunRef = ref.success ? ref.data : { runId, cluster: '', namespace: '', source: { kind: 'Job', name: '' } };
  const snapshot = snapshotFromInstance(instance);
  if (result.sub.events.includes('started') && (jobCreated(snapshot) || (ref.success && !verdictMade(instance) && (await jobExists(runRef, context))))) {
    const started = await startStartedDeliveries(store, runRef, snapshot, deliveryStarterOf(client), result.sub.id);
    if (started.length > 0) context.log(`run ${runId}: subscription ${result.sub.id} made after the run started, delivery of the start started`);
  }
  if (verdictMade(instance)) {
    const started = await startDeliveries(store, runRef, snapshot, deliveryStarterOf(client), result.sub.id);
    if (started.length > 0) context.log(`run ${runId}: subscription ${result.sub.id} made after the verdict, delivery started`);
  }
  return result;
}

/** Whether the run's (current attempt's) Job is in the cluster; false when it cannot be read (the verdict's activity starts what this misses). */
async function jobExists(ref: RunRef, context: InvocationContext): Promise<boolean> {
  try {
    return (await services().clusters.gateway(ref.cluster).readJob(ref.namespace, jobNameOf(ref))) !== null;
  } catch (err) {
    context.warn(`run ${ref.runId}: its Job could not be read to tell whether it started: ${ensureError(err).message}`);
    return false;
  }
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

/** `<api>/subscriptions/<id>`, without any key but the request's own `code`: a source subscription's Location, where DELETE removes it. */
export function sourceSubscriptionLocation(request: HttpRequest, id: string): string {
  const url = new URL(`${apiBase(request)}/subscriptions/${id}`);
  const code = new URL(request.url).searchParams.get('code');
  if (code) url.searchParams.set('code', code);
  return url.toString();
}

function ownerOf(caller: Caller): SubscriptionOwner {
  return caller.kind === 'key' ? { kind: 'key' } : { kind: 'entra', appId: caller.appId, objectId: caller.objectId, admin: caller.roles.includes(ADMIN_ROLE) };
}

/**
 * Subscribe to a source's runs (or a namespace's): the checks reading that source's runs has (the app's
 * allow-lists, the caller's CALLER_POLICIES, the source's owner consent: a source kept out of the app is kept out
 * of this too), then the URL's (CALLBACK_ALLOWED_URLS), all before anything is written.
 */
export async function subscribeToSource(request: HttpRequest, body: SourceSubscriptionRequest): Promise<{ sub: StoredSourceSubscription; created: boolean }> {
  const { config, clusters, now } = services();
  const caller = callerOf(request, config.callers);
  assertNamespace(body.namespace);
  if (body.source) assertObjectName(body.source.kind, body.source.name, 63);
  const cluster = body.cluster ?? clusters.defaultAlias;
  clusters.authorize(cluster, body.namespace);
  authorizeTarget(caller, config.callers, { cluster, namespace: body.namespace });
  const store = requireSubscriptions();
  const deps = subscribeDepsOf(config, store, now(), apiBase(request));
  if (body.source) {
    const { kind, name } = body.source;
    const gateway = clusters.gateway(cluster);
    const found = kind === 'Job' ? await gateway.readJob(body.namespace, name) : await gateway.readCronJob(body.namespace, name);
    if (!found) throw new NotFoundError(`${kind} "${name}" does not exist in namespace "${body.namespace}" on cluster "${cluster}"`);
    assertRunnable(kind, name, found.metadata, config.runPolicy.sourcesOptIn);
  }
  return subscribeSource({ cluster, namespace: body.namespace, source: body.source ?? null }, body, ownerOf(caller), deps);
}

/**
 * The source subscription under this id, when this caller made it (or is an admin) and may still use its
 * namespace; a 404 otherwise, as for an unknown id, so ids of others cannot be confirmed.
 */
export async function ownSourceSubscription(request: HttpRequest, id: string): Promise<StoredSourceSubscription> {
  const { config } = services();
  const caller = callerOf(request, config.callers);
  const missing = new NotFoundError(`no subscription "${id}"; subscription ids are in the Location POST /subscriptions answers with`);
  if (!isSubscriptionId(id)) throw missing;
  const sub = await requireSubscriptions().getSource(id);
  if (!sub) throw missing;
  const owner = sub.owner;
  const mine =
    caller.kind === 'key' ? owner.kind === 'key' : caller.roles.includes(ADMIN_ROLE) || (owner.kind === 'entra' && owner.appId === caller.appId && owner.objectId === caller.objectId);
  if (!mine || !mayTarget(caller, config.callers, sub)) throw missing;
  return sub;
}
