import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';

import type { RunSnapshot } from '../core/run.js';
import { runRefSchema } from '../core/schemas.js';
import { observeOnce } from '../runs/observe.js';
import { services } from '../services.js';
import { ACTIVITIES } from './names.js';

/** Activity: one look at the run in the cluster. Transient API errors throw, for RetryOptions; others come back as ObserveFailed. */
export async function observeRun(input: unknown, context: InvocationContext): Promise<RunSnapshot> {
  const ref = runRefSchema.parse(input);
  const { clusters, config, now } = services();
  const snapshot = await observeOnce(clusters.gateway(ref.cluster), ref, config.grace, clusters.monitorUrl(ref.cluster), now());
  context.log(`run ${ref.runId}: ${snapshot.status} (${snapshot.reason})`);
  return snapshot;
}

df.app.activity(ACTIVITIES.observeRun, { handler: observeRun });
