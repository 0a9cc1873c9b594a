import type { BlobStore } from '../clients/blob.js';
import { CLOUDEVENTS_CONTENT_TYPE } from '../core/cloudevents.js';
import { BadRequestError, ConflictError, ensureError, NotFoundError } from '../core/errors.js';
import { boundText } from '../core/limits.js';
import { isTerminal, type RunRef, type RunSnapshot, type StartedBy } from '../core/run.js';
import {
  type AttemptOutcome,
  deliveryInstanceIdOf,
  deliveryOf,
  eventIdOf,
  type EventType,
  eventTypeOfId,
  hasEnded,
  isLogicAppsCallback,
  MAX_SUBSCRIPTIONS_PER_RUN,
  MAX_SUBSCRIPTIONS_PER_SOURCE,
  NOT_YET_DELIVERED,
  sourceScopeOf,
  sourceSubscriptionIdOf,
  sourceSubscriptionMatches,
  type SourceSubscriptionRequest,
  startedEventIdOf,
  type StoredSourceSubscription,
  storedSourceSubscriptionSchema,
  type StoredSubscription,
  storedSubscriptionSchema,
  subscriptionIdOf,
  type SubscriptionOwner,
  type SubscriptionRequest,
  urlKeyOf,
  withDelivery,
} from '../core/subscriptions.js';

/**
 * The container that keeps subscriptions, apart from the logs archive's, so no route that reads the archive can
 * ever hand out a subscription's blob (its URL is a secret).
 */
export const SUBSCRIPTIONS_CONTAINER = 'run-subscriptions';

const JSON_TYPE = 'application/json';

/** `runs/<runId>/<id>.json`: one blob per subscription; `by-url/<sha256 of the URL>.json`: where an unsubscribe by URL finds it. */
function subscriptionBlob(runId: string, id: string): string {
  return `runs/${runId}/${id}.json`;
}
function urlIndexBlob(url: string): string {
  return `by-url/${urlKeyOf(url)}.json`;
}

/**
 * `run-places/<runId>.json` and `source-places/<scope>.json`: the places a run's (a scope's) subscriptions hold,
 * one per subscription id, under the limit. Outside `runs/` and `sources/`, so no listing of subscriptions meets them.
 */
function runPlacesBlob(runId: string): string {
  return `run-places/${runId}.json`;
}
function sourcePlacesBlob(scope: string): string {
  return `source-places/${scope}.json`;
}

/** A place taken under a limit: the subscription's id and when it was taken (or taken again). */
interface Place {
  id: string;
  at: string;
}

/**
 * A place whose subscription is not there (or unsubscribed) is given back to the limit only once it is this old:
 * a request that has taken its place writes its subscription right after, and must not lose the place meanwhile.
 * What it mends is a request that died between the two writes, or an unsubscribe that died before giving its place back.
 */
export const PLACE_GRACE_MS = 60_000;

/** How often a request tries again when others changed the places first; each round lets at least one of them through. */
const PLACE_TRIES = 40;

function placesOf(content: Buffer): Place[] {
  const parsed = JSON.parse(content.toString('utf8')) as { places?: unknown };
  if (!Array.isArray(parsed.places)) return [];
  return parsed.places.flatMap((p: unknown) => {
    const place = p as Partial<Place> | null;
    return place && typeof place.id === 'string' && typeof place.at === 'string' ? [{ id: place.id, at: place.at }] : [];
  });
}

/** A short, random pause before another try, so requests that lost a conditional write do not meet again at once. */
async function pause(tries: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, (5 + Math.random() * 20) * Math.min(tries + 1, 5)));
}

/** What the store needs of a blob container (clients/blob.ts BlobStore; an in-memory one in tests). */
export type SubscriptionBlobs = Pick<BlobStore, 'list' | 'read' | 'writeIf' | 'put' | 'get' | 'delete'>;

