import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { app } from '@azure/functions';

import { swaggerDocument } from '../api/swagger.js';
import { apiBase } from '../http/links.js';
import { errorResponse } from '../http/problem.js';

/**
 * GET /api/swagger.json: the HTTP API as Swagger 2.0, what Logic Apps and Power Automate custom connectors
 * import; host and basePath are those this request came to. Anonymous, like /api/openapi.json.
 */
export function getSwaggerDocument(request: HttpRequest, context: InvocationContext): HttpResponseInit {
  try {
    return { status: 200, headers: { 'Cache-Control': 'no-cache' }, jsonBody: swaggerDocument({ serverUrl: apiBase(request) }) };
  } catch (err) {
    return errorResponse(err, context);
  }
}

app.http('getSwaggerDocument', {
  route: 'swagger.json',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: getSwaggerDocument,
});
