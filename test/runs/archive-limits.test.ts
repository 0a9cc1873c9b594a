import { readFileSync } from 'node:fs';

import type { CoreV1Event, V1Job, V1Pod } from '@kubernetes/client-node';
import { CronExpressionParser } from 'cron-parser';
import { describe, expect, it, vi } from 'vitest';

import type { BlobStore } from '../../src/clients/blob.js';
import type { PodLogOptions } from '../../src/clients/kube.js';
import { loadConfig } from '../../src/config.js';
import { type ArchiveIndex, indexBlobName } from '../../src/core/archive.js';
import { JOB_NAME_POD_LABEL } from '../../src/core/labels.js';
import { ARCHIVE_SWEEP_SCHEDULE } from '../../src/functions/archiveSweep.js';
import { SCHEDULER_SCHEDULE } from '../../src/functions/scheduler.js';
import { ARCHIVE_LIMITS, ArchivedJobs, archiveFinishedJobs, archiveRun, SWEEP_BUDGET_MS, SWEEP_CONCURRENCY, sweepArchive } from '../../src/runs/archive.js';
import { FakeKube } from '../fakes/kube.js';

const NOW = new Date('2026-12-01T10:00:00Z');

/** The archive's blob container in memory: what archiveRun and the sweep use of it. */
function memoryStore(): BlobStore & { blobs: Map<string, string>; asked: string[] } {
  const blobs = new Map<string, string>();
  const asked: string[] = [];
  const store = {
    blobs,
    asked,
    path: (name: string) => `run-logs/${name}`,
    put: (name: string, content: string | Buffer) => {
      blobs.set(name, content.toString());
      return Promise.resolve();
    },
    get: (name: string) => Promise.resolve(blobs.has(name) ? Buffer.from(blobs.get(name) ?? '') : null),
    exists: (name: string) => {
      asked.push(name);
      return Promise.resolve(blobs.has(name));
    },
  };
  return store as unknown as BlobStore & { blobs: Map<string, string>; asked: string[] };
}

function pod(runId: string, name: string, namespace = 'batch'): V1Pod {
  return {
    metadata: { name, namespace, labels: { [JOB_NAME_POD_LABEL]: runId }, creationTimestamp: NOW },
    spec: { containers: [{ name: 'main', image: 'busybox' }] },
    status: { phase: 'Succeeded', containerStatuses: [{ name: 'main', image: 'busybox', imageID: '', ready: false, restartCount: 0 }] },
  };
}

/** A gateway whose log reads wait for `hold(pod)` (a promise, or null for at once), counting reads in flight. */
class SlowLogs extends FakeKube {
  inFlight = 0;
  mostAtOnce = 0;
  constructor(private readonly hold: (pod: string) => Promise<void> | null) {
    super();
  }

  eventsInFlight = 0;
  eventsAtOnceMost = 0;

  override async listEvents(namespace: string, involvedObjectName: string): Promise<CoreV1Event[]> {
    this.eventsInFlight++;
    this.eventsAtOnceMost = Math.max(this.eventsAtOnceMost, this.eventsInFlight);
    try {
      await new Promise((r) => setImmediate(r));
      return await super.listEvents(namespace, involvedObjectName);
    } finally {
      this.eventsInFlight--;
    }
  }

  override async readPodLog(namespace: string, podName: string, options: PodLogOptions): Promise<string> {
    await super.readPodLog(namespace, podName, options);
    this.inFlight++;
    this.mostAtOnce = Math.max(this.mostAtOnce, this.inFlight);
    try {
      // A turn of the event loop at least, so reads started together overlap as real requests do.
      await new Promise((r) => setImmediate(r));
      await this.hold(podName);
      return `log of ${podName}\n`;
    } finally {
      this.inFlight--;
    }
  }
}

const request = { cluster: 'dev', namespace: 'batch', runId: 'wide-run', verdict: { status: 'Success' as const, reason: 'Complete', message: '' }, startTime: null, completionTime: null };

async function indexOf(store: ReturnType<typeof memoryStore>): Promise<ArchiveIndex> {
  const raw = await store.get(indexBlobName('dev', 'batch', 'wide-run'));
  if (!raw) throw new Error('no index was written');
  return JSON.parse(raw.toString()) as ArchiveIndex;
}

