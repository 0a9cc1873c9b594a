import { setTimeout as sleep } from 'node:timers/promises';

import type { CoreV1Event, V1CronJob, V1Job, V1Pod } from '@kubernetes/client-node';

import type { BlobStore } from '../clients/blob.js';
import type { ClusterRegistry } from '../clients/clusters.js';
import type { KubeGateway } from '../clients/kube.js';
import { instruments } from '../clients/telemetry.js';
import { type ClusterSettings, type Config, type GracePeriods, namespaceAllowed } from '../config.js';
import {
  type ArchiveIndex,
  type BoundedLog,
  CALLER_UNKNOWN,
  compareRuns,
  cronJobOwner,
  entryFromMarker,
  findLog,
  finishedAt,
  INDEX_BLOB,
  indexBlobName,
  keepEnds,
  listedFailureKind,
  LOG_SCAN_FACTOR,
  logBlobName,
  type LogEntry,
  type LogOmission,
  logTargets,
  markerMetadata,
  mergeRunPage,
  namespaceMarkerName,
  type RunCursor,
  type RunEntry,
  type RunPage,
  runPrefix,
  type RunTrigger,
  sortTimeOf,
  sourceMarkerName,
  sourceOf,
  sourcePrefix,
  tailLines,
  triggerOf,
} from '../core/archive.js';
import { ensureError, KubeApiError, NotFoundError } from '../core/errors.js';
import { classifyFailure, type FailureKind } from '../core/failure.js';
import { CALLER_ANNOTATION, JOB_NAME_POD_LABEL, MANAGED_SELECTOR, NOT_MANAGED_SELECTOR, RUN_ID_LABEL, SOURCE_KIND_LABEL, SOURCE_NAME_LABEL } from '../core/labels.js';
import { isTerminal, type RunSnapshot } from '../core/run.js';
import { mapRunStatus } from '../core/status.js';
import { ATTRIBUTES } from '../core/telemetry-names.js';

/** What the archive of a run records and where it lives; `error` when it could not be written. */
export interface ArchiveOutcome {
  /** The run's index.json as `<container>/<cluster>/<namespace>/<runId>/index.json`; null when nothing could be written. */
  location: string | null;
  error?: string;
}

export interface ArchiveRequest {
  cluster: string;
  namespace: string;
  runId: string;
  /** The Job to archive when it is not the run id's: a retried run's last attempt (core/retry.ts). */
  jobName?: string | undefined;
  verdict: Pick<RunSnapshot, 'status' | 'reason' | 'message'>;
  startTime: string | null;
  completionTime: string | null;
  /** The source the app ran it from, for a Job already gone. */
  source?: { kind: string; name: string };
  /** Who started it, for a Job already gone. */
  trigger?: RunTrigger;
  /** Why it failed, as the run's verdict says; else judged here from what the archive reads (the Job, pods, events). */
  failureKind?: FailureKind | undefined;
  /** The caller tag of who started it (core/run.ts callerTag), for a Job already gone; the Job's own tag wins. */
  caller?: string | undefined;
}

/**
 * How long an archive may read, and how many logs at once. Everything the app runs is one invocation that the
 * host ends at `functionTimeout` (host.json: 10 minutes; on Flex Consumption the default is 30 minutes and there
 * is no maximum, MicrosoftDocs/azure-docs includes/functions-timeout-duration.md), and a timed-out invocation
 * restarts the worker with every other invocation on it. A run with many pods (parallelism, retries, restarts)
 * must not read its logs one by one past that: they are read a few at a time, and what the budget leaves unread
 * is named in the index instead of failing the archive.
 */
export interface ArchiveLimits {
  /** Logs read at once: enough to hide the API server's latency, few enough not to be throttled for it. */
  concurrency: number;
  /** Time for all the reads of one run; the writes after them are small (events, Job, index). */
  budgetMs: number;
}

/** A third of host.json's functionTimeout: room for a retry of the activity within one timeout, and the writes. */
export const ARCHIVE_LIMITS: ArchiveLimits = Object.freeze({ concurrency: 4, budgetMs: 180_000 });

