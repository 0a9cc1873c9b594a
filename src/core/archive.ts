import type { V1Container, V1Job, V1OwnerReference, V1Pod } from '@kubernetes/client-node';

import { BadRequestError } from './errors.js';
import { classifyFailure, FAILURE_KINDS, type FailureKind } from './failure.js';
import {
  CALLER_ANNOTATION,
  CRONJOB_INSTANTIATE_ANNOTATION,
  CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  SOURCE_KIND_LABEL,
  SOURCE_NAME_LABEL,
} from './labels.js';
import { parseCallerTag, type RunSnapshot, type RunStatus, type StartedBy } from './run.js';

/**
 * The logs archive's layout and index, and the merging of live and archived runs. Pure: no I/O, time passed in.
 *
 * <cluster>/<namespace>/<runId>/index.json              what was archived (written last: it marks a complete archive)
 * <cluster>/<namespace>/<runId>/job.json                the final Job object
 * <cluster>/<namespace>/<runId>/events.json             events of the Job and its pods
 * <cluster>/<namespace>/<runId>/logs/<pod>/<container>.log            (and .previous.log for the instance before a restart)
 * <cluster>/<namespace>/.by-source/<Kind>/<name>/<inverted ms>.<runId>   empty; its metadata summarises the run
 * <cluster>/<namespace>/.by-time/<inverted ms>.<runId>                   the same, for the namespace's runs listing
 */

/** Who started a run: the app on request, the app's scheduler, the CronJob controller, or a person with kubectl. */
export type RunTrigger = 'http' | 'schedule' | 'cluster' | 'manual';

export const INDEX_BLOB = 'index.json';
const BY_SOURCE = '.by-source';
const BY_TIME = '.by-time';
/** Larger than any epoch millisecond value for the next 250 years, so inverted times keep 13 digits. */
const INVERT_FROM = 9_999_999_999_999;

export function runPrefix(cluster: string, namespace: string, runId: string): string {
  return `${cluster}/${namespace}/${runId}/`;
}

export function indexBlobName(cluster: string, namespace: string, runId: string): string {
  return `${runPrefix(cluster, namespace, runId)}${INDEX_BLOB}`;
}

export function logBlobName(prefix: string, pod: string, container: string, previous: boolean): string {
  return `${prefix}logs/${pod}/${container}${previous ? '.previous' : ''}.log`;
}

/** Where a source's archived runs are listed: newest first, since the inverted time leads the name. */
export function sourcePrefix(cluster: string, namespace: string, kind: string, name: string): string {
  return `${cluster}/${namespace}/${BY_SOURCE}/${kind}/${name}/`;
}

export function sourceMarkerName(cluster: string, namespace: string, kind: string, name: string, sortTime: Date, runId: string): string {
  const inverted = String(INVERT_FROM - sortTime.getTime()).padStart(13, '0');
  return `${sourcePrefix(cluster, namespace, kind, name)}${inverted}.${runId}`;
}

/**
 * Where a namespace's archived runs are listed, every source's (and a run with none): newest first, like a
 * source's. Runs archived before this index existed have only their source marker (docs/decisions.md, "Issue 22,
 * item 6").
 */
export function namespaceRunsPrefix(cluster: string, namespace: string): string {
  return `${cluster}/${namespace}/${BY_TIME}/`;
}

export function namespaceMarkerName(cluster: string, namespace: string, sortTime: Date, runId: string): string {
  const inverted = String(INVERT_FROM - sortTime.getTime()).padStart(13, '0');
  return `${namespaceRunsPrefix(cluster, namespace)}${inverted}.${runId}`;
}

/** A run's place in its history: when it started (else when its Job was made). */
export function sortTimeOf(job: V1Job | null, fallback: Date): Date {
  const raw = job?.status?.startTime ?? job?.metadata?.creationTimestamp;
  return raw ? new Date(raw) : fallback;
}

/**
 * When a Job finished: its completionTime (the Job controller sets it on success only), else when its Failed or
 * Complete condition became true; null while it has not.
 */
