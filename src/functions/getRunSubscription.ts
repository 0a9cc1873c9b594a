import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { client } from '../clients/durable.js';
import { NotFoundError } from '../core/errors.js';
import { isSubscriptionId, viewOf } from '../core/subscriptions.js';
import { authorizeRunAccess } from '../http/caller.js';
import { errorResponse } from '../http/problem.js';
import { requireRun, type RunClient } from '../http/runs.js';
import { requireSubscriptions, subscriptionLocation } from '../http/subscriptions.js';
import { services } from '../services.js';

/** GET /api/runs/{runId}/subscriptions/{subscriptionId}: the subscription and its delivery's state; never its URL. */
export async function getRunSubscription(request: HttpRequest, client: RunClient, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const runId = request.params.runId ?? '';
    const id = request.params.subscriptionId ?? '';
    const instance = await requireRun(client, runId);
    authorizeRunAccess(request, services().config.callers, runId, instance.input);
    const sub = isSubscriptionId(id) ? await requireSubscriptions().get(runId, id) : undefined;
    if (!sub) throw new NotFoundError(`run "${runId}" has no subscription "${id}"; subscription ids are returned by POST /runs/{runId}/subscriptions`);
    // A deleted subscription is gone for this route, as for DELETE; the run's snapshot still lists it as unsubscribed.
    if (sub.state === 'unsubscribed') throw new NotFoundError(`run "${runId}"'s subscription "${id}" was deleted; the run's own status (GET /runs/{runId}) still lists it as unsubscribed`);
    return { status: 200, jsonBody: { runId, ...viewOf(sub), location: subscriptionLocation(request, runId, sub.id) } };
  } catch (err) {
    return errorResponse(err, context);
  }
}

client.http('getRunSubscription', {
  route: 'runs/{runId}/subscriptions/{subscriptionId}',
  methods: ['GET'],
  authLevel: 'function',
  handler: getRunSubscription,
});
