import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { app } from '@azure/functions';

import { listDeploymentsPage } from '../http/cronjobs.js';

/** GET /api/deployments?namespace=&cluster=&limit=&continue=: Deployments a CronJob can be made from. */
export function listDeployments(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return listDeploymentsPage(request, context);
}

app.http('listDeployments', {
  route: 'deployments',
  methods: ['GET'],
  authLevel: 'function',
  handler: listDeployments,
});
