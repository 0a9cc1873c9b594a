import type { OrchestrationHandler } from 'durable-functions';

import {
  type ActionSignature,
  actionsOf,
  completeActivity,
  failActivity,
  fireTimer,
  type HistoryRecord,
  inOneEpisode,
  type InstanceState,
  newInstance,
  orchestratorRunner,
  raiseEvent,
  replay,
  type Work,
} from '../../../local/durable/engine.js';
import { type RunSnapshot, snapshotOf } from '../../../src/core/run.js';
import type { JobRunInput } from '../../../src/core/schemas.js';
import { ACTIVITIES, CANCEL_EVENT } from '../../../src/functions/names.js';
import type { SubmitResult } from '../../../src/runs/submit.js';

/**
 * Runs a run's orchestration through named scenarios, answering whatever it schedules, and keeps the history
 * of every execution (continueAsNew starts a new one) with the actions the orchestrator took over it. The
 * recorder (record.ts) writes these out once as golden histories; the golden test replays them with the code
 * of the day. The driver answers by activity name and call count, not by position, so it follows the flow of
 * whichever version it drives.
 */

export interface GoldenExecution {
  input: unknown;
  records: HistoryRecord[];
  /** What the orchestrator that was recorded did over these records, in order. */
  actions: ActionSignature[];
  /** False for an execution left in flight (waiting on work) when the recording stopped. */
  finished: boolean;
}

export interface GoldenHistory {
  scenario: string;
  description: string;
  orchestrator: string;
  /** The orchestration version the instance was created with; absent for instances from before versioning. */
  version?: string;
  recordedAt: string;
  executions: GoldenExecution[];
}

type Answer = unknown;
interface RaisedEvent {
  name: string;
  data: unknown;
  /** Delivered in one episode with the timer's firing, after it, as the host batches what arrived together. */
  withTimer?: boolean;
}
interface Scenario {
  name: string;
  description: string;
  /** A run's input; an old one may lack fields written later (their defaults then decide). */
  input: JobRunInput | Record<string, unknown>;
  /** The answer to the `call`-th call (from 0) of an activity: a result, or an Error for the activity to throw. */
  answer(activity: string, call: number, now: Date): Answer;
  /** Before the `timer`-th timer (from 0) fires, an event raised instead (or with it, `withTimer`). */
  event?(timer: number): RaisedEvent | undefined;
  /** While the `call`-th call (from 0) of an activity runs, an event raised before it is answered. */
  eventDuring?(activity: string, call: number): RaisedEvent | undefined;
  /** Stop with the instance in flight after this many steps (an instance caught by a deploy). */
  stopAfterSteps?: number;
}

const t0 = new Date('2026-11-23T10:00:00Z');
const request = {
  runId: 'nightly-0123456789',
  cluster: 'dev',
  namespace: 'batch',
  source: { kind: 'Job' as const, name: 'nightly' },
  overrides: { BATCH_DATE: '2026-11-23' },
  requestHash: 'hash-1',
};
const ref = { runId: request.runId, cluster: request.cluster, namespace: request.namespace, source: request.source };

function input(poll: Partial<JobRunInput['poll']> = {}, timeoutSeconds?: number): JobRunInput {
  return {
    request: timeoutSeconds ? { ...request, timeoutSeconds } : request,
    poll: { initialSeconds: 5, maxSeconds: 60, factor: 2, continueAsNewAfter: 50, maxObserveFailures: 3, ...poll },
    retry: { firstRetryMs: 1000, maxAttempts: 2 },
  };
}

function snap(status: RunSnapshot['status'], reason: string, at: Date, extra: Partial<RunSnapshot> = {}): RunSnapshot {
  return snapshotOf(ref, { status, reason, message: `${status} ${reason}`, ...extra }, at);
}