/**
 * Subscriptions in Blob Storage: one blob each, changed only by conditional writes (ETags), so an unsubscribe and
 * a delivery's bookkeeping never overwrite each other.
 */
export class SubscriptionStore {
  constructor(private readonly blobs: SubscriptionBlobs) {}

  async list(runId: string): Promise<StoredSubscription[]> {
    const page = await this.blobs.list(`runs/${runId}/`, { limit: 100 });
    const found = await Promise.all(page.items.map(async (item) => this.read(item.name)));
    return found.flatMap((entry) => (entry ? [entry.sub] : [])).sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  async get(runId: string, id: string): Promise<StoredSubscription | undefined> {
    return (await this.read(subscriptionBlob(runId, id)))?.sub;
  }

  private async read(name: string): Promise<{ sub: StoredSubscription; etag: string } | undefined> {
    const blob = await this.blobs.read(name);
    if (!blob) return undefined;
    const parsed = storedSubscriptionSchema().safeParse(JSON.parse(blob.content.toString('utf8')));
    return parsed.success ? { sub: parsed.data, etag: blob.etag } : undefined;
  }

  /** Writes a new subscription; false when one with its id is already there. */
  async create(sub: StoredSubscription): Promise<boolean> {
    const created = await this.blobs.writeIf(subscriptionBlob(sub.runId, sub.id), JSON.stringify(sub), JSON_TYPE, { ifNoneMatch: '*' });
    if (created && sub.url) await this.rememberUrl(sub.url, sub.runId, sub.id);
    return created;
  }

  async rememberUrl(url: string, runId: string, id: string): Promise<void> {
    await this.blobs.put(urlIndexBlob(url), JSON.stringify({ runId, id }), JSON_TYPE);
  }

  /**
   * Change a subscription by a function of what is stored: read, change, write if unchanged meanwhile, and again
   * when another writer came first. Undefined from `change` leaves it as it is. The subscription as it now stands.
   */
  async update(runId: string, id: string, change: (sub: StoredSubscription) => StoredSubscription | undefined): Promise<StoredSubscription | undefined> {
    for (let tries = 0; tries < 10; tries++) {
      const current = await this.read(subscriptionBlob(runId, id));
      if (!current) return undefined;
      const next = change(current.sub);
      if (!next) return current.sub;
      if (await this.blobs.writeIf(subscriptionBlob(runId, id), JSON.stringify(next), JSON_TYPE, { ifMatch: current.etag })) return next;
    }
    throw new ConflictError(`subscription ${id} of run ${runId} kept changing while it was written; try again`);
  }

  /**
   * The subscription a URL was given to, for an unsubscribe that knows only the URL. The URL as it was stored:
   * parsed, so `https://host:443/...` (as Logic Apps writes its callback URLs) finds `https://host/...`.
   */
  async findByUrl(url: string): Promise<{ runId: string; id: string } | undefined> {
    const blob = await this.blobs.get(urlIndexBlob(URL.canParse(url) ? new URL(url).toString() : url));
    if (!blob) return undefined;
    const entry = JSON.parse(blob.toString('utf8')) as { runId?: unknown; id?: unknown };
    return typeof entry.runId === 'string' && typeof entry.id === 'string' ? { runId: entry.runId, id: entry.id } : undefined;
  }

  async forgetUrl(url: string): Promise<void> {
    await this.blobs.delete(urlIndexBlob(url));
  }

  /** A run subscription made for a source subscription at a run's verdict: no by-URL index (its URL serves many runs). False when there was one. */
  async createForRun(sub: StoredSubscription): Promise<boolean> {
    return this.blobs.writeIf(subscriptionBlob(sub.runId, sub.id), JSON.stringify(sub), JSON_TYPE, { ifNoneMatch: '*' });
  }

  /**
   * Take a place for a subscription of a run under MAX_SUBSCRIPTIONS_PER_RUN (again, when its id holds one). Race-free:
   * the places are one blob changed only by conditional writes (If-None-Match: * to make it, If-Match its ETag to
   * change it), retried when another request changed it first, so two requests can never both take the fifth place.
   */
  async takeRunPlace(runId: string, id: string, now: Date): Promise<{ taken: true } | { taken: false; count: number }> {
    return this.takePlace(runPlacesBlob(runId), id, MAX_SUBSCRIPTIONS_PER_RUN, now, {
      held: async () => (await this.list(runId)).filter((s) => s.state !== 'unsubscribed').map((s) => s.id),
      stillHeld: async (other) => {
        const sub = await this.get(runId, other);
        return sub !== undefined && sub.state !== 'unsubscribed';
      },
    });
  }

  async releaseRunPlace(runId: string, id: string): Promise<void> {
    await this.releasePlace(runPlacesBlob(runId), id);
  }

  async releaseSourcePlace(scope: string, id: string): Promise<void> {
    await this.releasePlace(sourcePlacesBlob(scope), id);
  }

  /** The same for a source subscription, under MAX_SUBSCRIPTIONS_PER_SOURCE in its scope. */
  async takeSourcePlace(scope: string, id: string, now: Date): Promise<{ taken: true } | { taken: false; count: number }> {
    return this.takePlace(sourcePlacesBlob(scope), id, MAX_SUBSCRIPTIONS_PER_SOURCE, now, {
      held: async () => (await this.listSource(scope)).map((s) => s.id),
      stillHeld: async (other) => (await this.getSource(other)) !== undefined,
    });
  }

  /**
   * One place per id in the blob `name`, at most `max`. A blob not made yet starts with the subscriptions already
   * there (`held`: those made before the places were kept), as old places. When all are taken, places older than
   * PLACE_GRACE_MS whose subscription is gone are given back first.
   */
  private async takePlace(
    name: string,
    id: string,
    max: number,
    now: Date,
    existing: { held: () => Promise<string[]>; stillHeld: (id: string) => Promise<boolean> },
  ): Promise<{ taken: true } | { taken: false; count: number }> {
    const write = (places: Place[], condition: { ifMatch: string } | { ifNoneMatch: '*' }) => this.blobs.writeIf(name, JSON.stringify({ places }), JSON_TYPE, condition);
    for (let tries = 0; tries < PLACE_TRIES; tries++) {
      if (tries > 0) await pause(tries);
      const current = await this.blobs.read(name);
      if (!current) {
        const old = new Date(0).toISOString();
        await write((await existing.held()).map((held) => ({ id: held, at: old })), { ifNoneMatch: '*' });
        continue;
      }
      const places = placesOf(current.content);
      const ifMatch = { ifMatch: current.etag };
      if (places.some((p) => p.id === id)) {
        // Taken again (a subscription renewed after an unsubscribe): its grace starts anew.
        if (await write(places.map((p) => (p.id === id ? { id, at: now.toISOString() } : p)), ifMatch)) return { taken: true };
        continue;
      }
      if (places.length < max) {
        if (await write([...places, { id, at: now.toISOString() }], ifMatch)) return { taken: true };
        continue;
      }
      const old = places.filter((p) => now.getTime() - new Date(p.at).getTime() > PLACE_GRACE_MS);
      const stale = new Set<string>();
      for (const place of old) if (!(await existing.stillHeld(place.id))) stale.add(place.id);
      if (stale.size === 0) return { taken: false, count: places.length };
      await write(
        places.filter((p) => !stale.has(p.id)),
        ifMatch,
      );
    }
    throw new ConflictError('the subscriptions kept changing while this one was counted; try again');
  }

  private async releasePlace(name: string, id: string): Promise<void> {
    for (let tries = 0; tries < PLACE_TRIES; tries++) {
      if (tries > 0) await pause(tries);
      const current = await this.blobs.read(name);
      if (!current) return;
      const places = placesOf(current.content);
      if (!places.some((p) => p.id === id)) return;
      if (await this.blobs.writeIf(name, JSON.stringify({ places: places.filter((p) => p.id !== id) }), JSON_TYPE, { ifMatch: current.etag })) return;
    }
    throw new ConflictError(`subscription ${id}'s place kept changing while it was given back; try again`);
  }

  /** The source subscriptions of one scope (sourceScopeOf): at most a few, each its own blob. */
  async listSource(scope: string): Promise<StoredSourceSubscription[]> {
    const page = await this.blobs.list(`sources/${scope}/`, { limit: 100 });
    const found = await Promise.all(page.items.map(async (item) => this.readSource(item.name)));
    return found.flatMap((sub) => (sub ? [sub] : [])).sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  async getSource(id: string): Promise<StoredSourceSubscription | undefined> {
    return this.readSource(sourceIdBlob(id));
  }

  private async readSource(name: string): Promise<StoredSourceSubscription | undefined> {
    const blob = await this.blobs.get(name);
    if (!blob) return undefined;
    const parsed = storedSourceSubscriptionSchema().safeParse(JSON.parse(blob.toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  }

  /** Writes a source subscription under its id and in its scope's folder; false when one with its id is there. */
  async createSource(sub: StoredSourceSubscription): Promise<boolean> {
    if (!(await this.blobs.writeIf(sourceIdBlob(sub.id), JSON.stringify(sub), JSON_TYPE, { ifNoneMatch: '*' }))) return false;
    await this.blobs.put(sourceScopeBlob(sub), JSON.stringify(sub), JSON_TYPE);
    return true;
  }

  /**
   * Removes a source subscription: its scope's copy first, so no verdict after this finds it, then the one under its
   * id, then its place under the scope's limit.
   */
  async deleteSource(sub: StoredSourceSubscription): Promise<void> {
    await this.blobs.delete(sourceScopeBlob(sub));
    await this.blobs.delete(sourceIdBlob(sub.id));
    await this.releasePlace(sourcePlacesBlob(sourceScopeOf(sub)), sub.id);
  }
}

/** `sources/by-id/<id>.json`: where DELETE on its Location finds it; `sources/<scope>/<id>.json`: where a verdict finds it. */
function sourceIdBlob(id: string): string {
  return `sources/by-id/${id}.json`;
}
function sourceScopeBlob(sub: StoredSourceSubscription): string {
  return `sources/${sourceScopeOf(sub)}/${sub.id}.json`;
}

/** What the delivery orchestration is started with: ids and the snapshot, never the URL. */
export interface DeliveryInput {
  ref: RunRef;
  subscriptionId: string;
  eventId: string;
  snapshot: RunSnapshot;
}

/** Starts a delivery orchestration under its id; true when it started it, false when one with the id was already there. */
export type DeliveryStarter = (instanceId: string, input: DeliveryInput) => Promise<boolean>;

/** How a URL is judged (core/callback-url.ts's checkCallbackUrl with the app's policy). */
export type UrlCheck = (raw: string) => { url: URL } | { problem: string; setting?: string };

export interface SubscribeDeps {
  store: SubscriptionStore;
  checkUrl: UrlCheck;
  /** Shows scheme and host only. */
  display: (url: URL) => string;
  /** Whether a signing secret is configured: without one, only Logic Apps callbacks (which need no signature) are accepted. */
  canSign: boolean;
  now: Date;
  /** The app's public `/api`, for the links in what is sent. */
  apiBase: string | null;
}

/** The URL, checked; a problem is a 400 naming the setting that decides. */
export function checkedUrl(raw: string, checkUrl: UrlCheck): URL {
  const checked = checkUrl(raw);
  if ('problem' in checked) throw new BadRequestError(checked.problem);
  return checked.url;
}

/** The subscription's URL, checked, and whether it is a Logic Apps callback; a 400 naming the setting otherwise. */
export function validateSubscription(request: SubscriptionRequest, deps: Pick<SubscribeDeps, 'checkUrl' | 'canSign' | 'display'>): { url: URL; logicApps: boolean } {
  const url = checkedUrl(request.url, deps.checkUrl);
  const logicApps = isLogicAppsCallback(url);
  if (logicApps && request.events?.includes('started')) {
    throw new BadRequestError(
      `${deps.display(url)} is a Logic Apps or Power Automate callback URL, which may ask for "finished" only, not "started": an HTTP Webhook action resumes its workflow on the first request to its callback URL, so the run's start would end the wait before the verdict; leave "events" out (or ["finished"]), and subscribe another receiver to be told of the start`,
    );
  }
  if (!logicApps && !deps.canSign) {
    throw new BadRequestError(
      `deliveries to ${deps.display(url)} are signed with WEBHOOK_SIGNING_SECRET, which is not set; an operator sets it, or use a Logic Apps callback URL (those need no signature)`,
    );
  }
  return { url, logicApps };
}

/** The events asked for, each once, in the order they happen; `finished` when none is named. */
function eventsOf(events: readonly EventType[] | undefined): EventType[] {
  const asked = events ?? ['finished'];
  return (['started', 'finished'] as const).filter((event) => asked.includes(event));
}

/**
 * Record a subscription to a run. The same URL twice is the same subscription (201 the first time, 200 after);
 * a sixth is a 409. The blob is written before the caller looks at the run's verdict (see deliverIfDecided).
 */
export async function subscribe(runId: string, request: SubscriptionRequest, deps: SubscribeDeps): Promise<{ sub: StoredSubscription; created: boolean }> {
  const { url, logicApps } = validateSubscription(request, deps);
  const href = url.toString();
  const id = subscriptionIdOf(runId, href);
  const existing = await deps.store.get(runId, id);
  if (existing && existing.state !== 'unsubscribed') return { sub: existing, created: false };
  const place = await deps.store.takeRunPlace(runId, id, deps.now);
  if (!place.taken) {
    throw new ConflictError(`run "${runId}" already has ${String(place.count)} subscriptions, the most a run may have (${String(MAX_SUBSCRIPTIONS_PER_RUN)}); delete one first`);
  }
  const sub: StoredSubscription = {
    id,
    runId,
    url: href,
    host: deps.display(url),
    events: eventsOf(request.events),
    format: request.format ?? (logicApps ? 'snapshot' : 'cloudevents'),
    signed: !logicApps,
    createdAt: deps.now.toISOString(),
    ...NOT_YET_DELIVERED,
    apiBase: deps.apiBase,
    started: request.events?.includes('started') ? NOT_YET_DELIVERED : null,
  };
  try {
    if (existing) {
      // Subscribed again after an unsubscribe: a fresh subscription under the same id.
      const renewed = await deps.store.update(runId, id, () => sub);
      await deps.store.rememberUrl(href, runId, id);
      return { sub: renewed ?? sub, created: true };
    }
    if (!(await deps.store.create(sub))) {
      // Another request with the same URL came first: theirs is this one (and the place, the same id's, is theirs).
      const raced = await deps.store.get(runId, id);
      if (raced) return { sub: raced, created: false };
      throw new ConflictError(`subscription ${id} of run "${runId}" was being written by another request; try again`);
    }
  } catch (err) {
    // Nothing was written: the place goes back (a request that dies here leaves it to PLACE_GRACE_MS).
    if (!(err instanceof ConflictError)) await deps.store.releaseRunPlace(runId, id).catch(() => undefined);
    throw err;
  }
  return { sub, created: true };
}

/** Unsubscribe: the URL (the secret) is dropped and no delivery is made after this. The run is never touched. */
export async function unsubscribe(store: SubscriptionStore, runId: string, id: string): Promise<StoredSubscription> {
  const seen: { url: string | null } = { url: null };
  const updated = await store.update(runId, id, (sub) => {
    seen.url = sub.url;
    return sub.state === 'unsubscribed' ? undefined : { ...sub, url: null, state: 'unsubscribed' };
  });
  if (!updated) throw new NotFoundError(`run "${runId}" has no subscription "${id}"`);
  if (seen.url) await store.forgetUrl(seen.url);
  await store.releaseRunPlace(runId, id);
  return updated;
}

/**
 * Start the deliveries of a run's verdict: one orchestration per subscription that wants it and has not had it.
 * Called by the orchestrator's activity at the verdict, and by the subscriptions route for a subscription made once
 * the verdict is (see docs/decisions.md, "Issue 23": the two meet at the same instance id).
 */
export async function startDeliveries(store: SubscriptionStore, ref: RunRef, snapshot: RunSnapshot, start: DeliveryStarter, only?: string): Promise<string[]> {
  if (!isTerminal(snapshot.status)) return [];
  const eventId = eventIdOf(ref.runId, snapshot.status);
  return startEvent(store, ref, snapshot, start, 'finished', eventId, (id) => deliveryInstanceIdOf(ref.runId, snapshot.status, id), only);
}

/**
 * Start the deliveries of a run's start (its Job created in the cluster) to the subscriptions that ask for it: one
 * orchestration per run and subscription, whatever attempt's Job it is, so the submit activity run again (a retried
 * activity, a replay, the next attempt of a run that retries on disruption), the subscriptions route, and the
 * verdict's activity (which starts any that were missed) all meet the same instance and a receiver is told once.
 * The caller has seen the Job made (core/subscriptions.ts jobCreated, or the Job itself); `snapshot` is what is sent.
 */
export async function startStartedDeliveries(store: SubscriptionStore, ref: RunRef, snapshot: RunSnapshot, start: DeliveryStarter, only?: string): Promise<string[]> {
  return startEvent(store, ref, snapshot, start, 'started', startedEventIdOf(ref.runId), (id) => deliveryInstanceIdOf(ref.runId, 'Started', id), only);
}

async function startEvent(
  store: SubscriptionStore,
  ref: RunRef,
  snapshot: RunSnapshot,
  start: DeliveryStarter,
  event: EventType,
  eventId: string,
  instanceIdOf: (subscriptionId: string) => string,
  only: string | undefined,
): Promise<string[]> {
  const subs = (await store.list(ref.runId)).filter((s) => (only === undefined || s.id === only) && s.events.includes(event));
  const started: string[] = [];
  for (const sub of subs) {
    if (hasEnded(sub)) continue;
    const delivery = deliveryOf(sub, event);
    if (delivery.eventId === eventId && (delivery.state === 'delivered' || delivery.state === 'deadLettered')) continue;
    const instanceId = instanceIdOf(sub.id);
    if (await start(instanceId, { ref, subscriptionId: sub.id, eventId, snapshot })) started.push(instanceId);
  }
  return started;
}

/**
 * Record a subscription to a source's runs (or a namespace's), for a caller the route has already let use that
 * source. The same scope, owner and URL again is the same subscription (201 the first time, 200 after); a sixth in
 * one scope is a 409.
 */
export async function subscribeSource(
  where: { cluster: string; namespace: string; source: { kind: 'Job' | 'CronJob'; name: string } | null },
  request: SourceSubscriptionRequest,
  owner: SubscriptionOwner,
  deps: SubscribeDeps,
): Promise<{ sub: StoredSourceSubscription; created: boolean }> {
  const { url, logicApps } = validateSubscription(request, deps);
  const href = url.toString();
  const scope = sourceScopeOf(where);
  const id = sourceSubscriptionIdOf(scope, owner, href);
  const existing = await deps.store.getSource(id);
  if (existing) return { sub: existing, created: false };
  const place = await deps.store.takeSourcePlace(scope, id, deps.now);
  if (!place.taken) {
    const what = where.source ? `${where.source.kind} "${where.source.name}" in namespace "${where.namespace}"` : `namespace "${where.namespace}"`;
    throw new ConflictError(
      `${what} of cluster "${where.cluster}" already has ${String(place.count)} subscriptions, the most one may have (${String(MAX_SUBSCRIPTIONS_PER_SOURCE)}); delete one first (DELETE on its Location)`,
    );
  }
  const sub: StoredSourceSubscription = {
    id,
    ...where,
    url: href,
    host: deps.display(url),
    events: request.events ?? ['finished'],
    format: request.format ?? (logicApps ? 'snapshot' : 'cloudevents'),
    signed: !logicApps,
    owner,
    createdAt: deps.now.toISOString(),
    apiBase: deps.apiBase,
  };
  let created: boolean;
  try {
    created = await deps.store.createSource(sub);
  } catch (err) {
    await deps.store.releaseSourcePlace(scope, id).catch(() => undefined);
    throw err;
  }
  if (!created) {
    const raced = await deps.store.getSource(id);
    if (raced) return { sub: raced, created: false };
    throw new ConflictError(`subscription ${id} was being written by another request; try again`);
  }
  return { sub, created: true };
}

/**
 * At a run's verdict: each source subscription that matches the run (its source's, or its namespace's, and a run
 * its owner may read: `starterOf` says who started it) becomes a subscription of the run with the same URL (the id a run subscription to that URL
 * has, so the run is told once per URL), and its delivery is started as the run's own are. The started instances.
 */
export async function startSourceDeliveries(
  store: SubscriptionStore,
  ref: RunRef,
  snapshot: RunSnapshot,
  starterOf: () => Promise<StartedBy>,
  start: DeliveryStarter,
  now: Date,
): Promise<string[]> {
  if (!isTerminal(snapshot.status)) return [];
  const scopes = [sourceScopeOf({ ...ref, source: null }), sourceScopeOf(ref)];
  const found = (await Promise.all(scopes.map(async (scope) => store.listSource(scope)))).flat();
  // Who started the run is read only when some subscription could be told of it.
  if (found.length === 0) return [];
  const starter = await starterOf();
  const subs = found.filter((sub) => sourceSubscriptionMatches(sub, ref, starter));
  const started: string[] = [];
  for (const source of subs) {
    const id = subscriptionIdOf(ref.runId, source.url);
    await store.createForRun({
      id,
      runId: ref.runId,
      url: source.url,
      host: source.host,
      events: source.events,
      format: source.format,
      signed: source.signed,
      createdAt: now.toISOString(),
      ...NOT_YET_DELIVERED,
      apiBase: source.apiBase,
      started: null,
    });
    started.push(...(await startDeliveries(store, ref, snapshot, start, id)));
  }
  return started;
}

/** What one attempt needs: the subscription's store, a sender, a signer, and what the run's snapshot is sent as. */
export interface AttemptDeps {
  store: SubscriptionStore;
  checkUrl: UrlCheck;
  /** The body for this subscription's format (the event is the attempt's). */
  body: (sub: StoredSubscription) => string;
  /** Standard Webhooks headers for a signed subscription (the same id on every attempt, this attempt's time). */
  sign: (body: string) => Record<string, string>;
  send: (url: URL, body: string, headers: Record<string, string>) => Promise<{ status: number; retryAfter?: Date | undefined } | { error: string; transient: boolean }>;
  outcomeOf: (result: { status: number; retryAfter?: Date | undefined } | { error: string; transient: boolean }) => AttemptOutcome;
  now: () => Date;
  /** Told of each attempt that was made (the telemetry's METRICS.callbackDeliveries), with its subscription. */
  attempted?: (sub: StoredSubscription, outcome: AttemptOutcome) => void;
}

/**
 * One delivery attempt of one event (which one, its id says: core/subscriptions.ts eventTypeOfId). The subscription
 * is read first (an unsubscribe or an earlier delivery of this event ends it without a request), the attempt counted
 * before the request (so a killed worker's attempt is seen), then the request made and its outcome written.
 */
export async function attemptDelivery(runId: string, id: string, eventId: string, deps: AttemptDeps): Promise<AttemptOutcome> {
  const event = eventTypeOfId(eventId);
  const sub = await deps.store.get(runId, id);
  if (!sub || sub.state === 'unsubscribed' || !sub.url) return { kind: 'skipped', why: 'unsubscribed' };
  if (sub.state === 'gone') return { kind: 'skipped', why: 'the receiver answered 410 Gone before' };
  const before = deliveryOf(sub, event);
  if (before.eventId === eventId && before.state === 'delivered') return { kind: 'skipped', why: `event ${eventId} was delivered` };
  const checked = deps.checkUrl(sub.url);
  const counted = await deps.store.update(runId, id, (s) => {
    // An unsubscribe (or a 410) that came since the read stays as it is.
    if (hasEnded(s)) return undefined;
    const d = deliveryOf(s, event);
    return withDelivery(s, event, { ...d, state: 'delivering', attempts: d.attempts + 1, lastAttemptAt: deps.now().toISOString(), eventId });
  });
  if (!counted || hasEnded(counted) || deliveryOf(counted, event).state !== 'delivering') return { kind: 'skipped', why: 'unsubscribed' };
  const url = counted.url;
  if (url === null) return { kind: 'skipped', why: 'unsubscribed' };
  let outcome: AttemptOutcome;
  if ('problem' in checked) {
    outcome = { kind: 'failed', error: checked.problem };
  } else {
    const body = deps.body(counted);
    const headers: Record<string, string> = { 'Content-Type': counted.format === 'cloudevents' ? CLOUDEVENTS_CONTENT_TYPE : 'application/json; charset=utf-8', ...(counted.signed ? deps.sign(body) : {}) };
    try {
      outcome = deps.outcomeOf(await deps.send(checked.url, body, headers));
    } catch (err) {
      outcome = { kind: 'retry', error: boundText(ensureError(err).message, 500) };
    }
  }
  await recordOutcome(deps.store, runId, id, event, outcome, deps.now());
  deps.attempted?.(counted, outcome);
  return outcome;
}

async function recordOutcome(store: SubscriptionStore, runId: string, id: string, event: EventType, outcome: AttemptOutcome, at: Date): Promise<void> {
  await store.update(runId, id, (s) => {
    // An unsubscribe that came during the request stays.
    if (s.state === 'unsubscribed') return undefined;
    const d = deliveryOf(s, event);
    switch (outcome.kind) {
      case 'delivered':
        return withDelivery(s, event, { ...d, state: 'delivered', lastError: null, deliveredAt: at.toISOString() });
      case 'gone': {
        // The receiver asked never to be called again: the whole subscription ends, whichever event was sent.
        const lastError = 'the receiver answered 410 Gone: the subscription ended';
        return { ...withDelivery(s, event, { ...d, state: 'gone', lastError }), url: null, state: 'gone', lastError };
      }
      case 'retry':
      case 'failed':
        return withDelivery(s, event, { ...d, state: 'retrying', lastError: outcome.error });
      default:
        return undefined;
    }
  });
}

/** After the last attempt: the subscription says where the event's dead letter is. */
export async function markDeadLettered(store: SubscriptionStore, runId: string, id: string, location: string, eventId?: string): Promise<StoredSubscription | undefined> {
  const event = eventId === undefined ? 'finished' : eventTypeOfId(eventId);
  return store.update(runId, id, (s) => (s.state === 'unsubscribed' ? undefined : withDelivery(s, event, { ...deliveryOf(s, event), state: 'deadLettered', deadLetter: location })));
}
