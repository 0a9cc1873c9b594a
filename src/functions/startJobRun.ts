import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { client } from '../clients/durable.js';
import { audited } from '../http/audit.js';
import type { RunClient } from '../http/runs.js';
import { startRun } from '../http/start.js';

/** POST /api/jobs/{namespace}/{name}/runs: run a clone of a Job, with the body's env overrides. */
export const startJobRun = audited('startJobRun', function startJobRun(request: HttpRequest, client: RunClient, context: InvocationContext): Promise<HttpResponseInit> {
  return startRun('Job', request, client, context);
});

client.http('startJobRun', {
  route: 'jobs/{namespace}/{name}/runs',
  methods: ['POST'],
  authLevel: 'function',
  handler: startJobRun,
});
