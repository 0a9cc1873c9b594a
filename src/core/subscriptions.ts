import { createHash } from 'node:crypto';

import * as z from 'zod';

import { ADMIN_ROLE, type Caller, mayAccessRun } from './callers.js';
import { lazySchema } from './lazy-schema.js';
import { boundText } from './limits.js';
import type { RunSnapshot, RunStatus, StartedBy } from './run.js';

/**
 * Subscriptions to a run's verdict (issue 23): who is told, how each delivery stands. A subscription's URL is a
 * secret (a Logic Apps callback carries its `sig=` in the query), so it lives only in the subscription's own blob:
 * never in orchestration history, a log line, a custom status or an answer. Everything else here (ids, host,
 * states) is safe to show.
 */

/** At most this many subscriptions per run: each is an outbound request the app makes at the verdict, retried for a day. */
export const MAX_SUBSCRIPTIONS_PER_RUN = 5;

/** How long a delivery is retried before it is dead-lettered into the run's archive folder. */
export const DELIVERY_GIVE_UP_MS = 24 * 60 * 60 * 1000;
/** The first wait after a failed attempt; it doubles up to DELIVERY_MAX_WAIT_MS. */
export const DELIVERY_FIRST_WAIT_MS = 1_000;
export const DELIVERY_MAX_WAIT_MS = 60 * 60 * 1000;
/** A Retry-After further out than this is cut to it: a receiver cannot park a delivery for the whole day in one answer. */
export const DELIVERY_MAX_RETRY_AFTER_MS = 60 * 60 * 1000;

/**
 * The events a subscription can ask for: `started`, when the run's Job was created in the cluster, and `finished`,
 * when its verdict is made. A source subscription (the connector's "When a run finishes") asks for the verdict only.
 */
export const EVENT_TYPES = ['started', 'finished'] as const;
export type EventType = (typeof EVENT_TYPES)[number];
export const SOURCE_EVENT_TYPES = ['finished'] as const;

/**
 * What is POSTed: `snapshot`, the JSON `GET /runs/{runId}` answers (what a Logic Apps HTTP Webhook action resumes
 * with), or `cloudevents`, a CloudEvents 1.0 structured-mode event whose data is that snapshot.
 */
export const FORMATS = ['snapshot', 'cloudevents'] as const;
export type DeliveryFormat = (typeof FORMATS)[number];