const submitted = (now: Date): SubmitResult => ({ outcome: 'submitted', snapshot: snap('Starting', 'Submitted', now) });
const running = (now: Date) => snap('Running', 'Running', now, { pods: { active: 1, ready: 1, succeeded: 0, failed: 0 } });
const success = (now: Date) => snap('Success', 'Complete', now, { pods: { active: 0, ready: 0, succeeded: 1, failed: 0 }, outputs: { rows: 42 } });
const archived = () => ({ location: 'run-logs/dev/batch/nightly-0123456789/index.json' });
/** From 3.1 every verdict is pushed: the number of deliveries started (none without subscriptions). */
const notified = () => 0;
const throttledSubmit = (now: Date): SubmitResult => ({
  outcome: 'throttled',
  snapshot: snap('Starting', 'Throttled', now),
  retryAt: new Date(now.getTime() + 3_000).toISOString(),
});
const throttledStop = (now: Date) => ({ outcome: 'throttled', retryAt: new Date(now.getTime() + 3_000).toISOString(), message: 'deleting Job batch/x waits' });
const stopped = (status: RunSnapshot['status'], reason: string) => (now: Date) => snap(status, reason, now);

/** Answers by activity: a list per activity, the last entry repeating. */
function answers(table: Partial<Record<string, ((now: Date) => Answer)[]>>): Scenario['answer'] {
  return (activity, call, now) => {
    // Every run archives once its verdict is final (goldens recorded before the archive have none).
    const list = table[activity] ?? (activity === ACTIVITIES.archiveRun ? [archived] : activity === ACTIVITIES.notifyRun ? [notified] : undefined);
    if (!list || list.length === 0) throw new Error(`scenario has no answer for ${activity}`);
    const pick = list[Math.min(call, list.length - 1)];
    if (!pick) throw new Error(`scenario has no answer for ${activity} call ${String(call)}`);
    return pick(now);
  };
}

const transient = (message: string) => () => new Error(message);

/** A run whose source allows `retries` retries on disruption (orchestration 3.1, core/retry.ts). */
function retrying(retries: number, timeoutSeconds?: number): JobRunInput {
  const base = input({}, timeoutSeconds);
  return { ...base, request: { ...base.request, retryOnDisruption: retries } };
}
const secondJob = `${request.runId}-2`;
const evicted = (now: Date) =>
  snap('Failed', 'BackoffLimitExceeded', now, {
    pods: { active: 0, ready: 0, succeeded: 0, failed: 1 },
    failure: { kind: 'Evicted', exitCode: null, signal: null, container: null, pod: 'nightly-0123456789-abcde', node: 'node-1', attempt: 1, reason: 'Evicted', message: 'The node was low on resource: memory.', at: now.toISOString() },
    failureKind: 'Evicted',
    exitCode: null,
  });
const exitedWith1 = (now: Date) =>
  snap('Failed', 'BackoffLimitExceeded', now, {
    pods: { active: 0, ready: 0, succeeded: 0, failed: 1 },
    failure: { kind: 'ExitCode', exitCode: 1, signal: null, container: 'main', pod: 'nightly-0123456789-abcde', node: 'node-1', attempt: 1, reason: 'Error', message: 'container main exited with code 1', at: now.toISOString() },
    failureKind: 'ExitCode',
    exitCode: 1,
  });
const onSecondJob = (answer: (now: Date) => RunSnapshot) => (now: Date) => ({ ...answer(now), jobName: secondJob });
const submittedSecond = (now: Date): SubmitResult => ({ outcome: 'submitted', snapshot: { ...snap('Starting', 'Submitted', now), jobName: secondJob } });

