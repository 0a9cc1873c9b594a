import * as df from 'durable-functions';
import { describe, expect, it } from 'vitest';

import { completeActivity, failActivity, fireTimer, inOneEpisode, newInstance, orchestratorRunner, raiseEvent, replay, VersionRejectedError } from '../../local/durable/engine.js';

const t0 = new Date('2026-11-23T10:00:00Z');

/** Sets a custom status of `chars` characters of JSON (a string of chars - 2, with its quotes), then waits. */
function withStatus(chars: number): df.OrchestrationHandler {
  return function* (context) {
    context.df.setCustomStatus('x'.repeat(chars - 2));
    yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 1000));
    return 'done';
  };
}

describe('the local engine enforces the host\'s custom status limit', () => {
  it.each([
    ['8,000 characters (15 KB in UTF-16)', 8000, 'Running'],
    ['8,703 characters: 17,406 bytes, 16 KB rounded down, the largest the host takes', 8703, 'Running'],
    ['8,704 characters: 17,408 bytes, 17 KB', 8704, 'Failed'],
    ['20,000 characters', 20_000, 'Failed'],
  ] as const)('a custom status of %s leaves the orchestration %s', async (_, chars, status) => {
    const state = await replay(newInstance('i', 'big', null, t0), orchestratorRunner(withStatus(chars)), t0);
    expect(state.status).toBe(status);
    if (status === 'Failed') {
      expect(state.output).toMatch(/^Orchestrator function 'big' failed: The UTF-16 size of the JSON-serialized payload must not exceed 16 KB/);
      expect(state.pending).toEqual([]);
    } else {
      expect(state.pending).toHaveLength(1);
    }
  });

  it('counts a character outside the BMP as two UTF-16 units', async () => {
    const emoji = '\u{1F600}'.repeat(4352); // 8,704 units
    const handler: df.OrchestrationHandler = function* (context) {
      context.df.setCustomStatus(emoji.slice(0, -2));
      yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 1000));
    };
    const state = await replay(newInstance('i', 'big', null, t0), orchestratorRunner(handler), t0);
    expect(state.status).toBe('Failed');
  });
});

const at = (s: number) => new Date(t0.getTime() + s * 1000);

/** An activity, then a timer, then done: what a history records, and what a changed code is replayed over. */
function steps(first: string, second: 'timer' | 'none' = 'timer'): df.OrchestrationHandler {
  return function* (context) {
    yield context.df.callActivity(first, 1);
    if (second === 'timer') yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 1000));
    return 'done';
  };
}

describe('the local engine replays as strictly as DurableTask.Core', () => {
  // DurableTask.Core TaskOrchestrationContext.HandleTaskScheduledEvent / HandleTimerCreatedEvent throw
  // NonDeterministicOrchestrationException ("Non-Deterministic workflow detected: ..."), and
  // TaskOrchestrationExecutor fails the orchestration with it (Azure/durabletask, src/DurableTask.Core).
  it.each([
    ['another activity name', steps('observe'), /scheduled an activity task named 'submit' at position 0, but the current orchestration replay instead produced an activity task named 'observe'/],
    ['fewer actions than recorded', steps('submit', 'none'), /scheduled a timer task at position 1, but the current replay execution hasn't \(yet\?\) scheduled this task/],
  ])('a replay that takes %s fails the instance with a non-determinism error', async (_, changed, message) => {
    const state = newInstance('i', 'o', null, t0);
    await replay(state, orchestratorRunner(steps('submit')), t0);
    completeActivity(state, 0, 'ok', at(1));
    await replay(state, orchestratorRunner(steps('submit')), at(1));
    expect(state.pending).toMatchObject([{ kind: 'timer' }]);
    fireTimer(state, 1, at(2));
    await replay(state, orchestratorRunner(changed), at(2));
    expect(state.status).toBe('Failed');
    expect(state.output).toMatch(/^Orchestrator function 'o' failed: Non-Deterministic workflow detected: /);
    expect(state.output).toMatch(message);
  });

  it('compares activity names ignoring case, as the host does (OrdinalIgnoreCase)', async () => {
    const state = newInstance('i', 'o', null, t0);
    await replay(state, orchestratorRunner(steps('submit')), t0);
    completeActivity(state, 0, 'ok', at(1));
    await replay(state, orchestratorRunner(steps('SUBMIT')), at(1));
    expect(state.status).toBe('Running');
  });

  it('a retried activity\'s attempts and delays are the host\'s, not actions: its replay is deterministic', async () => {
    const retrying: df.OrchestrationHandler = function* (context) {
      const result: unknown = yield context.df.callActivityWithRetry('flaky', new df.RetryOptions(1000, 3), null);
      yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 1000));
      return result;
    };
    const runner = orchestratorRunner(retrying);
    const state = newInstance('i', 'o', null, t0);
    await replay(state, runner, t0);
    failActivity(state, 0, new Error('HTTP 503'), at(1));
    await replay(state, runner, at(1));
    fireTimer(state, 1, at(2));
    await replay(state, runner, at(2));
    completeActivity(state, 2, 'ok', at(3));
    await replay(state, runner, at(3));
    expect(state.status).toBe('Running');
    expect(state.pending).toMatchObject([{ kind: 'timer' }]);
  });
});

