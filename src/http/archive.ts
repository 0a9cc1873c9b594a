import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { cronJobOwner, decodeCursor, encodeCursor, jobStarter, type RunEntry, starterOf, triggerOf } from '../core/archive.js';
import { type Caller, callerScope } from '../core/callers.js';
import { assertRunnable } from '../core/consent.js';
import { BadRequestError, NotFoundError } from '../core/errors.js';
import { MAX_RUNS_PAGE, MAX_TAIL_LINES } from '../core/limits.js';
import { assertNamespace, assertObjectName, isDnsLabel, MAX_CRONJOB_NAME } from '../core/naming.js';
import { isTerminal, type RunStatus } from '../core/run.js';
import { jobRunInputSchema } from '../core/schemas.js';
import { listCronJobRuns, readIndex, readRunLog } from '../runs/archive.js';
import { listNamespaceRuns } from '../runs/namespace-runs.js';
import { services } from '../services.js';
import { authorizeRunAccess, authorizeTarget, callerOf, entryVisibleTo, mayAccessRun } from './caller.js';
import { listScope } from './discovery.js';
import { followResponse, followSlots, parseSince } from './follow.js';
import { runLinks } from './links.js';
import { findRun, type RunClient } from './runs.js';

export const DEFAULT_RUNS_PAGE = 50;

function wholeNumber(request: HttpRequest, name: string, max: number): number | undefined {
  const raw = request.query.get(name);
  if (raw === null || raw.trim() === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) throw new BadRequestError(`${name} must be a whole number from 1 to ${max}, got "${raw}"`);
  return value;
}

function flag(request: HttpRequest, name: string): boolean {
  const raw = request.query.get(name);
  if (raw === null || raw === '' || raw === 'false' || raw === '0') return false;
  if (raw === 'true' || raw === '1') return true;
  throw new BadRequestError(`${name} must be true or false, got "${raw}"`);
}

/** The URL of a run's logs, with the cluster and namespace that find it also when the app did not start it. */
export function logsUrl(request: HttpRequest, runId: string, cluster: string, namespace: string): string {
  const url = new URL(runLinks(request, runId).statusUrl);
  url.pathname = `${url.pathname}/logs`;
  url.searchParams.set('cluster', cluster);
  url.searchParams.set('namespace', namespace);
  return url.toString();
}

/**
 * Where a run lives: the query's namespace (and cluster) when given, which a Job the CronJob controller made
 * needs, else the app's own record of the run (its orchestration's input).
 */
async function locate(request: HttpRequest, client: RunClient, runId: string): Promise<{ cluster: string; namespace: string; appRun: boolean }> {
  const { clusters, config } = services();
  const caller = callerOf(request, config.callers);
  // An empty value is one not sent, as the document says (allowEmptyValue).
  const namespace = request.query.get('namespace') || undefined;
  const cluster = request.query.get('cluster') || undefined;
  // A cluster the app does not know is a 403 here as on every route, also when the run's record would name one.
  if (cluster !== undefined) clusters.settings(cluster);
  const instance = await findRun(client, runId);
  // A run the app started is its starter's (an Entra caller's runs are not another caller's to read), however
  // its namespace is named; a Job the app did not start is anyone's who may use its namespace.
  if (instance) authorizeRunAccess(request, config.callers, runId, instance.input);
  const target = namespace ? { cluster: cluster ?? clusters.defaultAlias, namespace } : undefined;
  const input = instance ? jobRunInputSchema().safeParse(instance.input) : undefined;
  if (target) {
    authorizeTarget(caller, config.callers, target);
    // The app's record covers the Job it names only: another Job of that name elsewhere is judged on its own.
    const recorded = input?.success ? input.data.request : undefined;
    return { ...target, appRun: recorded?.cluster === target.cluster && recorded.namespace === target.namespace };
  }
  if (!input?.success) {
    throw new NotFoundError(
      `the app started no run with id "${runId}"; for a Job it did not start (a CronJob's run fired by the cluster), pass ?namespace= (and ?cluster=) to read its logs`,
    );
  }
  const found = { cluster: input.data.request.cluster, namespace: input.data.request.namespace };
  if (cluster !== undefined && cluster !== found.cluster) {
    throw new NotFoundError(`run "${runId}" runs on cluster "${found.cluster}", not "${cluster}": leave cluster out, or pass the run's namespace too for a Job of the same name on "${cluster}"`);
  }
  authorizeTarget(caller, config.callers, found);
  return { ...found, appRun: true };
}

