import type { CoreV1Event, V1Job, V1Pod } from '@kubernetes/client-node';

import { CredentialError } from '../clients/credentials.js';
import type { KubeGateway, ListOptions, Page } from '../clients/kube.js';
import { KubeApiError } from '../core/errors.js';
import { JOB_NAME_POD_LABEL, MANAGED_SELECTOR, RUN_ID_LABEL } from '../core/labels.js';
import { eventsMatter, jobDecided, waitingPods } from '../core/observation.js';
import { refusal } from './failures.js';

/** What one look at a run reads: its Job, its pods, the events that can explain it, and what was refused. */
export interface RunReads {
  job: V1Job | null;
  pods: V1Pod[];
  events: CoreV1Event[];
  /** Lists the cluster refused for good (pods, events): the run is judged without them. */
  missing: string[];
}

/** The API server asked to slow down (429, or 503 with Retry-After): no call to this namespace before `until`. */
export class ThrottledError extends Error {
  override name = 'ThrottledError';
  constructor(
    readonly until: Date,
    readonly code: number,
    who = 'the API server',
  ) {
    super(`${who} asked the app to slow down (HTTP ${code}) until ${until.toISOString()}`);
  }
}

export interface BatchSettings {
  /** How long a look waits for others to join before the lists go out. */
  gatherMs: number;
  /** A list that started this recently answers a later look of a run it covers. */
  freshMs: number;
  /** A run not looked at for this long is left out of the namespace's lists. */
  forgetMs: number;
  /** Items per page of a list. */
  pageSize: number;
  /** Run ids per label selector, which keeps a request's URL small. */
  idsPerList: number;
  /** Up to this many objects' events are read by name; more, and the namespace's events are listed once. */
  eventNamesByName: number;
}

/** Back-off when the API server throttles without saying how long. */
export const DEFAULT_THROTTLE_MS = 1_000;

export const BATCH: BatchSettings = {
  gatherMs: 250,
  freshMs: 2_000,
  forgetMs: 180_000,
  pageSize: 500,
  idsPerList: 250,
  eventNamesByName: 8,
};

/** Throttling: by the API server a 429 always and a 503 when it says for how long; by ARM when it said how long. */
export function throttleOf(err: unknown, now: number, defaultThrottleMs = DEFAULT_THROTTLE_MS): ThrottledError | undefined {
  if (err instanceof ThrottledError) return err;
  if (err instanceof CredentialError && err.retryAfterMs !== undefined) {
    return new ThrottledError(new Date(now + err.retryAfterMs), 429, 'Azure Resource Manager (listClusterUserCredentials)');
  }
  if (!(err instanceof KubeApiError)) return undefined;
  if (err.code === 429 || (err.code === 503 && err.retryAfterMs !== undefined)) {
    return new ThrottledError(new Date(now + (err.retryAfterMs ?? defaultThrottleMs)), err.code);
  }
  return undefined;
}

