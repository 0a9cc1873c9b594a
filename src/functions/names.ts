/** Function names, used both where they are registered and where they are called. */
export const ORCHESTRATORS = { jobRun: 'jobRun' } as const;
export const ACTIVITIES = { submitRun: 'submitRun', observeRun: 'observeRun', stopRun: 'stopRun', archiveRun: 'archiveRun' } as const;
/** The external event a cancel request raises on a run's orchestration. */
export const CANCEL_EVENT = 'cancel';
