import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';

import { inRunTrace } from '../clients/telemetry.js';
import type { RunSnapshot } from '../core/run.js';
import { runRefSchema, tracedRefSchema } from '../core/schemas.js';
import { observeOnce, runReader, SETTLE } from '../runs/observe.js';
import { services } from '../services.js';
import { ACTIVITIES } from './names.js';

/** Activity: one look at the run in the cluster. Transient API errors throw, for RetryOptions; others come back as ObserveFailed. */
export async function observeRun(input: unknown, context: InvocationContext): Promise<RunSnapshot> {
  const ref = runRefSchema.parse(input);
  const { traceparent, trigger } = tracedRefSchema.parse(input);
  return inRunTrace(ACTIVITIES.observeRun, traceparent, { ...ref, trigger }, async () => {
    const { clusters, config, now } = services();
    const gateway = clusters.gateway(ref.cluster);
    const read = runReader(gateway, config.observeBatching);
    const snapshot = await observeOnce(gateway, ref, config.grace, clusters.monitorUrl(ref.cluster), now(), SETTLE, read);
    context.log(`run ${ref.runId}: ${snapshot.status} (${snapshot.reason})`);
    return snapshot;
  });
}

df.app.activity(ACTIVITIES.observeRun, { handler: observeRun });
