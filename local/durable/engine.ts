import azureFunctions, { type InvocationContext as Context } from '@azure/functions';
import type { OrchestrationHandler } from 'durable-functions';
import { EventRaisedEvent } from 'durable-functions/lib/src/history/EventRaisedEvent.js';
import { ExecutionStartedEvent } from 'durable-functions/lib/src/history/ExecutionStartedEvent.js';
import { OrchestratorStartedEvent } from 'durable-functions/lib/src/history/OrchestratorStartedEvent.js';
import { TaskCompletedEvent } from 'durable-functions/lib/src/history/TaskCompletedEvent.js';
import { TaskFailedEvent } from 'durable-functions/lib/src/history/TaskFailedEvent.js';
import { TaskScheduledEvent } from 'durable-functions/lib/src/history/TaskScheduledEvent.js';
import { TimerCreatedEvent } from 'durable-functions/lib/src/history/TimerCreatedEvent.js';
import { TimerFiredEvent } from 'durable-functions/lib/src/history/TimerFiredEvent.js';
import { createOrchestrator, DurableOrchestrationInput, type OrchestratorState } from 'durable-functions/lib/src/util/testingUtils.js';

import { workerRuns } from './versioning.js';

// @azure/functions is CommonJS whose classes Node's ESM loader cannot see as named exports.
const { InvocationContext } = azureFunctions;

/**
 * A development replay engine: it keeps an orchestration's history as plain JSON records and runs the real
 * orchestrator over it with the durable-functions package's own replay machinery (createOrchestrator), the
 * same code the Functions host drives. It decides nothing about time or work: its driver (the local runtime,
 * or a test) performs activities and fires timers, then appends what happened and replays.
 *
 * Task ids follow the library's own numbering: every open task it tracks (activities, timers, and the
 * hidden tasks of a retry) takes the next sequence number; external events are matched by name.
 */

export type HistoryRecord =
  | { kind: 'turn'; at: string }
  | { kind: 'started'; at: string; name: string; input: unknown; version?: string | undefined }
  /** `retry`: an attempt the host schedules itself for an activity with retry options, not an action. */
  | { kind: 'scheduled'; at: string; id: number; name: string; input: unknown; retry?: true }
  | { kind: 'completed'; at: string; id: number; result: unknown }
  | { kind: 'failed'; at: string; id: number; reason: string; details: string }
  /** `retry`: the delay before an activity's next attempt, which the host makes, not an action. */
  | { kind: 'timerCreated'; at: string; id: number; fireAt: string; retry?: true }
  | { kind: 'timerFired'; at: string; id: number; fireAt: string }
  | { kind: 'event'; at: string; name: string; data: unknown };

export interface RetryPolicy {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient: number;
  maxRetryIntervalInMilliseconds: number;
}

/** Work the orchestrator asked for and is waiting on. */
export type Work =
  | { kind: 'activity'; id: number; name: string; input: unknown; retry: RetryPolicy | undefined; attempt: number }
  | { kind: 'timer'; id: number; fireAt: Date; canceled: boolean; retryOf?: Extract<Work, { kind: 'activity' }> | undefined };

export type RuntimeStatus = 'Pending' | 'Running' | 'Completed' | 'Failed' | 'Terminated';

/** Everything about one instance, serialisable as JSON so a restart can resume it. */
export interface InstanceState {
  instanceId: string;
  name: string;
  /** The orchestration version the instance was created with (absent: created before versioning). */
  version?: string;
  /** Input of the current execution (continueAsNew replaces it). */
  input: unknown;
  status: RuntimeStatus;
  output: unknown;
  customStatus: unknown;
  createdAt: string;
  updatedAt: string;
  records: HistoryRecord[];
  nextId: number;
  /** Actions already turned into records, counted over the flattened action list of this execution. */
  actionsSeen: number;
  pending: Work[];
}

interface RawAction {
  actionType?: number;
  functionName?: string;
  input?: unknown;
  fireAt?: string | Date;
  isCanceled?: boolean;
  retryOptions?: RetryPolicy;
}

const ACTION = { callActivity: 0, callActivityWithRetry: 1, continueAsNew: 4, createTimer: 5, waitForExternalEvent: 6 } as const;

