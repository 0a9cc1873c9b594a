import azureFunctions, { type Timer } from '@azure/functions';
import { CronExpressionParser } from 'cron-parser';

import type { TimerFunction } from './app.js';
import { runLogHooks } from './registrations.js';

// @azure/functions is CommonJS whose classes Node's ESM loader cannot see as named exports.
const { InvocationContext } = azureFunctions;

export interface TimerRunner {
  /** Run one timer function now, deciding for the instant `at` (default: now), after any tick in progress. */
  tick(name: string, at?: Date): Promise<unknown>;
  /** Stop firing on the clock; a tick in progress finishes. */
  stop(): Promise<void>;
}

export interface TimerRunnerOptions {
  /** Fire each function on the real clock by its NCRONTAB schedule (default); off, only tick() runs them. */
  realClock?: boolean;
  log?: (line: string) => void;
}

/**
 * Runs the app's timer functions like the host does: on their NCRONTAB schedules, one invocation of a function
 * at a time (the host holds a singleton lock per timer function), a late one marked `isPastDue`.
 */
export function startTimers(functions: readonly TimerFunction[], options: TimerRunnerOptions = {}): TimerRunner {
  const log = options.log ?? (() => undefined);
  const byName = new Map(functions.map((fn) => [fn.name, fn]));
  const chains = new Map<string, Promise<unknown>>();
  const handles = new Map<string, NodeJS.Timeout>();
  let stopped = false;
  let invocations = 0;

  const run = (fn: TimerFunction, scheduled: Date, at: Date): Promise<unknown> => {
    const previous = chains.get(fn.name) ?? Promise.resolve();
    const next = previous.then(async () => {
      const timer: Timer = {
        isPastDue: Date.now() - scheduled.getTime() > 60_000,
        schedule: { adjustForDST: true },
        scheduleStatus: { last: scheduled.toISOString(), next: scheduled.toISOString(), lastUpdated: new Date().toISOString() },
      };
      const context = new InvocationContext({
        functionName: fn.name,
        invocationId: `local-timer-${++invocations}`,
        logHandler: (level, ...args) => {
          runLogHooks(level, args, context);
          log(`[${fn.name}] ${args.map(String).join(' ')}`);
        },
      });
      return fn.invoke(timer, context, at);
    });
    // A failed tick is logged; the next one still runs.
    chains.set(
      fn.name,
      next.catch((err: unknown) => {
        log(`[${fn.name}] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      }),
    );
    return next;
  };

  // The next occurrence is counted from the one just fired, as the host's TimerListener does (its Next is
  // GetNextOccurrence(lastOccurrence): azure-webjobs-sdk-extensions, TimerListenerTests
  // InvokeJobFunction_UpdatesScheduleMonitor), not from the clock: a timer can fire a millisecond before Date.now()
  // reaches the time it was set for, and counting from the clock then fired the same occurrence twice.
  const arm = (fn: TimerFunction, after = new Date()) => {
    if (stopped) return;
    const due = CronExpressionParser.parse(fn.schedule, { currentDate: after }).next().toDate();
    handles.set(
      fn.name,
      setTimeout(() => {
        void run(fn, due, new Date()).catch(() => undefined);
        arm(fn, new Date(Math.max(due.getTime(), Date.now())));
      }, Math.max(0, due.getTime() - Date.now())),
    );
  };
  if (options.realClock !== false) for (const fn of functions) arm(fn);

  return {
    tick: (name, at = new Date()) => {
      const fn = byName.get(name);
      if (!fn) return Promise.reject(new Error(`no timer function named ${name}; timer functions: ${[...byName.keys()].join(', ')}`));
      return run(fn, at, at);
    },
    stop: async () => {
      stopped = true;
      for (const handle of handles.values()) clearTimeout(handle);
      handles.clear();
      await Promise.allSettled([...chains.values()]);
    },
  };
}
