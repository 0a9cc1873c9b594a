import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type * as df from 'durable-functions';
import * as z from 'zod';

import { ensureError, NotFoundError, ServiceUnavailableError } from '../core/errors.js';
import { failureOfVerdict, withFailure } from '../core/failure.js';
import { boundText } from '../core/limits.js';
import { isRunId } from '../core/naming.js';
import { isTerminal, NO_PODS, type RunRef, type RunSnapshot, snapshotOf } from '../core/run.js';
import { runRefSchema, runSnapshotSchema, runTriggerSchema } from '../core/schemas.js';
import { statusBody } from '../core/status-body.js';
import { CANCEL_EVENT, ORCHESTRATORS } from '../functions/names.js';
import type { RunInstances } from '../runs/start.js';
import { runLinks } from './links.js';

export { type DurableRuntimeStatus,durableStatusOf } from '../core/status-body.js';

/** The part of Durable's client the HTTP handlers use; tests and the local runtime supply their own. */
export type RunClient = Pick<df.DurableClient, 'startNew' | 'getStatus' | 'getStatusBy' | 'raiseEvent'>;

/**
 * True for the error Durable's client throws for an instance id it does not know (the extension's HTTP 404).
 * Anything else (its storage or the host failing) is not an answer about the run.
 */
export function isUnknownInstance(err: unknown): boolean {
  return /replied with HTTP 404\b/.test(ensureError(err).message);
}

/**
 * The run's instance, or undefined when there is no such run. Only Durable's "not found" means that: a failure
 * to ask is a 503, never a 404 a caller would take as final, and never a reason to start the run again.
 */
export async function findRun(client: RunClient, runId: string): Promise<df.DurableOrchestrationStatus | undefined> {
  let status: df.DurableOrchestrationStatus | undefined;
  try {
    status = await client.getStatus(runId, { showInput: true });
  } catch (err) {
    if (isUnknownInstance(err)) return undefined;
    throw new ServiceUnavailableError(`the run's state could not be read from Durable's task hub, try again: ${ensureError(err).message}`, { cause: err });
  }
  // Some hosts answer an unknown id with an empty status rather than an error.
  if (!status.instanceId || status.name !== ORCHESTRATORS.jobRun) return undefined;
  return status;
}

/** The run a route names, or a 404 that says where run ids come from. */
export async function requireRun(client: RunClient, runId: string): Promise<df.DurableOrchestrationStatus> {
  const instance = isRunId(runId) ? await findRun(client, runId) : undefined;
  if (!instance) throw new NotFoundError(`no run with id "${runId}"; run ids are returned by the start routes`);
  return instance;
}

const FINISHED = new Set(['Completed', 'Failed', 'Terminated', 'Canceled']);
export function instanceFinished(status: df.DurableOrchestrationStatus): boolean {
  return FINISHED.has(status.runtimeStatus);
}

/** A verdict the app cannot read is still final: it must never be answered 202 for ever. */
const RESULT_UNREADABLE = 'ResultUnreadable';

/**
 * The best snapshot that can be read from what an orchestration stored: today's schema, else the fields of
 * an earlier version's snapshot that still parse (the rest from the run's request). Undefined when not even
 * its status can be read.
 */
function readSnapshot(value: unknown, ref: RunRef, at: Date): RunSnapshot | undefined {
  const strict = runSnapshotSchema().safeParse(value);
  if (strict.success) return strict.data;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const fields = value as Record<string, unknown>;
  const status = runSnapshotSchema().shape.status.safeParse(fields.status);
  if (!status.success) return undefined;
  const snapshot: Record<string, unknown> = { ...snapshotOf(ref, { status: status.data, reason: status.data, message: '' }, at) };
  for (const [key, schema] of Object.entries(runSnapshotSchema().shape)) {
    const parsed = schema.safeParse(fields[key]);
    if (parsed.success) snapshot[key] = parsed.data;
  }
  const pods = fields.pods;
  if (pods !== null && typeof pods === 'object') {
    const counts = { ...NO_PODS };
    for (const key of Object.keys(counts) as (keyof typeof counts)[]) {
      const n = (pods as Record<string, unknown>)[key];
      if (typeof n === 'number') counts[key] = n;
    }
    snapshot.pods = counts;
  }
  return snapshot as unknown as RunSnapshot;
}