/**
 * The sweep's own timer fires every minute; it starts no new Job's archive after this much of its tick, so a
 * tick ends about when the next is due (plus one run's ARCHIVE_LIMITS.budgetMs at worst, well inside
 * functionTimeout). Jobs not reached are archived by a later tick, oldest first.
 */
export const SWEEP_BUDGET_MS = 40_000;
/** Runs archived at once by the sweep (each reading ARCHIVE_LIMITS.concurrency logs at once). */
export const SWEEP_CONCURRENCY = 2;

/** Run `work` on every item, at most `size` at a time, in order; stops starting new items once one fails. */
export async function pool<T>(items: readonly T[], size: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const index = next++;
      const item = items[index];
      if (item === undefined) continue;
      try {
        await work(item, index);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, size), items.length) }, worker));
}

/** `work`'s value, or null once `ms` have passed (the work is then left to finish or fail unheard). */
async function within<T>(work: Promise<T>, ms: number): Promise<{ value: T } | null> {
  if (ms <= 0) {
    work.catch(() => undefined);
    return null;
  }
  const timer = new AbortController();
  try {
    return await Promise.race([work.then((value) => ({ value })), sleep(ms, null, { signal: timer.signal, ref: false })]);
  } finally {
    timer.abort();
    work.catch(() => undefined);
  }
}

/** A failure to read one part only (a Role without `pods/log`, a container that never started): noted, not thrown. */
function permanent(err: unknown): string | undefined {
  if (err instanceof KubeApiError && !err.transient) return err.message;
  return undefined;
}

async function orNote<T>(read: () => Promise<T>, fallback: T, notes: string[]): Promise<T> {
  try {
    return await read();
  } catch (err) {
    const note = permanent(err);
    if (note === undefined) throw err;
    notes.push(note);
    return fallback;
  }
}

/**
 * One container's log, bounded with both ends kept (core/archive.ts keepEnds). The API server is asked for up to
 * LOG_SCAN_FACTOR times the bound, so a cut can say exactly how much it left out; a longer log's end is read
 * apart, by its last lines (the API server can cut only from the start), and the cut then says "more than".
 */
export async function readBoundedLog(
  gateway: KubeGateway,
  namespace: string,
  pod: string,
  options: { container: string; previous: boolean },
  maxBytes: number,
): Promise<BoundedLog> {
  const scan = maxBytes * LOG_SCAN_FACTOR;
  const start = Buffer.from(await gateway.readPodLog(namespace, pod, { ...options, limitBytes: scan + 1 }), 'utf8');
  if (start.length <= scan) return keepEnds(start, start, maxBytes, true);
  // As many lines as fill half the bound at the read part's average line length; fewer while they come cut.
  const averageLine = Math.max(1, Math.ceil(start.length / Math.max(1, start.filter((b) => b === 0x0a).length)));
  let lines = Math.max(1, Math.ceil(maxBytes / 2 / averageLine));
  let end = Buffer.alloc(0);
  for (let attempt = 0; attempt < 4; attempt++) {
    const limit = maxBytes + 1;
    end = Buffer.from(await gateway.readPodLog(namespace, pod, { ...options, tailLines: lines, limitBytes: limit }), 'utf8');
    if (end.length < limit || lines === 1) break;
    lines = Math.max(1, Math.floor(lines / 4));
  }
  return keepEnds(start, end, maxBytes, false);
}

/** The Job as it was, without what only the API server needs. */
function jobForArchive(job: V1Job): V1Job {
  const copy = structuredClone(job);
  if (copy.metadata) delete copy.metadata.managedFields;
  return copy;
}

/**
 * Copy a run to the archive: every container's log (bounded), the events of the Job and its pods, the final
 * Job object, a source marker for the runs listing, and index.json last, so its presence means "archived".
 * Idempotent: the same run always writes the same blob names. Transient API or storage errors throw (the
 * activity is retried); a part the cluster refuses for good, or a log the time budget leaves unread (`limits`),
 * is noted in the index instead.
 */
