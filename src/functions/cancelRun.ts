import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { cancelRequestSchema } from '../api/cancel.js';
import { client } from '../clients/durable.js';
import { BadRequestError, ConflictError, ensureError } from '../core/errors.js';
import { audited } from '../http/audit.js';
import { authorizeRunAccess, type Caller, callerOf } from '../http/caller.js';
import { runLinks } from '../http/links.js';
import { errorResponse, readJsonBody } from '../http/problem.js';
import { instanceFinished, requireRun, type RunClient, snapshotFromInstance, verdictMade } from '../http/runs.js';
import { lookBeforeCancel } from '../runs/observe.js';
import { services } from '../services.js';
import type { CancelEventData } from './jobRun.js';
import { CANCEL_EVENT } from './names.js';

/** The body's reason, by the schema the OpenAPI document gives for it. */
function reasonOf(body: unknown): string | undefined {
  if (body === undefined) return undefined;
  const parsed = cancelRequestSchema().safeParse(body);
  if (!parsed.success) throw new BadRequestError('the cancel body, when given, is {"reason": "<at most 500 characters>"}');
  return parsed.data.reason;
}

/** Who asked for a cancel, as the run's failure says it: ids only, a key caller by a short hash of its key. */
export function cancelledBy(caller: Caller): string {
  if (caller.kind === 'entra') return `Entra app ${caller.appId}, object ${caller.objectId}`;
  return caller.keyScope === '' ? 'a function-key caller' : `the caller with key ${caller.keyScope.slice(0, 8)}`;
}

/**
 * POST /api/runs/{runId}/cancel: stop a run. The Job is looked at first: one that has ended on its own keeps
 * its verdict (409, nothing deleted). Otherwise the orchestration gets a cancel event (it looks once more,
 * then deletes the Job), and the Job is also deleted right here, so a cancel still takes effect if the event
 * is lost while the orchestration restarts itself.
 */
export const cancelRun = audited('cancelRun', async function cancelRun(request: HttpRequest, client: RunClient, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const runId = request.params.runId ?? '';
    const reason = reasonOf(await readJsonBody(request));
    const instance = await requireRun(client, runId);
    authorizeRunAccess(request, services().config.callers, runId, instance.input);
    const snapshot = snapshotFromInstance(instance);
    if (instanceFinished(instance)) {
      throw new ConflictError(`run "${runId}" has already finished with status ${snapshot.status} (${snapshot.reason}); there is nothing to cancel`);
    }
    if (verdictMade(instance)) {
      throw new ConflictError(`run "${runId}" already has its verdict, ${snapshot.status} (${snapshot.reason}), and is being stopped; there is nothing to cancel`);
    }
    const { clusters, config } = services();
    clusters.authorize(snapshot.cluster, snapshot.namespace);
    const gateway = clusters.gateway(snapshot.cluster);
    const look = await lookBeforeCancel(gateway, snapshot, config.grace, services().now());
    if (look.kind === 'ended') {
      throw new ConflictError(
        `run "${runId}" cannot be cancelled: its Job has already ended: ${look.snapshot.status} (${look.snapshot.reason}); the run reports that verdict and its outputs at its next poll`,
      );
    }
    if (look.kind === 'unknown') context.warn(`run ${runId}: could not look at the Job before cancelling, the orchestration looks again: ${look.why}`);
    // The orchestration's verdict says `cancelled: <reason>`: who asked goes with the why.
    const by = cancelledBy(callerOf(request, config.callers));
    const data: CancelEventData = { reason: reason ? `${reason} (by ${by})` : `by ${by}` };
    await client.raiseEvent(runId, CANCEL_EVENT, data);
    // On the host an instance that finished since it was read answers 410 Gone, which durable-functions' client
    // resolves as if the event had been sent (DurableClient.raiseEvent): only a second read tells. A run that
    // ended with its own verdict keeps it (nothing deleted); one that ended Cancelled has been cancelled.
    const after = await requireRun(client, runId);
    const ended = snapshotFromInstance(after);
    if (verdictMade(after) && ended.status !== 'Cancelled') {
      throw new ConflictError(`run "${runId}" finished with status ${ended.status} (${ended.reason}) while it was being cancelled; there is nothing to cancel`);
    }
    if (look.kind === 'running' && !instanceFinished(after)) {
      try {
        // The run's current Job: a run that retried on disruption is on its second or later (snapshot.jobName).
        await gateway.deleteJob(snapshot.namespace, snapshot.jobName);
      } catch (err) {
        context.warn(`run ${runId}: direct delete failed, the orchestration deletes the Job: ${ensureError(err).message}`);
      }
    }
    context.log(`run ${runId}: cancel requested`);
    const links = runLinks(request, runId);
    return {
      status: 202,
      headers: { Location: links.statusUrl, 'Retry-After': String(config.statusRetryAfterSeconds) },
      jsonBody: { runId, status: 'Cancelling', ...links },
    };
  } catch (err) {
    return errorResponse(err, context);
  }
});

client.http('cancelRun', {
  route: 'runs/{runId}/cancel',
  methods: ['POST'],
  authLevel: 'function',
  handler: cancelRun,
});