describe('the local engine gates on the orchestration version as the host does (CurrentOrOlder, Reject)', () => {
  // DurableTask.Core TaskOrchestrationDispatcher: versioningFailed = CompareVersions(instance, worker) > 0, and
  // with VersionFailureStrategy.Reject the work item is abandoned (retried later), the history untouched.
  it.each([
    ['3.1', '3.0', false],
    ['3.0', '3.0', true],
    ['2', '3.0', true],
    [undefined, '3.0', true],
    // One-part versions do not parse as System.Version: "2" and "10" compare as strings, and "2" > "10".
    ['2', '10', false],
    ['9', '10', false],
  ] as const)('an instance of version %s on a worker at %s runs: %s', async (instance, worker, runs) => {
    const state = newInstance('i', 'o', null, t0, instance);
    const records = structuredClone(state.records);
    const attempt = replay(state, orchestratorRunner(steps('submit')), t0, { version: worker });
    if (runs) {
      await attempt;
      expect(state.status).toBe('Running');
    } else {
      await expect(attempt).rejects.toBeInstanceOf(VersionRejectedError);
      expect(state.records).toEqual(records);
      expect(state.status).toBe('Pending');
    }
  });
});

describe('the local engine delivers several events in one episode, as the host batches them', () => {
  /** Waits on an activity, then races a timer against an event task made before the activity. */
  const racing: df.OrchestrationHandler = function* (context) {
    const go = context.df.waitForExternalEvent('go');
    const first = context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 1000));
    yield context.df.Task.any([first, go]);
    yield context.df.callActivity('work', null);
    const second = context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 60_000));
    const winner: unknown = yield context.df.Task.any([second, go]);
    return winner === go ? 'event' : 'timer';
  };

  it('one episode holds one OrchestratorStarted and every event in the order given', () => {
    const state = newInstance('i', 'o', null, t0);
    state.pending.push({ kind: 'activity', id: 0, name: 'work', input: null, retry: undefined, attempt: 1 });
    inOneEpisode(state, [() => { completeActivity(state, 0, 'ok', at(1)); }, () => { raiseEvent(state, 'go', 1, at(1)); }]);
    expect(state.records.slice(2).map((r) => r.kind)).toEqual(['turn', 'completed', 'event']);
  });

  // durable-functions 3.5: an event whose task is tracked but not awaited completes it outside any Task.any,
  // and a later Task.any does not resolve on a child that completed before (TaskOrchestrationExecutor,
  // CompoundTask; Azure/azure-functions-durable-js issue 558). The engine shows it because it delivers the
  // event while the activity is pending, as the host does.
  it.each([
    ['the event, then the activity\'s completion', true],
    ['the activity\'s completion, then the event', false],
  ] as const)('%s in one episode: the event is lost to the Task.any that follows: %s', async (_, eventFirst) => {
    const lost = eventFirst;
    const runner = orchestratorRunner(racing);
    const state = newInstance('i', 'o', null, t0);
    await replay(state, runner, t0);
    const first = state.pending.find((w) => w.kind === 'timer');
    if (!first) throw new Error('no timer pending');
    fireTimer(state, first.id, at(1));
    await replay(state, runner, at(1));
    const work = state.pending.find((w) => w.kind === 'activity');
    if (!work) throw new Error('no activity pending');
    const complete = () => { completeActivity(state, work.id, 'ok', at(2)); };
    const raise = () => { raiseEvent(state, 'go', 1, at(2)); };
    inOneEpisode(state, eventFirst ? [raise, complete] : [complete, raise]);
    await replay(state, runner, at(2));
    if (lost) {
      expect(state.status).toBe('Running');
      expect(state.pending).toMatchObject([{ kind: 'timer' }]);
    } else {
      expect(state.status).toBe('Completed');
      expect(state.output).toBe('event');
    }
  });

  it('an event after a continueAsNew in the same episode is lost with the old execution, as on the host', async () => {
    const looping: df.OrchestrationHandler = function* (context) {
      const generation = context.df.getInput<number>();
      const go = context.df.waitForExternalEvent('go');
      if (generation === 0) {
        yield context.df.callActivity('work', null);
        context.df.continueAsNew(1);
        return undefined;
      }
      const winner: unknown = yield context.df.Task.any([context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 60_000)), go]);
      return winner === go ? 'event' : 'timer';
    };
    const runner = orchestratorRunner(looping);
    const state = newInstance('i', 'o', 0, t0);
    await replay(state, runner, t0);
    inOneEpisode(state, [() => { completeActivity(state, 0, 'ok', at(1)); }, () => { raiseEvent(state, 'go', 1, at(1)); }]);
    await replay(state, runner, at(1));
    expect(state.input).toBe(1);
    expect(state.records.some((r) => r.kind === 'event')).toBe(false);
    expect(state.pending).toMatchObject([{ kind: 'timer' }]);
  });
});
