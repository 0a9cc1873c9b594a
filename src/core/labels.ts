/** Labels and annotations the app puts on what it creates. One prefix, kept here, so selectors agree. */
export const LABEL_PREFIX = 'aks-job-runner.io/';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'aks-job-runner';
export const RUN_ID_LABEL = `${LABEL_PREFIX}run-id`;
export const SOURCE_KIND_LABEL = `${LABEL_PREFIX}source-kind`;
export const SOURCE_NAME_LABEL = `${LABEL_PREFIX}source-name`;
/**
 * On the pods of a fallback run (one the caller wrote from an image), value "true": what the optional
 * NetworkPolicy in infra/kubernetes/fallback-network-policy.yaml selects, with the managed-by label.
 */
export const FALLBACK_POD_LABEL = `${LABEL_PREFIX}fallback`;
/** Hash of what the caller asked for, so a reused idempotency key with a different request is caught. */
export const REQUEST_HASH_ANNOTATION = `${LABEL_PREFIX}request-hash`;
/** Who asked: the Functions invocation that started the run, for tracing a Job back to its request. */
export const STARTED_BY_ANNOTATION = `${LABEL_PREFIX}started-by`;
/**
 * Which caller a run answers to (`key`, or `entra:<appId>:<objectId>`; never a key or token), so listings read
 * from the cluster show a run only to whoever may read it through the status route.
 */
export const CALLER_ANNOTATION = `${LABEL_PREFIX}caller`;

/** Set by kubectl and by us on a Job made by hand from a CronJob. */
export const CRONJOB_INSTANTIATE_ANNOTATION = 'cronjob.kubernetes.io/instantiate';

/** Selector that hides the app's own runs from discovery. */
export const NOT_MANAGED_SELECTOR = `${MANAGED_BY_LABEL}!=${MANAGED_BY_VALUE}`;
export const MANAGED_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;

/** Labels the API server adds to a Job's pod template; a clone that keeps them is rejected. */
export const JOB_CONTROLLER_TEMPLATE_LABELS = [
  'controller-uid',
  'batch.kubernetes.io/controller-uid',
  'job-name',
  'batch.kubernetes.io/job-name',
] as const;

/** Pods of a Job carry this label with the Job's name. */
export const JOB_NAME_POD_LABEL = 'batch.kubernetes.io/job-name';

/** Opt-in of a CronJob to the app's scheduler: this label with this value, and `spec.suspend: true`. */
export const SCHEDULER_LABEL = `${LABEL_PREFIX}scheduler`;
export const SCHEDULER_APP = 'app';
/** What the CronJob controller writes on the Jobs it makes: the scheduled time, RFC 3339 in the CronJob's zone. */
export const CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION = 'batch.kubernetes.io/cronjob-scheduled-timestamp';
/** CronJob management: the Deployment whose pod template a CronJob was made from. */
export const SOURCE_DEPLOYMENT_ANNOTATION = `${LABEL_PREFIX}source-deployment`;
/** CronJob management: `<METHOD> <url>` of a CronJob made to call an HTTP endpoint. */
export const HTTP_CALL_ANNOTATION = `${LABEL_PREFIX}http-call`;
export const SCHEDULER_SELECTOR = `${SCHEDULER_LABEL}=${SCHEDULER_APP}`;
/** The last scheduled time the app started a run for (RFC 3339, UTC), kept on the CronJob. */
export const LAST_SCHEDULE_ANNOTATION = `${LABEL_PREFIX}last-schedule-time`;
/**
 * A source's consent to retries for infrastructure faults (issue 22, item 4): on the source Job or CronJob, the
 * most Jobs after the first a run may make when its Job failed because the cluster evicted, disrupted or lost
 * its pod, from "0" to "5" (core/retry.ts MAX_RETRIES_ON_DISRUPTION). A request may ask for fewer, never more.
 */
export const RETRY_ON_DISRUPTION_ANNOTATION = `${LABEL_PREFIX}retry-on-disruption`;
/** On a run's Job: which attempt of the run it is ("2", "3"...), set on the Jobs of retries only. */
export const ATTEMPT_ANNOTATION = `${LABEL_PREFIX}attempt`;
