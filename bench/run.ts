/**
 * Benchmarks: `npm run bench`. Each prints its figures; none asserts a time (timing belongs here, not in tests).
 *
 * - status mapping: mapRunStatus on a Job with many pods and events (the observe activity's pure part)
 * - cloning: cloneJob with an env overlay on a realistic Job
 * - logs archive: one page of a CronJob's runs merged from a long archived history; a log cut to its bound
 * - orchestration replay: cost of one wake-up of jobRun as its history grows, which is why the orchestration
 *   continues as new every CONTINUE_AS_NEW_AFTER_POLLS polls
 * - local runtime memory: heap held per finished instance kept by LocalDurable
 * - CronJob listing: last and active runs of a page of CronJobs found among a namespace's Jobs (the listing's
 *   pure part, run once per GET /cronjobs), and the Deployment-to-CronJob mapping
 * - schedules: decideSchedule per CronJob and over 1,000 of them (a scheduler tick's maths), nextRunTimes
 * - API documents: the OpenAPI 3.1 document and its Swagger 2.0 form, made per request, and their sizes
 */
import type { CoreV1Event, V1Job, V1Pod } from '@kubernetes/client-node';

import { completeActivity, fireTimer, newInstance, orchestratorRunner, replay } from '../local/durable/engine.js';
import { boundLog, mergeRunPage, type RunEntry } from '../src/core/archive.js';
import { cloneJob } from '../src/core/clone.js';
import { snapshotOf } from '../src/core/run.js';
import { decideSchedule, nextRunTimes, parseSchedule } from '../src/core/schedule.js';
import type { JobRunInput } from '../src/core/schemas.js';
import { mapRunStatus } from '../src/core/status.js';
import { jobRun } from '../src/functions/jobRun.js';
import { ACTIVITIES } from '../src/functions/names.js';

const t0 = new Date('2026-11-23T10:00:00Z');
const grace = { imagePullSeconds: 120, containerConfigSeconds: 60, unschedulableSeconds: 600, quotaSeconds: 300 };
const ref = { runId: 'bench-0123456789', cluster: 'local', namespace: 'batch', source: { kind: 'Job' as const, name: 'bench' } };

function measure(name: string, iterations: number, fn: () => unknown): void {
  for (let i = 0; i < Math.min(iterations, 200); i++) fn();
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  const ns = Number(process.hrtime.bigint() - start);
  const per = ns / iterations;
  console.log(`${name.padEnd(58)} ${(1e9 / per).toFixed(0).padStart(10)} ops/s  ${(per / 1000).toFixed(2).padStart(10)} µs/op`);
}

async function measureAsync(name: string, iterations: number, fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) await fn();
  const per = Number(process.hrtime.bigint() - start) / iterations;
  console.log(`${name.padEnd(58)} ${(1e9 / per).toFixed(0).padStart(10)} ops/s  ${(per / 1e6).toFixed(3).padStart(10)} ms/op`);
  return per;
}

function job(): V1Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'bench', namespace: 'batch', uid: 'u', labels: { app: 'bench', 'batch.kubernetes.io/controller-uid': 'u' } },
    spec: {
      backoffLimit: 3,
      parallelism: 50,
      selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': 'u' } },
      template: {
        metadata: { labels: { app: 'bench', 'job-name': 'bench', 'controller-uid': 'u' } },
        spec: {
          restartPolicy: 'Never',
          volumes: Array.from({ length: 5 }, (_, i) => ({ name: `v${i}`, emptyDir: {} })),
          containers: [
            {
              name: 'main',
              image: 'registry.example/app:1',
              env: Array.from({ length: 40 }, (_, i) => ({ name: `VAR_${i}`, value: `value-${i}` })),
              resources: { requests: { cpu: '1', memory: '1Gi' } },
            },
            { name: 'sidecar', image: 'registry.example/sidecar:1' },
          ],
        },
      },
    },
    status: { active: 50, ready: 40, startTime: t0 },
  };
}

