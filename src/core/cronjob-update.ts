import type { V1CronJob, V1EnvVar } from '@kubernetes/client-node';

import { overlayEnv } from './clone.js';
import type { Scheduler, UpdateCronJobBody } from './cronjob-bodies.js';
import { BadRequestError } from './errors.js';
import { SCHEDULER_APP, SCHEDULER_LABEL } from './labels.js';
import { presetToCron } from './presets.js';

/** One RFC 6902 operation. */
export interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace';
  path: string;
  value?: unknown;
}

export interface UpdatePlan {
  /** The JSON patch, its first operation the caller's resourceVersion (the API server's precondition). */
  ops: JsonPatchOp[];
  /** The schedule and zone after the update, to validate before anything is sent. */
  schedule: string;
  timeZone: string | null;
  /** The fields that change, for the log. */
  changed: string[];
}

/** RFC 6901: `~` and `/` inside a key are escaped. */
function pointer(...segments: (string | number)[]): string {
  return segments.map((s) => `/${String(s).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

export function schedulerOf(cronJob: V1CronJob): Scheduler {
  return cronJob.metadata?.labels?.[SCHEDULER_LABEL] === SCHEDULER_APP ? 'app' : 'cluster';
}

function applyEnv(env: readonly V1EnvVar[] | undefined, changes: Readonly<Record<string, string | null>>): V1EnvVar[] {
  const removed = new Set(Object.entries(changes).filter(([, v]) => v === null).map(([k]) => k));
  const set = Object.fromEntries(Object.entries(changes).filter((e): e is [string, string] => e[1] !== null));
  return overlayEnv((env ?? []).filter((e) => !removed.has(e.name)), set);
}

/**
 * The JSON patch that makes a CronJob what the body asks: only the fields that change, `null` removing one
 * (`activeDeadlineSeconds: null` sets `defaultDeadlineSeconds` instead).
 * The patch carries the caller's resourceVersion, so the API server refuses it (409) when the CronJob changed
 * since the caller read it, instead of overwriting someone else's change. Handing over to the app's scheduler
 * sets its label and suspends the CronJob (the cluster must not fire it too); handing back removes the label
 * and clears suspend unless the body says otherwise.
 */
export function planCronJobUpdate(current: V1CronJob, body: UpdateCronJobBody, resourceVersion: string, defaultDeadlineSeconds: number): UpdatePlan {
  const ops: JsonPatchOp[] = [];
  const changed: string[] = [];
  const set = (field: string, path: string, before: unknown, after: unknown) => {
    if (after === undefined) return;
    if (after === null) {
      if (before !== undefined && before !== null) {
        ops.push({ op: 'remove', path });
        changed.push(field);
      }
      return;
    }
    if (JSON.stringify(before) !== JSON.stringify(after)) {
      ops.push({ op: 'add', path, value: after });
      changed.push(field);
    }
  };
  const spec = current.spec;
  const jobSpec = spec.jobTemplate.spec;
  const podSpec = jobSpec?.template.spec;
  if (!jobSpec || !podSpec) throw new BadRequestError(`CronJob "${current.metadata?.name ?? ''}" has no jobTemplate to update`);

  const schedule = body.preset !== undefined ? presetToCron({ preset: body.preset, at: body.at, weekday: body.weekday, day: body.day }) : body.schedule;
  set('schedule', '/spec/schedule', spec.schedule, schedule);
  set('timeZone', '/spec/timeZone', spec.timeZone, body.timeZone);
  set('concurrencyPolicy', '/spec/concurrencyPolicy', spec.concurrencyPolicy, body.concurrencyPolicy);
  set('startingDeadlineSeconds', '/spec/startingDeadlineSeconds', spec.startingDeadlineSeconds, body.startingDeadlineSeconds);
  set('successfulJobsHistoryLimit', '/spec/successfulJobsHistoryLimit', spec.successfulJobsHistoryLimit, body.successfulJobsHistoryLimit);
  set('failedJobsHistoryLimit', '/spec/failedJobsHistoryLimit', spec.failedJobsHistoryLimit, body.failedJobsHistoryLimit);
  set('backoffLimit', '/spec/jobTemplate/spec/backoffLimit', jobSpec.backoffLimit, body.backoffLimit);
  // No Job of the app runs for ever: `null` puts back the default deadline (JOB_ACTIVE_DEADLINE_SECONDS).
  const deadline = body.activeDeadlineSeconds === null ? defaultDeadlineSeconds : body.activeDeadlineSeconds;
  set('activeDeadlineSeconds', '/spec/jobTemplate/spec/activeDeadlineSeconds', jobSpec.activeDeadlineSeconds, deadline);
  set('ttlSecondsAfterFinished', '/spec/jobTemplate/spec/ttlSecondsAfterFinished', jobSpec.ttlSecondsAfterFinished, body.ttlSecondsAfterFinished);
  set('restartPolicy', '/spec/jobTemplate/spec/template/spec/restartPolicy', podSpec.restartPolicy, body.restartPolicy);

  const labels = current.metadata?.labels;
  const before = schedulerOf(current);
  let suspend = body.suspend;
  if (body.scheduler === 'app') {
    if (labels === undefined) set('scheduler', '/metadata/labels', undefined, { [SCHEDULER_LABEL]: SCHEDULER_APP });
    else set('scheduler', pointer('metadata', 'labels', SCHEDULER_LABEL), labels[SCHEDULER_LABEL], SCHEDULER_APP);
    suspend = true;
  } else if (body.scheduler === 'cluster') {
    set('scheduler', pointer('metadata', 'labels', SCHEDULER_LABEL), labels?.[SCHEDULER_LABEL], null);
    suspend ??= false;
  } else if (before === 'app' && body.suspend === false) {
    throw new BadRequestError(
      'suspend: this CronJob is scheduled by the app, which needs it suspended so the cluster does not run it too; send {"scheduler": "cluster"} to let the cluster run it',
    );
  }
  set('suspend', '/spec/suspend', spec.suspend ?? false, suspend);

  if (body.container !== undefined || body.command !== undefined || body.args !== undefined || body.env !== undefined) {
    const index = body.container === undefined ? 0 : podSpec.containers.findIndex((c) => c.name === body.container);
    const container = podSpec.containers[index];
    if (!container) {
      throw new BadRequestError(
        `container: CronJob "${current.metadata?.name ?? ''}" has no container "${body.container ?? ''}"; it has ${podSpec.containers.map((c) => `"${c.name}"`).join(', ')}`,
      );
    }
    const path = (field: string) => pointer('spec', 'jobTemplate', 'spec', 'template', 'spec', 'containers', index, field);
    set('command', path('command'), container.command, body.command);
    set('args', path('args'), container.args, body.args);
    if (body.env !== undefined) {
      const env = applyEnv(container.env, body.env);
      set('env', path('env'), container.env ?? [], env.length > 0 ? env : container.env === undefined ? undefined : null);
    }
  }

  if (ops.length === 0) {
    throw new BadRequestError(
      'nothing to change: the body sets every field to its current value, or names none (schedule, preset, timeZone, suspend, scheduler, command, args, env, concurrencyPolicy, deadlines, limits, restartPolicy)',
    );
  }
  return {
    ops: [{ op: 'replace', path: '/metadata/resourceVersion', value: resourceVersion }, ...ops],
    schedule: schedule ?? spec.schedule,
    timeZone: body.timeZone === undefined ? (spec.timeZone ?? null) : body.timeZone,
    changed,
  };
}
