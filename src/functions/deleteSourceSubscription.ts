import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { app } from '@azure/functions';

import { audited } from '../http/audit.js';
import { errorResponse } from '../http/problem.js';
import { ownSourceSubscription, requireSubscriptions } from '../http/subscriptions.js';

/**
 * DELETE /api/subscriptions/{subscriptionId}: what a connector calls on the Location its webhook trigger was
 * answered with, when the flow is turned off or deleted. 204; no run that ends after this is told (a delivery
 * already started for a run that ended before goes on). Never cancels a run.
 */
export const deleteSourceSubscription = audited('deleteSourceSubscription', async function deleteSourceSubscription(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const sub = await ownSourceSubscription(request, request.params.subscriptionId ?? '');
    await requireSubscriptions().deleteSource(sub);
    context.log(`subscription ${sub.id} removed`);
    return { status: 204 };
  } catch (err) {
    return errorResponse(err, context);
  }
});

app.http('deleteSourceSubscription', {
  route: 'subscriptions/{subscriptionId}',
  methods: ['DELETE'],
  authLevel: 'function',
  handler: deleteSourceSubscription,
});
