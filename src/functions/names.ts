/** Function names, used both where they are registered and where they are called. */
export const ORCHESTRATORS = { jobRun: 'jobRun' } as const;
export const ACTIVITIES = { submitRun: 'submitRun', observeRun: 'observeRun', stopRun: 'stopRun', archiveRun: 'archiveRun' } as const;
/** The external event a cancel request raises on a run's orchestration. */
export const CANCEL_EVENT = 'cancel';
/**
 * The orchestration version new instances get: host.json's `extensions.durableTask.defaultVersion` (the
 * orchestrator reads it as `context.df.version`). Bump it, and record golden histories of the new version,
 * when a change alters what an instance in flight would schedule (docs/decisions.md, "Orchestration").
 */
export const ORCHESTRATOR_VERSION = '2';