/**
 * The history as the host sends it: the events of earlier episodes played (`isPlayed`), this episode's new
 * (from its OrchestratorStarted on), which is what `context.df.isReplaying` tells the orchestrator.
 */
function toEvents(records: readonly HistoryRecord[]): unknown[] {
  const episode = records.findLastIndex((r) => r.kind === 'turn');
  return records.map((r, i) => {
    const options = (id: number) => ({ eventId: id, timestamp: new Date(r.at), isPlayed: i < episode });
    switch (r.kind) {
      case 'turn':
        return new OrchestratorStartedEvent(options(-1));
      case 'started':
        return new ExecutionStartedEvent({ ...options(-1), name: r.name, input: JSON.stringify(r.input), version: r.version });
      case 'scheduled':
        return new TaskScheduledEvent({ ...options(r.id), name: r.name, input: JSON.stringify(r.input) });
      case 'completed':
        return new TaskCompletedEvent({ ...options(-1), taskScheduledId: r.id, result: JSON.stringify(r.result ?? null) });
      case 'failed':
        return new TaskFailedEvent({ ...options(-1), taskScheduledId: r.id, reason: r.reason, details: r.details });
      case 'timerCreated':
        return new TimerCreatedEvent({ ...options(r.id), fireAt: new Date(r.fireAt) });
      case 'timerFired':
        return new TimerFiredEvent({ ...options(-1), timerId: r.id, fireAt: new Date(r.fireAt) });
      case 'event':
        return new EventRaisedEvent({ ...options(-1), name: r.name, input: JSON.stringify(r.data ?? null) });
    }
  });
}

/**
 * A new instance. `version` is what the host stamps on it from host.json's `defaultVersion` (the
 * orchestrator reads it as `context.df.version`); it stays with the instance across continueAsNew.
 */
export function newInstance(instanceId: string, name: string, input: unknown, now: Date, version?: string): InstanceState {
  const at = now.toISOString();
  return {
    instanceId,
    name,
    ...(version === undefined ? {} : { version }),
    input,
    status: 'Pending',
    output: null,
    customStatus: null,
    createdAt: at,
    updatedAt: at,
    records: [{ kind: 'turn', at }, { kind: 'started', at, name, input, version }],
    nextId: 0,
    actionsSeen: 0,
    pending: [],
  };
}

const OUT_OF_PROC_MARKER = '$OutOfProcData$:';

/**
 * What the Functions host invokes for an orchestration trigger: the durable-functions package's listener around
 * the orchestrator (what `df.app.orchestration` registers, and what `orchestratorRunner` makes).
 */
export type OrchestratorRunner = (input: DurableOrchestrationInput, context: Context) => Promise<OrchestratorState>;

/** The package's own listener around an orchestrator function. */
export function orchestratorRunner(handler: OrchestrationHandler): OrchestratorRunner {
  return createOrchestrator(handler);
}

/** One replay. An orchestrator that throws comes back, as from the host's point of view, as a state with error. */
async function runOnce(state: Pick<InstanceState, 'instanceId' | 'records' | 'input'>, runner: OrchestratorRunner, context: Context): Promise<OrchestratorState> {
  try {
    return await runner(new DurableOrchestrationInput(state.instanceId, toEvents(state.records), state.input), context);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const marker = message.indexOf(OUT_OF_PROC_MARKER);
    if (marker < 0) throw err;
    return JSON.parse(message.slice(marker + OUT_OF_PROC_MARKER.length)) as OrchestratorState;
  }
}

/** The host's limit on a custom status: 16 KB of UTF-16 JSON, in whole kilobytes rounded down. */
export const CUSTOM_STATUS_MAX_KB = 16;

/**
 * What the host says when a custom status is too large (the Durable extension's MessagePayloadDataConverter:
 * it fails the orchestration when floor(UTF-16 bytes / 1024) > 16); undefined when it fits.
 */
export function customStatusRefusal(customStatus: unknown): string | undefined {
  if (customStatus === undefined || customStatus === null) return undefined;
  // JSON text in UTF-16: two bytes per code unit (a character outside the BMP is two units, four bytes).
  const kb = Math.floor((JSON.stringify(customStatus).length * 2) / 1024);
  if (kb <= CUSTOM_STATUS_MAX_KB) return undefined;
  return `The UTF-16 size of the JSON-serialized payload must not exceed ${String(CUSTOM_STATUS_MAX_KB)} KB. The current payload size is ${String(kb)} KB.`;
}