export const SCENARIOS: Scenario[] = [
  {
    name: 'happy-path',
    description: 'submit, two polls on growing timers, Success with outputs',
    input: input(),
    answer: answers({ [ACTIVITIES.submitRun]: [submitted], [ACTIVITIES.observeRun]: [running, success] }),
  },
  {
    name: 'failure-by-job',
    description: 'the Job fails by its own conditions: no delete',
    input: input(),
    answer: answers({ [ACTIVITIES.submitRun]: [submitted], [ACTIVITIES.observeRun]: [running, (now) => snap('Failed', 'BackoffLimitExceeded', now)] }),
  },
  {
    name: 'failure-by-app',
    description: 'a pod problem past its grace: the run is Failed and its Job deleted',
    input: input(),
    answer: answers({
      [ACTIVITIES.submitRun]: [submitted],
      [ACTIVITIES.observeRun]: [(now) => snap('Failed', 'ErrImagePull', now)],
      [ACTIVITIES.stopRun]: [stopped('Failed', 'ErrImagePull')],
    }),
  },
  {
    name: 'submit-rejected',
    description: 'the source is gone: the rejected submit is the result, nothing polled',
    input: input(),
    answer: answers({ [ACTIVITIES.submitRun]: [(now) => ({ outcome: 'rejected', snapshot: snap('Failed', 'SourceNotFound', now) })] }),
  },
  {
    name: 'submit-replayed',
    description: 'the submit fails transiently, is retried by RetryOptions, then polls to Success',
    input: input(),
    answer: answers({
      [ACTIVITIES.submitRun]: [transient('create Job batch/nightly-0123456789 failed: HTTP 503'), submitted],
      [ACTIVITIES.observeRun]: [success],
    }),
  },
  {
    name: 'submit-failed',
    description: 'the submit keeps failing transiently: any half-created Job is deleted, the run Failed SubmitFailed',
    input: input(),
    answer: answers({
      [ACTIVITIES.submitRun]: [transient('create Job failed: HTTP 503')],
      [ACTIVITIES.stopRun]: [stopped('Failed', 'SubmitFailed')],
    }),
  },
  {
    name: 'cancel-during-timer',
    description: 'a cancel event while the poll timer waits: the timer is cancelled and the Job deleted',
    input: input(),
    answer: answers({
      [ACTIVITIES.submitRun]: [submitted],
      [ACTIVITIES.observeRun]: [running],
      [ACTIVITIES.stopRun]: [stopped('Cancelled', 'CancelRequested')],
    }),
    event: (timer) => (timer === 1 ? { name: CANCEL_EVENT, data: { reason: 'wrong date' } } : undefined),
  },
  {
    name: 'cancel-in-flight',
    description: 'a cancel event arrived and the run stopped in flight at a deploy, its stop activity not yet answered',
    input: input(),
    answer: answers({
      [ACTIVITIES.submitRun]: [submitted],
      [ACTIVITIES.observeRun]: [running],
      [ACTIVITIES.stopRun]: [stopped('Cancelled', 'CancelRequested')],
    }),
    event: (timer) => (timer === 1 ? { name: CANCEL_EVENT, data: {} } : undefined),
    stopAfterSteps: 4,
  },
  {
    name: 'continue-as-new',
    description: 'continueAsNew every 2 polls: the second execution carries the progress and ends in Success',
    input: input({ continueAsNewAfter: 2 }),
    answer: answers({ [ACTIVITIES.submitRun]: [submitted], [ACTIVITIES.observeRun]: [running, running, running, success] }),
  },
  {
    name: 'timeout',
    description: 'timeoutSeconds passes: the last timer is cut to the deadline, one last look, the Job deleted',
    input: input({}, 12),
    answer: answers({
      [ACTIVITIES.submitRun]: [submitted],
      [ACTIVITIES.observeRun]: [running],
      [ACTIVITIES.stopRun]: [stopped('Failed', 'RunTimeout')],
    }),
  },
  {
    name: 'observe-refused',
    description: 'the cluster refuses to let the run be read, maxObserveFailures (3) times in a row',
    input: input(),
    answer: answers({
      [ACTIVITIES.submitRun]: [submitted],
      [ACTIVITIES.observeRun]: [(now) => snap('Unknown', 'ObserveFailed', now, { message: 'the run could not be read: read Job failed: HTTP 403 Forbidden' })],
      [ACTIVITIES.stopRun]: [stopped('Failed', 'ObserveFailed')],
    }),
  },
  {
    name: 'observe-unanswered',
    description: 'the cluster does not answer for a while (retries run out), then the run is read again and succeeds',
    input: input(),
    answer: answers({
      [ACTIVITIES.submitRun]: [submitted],
      [ACTIVITIES.observeRun]: [
        transient('read Job failed: no answer from the API server'),
        transient('read Job failed: no answer from the API server'),
        running,
        success,
      ],
    }),
  },
  {
    name: 'cancel-after-own-end',
    description: 'a cancel event after the Job ended on its own: the last look keeps Success and its outputs, nothing is deleted',
    input: input(),
    answer: answers({ [ACTIVITIES.submitRun]: [submitted], [ACTIVITIES.observeRun]: [running, success] }),
    event: (timer) => (timer === 1 ? { name: CANCEL_EVENT, data: { reason: 'too late' } } : undefined),
  },
  {
    name: 'submit-throttled',
    description: 'the API server throttles the create twice: the run waits as it asks (Starting, Throttled), then submits and succeeds',
    input: input(),
    answer: answers({
      [ACTIVITIES.submitRun]: [throttledSubmit, throttledSubmit, submitted],
      [ACTIVITIES.observeRun]: [running, success],
    }),
  },
  {
    name: 'stop-throttled',
    description: 'the app fails the run (ErrImagePull) and the API server throttles the delete once: it waits, then deletes',
    input: input(),
    answer: answers({
      [ACTIVITIES.submitRun]: [submitted],
      [ACTIVITIES.observeRun]: [(now) => snap('Failed', 'ErrImagePull', now)],
      [ACTIVITIES.stopRun]: [throttledStop, stopped('Failed', 'ErrImagePull')],
    }),
  },
  {
    name: 'outage',
    description: 'the cluster does not answer for four polls (more than maxObserveFailures), then the run succeeds',
    input: input(),
    answer: answers({
      [ACTIVITIES.submitRun]: [submitted],
      [ACTIVITIES.observeRun]: [...Array.from({ length: 8 }, () => transient('read Job failed: no answer from the API server')), running, success],
    }),
  },
  {
    name: 'cancel-during-observe',
    description: 'a cancel raised while an observe runs: from 3.0 seen when it returns (no further timer), the last look, the delete',
    input: input(),
    answer: answers({
      [ACTIVITIES.submitRun]: [submitted],
      [ACTIVITIES.observeRun]: [running],
      [ACTIVITIES.stopRun]: [stopped('Cancelled', 'CancelRequested')],
    }),
    eventDuring: (activity, call) => (activity === ACTIVITIES.observeRun && call === 1 ? { name: CANCEL_EVENT, data: { reason: 'wrong date' } } : undefined),
  },
  {
    name: 'cancel-during-throttled-submit',
    description: 'a cancel raised while a throttled submit is retried, and throttled again: from 3.0 no submit after it, the run Cancelled',
    input: input(),
    answer: answers({
      [ACTIVITIES.submitRun]: [throttledSubmit],
      [ACTIVITIES.observeRun]: [running],
      [ACTIVITIES.stopRun]: [stopped('Cancelled', 'CancelRequested')],
    }),
    eventDuring: (activity, call) => (activity === ACTIVITIES.submitRun && call === 1 ? { name: CANCEL_EVENT, data: { reason: 'not today' } } : undefined),
  },
  {
    name: 'cancel-at-continue-as-new',
    description: 'a cancel raised during the last observe of a generation: it stops the run instead of being lost with the execution',
    input: input({ continueAsNewAfter: 2 }),
    answer: answers({
      [ACTIVITIES.submitRun]: [submitted],
      [ACTIVITIES.observeRun]: [running],
      [ACTIVITIES.stopRun]: [stopped('Cancelled', 'CancelRequested')],
    }),
    eventDuring: (activity, call) => (activity === ACTIVITIES.observeRun && call === 1 ? { name: CANCEL_EVENT, data: {} } : undefined),
  },
  {
    name: 'cancel-with-timer-batched',
    description: 'the poll timer and a cancel delivered in one episode: the timer wins the wait, the cancel is seen when the observe returns',
    input: input(),
    answer: answers({
      [ACTIVITIES.submitRun]: [submitted],
      [ACTIVITIES.observeRun]: [running],
      [ACTIVITIES.stopRun]: [stopped('Cancelled', 'CancelRequested')],
    }),
    event: (timer) => (timer === 1 ? { name: CANCEL_EVENT, data: { reason: 'batched' }, withTimer: true } : undefined),
  },
  {
    name: 'cancel-during-submit-retry',
    description: 'a cancel raised while a transiently failed submit waits for its retry: from 3.0 no further attempt, any half-made Job deleted',
    input: input(),
    answer: answers({
      [ACTIVITIES.submitRun]: [transient('create Job batch/nightly-0123456789 failed: HTTP 503'), submitted],
      [ACTIVITIES.observeRun]: [running],
      [ACTIVITIES.stopRun]: [stopped('Cancelled', 'CancelRequested')],
    }),
    event: (timer) => (timer === 0 ? { name: CANCEL_EVENT, data: { reason: 'changed my mind' } } : undefined),
  },
  {
    name: 'stop-throttled-long',
    description: 'the API server throttles the delete five times, each asking for a second: from 3.0 the waits grow (1, 2, 4, 8, 16 s)',
    input: input(),
    answer: answers({
      [ACTIVITIES.submitRun]: [submitted],
      [ACTIVITIES.observeRun]: [(now) => snap('Failed', 'ErrImagePull', now)],
      [ACTIVITIES.stopRun]: [
        ...Array.from({ length: 5 }, () => (now: Date) => ({ outcome: 'throttled', retryAt: new Date(now.getTime() + 1_000).toISOString(), message: 'deleting Job batch/x waits' })),
        stopped('Failed', 'ErrImagePull'),
      ],
    }),
  },
  {
    name: 'archive-failed',
    description: 'the archive fails even after its retries: the verdict stands and says why there is no archive',
    input: input(),
    answer: answers({
      [ACTIVITIES.submitRun]: [submitted],
      [ACTIVITIES.observeRun]: [success],
      [ACTIVITIES.archiveRun]: [transient('upload to run-logs failed: HTTP 503')],
    }),
  },
  {
    name: 'push-notify',
    description: 'version 3.1: after the verdict and the archive, one activity starts the deliveries of the subscriptions',
    input: input(),
    answer: answers({
      [ACTIVITIES.submitRun]: [submitted],
      [ACTIVITIES.observeRun]: [success],
      [ACTIVITIES.notifyRun]: [() => 2],
    }),
  },
  {
    name: 'push-notify-failed',
    description: 'version 3.1: the deliveries cannot be started even after the retries (the subscriptions store is down): the verdict stands',
    input: input(),
    answer: answers({
      [ACTIVITIES.submitRun]: [submitted],
      [ACTIVITIES.observeRun]: [running, success],
      [ACTIVITIES.notifyRun]: [transient('list blobs under runs/nightly-0123456789/ failed: HTTP 503')],
    }),
  },
  {
    name: 'timeout-throttled-submit',
    description: 'the create stays throttled until timeoutSeconds passes: Failed RunTimeout, any half-created Job deleted',
    input: input({}, 10),
    answer: answers({
      [ACTIVITIES.submitRun]: [(now) => ({ ...throttledSubmit(now), retryAt: new Date(now.getTime() + 30_000).toISOString() })],
      [ACTIVITIES.stopRun]: [stopped('Failed', 'RunTimeout')],
    }),
  },
  {
    name: 'old-input',
    description:
      'an input continued as new by older code, without the fields written later (maxObserveFailures, observeFailures, trigger): their defaults decide, so a changed default is caught (ObserveFailed after 10 refusals)',
    input: {
      request: { runId: request.runId, cluster: request.cluster, namespace: request.namespace, source: request.source, overrides: request.overrides, requestHash: request.requestHash },
      poll: { initialSeconds: 5, maxSeconds: 60, factor: 2, continueAsNewAfter: 50 },
      retry: { firstRetryMs: 1000, maxAttempts: 2 },
      progress: {
        deadline: null,
        polls: 3,
        generation: 1,
        last: {
          runId: request.runId,
          status: 'Running',
          reason: 'Running',
          message: 'Running Running',
          cluster: request.cluster,
          namespace: request.namespace,
          jobName: request.runId,
          source: request.source,
          startTime: null,
          completionTime: null,
          pods: { active: 1, ready: 1, succeeded: 0, failed: 0 },
          monitorUrl: null,
          outputs: {},
          observedAt: t0.toISOString(),
        },
      },
    },
    answer: answers({
      [ACTIVITIES.observeRun]: [(now) => snap('Unknown', 'ObserveFailed', now, { message: 'the run could not be read: read Job failed: HTTP 403 Forbidden' })],
      [ACTIVITIES.stopRun]: [stopped('Failed', 'ObserveFailed')],
    }),
  },
];