function pods(n: number): V1Pod[] {
  return Array.from({ length: n }, (_, i) => ({
    metadata: { name: `bench-${i}`, namespace: 'batch', creationTimestamp: t0 },
    spec: { containers: [{ name: 'main' }] },
    status: {
      phase: i % 10 === 0 ? 'Pending' : 'Running',
      conditions: [{ type: 'PodScheduled', status: 'True' }],
      containerStatuses: [
        i % 10 === 0
          ? { name: 'main', image: 'x', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }
          : { name: 'main', image: 'x', imageID: '', ready: true, restartCount: 0, state: { running: { startedAt: t0 } } },
      ],
    },
  }));
}

function events(n: number): CoreV1Event[] {
  return Array.from({ length: n }, (_, i) => ({
    metadata: { name: `e${i}`, namespace: 'batch' },
    involvedObject: { kind: 'Pod', name: `bench-${i % 50}` },
    reason: 'Scheduled',
    message: 'Successfully assigned',
    lastTimestamp: new Date(t0.getTime() + i * 1000),
  }));
}

console.log(`node ${process.version}, ${process.arch}`);
console.log('\n# pure core');
const observation = { job: job(), pods: pods(50), events: events(200), now: new Date(t0.getTime() + 60_000) };
measure('mapRunStatus: Job with 50 pods and 200 events', 20_000, () => mapRunStatus(ref, observation, grace, null));
const source = job();
const overrides = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`VAR_${i * 3}`, `override-${i}`]));
const id = { runId: 'bench-0123456789', namespace: 'batch', sourceKind: 'Job' as const, sourceName: 'bench', requestHash: 'h' };
measure('cloneJob: 2 containers, 40 env vars, 20 overrides', 20_000, () => cloneJob(source, id, overrides));

console.log('\n# schedules (decideSchedule is the scheduler tick\'s maths per CronJob)');
// Times move on by a week at each call, so that the schedule caches (next wall times, zone offsets) start cold,
// as in the first tick that meets a time; "warm" repeats the same tick, as later CronJobs with the same schedule.
let week = 0;
const weekLater = (iso: string) => new Date(Date.parse(iso) + week * 7 * 86_400_000);
const created = new Date('2026-01-01T00:00:00Z');
measure('decideSchedule, cold: hourly in UTC, nothing due', 5_000, () => {
  week++;
  return decideSchedule({ schedule: '0 * * * *', lastScheduleTime: weekLater('2026-10-25T01:00:00Z'), creationTime: created }, weekLater('2026-10-25T01:30:20Z'));
});
measure('decideSchedule, cold: */5 in Europe/Amsterdam, due', 5_000, () => {
  week++;
  return decideSchedule(
    { schedule: '*/5 * * * *', timeZone: 'Europe/Amsterdam', lastScheduleTime: weekLater('2026-10-25T01:25:00Z'), creationTime: created },
    weekLater('2026-10-25T01:30:20Z'),
  );
});
measure('decideSchedule, cold: every minute in Sydney, a week overdue', 5_000, () => {
  week++;
  return decideSchedule(
    { schedule: '* * * * *', timeZone: 'Australia/Sydney', lastScheduleTime: weekLater('2026-10-18T01:30:00Z'), creationTime: created },
    weekLater('2026-10-25T01:30:20Z'),
  );
});
const zones = ['UTC', 'Europe/Amsterdam', 'America/New_York', 'Australia/Sydney', 'Asia/Kolkata'];
const expressions = ['*/5 * * * *', '0 * * * *', '30 2 * * *', '0 9 * * 1-5', '15 */4 * * *', '@daily', '0 0 1 * *', '*/15 9-17 * * mon-fri'];
const tickOf = (shift: number) => {
  const now = new Date(Date.parse('2026-10-25T01:30:20Z') + shift);
  const timings = Array.from({ length: 1000 }, (_, i) => ({
    schedule: expressions[i % expressions.length] ?? '@hourly',
    timeZone: zones[i % zones.length] ?? null,
    startingDeadlineSeconds: i % 3 === 0 ? 300 : null,
    lastScheduleTime: new Date(now.getTime() - ((i * 7) % 120) * 60_000),
    creationTime: created,
  }));
  return () => timings.map((timing) => decideSchedule(timing, now));
};
const ticks = Array.from({ length: 20 }, (_, k) => tickOf((k + 1) * 400 * 86_400_000));
let tickIndex = 0;
measure('decideSchedule over 1,000 CronJobs (8 schedules, 5 zones), cold', 20, () => ticks[tickIndex++ % ticks.length]?.());
const warm = tickOf(0);
warm();
measure('decideSchedule over 1,000 CronJobs, warm (the same tick again)', 20, warm);
const preview = parseSchedule('*/20 * * * *', 'Australia/Adelaide');
measure('nextRunTimes, cold: 50 times in Australia/Adelaide (the preview maximum)', 1_000, () => {
  week++;
  return nextRunTimes(preview, weekLater('2026-10-25T01:30:20Z'), 50);
});
// The runs route's pure part on a long history, and the bound on a log at the default 4 MiB.
const runEntry = (i: number, live: boolean): RunEntry => ({
  runId: `nightly-${String(29_923_598 - i)}`,
  status: 'Success',
  reason: 'CompletionsReached',
  startTime: null,
  completionTime: null,
  trigger: 'cluster',
  live,
  archived: !live,
  sortTime: t0.getTime() - i * 60_000,
});
const liveRuns = Array.from({ length: 5 }, (_, i) => runEntry(i, true));
const archivedRuns = { entries: Array.from({ length: 1000 }, (_, i) => ({ entry: runEntry(i + 3, false), marker: `m${String(Math.floor(i / 100))}` })), exhausted: false };
measure('mergeRunPage: 5 live + 1000 archived runs, page of 50', 2_000, () => mergeRunPage(liveRuns, archivedRuns, null, 50));
const bigLog = 'x'.repeat(80).concat('\n').repeat(60_000);
measure(`boundLog: a ${(bigLog.length / 1024 / 1024).toFixed(1)} MiB log to 4 MiB`, 50, () => boundLog(bigLog, 4 * 1024 * 1024));

