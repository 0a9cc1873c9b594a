import { HttpRequest, InvocationContext, type Timer } from '@azure/functions';
import type { V1CronJob, V1Job } from '@kubernetes/client-node';
import { beforeEach, describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config.js';
import { LAST_SCHEDULE_ANNOTATION, MANAGED_BY_LABEL, MANAGED_BY_VALUE, RETRY_ON_DISRUPTION_ANNOTATION, RUN_ID_LABEL, SCHEDULER_LABEL } from '../../src/core/labels.js';
import type { JobRunInput } from '../../src/core/schemas.js';
import { CANCEL_EVENT } from '../../src/functions/names.js';
import { scheduler } from '../../src/functions/scheduler.js';
import { previewScheduleResponse } from '../../src/http/schedules.js';
import type { TickReport } from '../../src/runs/scheduler.js';
import { createServices, setServices } from '../../src/services.js';
import { FakeDurableClient } from '../fakes/durable-client.js';
import { FakeKube } from '../fakes/kube.js';

/** The timer function over in-memory clusters: what it lists, starts, records and reports. */
const TEN = new Date('2026-11-23T10:00:00Z');
const minutes = (d: Date) => Math.floor(d.getTime() / 60_000);
const timer: Timer = { isPastDue: false, schedule: { adjustForDST: true }, scheduleStatus: { last: '', next: '', lastUpdated: '' } };
const lines: string[] = [];
const context = () => new InvocationContext({ functionName: 'scheduler', invocationId: 'tick', logHandler: (_l, ...args) => lines.push(args.map(String).join(' ')) });

let dev: FakeKube;
let wide: FakeKube;
let client: FakeDurableClient;

function configure(env: Record<string, string> = {}): void {
  const config = loadConfig({
    CLUSTERS: JSON.stringify([
      { alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/x', namespaces: ['batch', 'etl'] },
      { alias: 'wide', type: 'kubeconfig', kubeconfigPath: '/y', namespaces: ['*'] },
    ]),
    ...env,
  });
  setServices(createServices(config, { gatewayFactory: (s) => (s.alias === 'dev' ? dev : wide) }));
}

beforeEach(() => {
  dev = new FakeKube();
  wide = new FakeKube();
  client = new FakeDurableClient(() => TEN);
  lines.length = 0;
  configure();
});

function cronJob(
  name: string,
  o: { namespace?: string; schedule?: string; suspend?: boolean; labelled?: boolean; last?: string; policy?: string; startingDeadlineSeconds?: number } = {},
): V1CronJob {
  return {
    metadata: {
      name,
      namespace: o.namespace ?? 'batch',
      uid: `uid-${name}`,
      resourceVersion: '1',
      generation: 1,
      creationTimestamp: new Date('2026-11-23T08:00:00Z'),
      labels: o.labelled === false ? {} : { [SCHEDULER_LABEL]: 'app' },
      annotations: { [LAST_SCHEDULE_ANNOTATION]: o.last ?? '2026-11-23T09:45:00Z' },
    },
    spec: {
      schedule: o.schedule ?? '*/15 * * * *',
      suspend: o.suspend ?? true,
      ...(o.policy ? { concurrencyPolicy: o.policy } : {}),
      ...(o.startingDeadlineSeconds === undefined ? {} : { startingDeadlineSeconds: o.startingDeadlineSeconds }),
      jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox' }] } } } },
    },
  };
}

function activeJob(name: string, owner: V1CronJob, appRun = false): V1Job {
  return {
    metadata: {
      name,
      namespace: owner.metadata?.namespace ?? '',
      labels: appRun ? { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [RUN_ID_LABEL]: name } : {},
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: owner.metadata?.name ?? '', uid: owner.metadata?.uid ?? '', controller: true }],
    },
    spec: { template: { spec: { containers: [] } } },
    status: { active: 1 },
  };
}

async function tick(at = new Date('2026-11-23T10:00:20Z')): Promise<TickReport> {
  const report = await scheduler(timer, client, context(), at);
  if (!report) throw new Error('the scheduler did not run');
  return report;
}

const runName = (name: string, at = TEN) => `${name}-${minutes(at)}`;
const input = (runId: string) => client.instances.get(runId)?.input as JobRunInput;