export async function archiveRun(
  gateway: KubeGateway,
  store: BlobStore,
  request: ArchiveRequest,
  maxBytes: number,
  now: Date,
  limits: ArchiveLimits = ARCHIVE_LIMITS,
): Promise<ArchiveOutcome> {
  // What the archive costs and how often it fails (METRICS.archiveBytes, archiveFailures): every blob written
  // counts its bytes; an outcome with an error is a partial or failed archive, and so is each failed attempt.
  const attributes = { [ATTRIBUTES.cluster]: request.cluster, [ATTRIBUTES.namespace]: request.namespace };
  let bytes = 0;
  const counted: BlobStore = Object.create(store, {
    put: {
      value: (name: string, content: string | Buffer, ...rest: unknown[]) => {
        bytes += Buffer.byteLength(content);
        return (store.put as (...args: unknown[]) => Promise<unknown>).call(store, name, content, ...rest);
      },
    },
  }) as BlobStore;
  try {
    const outcome = await archiveRunOnce(gateway, counted, request, maxBytes, now, limits);
    if (outcome.error) instruments().archiveFailures.add(1, { ...attributes, [ATTRIBUTES.reason]: outcome.location ? 'partial' : 'failed' });
    return outcome;
  } catch (err) {
    instruments().archiveFailures.add(1, { ...attributes, [ATTRIBUTES.reason]: err instanceof KubeApiError && err.transient ? 'transient' : 'error' });
    throw err;
  } finally {
    if (bytes > 0) instruments().archiveBytes.add(bytes, attributes);
  }
}

