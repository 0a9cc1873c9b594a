import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { app } from '@azure/functions';

import { apiBase } from '../http/links.js';
import { errorResponse } from '../http/problem.js';

/**
 * GET /api/swagger.json: the HTTP API as Swagger 2.0, what Logic Apps and Power Automate custom connectors
 * import; host and basePath are those this request came to. Anonymous, like /api/openapi.json.
 */
export async function getSwaggerDocument(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    // The API description (src/api: the route table and its zod schemas) is built on this route's first call,
    // not at every instance's start (docs/decisions.md, "the load-time goal").
    const { swaggerDocument } = await import('../api/documents.js');
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
