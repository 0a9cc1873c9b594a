import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { app } from '@azure/functions';

import { listSources } from '../http/discovery.js';

/** GET /api/jobs?namespace=&cluster=&limit=&continue=: Jobs that can be run, env as string parameters. */
export function listJobs(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return listSources('Job', request, context);
}

app.http('listJobs', {
  route: 'jobs',
  methods: ['GET'],
  authLevel: 'function',
  handler: listJobs,
});
