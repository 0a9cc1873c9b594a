/**
 * The two API documents, imported by their functions on first call (one file in the bundle for both): the route
 * table and its zod schemas are then built when a document is first asked for, not at every instance's start
 * (docs/decisions.md, "the load-time goal").
 */
export { openApiDocument } from './openapi.js';
export { swaggerDocument } from './swagger.js';