/**
 * What the host does with an instance newer than the worker (`versionMatchStrategy: CurrentOrOlder`,
 * `versionFailureStrategy: Reject`): it does not run it and leaves its history as it is; the work item is
 * abandoned and tried again later (DurableTask.Core TaskOrchestrationDispatcher). Thrown by replay.
 */
export class VersionRejectedError extends Error {
  constructor(
    readonly instanceVersion: string | undefined,
    readonly workerVersion: string | undefined,
  ) {
    super(`Orchestration version ${instanceVersion ?? '(none)'} is newer than the worker's ${workerVersion ?? '(none)'}: the work item is abandoned and retried later`);
    this.name = 'VersionRejectedError';
  }
}

/** The worker replaying: its version (host.json's defaultVersion), against which instances are gated. */
export interface Worker {
  version?: string | undefined;
}

/** The actions a history recorded, in order: what a replay must take again (retry attempts are the host's). */
function recordedActions(records: readonly HistoryRecord[]): ActionSignature[] {
  return records.flatMap((r): ActionSignature[] => {
    if (r.kind === 'scheduled' && !r.retry) return [{ kind: 'activity', name: r.name }];
    if (r.kind === 'timerCreated' && !r.retry) return [{ kind: 'timer' }];
    return [];
  });
}

/**
 * Where the replayed actions differ from the history, as DurableTask.Core finds it: each recorded
 * TaskScheduled must meet an activity of the same name (OrdinalIgnoreCase) and each TimerCreated a timer, at
 * the same position; a recorded one the replay has not (yet?) taken is a difference too
 * (TaskOrchestrationContext.HandleTaskScheduledEvent / HandleTimerCreatedEvent). Undefined when they match.
 */
export function nonDeterminism(recorded: readonly ActionSignature[], replayed: readonly ActionSignature[]): string | undefined {
  for (const [i, want] of recorded.entries()) {
    const got = replayed[i];
    const what = (a: ActionSignature) => (a.kind === 'activity' ? `an activity task named '${a.name ?? ''}'` : a.kind === 'timer' ? 'a timer task' : 'a continueAsNew');
    if (!got) {
      return `Non-Deterministic workflow detected: A previous execution of this orchestration scheduled ${what(want)} at position ${String(i)}, but the current replay execution hasn't (yet?) scheduled this task.`;
    }
    const sameName = (want.name ?? '').toUpperCase() === (got.name ?? '').toUpperCase();
    if (got.kind !== want.kind || !sameName) {
      return `Non-Deterministic workflow detected: A previous execution of this orchestration scheduled ${what(want)} at position ${String(i)}, but the current orchestration replay instead produced ${what(got)}.`;
    }
  }
  return undefined;
}

/**
 * Run the orchestrator over the instance's history and turn its new actions into records and work.
 * Mutates and returns the state. The caller appends the outcome of work with the helpers below first.
 * With a worker, an instance newer than it is refused as the host refuses it (VersionRejectedError, the
 * state untouched); a replay that does not take the recorded actions fails the instance, as on the host.
 */