export function finishedAt(job: V1Job | null): string | null {
  if (job?.status?.completionTime) return new Date(job.status.completionTime).toISOString();
  const done = job?.status?.conditions?.find((c) => (c.type === 'Failed' || c.type === 'Complete') && c.status === 'True');
  return done?.lastTransitionTime ? new Date(done.lastTransitionTime).toISOString() : null;
}

/** The CronJob that controls a Job, if one does. */
export function cronJobOwner(job: V1Job): V1OwnerReference | undefined {
  return job.metadata?.ownerReferences?.find((o) => o.kind === 'CronJob' && o.controller === true);
}

/** Who started a Job, from what each starter writes on it. */
export function triggerOf(job: V1Job): RunTrigger {
  const labels = job.metadata?.labels ?? {};
  const annotations = job.metadata?.annotations ?? {};
  if (labels[MANAGED_BY_LABEL] === MANAGED_BY_VALUE) {
    return annotations[CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION] && annotations[CRONJOB_INSTANTIATE_ANNOTATION] !== 'manual' ? 'schedule' : 'http';
  }
  return annotations[CRONJOB_INSTANTIATE_ANNOTATION] === 'manual' ? 'manual' : 'cluster';
}

/**
 * The caller a run answers to. An app run started over HTTP answers to the caller recorded on it (a key caller
 * when none is, as for runs from before callers were recorded); every other run (the app scheduler's, the
 * cluster's, kubectl's) to no caller in particular: null, whoever may use its namespace. The tag is believed only
 * on the app's HTTP runs, where the app wrote it over whatever the source carried; one that cannot be read
 * (CALLER_UNKNOWN) makes the run an admin's only.
 */
export function starterOf(trigger: RunTrigger, tag: string | null | undefined): StartedBy | null {
  if (trigger !== 'http') return null;
  if (tag === null || tag === undefined) return { kind: 'key' };
  return parseCallerTag(tag) ?? UNKNOWN_STARTER;
}

/** What an archive marker says when the run's Job was gone before it could be read: its caller is not known. */
export const CALLER_UNKNOWN = 'unknown';
/** A starter no caller is (callers always have an app id): a run only admins may see. */
const UNKNOWN_STARTER: StartedBy = { kind: 'entra', appId: '', objectId: '' };

/** The caller a live Job's run answers to (see starterOf). */
export function jobStarter(job: V1Job): StartedBy | null {
  return starterOf(triggerOf(job), job.metadata?.annotations?.[CALLER_ANNOTATION]);
}

/**
 * A listed Job's failure kind from the Job alone (a listing reads no pods): what its conditions or the verdict's
 * reason decide (a deadline, a pod failure policy, a cancel); null when only its pods could tell (an exit code, an
 * eviction), which the run's own page shows.
 */
export function listedFailureKind(verdict: Pick<RunSnapshot, 'status' | 'reason' | 'message'>, job: V1Job, now: Date): FailureKind | null {
  const failure = classifyFailure({ verdict, job, pods: [], events: [], now });
  return failure && failure.kind !== 'Unknown' ? failure.kind : null;
}

/** The source a Job ran from: the app's labels, else its controlling CronJob. */
export function sourceOf(job: V1Job): { kind: string; name: string } | null {
  const labels = job.metadata?.labels ?? {};
  const kind = labels[SOURCE_KIND_LABEL];
  const name = labels[SOURCE_NAME_LABEL];
  if (kind && name) return { kind, name };
  const owner = cronJobOwner(job);
  return owner ? { kind: 'CronJob', name: owner.name } : null;
}

export type ContainerRole = 'init' | 'sidecar' | 'main' | 'ephemeral';

export interface LogTarget {
  pod: string;
  container: string;
  role: ContainerRole;
  previous: boolean;
}

/**
 * Every log a pod has: init containers (sidecars are init containers that restart Always), the main
 * containers, ephemeral ones, and the instance before the last restart of each container that restarted.
 */
