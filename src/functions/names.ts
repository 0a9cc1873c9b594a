/** Function names, used both where they are registered and where they are called. */
export const ORCHESTRATORS = { jobRun: 'jobRun', deliverRunEvent: 'deliverRunEvent' } as const;
export const ACTIVITIES = {
  submitRun: 'submitRun',
  observeRun: 'observeRun',
  stopRun: 'stopRun',
  archiveRun: 'archiveRun',
  notifyRun: 'notifyRun',
  attemptDelivery: 'attemptDelivery',
  deadLetterDelivery: 'deadLetterDelivery',
} as const;
/** The external event a cancel request raises on a run's orchestration. */
export const CANCEL_EVENT = 'cancel';
/**
 * The orchestration version new instances get: host.json's `extensions.durableTask.defaultVersion` (the
 * orchestrator reads it as `context.df.version`). Bump it, and record golden histories of the new version,
 * when a change alters what an instance in flight would schedule (docs/decisions.md, "Orchestration").
 * Dotted from 3.0 on: the host compares versions as System.Version only when both parse as one, and a
 * one-part version does not ("10" would sort before "2"); test/functions/versions.test.ts checks every golden
 * version against this one as the host compares them.
 */
export const ORCHESTRATOR_VERSION = '3.1';
