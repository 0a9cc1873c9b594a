import type { V1Container, V1CronJob, V1Deployment, V1Job, V1ObjectMeta } from '@kubernetes/client-node';

import type { GracePeriods } from '../config.js';
import { commandParams, notRunnable } from './consent.js';
import type { Scheduler } from './cronjob-bodies.js';
import { schedulerOf } from './cronjob-update.js';
import { literalOf } from './expansion.js';
import {
  CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION,
  HTTP_CALL_ANNOTATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  RUN_ID_LABEL,
  SOURCE_DEPLOYMENT_ANNOTATION,
} from './labels.js';
import { scheduledRunName } from './naming.js';
import type { RunStatus } from './run.js';
import { describeSchedule, formatInZone, nextRunTimes, parseSchedule } from './schedule.js';
import { mapRunStatus } from './status.js';

/** How many next run times GET one CronJob shows. */
export const NEXT_RUNS = 5;
/** How many of its latest runs GET one CronJob shows (the history limits keep fewer by default). */
export const LATEST_RUNS = 20;

/**
 * Who started a run: `cluster` the CronJob controller on its schedule, `schedule` the app's scheduler, `http` a
 * run started through this app's run route, `manual` one made by hand (`kubectl create job --from`).
 */
export type RunTrigger = 'cluster' | 'schedule' | 'http' | 'manual';

/** One run of a CronJob, from the Job that is (or was) it. */
export interface CronJobRun {
  runId: string;
  status: RunStatus;
  reason: string;
  message: string;
  trigger: RunTrigger;
  scheduledTime: string | null;
  createdAt: string | null;
  startTime: string | null;
  completionTime: string | null;
}

export interface LastRun {
  time: string;
  result: RunStatus;
  /** The run's Job name (its run id); also when the Job itself is gone, as the controller names them. */
  runId: string;
}

/** What the CronJob listing adds about runs: the last one and the ones running now. */
export interface CronJobRunsSummary {
  lastRun: LastRun | null;
  /** Names of the Jobs the CronJob counts as active (its status.active). */
  activeRuns: string[];
}

export interface NextRun {
  utc: string;
  /** The same instant as wall-clock time in the schedule's zone. */
  local: string;
}

export interface SchedulePreview {
  schedule: string;
  timeZone: string;
  description: string;
  nextRuns: NextRun[];
}

function iso(value: Date | string | undefined | null): string | null {
  return value === undefined || value === null ? null : new Date(value).toISOString();
}

/** A namespace's Jobs by the uid of the CronJob that is their controller, built once for a whole listing. */
export type JobsByCronJob = ReadonlyMap<string, readonly V1Job[]>;

/** Group Jobs by their controlling CronJob: what the CronJob controller counts as each one's own. */
export function jobsByCronJob(jobs: readonly V1Job[]): JobsByCronJob {
  const byUid = new Map<string, V1Job[]>();
  for (const job of jobs) {
    const owner = job.metadata?.ownerReferences?.find((ref) => ref.controller === true && ref.kind === 'CronJob');
    if (!owner) continue;
    const list = byUid.get(owner.uid);
    if (list) list.push(job);
    else byUid.set(owner.uid, [job]);
  }
  return byUid;
}

function triggerOf(job: V1Job): RunTrigger {
  const scheduled = job.metadata?.annotations?.[CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION] !== undefined;
  const ours = job.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE;
  if (ours) return scheduled ? 'schedule' : 'http';
  return scheduled ? 'cluster' : 'manual';
}

/** A run's state from its Job alone (the same verdict rules as a run's status route, without its pods). */
export function runOfJob(job: V1Job, cronJobName: string, cluster: string, grace: GracePeriods, now: Date): CronJobRun {
  const name = job.metadata?.name ?? '';
  // The app's Job of a retry on disruption is `<runId>-<n>`: the run is still the one its run id label names.
  const labels = job.metadata?.labels ?? {};
  const runId = labels[MANAGED_BY_LABEL] === MANAGED_BY_VALUE ? (labels[RUN_ID_LABEL] ?? name) : name;
  const snapshot = mapRunStatus(
    { runId, jobName: name, cluster, namespace: job.metadata?.namespace ?? '', source: { kind: 'CronJob', name: cronJobName } },
    { job, pods: [], events: [], now },
    grace,
    null,
  );
  return {
    runId,
    status: snapshot.status,
    reason: snapshot.reason,
    message: snapshot.message,
    trigger: triggerOf(job),
    scheduledTime: iso(job.metadata?.annotations?.[CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION]),
    createdAt: iso(job.metadata?.creationTimestamp),
    startTime: snapshot.startTime,
    completionTime: snapshot.completionTime,
  };
}

/** The runs of a CronJob: the Jobs whose controller it is. */
export function runsOf(cronJob: V1CronJob, jobs: JobsByCronJob, cluster: string, grace: GracePeriods, now: Date): CronJobRun[] {
  const own = jobs.get(cronJob.metadata?.uid ?? '') ?? [];
  return own.map((job) => runOfJob(job, cronJob.metadata?.name ?? '', cluster, grace, now));
}

