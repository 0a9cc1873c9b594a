import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { client } from '../clients/durable.js';
import { parseBody } from '../core/cronjob-bodies.js';
import { NotFoundError } from '../core/errors.js';
import { unsubscribeRequestSchema } from '../core/subscriptions.js';
import { audited } from '../http/audit.js';
import { authorizeRunAccess } from '../http/caller.js';
import { errorResponse, readJsonBody } from '../http/problem.js';
import { findRun, type RunClient } from '../http/runs.js';
import { requireSubscriptions } from '../http/subscriptions.js';
import { unsubscribe } from '../runs/subscriptions.js';
import { services } from '../services.js';

/**
 * POST /api/subscriptions/unsubscribe {"url": "@{listCallbackUrl()}"}: a Logic Apps HTTP Webhook action's
 * Unsubscribe, which knows its callback URL but not the run its Subscribe call started. 204 whether or not the URL
 * was subscribed (Logic Apps calls Unsubscribe also after a subscribe that failed); the run is never cancelled.
 */
export const unsubscribeCallback = audited('unsubscribeCallback', async function unsubscribeCallback(request: HttpRequest, client: RunClient, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const { url } = parseBody(unsubscribeRequestSchema(), await readJsonBody(request));
    const store = requireSubscriptions();
    const found = await store.findByUrl(url);
    if (!found) return { status: 204 };
    const instance = await findRun(client, found.runId);
    // A caller that may not read the run gets the answer an unknown URL gets, and changes nothing.
    if (instance) {
      try {
        authorizeRunAccess(request, services().config.callers, found.runId, instance.input);
      } catch (err) {
        if (err instanceof NotFoundError) return { status: 204 };
        throw err;
      }
    }
    await unsubscribe(store, found.runId, found.id).catch(() => undefined);
    context.log(`run ${found.runId}: subscription ${found.id} removed by its URL`);
    return { status: 204 };
  } catch (err) {
    return errorResponse(err, context);
  }
});

client.http('unsubscribeCallback', {
  route: 'subscriptions/unsubscribe',
  methods: ['POST'],
  authLevel: 'function',
  handler: unsubscribeCallback,
});