export function logTargets(pod: V1Pod): LogTarget[] {
  const name = pod.metadata?.name ?? '';
  const restarts = new Map<string, number>();
  for (const s of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? []), ...(pod.status?.ephemeralContainerStatuses ?? [])]) {
    restarts.set(s.name, s.restartCount);
  }
  const containers: { c: Pick<V1Container, 'name'>; role: ContainerRole }[] = [
    ...(pod.spec?.initContainers ?? []).map((c) => ({ c, role: c.restartPolicy === 'Always' ? ('sidecar' as const) : ('init' as const) })),
    ...(pod.spec?.containers ?? []).map((c) => ({ c, role: 'main' as const })),
    ...(pod.spec?.ephemeralContainers ?? []).map((c) => ({ c, role: 'ephemeral' as const })),
  ];
  return containers.flatMap(({ c, role }) => {
    const current: LogTarget = { pod: name, container: c.name, role, previous: false };
    return (restarts.get(c.name) ?? 0) > 0 ? [current, { ...current, previous: true }] : [current];
  });
}

/** How much of a log the app reads, as a multiple of the bound, to know how much a cut leaves out. */
export const LOG_SCAN_FACTOR = 4;

/** What a cut left out of a log: its bytes and lines, or at least that many when the log was longer than the app read. */
export interface LogOmission {
  bytes: number;
  lines: number;
  atLeast: boolean;
}

export interface BoundedLog {
  content: Buffer;
  truncated: boolean;
  omitted?: LogOmission | undefined;
}

/** The line the cut leaves between a log's head and its tail. */
export function omissionMarker(omitted: LogOmission): string {
  const more = omitted.atLeast ? 'more than ' : '';
  return `[aks-job-runner: ${more}${String(omitted.bytes)} bytes (${more}${String(omitted.lines)} lines) of this log are left out here]\n`;
}


function charStart(bytes: Buffer, at: number): number {
  let i = at;
  while (i < bytes.length && ((bytes[i] ?? 0) & 0xc0) === 0x80) i++;
  return i;
}

function newlines(bytes: Buffer): number {
  let count = 0;
  for (const b of bytes) if (b === 0x0a) count++;
  return count;
}

/**
 * A log cut to the bound. Both ends are kept, since a program prints what went wrong at the end: the first and
 * the last whole lines that fit in about half the bound each, and between them a marker of what was left out.
 * `start` is the log from its beginning (as much as was read); `end` is its end, the same buffer when the whole
 * log was read, else a separate read of its last lines (`whole: false`: the omission is then "more than").
 * A cut never splits a UTF-8 character; a log within the bound is kept whole.
 */
export function keepEnds(start: Buffer, end: Buffer, maxBytes: number, whole: boolean): BoundedLog {
  if (whole && start.length <= maxBytes) return { content: start, truncated: false };
  // Room for the marker at its longest: nothing left out can be more than what was read (or, for a log longer
  // than that, than ten times as much, which the digits of the count allow for).
  const most = whole ? start.length : start.length * 10;
  const markerRoom = Buffer.byteLength(omissionMarker({ bytes: most, lines: most, atLeast: !whole })) + 1;
  if (maxBytes < markerRoom * 2) {
    // A bound too small for a marker and both ends (only tests set one): the head alone, as much as fits.
    let end = Math.min(maxBytes, start.length);
    while (end > 0 && ((start[end] ?? 0) & 0xc0) === 0x80) end--;
    const rest = start.subarray(end);
    return { content: start.subarray(0, end), truncated: true, omitted: { bytes: rest.length, lines: newlines(rest), atLeast: !whole } };
  }
  const budget = maxBytes - markerRoom;
  const headRoom = Math.floor(budget / 2);
  // The head: whole lines when one fits, else up to a character boundary.
  let headEnd = Math.min(headRoom, start.length);
  const lastNewline = start.subarray(0, headEnd).lastIndexOf(0x0a);
  if (lastNewline >= 0) headEnd = lastNewline + 1;
  else while (headEnd > 0 && ((start[headEnd] ?? 0) & 0xc0) === 0x80) headEnd--;
  const head = start.subarray(0, headEnd);
  // The tail: from the start of a line when one begins in the room, else from a character boundary.
  const tailRoom = budget - head.length - (head.length > 0 && head[head.length - 1] !== 0x0a ? 1 : 0);
  let tailStart = Math.max(end.length - tailRoom, whole ? head.length : 0, 0);
  if (tailStart > 0 && end[tailStart - 1] !== 0x0a) {
    const next = end.subarray(tailStart).indexOf(0x0a);
    tailStart = next >= 0 && tailStart + next + 1 < end.length ? tailStart + next + 1 : charStart(end, tailStart);
  }
  const tail = end.subarray(tailStart);
  const middle = whole ? start.subarray(head.length, tailStart) : start.subarray(head.length);
  const omitted: LogOmission = { bytes: middle.length, lines: newlines(middle), atLeast: !whole };
  const separator = head.length > 0 && head[head.length - 1] !== 0x0a ? '\n' : '';
  const content = Buffer.concat([head, Buffer.from(`${separator}${omissionMarker(omitted)}`), tail]);
  return { content, truncated: true, omitted };
}

