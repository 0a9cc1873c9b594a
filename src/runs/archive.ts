import type { CoreV1Event, V1Job, V1Pod } from '@kubernetes/client-node';

import type { BlobStore } from '../clients/blob.js';
import type { ClusterRegistry } from '../clients/clusters.js';
import type { KubeGateway } from '../clients/kube.js';
import type { Config, GracePeriods } from '../config.js';
import {
  type ArchiveIndex,
  boundLog,
  CALLER_UNKNOWN,
  compareRuns,
  cronJobOwner,
  entryFromMarker,
  findLog,
  INDEX_BLOB,
  indexBlobName,
  logBlobName,
  type LogEntry,
  logTargets,
  markerMetadata,
  mergeRunPage,
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
import { CALLER_ANNOTATION, JOB_NAME_POD_LABEL, NOT_MANAGED_SELECTOR, SOURCE_KIND_LABEL, SOURCE_NAME_LABEL } from '../core/labels.js';
import type { RunSnapshot } from '../core/run.js';
import { mapRunStatus } from '../core/status.js';

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
  verdict: Pick<RunSnapshot, 'status' | 'reason' | 'message'>;
  startTime: string | null;
  completionTime: string | null;
  /** The source the app ran it from, for a Job already gone. */
  source?: { kind: string; name: string };
  /** Who started it, for a Job already gone. */
  trigger?: RunTrigger;
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
 * activity is retried); a part the cluster refuses for good is noted in the index instead.
 */
