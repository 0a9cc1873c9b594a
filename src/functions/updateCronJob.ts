import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { app } from '@azure/functions';

import { audited } from '../http/audit.js';
import { updateCronJobFrom } from '../http/cronjobs.js';

/** PATCH /api/cronjobs/{namespace}/{name}?cluster=&dryRun=: change a CronJob, with the resourceVersion read (If-Match or body). */
export const updateCronJob = audited('updateCronJob', function updateCronJob(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return updateCronJobFrom(request, context);
});

app.http('updateCronJob', {
  route: 'cronjobs/{namespace}/{name}',
  methods: ['PATCH'],
  authLevel: 'function',
  handler: updateCronJob,
});
