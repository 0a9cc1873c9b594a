import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { app } from '@azure/functions';

import { apiBase } from '../http/links.js';
import { errorResponse } from '../http/problem.js';

/**
 * GET /api/openapi.json: the whole HTTP API as OpenAPI 3.1, its server the URL this request came to (so the
 * local runtime and Azure each get a document that works against themselves). Anonymous: it holds no data,
 * only what the routes take and answer (docs/decisions.md, "API documents").
 */
export async function getOpenApiDocument(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    // The API description (src/api: the route table and its zod schemas) is built on this route's first call,
    // not at every instance's start (docs/decisions.md, "the load-time goal").
    const { openApiDocument } = await import('../api/documents.js');
    return { status: 200, headers: { 'Cache-Control': 'no-cache' }, jsonBody: openApiDocument({ serverUrl: apiBase(request) }) };
  } catch (err) {
    return errorResponse(err, context);
  }
}

app.http('getOpenApiDocument', {
  route: 'openapi.json',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: getOpenApiDocument,
});
