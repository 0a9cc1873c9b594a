import type { OrchestrationHandler } from 'durable-functions';

import {
  completeActivity,
  failActivity,
  fireTimer,
  inOneEpisode,
  type InstanceState,
  newInstance,
  type OrchestratorRunner,
  orchestratorRunner,
  raiseEvent,
  replay,
  type Work,
} from '../../local/durable/engine.js';
import { ORCHESTRATOR_VERSION } from '../../src/functions/names.js';

/** One outcome, for several delivered in one episode (see `together`). */
export type Outcome =
  | { complete: string; result: unknown }
  | { fail: string; message: string }
  | { fire: true }
  | { raise: string; data: unknown };

/**
 * Steps a real orchestrator through its history with the durable-functions replay machinery, one outcome at
 * a time, the way the host would: the test plays the activities and the clock.
 */
export class OrchestrationHarness {
  readonly state: InstanceState;
  now: Date;

  private readonly runner: OrchestratorRunner;

  constructor(
    handler: OrchestrationHandler,
    input: unknown,
    start: Date,
    instanceId = 'run-abc',
    /** The version the host stamps on new instances; null for one created before versioning. */
    version: string | null = ORCHESTRATOR_VERSION,
  ) {
    this.runner = orchestratorRunner(handler);
    this.now = start;
    this.state = newInstance(instanceId, 'jobRun', input, start, version ?? undefined);
  }

  /** The worker replaying: the current version, which refuses newer instances as the host does. */
  worker: { version: string } = { version: ORCHESTRATOR_VERSION };

  async start(): Promise<this> {
    await this.replay();
    return this;
  }

  private async replay(): Promise<void> {
    await replay(this.state, this.runner, this.now, this.worker);
  }

  /**
   * Several outcomes in one episode, in the order given, as the host batches what arrived while the
   * orchestrator was busy (DurableTask.Core hands a work item all new messages of the instance at once).
   */
  async together(...outcomes: Outcome[]): Promise<this> {
    const appenders = outcomes.map((o) => {
      if ('complete' in o) {
        const id = this.activity(o.complete).id;
        return () => {
          completeActivity(this.state, id, o.result, this.now);
        };
      }
      if ('fail' in o) {
        const id = this.activity(o.fail).id;
        return () => {
          failActivity(this.state, id, new Error(o.message), this.now);
        };
      }
      if ('fire' in o) {
        const timer = this.timer();
        if (timer.fireAt > this.now) this.now = timer.fireAt;
        return () => {
          fireTimer(this.state, timer.id, this.now);
        };
      }
      return () => {
        raiseEvent(this.state, o.raise, o.data, this.now);
      };
    });
    inOneEpisode(this.state, appenders);
    await this.replay();
    return this;
  }

  get pending(): readonly Work[] {
    return this.state.pending;
  }

  activity(name?: string): Extract<Work, { kind: 'activity' }> {
    const work = this.state.pending.find((w): w is Extract<Work, { kind: 'activity' }> => w.kind === 'activity' && (!name || w.name === name));
    if (!work) throw new Error(`no pending activity${name ? ` ${name}` : ''}; pending: ${JSON.stringify(this.state.pending)}`);
    return work;
  }

  timer(): Extract<Work, { kind: 'timer' }> {
    const work = this.state.pending.find((w): w is Extract<Work, { kind: 'timer' }> => w.kind === 'timer');
    if (!work) throw new Error(`no pending timer; pending: ${JSON.stringify(this.state.pending)}`);
    return work;
  }

  async complete(name: string, result: unknown): Promise<this> {
    completeActivity(this.state, this.activity(name).id, result, this.now);
    await this.replay();
    return this;
  }

  async fail(name: string, message: string): Promise<this> {
    failActivity(this.state, this.activity(name).id, new Error(message), this.now);
    await this.replay();
    return this;
  }

  /** Advance the clock to the pending timer and fire it. */
  async fire(): Promise<this> {
    const timer = this.timer();
    if (timer.fireAt > this.now) this.now = timer.fireAt;
    fireTimer(this.state, timer.id, this.now);
    await this.replay();
    return this;
  }

  async raise(name: string, data: unknown): Promise<this> {
    raiseEvent(this.state, name, data, this.now);
    await this.replay();
    return this;
  }
}
