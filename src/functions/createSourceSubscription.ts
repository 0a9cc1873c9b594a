import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { app } from '@azure/functions';

import { parseBody } from '../core/cronjob-bodies.js';
import { sourceSubscriptionRequestSchema, sourceViewOf } from '../core/subscriptions.js';
import { audited } from '../http/audit.js';
import { errorResponse, readJsonBody } from '../http/problem.js';
import { sourceSubscriptionLocation, subscribeToSource } from '../http/subscriptions.js';

/**
 * POST /api/subscriptions: be told the verdict of every run of a Job or CronJob (or of every run in a namespace)
 * that ends after this, at a URL. The Swagger document's webhook trigger "When a run finishes" (x-ms-trigger): a
 * Power Automate or Logic Apps connector calls it with its x-ms-notification-url when a flow with the trigger is
 * saved, and DELETE on the answer's Location when the flow is turned off or deleted. 201 with Location for a new
 * subscription, 200 for the same one again.
 */
export const createSourceSubscription = audited('createSourceSubscription', async function createSourceSubscription(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const body = parseBody(sourceSubscriptionRequestSchema(), await readJsonBody(request));
    const { sub, created } = await subscribeToSource(request, body);
    const location = sourceSubscriptionLocation(request, sub.id);
    const what = sub.source ? `${sub.source.kind} ${sub.namespace}/${sub.source.name}` : `namespace ${sub.namespace}`;
    context.log(`subscription ${sub.id} to ${sub.host} for the runs of ${what} on ${sub.cluster} ${created ? 'made' : 'already there'}`);
    return { status: created ? 201 : 200, headers: { Location: location }, jsonBody: { ...sourceViewOf(sub), location } };
  } catch (err) {
    return errorResponse(err, context);
  }
});

app.http('createSourceSubscription', {
  route: 'subscriptions',
  methods: ['POST'],
  authLevel: 'function',
  handler: createSourceSubscription,
});
