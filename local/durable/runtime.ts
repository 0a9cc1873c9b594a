import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import azureFunctions, { type InvocationContext as Context } from '@azure/functions';
import type { DurableOrchestrationStatus } from 'durable-functions';

import { ORCHESTRATOR_VERSION } from '../../src/functions/names.js';
import { runLogHooks } from '../host/registrations.js';
import {
  completeActivity,
  failActivity,
  fireTimer,
  inOneEpisode,
  type InstanceState,
  newInstance,
  type OrchestratorRunner,
  raiseEvent,
  replay,
  terminate,
  type Work,
} from './engine.js';
import { workerRuns } from './versioning.js';

// @azure/functions is CommonJS whose classes Node's ESM loader cannot see as named exports.
const { InvocationContext } = azureFunctions;

export type ActivityHandler = (input: unknown, context: Context) => unknown;

export interface LocalDurableOptions {
  /** Orchestration triggers as registered: the package's listener around each orchestrator. */
  orchestrators: Record<string, OrchestratorRunner>;
  activities: Record<string, ActivityHandler>;
  /** Keep each instance's state as JSON here, so a restart resumes where it stopped. In memory when absent. */
  stateDir?: string;
  log?: (line: string) => void;
  /** The version new instances get, as host.json's defaultVersion gives it on the host. */
  defaultVersion?: string;
}

