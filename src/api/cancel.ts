import * as z from 'zod';

import { lazySchema } from '../core/lazy-schema.js';

/**
 * The cancel route's optional body. A module of its own so that cancelRun, which parses bodies by it, does not
 * build the rest of the API description (src/api/schemas.ts) at every instance's start: that is built on the
 * first call of the OpenAPI or Swagger document (docs/decisions.md, "the load-time goal"); this one is built on
 * the first cancel with a body (core/lazy-schema.ts).
 */
export const cancelRequestSchema = lazySchema(() => z.looseObject({ reason: z.string().max(500).optional() }));
