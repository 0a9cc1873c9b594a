import { createHash } from 'node:crypto';

import type { CoreV1Event, V1CronJob } from '@kubernetes/client-node';

import { LAST_SCHEDULE_ANNOTATION, SCHEDULER_APP, SCHEDULER_LABEL } from './labels.js';
import { scheduledRunName } from './naming.js';
import { type CronJobTiming, decideSchedule, formatInZone, nextRunTimes, parseSchedule, ScheduleError, type ScheduleWarning } from './schedule.js';

/** Who fires a CronJob: the cluster's CronJob controller, or this app. */
export type SchedulerOwner = 'cluster' | 'app';

export interface SchedulerWarning {
  reason: ScheduleWarning['reason'] | 'NotSuspended';
  message: string;
}

/** The component name on the Events the scheduler writes. */
export const SCHEDULER_COMPONENT = 'aks-job-runner-scheduler';

function labelled(cronJob: V1CronJob): boolean {
  return cronJob.metadata?.labels?.[SCHEDULER_LABEL] === SCHEDULER_APP;
}

/** Handed over: the label and `spec.suspend: true`, so the cluster does not fire it too. */
export function isHandedOver(cronJob: V1CronJob): boolean {
  return labelled(cronJob) && cronJob.spec.suspend === true;
}

export function schedulerOf(cronJob: V1CronJob): SchedulerOwner {
  return isHandedOver(cronJob) ? 'app' : 'cluster';
}

function notSuspended(cronJob: V1CronJob): SchedulerWarning {
  const name = cronJob.metadata?.name ?? '';
  return {
    reason: 'NotSuspended',
    message:
      `CronJob ${name} is labelled ${SCHEDULER_LABEL}=${SCHEDULER_APP} but not suspended, so the cluster fires it and the app does not: ` +
      `suspend it to hand it to the app (kubectl patch cronjob ${name} -p '{"spec":{"suspend":true}}'), or remove the label`,
  };
}

/** The last scheduled time the app started, from its annotation; null when absent or unreadable. */
export function lastScheduleTimeOf(cronJob: V1CronJob): Date | null {
  const value = cronJob.metadata?.annotations?.[LAST_SCHEDULE_ANNOTATION];
  if (!value) return null;
  const time = new Date(value);
  return Number.isNaN(time.getTime()) ? null : time;
}

/**
 * The run ids a scheduled run may take, in order. Durable's instance ids are global to the task hub while Job
 * names are only unique in their namespace, so two CronJobs of one name (in two namespaces or clusters) would
 * both claim `<cronjob>-<unix minutes>`. The first to start takes the controller's name; the other one takes
 * the second id, the same name with a hash of (cluster, namespace), which is just as deterministic.
 */
export function scheduledRunIds(cronJob: V1CronJob, cluster: string, scheduledTime: Date): [primary: string, fallback: string] {
  const name = cronJob.metadata?.name ?? '';
  const primary = scheduledRunName(name, scheduledTime);
  const digest = createHash('sha256')
    .update([cluster, cronJob.metadata?.namespace ?? ''].join('\n'))
    .digest('hex');
  const hash = BigInt(`0x${digest.slice(0, 12)}`).toString(36).padStart(8, '0').slice(-8);
  // 63 = name + '-' + 8 digits of minutes + '-' + 8 of hash.
  const base = name.slice(0, 63 - 18).replace(/-+$/, '');
  return [primary, `${scheduledRunName(base, scheduledTime)}-${hash}`];
}