/** A log cut to the bound, keeping both ends (keepEnds), from a read of the whole log. */
export function boundLog(text: string, maxBytes: number): BoundedLog {
  const bytes = Buffer.from(text, 'utf8');
  return keepEnds(bytes, bytes, maxBytes, true);
}

/** The last `lines` lines of a log (a final newline does not count as a line of its own). */
export function tailLines(text: string, lines: number): string {
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (body === '') return text;
  const all = body.split('\n');
  if (all.length <= lines) return text;
  return `${all.slice(-lines).join('\n')}\n`;
}

export interface LogEntry {
  pod: string;
  container: string;
  role: ContainerRole;
  previous: boolean;
  /** Blob name, relative to the run's prefix; absent when the log could not be read. */
  blob?: string;
  bytes: number;
  truncated: boolean;
  /** What the cut left out between the head and the tail it kept (absent when nothing was cut). */
  omitted?: LogOmission;
  error?: string;
}

export interface ArchiveIndex {
  version: 1;
  cluster: string;
  namespace: string;
  runId: string;
  /**
   * The Job archived, when it is not the run id's: a run that retried on disruption (core/retry.ts) keeps its
   * last attempt's Job, pods, logs and events here; the earlier attempts' causes and log tails are in its result.
   */
  jobName?: string;
  source: { kind: string; name: string } | null;
  trigger: RunTrigger;
  /** The caller tag of the run's Job (see RunEntry.caller); absent in indexes written before it was kept. */
  caller?: string | null;
  /** Why the run failed (core/failure.ts); absent when it did not, and in indexes written before it was kept. */
  failureKind?: FailureKind;
  verdict: Pick<RunSnapshot, 'status' | 'reason' | 'message'>;
  startTime: string | null;
  completionTime: string | null;
  archivedAt: string;
  maxBytesPerContainer: number;
  logs: LogEntry[];
  /**
   * Logs not read because the archive's time budget ran out (each also an entry with an `error`); absent when
   * every log was read.
   */
  leftOut?: { logs: number; of: number; reason: string };
  events: { blob: string; count: number; error?: string };
  job: { blob: string } | null;
  pods: string[];
}

/** The log a request names in an index: the first main container by default, the current instance unless `previous`. */
export function findLog(index: ArchiveIndex, container: string | undefined, previous: boolean, pod?: string): LogEntry | undefined {
  const candidates = index.logs.filter((l) => l.previous === previous && (pod === undefined || l.pod === pod));
  if (container !== undefined) return candidates.find((l) => l.container === container);
  return candidates.find((l) => l.role === 'main') ?? candidates[0];
}

// ---- Runs of a source: live Jobs and archived runs, merged, newest first, a page at a time ----

export interface RunEntry {
  runId: string;
  status: RunStatus;
  reason: string;
  startTime: string | null;
  completionTime: string | null;
  trigger: RunTrigger;
  /** The caller tag the app wrote on its Job (CALLER_ANNOTATION); null or absent when there was none. */
  caller?: string | null;
  /** What it ran from (the app's source labels, else its CronJob); absent from markers written before it was kept. */
  source?: { kind: string; name: string } | null;
  /** Why it failed (core/failure.ts), where known; null when the listing cannot tell, absent from older markers. */
  failureKind?: FailureKind | null;
  /** Its Job is still in the cluster. */
  live: boolean;
  /** Its logs are in the archive. */
  archived: boolean;
  /** Where it sits in the history (start, else creation), ms since the epoch. */
  sortTime: number;
}