/** Orchestration 3.1's retries on disruption: recorded from 3.1 on (earlier versions never retry). */
SCENARIOS.push(
  {
    name: 'retry-evicted-then-succeeds',
    description: 'the first Job is evicted; it is deleted, the run starts over with a fresh Job <runId>-2, which succeeds',
    input: retrying(2),
    answer: answers({
      [ACTIVITIES.submitRun]: [submitted, submittedSecond],
      [ACTIVITIES.observeRun]: [running, evicted, onSecondJob(running), onSecondJob(success)],
      [ACTIVITIES.stopRun]: [stopped('Failed', 'BackoffLimitExceeded')],
    }),
  },
  {
    name: 'retry-exit-code-not-retried',
    description: 'a run that may retry fails with an exit code: no retry, the Job ended itself and is kept',
    input: retrying(2),
    answer: answers({ [ACTIVITIES.submitRun]: [submitted], [ACTIVITIES.observeRun]: [running, exitedWith1] }),
  },
  {
    name: 'retry-attempts-exhausted',
    description: 'one retry allowed: the first Job and its retry are both evicted, and the run is Failed with the second',
    input: retrying(1),
    answer: answers({
      [ACTIVITIES.submitRun]: [submitted, submittedSecond],
      [ACTIVITIES.observeRun]: [running, evicted, onSecondJob(running), onSecondJob(evicted)],
      [ACTIVITIES.stopRun]: [stopped('Failed', 'BackoffLimitExceeded')],
    }),
  },
  {
    name: 'retry-cancel-between-attempts',
    description: 'a cancel arrives while the evicted Job is deleted: no second Job, the run is Cancelled',
    input: retrying(2),
    answer: answers({
      [ACTIVITIES.submitRun]: [submitted],
      [ACTIVITIES.observeRun]: [running, evicted],
      [ACTIVITIES.stopRun]: [stopped('Failed', 'BackoffLimitExceeded'), stopped('Cancelled', 'CancelRequested')],
    }),
    eventDuring: (activity, call) => (activity === ACTIVITIES.stopRun && call === 0 ? { name: CANCEL_EVENT, data: { reason: 'enough' } } : undefined),
  },
  {
    name: 'retry-keeps-the-run-deadline',
    description: "the retry's Job has what is left of the run's timeout: it is stopped at the first Job's deadline",
    input: retrying(2, 30),
    answer: answers({
      [ACTIVITIES.submitRun]: [submitted, submittedSecond],
      [ACTIVITIES.observeRun]: [running, evicted, onSecondJob(running)],
      [ACTIVITIES.stopRun]: [stopped('Failed', 'BackoffLimitExceeded'), (now) => ({ ...snap('Failed', 'RunTimeout', now), jobName: secondJob })],
    }),
  },
);