describe("the archive's pod reads: parallel, bounded, within a time budget", () => {
  it('reads a run’s logs several at once, never more than the limit, and lists them in pod order', async () => {
    const kube = new SlowLogs(() => null);
    for (let i = 0; i < 10; i++) kube.pods.push(pod('wide-run', `wide-run-${String(i)}`));
    const store = memoryStore();
    await archiveRun(kube, store, request, 1024, NOW, { concurrency: 3, budgetMs: 60_000 });
    expect(kube.mostAtOnce).toBe(3);
    expect(kube.eventsAtOnceMost).toBeLessThanOrEqual(3);
    const index = await indexOf(store);
    expect(index.logs.map((l) => l.pod)).toEqual(kube.pods.map((p) => p.metadata?.name));
    expect(index.logs.every((l) => l.blob !== undefined && l.error === undefined)).toBe(true);
    expect(index.leftOut).toBeUndefined();
  });

  it('a budget that runs out leaves the unread logs out, names each in the index, and still completes the archive', async () => {
    // Two quick pods, two whose log never comes, two more behind them: with two reads at once, the stuck
    // ones hold both slots until the budget ends, so the last two are never started.
    const never = new Promise<void>(() => undefined);
    const kube = new SlowLogs((name) => (name.includes('stuck') ? never : null));
    for (const name of ['a-quick', 'b-quick', 'c-stuck', 'd-stuck', 'e-later', 'f-later']) kube.pods.push(pod('wide-run', name));
    const store = memoryStore();
    const outcome = await archiveRun(kube, store, request, 1024, NOW, { concurrency: 2, budgetMs: 100 });
    expect(outcome.location).toBe(`run-logs/${indexBlobName('dev', 'batch', 'wide-run')}`);
    const index = await indexOf(store);
    expect(index.logs.map((l) => [l.pod, l.blob !== undefined, l.error?.replace(/ \(.*\)/, '') ?? null])).toEqual([
      ['a-quick', true, null],
      ['b-quick', true, null],
      ['c-stuck', false, "left out: the archive's time budget ran out while it was being read"],
      ['d-stuck', false, "left out: the archive's time budget ran out while it was being read"],
      ['e-later', false, "left out: the archive's time budget ran out before it was read"],
      ['f-later', false, "left out: the archive's time budget ran out before it was read"],
    ]);
    expect(index.leftOut).toEqual({ logs: 4, of: 6, reason: "the archive's time budget (100 ms for all of a run's logs) ran out" });
    expect(kube.calls.filter((c) => c.startsWith('readPodLog'))).toHaveLength(4);
  });

  it('a read that ran out of time starts no other, even when the clock has not yet reached the deadline', async () => {
    // Node's timers and Date.now() are different clocks: a timer for the time left can fire while Date.now() is
    // still a millisecond short of the deadline (it did in CI). Frozen here, so the slot the stuck read frees
    // would start the next read if the deadline were the only test; once a read has expired, none starts.
    const frozen = Date.now();
    const clock = vi.spyOn(Date, 'now').mockReturnValue(frozen);
    try {
      const never = new Promise<void>(() => undefined);
      const kube = new SlowLogs((name) => (name.includes('stuck') ? never : null));
      for (const name of ['a-stuck', 'b-later', 'c-later']) kube.pods.push(pod('wide-run', name));
      const store = memoryStore();
      await archiveRun(kube, store, request, 1024, NOW, { concurrency: 1, budgetMs: 50 });
      const index = await indexOf(store);
      expect(index.logs.map((l) => [l.pod, l.error?.replace(/ \(.*\)/, '') ?? null])).toEqual([
        ['a-stuck', "left out: the archive's time budget ran out while it was being read"],
        ['b-later', "left out: the archive's time budget ran out before it was read"],
        ['c-later', "left out: the archive's time budget ran out before it was read"],
      ]);
      expect(kube.calls.filter((c) => c.startsWith('readPodLog'))).toHaveLength(1);
    } finally {
      clock.mockRestore();
    }
  });
});

function finishedCronJobRun(namespace: string, name: string, startedAt: string): V1Job {
  return {
    metadata: { name, namespace, uid: `uid-${name}`, ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'nightly', uid: 'cj', controller: true }] },
    spec: { template: { spec: { containers: [] } } },
    status: { startTime: new Date(startedAt), completionTime: new Date(startedAt), conditions: [{ type: 'Complete', status: 'True' }] },
  };
}