async function archiveRunOnce(
  gateway: KubeGateway,
  store: BlobStore,
  request: ArchiveRequest,
  maxBytes: number,
  now: Date,
  limits: ArchiveLimits,
): Promise<ArchiveOutcome> {
  const { cluster, namespace, runId } = request;
  const jobName = request.jobName ?? runId;
  const prefix = runPrefix(cluster, namespace, runId);
  const notes: string[] = [];
  const [job, pods, jobEvents] = await Promise.all([
    gateway.readJob(namespace, jobName),
    orNote(() => gateway.listPods(namespace, `${JOB_NAME_POD_LABEL}=${jobName}`), [] as V1Pod[], notes),
    orNote(() => gateway.listEvents(namespace, jobName), [] as CoreV1Event[], notes),
  ]);
  // The pods' events a few at a time too: a run of many pods must not send them all at once.
  const podEvents: CoreV1Event[][] = [];
  await pool(pods, limits.concurrency, async (pod, i) => {
    podEvents[i] = await orNote(() => gateway.listEvents(namespace, pod.metadata?.name ?? ''), [] as CoreV1Event[], notes);
  });
  const events = [...jobEvents, ...podEvents.flat()];

  const targets = pods.flatMap(logTargets);
  const logs: LogEntry[] = [];
  const deadline = Date.now() + limits.budgetMs;
  const budget = `the archive's time budget (${limits.budgetMs >= 1000 ? `${String(Math.round(limits.budgetMs / 1000))} s` : `${String(limits.budgetMs)} ms`} for all of a run's logs) ran out`;
  let leftOut = 0;
  // Once a read has run out of time, none starts: a timer can fire a millisecond before Date.now() says the
  // deadline has passed, and the slot it frees must not start a read that is out of time already.
  let expired = false;
  await pool(targets, limits.concurrency, async (target, i) => {
    const blob = logBlobName('', target.pod, target.container, target.previous);
    const read = !expired && Date.now() < deadline ? readBoundedLog(gateway, namespace, target.pod, { container: target.container, previous: target.previous }, maxBytes) : null;
    try {
      const text = read ? await within(read, deadline - Date.now()) : null;
      if (!text) {
        expired = true;
        leftOut++;
        logs[i] = { ...target, bytes: 0, truncated: false, error: `left out: ${budget} ${read ? 'while it was being read' : 'before it was read'}` };
        return;
      }
      const { content, truncated, omitted } = text.value;
      await store.put(`${prefix}${blob}`, content, 'text/plain; charset=utf-8');
      logs[i] = { ...target, blob, bytes: content.length, truncated, ...(omitted ? { omitted } : {}) };
    } catch (err) {
      const note = permanent(err);
      if (note === undefined) throw err;
      logs[i] = { ...target, bytes: 0, truncated: false, error: note };
    }
  });

  await store.put(`${prefix}events.json`, JSON.stringify(events, null, 1), 'application/json');
  if (job) await store.put(`${prefix}job.json`, JSON.stringify(jobForArchive(job), null, 1), 'application/json');

  const source = (job ? sourceOf(job) : null) ?? request.source ?? null;
  const trigger = job ? triggerOf(job) : (request.trigger ?? 'http');
  const startTime = (job?.status?.startTime ? new Date(job.status.startTime).toISOString() : null) ?? request.startTime;
  // A failed Job has no completionTime: its Failed condition's time then says when it ended.
  const completionTime = (job?.status?.completionTime ? new Date(job.status.completionTime).toISOString() : null) ?? request.completionTime ?? finishedAt(job);
  // A run's Job gone before the archive read it leaves its caller unknown: only admins list such a run.
  // Unless the run's record said who it was (orchestration 3.1 on).
  const caller = job ? (job.metadata?.annotations?.[CALLER_ANNOTATION] ?? null) : trigger === 'http' ? (request.caller ?? CALLER_UNKNOWN) : null;
  // The verdict's own failure kind when the run's record gives it; else the same classification the observe makes,
  // from what was read here (a pod deleted before the archive leaves the verdict's reason to judge by).
  const failureKind = request.failureKind ?? classifyFailure({ verdict: request.verdict, job, pods, events, now })?.kind;
  const index: ArchiveIndex = {
    version: 1,
    cluster,
    namespace,
    runId,
    ...(jobName === runId ? {} : { jobName }),
    source,
    trigger,
    caller,
    ...(failureKind ? { failureKind } : {}),
    verdict: request.verdict,
    startTime,
    completionTime,
    archivedAt: now.toISOString(),
    maxBytesPerContainer: maxBytes,
    logs,
    ...(leftOut > 0 ? { leftOut: { logs: leftOut, of: targets.length, reason: budget } } : {}),
    events: { blob: 'events.json', count: events.length, ...(notes.length > 0 ? { error: [...new Set(notes)].join('; ') } : {}) },
    job: job ? { blob: 'job.json' } : null,
    pods: pods.map((p) => p.metadata?.name ?? ''),
  };
  // The markers the runs listings read: the source's (a CronJob's runs) and the namespace's (every run), written
  // before index.json, so a run that is listed is archived or about to be (a replay rewrites the same names).
  const sortTime = sortTimeOf(job, startTime ? new Date(startTime) : now);
  const metadata = markerMetadata({
    runId,
    status: request.verdict.status,
    reason: request.verdict.reason,
    startTime,
    completionTime,
    trigger,
    caller,
    source,
    failureKind: failureKind ?? null,
  });
  if (source) await store.put(sourceMarkerName(cluster, namespace, source.kind, source.name, sortTime, runId), '', 'application/octet-stream', metadata);
  await store.put(namespaceMarkerName(cluster, namespace, sortTime, runId), '', 'application/octet-stream', metadata);
  const indexName = `${prefix}${INDEX_BLOB}`;
  await store.put(indexName, JSON.stringify(index, null, 1), 'application/json');
  return { location: store.path(indexName) };
}

const NO_GRACE: GracePeriods = { imagePullSeconds: 0, containerConfigSeconds: 0, unschedulableSeconds: 0, quotaSeconds: 0 };

/** A Job's verdict from the Job alone (conditions, counts): enough for a listing or a finished Job. */
function jobVerdict(job: V1Job, cluster: string, namespace: string, now: Date): RunSnapshot {
  const name = job.metadata?.name ?? '';
  const source = sourceOf(job);
  const ref = { runId: name, cluster, namespace, source: { kind: source?.kind === 'Job' ? ('Job' as const) : ('CronJob' as const), name: source?.name ?? '' } };
  return mapRunStatus(ref, { job, pods: [], events: [], now }, NO_GRACE, null);
}

function finished(job: V1Job): boolean {
  return (job.status?.conditions ?? []).some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
}

