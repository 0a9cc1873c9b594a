import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { z } from 'zod';

import type { RunSnapshot } from '../core/run.js';
import { runRefSchema, runSnapshotSchema } from '../core/schemas.js';
import { deleteRun } from '../runs/observe.js';
import { services } from '../services.js';
import { ACTIVITIES } from './names.js';

export const stopRunInputSchema = z.object({
  ref: runRefSchema,
  verdict: runSnapshotSchema.pick({ status: true, reason: true, message: true }),
  last: runSnapshotSchema.optional(),
});
export type StopRunInput = z.infer<typeof stopRunInputSchema>;

/** Activity: delete the run's Job (propagation Background) and give the run its final verdict. */
export async function stopRun(input: unknown, context: InvocationContext): Promise<RunSnapshot> {
  const { ref, verdict, last } = stopRunInputSchema.parse(input);
  const { clusters, now } = services();
  const snapshot = await deleteRun(clusters.gateway(ref.cluster), ref, verdict, last, clusters.monitorUrl(ref.cluster), now());
  context.log(`run ${ref.runId}: stopped, ${snapshot.status} (${snapshot.reason})`);
  return snapshot;
}

df.app.activity(ACTIVITIES.stopRun, { handler: stopRun });
