import { SeverityNumber } from '@opentelemetry/api-logs';

import { instruments, recordRunSpan, type RunFacts, runMetricAttributes } from '../clients/telemetry.js';
import type { RunSnapshot } from '../core/run.js';
import type { JobRunInput } from '../core/schemas.js';
import { ATTRIBUTES, EVENTS, OPERATIONS_ATTRIBUTES } from '../core/telemetry-names.js';

/**
 * What the jobRun orchestrator tells the telemetry. Called only when the orchestrator is not replaying
 * (`context.df.isReplaying` false), so each is recorded once per run: the orchestrator schedules nothing for it,
 * and the times are the orchestration's own (currentUtcDateTime), never the wall clock.
 */

function factsOf(input: JobRunInput): RunFacts {
  const { runId, cluster, namespace, source, trigger } = input.request;
  return { runId, cluster, namespace, source, trigger: trigger?.kind ?? 'http' };
}

/** Seconds from the run's start request (inputs from before it was recorded: none) to `at`. */
function secondsSinceStart(input: JobRunInput, at: Date): number | undefined {
  if (!input.startedAt) return undefined;
  return Math.max(0, (at.getTime() - new Date(input.startedAt).getTime()) / 1000);
}

/** The run was first seen Running (METRICS.runTimeToRunning). */
export function recordRunning(input: JobRunInput, at: Date): void {
  const seconds = secondsSinceStart(input, at);
  if (seconds !== undefined) instruments().runTimeToRunning.record(seconds, runMetricAttributes(factsOf(input)));
}

/**
 * The verdict: the runs-finished counter, the run's duration, the orchestration's span in the run's trace (from
 * the start to the verdict) and the EVENTS.runFinished log record.
 */
export function recordVerdict(input: JobRunInput, final: RunSnapshot, at: Date): void {
  const run = factsOf(input);
  const outcome = { [ATTRIBUTES.status]: final.status, [ATTRIBUTES.failureKind]: final.failureKind, [ATTRIBUTES.reason]: final.reason };
  const attributes = runMetricAttributes(run, outcome);
  instruments().runsFinished.add(1, attributes);
  const seconds = secondsSinceStart(input, at);
  if (seconds !== undefined) instruments().runDuration.record(seconds, runMetricAttributes(run, { [ATTRIBUTES.status]: final.status }));
  const failed = final.status !== 'Success';
  recordRunSpan(
    'orchestration jobRun',
    input.request.traceparent,
    run,
    { start: input.startedAt ? new Date(input.startedAt) : at, end: at },
    {
      ...Object.fromEntries(Object.entries(outcome).filter(([, v]) => v !== undefined)),
      // The workbook's p50/p95 (infra/queries/run-duration.kql) reads each verdict event's duration: Application
      // Insights keeps a histogram's sum and count, not its buckets.
      ...(seconds !== undefined ? { [OPERATIONS_ATTRIBUTES.runDurationSeconds]: seconds } : {}),
    },
    {
      failed,
      event: {
        name: EVENTS.runFinished,
        severity: failed ? SeverityNumber.WARN : SeverityNumber.INFO,
        body: `run ${run.runId}: ${final.status} (${final.reason})`,
      },
    },
  );
}
