import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { app } from '@azure/functions';

import { namespaceRunsResponse } from '../http/archive.js';
import { errorResponse } from '../http/problem.js';

/** GET /api/runs?namespace=&cluster=&status=&limit=&continue=: a namespace's runs, live and archived, newest first. */
export async function listRuns(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    return await namespaceRunsResponse(request);
  } catch (err) {
    return errorResponse(err, context);
  }
}

app.http('listRuns', {
  route: 'runs',
  methods: ['GET'],
  authLevel: 'function',
  handler: listRuns,
});