const MAX_STEPS = 200;

/** Drive one scenario with an orchestrator and keep each execution's history and actions. */
export async function recordScenario(
  scenario: Scenario,
  handler: OrchestrationHandler,
  version: string | undefined,
): Promise<Pick<GoldenHistory, 'executions'>> {
  const runner = orchestratorRunner(handler);
  let now = t0;
  const state: InstanceState = newInstance('golden-run', 'jobRun', structuredClone(scenario.input), now, version);
  const executions: GoldenExecution[] = [];
  const calls = new Map<string, number>();
  const raisedDuring = new Set<string>();
  let timers = 0;

  const keep = async (records: HistoryRecord[], input: unknown, finished: boolean) => {
    const { actions } = await actionsOf({ instanceId: state.instanceId, name: state.name, input, records }, runner);
    executions.push({ input: structuredClone(input), records: structuredClone(records), actions, finished });
  };
  /** Append an outcome, then replay; a continueAsNew in that replay closes the execution that led to it. */
  const step = async (append: () => void) => {
    append();
    const records = structuredClone(state.records);
    const executionInput = state.input;
    await replay(state, runner, now);
    if (state.input !== executionInput) await keep(records, executionInput, true);
  };

  await replay(state, runner, now);
  for (let steps = 0; ; steps++) {
    const done = state.status === 'Completed' || state.status === 'Failed';
    if (done || steps === scenario.stopAfterSteps) {
      await keep(state.records, state.input, done);
      return { executions };
    }
    if (steps >= MAX_STEPS) throw new Error(`scenario ${scenario.name} did not end within ${String(MAX_STEPS)} steps`);
    const activity = state.pending.find((w): w is Extract<Work, { kind: 'activity' }> => w.kind === 'activity');
    if (activity) {
      const call = calls.get(activity.name) ?? 0;
      const during = raisedDuring.has(`${activity.name}#${String(call)}`) ? undefined : scenario.eventDuring?.(activity.name, call);
      if (during) {
        // The event arrives while the activity runs: its own episode, the activity still pending.
        raisedDuring.add(`${activity.name}#${String(call)}`);
        now = new Date(now.getTime() + 500);
        await step(() => {
          raiseEvent(state, during.name, during.data, now);
        });
        continue;
      }
      calls.set(activity.name, call + 1);
      const answer = scenario.answer(activity.name, call, now);
      await step(() => {
        if (answer instanceof Error) failActivity(state, activity.id, answer, now);
        else completeActivity(state, activity.id, answer, now);
      });
      continue;
    }
    const timer = state.pending.find((w): w is Extract<Work, { kind: 'timer' }> => w.kind === 'timer');
    if (!timer) throw new Error(`scenario ${scenario.name}: the orchestration waits on nothing`);
    const event = timer.retryOf ? undefined : scenario.event?.(timers);
    if (!timer.retryOf) timers++;
    if (event?.withTimer) {
      if (timer.fireAt > now) now = timer.fireAt;
      await step(() => {
        inOneEpisode(state, [
          () => {
            fireTimer(state, timer.id, now);
          },
          () => {
            raiseEvent(state, event.name, event.data, now);
          },
        ]);
      });
      continue;
    }
    if (event) {
      now = new Date(now.getTime() + 1000);
      await step(() => {
        raiseEvent(state, event.name, event.data, now);
      });
      continue;
    }
    if (timer.fireAt > now) now = timer.fireAt;
    await step(() => {
      fireTimer(state, timer.id, now);
    });
  }
}
