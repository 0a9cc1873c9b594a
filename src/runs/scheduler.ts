import type { V1CronJob, V1Job } from '@kubernetes/client-node';

import type { ClusterRegistry } from '../clients/clusters.js';
import type { KubeGateway } from '../clients/kube.js';
import type { Invocation } from '../clients/telemetry.js';
import type { ClusterSettings, Config } from '../config.js';
import { activeRunsOf, concurrencyPolicyOf, decideConcurrency } from '../core/concurrency.js';
import { ensureError, isAlreadyExists, KubeApiError } from '../core/errors.js';
import { LAST_SCHEDULE_ANNOTATION, SCHEDULER_SELECTOR } from '../core/labels.js';
import { retryConsentOf } from '../core/retry.js';
import { requestHash, type RunRef, type RunRequest } from '../core/run.js';
import { expectationFor, latenessSeconds } from '../core/schedule-signals.js';
import { evaluateCronJob, type Evaluation, rfc3339, scheduledRunIds, type SchedulerWarning, warningEvent, warningKey } from '../core/scheduler.js';
import { type JobRunInput, runRefSchema } from '../core/schemas.js';
import { cancelActiveRuns, namespaceJobs } from './concurrency.js';
import { expectedDueTime, firedLate, missedDueTime, tickDone } from './scheduler-signals.js';
import { launchRun, type RunInstances } from './start.js';

/** Where a run's orchestration says it runs: enough to tell whose run an id is. */
export type RunOwner = Pick<RunRef, 'cluster' | 'namespace' | 'source'>;

export interface TickDeps {
  config: Config;
  clusters: ClusterRegistry;
  runs: RunInstances;
  log: (line: string) => void;
  /** The timer's invocation (its InvocationContext), whose trace the scheduler's events are in. */
  invocation?: Invocation | undefined;
  /** The wall clock, for the fire time of a run (its lateness); the real clock when absent. */
  clock?: () => Date;
}

/** What one tick did, for logs, tests and the benchmark. */
export interface TickReport {
  /** Handed-over CronJobs looked at (labelled ones that are not suspended included). */
  cronJobs: number;
  started: string[];
  /** Runs that already existed for their due time: another instance or an earlier tick started them. */
  existing: string[];
  /** Due runs not started because of concurrencyPolicy Forbid. */
  forbidden: string[];
  /** Runs cancelled by concurrencyPolicy Replace. */
  replaced: string[];
  /** One line per warning seen (also written as an Event on the CronJob). */
  warnings: string[];
  /** Failures that kept a cluster, a namespace or a CronJob from being handled this tick. */
  errors: string[];
  /** Due times found passed without a run and skipped (MissSchedule, TooManyMissedTimes): `<namespace>/<name>: <reason>`. */
  missed: string[];
}

const PAGE = 500;
/** Events expire after an hour (the API server's default --event-ttl); a condition still there is reported again. */
const REPORTED_FOR_MS = 50 * 60_000;

/**
 * What one process remembers between ticks, per cluster gateway (so it lives as long as the gateway does):
 * - CronJobs found idle, by uid, with the resourceVersion they were seen at and their next time. Until that
 *   time, and while the CronJob is unchanged, nothing can come due (the decision is a pure function of the
 *   CronJob and now), so the schedule maths is skipped; most CronJobs are idle at most ticks.
 * - Events already written, so a standing condition costs no request a minute (the Event's name already makes a
 *   second one AlreadyExists, across instances too).
 */
interface Memory {
  idle: Map<string, { resourceVersion: string; until: number }>;
  reported: Map<string, number>;
}
const memories = new WeakMap<KubeGateway, Memory>();

function memoryOf(gateway: KubeGateway, now: Date): Memory {
  let memory = memories.get(gateway);
  if (!memory) {
    memory = { idle: new Map(), reported: new Map() };
    memories.set(gateway, memory);
  }
  for (const [key, until] of memory.idle) if (until.until <= now.getTime()) memory.idle.delete(key);
  for (const [key, until] of memory.reported) if (until <= now.getTime()) memory.reported.delete(key);
  return memory;
}
/** CronJobs handled at once per cluster: enough to keep a tick short, few enough not to flood the API server. */
const PARALLEL = 8;

