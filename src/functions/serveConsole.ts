import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { app } from '@azure/functions';

import { consoleResponse } from '../http/console.js';
import { errorResponse } from '../http/problem.js';

/**
 * GET /api/console/{*path}: the web console's static files. Anonymous, because the page holds no data: every
 * API call it makes carries the function key the person enters (or App Service Authentication in front).
 */
export async function serveConsole(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    return await consoleResponse(request);
  } catch (err) {
    return errorResponse(err, context);
  }
}

app.http('serveConsole', {
  route: 'console/{*path}',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: serveConsole,
});