export async function replay(state: InstanceState, runner: OrchestratorRunner, now: Date, worker?: Worker): Promise<InstanceState> {
  if (state.status === 'Completed' || state.status === 'Failed' || state.status === 'Terminated') return state;
  if (worker && !workerRuns(state.version, worker.version)) throw new VersionRejectedError(state.version, worker.version);
  const context = new InvocationContext({ functionName: state.name, invocationId: `${state.instanceId}:${state.records.length}`, logHandler: () => undefined });
  const result = await runOnce(state, runner, context);
  const at = now.toISOString();
  state.updatedAt = at;
  state.status = 'Running';
  const oversized = customStatusRefusal(result.customStatus);
  if (oversized !== undefined) {
    // The host sets the custom status before it looks at the actions, so none of them is scheduled.
    state.status = 'Failed';
    state.output = `Orchestrator function '${state.name}' failed: ${oversized}`;
    state.pending = [];
    return state;
  }
  if (result.customStatus !== undefined) state.customStatus = result.customStatus;

  const actions = (result.actions.flat() as RawAction[]).filter((a) => a.actionType !== ACTION.waitForExternalEvent);
  const differs = nonDeterminism(recordedActions(state.records), actions.map(signatureOf));
  if (differs !== undefined) {
    // DurableTask.Core fails the orchestration (TaskOrchestrationExecutor catches the exception and fails it).
    state.status = 'Failed';
    state.output = `Orchestrator function '${state.name}' failed: ${differs}`;
    state.pending = [];
    return state;
  }
  const fresh = actions.slice(state.actionsSeen);
  // Timers canceled since they were recorded will never fire.
  actions.slice(0, state.actionsSeen).forEach((action, index) => {
    if (action.isCanceled) cancelTimerAt(state, index);
  });
  for (const action of fresh) {
    switch (action.actionType) {
      case ACTION.callActivity:
      case ACTION.callActivityWithRetry: {
        const id = state.nextId++;
        const name = action.functionName ?? '';
        state.records.push({ kind: 'scheduled', at, id, name, input: action.input });
        state.pending.push({ kind: 'activity', id, name, input: action.input, retry: action.retryOptions, attempt: 1 });
        break;
      }
      case ACTION.createTimer: {
        const id = state.nextId++;
        const fireAt = new Date(action.fireAt ?? at);
        state.records.push({ kind: 'timerCreated', at, id, fireAt: fireAt.toISOString() });
        state.pending.push({ kind: 'timer', id, fireAt, canceled: action.isCanceled === true });
        break;
      }
      case ACTION.continueAsNew:
        return continueAsNew(state, action.input, now, runner, worker);
      default:
        throw new Error(`the local engine does not support action type ${String(action.actionType)}`);
    }
  }
  state.actionsSeen = actions.length;
  state.pending = state.pending.filter((w) => !(w.kind === 'timer' && w.canceled));

  if (result.error !== undefined) {
    state.status = 'Failed';
    state.output = result.error;
    state.pending = [];
  } else if (result.isDone) {
    state.status = 'Completed';
    state.output = result.output ?? null;
    state.pending = [];
  }
  return state;
}

/**
 * An action as the host matches it against history on replay: its kind and, for activities, the function
 * name. Inputs and timer instants are not compared by the host, so they are not part of it either.
 */
export interface ActionSignature {
  kind: 'activity' | 'timer' | 'continueAsNew';
  name?: string;
}

function signatureOf(action: RawAction): ActionSignature {
  switch (action.actionType) {
    case ACTION.callActivity:
    case ACTION.callActivityWithRetry:
      return { kind: 'activity', name: action.functionName ?? '' };
    case ACTION.createTimer:
      return { kind: 'timer' };
    case ACTION.continueAsNew:
      return { kind: 'continueAsNew' };
    default:
      throw new Error(`the local engine does not support action type ${String(action.actionType)}`);
  }
}

/**
 * What the orchestrator decides over a history, without changing anything: every action it takes, in order
 * (waiting for an external event leaves nothing in history and is left out), and how the execution ends.
 */
export async function actionsOf(
  state: Pick<InstanceState, 'instanceId' | 'name' | 'input' | 'records'>,
  runner: OrchestratorRunner,
): Promise<{ actions: ActionSignature[]; isDone: boolean; output: unknown; customStatus: unknown; error: string | undefined }> {
  const context = new InvocationContext({ functionName: state.name, invocationId: `${state.instanceId}:dry`, logHandler: () => undefined });
  const result = await runOnce(state, runner, context);
  const actions = (result.actions.flat() as RawAction[]).filter((a) => a.actionType !== ACTION.waitForExternalEvent).map(signatureOf);
  return { actions, isDone: result.isDone, output: result.output, customStatus: result.customStatus, error: result.error };
}

/** Index of recorded timers in action order, to find one that was canceled later. */
function cancelTimerAt(state: InstanceState, actionIndex: number): void {
  const scheduledIds = state.records.filter((r) => r.kind === 'scheduled' || r.kind === 'timerCreated').map((r) => (r as { id: number }).id);
  const id = scheduledIds[actionIndex];
  state.pending = state.pending.filter((w) => !(w.kind === 'timer' && w.id === id));
}