function runTime(run: CronJobRun): string {
  return run.startTime ?? run.scheduledTime ?? run.createdAt ?? '';
}

/** Newest first: by start, else scheduled, else creation time; ties by name, so the order is stable. */
export function newestFirst(runs: readonly CronJobRun[]): CronJobRun[] {
  return [...runs].sort((a, b) => runTime(b).localeCompare(runTime(a)) || b.runId.localeCompare(a.runId));
}

/**
 * The last run and the active ones. The newest Job the CronJob owns tells the last run and its result; when
 * the history limits already removed it, the CronJob's status still gives the last scheduled time, and the run
 * succeeded when lastSuccessfulTime is not older than it (otherwise the result is not known any more).
 */
export function runsSummary(cronJob: V1CronJob, runs: readonly CronJobRun[]): CronJobRunsSummary {
  const activeRuns = (cronJob.status?.active ?? []).map((ref) => ref.name ?? '').filter((name) => name !== '');
  const newest = newestFirst(runs)[0];
  const lastSchedule = iso(cronJob.status?.lastScheduleTime);
  let lastRun: LastRun | null = null;
  if (newest && (lastSchedule === null || runTime(newest) >= lastSchedule)) {
    lastRun = { time: runTime(newest), result: newest.status, runId: newest.runId };
  } else if (lastSchedule !== null) {
    const lastSuccess = iso(cronJob.status?.lastSuccessfulTime);
    lastRun = {
      time: lastSchedule,
      result: lastSuccess !== null && lastSuccess >= lastSchedule ? 'Success' : 'Unknown',
      runId: scheduledRunName(cronJob.metadata?.name ?? '', new Date(lastSchedule)),
    };
  }
  return { lastRun, activeRuns };
}

/** The next `count` runs of a schedule, in UTC and in its zone, and the schedule in words. Throws ScheduleError. */
export function schedulePreview(expression: string, timeZone: string | null | undefined, now: Date, count: number): SchedulePreview {
  const parsed = parseSchedule(expression, timeZone);
  return {
    schedule: parsed.expression,
    timeZone: parsed.timeZone,
    description: describeSchedule(parsed),
    nextRuns: nextRunTimes(parsed, now, count).map((at) => ({ utc: at.toISOString(), local: formatInZone(at, parsed.timeZone) })),
  };
}

export interface ContainerView {
  name: string;
  image: string | null;
  command: string[] | null;
  args: string[] | null;
  /**
   * Env with literal values, as the process gets them (a stored `$$` read as `$`): the value to send for no change
   * (null when DISCOVERY_SHOW_ENV_VALUES is off).
   */
  env: Record<string, string | null>;
  /** Env from Secrets, ConfigMaps or fields: names only. */
  referencedEnv: string[];
  /** Names the container's command or args substitute as `$(NAME)` that allow-env does not name: an env edit of them is refused. */
  commandEnv: string[];
}

function containerView(container: V1Container, meta: V1ObjectMeta | undefined): ContainerView {
  const env: Record<string, string> = {};
  const referencedEnv: string[] = [];
  for (const entry of container.env ?? []) {
    if (entry.valueFrom) referencedEnv.push(entry.name);
    else env[entry.name] = literalOf(entry.value ?? '');
  }
  return {
    name: container.name,
    image: container.image ?? null,
    command: container.command ?? null,
    args: container.args ?? null,
    env,
    referencedEnv,
    commandEnv: commandParams(meta, container),
  };
}

export interface CronJobDetail extends CronJobRunsSummary {
  name: string;
  namespace: string;
  cluster: string;
  /** Send it back (body `resourceVersion` or `If-Match`) to update: a stale one is a 409. */
  resourceVersion: string;
  createdAt: string | null;
  scheduler: Scheduler;
  source: { deployment: string } | { httpCall: string } | null;
  settings: {
    schedule: string;
    timeZone: string | null;
    suspend: boolean;
    concurrencyPolicy: string;
    startingDeadlineSeconds: number | null;
    successfulJobsHistoryLimit: number | null;
    failedJobsHistoryLimit: number | null;
    backoffLimit: number | null;
    activeDeadlineSeconds: number | null;
    ttlSecondsAfterFinished: number | null;
    restartPolicy: string | null;
    containers: ContainerView[];
  };
  status: { lastScheduleTime: string | null; lastSuccessfulTime: string | null };
  /** Null with a warning when the stored schedule or zone is not valid. */
  preview: SchedulePreview | null;
  latestRuns: CronJobRun[];
  warnings: string[];
}

function sourceOf(cronJob: V1CronJob): CronJobDetail['source'] {
  const annotations = cronJob.metadata?.annotations ?? {};
  const deployment = annotations[SOURCE_DEPLOYMENT_ANNOTATION];
  if (deployment !== undefined) return { deployment };
  const call = annotations[HTTP_CALL_ANNOTATION];
  return call === undefined ? null : { httpCall: call };
}