export async function archiveRun(gateway: KubeGateway, store: BlobStore, request: ArchiveRequest, maxBytes: number, now: Date): Promise<ArchiveOutcome> {
  const { cluster, namespace, runId } = request;
  const prefix = runPrefix(cluster, namespace, runId);
  const notes: string[] = [];
  const [job, pods, jobEvents] = await Promise.all([
    gateway.readJob(namespace, runId),
    orNote(() => gateway.listPods(namespace, `${JOB_NAME_POD_LABEL}=${runId}`), [] as V1Pod[], notes),
    orNote(() => gateway.listEvents(namespace, runId), [] as CoreV1Event[], notes),
  ]);
  const podEvents = await Promise.all(pods.map((pod) => orNote(() => gateway.listEvents(namespace, pod.metadata?.name ?? ''), [] as CoreV1Event[], notes)));
  const events = [...jobEvents, ...podEvents.flat()];

  const logs: LogEntry[] = [];
  for (const pod of pods) {
    for (const target of logTargets(pod)) {
      const blob = logBlobName('', target.pod, target.container, target.previous);
      try {
        const text = await gateway.readPodLog(namespace, target.pod, { container: target.container, previous: target.previous, limitBytes: maxBytes + 1 });
        const { content, truncated } = boundLog(text, maxBytes);
        await store.put(`${prefix}${blob}`, content, 'text/plain; charset=utf-8');
        logs.push({ ...target, blob, bytes: content.length, truncated });
      } catch (err) {
        const note = permanent(err);
        if (note === undefined) throw err;
        logs.push({ ...target, bytes: 0, truncated: false, error: note });
      }
    }
  }

  await store.put(`${prefix}events.json`, JSON.stringify(events, null, 1), 'application/json');
  if (job) await store.put(`${prefix}job.json`, JSON.stringify(jobForArchive(job), null, 1), 'application/json');

  const source = (job ? sourceOf(job) : null) ?? request.source ?? null;
  const trigger = job ? triggerOf(job) : (request.trigger ?? 'http');
  const startTime = (job?.status?.startTime ? new Date(job.status.startTime).toISOString() : null) ?? request.startTime;
  const completionTime = (job?.status?.completionTime ? new Date(job.status.completionTime).toISOString() : null) ?? request.completionTime;
  // A run's Job gone before the archive read it leaves its caller unknown: only admins list such a run.
  const caller = job ? (job.metadata?.annotations?.[CALLER_ANNOTATION] ?? null) : trigger === 'http' ? CALLER_UNKNOWN : null;
  const index: ArchiveIndex = {
    version: 1,
    cluster,
    namespace,
    runId,
    source,
    trigger,
    caller,
    verdict: request.verdict,
    startTime,
    completionTime,
    archivedAt: now.toISOString(),
    maxBytesPerContainer: maxBytes,
    logs,
    events: { blob: 'events.json', count: events.length, ...(notes.length > 0 ? { error: [...new Set(notes)].join('; ') } : {}) },
    job: job ? { blob: 'job.json' } : null,
    pods: pods.map((p) => p.metadata?.name ?? ''),
  };
  if (source) {
    const sortTime = sortTimeOf(job, startTime ? new Date(startTime) : now);
    const metadata = markerMetadata({ runId, status: request.verdict.status, reason: request.verdict.reason, startTime, completionTime, trigger, caller });
    await store.put(sourceMarkerName(cluster, namespace, source.kind, source.name, sortTime, runId), '', 'application/octet-stream', metadata);
  }
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

async function allJobs(gateway: KubeGateway, namespace: string, labelSelector?: string): Promise<V1Job[]> {
  const jobs: V1Job[] = [];
  let continueToken: string | undefined;
  do {
    const page = await gateway.listJobs(namespace, { labelSelector, limit: 500, continueToken });
    jobs.push(...page.items);
    continueToken = page.continueToken;
  } while (continueToken);
  return jobs;
}

export interface ArchiveSweep {
  archived: string[];
  failed: { runId: string; error: string }[];
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
 * For the scheduler's tick: archive the finished Jobs that CronJobs' controller made in a namespace (the app's
 * own runs are archived by their orchestration), before the history limits delete them. A Job counts as done
 * once its index.json exists, so each is archived once; one Job that fails does not hold the others back.
 */
export async function archiveFinishedJobs(
  gateway: KubeGateway,
  store: BlobStore,
  cluster: string,
  namespace: string,
  maxBytes: number,
  now: Date,
  archivedJobs: ArchivedJobs = ARCHIVED_JOBS,
): Promise<ArchiveSweep> {
  const sweep: ArchiveSweep = { archived: [], failed: [] };
  const candidates = (await allJobs(gateway, namespace, NOT_MANAGED_SELECTOR)).filter((job) => cronJobOwner(job) && finished(job));
  const known = archivedJobs.of(cluster, namespace);
  const archived = new Set<string>();
  for (const job of candidates) {
    const runId = job.metadata?.name ?? '';
    const uid = job.metadata?.uid ?? runId;
    try {
      if (known.has(uid) || (await store.exists(indexBlobName(cluster, namespace, runId)))) {
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
}

/**
 * The scheduler tick's one call: archiveFinishedJobs in every allowed namespace of every configured cluster,
 * one after the other (a sweep is mostly one Job list per namespace). A cluster allowing every namespace (`*`)
 * is swept in the namespaces given for it in `seen` (those the tick found CronJobs in), since the app has no
 * right to list namespaces. One failing cluster or namespace does not hold the others back.
 */
export async function sweepArchive(
  deps: { config: Pick<Config, 'clusters' | 'logs'>; clusters: Pick<ClusterRegistry, 'gateway'>; logs: BlobStore | null },
  now: Date,
  seen: ReadonlyMap<string, readonly string[]> = new Map(),
): Promise<ArchiveSweepReport> {
  const report: ArchiveSweepReport = { archived: [], errors: [] };
  const { logs } = deps;
  if (!logs) return report;
  for (const cluster of deps.config.clusters) {
    const namespaces = new Set([...cluster.namespaces.filter((n) => n !== '*'), ...(cluster.namespaces.includes('*') ? (seen.get(cluster.alias) ?? []) : [])]);
    for (const namespace of namespaces) {
      try {
        const sweep = await archiveFinishedJobs(deps.clusters.gateway(cluster.alias), logs, cluster.alias, namespace, deps.config.logs.maxBytesPerContainer, now);
        report.archived.push(...sweep.archived.map((runId) => `${cluster.alias}/${namespace}/${runId}`));
        report.errors.push(...sweep.failed.map((f) => `${cluster.alias}/${namespace}/${f.runId}: ${f.error}`));
      } catch (err) {
        report.errors.push(`${cluster.alias}/${namespace}: ${ensureError(err).message}`);
      }
    }
  }
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
}

export interface RunLog {
  text: string;
  from: 'live' | 'archive';
  pod: string;
  container: string;
  truncated: boolean;
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
  const pods = newestFirst(await gateway.listPods(namespace, `${JOB_NAME_POD_LABEL}=${runId}`));
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
      // Bounded like the archive, so one huge live log cannot exhaust the function's memory.
      const raw = await gateway.readPodLog(namespace, podName, { container, previous, tailLines: request.tailLines, limitBytes: request.maxBytes + 1 });
      const { content, truncated } = boundLog(raw, request.maxBytes);
      return { text: content.toString('utf8'), from: 'live', pod: podName, container, truncated };
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
  };
}

/** A live Job as a run of its source. */
function liveEntry(job: V1Job, cluster: string, namespace: string, now: Date): RunEntry {
  const verdict = jobVerdict(job, cluster, namespace, now);
  return {
    runId: verdict.runId,
    status: verdict.status,
    reason: verdict.reason,
    startTime: verdict.startTime,
    completionTime: verdict.completionTime,
    trigger: triggerOf(job),
    caller: job.metadata?.annotations?.[CALLER_ANNOTATION] ?? null,
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
  if (store) {
    let marker = cursor?.marker ?? null;
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
  return mergeRunPage(live, { entries: archived, exhausted }, cursor, limit);
}