async function allPages(list: (continueToken: string | undefined) => Promise<{ items: V1CronJob[]; continueToken: string | undefined }>): Promise<V1CronJob[]> {
  const items: V1CronJob[] = [];
  let token: string | undefined;
  do {
    const page = await list(token);
    items.push(...page.items);
    token = page.continueToken;
  } while (token);
  return items;
}

async function pool<T>(items: readonly T[], size: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++];
      if (item !== undefined) await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, worker));
}

/**
 * The orchestration input of a scheduled run: a run of the CronJob's template as it is, no overrides, with the
 * retries on disruption its annotation allows (core/retry.ts; no request to ask for fewer).
 */
export function scheduledRunInput(config: Config, cluster: string, cronJob: V1CronJob, runId: string, scheduledTime: Date, startedAt: Date): JobRunInput {
  const namespace = cronJob.metadata?.namespace ?? '';
  const retries = retryConsentOf(cronJob.metadata?.annotations).retries;
  const source = { kind: 'CronJob' as const, name: cronJob.metadata?.name ?? '' };
  const request: RunRequest = {
    runId,
    cluster,
    namespace,
    source,
    overrides: {},
    requestHash: requestHash({ cluster, namespace, source, overrides: {} }),
    ...(config.defaultRunTimeoutSeconds > 0 ? { timeoutSeconds: config.defaultRunTimeoutSeconds } : {}),
    startedBy: 'scheduler',
    trigger: { kind: 'schedule', scheduledTime: rfc3339(scheduledTime) },
    ...(retries > 0 ? { retryOnDisruption: retries } : {}),
  };
  // When it was started, as an HTTP start records it: the run's duration and time to Running are measured from it.
  return { request, poll: { ...config.poll }, retry: { ...config.activityRetry }, startedAt: startedAt.toISOString() };
}

/**
 * One scheduler tick: every handed-over CronJob of every configured cluster is evaluated at `now` and its due
 * run started. Clusters run side by side, and every failure is caught where it happens, so one cluster that
 * does not answer, one namespace the app may not list, or one bad CronJob never holds the others back.
 */
export async function schedulerTick(deps: TickDeps, now: Date): Promise<TickReport> {
  const began = performance.now();
  const report: TickReport = { cronJobs: 0, started: [], existing: [], forbidden: [], replaced: [], warnings: [], errors: [], missed: [] };
  await Promise.all(deps.config.clusters.map((settings) => tickCluster(deps, settings, now, report)));
  // The heartbeat the "scheduler stopped" alert watches: one per tick that ran to its end, errors or not.
  tickDone((performance.now() - began) / 1000, report.errors.length === 0);
  return report;
}

async function tickCluster(deps: TickDeps, settings: ClusterSettings, now: Date, report: TickReport): Promise<void> {
  const alias = settings.alias;
  const fail = (where: string, err: unknown) => {
    const line = `scheduler: ${where} on cluster ${alias}: ${ensureError(err).message}`;
    report.errors.push(line);
    deps.log(line);
  };
  let gateway: KubeGateway;
  try {
    gateway = deps.clusters.gateway(alias);
  } catch (err) {
    fail('no gateway', err);
    return;
  }
  const options = (continueToken: string | undefined) => ({ labelSelector: SCHEDULER_SELECTOR, limit: PAGE, continueToken });
  const lists = settings.namespaces.includes('*')
    ? [{ where: 'listing CronJobs in all namespaces', list: () => allPages((t) => gateway.listCronJobsInAllNamespaces(options(t))) }]
    : settings.namespaces.map((namespace) => ({ where: `listing CronJobs in ${namespace}`, list: () => allPages((t) => gateway.listCronJobs(namespace, options(t))) }));
  const cronJobs: V1CronJob[] = [];
  await Promise.all(
    lists.map(async ({ where, list }) => {
      try {
        cronJobs.push(...(await list()));
      } catch (err) {
        fail(where, err);
      }
    }),
  );
  report.cronJobs += cronJobs.length;

  // The Jobs of a namespace are read once per tick, and only when a due CronJob's policy needs them.
  const jobs = new Map<string, Promise<V1Job[]>>();
  const jobsOf = (namespace: string) => {
    let listed = jobs.get(namespace);
    if (!listed) {
      listed = namespaceJobs(gateway, namespace);
      jobs.set(namespace, listed);
    }
    return listed;
  };
  const memory = memoryOf(gateway, now);
  await pool(cronJobs, PARALLEL, async (cronJob) => {
    try {
      await fire(deps, alias, gateway, cronJob, now, report, jobsOf, memory);
    } catch (err) {
      fail(`CronJob ${cronJob.metadata?.namespace ?? ''}/${cronJob.metadata?.name ?? ''}`, err);
    }
  });
}