console.log('\n# orchestration replay (one wake-up of jobRun after N polls)');
const input: JobRunInput = {
  request: { ...ref, overrides: { A: '1' }, requestHash: 'h' },
  poll: { initialSeconds: 5, maxSeconds: 60, factor: 1.5, continueAsNewAfter: 10_000, maxObserveFailures: 10 },
  retry: { firstRetryMs: 1000, maxAttempts: 3 },
};
const runner = orchestratorRunner(jobRun);
const running = snapshotOf(ref, { status: 'Running', reason: 'Running', message: '' }, t0);
for (const polls of [10, 50, 200, 500]) {
  const state = newInstance('bench', 'jobRun', input, t0);
  let now = t0;
  await replay(state, runner, now);
  completeActivity(state, state.pending[0]?.id ?? 0, { outcome: 'submitted', snapshot: running }, now);
  await replay(state, runner, now);
  for (let i = 0; i < polls; i++) {
    const timer = state.pending.find((w) => w.kind === 'timer');
    if (!timer) throw new Error('no timer');
    now = timer.fireAt;
    fireTimer(state, timer.id, now);
    await replay(state, runner, now);
    const observe = state.pending.find((w) => w.kind === 'activity' && w.name === ACTIVITIES.observeRun);
    if (!observe) throw new Error('no observe');
    completeActivity(state, observe.id, running, now);
    await replay(state, runner, now);
  }
  const copy = structuredClone(state);
  await measureAsync(`replay after ${String(polls).padStart(3)} polls (${copy.records.length} history records)`, polls >= 200 ? 20 : 100, () =>
    replay(structuredClone(copy), runner, now),
  );
}

