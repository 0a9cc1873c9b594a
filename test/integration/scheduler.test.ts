import { HttpRequest, type HttpResponseInit, InvocationContext, type Timer } from '@azure/functions';
import type { V1CronJob, V1Job } from '@kubernetes/client-node';
import * as df from 'durable-functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LocalDurable } from '../../local/durable/runtime.js';
import { CRONJOB_INSTANTIATE_ANNOTATION, CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION, LAST_SCHEDULE_ANNOTATION, SCHEDULER_LABEL } from '../../src/core/labels.js';
import { scheduledRunName } from '../../src/core/naming.js';
import { getRun } from '../../src/functions/getRun.js';
import { scheduler } from '../../src/functions/scheduler.js';
import type { RunClient } from '../../src/http/runs.js';
import type { TickReport } from '../../src/runs/scheduler.js';
import { createServices, setServices } from '../../src/services.js';
import { COMPLETE_DELAY_ANNOTATION } from '../../testenv/fates.js';
import { adminKube, testJob, useNamespace, waitFor } from './helpers.js';
import { localRunPath, runPathConfig } from './run-path.js';

/**
 * The scheduler against the real control plane: real CronJob and Job controllers, real resourceVersions, real
 * Events. Ticks are driven at chosen instants; the orchestrations run on the local Durable runtime.
 */
const ns = useNamespace('sched');
const kube = adminKube();
let durable: LocalDurable;
const context = () => new InvocationContext({ functionName: 'scheduler', invocationId: 'it', logHandler: () => undefined });
const timer: Timer = { isPastDue: false, schedule: { adjustForDST: true }, scheduleStatus: { last: '', next: '', lastUpdated: '' } };
const MINUTE = 60_000;
/** A whole minute ten minutes ago: the CronJobs' last scheduled time, so the minutes after it are due. */
const base = new Date(Math.floor(Date.now() / MINUTE) * MINUTE - 10 * MINUTE);
const minute = (n: number) => new Date(base.getTime() + n * MINUTE);
/** A tick a few seconds into minute n, as the host's timer fires. */
const during = (n: number) => new Date(minute(n).getTime() + 5_000);

beforeAll(() => {
  const config = runPathConfig(ns());
  setServices(createServices(config));
  durable = localRunPath();
});
afterAll(() => durable.close());

interface HandOver {
  schedule?: string;
  policy?: 'Allow' | 'Forbid' | 'Replace';
  /** How long each run's pod runs. */
  runFor?: string;
  successfulJobsHistoryLimit?: number;
  suspend?: boolean;
}

/** A CronJob handed over to the app (label + suspend), last scheduled at `base`. */
async function handOver(name: string, o: HandOver = {}): Promise<V1CronJob> {
  const template = testJob({ name, namespace: ns(), annotations: { [COMPLETE_DELAY_ANNOTATION]: o.runFor ?? '200ms' } });
  return kube.batch.createNamespacedCronJob({
    namespace: ns(),
    body: {
      metadata: { name, labels: { [SCHEDULER_LABEL]: 'app' }, annotations: { [LAST_SCHEDULE_ANNOTATION]: base.toISOString() } },
      spec: {
        schedule: o.schedule ?? '* * * * *',
        suspend: o.suspend ?? true,
        concurrencyPolicy: o.policy ?? 'Allow',
        ...(o.successfulJobsHistoryLimit === undefined ? {} : { successfulJobsHistoryLimit: o.successfulJobsHistoryLimit }),
        jobTemplate: { spec: template.spec },
      },
    },
  });
}

async function tick(at: Date): Promise<TickReport> {
  const report = await scheduler(timer, durable, context(), at);
  if (!report) throw new Error('the scheduler is off');
  return report;
}

/** The files' CronJobs share a namespace and every tick fires them all: what a tick did for one of them. */
function of(name: string, runs: readonly string[]): string[] {
  return runs.filter((run) => new RegExp(`^${name}-\\d+$`).test(run));
}

async function status(runId: string): Promise<HttpResponseInit> {
  return getRun(new HttpRequest({ method: 'GET', url: `http://127.0.0.1/api/runs/${runId}`, params: { runId } }), durable, context());
}

async function finished(runId: string): Promise<Record<string, unknown>> {
  const response = await waitFor(`run ${runId} to finish`, async () => {
    const r = await status(runId);
    return r.status === 202 ? undefined : r;
  }, 90_000, 500);
  return response.jsonBody as Record<string, unknown>;
}

async function jobsOf(cronJob: string): Promise<V1Job[]> {
  const jobs = (await kube.batch.listNamespacedJob({ namespace: ns() })).items;
  return jobs.filter((j) => j.metadata?.ownerReferences?.some((o) => o.kind === 'CronJob' && o.name === cronJob));
}

async function lastSchedule(name: string): Promise<string | undefined> {
  return (await kube.batch.readNamespacedCronJob({ name, namespace: ns() })).metadata?.annotations?.[LAST_SCHEDULE_ANNOTATION];
}

