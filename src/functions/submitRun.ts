import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';

import { inRunTrace } from '../clients/telemetry.js';
import { runRequestSchema } from '../core/schemas.js';
import { createRun, type SubmitResult } from '../runs/submit.js';
import { services } from '../services.js';
import { ACTIVITIES } from './names.js';

/** Activity: create the run's Job (create-or-get). Credentials are looked up here by alias, never passed in. */
export async function submitRun(input: unknown, context: InvocationContext): Promise<SubmitResult> {
  const request = runRequestSchema.parse(input);
  return inRunTrace(ACTIVITIES.submitRun, request.traceparent, { ...request, trigger: request.trigger?.kind }, async () => {
    const { clusters, config, now } = services();
    const result = await createRun(clusters.gateway(request.cluster), request, clusters.monitorUrl(request.cluster), now(), config.runPolicy);
    context.log(`run ${request.runId}: submit ${result.outcome} (${result.snapshot.reason})`);
    return result;
  }, context);
}

df.app.activity(ACTIVITIES.submitRun, { handler: submitRun });
