import type { InvocationContext } from '@azure/functions';

import { activity, durableClientInput, durableClientOf } from '../clients/durable.js';
import { inRunTrace } from '../clients/telemetry.js';
import { ensureError } from '../core/errors.js';
import type { RunRef } from '../core/run.js';
import { runRequestSchema } from '../core/schemas.js';
import { type DeliveryClient, deliveryStarterOf } from '../http/subscriptions.js';
import { createRun, type SubmitResult } from '../runs/submit.js';
import { startStartedDeliveries } from '../runs/subscriptions.js';
import { services } from '../services.js';
import { ACTIVITIES } from './names.js';

/**
 * Activity: create the run's Job (create-or-get). Credentials are looked up here by alias, never passed in. Once
 * the Job exists, the subscriptions that ask for `started` are told (issue 23): here, where the create succeeded,
 * so the orchestrator needs no change. Each delivery has one instance id per run and subscription, so this activity
 * run again (retried, replayed, or the next attempt of a run that retries on disruption) starts none twice.
 */
export async function submitRun(input: unknown, client: DeliveryClient, context: InvocationContext): Promise<SubmitResult> {
  const request = runRequestSchema().parse(input);
  return inRunTrace(ACTIVITIES.submitRun, request.traceparent, { ...request, trigger: request.trigger?.kind }, async () => {
    const { clusters, config, now, subscriptions } = services();
    const result = await createRun(clusters.gateway(request.cluster), request, clusters.monitorUrl(request.cluster), now(), config.runPolicy);
    context.log(`run ${request.runId}: submit ${result.outcome} (${result.snapshot.reason})`);
    if (result.outcome === 'submitted' && subscriptions) {
      const ref: RunRef = { runId: request.runId, cluster: request.cluster, namespace: request.namespace, source: result.snapshot.source, jobName: request.jobName };
      try {
        const started = await startStartedDeliveries(subscriptions, ref, result.snapshot, deliveryStarterOf(client));
        if (started.length > 0) context.log(`run ${request.runId}: ${String(started.length)} deliveries of its start started`);
      } catch (err) {
        // Never the run's failure: the verdict's activity (notifyRun) starts any start's delivery missed here.
        context.warn(`run ${request.runId}: the deliveries of its start could not be started now (they are at the verdict): ${ensureError(err).message}`);
      }
    }
    return result;
  }, context);
}

activity(ACTIVITIES.submitRun, {
  extraInputs: [durableClientInput()],
  handler: async (input: unknown, context: InvocationContext) => submitRun(input, await durableClientOf(context), context),
});