export const DELIVERY_STATES = ['pending', 'delivering', 'delivered', 'retrying', 'deadLettered', 'gone', 'unsubscribed'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/** A subscription as the request gives it (the subscriptions route's body, and the start body's `subscription`). */
export const subscriptionRequestSchema = lazySchema(() =>
  z
    .object({
      url: z.string().min(1).max(4096).describe('Where the run\'s verdict is POSTed: HTTPS, allowed by CALLBACK_ALLOWED_URLS; a secret, never shown back'),
      events: z
        .array(z.enum(EVENT_TYPES))
        .min(1)
        .max(EVENT_TYPES.length)
        .optional()
        .describe('Which events: "started" (the run\'s Job was created) and/or "finished" (the verdict); default ["finished"]. A Logic Apps or Power Automate callback URL may ask for "finished" only'),
      format: z.enum(FORMATS).optional().describe('snapshot (default for Logic Apps callback URLs) or cloudevents (default otherwise)'),
    })
    .strict(),
);
export type SubscriptionRequest = z.infer<ReturnType<typeof subscriptionRequestSchema>>;

/** A Logic Apps Unsubscribe call's body: the callback URL it subscribed with. */
export const unsubscribeRequestSchema = lazySchema(() =>
  z.object({ url: z.string().min(1).max(4096).describe('The callback URL that was subscribed') }).strict(),
);

/** How one event's delivery to a subscription stands. */
export const deliveryRecordSchema = lazySchema(() =>
  z.object({
    state: z.enum(DELIVERY_STATES),
    attempts: z.number().int().nonnegative(),
    lastError: z.string().nullable(),
    lastAttemptAt: z.string().nullable(),
    /** The event id delivered (or dead-lettered), once one was. */
    eventId: z.string().nullable(),
    deliveredAt: z.string().nullable(),
    /** Where the dead letter was written, when it was. */
    deadLetter: z.string().nullable(),
  }),
);
export type DeliveryRecord = z.infer<ReturnType<typeof deliveryRecordSchema>>;

/** A delivery before its first attempt. */
export const NOT_YET_DELIVERED: DeliveryRecord = { state: 'pending', attempts: 0, lastError: null, lastAttemptAt: null, eventId: null, deliveredAt: null, deadLetter: null };

/**
 * A subscription as it is stored: its blob is the only place its URL is kept. The top-level delivery fields are the
 * verdict's (`finished`), as they were before `started` existed, so every blob written then still reads; `state`
 * there is also the subscription's own end (`unsubscribed`, `gone`), which ends every event's delivery. The start's
 * delivery is `started`, null until the subscription asks for it.
 */
export const storedSubscriptionSchema = lazySchema(() =>
  z.object({
    id: z.string(),
    runId: z.string(),
    /** Null once unsubscribed: the secret is dropped with the subscription. */
    url: z.string().nullable(),
    host: z.string(),
    events: z.array(z.enum(EVENT_TYPES)),
    format: z.enum(FORMATS),
    /** Logic Apps callback URLs are not signed (their `sig=` is the proof); every other target gets Standard Webhooks headers. */
    signed: z.boolean(),
    createdAt: z.string(),
    // The verdict's delivery, at the top level as it was stored before `started` existed.
    ...deliveryRecordSchema().shape,
    /** The app's public `/api` as the subscriber reached it, for the links in what is sent (no key). */
    apiBase: z.string().nullable().default(null),
    /** The `started` event's delivery; null for a subscription that does not ask for it (and every one stored before it existed). */
    started: deliveryRecordSchema().nullable().default(null),
  }),
);
export type StoredSubscription = z.infer<ReturnType<typeof storedSubscriptionSchema>>;

/** Whether the subscription has ended (unsubscribed, or its receiver answered 410 Gone): no event is sent to it any more. */
export function hasEnded(sub: Pick<StoredSubscription, 'state' | 'url'>): boolean {
  return sub.url === null || sub.state === 'unsubscribed' || sub.state === 'gone';
}

/** How an event's delivery to a subscription stands. */
export function deliveryOf(sub: StoredSubscription, event: EventType): DeliveryRecord {
  if (event === 'started') return sub.started ?? NOT_YET_DELIVERED;
  const { state, attempts, lastError, lastAttemptAt, eventId, deliveredAt, deadLetter } = sub;
  return { state, attempts, lastError, lastAttemptAt, eventId, deliveredAt, deadLetter };
}

/** The subscription with an event's delivery changed. */
export function withDelivery(sub: StoredSubscription, event: EventType, record: DeliveryRecord): StoredSubscription {
  return event === 'started' ? { ...sub, started: record } : { ...sub, ...record };
}

/** What a snapshot, an answer and the console show of one event's delivery. */
export type DeliveryView = Omit<DeliveryRecord, 'eventId'>;

/** What a snapshot, an answer and the console show of a subscription: never its URL. */
export interface SubscriptionView {
  id: string;
  host: string;
  events: EventType[];
  format: DeliveryFormat;
  /** The delivery of the subscription's last event (the verdict's when it asks for it, else the start's); `unsubscribed` or `gone` once it ended. */
  state: DeliveryState;
  attempts: number;
  lastError: string | null;
  lastAttemptAt: string | null;
  deliveredAt: string | null;
  deadLetter: string | null;
  /** Each event it asks for, and how its delivery stands. */
  deliveries: Partial<Record<EventType, DeliveryView>>;
}

const deliveryViewSchema = lazySchema(() =>
  z.object({
    state: z.enum(DELIVERY_STATES),
    attempts: z.number().int(),
    lastError: z.string().nullable(),
    lastAttemptAt: z.string().nullable(),
    deliveredAt: z.string().nullable(),
    deadLetter: z.string().nullable(),
  }),
);

export const subscriptionViewSchema = lazySchema(() =>
  z.object({
    id: z.string(),
    host: z.string().describe('The target\'s scheme and host; never its path or query'),
    events: z.array(z.enum(EVENT_TYPES)),
    format: z.enum(FORMATS),
    state: z.enum(DELIVERY_STATES).describe('The delivery of its last event (the verdict when it asks for "finished", else the start); unsubscribed or gone once it ended'),
    attempts: z.number().int(),
    lastError: z.string().nullable(),
    lastAttemptAt: z.string().nullable(),
    deliveredAt: z.string().nullable(),
    deadLetter: z.string().nullable(),
    deliveries: z
      .object({ started: deliveryViewSchema().optional(), finished: deliveryViewSchema().optional() })
      .describe('Each event the subscription asks for, and how its delivery stands'),
  }),
);

function deliveryViewOf(record: DeliveryRecord): DeliveryView {
  const { state, attempts, lastError, lastAttemptAt, deliveredAt, deadLetter } = record;
  return { state, attempts, lastError, lastAttemptAt, deliveredAt, deadLetter };
}

export function viewOf(sub: StoredSubscription): SubscriptionView {
  const { id, host, events, format } = sub;
  const ended = sub.state === 'unsubscribed' || sub.state === 'gone' ? sub.state : undefined;
  const deliveries: Partial<Record<EventType, DeliveryView>> = {};
  for (const event of EVENT_TYPES) {
    if (!events.includes(event)) continue;
    const record = deliveryViewOf(deliveryOf(sub, event));
    // The subscription's end shows on each event not delivered before it.
    deliveries[event] = ended && event === 'started' && record.state !== 'delivered' && record.state !== 'deadLettered' ? { ...record, state: ended } : record;
  }
  const last = deliveryViewOf(deliveryOf(sub, events.includes('finished') ? 'finished' : 'started'));
  return { id, host, events, format, ...last, state: ended ?? last.state, deliveries };
}

/**
 * The subscription's id: a hash of the run and the URL, so subscribing the same URL twice (a Logic Apps retry of
 * its Subscribe call) is the same subscription, and the id tells nothing about the URL.
 */
export function subscriptionIdOf(runId: string, url: string): string {
  return createHash('sha256').update(`${runId}\n${url}`).digest('hex').slice(0, 20);
}

/** The key under which an unsubscribe by URL (a Logic Apps Unsubscribe call) finds the subscription. */
export function urlKeyOf(url: string): string {
  return createHash('sha256').update(url).digest('hex');
}

export function isSubscriptionId(value: string): boolean {
  return /^[0-9a-f]{20}$/.test(value);
}

/**
 * The event's id: the run and its verdict, so a receiver de-duplicates on it (the same for every retry and restart).
 * A colon, not a dot: Standard Webhooks ids must hold no dot (the signed content is `id.timestamp.body`).
 */
export function eventIdOf(runId: string, status: RunStatus): string {
  return `${runId}:${status}`;
}

/** The `started` event's id: one per run, whatever attempt's Job it was (a retry on disruption makes no second one). */
export function startedEventIdOf(runId: string): string {
  return `${runId}:${STARTED}`;
}
const STARTED = 'Started';

/** Which event an event id is of: `<runId>:Started` is the start, `<runId>:<status>` the verdict (no run status is `Started`). */
export function eventTypeOfId(eventId: string): EventType {
  return eventId.endsWith(`:${STARTED}`) ? 'started' : 'finished';
}

/**
 * The delivery orchestration's instance id: one per run, verdict and subscription, so every path that starts it
 * (the verdict's activity, retried or not, and a subscriptions route racing the verdict) meets the same instance.
 * Run ids and subscription ids hold only [a-z0-9-], so the id is one Durable accepts.
 */
export function deliveryInstanceIdOf(runId: string, status: RunStatus | typeof STARTED, subscriptionId: string): string {
  return `delivery-${runId}-${status.toLowerCase()}-${subscriptionId}`;
}

/**
 * Whether a run's Job was created in the cluster, as a snapshot of it tells: the submit's own snapshot (`Submitted`),
 * anything observed running, or a Job start time. A run refused before its Job was made (a missing source, no
 * consent) has none of them and never starts.
 */
export function jobCreated(snapshot: Pick<RunSnapshot, 'status' | 'reason' | 'startTime'>): boolean {
  return snapshot.startTime !== null || snapshot.status === 'Running' || (snapshot.status === 'Starting' && snapshot.reason === 'Submitted');
}

/**
 * Logic Apps (and Power Automate) callback URLs: the workflow's trigger or action endpoint, whose `sig=` query is
 * its own proof of origin. Their hosts are `<region>.logic.azure.com` (and the sovereign clouds'), Power Automate's
 * `<env>.environment.api.powerplatform.com`; the query carries `sig`.
 */
export function isLogicAppsCallback(url: URL): boolean {
  const host = url.hostname.toLowerCase();
  const logicHost = /\.logic\.azure\.(?:com|us|cn)$/.test(host) || host.endsWith('.environment.api.powerplatform.com') || host.endsWith('.logic.azure.de');
  return logicHost && url.searchParams.has('sig');
}

/**
 * The wait after `attempts` failed attempts: doubling from a second up to an hour, and never sooner than the
 * receiver's Retry-After (cut to an hour). The larger of the two, so a receiver answering `Retry-After: 1` to every
 * attempt still gets the backoff, and a day holds some 35 attempts whatever it answers.
 */
export function deliveryWaitMs(attempts: number, retryAfterMs: number | undefined): number {
  const backoff = Math.min(DELIVERY_FIRST_WAIT_MS * 2 ** Math.max(0, attempts - 1), DELIVERY_MAX_WAIT_MS);
  if (retryAfterMs === undefined) return backoff;
  return Math.max(backoff, Math.min(retryAfterMs, DELIVERY_MAX_RETRY_AFTER_MS));
}

/** An attempt's outcome, as the delivery orchestration acts on it. */
export type AttemptOutcome =
  | { kind: 'delivered' }
  /** Nothing to send any more: unsubscribed, or this event was already delivered. */
  | { kind: 'skipped'; why: string }
  /** The receiver said 410 Gone: the subscription ends. */
  | { kind: 'gone' }
  | { kind: 'retry'; error: string; retryAfter?: string | undefined }
  /** Retrying cannot help (the target resolves to an address the app refuses): dead-lettered at once. */
  | { kind: 'failed'; error: string };

/** What one answer (or no answer) means. Every answer but 2xx, 3xx and 410 is retried: a receiver being redeployed answers 404 for a while. */
export function outcomeOf(result: { status: number; retryAfter?: Date | undefined } | { error: string; transient: boolean }): AttemptOutcome {
  if ('error' in result) return result.transient ? { kind: 'retry', error: boundText(result.error, 500) } : { kind: 'failed', error: boundText(result.error, 500) };
  if (result.status >= 200 && result.status < 300) return { kind: 'delivered' };
  if (result.status === 410) return { kind: 'gone' };
  // A redirect is never followed (it could point anywhere, inside the network too), and asking again gets the same.
  if (result.status >= 300 && result.status < 400) return { kind: 'failed', error: `the receiver answered HTTP ${result.status}, a redirect, which is never followed` };
  return { kind: 'retry', error: `the receiver answered HTTP ${result.status}`, ...(result.retryAfter ? { retryAfter: result.retryAfter.toISOString() } : {}) };
}

/**
 * Subscriptions to a SOURCE (issue 23, item 4): told the verdict of every run of a Job or CronJob, or of every run
 * in a namespace, that starts after the subscription. What a Power Automate / Logic Apps custom connector's webhook
 * trigger ("When a run finishes") registers: the trigger exists before any run. At the verdict, each matching one
 * becomes a run subscription of that run (same URL), delivered by the same durable delivery orchestration.
 */
export const MAX_SUBSCRIPTIONS_PER_SOURCE = 5;

const SOURCE_KINDS = ['Job', 'CronJob'] as const;

export const sourceSubscriptionRequestSchema = lazySchema(() =>
  z
    .object({
      cluster: z.string().min(1).max(63).optional().describe('The cluster alias; default DEFAULT_CLUSTER'),
      namespace: z.string().min(1).max(63).describe('The namespace whose runs are told'),
      source: z
        .object({
          kind: z.enum(SOURCE_KINDS).describe('Job or CronJob'),
          name: z.string().min(1).max(63).describe('The Job or CronJob'),
        })
        .strict()
        .optional()
        .describe('The runs of this Job or CronJob only; without it, every run in the namespace'),
      url: z.string().min(1).max(4096).describe('Where each run\'s verdict is POSTed (a connector\'s x-ms-notification-url): HTTPS, allowed by CALLBACK_ALLOWED_URLS; a secret, never shown back'),
      events: z.array(z.enum(SOURCE_EVENT_TYPES)).min(1).max(SOURCE_EVENT_TYPES.length).optional().describe('Which events: ["finished"], the only one a source subscription has'),
      format: z.enum(FORMATS).optional().describe('snapshot (default for Logic Apps / Power Automate callback URLs) or cloudevents (default otherwise)'),
    })
    .strict(),
);
export type SourceSubscriptionRequest = z.infer<ReturnType<typeof sourceSubscriptionRequestSchema>>;

/** Who made a source subscription: the runs it is told of are the runs this caller could read (core/callers.ts mayAccessRun). */
export const subscriptionOwnerSchema = lazySchema(() =>
  z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('key') }),
    z.object({ kind: z.literal('entra'), appId: z.string(), objectId: z.string(), admin: z.boolean() }),
  ]),
);
export type SubscriptionOwner = z.infer<ReturnType<typeof subscriptionOwnerSchema>>;

