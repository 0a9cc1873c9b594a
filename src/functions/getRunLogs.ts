import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { client } from '../clients/durable.js';
import { runLogsResponse } from '../http/archive.js';
import { errorResponse } from '../http/problem.js';
import type { RunClient } from '../http/runs.js';

/**
 * GET /api/runs/{runId}/logs?container=&previous=&tailLines=&pod=&download=&cluster=&namespace=&follow=&since=: a
 * run's log, text/plain; with follow=true streamed as it is written, in segments (see src/http/follow.ts).
 */
export async function getRunLogs(request: HttpRequest, client: RunClient, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    return await runLogsResponse(request, client, context);
  } catch (err) {
    return errorResponse(err, context);
  }
}

client.http('getRunLogs', {
  route: 'runs/{runId}/logs',
  methods: ['GET'],
  authLevel: 'function',
  handler: getRunLogs,
});