export async function allJobs(gateway: KubeGateway, namespace: string, labelSelector?: string, maxPages = Number.POSITIVE_INFINITY): Promise<V1Job[]> {
  const jobs: V1Job[] = [];
  let continueToken: string | undefined;
  let pages = 0;
  do {
    const page = await gateway.listJobs(namespace, { labelSelector, limit: 500, continueToken });
    jobs.push(...page.items);
    continueToken = page.continueToken;
  } while (continueToken && ++pages < maxPages);
  return jobs;
}

export interface ArchiveSweep {
  archived: string[];
  failed: { runId: string; error: string }[];
  /** Finished Jobs not archived yet that the tick's time budget left to a later tick. */
  deferred: string[];
}

/**
 * The finished Jobs this worker knows are archived, by Job uid per (cluster, namespace): a tick asks the blob
 * store only about Jobs it has not seen archived, so the store is not asked about every finished Job of every
 * CronJob every minute. Each set holds only Jobs the last sweep still listed, so it stays as small as the
 * history limits keep the namespace. Per worker, like the namespace lists: another worker asks the store.
 */
export class ArchivedJobs {
  private readonly known = new Map<string, Set<string>>();

  /** The uids known archived in a namespace, to be replaced by `keep` after the sweep. */
  of(cluster: string, namespace: string): ReadonlySet<string> {
    return this.known.get(`${cluster}/${namespace}`) ?? new Set();
  }

  keep(cluster: string, namespace: string, uids: Set<string>): void {
    this.known.set(`${cluster}/${namespace}`, uids);
  }
}

const ARCHIVED_JOBS = new ArchivedJobs();

/**
 * For the archive sweep: archive the finished Jobs that CronJobs' controller made in a namespace (the app's own
 * runs are archived by their orchestration), before the history limits delete them, oldest first (the
 * controller prunes the oldest first). A Job counts as done once its index.json exists, so each is archived
 * once; one Job that fails does not hold the others back. No Job's archive starts at or after `deadline` (ms
 * since the epoch): those are `deferred` to the next tick.
 */
export async function archiveFinishedJobs(
  gateway: KubeGateway,
  store: BlobStore,
  cluster: string,
  namespace: string,
  maxBytes: number,
  now: Date,
  archivedJobs: ArchivedJobs = ARCHIVED_JOBS,
  deadline = Number.POSITIVE_INFINITY,
): Promise<ArchiveSweep> {
  const sweep: ArchiveSweep = { archived: [], failed: [], deferred: [] };
  const candidates = (await allJobs(gateway, namespace, NOT_MANAGED_SELECTOR))
    .filter((job) => cronJobOwner(job) && finished(job))
    .sort((a, b) => sortTimeOf(a, now).getTime() - sortTimeOf(b, now).getTime());
  const known = archivedJobs.of(cluster, namespace);
  const archived = new Set<string>();
  for (const job of candidates) {
    const runId = job.metadata?.name ?? '';
    const uid = job.metadata?.uid ?? runId;
    if (known.has(uid)) {
      archived.add(uid);
      continue;
    }
    if (Date.now() >= deadline) {
      sweep.deferred.push(runId);
      continue;
    }
    try {
      if (await store.exists(indexBlobName(cluster, namespace, runId))) {
        archived.add(uid);
        continue;
      }
      const verdict = jobVerdict(job, cluster, namespace, now);
      await archiveRun(gateway, store, { cluster, namespace, runId, verdict, startTime: verdict.startTime, completionTime: verdict.completionTime }, maxBytes, now);
      archived.add(uid);
      sweep.archived.push(runId);
    } catch (err) {
      sweep.failed.push({ runId, error: ensureError(err).message });
    }
  }
  archivedJobs.keep(cluster, namespace, archived);
  return sweep;
}

export interface ArchiveSweepReport {
  archived: string[];
  /** One line per Job, namespace or cluster that could not be handled this time (tried again next tick). */
  errors: string[];
  /** Finished Jobs (`cluster/namespace/job`) left to the next tick by the time budget. */
  deferred: string[];
}

export interface SweepLimits {
  /** No Job's archive starts after this much of the tick. */
  budgetMs: number;
  /** Namespaces swept at once. */
  concurrency: number;
}