/** Everything GET one CronJob tells: settings, status, the next runs and the latest ones. */
export function cronJobDetail(cronJob: V1CronJob, runs: readonly CronJobRun[], cluster: string, now: Date): CronJobDetail {
  const spec = cronJob.spec;
  const jobSpec = spec.jobTemplate.spec;
  const warnings: string[] = [];
  let preview: SchedulePreview | null = null;
  try {
    preview = schedulePreview(spec.schedule, spec.timeZone, now, NEXT_RUNS);
  } catch (err) {
    warnings.push(`the schedule cannot be used: ${err instanceof Error ? err.message : String(err)}`);
  }
  const scheduler = schedulerOf(cronJob);
  if (scheduler === 'app' && spec.suspend !== true) {
    warnings.push('labelled for the app scheduler but not suspended: the app does not fire it, the cluster does; hand it over again to suspend it');
  }
  return {
    name: cronJob.metadata?.name ?? '',
    namespace: cronJob.metadata?.namespace ?? '',
    cluster,
    resourceVersion: cronJob.metadata?.resourceVersion ?? '',
    createdAt: iso(cronJob.metadata?.creationTimestamp),
    scheduler,
    source: sourceOf(cronJob),
    settings: {
      schedule: spec.schedule,
      timeZone: spec.timeZone ?? null,
      suspend: spec.suspend === true,
      concurrencyPolicy: spec.concurrencyPolicy ?? 'Allow',
      startingDeadlineSeconds: spec.startingDeadlineSeconds ?? null,
      successfulJobsHistoryLimit: spec.successfulJobsHistoryLimit ?? null,
      failedJobsHistoryLimit: spec.failedJobsHistoryLimit ?? null,
      backoffLimit: jobSpec?.backoffLimit ?? null,
      activeDeadlineSeconds: jobSpec?.activeDeadlineSeconds ?? null,
      ttlSecondsAfterFinished: jobSpec?.ttlSecondsAfterFinished ?? null,
      restartPolicy: jobSpec?.template.spec?.restartPolicy ?? null,
      containers: (jobSpec?.template.spec?.containers ?? []).map((c) => containerView(c, cronJob.metadata)),
    },
    status: { lastScheduleTime: iso(cronJob.status?.lastScheduleTime), lastSuccessfulTime: iso(cronJob.status?.lastSuccessfulTime) },
    preview,
    ...runsSummary(cronJob, runs),
    latestRuns: newestFirst(runs).slice(0, LATEST_RUNS),
    warnings,
  };
}

/** The detail with its containers' env names and no values, for DISCOVERY_SHOW_ENV_VALUES=false. */
export function detailWithoutEnvValues<T extends CronJobDetail>(detail: T): T {
  const containers = detail.settings.containers.map((c) => ({ ...c, env: Object.fromEntries(Object.keys(c.env).map((name) => [name, null])) }));
  return { ...detail, settings: { ...detail.settings, containers } };
}

/**
 * A CronJob manifest with every literal env value of its pod template left out (names and references kept), for
 * answers under DISCOVERY_SHOW_ENV_VALUES=false: a created CronJob shows what a caller may not read in discovery.
 */
export function cronJobWithoutEnvValues(cronJob: V1CronJob): V1CronJob {
  const copy = structuredClone(cronJob);
  const pod = copy.spec.jobTemplate.spec?.template.spec;
  for (const container of [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])]) {
    for (const entry of container.env ?? []) delete entry.value;
  }
  return copy;
}

/** What the Deployments listing tells: enough to pick one and its container for a new CronJob. */
export interface DeploymentSummary {
  name: string;
  namespace: string;
  cluster: string;
  replicas: number;
  containers: { name: string; image: string | null; env: string[]; referencedEnv: string[]; commandEnv: string[] }[];
  createdAt: string | null;
  /** False when a CronJob cannot be made from it (its runnable annotation, or SOURCES_OPT_IN), with the reason. */
  runnable: boolean;
  notRunnableReason: string | null;
}

export function summarizeDeployment(deployment: V1Deployment, cluster: string, optIn: boolean): DeploymentSummary {
  const why = notRunnable('Deployment', deployment.metadata?.name ?? '', deployment.metadata, optIn);
  return {
    name: deployment.metadata?.name ?? '',
    namespace: deployment.metadata?.namespace ?? '',
    cluster,
    replicas: deployment.spec?.replicas ?? 1,
    containers: (deployment.spec?.template.spec?.containers ?? []).map((c) => {
      const view = containerView(c, deployment.metadata);
      return { name: view.name, image: view.image, env: Object.keys(view.env), referencedEnv: view.referencedEnv, commandEnv: view.commandEnv };
    }),
    createdAt: iso(deployment.metadata?.creationTimestamp),
    runnable: why === undefined,
    notRunnableReason: why ?? null,
  };
}
