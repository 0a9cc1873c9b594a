import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { app } from '@azure/functions';

import { audited } from '../http/audit.js';
import { deleteCronJobFrom } from '../http/cronjobs.js';

/** DELETE /api/cronjobs/{namespace}/{name}?cluster=: delete it, its Jobs and their pods (propagation Background). */
export const deleteCronJob = audited('deleteCronJob', function deleteCronJob(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return deleteCronJobFrom(request, context);
});

app.http('deleteCronJob', {
  route: 'cronjobs/{namespace}/{name}',
  methods: ['DELETE'],
  authLevel: 'function',
  handler: deleteCronJob,
});