/**
 * The logs of a Job the app has no record of starting (the cluster's, kubectl's, a source Job's own) are its
 * owner's to give: a Job kept out of the app (`runnable: "false"`, or not opted in under SOURCES_OPT_IN), or a
 * run of a CronJob kept out, is refused as a run of it is. An app run whose record is gone answers only to the
 * caller its Job or archive names, as the status route would have.
 */
async function assertLogsReadable(request: HttpRequest, where: { cluster: string; namespace: string }, runId: string): Promise<void> {
  const { clusters, config, logs } = services();
  const caller = callerOf(request, config.callers);
  const gateway = clusters.gateway(where.cluster);
  const optIn = config.runPolicy.sourcesOptIn;
  const hidden = () => new NotFoundError(`no run with id "${runId}"; run ids are returned by the start routes`);
  const job = await gateway.readJob(where.namespace, runId);
  const index = job || !logs ? null : await readIndex(logs, where.cluster, where.namespace, runId);
  const trigger = job ? triggerOf(job) : index?.trigger;
  if (trigger === undefined) return;
  if (!mayAccessRun(caller, job ? jobStarter(job) : starterOf(trigger, index?.caller))) throw hidden();
  // The app's own runs were started (or scheduled) when their source let them: their logs are their caller's.
  if (trigger === 'http' || trigger === 'schedule') return;
  const owner = job ? cronJobOwner(job)?.name : index?.source?.kind === 'CronJob' ? index.source.name : undefined;
  if (owner !== undefined) {
    const cronJob = await gateway.readCronJob(where.namespace, owner);
    // A CronJob gone leaves only its Job's own word, which a "false" still is.
    if (cronJob) assertRunnable('CronJob', owner, cronJob.metadata, optIn);
    else if (job) assertRunnable('Job', runId, job.metadata, false);
    return;
  }
  if (job) assertRunnable('Job', runId, job.metadata, optIn);
}

/**
 * GET /api/runs/{runId}/logs: one container's log as text, from the live pod, else from the archive; with
 * `follow=true`, streamed as it is written (src/http/follow.ts), after the same checks.
 */
export async function runLogsResponse(request: HttpRequest, client: RunClient, context: InvocationContext): Promise<HttpResponseInit> {
  const runId = request.params.runId ?? '';
  // Any Job name: the cluster's and kubectl's Jobs have logs too, not only runs the app named.
  if (!isDnsLabel(runId)) throw new NotFoundError(`no run with id "${runId}": run ids are Job names, lower-case letters, digits and '-'`);
  const container = request.query.get('container') || undefined;
  if (container !== undefined) assertObjectName('container', container, 63);
  const pod = request.query.get('pod') || undefined;
  if (pod !== undefined) assertObjectName('pod', pod);
  const previous = flag(request, 'previous');
  const download = flag(request, 'download');
  const tail = wholeNumber(request, 'tailLines', MAX_TAIL_LINES);
  const follow = flag(request, 'follow');
  const since = follow ? parseSince(request.query.get('since')) : undefined;
  if (!follow && request.query.get('since')) throw new BadRequestError('since is the cursor of a followed log: it goes with follow=true');
  if (follow && (previous || tail !== undefined || pod !== undefined || download)) {
    throw new BadRequestError("follow=true follows the run's newest pod from its current instance (or from since=): leave out previous, tailLines, pod and download, or leave out follow");
  }
  if (since && container !== undefined && since.c !== container) {
    throw new BadRequestError(`since= continues container "${since.c}", not "${container}": leave container out, or start again without since`);
  }
  const { cluster, namespace, appRun } = await locate(request, client, runId);
  const { clusters, config, logs } = services();
  clusters.authorize(cluster, namespace);
  if (!appRun) await assertLogsReadable(request, { cluster, namespace }, runId);
  if (follow) {
    // Taken last, after every check, and given back when the stream ends.
    const release = followSlots.acquire(callerScope(callerOf(request, config.callers)), config.logs.follow);
    return followResponse(
      clusters.gateway(cluster),
      logs,
      { cluster, namespace, runId, container: container ?? since?.c, since, maxBytes: config.logs.maxBytesPerContainer },
      config.logs.follow,
      release,
      context,
    );
  }
  const log = await readRunLog(clusters.gateway(cluster), logs, {
    cluster,
    namespace,
    runId,
    container,
    pod,
    previous,
    tailLines: tail,
    maxBytes: config.logs.maxBytesPerContainer,
    appRun,
  });
  const filename = `${log.pod}-${log.container}${previous ? '-previous' : ''}.log`;
  return {
    status: 200,
    headers: {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Disposition': `${download ? 'attachment' : 'inline'}; filename="${filename.replace(/[^A-Za-z0-9._-]/g, '_')}"`,
      'X-Log-Source': log.from,
      'X-Log-Pod': log.pod,
      'X-Log-Container': log.container,
      'X-Log-Truncated': String(log.truncated),
      // What a cut kept (both ends, with a marker line between them) and left out: '0' for a log kept whole.
      'X-Log-Kept': log.omitted ? (log.kept ?? 'head-and-tail') : 'whole',
      'X-Log-Omitted-Bytes': log.omitted ? `${log.omitted.atLeast ? '>' : ''}${String(log.omitted.bytes)}` : '0',
      'X-Log-Omitted-Lines': log.omitted ? `${log.omitted.atLeast ? '>' : ''}${String(log.omitted.lines)}` : '0',
    },
    body: log.text,
  };
}