export const storedSourceSubscriptionSchema = lazySchema(() =>
  z.object({
    id: z.string(),
    cluster: z.string(),
    namespace: z.string(),
    source: z.object({ kind: z.enum(SOURCE_KINDS), name: z.string() }).nullable(),
    /** The secret: only in this blob (and, once a run matched, that run's subscription blob). */
    url: z.string(),
    host: z.string(),
    events: z.array(z.enum(EVENT_TYPES)),
    format: z.enum(FORMATS),
    signed: z.boolean(),
    owner: subscriptionOwnerSchema(),
    createdAt: z.string(),
    apiBase: z.string().nullable(),
  }),
);
export type StoredSourceSubscription = z.infer<ReturnType<typeof storedSourceSubscriptionSchema>>;

/** What an answer shows of a source subscription: never its URL. */
export const sourceSubscriptionViewSchema = lazySchema(() =>
  z.object({
    id: z.string(),
    cluster: z.string(),
    namespace: z.string(),
    source: z.object({ kind: z.enum(SOURCE_KINDS), name: z.string() }).nullable(),
    host: z.string().describe('The target\'s scheme and host; never its path or query'),
    events: z.array(z.enum(EVENT_TYPES)),
    format: z.enum(FORMATS),
    createdAt: z.string(),
  }),
);
export type SourceSubscriptionView = z.infer<ReturnType<typeof sourceSubscriptionViewSchema>>;