/** Ticks so far in this process, to start each tick at another namespace (see sweepArchive). */
let sweeps = 0;

async function allCronJobs(gateway: KubeGateway): Promise<V1CronJob[]> {
  const items: V1CronJob[] = [];
  let continueToken: string | undefined;
  do {
    const page = await gateway.listCronJobsInAllNamespaces({ limit: 500, continueToken });
    items.push(...page.items);
    continueToken = page.continueToken;
  } while (continueToken);
  return items;
}

/**
 * The namespaces of a cluster to sweep: the allowed ones it lists and, where it allows `*`, every allowed
 * namespace that holds a CronJob (one list across all namespaces, which the app's ClusterRole grants there; the
 * app may not list namespaces, and only a CronJob's namespace can hold its Jobs).
 */
async function namespacesToSweep(cluster: ClusterSettings, gateway: KubeGateway): Promise<string[]> {
  const listed = cluster.namespaces.filter((n) => n !== '*');
  if (!cluster.namespaces.includes('*')) return listed;
  const found = (await allCronJobs(gateway)).map((c) => c.metadata?.namespace ?? '').filter((n) => n !== '' && namespaceAllowed(cluster, n));
  return [...new Set([...listed, ...found])].sort();
}

/**
 * The archive sweep's timer, every minute: archiveFinishedJobs in every allowed namespace of every configured
 * cluster (`*` included: see namespacesToSweep), a few namespaces at once, within a time budget per tick so a
 * backlog (a first start, an outage of the blob store) is worked off over several ticks instead of one
 * invocation that outlives functionTimeout. Each tick starts at another namespace, so a namespace late in the
 * order is not always the one the budget leaves out. One failing cluster or namespace does not hold the others back.
 */
export async function sweepArchive(
  deps: { config: Pick<Config, 'clusters' | 'logs'>; clusters: Pick<ClusterRegistry, 'gateway'>; logs: BlobStore | null },
  now: Date,
  limits: SweepLimits = { budgetMs: SWEEP_BUDGET_MS, concurrency: SWEEP_CONCURRENCY },
): Promise<ArchiveSweepReport> {
  const report: ArchiveSweepReport = { archived: [], errors: [], deferred: [] };
  const { logs } = deps;
  if (!logs) return report;
  const deadline = Date.now() + limits.budgetMs;
  const targets: { alias: string; gateway: KubeGateway; namespace: string }[] = [];
  for (const cluster of deps.config.clusters) {
    try {
      const gateway = deps.clusters.gateway(cluster.alias);
      for (const namespace of await namespacesToSweep(cluster, gateway)) targets.push({ alias: cluster.alias, gateway, namespace });
    } catch (err) {
      report.errors.push(`${cluster.alias}: ${ensureError(err).message}`);
    }
  }
  const offset = targets.length > 0 ? sweeps++ % targets.length : 0;
  const ordered = [...targets.slice(offset), ...targets.slice(0, offset)];
  await pool(ordered, limits.concurrency, async ({ alias, gateway, namespace }) => {
    try {
      const sweep = await archiveFinishedJobs(gateway, logs, alias, namespace, deps.config.logs.maxBytesPerContainer, now, ARCHIVED_JOBS, deadline);
      report.archived.push(...sweep.archived.map((runId) => `${alias}/${namespace}/${runId}`));
      report.errors.push(...sweep.failed.map((f) => `${alias}/${namespace}/${f.runId}: ${f.error}`));
      report.deferred.push(...sweep.deferred.map((runId) => `${alias}/${namespace}/${runId}`));
    } catch (err) {
      report.errors.push(`${alias}/${namespace}: ${ensureError(err).message}`);
    }
  });
  return report;
}

// ---- Reading back ----

export interface RunLogRequest {
  cluster: string;
  namespace: string;
  runId: string;
  container?: string | undefined;
  pod?: string | undefined;
  previous: boolean;
  tailLines?: number | undefined;
  /** Most bytes of a live log read (the archive's are bounded when written). */
  maxBytes: number;
  /**
   * The run is the app's: when no pod has the run id's Job, its pods of a later attempt (a retry on disruption,
   * core/retry.ts, whose Job is `<runId>-<n>`) are read, by the run id label every pod of the run carries.
   */
  appRun?: boolean | undefined;
}

