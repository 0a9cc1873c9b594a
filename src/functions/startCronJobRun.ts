import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { client } from '../clients/durable.js';
import { audited } from '../http/audit.js';
import type { RunClient } from '../http/runs.js';
import { startRun } from '../http/start.js';

/** POST /api/cronjobs/{namespace}/{name}/runs: run a CronJob's jobTemplate now, with the body's env overrides. */
export const startCronJobRun = audited('startCronJobRun', function startCronJobRun(request: HttpRequest, client: RunClient, context: InvocationContext): Promise<HttpResponseInit> {
  return startRun('CronJob', request, client, context);
});

client.http('startCronJobRun', {
  route: 'cronjobs/{namespace}/{name}/runs',
  methods: ['POST'],
  authLevel: 'function',
  handler: startCronJobRun,
});