export function sourceViewOf(sub: StoredSourceSubscription): SourceSubscriptionView {
  const { id, cluster, namespace, source, host, events, format, createdAt } = sub;
  return { id, cluster, namespace, source, host, events, format, createdAt };
}

/** The scope a source subscription watches, as a blob folder: `<cluster>/<namespace>/Job/<name>` or `<cluster>/<namespace>/_namespace`. */
export function sourceScopeOf(where: { cluster: string; namespace: string; source: { kind: string; name: string } | null }): string {
  return `${where.cluster}/${where.namespace}/${where.source ? `${where.source.kind}/${where.source.name}` : '_namespace'}`;
}

/**
 * A source subscription's id: a hash of its scope, its owner and its URL, so the same registration twice (a
 * connector saving its flow again) is the same subscription, and the id tells nothing about the URL.
 */
export function sourceSubscriptionIdOf(scope: string, owner: SubscriptionOwner, url: string): string {
  const who = owner.kind === 'key' ? 'key' : `entra:${owner.appId}:${owner.objectId}`;
  return createHash('sha256').update(`source\n${scope}\n${who}\n${url}`).digest('hex').slice(0, 20);
}

/** The caller a source subscription's owner was, for the run-access rule. */
export function ownerCaller(owner: SubscriptionOwner): Caller {
  return owner.kind === 'key' ? { kind: 'key', keyScope: '' } : { kind: 'entra', appId: owner.appId, objectId: owner.objectId, roles: owner.admin ? [ADMIN_ROLE] : [] };
}