async function eventsOf(name: string): Promise<{ reason?: string; type?: string; count?: number }[]> {
  return (await kube.core.listNamespacedEvent({ namespace: ns(), fieldSelector: `involvedObject.name=${name}` })).items;
}

describe('the scheduler on a real control plane', () => {
  it('fires a handed-over CronJob once per due minute, each a full run of the run path', async () => {
    const cronJob = await handOver('every-minute');
    const first = scheduledRunName('every-minute', minute(1));
    const second = scheduledRunName('every-minute', minute(2));

    expect(of('every-minute', (await tick(during(1))).started)).toEqual([first]);
    expect(of('every-minute', (await tick(new Date(minute(1).getTime() + 40_000))).started)).toEqual([]);
    expect(await lastSchedule('every-minute')).toBe(minute(1).toISOString().replace('.000Z', 'Z'));
    expect(of('every-minute', (await tick(during(2))).started)).toEqual([second]);

    for (const [runId, n] of [[first, 1], [second, 2]] as const) {
      const body = await finished(runId);
      expect(body).toMatchObject({ status: 'Success', jobName: runId, source: { kind: 'CronJob', name: 'every-minute' } });
      expect(body.trigger).toEqual({ kind: 'schedule', scheduledTime: minute(n).toISOString().replace('.000Z', 'Z') });
    }
    const jobs = await jobsOf('every-minute');
    expect(jobs.map((j) => j.metadata?.name).sort()).toEqual([first, second].sort());
    for (const job of jobs) {
      // What the CronJob controller puts on its own Jobs, so it counts these as its own.
      expect(job.metadata?.ownerReferences).toEqual([{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'every-minute', uid: cronJob.metadata?.uid, controller: true }]);
      expect(job.metadata?.annotations?.[CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:00Z$/);
      expect(job.metadata?.annotations).not.toHaveProperty([CRONJOB_INSTANTIATE_ANNOTATION]);
    }
    expect(await lastSchedule('every-minute')).toBe(minute(2).toISOString().replace('.000Z', 'Z'));
  });

  it('two evaluations of the same minute make one Job, and a later one after a lost annotation makes none', async () => {
    await handOver('twice');
    const runId = scheduledRunName('twice', minute(1));
    const [a, b] = await Promise.all([tick(during(1)), tick(during(1))]);
    expect(of('twice', [...a.started, ...b.started])).toEqual([runId]);
    await finished(runId);
    const createdAt = durable.state(runId)?.createdAt;

    // As if the annotation patch had been lost (a restart right after the start): the minute is due again.
    const current = await kube.batch.readNamespacedCronJob({ name: 'twice', namespace: ns() });
    await kube.batch.replaceNamespacedCronJob({
      name: 'twice',
      namespace: ns(),
      body: { ...current, metadata: { ...current.metadata, annotations: { ...current.metadata?.annotations, [LAST_SCHEDULE_ANNOTATION]: base.toISOString() } } },
    });
    const again = await tick(during(1));
    expect(again.started).not.toContain(runId);
    expect(again.existing).toContain(runId);
    // The finished instance was met, not overwritten by a new one.
    expect(durable.state(runId)?.createdAt).toBe(createdAt);
    expect((await jobsOf('twice')).map((j) => j.metadata?.name)).toEqual([runId]);
  });

  it('Forbid skips while a run is active (the app’s or a kubectl-made one); Replace cancels it and starts', async () => {
    await handOver('exclusive', { policy: 'Forbid', runFor: '1h' });
    const first = scheduledRunName('exclusive', minute(1));
    const second = scheduledRunName('exclusive', minute(2));
    expect(of('exclusive', (await tick(during(1))).started)).toEqual([first]);
    await waitFor(`${first} to be Running`, async () => ((await status(first)).jsonBody as { status: string }).status === 'Running');

    const held = await tick(during(2));
    expect(held.forbidden).toContain(second);
    expect(of('exclusive', held.started)).toEqual([]);
    // The due time stays unmet, as the CronJob controller leaves it, so it starts once the way is clear.
    expect(await lastSchedule('exclusive')).toBe(minute(1).toISOString().replace('.000Z', 'Z'));

    await kube.batch.patchNamespacedCronJob(
      { name: 'exclusive', namespace: ns(), body: [{ op: 'replace', path: '/spec/concurrencyPolicy', value: 'Replace' }] },
    );
    const replaced = await tick(during(2));
    expect(replaced.replaced).toEqual([first]);
    expect(of('exclusive', replaced.started)).toEqual([second]);
    expect(await finished(first)).toMatchObject({ status: 'Cancelled', reason: 'CancelRequested' });
    await waitFor(`${first}'s Job to be gone`, async () => !(await jobsOf('exclusive')).some((j) => j.metadata?.name === first));

    // A run made by hand (kubectl create job --from) counts as active too.
    const cronJob = await handOver('exclusive-kubectl', { policy: 'Forbid' });
    const manual = testJob({ name: 'exclusive-kubectl-manual', namespace: ns(), annotations: { [COMPLETE_DELAY_ANNOTATION]: '1h' } });
    manual.metadata = {
      ...manual.metadata,
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'exclusive-kubectl', uid: cronJob.metadata?.uid ?? '', controller: true }],
    };
    await kube.batch.createNamespacedJob({ namespace: ns(), body: manual });
    expect((await tick(during(1))).forbidden).toContain(scheduledRunName('exclusive-kubectl', minute(1)));
  });

  it('applies the history limit: the CronJob controller prunes the app’s finished runs of a suspended CronJob', async () => {
    await handOver('limited', { successfulJobsHistoryLimit: 1 });
    const runs = [1, 2, 3].map((n) => scheduledRunName('limited', minute(n)));
    for (const [i, runId] of runs.entries()) {
      expect(of('limited', (await tick(during(i + 1))).started)).toEqual([runId]);
      expect(await finished(runId)).toMatchObject({ status: 'Success' });
    }
    await waitFor('only the newest run to be kept', async () => {
      const names = (await jobsOf('limited')).map((j) => j.metadata?.name);
      return names.length === 1 && names[0] === runs[2];
    });
    // The runs' verdicts outlive their Jobs.
    expect((await status(runs[0] ?? '')).status).toBe(200);
  });

  it('reports an invalid schedule and a labelled CronJob that is not suspended as Events, once, and the others still fire', async () => {
    await handOver('impossible', { schedule: '0 0 31 2 *' });
    // Not suspended: the cluster owns it; a yearly schedule keeps the cluster from firing it during the test.
    await handOver('loose', { schedule: '0 0 1 1 *', suspend: false });
    await handOver('healthy');
    const report = await tick(during(1));
    expect(report.started).toContain(scheduledRunName('healthy', minute(1)));
    await tick(new Date(minute(1).getTime() + 30_000));

    await waitFor('the InvalidSchedule Event', async () => (await eventsOf('impossible')).some((e) => e.reason === 'InvalidSchedule'));
    const invalid = (await eventsOf('impossible')).filter((e) => e.reason === 'InvalidSchedule');
    expect(invalid).toHaveLength(1);
    expect(invalid[0]).toMatchObject({ type: 'Warning', count: 1 });
    expect((await eventsOf('loose')).filter((e) => e.reason === 'NotSuspended')).toHaveLength(1);
    expect(await jobsOf('impossible')).toEqual([]);
    expect(await jobsOf('loose')).toEqual([]);
    expect(await finished(scheduledRunName('healthy', minute(1)))).toMatchObject({ status: 'Success' });
  });

  it('two overlapping ticks racing a run that finishes fast start it once: the resourceVersion-guarded claim decides', async () => {
    // Tick B reads Durable for the due run before tick A starts it, and goes on only once A's run has finished.
    // Durable's startNew replaces a finished instance (the extension's NonRunningStates, OverridableStates.cs;
    // the local engine alike), so without the claim B would run it again.
    await handOver('raced');
    const runId = scheduledRunName('raced', minute(1));
    let release!: () => void;
    const aFinished = new Promise<void>((resolve) => (release = resolve));
    let held = false;
    const late: RunClient = {
      startNew: (name, options) => durable.startNew(name, options),
      getStatusBy: (filter) => durable.getStatusBy(filter),
      raiseEvent: (id, event, data) => durable.raiseEvent(id, event, data),
      getStatus: async (id) => {
        const answer = durable.getStatus(id);
        if (id === runId && !held) {
          held = true;
          await answer.catch(() => undefined);
          await aFinished;
        }
        return answer;
      },
    };
    let created: Date | undefined;
    const a = tick(during(1)).then(async (report) => {
      await finished(runId);
      // A Completed instance is what NonRunningStates lets a start replace: from orchestration 3.1 the verdict is
      // shown while the archive and the subscribers' notice still run, so wait for the instance itself.
      await waitFor(`run ${runId}'s orchestration to complete`, async () => (await durable.getStatus(runId)).runtimeStatus === df.OrchestrationRuntimeStatus.Completed, 60_000, 250);
      created = (await durable.getStatus(runId)).createdTime;
      release();
      return report;
    });
    const b = scheduler(timer, late, context(), during(1));
    const [ra, rb] = await Promise.all([a, b]);
    expect(of('raced', ra.started)).toEqual([runId]);
    expect(of('raced', rb?.started ?? [])).toEqual([]);
    expect(of('raced', rb?.existing ?? [])).toEqual([runId]);
    const after = await durable.getStatus(runId);
    expect(after.runtimeStatus).toBe('Completed');
    expect(after.createdTime).toEqual(created);
    expect(await lastSchedule('raced')).toBe(minute(1).toISOString().replace('.000Z', 'Z'));
    expect((await jobsOf('raced')).map((j) => j.metadata?.name)).toEqual([runId]);
  });
});