const FINISHED = new Set(['Completed', 'Failed', 'Terminated']);
/** Instance ids as Durable accepts them: no leading @, none of / \\ # ?, no control characters, at most 256. */
function validInstanceId(id: string): boolean {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  return id.length > 0 && id.length <= 256 && !id.startsWith('@') && !/[/\\#?\u0000-\u001f]/.test(id);
}

/**
 * A development stand-in for the Durable Functions host: orchestrations run in-process through the
 * durable-functions package's own replay machinery (see engine.ts), activities are called directly, timers
 * fire on the real clock, and state can be kept on disk. It implements the slice of DurableClient the app's
 * HTTP functions use. It is not a production runtime: one process, no scale-out, no leases.
 */
/** What durable-functions' client throws when the extension answers 404 for an instance id (its own words). */
export function unknownInstanceError(instanceId: string): Error {
  return new Error(
    `DurableClient error: Durable Functions extension replied with HTTP 404 response. This usually means we could not find any data associated with the instanceId provided: ${instanceId}.`,
  );
}

/** An instance's status as durable-functions' client returns it, input included. */
function statusOf(state: InstanceState): DurableOrchestrationStatus {
  return {
    name: state.name,
    instanceId: state.instanceId,
    createdTime: new Date(state.createdAt),
    lastUpdatedTime: new Date(state.updatedAt),
    input: structuredClone(state.input),
    output: structuredClone(state.output),
    runtimeStatus: state.status,
    customStatus: structuredClone(state.customStatus),
  } as unknown as DurableOrchestrationStatus;
}

export class LocalDurable {
  private readonly instances = new Map<string, InstanceState>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** One chain of work per instance, so its history is only ever changed by one step at a time. */
  private readonly chains = new Map<string, Promise<void>>();
  /**
   * Outcomes that arrived for an instance and are not in its history yet. They go in together, in one
   * episode, when the instance is next free: the host, too, hands the orchestrator everything that arrived
   * while it was busy in one batch (an activity's completion with a cancel, a timer with an event).
   */
  private readonly inboxes = new Map<string, (() => void)[]>();
  private closed = false;

  constructor(private readonly options: LocalDurableOptions) {}

  /** Load kept instances and pick up their pending work (activities re-run: they are at-least-once anyway). */
  async resume(): Promise<number> {
    const dir = this.options.stateDir;
    if (!dir) return 0;
    await mkdir(dir, { recursive: true });
    let resumed = 0;
    for (const file of await readdir(dir)) {
      if (!file.endsWith('.json')) continue;
      const state = JSON.parse(await readFile(join(dir, file), 'utf8')) as InstanceState;
      for (const work of state.pending) if (work.kind === 'timer') work.fireAt = new Date(work.fireAt);
      this.instances.set(state.instanceId, state);
      if (FINISHED.has(state.status)) continue;
      if (!workerRuns(state.version, this.workerVersion)) {
        // As the host with CurrentOrOlder and Reject: an instance newer than this worker waits for one that is not.
        this.options.log?.(`instance ${state.instanceId}: version ${state.version ?? '(none)'} is newer than this worker's ${this.workerVersion}, left as it is`);
        continue;
      }
      resumed++;
      this.schedule(state);
    }
    return resumed;
  }

  /** Stop firing timers and starting work; what is running finishes. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.chains.values()]);
  }

  startNew(name: string, options?: { instanceId?: string; input?: unknown }): Promise<string> {
    const handler = this.options.orchestrators[name];
    if (!handler) return Promise.reject(new Error(`no orchestrator named ${name}`));
    const instanceId = options?.instanceId ?? crypto.randomUUID();
    if (!validInstanceId(instanceId)) return Promise.reject(new Error(`invalid instance id ${instanceId}`));
    // host.json's overridableExistingInstanceStates, NonRunningStates: an instance that has not finished is
    // refused, a finished one is replaced (azure-functions-durable-extension OverridableStates.cs, ToDedupeStatuses).
    const existing = this.instances.get(instanceId);
    if (existing && !FINISHED.has(existing.status)) {
      return Promise.reject(new Error(`an instance with id ${instanceId} is already ${existing.status}`));
    }
    const state = newInstance(instanceId, name, structuredClone(options?.input ?? null), new Date(), this.workerVersion);
    this.instances.set(instanceId, state);
    this.enqueue(instanceId, async () => {
      await replay(state, handler, new Date(), { version: this.workerVersion });
    });
    return Promise.resolve(instanceId);
  }

  getStatus(instanceId: string): Promise<DurableOrchestrationStatus> {
    const state = this.instances.get(instanceId);
    if (!state) return Promise.reject(unknownInstanceError(instanceId));
    return Promise.resolve(statusOf(state));
  }

  /** The instances in any of the given states (all when none is given), with their inputs, as the extension's instances query. */
  getStatusBy(filter: { runtimeStatus?: readonly string[] }): Promise<DurableOrchestrationStatus[]> {
    const wanted = filter.runtimeStatus && filter.runtimeStatus.length > 0 ? new Set<string>(filter.runtimeStatus) : undefined;
    return Promise.resolve([...this.instances.values()].filter((state) => !wanted || wanted.has(state.status)).map(statusOf));
  }

  /**
   * As durable-functions' client on the host: the extension answers 404 for an unknown id (the client rejects)
   * and 410 Gone for a finished instance, which the client resolves as if the event had been sent; the event is
   * dropped (HttpApiHandler.HandleRaiseEventRequestAsync; durable-functions DurableClient.raiseEvent).
   */
  raiseEvent(instanceId: string, eventName: string, eventData: unknown): Promise<void> {
    const state = this.instances.get(instanceId);
    if (!state) return Promise.reject(new Error(`No instance with ID '${instanceId}' found.`));
    if (FINISHED.has(state.status)) return Promise.resolve();
    const data = structuredClone(eventData ?? null);
    this.deliver(state, () => {
      // Finished while the event was queued: the host drops it too.
      if (FINISHED.has(state.status)) return;
      raiseEvent(state, eventName, data, new Date());
    });
    return Promise.resolve();
  }

  terminate(instanceId: string, reason: string): Promise<void> {
    const state = this.instances.get(instanceId);
    if (!state) return Promise.reject(new Error(`instance ${instanceId} not found`));
    this.enqueue(instanceId, () => {
      terminate(state, reason, new Date());
      return Promise.resolve();
    });
    return Promise.resolve();
  }

  /** Wait until the instance's queued work has run (tests, shutdown). */
  async idle(instanceId: string): Promise<void> {
    await this.chains.get(instanceId);
  }

  /** The instance's full state: history records included (tests inspect what was stored). */
  state(instanceId: string): InstanceState | undefined {
    return this.instances.get(instanceId);
  }

  /** The version new instances get and the newest this worker runs, as host.json's defaultVersion is on the host. */
  private get workerVersion(): string {
    return this.options.defaultVersion ?? ORCHESTRATOR_VERSION;
  }

  private async replay(state: InstanceState): Promise<void> {
    const handler = this.options.orchestrators[state.name];
    if (!handler) throw new Error(`no orchestrator named ${state.name}`);
    await replay(state, handler, new Date(), { version: this.workerVersion });
  }

  /** Put an outcome in the instance's inbox; the next free moment appends all of them in one episode and replays. */
  private deliver(state: InstanceState, append: () => void): void {
    const id = state.instanceId;
    const inbox = this.inboxes.get(id) ?? [];
    inbox.push(append);
    this.inboxes.set(id, inbox);
    this.enqueue(id, async () => {
      const taken = this.inboxes.get(id);
      if (!taken || taken.length === 0) return;
      if (!workerRuns(state.version, this.workerVersion)) {
        // Kept, not lost: as the host abandons the work item for a worker that may run it.
        this.options.log?.(`instance ${id}: version ${state.version ?? '(none)'} is newer than this worker's ${this.workerVersion}, left as it is`);
        return;
      }
      this.inboxes.delete(id);
      const before = state.records.length;
      inOneEpisode(state, taken);
      if (state.records.length !== before) await this.replay(state);
    });
  }

  private enqueue(instanceId: string, step: () => Promise<void>): void {
    const previous = this.chains.get(instanceId) ?? Promise.resolve();
    const next = previous
      .then(async () => {
        if (this.closed) return;
        const state = this.instances.get(instanceId);
        await step();
        if (state) {
          await this.persist(state);
          this.schedule(state);
        }
      })
      .catch((err: unknown) => {
        this.options.log?.(`instance ${instanceId}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      });
    this.chains.set(instanceId, next);
  }

  /** Start what the instance waits on: activities now, timers when due. */
  private schedule(state: InstanceState): void {
    if (this.closed || FINISHED.has(state.status)) {
      this.clearTimers(state.instanceId);
      return;
    }
    for (const work of state.pending) {
      if (work.kind === 'activity') this.runActivity(state, work);
      else this.armTimer(state, work);
    }
  }

  private readonly started = new Set<string>();

  private runActivity(state: InstanceState, work: Extract<Work, { kind: 'activity' }>): void {
    const key = `${state.instanceId}#a${work.id}`;
    if (this.started.has(key)) return;
    this.started.add(key);
    const handler = this.options.activities[work.name];
    const context = new InvocationContext({
      functionName: work.name,
      invocationId: `${state.instanceId}:${work.name}:${work.id}`,
      logHandler: (level, ...args) => {
        runLogHooks(level, args, context);
        this.options.log?.(`[${work.name}] ${args.map(String).join(' ')}`);
      },
    });
    void (async () => {
      let outcome: { ok: true; value: unknown } | { ok: false; error: Error };
      try {
        if (!handler) throw new Error(`no activity named ${work.name}`);
        outcome = { ok: true, value: await handler(structuredClone(work.input), context) };
      } catch (err) {
        outcome = { ok: false, error: err instanceof Error ? err : new Error(String(err)) };
      }
      this.deliver(state, () => {
        this.started.delete(key);
        if (!state.pending.some((w) => w.kind === 'activity' && w.id === work.id)) return;
        if (outcome.ok) completeActivity(state, work.id, JSON.parse(JSON.stringify(outcome.value ?? null)), new Date());
        else failActivity(state, work.id, outcome.error, new Date());
      });
    })();
  }

  private armTimer(state: InstanceState, work: Extract<Work, { kind: 'timer' }>): void {
    const key = `${state.instanceId}#t${work.id}`;
    if (this.timers.has(key)) return;
    const delay = Math.max(0, work.fireAt.getTime() - Date.now());
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.deliver(state, () => {
        if (!state.pending.some((w) => w.kind === 'timer' && w.id === work.id)) return;
        fireTimer(state, work.id, new Date());
      });
    }, delay);
    this.timers.set(key, timer);
  }

  private clearTimers(instanceId: string): void {
    for (const [key, timer] of this.timers) {
      if (key.startsWith(`${instanceId}#`)) {
        clearTimeout(timer);
        this.timers.delete(key);
      }
    }
  }

  private async persist(state: InstanceState): Promise<void> {
    const dir = this.options.stateDir;
    if (!dir) return;
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${encodeURIComponent(state.instanceId)}.json`);
    await writeFile(`${file}.tmp`, JSON.stringify(state));
    await rename(`${file}.tmp`, file);
  }
}