export interface RunLog {
  text: string;
  from: 'live' | 'archive';
  pod: string;
  container: string;
  truncated: boolean;
  /** What the cut left out between the head and the tail it kept (after the head, for `kept: 'head'`). */
  omitted?: LogOmission | undefined;
  /** What a cut kept: both ends (the default), or only the head of the last lines asked for with tailLines. */
  kept?: 'head-and-tail' | 'head';
}

function newestFirst(pods: V1Pod[]): V1Pod[] {
  return [...pods].sort((a, b) => new Date(b.metadata?.creationTimestamp ?? 0).getTime() - new Date(a.metadata?.creationTimestamp ?? 0).getTime());
}

/** The index of an archived run, or null when the run was never archived. */
export async function readIndex(store: BlobStore, cluster: string, namespace: string, runId: string): Promise<ArchiveIndex | null> {
  const raw = await store.get(indexBlobName(cluster, namespace, runId));
  return raw ? (JSON.parse(raw.toString('utf8')) as ArchiveIndex) : null;
}

/**
 * A run's log: from its live pod (the newest, unless one is named) while it has one, else from the archive.
 * A 404 says which of the two was looked at and why neither had it.
 */
export async function readRunLog(gateway: KubeGateway, store: BlobStore | null, request: RunLogRequest): Promise<RunLog> {
  const { cluster, namespace, runId, previous } = request;
  let pods = newestFirst(await gateway.listPods(namespace, `${JOB_NAME_POD_LABEL}=${runId}`));
  if (pods.length === 0 && request.appRun) pods = newestFirst(await gateway.listPods(namespace, `${MANAGED_SELECTOR},${RUN_ID_LABEL}=${runId}`));
  const pod = request.pod === undefined ? pods[0] : pods.find((p) => p.metadata?.name === request.pod);
  let liveProblem: string;
  if (pod) {
    const podName = pod.metadata?.name ?? '';
    const container = request.container ?? pod.spec?.containers[0]?.name ?? '';
    const known = logTargets(pod).some((t) => t.container === container);
    if (!known) {
      throw new NotFoundError(`pod ${podName} of run "${runId}" has no container "${container}"; its containers: ${logTargets(pod).filter((t) => !t.previous).map((t) => t.container).join(', ')}`);
    }
    try {
      // Bounded like the archive, so one huge live log cannot exhaust the function's memory: both ends kept, or
      // the last lines asked for (the API server cuts those from their start).
      if (request.tailLines === undefined) {
        const { content, truncated, omitted } = await readBoundedLog(gateway, namespace, podName, { container, previous }, request.maxBytes);
        return { text: content.toString('utf8'), from: 'live', pod: podName, container, truncated, omitted };
      }
      const raw = await gateway.readPodLog(namespace, podName, { container, previous, tailLines: request.tailLines, limitBytes: request.maxBytes + 1 });
      const bytes = Buffer.from(raw, 'utf8');
      if (bytes.length <= request.maxBytes) return { text: raw, from: 'live', pod: podName, container, truncated: false };
      let cut = request.maxBytes;
      while (cut > 0 && ((bytes[cut] ?? 0) & 0xc0) === 0x80) cut--;
      const rest = bytes.subarray(cut);
      const omitted = { bytes: rest.length, lines: rest.filter((b) => b === 0x0a).length, atLeast: true };
      return { text: bytes.subarray(0, cut).toString('utf8'), from: 'live', pod: podName, container, truncated: true, omitted, kept: 'head' };
    } catch (err) {
      // A container that has not started, or no previous instance: the archive may still have it.
      if (!(err instanceof KubeApiError) || err.transient || (err.code !== 400 && err.code !== 404)) throw err;
      liveProblem = `its live pod ${podName} has no such log (${err.message})`;
    }
  } else {
    liveProblem = request.pod === undefined ? `it has no pods in namespace "${namespace}" of cluster "${cluster}" (not yet, or not any more)` : `it has no live pod "${request.pod}"`;
  }
  if (!store) throw new NotFoundError(`no log of run "${runId}": ${liveProblem}, and no logs archive is configured (LOGS_ACCOUNT_URL or LOGS_CONNECTION_STRING)`);
  const index = await readIndex(store, cluster, namespace, runId);
  if (!index) throw new NotFoundError(`no log of run "${runId}": ${liveProblem}, and the archive has nothing under ${runPrefix(cluster, namespace, runId)}`);
  const entry = findLog(index, request.container, previous, request.pod);
  if (!entry) {
    const have = index.logs.map((l) => `${l.pod}/${l.container}${l.previous ? ' (previous)' : ''}`).join(', ') || 'none';
    throw new NotFoundError(`no log of run "${runId}" for ${request.container ? `container "${request.container}"` : 'its first container'}${previous ? ' (previous instance)' : ''}: ${liveProblem}, and the archive holds: ${have}`);
  }
  if (!entry.blob) throw new NotFoundError(`the log of ${entry.pod}/${entry.container} of run "${runId}" could not be archived: ${entry.error ?? 'no reason recorded'}`);
  const content = await store.get(`${runPrefix(cluster, namespace, runId)}${entry.blob}`);
  if (!content) throw new NotFoundError(`the archive of run "${runId}" lists ${entry.blob} but it is gone (expired by the retention policy?)`);
  const text = content.toString('utf8');
  return {
    text: request.tailLines === undefined ? text : tailLines(text, request.tailLines),
    from: 'archive',
    pod: entry.pod,
    container: entry.container,
    truncated: entry.truncated,
    omitted: entry.omitted,
  };
}

