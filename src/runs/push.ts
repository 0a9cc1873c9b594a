import { sendCallback } from '../clients/callback.js';
import { count, emitEvent } from '../clients/otel-events.js';
import type { Invocation } from '../clients/telemetry.js';
import type { Config } from '../config.js';
import { type CallbackPolicy, checkCallbackUrl, displayUrl, hostsAllowedByName } from '../core/callback-url.js';
import { type CloudEvent, runFinishedEvent, runStartedEvent } from '../core/cloudevents.js';
import type { RunSnapshot } from '../core/run.js';
import { statusBody } from '../core/status-body.js';
import { type AttemptOutcome, channelOf, type EventType, eventTypeOfId, outcomeOf, type StoredSubscription } from '../core/subscriptions.js';
import { ATTRIBUTES, EVENTS, METRICS } from '../core/telemetry-names.js';
import { signWebhook } from '../core/webhook-signature.js';
import type { AttemptDeps, SubscribeDeps, SubscriptionStore } from './subscriptions.js';

/** A receiver gets this long to answer; one that hangs is an attempt that failed, retried later. */
export const DELIVERY_TIMEOUT_MS = 10_000;

export function callbackPolicyOf(config: Config): CallbackPolicy {
  return { allowed: config.callbackAllowedUrls, local: config.callbacksLocal };
}

export function subscribeDepsOf(config: Config, store: SubscriptionStore, now: Date, apiBase: string | null): SubscribeDeps {
  const policy = callbackPolicyOf(config);
  return {
    store,
    checkUrl: (raw) => checkCallbackUrl(raw, policy),
    display: displayUrl,
    canSign: config.webhookSigningSecrets.length > 0,
    now,
    apiBase: config.links.publicBaseUrl ?? apiBase,
  };
}

/** The links a pushed snapshot carries: the app's own routes, without any key. */
function linksOf(base: string | null, runId: string): { statusUrl: string; cancelUrl: string } {
  const run = `${base ?? ''}/runs/${encodeURIComponent(runId)}`;
  return { statusUrl: run, cancelUrl: `${run}/cancel` };
}

/** The verdict's CloudEvent; the source names the app (its public /api, else a name of its own) and the cluster (core/cloudevents.ts). */
export function verdictEvent(snapshot: RunSnapshot, config: Config, apiBase: string | null = null): CloudEvent {
  const base = config.links.publicBaseUrl ?? apiBase;
  return runFinishedEvent({ ...snapshot, ...statusBody(snapshot, linksOf(base, snapshot.runId)) }, { source: base ?? '/aks-job-runner' });
}

/** The start's CloudEvent (the run's Job was created), its data the run's snapshot at that moment. */
export function startedEvent(snapshot: RunSnapshot, config: Config, apiBase: string | null = null): CloudEvent {
  const base = config.links.publicBaseUrl ?? apiBase;
  return runStartedEvent({ ...snapshot, ...statusBody(snapshot, linksOf(base, snapshot.runId)) }, { source: base ?? '/aks-job-runner' });
}

/** What is POSTed for a subscription and an event: the status route's JSON, or a CloudEvent whose data it is. */
export function pushBody(sub: StoredSubscription, snapshot: RunSnapshot, config: Config, event: EventType = 'finished'): string {
  if (sub.format === 'cloudevents') return JSON.stringify(event === 'started' ? startedEvent(snapshot, config, sub.apiBase) : verdictEvent(snapshot, config, sub.apiBase));
  return JSON.stringify(statusBody(snapshot, linksOf(config.links.publicBaseUrl ?? sub.apiBase, snapshot.runId)));
}

export function attemptDepsOf(config: Config, store: SubscriptionStore, snapshot: RunSnapshot, eventId: string, now: () => Date): AttemptDeps {
  const policy = callbackPolicyOf(config);
  const secrets = config.webhookSigningSecrets;
  // Hosts the operator listed by name may resolve to private addresses (a receiver inside the network).
  const allowedPrivateHosts = hostsAllowedByName(config.callbackAllowedUrls);
  return {
    store,
    checkUrl: (raw) => checkCallbackUrl(raw, policy),
    body: (sub) => pushBody(sub, snapshot, config, eventTypeOfId(eventId)),
    sign: (body) => (secrets.length > 0 ? signWebhook({ id: eventId, timestamp: now(), body, secret: secrets }) : {}),
    send: (url, body, headers) => sendCallback(url, body, headers, { timeoutMs: DELIVERY_TIMEOUT_MS, allowPrivate: policy.local, allowedPrivateHosts }),
    outcomeOf,
    now,
    attempted: countAttempt,
  };
}

/**
 * METRICS.callbackDeliveries for an attempt the attempt activity made (never from the orchestrator, whose replays
 * would count it again): delivered, retry or gone. An attempt that failed for good is dead-lettered at once and
 * counted as such by countDeadLettered, like a delivery that ran out of retries.
 */
function countAttempt(sub: StoredSubscription, outcome: AttemptOutcome): void {
  if (outcome.kind === 'delivered' || outcome.kind === 'retry' || outcome.kind === 'gone') {
    count(METRICS.callbackDeliveries, '{delivery}', 'Push deliveries attempted', { [ATTRIBUTES.outcome]: outcome.kind, [ATTRIBUTES.channel]: channelOf(sub) });
  }
}

/**
 * A delivery given up on (the dead-letter activity): METRICS.callbackDeliveries with outcome dead_lettered,
 * METRICS.callbackFailures, and the EVENTS.deliveryDeadLettered event (ids and the receiver's host, never its URL),
 * in the trace of `invocation` (the activity's InvocationContext) when given.
 */
export function countDeadLettered(runId: string, subscriptionId: string, sub: StoredSubscription | null | undefined, attempts: number, lastError: string, invocation?: Invocation): void {
  const channel = sub ? channelOf(sub) : 'unknown';
  count(METRICS.callbackDeliveries, '{delivery}', 'Push deliveries attempted', { [ATTRIBUTES.outcome]: 'dead_lettered', [ATTRIBUTES.channel]: channel });
  count(METRICS.callbackFailures, '{delivery}', 'Push deliveries that failed for good (dead-lettered)', { [ATTRIBUTES.channel]: channel });
  emitEvent(
    EVENTS.deliveryDeadLettered,
    `run ${runId}: delivery to subscription ${subscriptionId}${sub ? ` (${sub.host})` : ''} dead-lettered after ${String(attempts)} attempts: ${lastError}`,
    { [ATTRIBUTES.runId]: runId, [ATTRIBUTES.channel]: channel, [ATTRIBUTES.outcome]: 'dead_lettered' },
    'warn',
    invocation,
  );
}
