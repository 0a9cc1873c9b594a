import type { InvocationContext } from '@azure/functions';
import * as z from 'zod';

import { BlobStoreError } from '../clients/blob.js';
import { activity } from '../clients/durable.js';
import { inRunTrace } from '../clients/telemetry.js';
import { KubeApiError } from '../core/errors.js';
import { lazySchema } from '../core/lazy-schema.js';
import { callerTag } from '../core/run.js';
import { runRefSchema, runRequestSchema, runSnapshotSchema, tracedRefSchema } from '../core/schemas.js';
import { type ArchiveOutcome, archiveRun as archive } from '../runs/archive.js';
import { services } from '../services.js';
import { ACTIVITIES } from './names.js';

export const archiveRunInputSchema = lazySchema(() =>
  z.object({
    ref: runRefSchema(),
    /** failureKind: the verdict's own, when the orchestration passes it (absent: the archive judges from what it reads). */
    final: runSnapshotSchema().pick({ status: true, reason: true, message: true, startTime: true, completionTime: true, failureKind: true }),
    /** Who started the run, for the archive's index when its Job is already gone. Absent from earlier inputs. */
    trigger: z.enum(['http', 'schedule', 'rerun']).optional(),
    /** Who started the run (from version 3.1), for the listings when its Job is already gone. Absent from earlier inputs. */
    caller: runRequestSchema().shape.caller,
  }),
);
export type ArchiveRunInput = z.infer<ReturnType<typeof archiveRunInputSchema>>;

/**
 * Activity: copy a finished run's logs, events and Job to the archive. Transient errors throw, for
 * RetryOptions; one retrying cannot fix (no archive configured, a refused role) comes back as the outcome's
 * error, which the final snapshot shows. Never changes the verdict.
 */
export async function archiveRun(input: unknown, context: InvocationContext): Promise<ArchiveOutcome> {
  const { ref, trigger } = archiveRunInputSchema().parse(input);
  const { traceparent } = tracedRefSchema().parse((input as { ref?: unknown }).ref);
  return inRunTrace(ACTIVITIES.archiveRun, traceparent, { ...ref, trigger }, () => archiveInTrace(input, context), context);
}

async function archiveInTrace(input: unknown, context: InvocationContext): Promise<ArchiveOutcome> {
  const { ref, final, trigger, caller } = archiveRunInputSchema().parse(input);
  const { clusters, config, logs, now } = services();
  if (!logs) return { location: null, error: 'no logs archive is configured (LOGS_ACCOUNT_URL or LOGS_CONNECTION_STRING)' };
  try {
    const outcome = await archive(
      clusters.gateway(ref.cluster),
      logs,
      {
        cluster: ref.cluster,
        namespace: ref.namespace,
        runId: ref.runId,
        jobName: ref.jobName,
        verdict: { status: final.status, reason: final.reason, message: final.message },
        startTime: final.startTime,
        completionTime: final.completionTime,
        source: ref.source,
        failureKind: final.failureKind,
        ...(caller ? { caller: callerTag(caller) } : {}),
        // The archive's vocabulary has no rerun: a rerun is a run on request, as its Job's labels also say.
        ...(trigger ? { trigger: trigger === 'rerun' ? 'http' : trigger } : {}),
      },
      config.logs.maxBytesPerContainer,
      now(),
    );
    context.log(`run ${ref.runId}: archived to ${outcome.location ?? '(nowhere)'}`);
    return outcome;
  } catch (err) {
    if ((err instanceof KubeApiError || err instanceof BlobStoreError) && !err.transient) {
      context.warn(`run ${ref.runId}: not archived: ${err.message}`);
      return { location: null, error: err.message };
    }
    throw err;
  }
}

activity(ACTIVITIES.archiveRun, { handler: archiveRun });
