import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';

import { BadRequestError, ConflictError, ensureError } from '../core/errors.js';
import { authorizeRunAccess } from '../http/caller.js';
import { runLinks } from '../http/links.js';
import { errorResponse, readJsonBody } from '../http/problem.js';
import { instanceFinished, requireRun, type RunClient, snapshotFromInstance } from '../http/runs.js';
import { services } from '../services.js';
import type { CancelEventData } from './jobRun.js';
import { CANCEL_EVENT } from './names.js';

function reasonOf(body: unknown): string | undefined {
  if (body === undefined) return undefined;
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
    const reason = (body as { reason?: unknown }).reason;
    if (reason === undefined) return undefined;
    if (typeof reason === 'string' && reason.length <= 500) return reason;
  }
  throw new BadRequestError('the cancel body, when given, is {"reason": "<at most 500 characters>"}');
}

/**
 * POST /api/runs/{runId}/cancel: stop a run. The orchestration gets a cancel event and deletes the Job; the
 * Job is also deleted right here, so a cancel still takes effect if the event is lost while the orchestration
 * restarts itself (continueAsNew drops events that arrive in between).
 */
export async function cancelRun(request: HttpRequest, client: RunClient, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const runId = request.params.runId ?? '';
    const reason = reasonOf(await readJsonBody(request));
    const instance = await requireRun(client, runId);
    authorizeRunAccess(request, services().config.callers, runId, instance.input);
    const snapshot = snapshotFromInstance(instance);
    if (instanceFinished(instance)) {
      throw new ConflictError(`run "${runId}" has already finished with status ${snapshot.status} (${snapshot.reason}); there is nothing to cancel`);
    }
    const { clusters, config } = services();
    clusters.authorize(snapshot.cluster, snapshot.namespace);
    const data: CancelEventData = reason ? { reason } : {};
    await client.raiseEvent(runId, CANCEL_EVENT, data);
    try {
      await clusters.gateway(snapshot.cluster).deleteJob(snapshot.namespace, runId);
    } catch (err) {
      context.warn(`run ${runId}: direct delete failed, the orchestration deletes the Job: ${ensureError(err).message}`);
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
}

df.app.client.http('cancelRun', {
  route: 'runs/{runId}/cancel',
  methods: ['POST'],
  authLevel: 'function',
  handler: cancelRun,
});
