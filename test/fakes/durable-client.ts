import type { DurableOrchestrationStatus } from 'durable-functions';

import { unknownInstanceError } from '../../local/durable/runtime.js';
import type { RunClient } from '../../src/http/runs.js';

export interface FakeInstance {
  name: string;
  instanceId: string;
  runtimeStatus: string;
  input: unknown;
  output?: unknown;
  customStatus?: unknown;
  createdTime: Date;
  lastUpdatedTime: Date;
}

/**
 * The slice of Durable's client the HTTP handlers use, in memory, with the host's observable behaviour:
 * getStatus throws for an unknown id, startNew refuses an id that is still running (and replaces a finished one),
 * raiseEvent rejects on 404 and resolves on a finished instance (410).
 */
export class FakeDurableClient implements RunClient {
  readonly instances = new Map<string, FakeInstance>();
  readonly events: { instanceId: string; name: string; data: unknown }[] = [];
  /** Events raised on finished instances: the host answers 410 Gone, the client resolves, nothing is delivered. */
  readonly dropped: { instanceId: string; name: string; data: unknown }[] = [];
  startCount = 0;
  /** When set, getStatus fails with it, as when the task hub's storage does not answer. */
  failGetStatus: Error | undefined;

  constructor(private readonly now: () => Date = () => new Date('2026-11-23T10:00:00Z')) {}

  put(instance: Partial<FakeInstance> & { instanceId: string; input: unknown }): this {
    this.instances.set(instance.instanceId, {
      name: 'jobRun',
      runtimeStatus: 'Running',
      createdTime: this.now(),
      lastUpdatedTime: this.now(),
      ...instance,
    });
    return this;
  }

  startNew(name: string, options?: { instanceId?: string; input?: unknown }): Promise<string> {
    const instanceId = options?.instanceId ?? `auto-${this.startCount}`;
    const existing = this.instances.get(instanceId);
    if (existing && ['Running', 'Pending'].includes(existing.runtimeStatus)) {
      return Promise.reject(new Error(`instance ${instanceId} already exists`));
    }
    this.startCount++;
    this.put({ instanceId, name, input: structuredClone(options?.input), runtimeStatus: 'Pending' });
    return Promise.resolve(instanceId);
  }

  getStatus(instanceId: string): Promise<DurableOrchestrationStatus> {
    const instance = this.instances.get(instanceId);
    if (this.failGetStatus) return Promise.reject(this.failGetStatus);
    if (!instance) return Promise.reject(unknownInstanceError(instanceId));
    return Promise.resolve(structuredClone(instance) as unknown as DurableOrchestrationStatus);
  }

  /** The instances in any of the given states (all when none is given), with their inputs. */
  getStatusBy(filter: { runtimeStatus?: readonly string[] }): Promise<DurableOrchestrationStatus[]> {
    if (this.failGetStatus) return Promise.reject(this.failGetStatus);
    const wanted = filter.runtimeStatus && filter.runtimeStatus.length > 0 ? new Set<string>(filter.runtimeStatus) : undefined;
    const found = [...this.instances.values()].filter((instance) => !wanted || wanted.has(instance.runtimeStatus));
    return Promise.resolve(structuredClone(found) as unknown as DurableOrchestrationStatus[]);
  }

  /** As on the host: 404 for an unknown id rejects; 410 Gone for a finished instance resolves, the event dropped. */
  raiseEvent(instanceId: string, eventName: string, eventData: unknown): Promise<void> {
    const instance = this.instances.get(instanceId);
    if (!instance) return Promise.reject(new Error(`No instance with ID '${instanceId}' found.`));
    if (!['Running', 'Pending'].includes(instance.runtimeStatus)) {
      this.dropped.push({ instanceId, name: eventName, data: eventData });
      return Promise.resolve();
    }
    this.events.push({ instanceId, name: eventName, data: eventData });
    return Promise.resolve();
  }
}