/**
 * The run's snapshot from its orchestration's state: the output once done, the custom status while running.
 * A Failed or Cancelled snapshot always carries its failure: one recorded before failures were (or made where
 * nothing was looked at, such as a terminated orchestration) gets the kind its reason gives.
 */
export function snapshotFromInstance(status: df.DurableOrchestrationStatus): RunSnapshot {
  const snapshot = storedSnapshot(status);
  if (snapshot.failure || !isTerminal(snapshot.status)) return snapshot;
  return withFailure(snapshot, failureOfVerdict(snapshot, new Date(snapshot.completionTime ?? snapshot.observedAt)));
}

function storedSnapshot(status: df.DurableOrchestrationStatus): RunSnapshot {
  // Only the run's reference is needed, so an input of another version still gives it.
  const input = runRefSchema().safeParse((status.input as { request?: unknown } | null | undefined)?.request);
  const ref: RunRef = input.success
    ? input.data
    : { runId: status.instanceId, cluster: '', namespace: '', source: { kind: 'Job' as const, name: '' } };
  const at = new Date(status.lastUpdatedTime);
  switch (status.runtimeStatus as string) {
    case 'Completed': {
      const output = readSnapshot(status.output, ref, at);
      if (output && isTerminal(output.status)) return output;
      return snapshotOf(
        ref,
        {
          status: 'Failed',
          reason: RESULT_UNREADABLE,
          message: `the run finished but its result could not be read (an earlier version of the app may have written it): ${boundText(describeOutput(status.output), 500)}`,
        },
        at,
      );
    }
    case 'Failed':
      return snapshotOf(
        ref,
        { status: 'Failed', reason: 'OrchestrationFailed', message: `the run's orchestration failed: ${describeOutput(status.output)}` },
        at,
      );
    case 'Terminated':
    case 'Canceled':
      return snapshotOf(ref, { status: 'Cancelled', reason: 'Terminated', message: `the run's orchestration was terminated: ${describeOutput(status.output)}` }, at);
    default:
      return (
        readSnapshot(status.customStatus, ref, at) ??
        snapshotOf(ref, { status: 'Starting', reason: 'Accepted', message: 'the run is accepted and waits to be submitted' }, at)
      );
  }
}

/**
 * True once the run's verdict is made: the orchestration has finished, or its custom status already is the
 * verdict while its stop activity deletes the Job. A cancel then has nothing left to do.
 */
export function verdictMade(status: df.DurableOrchestrationStatus): boolean {
  return instanceFinished(status) || isTerminal(snapshotFromInstance(status).status);
}

function describeOutput(output: unknown): string {
  if (typeof output === 'string') return output;
  if (output === undefined || output === null) return 'no details';
  return JSON.stringify(output);
}

/**
 * The answer to a status poll: 202 with Location and Retry-After while the run may still change, 200 for
 * Success, 424 for Failed and Cancelled (a 4xx, so Logic Apps' retry policy does not re-poll a final answer).
 * A successful run's outputs are also top-level properties where no snapshot field has the name, since
 * Polysync maps output parameters from top-level properties.
 */
export function runStatusResponse(request: HttpRequest, snapshot: RunSnapshot, retryAfterSeconds: number): HttpResponseInit {
  const links = runLinks(request, snapshot.runId);
  const body = statusBody(snapshot, links);
  if (!isTerminal(snapshot.status)) {
    return { status: 202, headers: { Location: links.statusUrl, 'Retry-After': String(retryAfterSeconds) }, jsonBody: body };
  }
  return { status: snapshot.status === 'Success' ? 200 : 424, jsonBody: body };
}

