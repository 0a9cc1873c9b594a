import type { InvocationContext } from '@azure/functions';

import { activity } from '../clients/durable.js';
import { inRunTraceWhen } from '../clients/telemetry.js';
import type { RunSnapshot } from '../core/run.js';
import { runRefSchema, tracedRefSchema } from '../core/schemas.js';
import { observeOnce, runReader, SETTLE } from '../runs/observe.js';
import { LastLooks } from '../runs/poll-changes.js';
import { services } from '../services.js';
import { ACTIVITIES } from './names.js';

/** What this worker last saw of each run it polls: a poll's span and log line are kept when it saw something new. */
const lastLooks = new LastLooks();

/**
 * Activity: one look at the run in the cluster. Transient API errors throw, for RetryOptions; others come back as
 * ObserveFailed. Its span (in the run's trace) and log line are kept for the first look, each change and the
 * verdict, and for a look that threw; a poll that saw what the last one did leaves neither (docs/operations.md).
 */
export async function observeRun(input: unknown, context: InvocationContext): Promise<RunSnapshot> {
  const ref = runRefSchema().parse(input);
  const { traceparent, trigger } = tracedRefSchema().parse(input);
  return inRunTraceWhen(
    ACTIVITIES.observeRun,
    traceparent,
    { ...ref, trigger },
    async () => {
      const { clusters, config, now } = services();
      const gateway = clusters.gateway(ref.cluster);
      const read = runReader(gateway, config.observeBatching);
      return observeOnce(gateway, ref, config.grace, clusters.monitorUrl(ref.cluster), now(), SETTLE, read);
    },
    (snapshot) => lastLooks.changed(ref.runId, snapshot),
    (snapshot) => {
      context.log(`run ${ref.runId}: ${snapshot.status} (${snapshot.reason})`);
    },
    context,
  );
}

activity(ACTIVITIES.observeRun, { handler: observeRun });
