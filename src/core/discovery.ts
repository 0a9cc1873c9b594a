import type { V1CronJob, V1EnvVar, V1Job, V1ObjectMeta, V1PodTemplateSpec } from '@kubernetes/client-node';

import { commandParams, notRunnable } from './consent.js';
import { literalOf } from './expansion.js';
import { lastScheduleTimeOf, type SchedulerView, schedulerView } from './scheduler.js';

/** What discovery tells about a Job or CronJob: enough to call it, with its env as string parameters. */
export interface SourceSummary {
  kind: 'Job' | 'CronJob';
  name: string;
  namespace: string;
  cluster: string;
  image: string | null;
  /**
   * containers[0] env with literal values: the parameters a caller can override, with their values as defaults
   * (null for every one when the operator hides values: DISCOVERY_SHOW_ENV_VALUES=false).
   */
  params: Record<string, string | null>;
  /**
   * containers[0] env taken from secrets, config maps or fields, their values not shown: a caller replaces them
   * only where the source's allow-env annotation says so.
   */
  referencedParams: string[];
  /**
   * Env names containers[0]'s command or args substitute as `$(NAME)` (directly or through a plain value they
   * refer to) that the source's allow-env annotation does not name: a value for one would be part of what runs,
   * so the start route refuses it, whether it is in `params` or not.
   */
  commandParams: string[];
  /** False when the start route would refuse it (its runnable annotation, or SOURCES_OPT_IN), with the reason. */
  runnable: boolean;
  notRunnableReason: string | null;
  createdAt: string | null;
  runUrl: string;
}

export interface CronJobSummary extends SourceSummary, SchedulerView {
  schedule: string;
  timeZone: string | null;
  suspended: boolean;
  lastScheduleTime: string | null;
  lastSuccessfulTime: string | null;
}

/**
 * A plain value as a caller would send it to get the same: `$$` read as the kubelet reads it (a `$`), since a
 * caller's value is made literal. A `$(NAME)` reference stays as written: its value is the pod's.
 */
function envParams(env: readonly V1EnvVar[] | undefined): Pick<SourceSummary, 'params' | 'referencedParams'> {
  const params: Record<string, string> = {};
  const referencedParams: string[] = [];
  for (const entry of env ?? []) {
    if (entry.valueFrom) referencedParams.push(entry.name);
    else params[entry.name] = literalOf(entry.value ?? '');
  }
  return { params, referencedParams };
}

/** The same summary with the names of its plain env vars but not their values: every key holder reads discovery. */
export function withoutEnvValues<T extends SourceSummary>(summary: T): T {
  return { ...summary, params: Object.fromEntries(Object.keys(summary.params).map((name) => [name, null])) };
}

function fromTemplate(
  meta: V1ObjectMeta | undefined,
  template: V1PodTemplateSpec | undefined,
): Pick<SourceSummary, 'image' | 'params' | 'referencedParams' | 'commandParams'> {
  const first = template?.spec?.containers[0];
  return { image: first?.image ?? null, ...envParams(first?.env), commandParams: commandParams(meta, first) };
}

function iso(value: Date | string | undefined): string | null {
  return value ? new Date(value).toISOString() : null;
}

/** The later of the cluster's last scheduled time and the app's (a CronJob may have been fired by both). */
function latest(cluster: Date | string | undefined, app: Date | null): string | null {
  const times = [cluster ? new Date(cluster) : null, app].filter((t): t is Date => t !== null);
  return times.length > 0 ? new Date(Math.max(...times.map((t) => t.getTime()))).toISOString() : null;
}

/** The part of a summary every runnable source has: its names, containers[0] and where to run it. */
function summarize(
  kind: SourceSummary['kind'],
  source: V1Job | V1CronJob,
  template: V1PodTemplateSpec | undefined,
  cluster: string,
  runUrl: (name: string) => string,
  optIn: boolean,
): SourceSummary {
  const name = source.metadata?.name ?? '';
  const why = notRunnable(kind, name, source.metadata, optIn);
  return {
    kind,
    name,
    namespace: source.metadata?.namespace ?? '',
    cluster,
    ...fromTemplate(source.metadata, template),
    createdAt: iso(source.metadata?.creationTimestamp),
    runUrl: runUrl(name),
    runnable: why === undefined,
    notRunnableReason: why ?? null,
  };
}

export function summarizeJob(job: V1Job, cluster: string, runUrl: (name: string) => string, optIn = false): SourceSummary {
  return summarize('Job', job, job.spec?.template, cluster, runUrl, optIn);
}

export function summarizeCronJob(cronJob: V1CronJob, cluster: string, runUrl: (name: string) => string, now: Date, optIn = false): CronJobSummary {
  return {
    ...summarize('CronJob', cronJob, cronJob.spec.jobTemplate.spec?.template, cluster, runUrl, optIn),
    schedule: cronJob.spec.schedule,
    timeZone: cronJob.spec.timeZone ?? null,
    suspended: cronJob.spec.suspend === true,
    lastScheduleTime: latest(cronJob.status?.lastScheduleTime, lastScheduleTimeOf(cronJob)),
    lastSuccessfulTime: iso(cronJob.status?.lastSuccessfulTime),
    // Who fires it, when next, and what a person should fix: scheduler, nextRunTime, warnings.
    ...schedulerView(cronJob, now),
  };
}
