import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { client } from '../clients/durable.js';
import { authorizeRunAccess } from '../http/caller.js';
import { errorResponse } from '../http/problem.js';
import { requireRun, type RunClient, runStatusResponse, snapshotFromInstance, withParameters, withTrigger } from '../http/runs.js';
import { subscriptionViews } from '../http/subscriptions.js';
import { services } from '../services.js';

/** GET /api/runs/{runId}: the run's latest snapshot; 202 while it runs, 200 on success, 424 otherwise. */
export async function getRun(request: HttpRequest, client: RunClient, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const instance = await requireRun(client, request.params.runId ?? '');
    authorizeRunAccess(request, services().config.callers, instance.instanceId, instance.input);
    const { config } = services();
    const snapshot = withParameters(withTrigger(snapshotFromInstance(instance), instance), instance, config.discoveryShowsEnvValues);
    const response = runStatusResponse(request, snapshot, config.statusRetryAfterSeconds);
    // Each subscription's delivery, host only (issue 23); a run without subscriptions answers as before.
    const subscriptions = await subscriptionViews(snapshot.runId, context);
    if (!subscriptions || subscriptions.length === 0) return response;
    return { ...response, jsonBody: { ...(response.jsonBody as Record<string, unknown>), subscriptions } };
  } catch (err) {
    return errorResponse(err, context);
  }
}

client.http('getRun', {
  route: 'runs/{runId}',
  methods: ['GET'],
  authLevel: 'function',
  handler: getRun,
});