async function warn(
  gateway: KubeGateway,
  cronJob: V1CronJob,
  evaluation: Evaluation,
  warnings: readonly SchedulerWarning[],
  now: Date,
  report: TickReport,
  memory: Memory,
  log: (line: string) => void,
): Promise<void> {
  const namespace = cronJob.metadata?.namespace ?? '';
  for (const warning of warnings) {
    report.warnings.push(`${namespace}/${cronJob.metadata?.name ?? ''}: ${warning.reason}: ${warning.message}`);
    const event = warningEvent(cronJob, warning, warningKey(cronJob, evaluation), now);
    const key = `${namespace}/${event.metadata.name ?? ''}`;
    if (memory.reported.has(key)) continue;
    try {
      await gateway.createEvent(namespace, event);
    } catch (err) {
      // AlreadyExists: this condition was reported for this key already, by this instance or another. Any
      // other failure (a Role without `create events`) is logged, and never holds back the CronJob's run.
      if (!isAlreadyExists(err)) {
        const line = `scheduler: ${namespace}/${cronJob.metadata?.name ?? ''}: could not write the ${warning.reason} Event: ${ensureError(err).message}`;
        report.errors.push(line);
        log(line);
        continue;
      }
    }
    memory.reported.set(key, now.getTime() + REPORTED_FOR_MS);
  }
}