/** What the source marker's metadata holds (Blob metadata values are ASCII: each is URI-encoded). */
export function markerMetadata(entry: Omit<RunEntry, 'live' | 'archived' | 'sortTime'>): Record<string, string> {
  return {
    runid: entry.runId,
    status: entry.status,
    reason: encodeURIComponent(entry.reason),
    starttime: entry.startTime ?? '',
    completiontime: entry.completionTime ?? '',
    trigger: entry.trigger,
    ...(entry.caller === null || entry.caller === undefined ? {} : { caller: encodeURIComponent(entry.caller) }),
    ...(entry.source ? { sourcekind: entry.source.kind, sourcename: entry.source.name } : {}),
    ...(entry.failureKind ? { failurekind: entry.failureKind } : {}),
  };
}

const STATUSES: readonly RunStatus[] = ['Starting', 'Running', 'Success', 'Failed', 'Cancelled', 'Unknown'];
const TRIGGERS: readonly RunTrigger[] = ['http', 'schedule', 'cluster', 'manual'];

/** An archived run from its source marker; undefined for a blob that is not one. */
export function entryFromMarker(name: string, metadata: Record<string, string>): RunEntry | undefined {
  const match = /\/(\d{13})\.([a-z0-9][-a-z0-9]*)$/.exec(name);
  if (!match?.[1] || !match[2]) return undefined;
  const status = STATUSES.find((s) => s === metadata.status) ?? 'Unknown';
  const trigger = TRIGGERS.find((t) => t === metadata.trigger) ?? 'cluster';
  let reason = metadata.reason ?? '';
  try {
    reason = decodeURIComponent(reason);
  } catch {
    // A reason written by hand that is not URI-encoded: shown as it is.
  }
  let caller: string | null = metadata.caller ?? null;
  try {
    caller = caller === null ? null : decodeURIComponent(caller);
  } catch {
    // Not one the app wrote: it proves nothing, and starterOf reads it as a key caller's.
  }
  // Kubernetes names and kinds are ASCII, written as they are; anything else is not the app's and is left out.
  const source = metadata.sourcekind && metadata.sourcename ? { kind: metadata.sourcekind, name: metadata.sourcename } : undefined;
  const failureKind = FAILURE_KINDS.find((k) => k === metadata.failurekind);
  return {
    runId: match[2],
    status,
    reason,
    startTime: metadata.starttime || null,
    completionTime: metadata.completiontime || null,
    trigger,
    ...(caller === null ? {} : { caller }),
    ...(source ? { source } : {}),
    ...(failureKind ? { failureKind } : {}),
    live: false,
    archived: true,
    sortTime: INVERT_FROM - Number(match[1]),
  };
}

/** Newest first; equal times by run id, as the archive's listing orders them. */
export function compareRuns(a: Pick<RunEntry, 'sortTime' | 'runId'>, b: Pick<RunEntry, 'sortTime' | 'runId'>): number {
  if (a.sortTime !== b.sortTime) return b.sortTime - a.sortTime;
  return a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0;
}

/** Where a page ended: the last run shown, and where the archive's listing can resume without missing any. */
export interface RunCursor {
  sortTime: number;
  runId: string;
  /** The archive's listing marker of the page the last archived run shown came from; null: from the start. */
  marker: string | null;
}

export function encodeCursor(cursor: RunCursor): string {
  return Buffer.from(JSON.stringify([cursor.sortTime, cursor.runId, cursor.marker])).toString('base64url');
}

export function decodeCursor(token: string): RunCursor {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(parsed) && parsed.length === 3) {
      const [sortTime, runId, marker] = parsed as unknown[];
      if (typeof sortTime === 'number' && typeof runId === 'string' && (marker === null || typeof marker === 'string')) return { sortTime, runId, marker };
    }
  } catch {
    // Reported below, as any other token that is not ours.
  }
  throw new BadRequestError('continue is not a token this route gave out; pass the "continue" value of the previous page as it is');
}

