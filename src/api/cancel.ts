import { z } from 'zod';

/**
 * The cancel route's optional body. A module of its own so that cancelRun, which parses bodies by it, does not
 * build the rest of the API description (src/api/schemas.ts) at every instance's start: that is built on the
 * first call of the OpenAPI or Swagger document (docs/decisions.md, "the load-time goal").
 */
export const cancelRequestSchema = z.looseObject({ reason: z.string().max(500).optional() });
