import type { InvocationContext } from '@azure/functions';
import * as z from 'zod';

import { activity } from '../clients/durable.js';
import { inRunTrace } from '../clients/telemetry.js';
import { lazySchema } from '../core/lazy-schema.js';
import { runRefSchema, runSnapshotSchema, tracedRefSchema } from '../core/schemas.js';
import { deleteRun, isStopThrottled, type StopResult } from '../runs/observe.js';
import { services } from '../services.js';
import { ACTIVITIES } from './names.js';

export const stopRunInputSchema = lazySchema(() =>
  z.object({
    ref: runRefSchema(),
    verdict: runSnapshotSchema().pick({ status: true, reason: true, message: true }),
    last: runSnapshotSchema().optional(),
  }),
);
export type StopRunInput = z.infer<ReturnType<typeof stopRunInputSchema>>;

/** Activity: delete the run's Job (propagation Background) and give the run its final verdict, or say it was throttled. */
export async function stopRun(input: unknown, context: InvocationContext): Promise<StopResult> {
  const { ref, verdict, last } = stopRunInputSchema().parse(input);
  const { traceparent, trigger } = tracedRefSchema().parse((input as { ref?: unknown }).ref);
  return inRunTrace(ACTIVITIES.stopRun, traceparent, { ...ref, trigger }, async () => {
    const { clusters, now } = services();
    const result = await deleteRun(clusters.gateway(ref.cluster), ref, verdict, last, clusters.monitorUrl(ref.cluster), now());
    context.log(isStopThrottled(result) ? `run ${ref.runId}: stop throttled until ${result.retryAt}` : `run ${ref.runId}: stopped, ${result.status} (${result.reason})`);
    return result;
  }, context);
}

activity(ACTIVITIES.stopRun, { handler: stopRun });