describe('the scheduler timer', () => {
  it('lists once per allowed namespace, and once across all namespaces where the allow-list is *', async () => {
    await tick();
    expect(dev.calls.filter((c) => c.startsWith('list'))).toEqual(['listCronJobs batch', 'listCronJobs etl']);
    expect(wide.calls).toEqual(['listCronJobsInAllNamespaces *']);
  });

  it('starts a due run under the controller’s name, recording its trigger, then records the time on the CronJob', async () => {
    dev.addCronJob(cronJob('report'));
    const report = await tick();
    const id = runName('report');
    expect(report.started).toEqual([id]);
    expect(input(id).request).toMatchObject({
      runId: id,
      cluster: 'dev',
      namespace: 'batch',
      source: { kind: 'CronJob', name: 'report' },
      overrides: {},
      trigger: { kind: 'schedule', scheduledTime: '2026-11-23T10:00:00Z' },
    });
    const stored = dev.cronJobs.get('batch/report');
    expect(stored?.metadata?.annotations?.[LAST_SCHEDULE_ANNOTATION]).toBe('2026-11-23T10:00:00Z');
    // The tick itself writes nothing but the annotation: the Job is the orchestration's to create.
    expect(dev.calls.filter((c) => !c.startsWith('list'))).toEqual(['patchCronJobAnnotations batch/report']);
  });

  it("gives a scheduled run the retries on disruption its CronJob's annotation allows, and none without it", async () => {
    const retrying = cronJob('report');
    retrying.metadata = { ...retrying.metadata, annotations: { ...retrying.metadata?.annotations, [RETRY_ON_DISRUPTION_ANNOTATION]: '2' } };
    dev.addCronJob(retrying).addCronJob(cronJob('plain'));
    await tick();
    expect(input(runName('report')).request.retryOnDisruption).toBe(2);
    expect(input(runName('plain')).request).not.toHaveProperty('retryOnDisruption');
  });

  it('does nothing for a CronJob with nothing due', async () => {
    dev.addCronJob(cronJob('report', { last: '2026-11-23T10:00:00Z' }));
    const report = await tick();
    expect(report).toMatchObject({ cronJobs: 1, started: [], existing: [], warnings: [] });
    expect(client.startCount).toBe(0);
  });

  it('meets the run of a minute already evaluated, even finished, and never starts it again', async () => {
    dev.addCronJob(cronJob('report'));
    const id = runName('report');
    // The annotation patch of an earlier tick was lost; its run has already finished.
    const earlier = { request: { runId: id, cluster: 'dev', namespace: 'batch', source: { kind: 'CronJob', name: 'report' } } };
    client.put({ instanceId: id, runtimeStatus: 'Completed', input: earlier });
    const report = await tick();
    expect(report).toMatchObject({ started: [], existing: [id] });
    expect(client.startCount).toBe(0);
    expect(client.instances.get(id)?.runtimeStatus).toBe('Completed');
    expect(dev.cronJobs.get('batch/report')?.metadata?.annotations?.[LAST_SCHEDULE_ANNOTATION]).toBe('2026-11-23T10:00:00Z');
  });

  it('a run whose input cannot be read is taken as this minute’s run: never a second one', async () => {
    dev.addCronJob(cronJob('report'));
    client.put({ instanceId: runName('report'), runtimeStatus: 'Completed', input: { written: 'by an older version' } });
    expect(await tick()).toMatchObject({ started: [], existing: [runName('report')] });
  });

  it('CronJobs of one name in two namespaces both fire: the second takes a run id with a hash of its namespace', async () => {
    dev.addCronJob(cronJob('report')).addCronJob(cronJob('report', { namespace: 'etl' }));
    const first = await tick();
    expect(first.started).toHaveLength(2);
    expect(first.started).toContain(runName('report'));
    const other = first.started.find((id) => id !== runName('report')) ?? '';
    expect(other).toMatch(new RegExp(`^report-${minutes(TEN)}-[0-9a-z]{8}$`));
    const owners = first.started.map((id) => input(id).request.namespace).sort();
    expect(owners).toEqual(['batch', 'etl']);
    // Evaluated again (annotations lost), both meet their own runs.
    for (const key of ['batch/report', 'etl/report']) {
      const stored = dev.cronJobs.get(key);
      if (stored?.metadata?.annotations) stored.metadata.annotations[LAST_SCHEDULE_ANNOTATION] = '2026-11-23T09:45:00Z';
    }
    const again = await tick();
    expect(again.started).toEqual([]);
    expect(again.existing.sort()).toEqual([...first.started].sort());
    expect(client.startCount).toBe(2);
  });

  it('two evaluations of the same minute at once start one run', async () => {
    dev.addCronJob(cronJob('report'));
    const [a, b] = await Promise.all([tick(), tick()]);
    expect([...a.started, ...b.started]).toEqual([runName('report')]);
    expect([...a.existing, ...b.existing]).toEqual([runName('report')]);
    expect(client.startCount).toBe(1);
  });

  it('decides again, once, as the CronJob is now, when it changed since it was listed (an edit, not another tick)', async () => {
    dev.addCronJob(cronJob('report'));
    dev.failNext('patchCronJobAnnotations', 409, 'Conflict');
    const report = await tick();
    expect(report).toMatchObject({ started: [runName('report')], errors: [] });
    expect(lines.join('\n')).toContain('changed since it was listed');
    expect(dev.calls.filter((c) => c.startsWith('readCronJob'))).toEqual(['readCronJob batch/report']);
  });

  it('two overlapping ticks racing a run that finishes at once start it once: the due time is claimed before the start', async () => {
    // The host's startNew replaces a finished instance (overridableExistingInstanceStates NonRunningStates, the
    // only setting that refuses anything: azure-functions-durable-extension OverridableStates.cs,
    // ToDedupeStatuses), so a tick that read "no run" before the other tick's run started and finished would
    // start it again. Tick B reads Durable first, then waits until tick A's run has started and finished.
    dev.addCronJob(cronJob('report'));
    const runId = runName('report');
    let aDone!: () => void;
    const aFinished = new Promise<void>((resolve) => (aDone = resolve));
    let reads = 0;
    const getStatus = client.getStatus.bind(client);
    client.getStatus = async (instanceId) => {
      const answer = getStatus(instanceId);
      if (++reads === 2) {
        await answer.catch(() => undefined);
        await aFinished;
      }
      return answer;
    };
    const startNew = client.startNew.bind(client);
    client.startNew = async (name, options) => {
      const id = await startNew(name, options);
      const started = client.instances.get(id);
      if (started) started.runtimeStatus = 'Completed';
      return id;
    };
    const a = tick().finally(() => { aDone(); });
    const b = tick();
    const [ra, rb] = await Promise.all([a, b]);
    expect(client.startCount).toBe(1);
    expect([...ra.started, ...rb.started]).toEqual([runId]);
    expect([...ra.existing, ...rb.existing]).toEqual([runId]);
    expect(lines.join('\n')).toContain('was taken by another tick');
  });

  it('Forbid: holds the due run while a run of the CronJob is active, and records nothing', async () => {
    const cj = cronJob('report', { policy: 'Forbid' });
    dev.addCronJob(cj).addJob(activeJob('report-28000000', cj));
    const report = await tick();
    expect(report).toMatchObject({ started: [], forbidden: [runName('report')] });
    expect(dev.cronJobs.get('batch/report')?.metadata?.annotations?.[LAST_SCHEDULE_ANNOTATION]).toBe('2026-11-23T09:45:00Z');
    expect(lines.join('\n')).toContain('report-28000000 active');
  });

  it('Forbid: one list of Jobs per namespace serves every due CronJob in it', async () => {
    for (const name of ['a', 'b', 'c']) dev.addCronJob(cronJob(name, { policy: 'Forbid' }));
    await tick();
    expect(dev.calls.filter((c) => c.startsWith('listJobs'))).toEqual(['listJobs batch']);
  });

  it('Allow: starts alongside an active run without reading Jobs at all', async () => {
    const cj = cronJob('report');
    dev.addCronJob(cj).addJob(activeJob('report-28000000', cj));
    const report = await tick();
    expect(report.started).toEqual([runName('report')]);
    expect(dev.calls.some((c) => c.startsWith('listJobs'))).toBe(false);
  });

  it('Replace: cancels the app’s active run through its orchestration and deletes the cluster’s, then starts', async () => {
    const cj = cronJob('report', { policy: 'Replace' });
    dev.addCronJob(cj).addJob(activeJob('report-28000000', cj, true)).addJob(activeJob('report-manual', cj));
    client.put({ instanceId: 'report-28000000', input: {} });
    const report = await tick();
    expect(report.replaced.sort()).toEqual(['report-28000000', 'report-manual']);
    expect(report.started).toEqual([runName('report')]);
    expect(client.events).toEqual([{ instanceId: 'report-28000000', name: CANCEL_EVENT, data: { reason: `replaced by the scheduled run ${runName('report')} (concurrencyPolicy Replace)` } }]);
    expect([...dev.jobs.keys()]).toEqual([]);
  });

  it('warns about a labelled CronJob that is not suspended, once, and never fires it', async () => {
    dev.addCronJob(cronJob('loose', { suspend: false }));
    const first = await tick();
    await tick(new Date('2026-11-23T10:15:20Z'));
    expect(first.started).toEqual([]);
    expect(client.startCount).toBe(0);
    expect(dev.events.map((e) => [e.reason, e.involvedObject.name])).toEqual([['NotSuspended', 'loose']]);
  });

  it('reports an invalid schedule once as an Event, and the other CronJobs still fire', async () => {
    dev.addCronJob(cronJob('never', { schedule: '0 0 31 2 *' })).addCronJob(cronJob('report'));
    const first = await tick();
    const second = await tick(new Date('2026-11-23T10:00:50Z'));
    expect(first.started).toEqual([runName('report')]);
    expect(first.warnings).toHaveLength(1);
    expect(second.warnings).toHaveLength(1);
    expect(dev.events).toHaveLength(1);
    expect(dev.events[0]).toMatchObject({ type: 'Warning', reason: 'InvalidSchedule', involvedObject: { kind: 'CronJob', name: 'never' } });
  });

  it('one CronJob that fails does not hold back the others; its due time, not claimed, is started by the next tick', async () => {
    dev.addCronJob(cronJob('a')).addCronJob(cronJob('b'));
    dev.failNext('patchCronJobAnnotations', 500);
    const report = await tick();
    expect(report.started).toEqual([runName('b')]);
    expect(report.errors).toHaveLength(1);
    expect(report.errors[0]).toContain('CronJob batch/a');
    expect((await tick()).started).toEqual([runName('a')]);
  });

  it('a due time claimed but not started (Durable refused) is given back, and the next tick starts it', async () => {
    dev.addCronJob(cronJob('report'));
    const startNew = client.startNew.bind(client);
    let refuse = true;
    client.startNew = (name, options) => {
      if (refuse) {
        refuse = false;
        return Promise.reject(new Error('The operation failed with an unexpected status code: 500'));
      }
      return startNew(name, options);
    };
    const first = await tick();
    expect(first.started).toEqual([]);
    expect(first.errors).toEqual([expect.stringContaining('unexpected status code: 500')]);
    expect(dev.cronJobs.get('batch/report')?.metadata?.annotations?.[LAST_SCHEDULE_ANNOTATION]).toBe('2026-11-23T09:45:00Z');
    expect((await tick()).started).toEqual([runName('report')]);
  });

  it('a namespace the cluster refuses to list, or a cluster that does not answer, does not hold back the others', async () => {
    dev.addCronJob(cronJob('report', { namespace: 'etl' }));
    wide.addCronJob(cronJob('wide-report', { namespace: 'anywhere' }));
    dev.failNext('listCronJobs', 403, 'Forbidden');
    const first = await tick();
    expect(first.started.sort()).toEqual([runName('report'), runName('wide-report')]);
    expect(first.errors).toEqual([expect.stringContaining('listing CronJobs in batch on cluster dev')]);

    wide.failNext('listCronJobsInAllNamespaces', 0);
    const second = await tick(new Date('2026-11-23T10:15:20Z'));
    expect(second.started).toEqual([runName('report', new Date('2026-11-23T10:15:00Z'))]);
    expect(second.errors).toEqual([expect.stringContaining('listing CronJobs in all namespaces on cluster wide')]);
  });

  it('a run that cannot be looked up in Durable is not started blind', async () => {
    dev.addCronJob(cronJob('report'));
    client.failGetStatus = new Error('storage is down');
    const report = await tick();
    expect(report.started).toEqual([]);
    expect(client.startCount).toBe(0);
    expect(report.errors).toEqual([expect.stringContaining("the run's state could not be read")]);
  });

  it('a time missed past startingDeadlineSeconds is reported once (MissSchedule), not run, and recorded as taken', async () => {
    dev.addCronJob(cronJob('late', { last: '2026-11-23T09:00:00Z', startingDeadlineSeconds: 60 }));
    const first = await tick(new Date('2026-11-23T10:02:00Z'));
    const second = await tick(new Date('2026-11-23T10:03:00Z'));
    expect(first.started).toEqual([]);
    expect(second.warnings).toEqual([]);
    expect(client.startCount).toBe(0);
    expect(dev.events.map((e) => e.reason)).toEqual(['MissSchedule']);
    expect(dev.cronJobs.get('batch/late')?.metadata?.annotations?.[LAST_SCHEDULE_ANNOTATION]).toBe('2026-11-23T10:00:00Z');
  });

  it('an Event the cluster refuses to take never holds back the run it warns about', async () => {
    dev.addCronJob(cronJob('report', { schedule: '* * * * *', last: '2026-11-23T08:00:00Z' }));
    dev.failNext('createEvent', 403, 'Forbidden');
    const report = await tick();
    expect(report.started).toEqual([runName('report')]);
    expect(report.warnings).toEqual([expect.stringContaining('TooManyMissedTimes')]);
    expect(report.errors).toEqual([expect.stringContaining('could not write the TooManyMissedTimes Event')]);
  });

  it('a standing warning costs one Event request, not one a minute', async () => {
    dev.addCronJob(cronJob('loose', { suspend: false }));
    for (const at of ['10:00:20', '10:01:20', '10:02:20']) await tick(new Date(`2026-11-23T${at}Z`));
    expect(dev.calls.filter((c) => c.startsWith('createEvent'))).toHaveLength(1);
  });

  it('an idle CronJob is evaluated again as soon as it changes (its resourceVersion moves on)', async () => {
    dev.addCronJob(cronJob('report', { last: '2026-11-23T10:00:00Z' }));
    expect((await tick(new Date('2026-11-23T10:05:00Z'))).started).toEqual([]);
    const stored = dev.cronJobs.get('batch/report');
    if (!stored?.metadata) throw new Error('no CronJob');
    // Remembered as idle until 10:15 at resourceVersion 1: the same version is not looked at again.
    stored.metadata.annotations = { [LAST_SCHEDULE_ANNOTATION]: '2026-11-23T09:45:00Z' };
    expect((await tick(new Date('2026-11-23T10:06:00Z'))).started).toEqual([]);
    stored.metadata.resourceVersion = '2';
    expect((await tick(new Date('2026-11-23T10:07:00Z'))).started).toEqual([runName('report')]);
  });

  it.each([
    { name: 'daily across the fall back in Amsterdam (02:30 twice)', schedule: '30 2 * * *', timeZone: 'Europe/Amsterdam', from: '2026-10-22T00:00:00Z' },
    { name: 'hourly in Kolkata', schedule: '0 * * * *', timeZone: 'Asia/Kolkata', from: '2026-11-23T00:00:00Z' },
  ])('fires at exactly the times the preview route lists: $name', async ({ schedule, timeZone, from }) => {
    const cj = cronJob('previewed', { schedule, last: from });
    cj.spec.timeZone = timeZone;
    dev.addCronJob(cj);
    const query = new URLSearchParams({ schedule, timeZone, from, count: '8' });
    const preview = previewScheduleResponse(new HttpRequest({ method: 'GET', url: `https://x/api/schedules/preview?${query.toString()}` }), new Date(from));
    const times = (preview.jsonBody as { next: { utc: string }[] }).next.map((t) => new Date(t.utc));
    expect(times).toHaveLength(8);
    const fired: string[] = [];
    for (const time of times) {
      // Half-way to the time nothing is due; just after it, its run starts.
      fired.push(...(await tick(new Date(time.getTime() - 20 * 60_000))).started);
      fired.push(...(await tick(new Date(time.getTime() + 20_000))).started);
    }
    expect(fired).toEqual(times.map((time) => runName('previewed', time)));
  });

  it('does nothing when SCHEDULER_ENABLED is false', async () => {
    configure({ SCHEDULER_ENABLED: 'false' });
    dev.addCronJob(cronJob('report'));
    expect(await scheduler(timer, client, context(), TEN)).toBeUndefined();
    expect(dev.calls).toEqual([]);
    expect(lines).toEqual(['scheduler: off (SCHEDULER_ENABLED=false)']);
  });
});