/**
 * Whether a source subscription is told of a run's verdict: same cluster and namespace, the same source (or the
 * whole namespace), an event it asked for, and a run its owner could read: an Entra caller is told only of its own
 * runs (an admin of all), a function-key caller of the function-key callers' runs, as GET /runs/{runId} answers them.
 */
export function sourceSubscriptionMatches(sub: StoredSourceSubscription, ref: { cluster: string; namespace: string; source: { kind: string; name: string } }, starter: StartedBy): boolean {
  if (sub.cluster !== ref.cluster || sub.namespace !== ref.namespace) return false;
  if (sub.source && (sub.source.kind !== ref.source.kind || sub.source.name !== ref.source.name)) return false;
  if (!sub.events.includes('finished')) return false;
  return mayAccessRun(ownerCaller(sub.owner), starter);
}

/** How a delivery reaches its receiver, as METRICS.callbackDeliveries names it (ATTRIBUTES.channel). */
export type DeliveryChannel = 'cloudevents' | 'logicapps' | 'webhook';

/** A CloudEvent; else the status JSON to a Logic Apps callback URL (never signed: its `sig=` is the proof) or to a signed webhook. */
export function channelOf(sub: Pick<StoredSubscription, 'format' | 'signed'>): DeliveryChannel {
  if (sub.format === 'cloudevents') return 'cloudevents';
  return sub.signed ? 'webhook' : 'logicapps';
}
