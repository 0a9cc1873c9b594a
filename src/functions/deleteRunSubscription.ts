import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { client } from '../clients/durable.js';
import { NotFoundError } from '../core/errors.js';
import { isSubscriptionId } from '../core/subscriptions.js';
import { audited } from '../http/audit.js';
import { authorizeRunAccess } from '../http/caller.js';
import { errorResponse } from '../http/problem.js';
import { requireRun, type RunClient } from '../http/runs.js';
import { requireSubscriptions } from '../http/subscriptions.js';
import { unsubscribe } from '../runs/subscriptions.js';
import { services } from '../services.js';

/**
 * DELETE /api/runs/{runId}/subscriptions/{subscriptionId}: unsubscribe. 204; nothing is sent to the URL after this
 * (its URL is forgotten). It never cancels the run: POST /runs/{runId}/cancel does.
 */
export const deleteRunSubscription = audited('deleteRunSubscription', async function deleteRunSubscription(request: HttpRequest, client: RunClient, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const runId = request.params.runId ?? '';
    const id = request.params.subscriptionId ?? '';
    const instance = await requireRun(client, runId);
    authorizeRunAccess(request, services().config.callers, runId, instance.input);
    if (!isSubscriptionId(id)) throw new NotFoundError(`run "${runId}" has no subscription "${id}"`);
    await unsubscribe(requireSubscriptions(), runId, id);
    context.log(`run ${runId}: subscription ${id} removed`);
    return { status: 204 };
  } catch (err) {
    return errorResponse(err, context);
  }
});

client.http('deleteRunSubscription', {
  route: 'runs/{runId}/subscriptions/{subscriptionId}',
  methods: ['DELETE'],
  authLevel: 'function',
  handler: deleteRunSubscription,
});
