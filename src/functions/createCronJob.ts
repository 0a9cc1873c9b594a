import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { app } from '@azure/functions';

import { audited } from '../http/audit.js';
import { createCronJobFrom } from '../http/cronjobs.js';

/** POST /api/cronjobs/{namespace}?cluster=&dryRun=: a CronJob from a Deployment or one that calls an HTTP endpoint. */
export const createCronJob = audited('createCronJob', function createCronJob(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return createCronJobFrom(request, context);
});

app.http('createCronJob', {
  route: 'cronjobs/{namespace}',
  methods: ['POST'],
  authLevel: 'function',
  handler: createCronJob,
});