async function fire(
  deps: TickDeps,
  cluster: string,
  gateway: KubeGateway,
  cronJob: V1CronJob,
  now: Date,
  report: TickReport,
  jobsOf: (namespace: string) => Promise<V1Job[]>,
  memory: Memory,
  reread = true,
): Promise<void> {
  const uid = cronJob.metadata?.uid ?? '';
  const resourceVersion = cronJob.metadata?.resourceVersion ?? '';
  const expect = (dueAt: Date | null) => {
    if (dueAt) expectedDueTime(cluster, cronJob, expectationFor(dueAt, cronJob.spec.startingDeadlineSeconds), deps.invocation);
  };
  const idle = memory.idle.get(uid);
  if (idle?.resourceVersion === resourceVersion) {
    expect(Number.isFinite(idle.until) ? new Date(idle.until) : null);
    return;
  }
  const evaluation = evaluateCronJob(cronJob, now);
  // Every tick says, per handed-over CronJob, which due time comes next and by when its run must start: the
  // missed-due-time alert joins these with the runs started, so it fires also once this scheduler has stopped.
  if (evaluation.kind === 'idle' || evaluation.kind === 'missed') expect(evaluation.next);
  if (evaluation.kind === 'due') {
    expect(evaluation.scheduledTime);
    expect(evaluation.next);
  }
  if (evaluation.kind === 'idle') {
    if (uid && resourceVersion) memory.idle.set(uid, { resourceVersion, until: evaluation.next?.getTime() ?? Number.POSITIVE_INFINITY });
    return;
  }
  for (const warning of evaluation.warnings) {
    if (warning.reason !== 'MissSchedule' && warning.reason !== 'TooManyMissedTimes') continue;
    // Once per condition and due time, as the Events are: a run held by Forbid is decided again every tick.
    const key = `missed:${uid}:${warning.reason}:${warningKey(cronJob, evaluation)}`;
    if (memory.reported.has(key)) continue;
    memory.reported.set(key, now.getTime() + REPORTED_FOR_MS);
    report.missed.push(`${cronJob.metadata?.namespace ?? ''}/${cronJob.metadata?.name ?? ''}: ${warning.reason}`);
    missedDueTime(cluster, cronJob, warning.reason, warning.message, evaluation.kind === 'missed' ? evaluation.scheduledTime : null, deps.invocation);
  }
  await warn(gateway, cronJob, evaluation, evaluation.warnings, now, report, memory, deps.log);
  // A time missed past startingDeadlineSeconds is recorded as taken, so it is reported once; no later decision
  // looks before now - startingDeadlineSeconds, so this changes none.
  if (evaluation.kind === 'missed') await recordScheduleTime(deps, gateway, cronJob, evaluation.scheduledTime);
  if (evaluation.kind !== 'due') return;

  const namespace = cronJob.metadata?.namespace ?? '';
  const name = cronJob.metadata?.name ?? '';
  const { scheduledTime } = evaluation;
  const ids = scheduledRunIds(cronJob, cluster, scheduledTime);
  const ours = (owner: RunOwner) => owner.cluster === cluster && owner.namespace === namespace && owner.source.kind === 'CronJob' && owner.source.name === name;
  // The time is taken when its run exists: a second evaluation of the same minute (another instance, a retry,
  // a restart before the annotation was written) only records it. A finished instance must never be started
  // again: Durable would overwrite it with a new run.
  let target = await resolveRun(deps.runs, ids, ours);
  if (target.exists) {
    report.existing.push(target.runId);
    await recordScheduleTime(deps, gateway, cronJob, scheduledTime);
    return;
  }

  const policy = concurrencyPolicyOf(cronJob);
  let replace: V1Job[] = [];
  if (policy !== 'Allow') {
    const active = activeRunsOf(cronJob, await jobsOf(namespace)).filter((job) => !ids.includes(job.metadata?.name ?? ''));
    const decision = decideConcurrency(policy, active.map((job) => job.metadata?.name ?? ''));
    if (decision.kind === 'skip') {
      // As the CronJob controller does: the due time stays unmet, so the run starts once the active one ends
      // (within startingDeadlineSeconds, when set).
      report.forbidden.push(target.runId);
      deps.log(`scheduler: ${namespace}/${name}: not starting ${target.runId}, concurrencyPolicy Forbid and ${decision.active.join(', ')} active`);
      return;
    }
    replace = active;
  }

  // The due time is claimed before anything is started or cancelled: the annotation, written with the
  // resourceVersion this decision was made on, is taken by one tick only. Reading the run first is not enough:
  // a tick that read "no run" before another tick's run started and finished would start it again, as Durable's
  // startNew replaces a finished instance (docs/decisions.md, "Issue 20, item 3").
  const claim = await claimScheduleTime(deps, gateway, cronJob, scheduledTime);
  if (!claim) {
    // Changed since it was listed: another tick took this time (then it starts the run), or a person edited
    // the CronJob (then it is decided again, once, as it is now, so a short startingDeadlineSeconds is kept).
    const fresh = reread ? await gateway.readCronJob(namespace, name) : null;
    if (fresh && fresh.metadata?.annotations?.[LAST_SCHEDULE_ANNOTATION] !== rfc3339(scheduledTime)) {
      await fire(deps, cluster, gateway, fresh, now, report, jobsOf, memory, false);
      return;
    }
    report.existing.push(target.runId);
    deps.log(`scheduler: ${namespace}/${name}: ${rfc3339(scheduledTime)} was taken by another tick`);
    return;
  }
  try {
    if (replace.length > 0) {
      await cancelActiveRuns(deps.runs.requestCancel, gateway, namespace, replace, `replaced by the scheduled run ${target.runId} (concurrencyPolicy Replace)`, deps.log);
      report.replaced.push(...replace.map((job) => job.metadata?.name ?? ''));
    }
    const launch = (runId: string) => launchRun(deps.runs, runId, scheduledRunInput(deps.config, cluster, cronJob, runId, scheduledTime, deps.clock?.() ?? new Date()));
    let launched = await launch(target.runId);
    if (launched.existing) {
      // Started in between by another instance before the claim (then it is this run), or, for the
      // controller's name, by a CronJob of the same name elsewhere (then this run takes the other id).
      const again = await resolveRun(deps.runs, ids, ours);
      if (again.exists) {
        report.existing.push(again.runId);
        return;
      }
      target = again;
      launched = await launch(target.runId);
      if (launched.existing) throw new Error(`the run id ${target.runId} was taken while it was being started`);
    }
  } catch (err) {
    await releaseScheduleTime(deps, gateway, cronJob, claim);
    throw err;
  }
  report.started.push(target.runId);
  const lateness = latenessSeconds(scheduledTime, deps.clock?.() ?? new Date());
  firedLate(cluster, cronJob, lateness);
  deps.log(`scheduler: ${namespace}/${name}: started ${target.runId} for ${rfc3339(scheduledTime)}, ${lateness.toFixed(1)} s after its due time`);
}