describe('the archive sweep: a budget per tick, oldest first, and clusters that allow every namespace', () => {
  it('starts no Job’s archive once the tick’s deadline has passed: they are deferred, and the store is not asked', async () => {
    const kube = new FakeKube();
    kube.addJob(finishedCronJobRun('batch', 'nightly-2', '2026-12-01T09:00:00Z'));
    kube.addJob(finishedCronJobRun('batch', 'nightly-1', '2026-12-01T08:00:00Z'));
    const store = memoryStore();
    const sweep = await archiveFinishedJobs(kube, store, 'dev', 'batch', 1024, NOW, new ArchivedJobs(), Date.now() - 1);
    expect(sweep).toEqual({ archived: [], failed: [], deferred: ['nightly-1', 'nightly-2'] });
    expect(store.asked).toEqual([]);
    // With time left, both are archived, the oldest (the next the history limit removes) first.
    expect(await archiveFinishedJobs(kube, store, 'dev', 'batch', 1024, NOW, new ArchivedJobs())).toEqual({ archived: ['nightly-1', 'nightly-2'], failed: [], deferred: [] });
  });

  it('sweeps, under "*", the allowed namespaces that hold CronJobs, never the system ones', async () => {
    const kube = new FakeKube();
    for (const namespace of ['team-a', 'team-b', 'kube-system']) {
      kube.addCronJob({ metadata: { name: 'nightly', namespace }, spec: { schedule: '0 3 * * *', jobTemplate: {} } });
      kube.addJob(finishedCronJobRun(namespace, 'nightly-1', '2026-12-01T08:00:00Z'));
    }
    const config = loadConfig({ CLUSTERS: JSON.stringify([{ alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/x', namespaces: ['*'] }]) });
    const store = memoryStore();
    const report = await sweepArchive({ config, clusters: { gateway: () => kube }, logs: store }, NOW);
    expect(report.errors).toEqual([]);
    expect(report.archived.sort()).toEqual(['dev/team-a/nightly-1', 'dev/team-b/nightly-1']);
    expect(kube.calls.filter((c) => c.startsWith('listJobs'))).not.toContain('listJobs kube-system');
  });
});

/** host.json's functionTimeout (hh:mm:ss) in ms. */
function functionTimeoutMs(): number {
  const host = JSON.parse(readFileSync(new URL('../../host.json', import.meta.url), 'utf8')) as { functionTimeout?: string };
  const [h = 0, m = 0, s = 0] = (host.functionTimeout ?? '').split(':').map(Number);
  return ((h * 60 + m) * 60 + s) * 1000;
}

function intervalMs(schedule: string): number {
  const times = CronExpressionParser.parse(schedule, { currentDate: NOW }).take(2).map((d) => d.getTime());
  return (times[1] ?? 0) - (times[0] ?? 0);
}

/**
 * The host ends any invocation at functionTimeout and restarts the worker with every other invocation on it.
 * MicrosoftDocs/azure-docs, includes/functions-timeout-duration.md: on Flex Consumption the default is 30 minutes
 * and there is no maximum ("Unbounded"), so the bound that holds is the one host.json sets (10 minutes here).
 */
describe('the archive’s budgets fit inside the host’s functionTimeout', () => {
  it('host.json sets one, shorter than Flex Consumption’s 30-minute default', () => {
    expect(functionTimeoutMs()).toBeGreaterThan(0);
    expect(functionTimeoutMs()).toBeLessThanOrEqual(30 * 60_000);
  });

  it('an archive activity’s reads, twice (one retry), leave time for its writes', () => {
    expect(2 * ARCHIVE_LIMITS.budgetMs).toBeLessThan(functionTimeoutMs() * 0.75);
  });

  it('a sweep tick starts no archive after its budget, and the last it started ends within the timeout', () => {
    expect(SWEEP_BUDGET_MS + ARCHIVE_LIMITS.budgetMs).toBeLessThan(functionTimeoutMs() * 0.75);
    expect(SWEEP_CONCURRENCY).toBeGreaterThanOrEqual(1);
  });

  it('a sweep tick ends its archiving before the next tick is due, and runs half a minute away from the scheduler’s', () => {
    expect(SWEEP_BUDGET_MS).toBeLessThan(intervalMs(ARCHIVE_SWEEP_SCHEDULE));
    const sweepSecond = CronExpressionParser.parse(ARCHIVE_SWEEP_SCHEDULE, { currentDate: NOW }).next().toDate().getUTCSeconds();
    const tickSecond = CronExpressionParser.parse(SCHEDULER_SCHEDULE, { currentDate: NOW }).next().toDate().getUTCSeconds();
    expect(Math.abs(sweepSecond - tickSecond)).toBe(30);
  });
});
