import type { InvocationContext, Timer } from '@azure/functions';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { loadApp, type TimerFunction } from '../../local/host/app.js';
import { startTimers, type TimerRunner } from '../../local/host/timers.js';
import { loadConfig } from '../../src/config.js';
import { createServices, setServices } from '../../src/services.js';

/** The local runtime's timer functions: on their NCRONTAB schedule on the real clock, and by tick(name, at). */
const runners: TimerRunner[] = [];
afterEach(async () => {
  await Promise.all(runners.splice(0).map((r) => r.stop()));
});

interface Call {
  at: Date;
  timer: Timer;
  context: InvocationContext;
}

function recording(schedule: string, workMs = 0): { fn: TimerFunction; calls: Call[]; overlaps: () => number } {
  const calls: Call[] = [];
  let running = 0;
  let overlaps = 0;
  return {
    calls,
    overlaps: () => overlaps,
    fn: {
      name: 'sample',
      schedule,
      invoke: async (timer, context, at) => {
        if (running > 0) overlaps++;
        running++;
        calls.push({ at, timer, context });
        await new Promise((r) => setTimeout(r, workMs));
        running--;
        return at.toISOString();
      },
    },
  };
}

function start(fns: TimerFunction[], realClock: boolean): TimerRunner {
  const runner = startTimers(fns, { realClock });
  runners.push(runner);
  return runner;
}

describe('local timer functions', () => {
  it('tick(name, at) runs the function once, deciding for the instant given', async () => {
    const { fn, calls } = recording('0 * * * * *');
    const runner = start([fn], false);
    const at = new Date('2026-11-23T10:00:05Z');
    expect(await runner.tick('sample', at)).toBe('2026-11-23T10:00:05.000Z');
    expect(calls).toHaveLength(1);
    expect(calls[0]?.at).toEqual(at);
    expect(calls[0]?.context.functionName).toBe('sample');
    expect(calls[0]?.timer.schedule).toEqual({ adjustForDST: true });
  });

  it('runs one invocation of a function at a time, as the host’s singleton lock does', async () => {
    const { fn, calls, overlaps } = recording('0 * * * * *', 50);
    const runner = start([fn], false);
    await Promise.all([runner.tick('sample'), runner.tick('sample'), runner.tick('sample')]);
    expect(calls).toHaveLength(3);
    expect(overlaps()).toBe(0);
  });

  it('fires on the real clock by the NCRONTAB schedule, and no more once stopped', async () => {
    const { fn, calls } = recording('* * * * * *');
    const began = Date.now();
    const runner = start([fn], true);
    await new Promise((r) => setTimeout(r, 3_300));
    await runner.stop();
    const elapsed = Date.now() - began;
    const fired = calls.length;
    expect(fired).toBeGreaterThanOrEqual(2);
    // Once a second: never twice for one second, and no more seconds than passed (a loaded machine can hold the
    // 3.3 s wait longer, and then more whole seconds pass; CI once saw 5).
    expect(new Set(calls.map((call) => call.timer.scheduleStatus.last)).size).toBe(fired);
    expect(fired).toBeLessThanOrEqual(Math.ceil(elapsed / 1000) + 1);
    // Each at (or just after) a whole second, as scheduled.
    for (const call of calls) expect(call.at.getTime() % 1000).toBeLessThan(500);
    await new Promise((r) => setTimeout(r, 1_200));
    expect(calls).toHaveLength(fired);
  });

  it('fires each occurrence once, even when its timer fires before the clock reaches it', async () => {
    // Timers fake, the clock real: each timer fires at once, while Date.now() is still short of the occurrence it
    // was set for, as a real timer can be by a millisecond. Counting the next occurrence from the clock fired the
    // same one again (CI saw 5 fires in 3.3 s of an every-second schedule).
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const { fn, calls } = recording('* * * * * *');
      const runner = start([fn], true);
      for (let i = 0; i < 3; i++) {
        await vi.advanceTimersToNextTimerAsync();
        await vi.waitFor(() => {
          expect(calls).toHaveLength(i + 1);
        });
      }
      await runner.stop();
      const scheduled = calls.map((call) => Date.parse(call.timer.scheduleStatus.last));
      expect(scheduled.map((t, i) => (i === 0 ? 1000 : t - (scheduled[i - 1] ?? 0)))).toEqual([1000, 1000, 1000]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('an unknown name is refused, naming the timer functions there are', async () => {
    const runner = start([recording('0 * * * * *').fn], false);
    await expect(runner.tick('nope')).rejects.toThrow('no timer function named nope; timer functions: sample');
  });

  it('loadApp finds the app’s timers: the scheduler every minute at second 0, the archive sweep at second 30', async () => {
    setServices(createServices(loadConfig({ CLUSTERS: JSON.stringify([{ alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/x', namespaces: ['batch'] }]) })));
    const app = await loadApp(() => {
      throw new Error('no Durable client needed to load');
    });
    expect(app.timers.map((t) => [t.name, t.schedule])).toEqual([
      ['scheduler', '0 * * * * *'],
      ['archiveSweep', '30 * * * * *'],
    ]);
  });

  it('ticks the archive sweep by name in the local runtime, with no Durable client', async () => {
    // A cluster that allows every namespace and a kubeconfig that is not there: the sweep reports the cluster
    // it could not list its CronJobs in, and the tick does not fail.
    setServices(createServices(loadConfig({
      CLUSTERS: JSON.stringify([{ alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/nonexistent/kubeconfig', namespaces: ['*'] }]),
      LOGS_CONNECTION_STRING: 'UseDevelopmentStorage=true',
    })));
    const app = await loadApp(() => {
      throw new Error('the archive sweep needs no Durable client');
    });
    const runner = start(app.timers, false);
    const report = (await runner.tick('archiveSweep', new Date('2026-12-01T10:00:30Z'))) as { archived: string[]; errors: string[]; deferred: string[] };
    expect(report.archived).toEqual([]);
    expect(report.deferred).toEqual([]);
    expect(report.errors).toEqual([expect.stringMatching(/^dev: /)]);
  });
});