/** GET /api/cronjobs/{namespace}/{name}/runs: the CronJob's runs, live and archived, newest first, paginated. */
export async function cronJobRunsResponse(request: HttpRequest): Promise<HttpResponseInit> {
  const namespace = request.params.namespace ?? '';
  const name = request.params.name ?? '';
  const { clusters, config, logs, now } = services();
  const caller = callerOf(request, config.callers);
  assertNamespace(namespace);
  assertObjectName('CronJob', name, MAX_CRONJOB_NAME);
  const cluster = request.query.get('cluster') ?? clusters.defaultAlias;
  clusters.authorize(cluster, namespace);
  authorizeTarget(caller, config.callers, { cluster, namespace });
  const limit = wholeNumber(request, 'limit', MAX_RUNS_PAGE) ?? DEFAULT_RUNS_PAGE;
  const token = request.query.get('continue');
  const cursor = token ? decodeCursor(token) : null;
  const gateway = clusters.gateway(cluster);
  // Kept out by its owner, kept out of its runs too; a CronJob gone leaves its archived runs to the namespace.
  const cronJob = await gateway.readCronJob(namespace, name);
  if (cronJob) assertRunnable('CronJob', name, cronJob.metadata, config.runPolicy.sourcesOptIn);
  const page = await listCronJobRuns(gateway, logs, { cluster, namespace, name }, cursor, limit, now());
  if (!cursor && page.items.length === 0 && !cronJob) {
    throw new NotFoundError(`no CronJob "${name}" in namespace "${namespace}" of cluster "${cluster}", and no archived runs of one by that name`);
  }
  // Other callers' runs are left out (a page may then hold fewer than limit; its continue token still holds).
  const visible = entryVisibleTo(caller);
  const item = (entry: RunEntry) => ({
    runId: entry.runId,
    status: entry.status,
    reason: entry.reason,
    startTime: entry.startTime,
    completionTime: entry.completionTime,
    trigger: entry.trigger,
    live: entry.live,
    archived: entry.archived,
    ...(entry.trigger === 'http' || entry.trigger === 'schedule' ? { statusUrl: runLinks(request, entry.runId).statusUrl } : {}),
    logsUrl: logsUrl(request, entry.runId, cluster, namespace),
  });
  return { status: 200, jsonBody: { items: page.items.filter(visible).map(item), continue: page.next ? encodeCursor(page.next) : null } };
}

const RUN_STATUSES: readonly RunStatus[] = ['Starting', 'Running', 'Success', 'Failed', 'Cancelled', 'Unknown'];