console.log('\n# local runtime memory');
const { LocalDurable } = await import('../local/durable/runtime.js');
globalThis.gc?.();
const before = process.memoryUsage().heapUsed;
const durable = new LocalDurable({
  orchestrators: { jobRun: runner },
  activities: {
    [ACTIVITIES.submitRun]: () => ({ outcome: 'rejected', snapshot: snapshotOf(ref, { status: 'Failed', reason: 'SourceNotFound', message: 'bench' }, t0) }),
    [ACTIVITIES.archiveRun]: () => ({ location: null, error: 'no archive in the benchmark' }),
  },
});
const instances = 2000;
for (let i = 0; i < instances; i++) await durable.startNew('jobRun', { instanceId: `bench-${i}`, input });
for (let i = 0; i < instances; i++) await durable.idle(`bench-${i}`);
await new Promise((r) => setTimeout(r, 100));
for (let i = 0; i < instances; i++) await durable.idle(`bench-${i}`);
globalThis.gc?.();
const after = process.memoryUsage().heapUsed;
const done = (await Promise.all(Array.from({ length: instances }, (_, i) => durable.getStatus(`bench-${i}`)))).filter((s) => (s.runtimeStatus as string) === 'Completed').length;
console.log(`${instances} finished instances kept (${done} completed): ${((after - before) / 1024 / 1024).toFixed(1)} MiB heap, ${((after - before) / instances / 1024).toFixed(1)} KiB each${globalThis.gc ? '' : ' (run with --expose-gc for steadier figures)'}`);
await durable.close();

console.log('\n# CronJob listing');
const { jobsByCronJob, runsOf, runsSummary } = await import('../src/core/cronjob-view.js');
const { cronJobFromDeployment } = await import('../src/core/cronjob-spec.js');
const listedCronJobs = Array.from({ length: 100 }, (_, i) => ({
  metadata: { name: `cron-${i}`, namespace: 'batch', uid: `cron-uid-${i}` },
  spec: { schedule: '0 * * * *', jobTemplate: { spec: { template: { spec: { containers: [] } } } } },
  status: { lastScheduleTime: t0, active: [{ name: `cron-${i}-1` }] },
}));
const namespaceJobs: V1Job[] = Array.from({ length: 5000 }, (_, i) => ({
  metadata: {
    name: `job-${i}`,
    namespace: 'batch',
    creationTimestamp: t0,
    // One Job in ten belongs to one of the CronJobs (its history); the rest are the app's runs and others.
    ownerReferences: i % 10 === 0 ? [{ apiVersion: 'batch/v1', kind: 'CronJob', name: `cron-${(i / 10) % 100}`, uid: `cron-uid-${(i / 10) % 100}`, controller: true }] : [],
  },
  spec: { template: { spec: { containers: [] } } },
  status: { startTime: t0, conditions: [{ type: 'Complete', status: 'True' }] },
}));
measure('runs summaries: 100 CronJobs among 5000 Jobs', 50, () => {
  const byCronJob = jobsByCronJob(namespaceJobs);
  return listedCronJobs.map((c) => runsSummary(c, runsOf(c, byCronJob, 'local', grace, t0)));
});
const deployment = { metadata: { name: 'web', namespace: 'batch' }, spec: { selector: { matchLabels: { app: 'web' } }, template: job().spec?.template ?? { spec: { containers: [] } } } };
measure('cronJobFromDeployment: 40 env vars, 5 volumes, 20 overrides', 20_000, () =>
  cronJobFromDeployment(deployment, { name: 'web-report', namespace: 'batch', schedule: '0 3 * * *' }, { env: overrides }),
);

console.log('\n# API documents (made per request by GET /api/openapi.json and /api/swagger.json)');
const { openApiDocument } = await import('../src/api/openapi.js');
const { swaggerDocument } = await import('../src/api/swagger.js');
const documentServer = { serverUrl: 'https://jobs.example.net/api' };
measure('openApiDocument: the whole API, OpenAPI 3.1', 200, () => openApiDocument(documentServer));
measure('swaggerDocument: the same, converted to Swagger 2.0', 200, () => swaggerDocument(documentServer));
console.log(`sizes: OpenAPI 3.1 ${(JSON.stringify(openApiDocument(documentServer)).length / 1024).toFixed(0)} KiB, Swagger 2.0 ${(JSON.stringify(swaggerDocument(documentServer)).length / 1024).toFixed(0)} KiB (compact JSON)`);