/** RFC 3339 in UTC, seconds precision, as the annotation keeps it. */
export function rfc3339(instant: Date): string {
  return instant.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The value of `batch.kubernetes.io/cronjob-scheduled-timestamp` as the controller writes it: Go's RFC 3339 of the
 * scheduled time in the CronJob's zone (UTC without one), which prints a zero offset as `Z`.
 */
export function scheduledTimestamp(instant: Date, timeZone: string | null | undefined): string {
  return formatInZone(instant, timeZone ?? 'UTC').replace(/\+00:00$/, 'Z');
}

/**
 * The later of the app's last scheduled time and the cluster's (status.lastScheduleTime): a CronJob the cluster
 * fired for months and then handed over goes on from its last run, as the controller would after a resume,
 * instead of counting from its creation and firing its latest missed time at once.
 */
function lastScheduled(cronJob: V1CronJob): Date | null {
  const app = lastScheduleTimeOf(cronJob);
  const raw = cronJob.status?.lastScheduleTime;
  const cluster = raw ? new Date(raw) : null;
  if (!cluster || Number.isNaN(cluster.getTime())) return app;
  return app && app > cluster ? app : cluster;
}

function timingOf(cronJob: V1CronJob): CronJobTiming {
  const created = cronJob.metadata?.creationTimestamp;
  return {
    schedule: cronJob.spec.schedule,
    timeZone: cronJob.spec.timeZone ?? null,
    startingDeadlineSeconds: cronJob.spec.startingDeadlineSeconds ?? null,
    lastScheduleTime: lastScheduled(cronJob),
    creationTime: created ? new Date(created) : new Date(0),
  };
}

export type Evaluation =
  /** Not the app's to fire: no label, or labelled but not suspended (then with a warning). */
  | { kind: 'notHandedOver'; warnings: SchedulerWarning[] }
  /** Nothing due now. */
  | { kind: 'idle'; next: Date | null }
  /** A run is due for `scheduledTime`, under the deterministic name `runName`. */
  | { kind: 'due'; scheduledTime: Date; runName: string; next: Date | null; warnings: SchedulerWarning[] }
  /** The most recent due time is past its startingDeadlineSeconds: skipped, with MissSchedule. */
  | { kind: 'missed'; scheduledTime: Date; next: Date | null; warnings: SchedulerWarning[] }
  /** The schedule or time zone cannot be used; a person must fix it, so nothing is retried. */
  | { kind: 'invalid'; warnings: SchedulerWarning[] };

/** What the scheduler makes of one CronJob at `now`: the CronJob controller's due-time rule, for handed-over ones. */
export function evaluateCronJob(cronJob: V1CronJob, now: Date): Evaluation {
  if (!isHandedOver(cronJob)) return { kind: 'notHandedOver', warnings: labelled(cronJob) ? [notSuspended(cronJob)] : [] };
  const decision = decideSchedule(timingOf(cronJob), now);
  switch (decision.kind) {
    case 'wait':
      return { kind: 'idle', next: decision.next };
    case 'run':
      return {
        kind: 'due',
        scheduledTime: decision.scheduledTime,
        runName: scheduledRunName(cronJob.metadata?.name ?? '', decision.scheduledTime),
        next: decision.next,
        warnings: decision.warnings,
      };
    case 'missed':
      return { kind: 'missed', scheduledTime: decision.scheduledTime, next: decision.next, warnings: decision.warnings };
    case 'invalid':
      return { kind: 'invalid', warnings: decision.warnings };
  }
}

/** What the CronJob listing shows about scheduling. */
export interface SchedulerView {
  scheduler: SchedulerOwner;
  /** The next time the CronJob fires (whoever fires it), RFC 3339 UTC; null when nobody will. */
  nextRunTime: string | null;
  warnings: SchedulerWarning[];
}

function nextByCluster(cronJob: V1CronJob, now: Date): { next: Date | null; warnings: SchedulerWarning[] } {
  try {
    const [next] = nextRunTimes(parseSchedule(cronJob.spec.schedule, cronJob.spec.timeZone), now, 1);
    return { next: next ?? null, warnings: [] };
  } catch (err) {
    if (!(err instanceof ScheduleError)) throw err;
    return { next: null, warnings: [{ reason: err.field === 'timeZone' ? 'UnknownTimeZone' : 'InvalidSchedule', message: err.message }] };
  }
}

export function schedulerView(cronJob: V1CronJob, now: Date): SchedulerView {
  const evaluation = evaluateCronJob(cronJob, now);
  const view = (next: Date | null, warnings: SchedulerWarning[]): SchedulerView => ({
    scheduler: schedulerOf(cronJob),
    nextRunTime: next ? rfc3339(next) : null,
    warnings,
  });
  switch (evaluation.kind) {
    case 'notHandedOver': {
      // A suspended CronJob the app does not own is fired by nobody.
      if (cronJob.spec.suspend === true) return view(null, evaluation.warnings);
      const cluster = nextByCluster(cronJob, now);
      return view(cluster.next, [...evaluation.warnings, ...cluster.warnings]);
    }
    case 'idle':
      return view(evaluation.next, []);
    // Due now: the next tick (within a minute) starts it.
    case 'due':
      return view(evaluation.scheduledTime, evaluation.warnings);
    case 'missed':
      return view(evaluation.next, evaluation.warnings);
    case 'invalid':
      return view(null, evaluation.warnings);
  }
}

/**
 * A Warning Event on the CronJob, named from (CronJob uid, reason, key) so that every scheduler instance and
 * every later tick that sees the same condition for the same `key` (a due time, a schedule) writes the same
 * Event: the second create is AlreadyExists, and a person sees it once, not once a minute.
 */
export function warningEvent(cronJob: V1CronJob, warning: SchedulerWarning, key: string, now: Date): CoreV1Event {
  const name = cronJob.metadata?.name ?? '';
  const namespace = cronJob.metadata?.namespace ?? '';
  const uid = cronJob.metadata?.uid ?? '';
  const digest = createHash('sha256').update([uid, warning.reason, key].join('\n')).digest('hex').slice(0, 16);
  return {
    metadata: { name: `${name}.${digest}`, namespace },
    involvedObject: { apiVersion: 'batch/v1', kind: 'CronJob', name, namespace, uid, resourceVersion: cronJob.metadata?.resourceVersion },
    type: 'Warning',
    reason: warning.reason,
    message: warning.message,
    count: 1,
    firstTimestamp: now,
    lastTimestamp: now,
    source: { component: SCHEDULER_COMPONENT },
    reportingComponent: SCHEDULER_COMPONENT,
    reportingInstance: SCHEDULER_COMPONENT,
  };
}

/** What makes two sightings of a warning the same condition, for warningEvent's `key`. */
export function warningKey(cronJob: V1CronJob, evaluation: Evaluation): string {
  switch (evaluation.kind) {
    case 'due':
    case 'missed':
      return rfc3339(evaluation.scheduledTime);
    case 'invalid':
      return `${cronJob.spec.schedule}\n${cronJob.spec.timeZone ?? ''}`;
    default:
      // NotSuspended: once per version of the spec (suspending or editing it moves the generation on).
      return String(cronJob.metadata?.generation ?? 0);
  }
}