/** The 202 a start answers with: our own routes, in both our names and Durable's check-status names. */
export function acceptedResponse(request: HttpRequest, runId: string, monitorUrl: string | null, retryAfterSeconds: number): HttpResponseInit {
  const links = runLinks(request, runId);
  return {
    status: 202,
    headers: { Location: links.statusUrl, 'Retry-After': String(retryAfterSeconds) },
    jsonBody: {
      runId,
      ...links,
      monitorUrl,
      id: runId,
      statusQueryGetUri: links.statusUrl,
      terminatePostUri: links.cancelUrl,
    },
  };
}

/**
 * The snapshot with who started the run, taken from the run's input (the orchestration's own snapshots do not
 * carry it). An input that does not say is from before triggers were recorded: an HTTP caller.
 */
export function withTrigger(snapshot: RunSnapshot, status: df.DurableOrchestrationStatus): RunSnapshot {
  const request = (status.input as { request?: { trigger?: unknown } } | null | undefined)?.request;
  const trigger = runTriggerSchema().safeParse(request?.trigger);
  return { ...snapshot, trigger: trigger.success ? trigger.data : { kind: 'http' } };
}

/**
 * The snapshot with the env overrides the run was started with, from the run's input: the text the caller sent
 * is the text the process sees, since the app writes it escaped for the kubelet's `$(NAME)` expansion (never the
 * escaped form, never another variable's value). Values are hidden as discovery hides them.
 */
export function withParameters(snapshot: RunSnapshot, status: df.DurableOrchestrationStatus, showValues: boolean): RunSnapshot {
  const request = (status.input as { request?: { overrides?: unknown } } | null | undefined)?.request;
  const overrides = z.record(z.string(), z.string()).safeParse(request?.overrides);
  if (!overrides.success) return snapshot;
  return { ...snapshot, parameters: Object.fromEntries(Object.entries(overrides.data).map(([name, value]) => [name, showValues ? value : null])) };
}

/** How the scheduler and the start route ask a run's orchestration to cancel: the cancel route's event. */
export function cancelEventSender(client: Pick<df.DurableClient, 'raiseEvent'>): (runId: string, reason: string) => Promise<void> {
  return (runId, reason) => client.raiseEvent(runId, CANCEL_EVENT, { reason });
}

/**
 * OrchestrationRuntimeStatus Pending, Running and ContinuedAsNew: the enum's values, written out so that this
 * module needs no value of durable-functions (loaded on first use: src/clients/durable.ts).
 */
const UNFINISHED: `${df.OrchestrationRuntimeStatus}`[] = ['Pending', 'Running', 'ContinuedAsNew'];

/**
 * The runs of a cluster that Durable has accepted and that have no verdict yet: their orchestrations, with their
 * inputs (which name the cluster). A failure to ask is a 503: a cap that cannot be checked is not waived.
 */
async function acceptedRuns(client: RunClient, cluster: string): Promise<string[]> {
  let instances: df.DurableOrchestrationStatus[];
  try {
    // showInput is passed on to the extension's instances query (durable-functions getStatusInternal), though
    // the filter's type does not name it; without it the inputs, and so the clusters, are not returned.
    instances = await client.getStatusBy({ runtimeStatus: UNFINISHED, showInput: true } as unknown as df.OrchestrationFilter);
  } catch (err) {
    throw new ServiceUnavailableError(`the active runs could not be read from Durable's task hub, try again: ${ensureError(err).message}`, { cause: err });
  }
  return instances
    .filter((instance) => instance.name === ORCHESTRATORS.jobRun && !verdictMade(instance))
    .filter((instance) => runRefSchema().safeParse((instance.input as { request?: unknown } | null | undefined)?.request).data?.cluster === cluster)
    .map((instance) => instance.instanceId);
}

/** The run use cases' view of Durable (src/runs/start.ts), on Durable's client. */
export function runInstancesOf(client: RunClient): RunInstances {
  return {
    find: async (runId) => {
      const instance = await findRun(client, runId);
      return instance ? { input: instance.input } : undefined;
    },
    start: async (runId, input) => {
      await client.startNew(ORCHESTRATORS.jobRun, { instanceId: runId, input });
    },
    accepted: (cluster) => acceptedRuns(client, cluster),
    requestCancel: cancelEventSender(client),
  };
}