/**
 * Whose run the orchestration with this id is, in any state; null when there is none, undefined when it exists
 * but its input cannot be read. Throws when Durable cannot be asked.
 */
async function ownerOf(runs: RunInstances, runId: string): Promise<RunOwner | null | undefined> {
  const instance = await runs.find(runId);
  if (!instance) return null;
  const ref = runRefSchema().safeParse((instance.input as { request?: unknown } | null | undefined)?.request);
  return ref.success ? ref.data : undefined;
}

/** The first of the run ids that is free or already this CronJob's run for the time. */
async function resolveRun(runs: RunInstances, ids: readonly string[], ours: (owner: RunOwner) => boolean): Promise<{ runId: string; exists: boolean }> {
  for (const runId of ids) {
    const owner = await ownerOf(runs, runId);
    if (owner === null) return { runId, exists: false };
    // An input that cannot be read is taken as this run: a missed run is better than a second one.
    if (owner === undefined || ours(owner)) return { runId, exists: true };
  }
  throw new Error(`the run ids ${ids.join(' and ')} are both taken by runs of other CronJobs`);
}

/**
 * Take the due time for this tick: the scheduled time written on the CronJob, guarded by the resourceVersion the
 * decision was made on. The CronJob as patched when this tick has it; null when another tick (or a person's
 * edit) changed the CronJob since it was listed: that tick has the time, or the next tick decides again.
 */
async function claimScheduleTime(deps: TickDeps, gateway: KubeGateway, cronJob: V1CronJob, scheduledTime: Date): Promise<V1CronJob | null> {
  const namespace = cronJob.metadata?.namespace ?? '';
  const name = cronJob.metadata?.name ?? '';
  try {
    return await gateway.patchCronJobAnnotations(namespace, name, cronJob.metadata?.resourceVersion ?? '', { [LAST_SCHEDULE_ANNOTATION]: rfc3339(scheduledTime) });
  } catch (err) {
    if (err instanceof KubeApiError && err.code === 409) {
      deps.log(`scheduler: ${namespace}/${name}: changed since it was listed`);
      return null;
    }
    throw err;
  }
}

/**
 * A claimed time whose run could not be started is given back, so the next tick tries again rather than
 * missing it. Guarded by the claim's own resourceVersion: if anything changed since, it is left as it is.
 */
async function releaseScheduleTime(deps: TickDeps, gateway: KubeGateway, cronJob: V1CronJob, claim: V1CronJob): Promise<void> {
  const namespace = cronJob.metadata?.namespace ?? '';
  const name = cronJob.metadata?.name ?? '';
  const previous = cronJob.metadata?.annotations?.[LAST_SCHEDULE_ANNOTATION] ?? null;
  try {
    await gateway.patchCronJobAnnotations(namespace, name, claim.metadata?.resourceVersion ?? '', { [LAST_SCHEDULE_ANNOTATION]: previous });
  } catch (err) {
    deps.log(`scheduler: ${namespace}/${name}: could not give back the due time after a failed start: ${ensureError(err).message}`);
  }
}

/**
 * Keep the scheduled time on the CronJob, guarded by the resourceVersion the decision was made on. A conflict
 * means the CronJob changed since it was listed (another instance recorded the time, or a person edited it):
 * the next tick decides again from what it is now, and meets the run that exists.
 */
async function recordScheduleTime(deps: TickDeps, gateway: KubeGateway, cronJob: V1CronJob, scheduledTime: Date): Promise<void> {
  const namespace = cronJob.metadata?.namespace ?? '';
  const name = cronJob.metadata?.name ?? '';
  try {
    await gateway.patchCronJobAnnotations(namespace, name, cronJob.metadata?.resourceVersion ?? '', { [LAST_SCHEDULE_ANNOTATION]: rfc3339(scheduledTime) });
  } catch (err) {
    if (err instanceof KubeApiError && err.code === 409) {
      deps.log(`scheduler: ${namespace}/${name}: changed since it was listed; the last schedule time is left to the next tick`);
      return;
    }
    throw err;
  }
}