function continueAsNew(state: InstanceState, input: unknown, now: Date, runner: OrchestratorRunner, worker: Worker | undefined): Promise<InstanceState> {
  const at = now.toISOString();
  state.input = input;
  state.records = [{ kind: 'turn', at }, { kind: 'started', at, name: state.name, input, version: state.version }];
  state.nextId = 0;
  state.actionsSeen = 0;
  state.pending = [];
  return replay(state, runner, now, worker);
}

function take<K extends Work['kind']>(state: InstanceState, kind: K, id: number): Extract<Work, { kind: K }> {
  const index = state.pending.findIndex((w) => w.kind === kind && w.id === id);
  if (index < 0) throw new Error(`instance ${state.instanceId} has no pending ${kind} ${id}`);
  const [work] = state.pending.splice(index, 1);
  return work as Extract<Work, { kind: K }>;
}

export function completeActivity(state: InstanceState, id: number, result: unknown, now: Date): void {
  take(state, 'activity', id);
  const at = now.toISOString();
  state.records.push({ kind: 'turn', at }, { kind: 'completed', at, id, result });
}

/**
 * An activity threw. Without retry options the task fails. With them, the library expects what the host
 * writes: the failure, then a timer (the retry delay), then either a new attempt or, when attempts ran out,
 * nothing more: the task then fails with the last error.
 */
export function failActivity(state: InstanceState, id: number, error: Error, now: Date): void {
  const work = take(state, 'activity', id);
  const at = now.toISOString();
  state.records.push({ kind: 'turn', at }, { kind: 'failed', at, id, reason: error.message, details: error.stack ?? '' });
  if (!work.retry) return;
  const timerId = state.nextId++;
  const exhausted = work.attempt >= work.retry.maxNumberOfAttempts;
  const delay = exhausted
    ? 0
    : Math.min(
        work.retry.firstRetryIntervalInMilliseconds * work.retry.backoffCoefficient ** (work.attempt - 1),
        work.retry.maxRetryIntervalInMilliseconds > 0 ? work.retry.maxRetryIntervalInMilliseconds : Number.POSITIVE_INFINITY,
      );
  const fireAt = new Date(now.getTime() + delay);
  state.records.push({ kind: 'timerCreated', at, id: timerId, fireAt: fireAt.toISOString(), retry: true });
  state.pending.push({ kind: 'timer', id: timerId, fireAt, canceled: false, retryOf: exhausted ? undefined : work });
}

/** A timer is due. For a retry delay, the activity's next attempt is scheduled under the next task id. */
export function fireTimer(state: InstanceState, id: number, now: Date): void {
  const timer = take(state, 'timer', id);
  const at = now.toISOString();
  state.records.push({ kind: 'turn', at }, { kind: 'timerFired', at, id, fireAt: timer.fireAt.toISOString() });
  if (timer.retryOf) {
    const next = state.nextId++;
    const previous = timer.retryOf;
    state.records.push({ kind: 'scheduled', at, id: next, name: previous.name, input: previous.input, retry: true });
    state.pending.push({ ...previous, id: next, attempt: previous.attempt + 1 });
  }
}

export function raiseEvent(state: InstanceState, name: string, data: unknown, now: Date): void {
  const at = now.toISOString();
  state.records.push({ kind: 'turn', at }, { kind: 'event', at, name, data });
}

/**
 * Several outcomes in one episode, as the host delivers what arrived while the orchestrator was busy: one
 * OrchestratorStarted, then every event in the order given (an activity's completion and a cancel together,
 * a timer and an event...). The library resumes the orchestrator after each event in turn, and stops at the
 * first that ends the execution: events after a continueAsNew in the same episode are lost with the old
 * execution, as on the host (the JS SDK's continueAsNew does not preserve unprocessed events).
 */
export function inOneEpisode(state: InstanceState, appenders: readonly (() => void)[]): void {
  const from = state.records.length;
  for (const append of appenders) append();
  let first = true;
  state.records = state.records.filter((r, i) => {
    if (i < from || r.kind !== 'turn') return true;
    if (first) {
      first = false;
      return true;
    }
    return false;
  });
}

export function terminate(state: InstanceState, reason: string, now: Date): void {
  state.status = 'Terminated';
  state.output = reason;
  state.pending = [];
  state.updatedAt = now.toISOString();
}