/** A live Job as a listed run: its verdict from the Job alone (no pods are read for a listing). */
export function liveEntry(job: V1Job, cluster: string, namespace: string, now: Date): RunEntry {
  const verdict = jobVerdict(job, cluster, namespace, now);
  return {
    runId: verdict.runId,
    status: verdict.status,
    reason: verdict.reason,
    startTime: verdict.startTime,
    completionTime: verdict.completionTime ?? (isTerminal(verdict.status) ? finishedAt(job) : null),
    trigger: triggerOf(job),
    caller: job.metadata?.annotations?.[CALLER_ANNOTATION] ?? null,
    source: sourceOf(job),
    failureKind: listedFailureKind(verdict, job, now),
    live: true,
    archived: false,
    sortTime: sortTimeOf(job, now).getTime(),
  };
}

/**
 * A CronJob's runs, newest first, a page at a time: its live Jobs (the controller's, by their ownerReference,
 * and the app's, by their source labels) merged with archived runs whose Jobs are gone.
 */
export async function listCronJobRuns(
  gateway: KubeGateway,
  store: BlobStore | null,
  target: { cluster: string; namespace: string; name: string },
  cursor: RunCursor | null,
  limit: number,
  now: Date,
): Promise<RunPage> {
  const { cluster, namespace, name } = target;
  const jobs = (await allJobs(gateway, namespace)).filter((job) => {
    const labels = job.metadata?.labels ?? {};
    return cronJobOwner(job)?.name === name || (labels[SOURCE_KIND_LABEL] === 'CronJob' && labels[SOURCE_NAME_LABEL] === name);
  });
  const live = jobs.map((job) => liveEntry(job, cluster, namespace, now));

  const archived: { entry: RunEntry; marker: string | null }[] = [];
  let exhausted = store === null;
  let marker = cursor?.marker ?? null;
  if (store) {
    let wanted = limit;
    for (;;) {
      const page = await store.list(sourcePrefix(cluster, namespace, 'CronJob', name), { limit: Math.max(limit, 100), continueToken: marker ?? undefined });
      for (const blob of page.items) {
        const entry = entryFromMarker(blob.name, blob.metadata);
        if (!entry) continue;
        archived.push({ entry, marker });
        if (!cursor || compareRuns(entry, cursor) > 0) wanted--;
      }
      if (!page.continueToken) {
        exhausted = true;
        break;
      }
      marker = page.continueToken;
      if (wanted <= 0) break;
    }
  }
  return mergeRunPage(live, { entries: archived, exhausted, next: exhausted ? null : marker }, cursor, limit);
}
