import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { app } from '@azure/functions';

import { getCronJobDetail } from '../http/cronjobs.js';

/** GET /api/cronjobs/{namespace}/{name}?cluster=: settings, status, next and latest runs. */
export function getCronJob(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return getCronJobDetail(request, context);
}

app.http('getCronJob', {
  route: 'cronjobs/{namespace}/{name}',
  methods: ['GET'],
  authLevel: 'function',
  handler: getCronJob,
});
