import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { app } from '@azure/functions';

import { listSources } from '../http/discovery.js';

/** GET /api/cronjobs?namespace=&cluster=&limit=&continue=: CronJobs that can be run, env as string parameters. */
export function listCronJobs(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return listSources('CronJob', request, context);
}

app.http('listCronJobs', {
  route: 'cronjobs',
  methods: ['GET'],
  authLevel: 'function',
  handler: listCronJobs,
});