/** `status=Failed,Cancelled`: the statuses to list; null for all (no `status`, or an empty one). */
export function statusFilter(request: HttpRequest): ReadonlySet<RunStatus> | null {
  const raw = request.query.get('status');
  if (raw === null || raw === '') return null;
  const wanted = new Set<RunStatus>();
  for (const value of raw.split(',')) {
    const status = RUN_STATUSES.find((s) => s === value);
    if (!status) throw new BadRequestError(`status must be one or more of ${RUN_STATUSES.join(', ')}, comma-separated without spaces, got "${value}"`);
    wanted.add(status);
  }
  return wanted;
}

/** Who started a listed run, as the caller may be shown it: ids only, never a key; null for runs no caller started. */
function startedByOf(entry: RunEntry): { kind: 'key' } | { kind: 'entra'; appId: string; objectId: string } | { kind: 'unknown' } | null {
  const starter = starterOf(entry.trigger, entry.caller);
  if (starter === null) return null;
  if (starter.kind === 'entra' && (starter.appId === '' || starter.objectId === '')) return { kind: 'unknown' };
  return starter;
}

/** Seconds from start to completion, or to now while it runs; null when either end is not known. */
function durationOf(entry: RunEntry, now: Date): number | null {
  if (!entry.startTime) return null;
  const end = entry.completionTime ? new Date(entry.completionTime) : isTerminal(entry.status) ? null : now;
  if (!end) return null;
  return Math.max(0, Math.round((end.getTime() - new Date(entry.startTime).getTime()) / 1000));
}

/** What one listed run answers: where it is, what it ran, who started it, how it went, and where to read more. */
function runItem(request: HttpRequest, where: { cluster: string; namespace: string }, entry: RunEntry, now: Date) {
  return {
    runId: entry.runId,
    cluster: where.cluster,
    namespace: where.namespace,
    source: entry.source ?? null,
    trigger: entry.trigger,
    startedBy: startedByOf(entry),
    status: entry.status,
    reason: entry.reason,
    failureKind: entry.failureKind ?? null,
    startTime: entry.startTime,
    completionTime: entry.completionTime,
    durationSeconds: durationOf(entry, now),
    live: entry.live,
    archived: entry.archived,
    // The status route knows the app's runs; a Job the cluster made has its logs only.
    ...(entry.trigger === 'http' || entry.trigger === 'schedule' ? { statusUrl: runLinks(request, entry.runId).statusUrl } : {}),
    logsUrl: logsUrl(request, entry.runId, where.cluster, where.namespace),
  };
}

/** The runs a caller is shown: those of the statuses asked for that it may see (core/callers.ts mayAccessRun). */
export function runsKept(caller: Caller, statuses: ReadonlySet<RunStatus> | null): (entry: RunEntry) => boolean {
  const visible = entryVisibleTo(caller);
  return (entry) => visible(entry) && (statuses === null || statuses.has(entry.status));
}

/**
 * GET /api/runs?namespace=&cluster=&status=&limit=&continue=: a namespace's runs, newest first, a page at a time:
 * the app's live Jobs and the archive's runs, as the caller may see them (an Entra caller its own and those no caller
 * started), without the runs of sources kept out. A page may hold fewer than `limit` runs while `continue` is set.
 */
export async function namespaceRunsResponse(request: HttpRequest): Promise<HttpResponseInit> {
  // The caller, the app's allow-lists and the caller's policy, before anything is read (listScope).
  const { cluster, namespace, caller } = listScope(request);
  const { clusters, config, logs, now } = services();
  const statuses = statusFilter(request);
  const limit = wholeNumber(request, 'limit', MAX_RUNS_PAGE) ?? DEFAULT_RUNS_PAGE;
  const token = request.query.get('continue');
  const cursor = token ? decodeCursor(token) : null;
  const at = now();
  const page = await listNamespaceRuns(clusters.gateway(cluster), logs, {
    cluster,
    namespace,
    cursor,
    limit,
    now: at,
    sourcesOptIn: config.runPolicy.sourcesOptIn,
    keep: runsKept(caller, statuses),
  });
  return {
    status: 200,
    jsonBody: {
      items: page.items.map((entry) => runItem(request, { cluster, namespace }, entry, at)),
      continue: page.next ? encodeCursor(page.next) : null,
      archive: logs !== null,
    },
  };
}
