import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { client } from '../clients/durable.js';
import { parseBody } from '../core/cronjob-bodies.js';
import { subscriptionRequestSchema, viewOf } from '../core/subscriptions.js';
import { audited } from '../http/audit.js';
import { authorizeRunAccess } from '../http/caller.js';
import { errorResponse, readJsonBody } from '../http/problem.js';
import { requireRun, type RunClient } from '../http/runs.js';
import { subscribeToRun, subscriptionLocation } from '../http/subscriptions.js';
import { services } from '../services.js';

/**
 * POST /api/runs/{runId}/subscriptions: be told the run's verdict at a URL. 201 with Location for a new
 * subscription, 200 for the same URL again; a run whose verdict is made is delivered at once. Only a caller that
 * may read the run may subscribe to it (the others get the 404 an unknown run gets).
 */
export const createRunSubscription = audited('createRunSubscription', async function createRunSubscription(request: HttpRequest, client: RunClient, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const runId = request.params.runId ?? '';
    const body = parseBody(subscriptionRequestSchema(), await readJsonBody(request));
    const instance = await requireRun(client, runId);
    authorizeRunAccess(request, services().config.callers, runId, instance.input);
    const { sub, created } = await subscribeToRun(request, client, runId, body, context);
    const location = subscriptionLocation(request, runId, sub.id);
    context.log(`run ${runId}: subscription ${sub.id} to ${sub.host} ${created ? 'made' : 'already there'}`);
    return { status: created ? 201 : 200, headers: { Location: location }, jsonBody: { runId, ...viewOf(sub), location } };
  } catch (err) {
    return errorResponse(err, context);
  }
});

client.http('createRunSubscription', {
  route: 'runs/{runId}/subscriptions',
  methods: ['POST'],
  authLevel: 'function',
  handler: createRunSubscription,
});
