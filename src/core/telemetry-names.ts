/**
 * The app's telemetry vocabulary: every metric, span, log event and attribute name an operator queries. One
 * place, so the code that emits them, the KQL that reads them (infra/queries) and docs/operations.md agree.
 * OpenTelemetry naming: dotted lower-case names, units as UCUM ("s", "By", "{run}"). The instruments land in
 * Application Insights' customMetrics (AppMetrics) under these names, the attributes as customDimensions.
 */

/** Metrics: name, unit, kind and the attributes each carries. */
export const METRICS = Object.freeze({
  /** Counter {run}: runs started. Attributes: trigger, source.kind, source.name, cluster, namespace, caller.kind. */
  runsStarted: 'ajr.runs.started',
  /** Counter {run}: runs finished. Attributes: status (Succeeded|Failed|Cancelled|...), failure.kind, source.*, cluster, namespace, trigger. */
  runsFinished: 'ajr.runs.finished',
  /** Histogram s: from the run's start request to its verdict. Attributes: status, source.*, cluster, namespace. */
  runDuration: 'ajr.run.duration',
  /** Histogram s: from the start request to the first pod Running. Attributes: source.*, cluster, namespace. */
  runTimeToRunning: 'ajr.run.time_to_running',
  /** Counter {request}: Kubernetes API requests. Attributes: cluster, verb, resource, status_code, throttled (bool). */
  kubeRequests: 'ajr.kube.requests',
  /** Counter {tick}: scheduler ticks, the heartbeat the "scheduler stopped" alert watches. */
  schedulerTicks: 'ajr.scheduler.ticks',
  /** Histogram s: how long one tick took. */
  schedulerTickDuration: 'ajr.scheduler.tick.duration',
  /** Histogram s: fire time minus due time, per run the scheduler fired. Attributes: cronjob, cluster, namespace. */
  schedulerLateness: 'ajr.scheduler.lateness',
  /** Counter {due}: due times of handed-over CronJobs that passed without a run. Attributes: cronjob, cluster, namespace, reason. */
  schedulerMissed: 'ajr.scheduler.missed',
  /** Counter By: bytes written to the logs archive. Attributes: cluster, namespace. */
  archiveBytes: 'ajr.archive.bytes',
  /** Counter {archive}: archives that failed or were left partial. Attributes: cluster, namespace, reason. */
  archiveFailures: 'ajr.archive.failures',
  /** Counter {delivery}: push deliveries attempted. Attributes: outcome (delivered|retry|dead_lettered|gone), channel (webhook|cloudevents|eventgrid|logicapps). */
  callbackDeliveries: 'ajr.callback.deliveries',
  /** Counter {delivery}: push deliveries that failed for good (dead-lettered). Attributes: channel. */
  callbackFailures: 'ajr.callback.failures',
} as const);

/** Attribute keys on spans, metrics, log records and audit records. */
export const ATTRIBUTES = Object.freeze({
  runId: 'ajr.run_id',
  cluster: 'ajr.cluster',
  namespace: 'ajr.namespace',
  sourceKind: 'ajr.source.kind',
  sourceName: 'ajr.source.name',
  trigger: 'ajr.trigger',
  callerKind: 'ajr.caller.kind',
  status: 'ajr.status',
  failureKind: 'ajr.failure.kind',
  cronJob: 'ajr.cronjob',
  verb: 'ajr.kube.verb',
  resource: 'ajr.kube.resource',
  statusCode: 'http.response.status_code',
  throttled: 'ajr.kube.throttled',
  reason: 'ajr.reason',
  outcome: 'ajr.outcome',
  channel: 'ajr.channel',
  dueAt: 'ajr.due_at',
  deadlineAt: 'ajr.deadline_at',
} as const);

/**
 * Log events (OpenTelemetry log records with `event.name`, Application Insights traces/AppTraces with the
 * name in customDimensions["event.name"]) that alerts and the workbook query.
 */
export const EVENTS = Object.freeze({
  /** A run got its verdict: status, failure.kind, source, trigger. */
  runFinished: 'ajr.run.finished',
  /**
   * Every tick, per handed-over CronJob: its next due time and the deadline by which a run must have started
   * (startingDeadlineSeconds, or the grace when none). The missed-due-time alert joins these with runs started,
   * so it fires also when the scheduler itself stopped.
   */
  scheduleExpected: 'ajr.schedule.expected',
  /** The scheduler found a due time that passed without a run. */
  scheduleMissed: 'ajr.schedule.missed',
  /** One audit record (who, what, target, outcome, status code). */
  audit: 'ajr.audit',
  /** A push delivery was dead-lettered. */
  deliveryDeadLettered: 'ajr.delivery.dead_lettered',
} as const);

/** The tracer and meter name (the instrumentation scope). */
export const INSTRUMENTATION_SCOPE = 'aks-job-runner';

/** Attribute keys of the operations work (issue 24, items 4 and 5), appended here so the objects above stay as they were. */
export const OPERATIONS_ATTRIBUTES = Object.freeze({
  /** On EVENTS.runFinished: the run's duration in seconds, from which the workbook takes p50 and p95. */
  runDurationSeconds: 'ajr.run.duration_s',
  /** On EVENTS.audit: the route's operationId (startJobRun, updateCronJob...). */
  auditAction: 'ajr.audit.action',
  /** On EVENTS.audit: what the change was beyond its route (handOver, handBack, dryRun, the fields a PATCH set). */
  auditDetail: 'ajr.audit.detail',
  /** On EVENTS.audit: who, as `key:<hash of the key>`, `entra:<app id>/<object id>` or `unknown`. */
  auditCaller: 'ajr.audit.caller',
  /** On EVENTS.audit: where, as `<cluster>/<namespace>/<name>` and the run id. */
  auditTarget: 'ajr.audit.target',
} as const);
