import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { app } from '@azure/functions';

import { cronJobRunsResponse } from '../http/archive.js';
import { errorResponse } from '../http/problem.js';

/** GET /api/cronjobs/{namespace}/{name}/runs?cluster=&limit=&continue=: the CronJob's runs, newest first. */
export async function listCronJobRuns(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    return await cronJobRunsResponse(request);
  } catch (err) {
    return errorResponse(err, context);
  }
}

app.http('listCronJobRuns', {
  route: 'cronjobs/{namespace}/{name}/runs',
  methods: ['GET'],
  authLevel: 'function',
  handler: listCronJobRuns,
});