function after(entry: RunEntry, cursor: RunCursor | null): boolean {
  return cursor === null || compareRuns(entry, cursor) > 0;
}

/** Archived runs as read from the listing, each with the marker of the listing page it came from. */
export interface ArchivedBatch {
  entries: { entry: RunEntry; marker: string | null }[];
  /** The listing has nothing after these. */
  exhausted: boolean;
  /** Where the listing goes on after these (its continuation token), when it is not exhausted. */
  next?: string | null;
}

export interface RunPage {
  items: RunEntry[];
  next: RunCursor | null;
}

/** Before every run: where a page resumes when the listing returned nothing it could place (empty pages happen). */
const BEFORE_ALL: Pick<RunCursor, 'sortTime' | 'runId'> = { sortTime: Number.MAX_SAFE_INTEGER, runId: '' };

/**
 * One page of runs: live Jobs (all of them, read in full) and archived runs (read from the cursor's marker on),
 * after the cursor, de-duplicated by run id (a live Job that is also archived shows once, marked both, with the
 * archive's failure kind where the Job alone cannot tell), those `keep` accepts (a status filter, the caller's
 * own runs), newest first.
 *
 * The archived runs read need not fill the page: when the listing is not exhausted, only runs up to the last one
 * read are placed (an unread archived run could sort before any run after it), and the cursor resumes from there.
 * So a listing read in a bounded number of pages answers a page that may be shorter than `limit`, even empty, with
 * a continue token, rather than reading on without end for a filter that matches few runs.
 */
export function mergeRunPage(
  live: readonly RunEntry[],
  archived: ArchivedBatch,
  cursor: RunCursor | null,
  limit: number,
  keep: (entry: RunEntry) => boolean = () => true,
): RunPage {
  const byId = new Map<string, { entry: RunEntry; marker: string | null | undefined }>();
  for (const { entry, marker } of archived.entries) if (after(entry, cursor)) byId.set(entry.runId, { entry, marker });
  for (const entry of live) {
    const archivedToo = byId.get(entry.runId);
    if (archivedToo) {
      const failureKind = entry.failureKind ?? archivedToo.entry.failureKind;
      byId.set(entry.runId, { entry: { ...entry, archived: true, ...(failureKind === undefined ? {} : { failureKind }) }, marker: archivedToo.marker });
    } else if (after(entry, cursor)) byId.set(entry.runId, { entry, marker: undefined });
  }
  // The last archived run read: nothing after it is known yet unless the listing is exhausted.
  let boundary: RunEntry | undefined;
  for (const { entry } of archived.entries) if (!boundary || compareRuns(entry, boundary) > 0) boundary = entry;
  const placed = (entry: RunEntry) => archived.exhausted || (boundary !== undefined && compareRuns(entry, boundary) <= 0);
  const candidates = [...byId.values()].filter((c) => placed(c.entry) && keep(c.entry)).sort((a, b) => compareRuns(a.entry, b.entry));
  // The listing page to resume from for runs after `position`: the one the last archived run read at or before it came from.
  const markerFor = (position: Pick<RunEntry, 'sortTime' | 'runId'>) => {
    let marker = cursor?.marker ?? null;
    for (const { entry, marker: m } of archived.entries) if (compareRuns(entry, position) <= 0) marker = m;
    return marker;
  };
  if (candidates.length > limit) {
    const shown = candidates.slice(0, limit);
    const last = shown[shown.length - 1]?.entry ?? BEFORE_ALL;
    return { items: shown.map((s) => s.entry), next: { sortTime: last.sortTime, runId: last.runId, marker: markerFor(last) } };
  }
  const items = candidates.map((c) => c.entry);
  if (archived.exhausted) return { items, next: null };
  const at = boundary ?? cursor ?? BEFORE_ALL;
  return { items, next: { sortTime: at.sortTime, runId: at.runId, marker: archived.next ?? (boundary ? markerFor(boundary) : (cursor?.marker ?? null)) } };
}