async function allPages<T>(list: (options: ListOptions) => Promise<Page<T>>, options: ListOptions): Promise<T[]> {
  const items: T[] = [];
  let continueToken: string | undefined;
  do {
    const page = await list({ ...options, continueToken });
    items.push(...page.items);
    continueToken = page.continueToken;
  } while (continueToken);
  return items;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** A list that only refines the verdict: refused for good, the runs are judged without it (as the per-run reads do). */
async function refining<T>(what: string, read: () => Promise<T>, empty: T): Promise<{ value: T; missing: string | undefined }> {
  try {
    return { value: await read(), missing: undefined };
  } catch (err) {
    const refused = refusal(err);
    if (!refused) throw err;
    return { value: empty, missing: `${what}: ${refused.message}` };
  }
}

interface Window {
  startedAt: number;
  ids: ReadonlySet<string>;
  result: Promise<Map<string, RunReads>>;
}

/**
 * The observes of one (cluster, namespace) in this worker. A look joins the lists being gathered; a list
 * covers every run looked at lately (its timers are aligned, so the others come in the same window), so one
 * list of Jobs and one of their pods answer all of them. Only the app's own labels are selected, and only
 * runs still watched: finished Jobs of the app pile up in a namespace, but are never listed again.
 */
/** Whether a (cluster, namespace) may be called now: shared by the batched and the per-run observes. */
export class NamespaceThrottle {
  private until = 0;
  private last: ThrottledError | undefined;

  constructor(
    private readonly defaultThrottleMs: number = DEFAULT_THROTTLE_MS,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Throws ThrottledError while the last Retry-After lasts, before any call. */
  check(): void {
    if (this.last && this.clock() < this.until) throw this.last;
  }

  /** Records a throttling answer; returns it as ThrottledError (undefined for any other failure). */
  note(err: unknown): ThrottledError | undefined {
    const throttled = throttleOf(err, this.clock(), this.defaultThrottleMs);
    if (throttled && throttled.until.getTime() > this.until) {
      this.until = throttled.until.getTime();
      this.last = throttled;
    }
    return throttled;
  }

  /**
   * `call`, unless the namespace is throttled: its answer, or the ThrottledError of a throttling answer (noted
   * for the namespace, so no call goes to it before its Retry-After). Any other failure throws.
   */
  async unlessThrottled<T>(call: () => Promise<T>): Promise<T | ThrottledError> {
    try {
      this.check();
      return await call();
    } catch (err) {
      const throttled = this.note(err);
      if (throttled) return throttled;
      throw err;
    }
  }
}

export class NamespaceObserver {
  /** By Job name (a run's current attempt, core/retry.ts): its run id and when it was last looked at. */
  private readonly active = new Map<string, { runId: string; seen: number }>();
  private gathering: { ids: Set<string>; result: Promise<Map<string, RunReads>> } | undefined;
  private window: Window | undefined;

  constructor(
    private readonly gateway: KubeGateway,
    private readonly namespace: string,
    private readonly settings: BatchSettings,
    private readonly throttle: NamespaceThrottle,
    private readonly clock: () => number = Date.now,
  ) {}

  /** The reads of a run's Job: the run id's, or (a retry) its current attempt's, `jobName`. */
  async look(runId: string, jobName: string = runId): Promise<RunReads> {
    this.throttle.check();
    const now = this.clock();
    this.active.set(jobName, { runId, seen: now });
    const window = this.window;
    let result: Promise<Map<string, RunReads>>;
    if (window && now - window.startedAt <= this.settings.freshMs && window.ids.has(jobName)) {
      result = window.result;
    } else {
      this.gathering ??= this.gather();
      this.gathering.ids.add(jobName);
      result = this.gathering.result;
    }
    const reads = (await result).get(jobName);
    if (!reads) throw new Error(`run ${runId} (Job ${jobName}) was not in its namespace's lists`);
    // A Job with its verdict, or gone, is not listed for others; a settle re-read adds it again.
    if (reads.job === null || jobDecided(reads.job)) this.active.delete(jobName);
    return structuredClone(reads);
  }

  private gather(): { ids: Set<string>; result: Promise<Map<string, RunReads>> } {
    const ids = new Set<string>();
    const result = new Promise<void>((resolve) => setTimeout(resolve, this.settings.gatherMs)).then(() => {
      this.gathering = undefined;
      const now = this.clock();
      const runIds = new Set<string>();
      for (const [name, { runId, seen }] of this.active) {
        if (now - seen > this.settings.forgetMs) {
          this.active.delete(name);
          continue;
        }
        ids.add(name);
        runIds.add(runId);
      }
      const listed = this.list([...runIds].sort(), [...ids].sort());
      const window = { startedAt: now, ids, result: listed };
      this.window = window;
      // A failed list answers only the looks that waited for it: the next look lists again.
      listed.catch(() => {
        if (this.window === window) this.window = undefined;
      });
      return listed;
    });
    // Each look awaits the result; this keeps an unawaited rejection from being reported as unhandled.
    result.catch(() => undefined);
    return { ids, result };
  }

  private async list(runIds: string[], jobNames: string[]): Promise<Map<string, RunReads>> {
    const listed = await this.throttle.unlessThrottled(() => this.listAll(runIds, jobNames));
    if (listed instanceof ThrottledError) throw listed;
    return listed;
  }

  /**
   * The Jobs of the runs (by run id: every attempt's Job carries it) and the pods of their current Jobs (by Job
   * name), answered per Job name. A run's first Job is named by its run id, so without retries both are the same.
   */
  private async listAll(runIds: string[], ids: string[]): Promise<Map<string, RunReads>> {
    const { gateway, namespace, settings } = this;
    const groups = chunks(ids, settings.idsPerList);
    const pageSize = settings.pageSize;
    const [jobs, pods] = await Promise.all([
      Promise.all(
        chunks(runIds, settings.idsPerList).map((group) =>
          allPages((o) => gateway.listJobs(namespace, o), { labelSelector: `${MANAGED_SELECTOR},${RUN_ID_LABEL} in (${group.join(',')})`, limit: pageSize }),
        ),
      ),
      refining(
        'pods',
        () => Promise.all(groups.map((group) => allPages((o) => gateway.listPodsPage(namespace, o), { labelSelector: `${JOB_NAME_POD_LABEL} in (${group.join(',')})`, limit: pageSize }))),
        [],
      ),
    ]);
    const jobByName = new Map(jobs.flat().map((job) => [job.metadata?.name ?? '', job]));
    const podsByJob = new Map<string, V1Pod[]>();
    for (const pod of pods.value.flat()) {
      const job = pod.metadata?.labels?.[JOB_NAME_POD_LABEL] ?? '';
      podsByJob.set(job, [...(podsByJob.get(job) ?? []), pod]);
    }

    const reads = new Map<string, RunReads>();
    for (const id of ids) {
      reads.set(id, { job: jobByName.get(id) ?? null, pods: podsByJob.get(id) ?? [], events: [], missing: pods.missing ? [pods.missing] : [] });
    }
    // Events only where they can change a verdict: once per window, by name when few objects need them.
    const needy = [...reads].filter(([, r]) => eventsMatter(r.job, r.pods));
    const names = [...new Set(needy.flatMap(([id, r]) => [id, ...waitingPods(r.pods).map((p) => p.metadata?.name ?? '')]))];
    if (names.length === 0) return reads;
    const events = await refining('events', () => this.eventsByName(names), new Map<string, CoreV1Event[]>());
    for (const [id, r] of needy) {
      // The order of the per-run reads: the Job's events, then each waiting pod's.
      r.events = [id, ...waitingPods(r.pods).map((p) => p.metadata?.name ?? '')].flatMap((name) => events.value.get(name) ?? []);
      if (events.missing) r.missing.push(events.missing);
    }
    return reads;
  }

  private async eventsByName(names: string[]): Promise<Map<string, CoreV1Event[]>> {
    const { gateway, namespace } = this;
    if (names.length <= this.settings.eventNamesByName) {
      return new Map(await Promise.all(names.map(async (name) => [name, await gateway.listEvents(namespace, name)] as const)));
    }
    const byName = new Map<string, CoreV1Event[]>();
    for (const event of await allPages((o) => gateway.listNamespaceEvents(namespace, o), { limit: this.settings.pageSize })) {
      const name = event.involvedObject.name ?? '';
      byName.set(name, [...(byName.get(name) ?? []), event]);
    }
    return byName;
  }
}

interface PerGateway {
  throttles: Map<string, NamespaceThrottle>;
  observers: Map<BatchSettings, Map<string, NamespaceObserver>>;
}
const perGateway = new WeakMap<KubeGateway, PerGateway>();

function of(gateway: KubeGateway): PerGateway {
  let entry = perGateway.get(gateway);
  if (!entry) {
    entry = { throttles: new Map(), observers: new Map() };
    perGateway.set(gateway, entry);
  }
  return entry;
}

/** The worker's throttle of a namespace behind a gateway (one gateway per cluster). */
export function namespaceThrottle(gateway: KubeGateway, namespace: string): NamespaceThrottle {
  const { throttles } = of(gateway);
  let throttle = throttles.get(namespace);
  if (!throttle) {
    throttle = new NamespaceThrottle();
    throttles.set(namespace, throttle);
  }
  return throttle;
}

/** The worker's observer of a namespace behind a gateway. */
export function namespaceObserver(gateway: KubeGateway, namespace: string, settings: BatchSettings = BATCH): NamespaceObserver {
  const { observers } = of(gateway);
  let byNamespace = observers.get(settings);
  if (!byNamespace) {
    byNamespace = new Map();
    observers.set(settings, byNamespace);
  }
  let observer = byNamespace.get(namespace);
  if (!observer) {
    observer = new NamespaceObserver(gateway, namespace, settings, namespaceThrottle(gateway, namespace));
    byNamespace.set(namespace, observer);
  }
  return observer;
}
