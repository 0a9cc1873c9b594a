import * as z from 'zod';

import { auditRecordSchema } from '../core/audit.js';
import { ENV_LIMITS, ENV_NAME } from '../core/clone.js';
import { CONCURRENCY_POLICIES, SCHEDULERS } from '../core/cronjob-bodies.js';
import { FAILURE_KINDS } from '../core/failure.js';
import { DNS_LABEL, DNS_SUBDOMAIN, MAX_CRONJOB_NAME, MAX_IDEMPOTENCY_KEY } from '../core/naming.js';
import { runSnapshotSchema } from '../core/schemas.js';
import * as subscriptions from '../core/subscriptions.js';
import * as cancel from './cancel.js';

// Built here, when the API description is first built (core/lazy-schema.ts): the same instances the handlers parse with.
export const sourceSubscriptionRequestSchema = subscriptions.sourceSubscriptionRequestSchema();
export const subscriptionRequestSchema = subscriptions.subscriptionRequestSchema();
export const unsubscribeRequestSchema = subscriptions.unsubscribeRequestSchema();
const sourceSubscriptionViewSchema = subscriptions.sourceSubscriptionViewSchema();
const subscriptionViewSchema = subscriptions.subscriptionViewSchema();

/**
 * Schemas of what the HTTP API takes and answers that no handler parses with zod of its own: path and query
 * parameters the handlers check by hand, and the answers they build. They describe the API in the OpenAPI
 * document (src/api/openapi.ts); test/api/schemas.test.ts and test/functions/query-parameters.test.ts hold
 * them against the handlers' own checks, test/http/api-answers.test.ts the answers against the handlers' answers.
 * Answers are loose objects: a field added to an answer must not make the document wrong.
 */

/** A namespace in a path: a DNS label, as assertNamespace checks it. */
export const namespaceParamSchema = z.string().min(1).max(63).regex(DNS_LABEL);
/** A Job (or a CronJob to run) in a path: a DNS subdomain, as assertObjectName checks it. */
export const objectNameParamSchema = z.string().min(1).max(253).regex(DNS_SUBDOMAIN);
/** A CronJob to manage in a path: a DNS subdomain of at most 52 characters (room for "-<minutes>"). */
export const cronJobNameParamSchema = z.string().min(1).max(MAX_CRONJOB_NAME).regex(DNS_SUBDOMAIN);
/**
 * A run id in the status and cancel routes: a DNS label `<base>-<suffix>` with a suffix of at least 8 characters
 * (core/naming.ts isRunId). Anything else is a 404, the answer an unknown run gets.
 */
const RUN_ID_PATTERN = /^[a-z0-9][-a-z0-9]*-[a-z0-9]{8,}$/;
export const runIdParamSchema = z.string().max(63).regex(RUN_ID_PATTERN);
/** Any Job name (logs of Jobs the app did not start too): a DNS label, else a 404. */
export const jobNameParamSchema = z.string().min(1).max(63).regex(DNS_LABEL);
/** A cluster alias as CLUSTERS names them (src/config.ts); one not configured is a 403. */
export const clusterAliasSchema = z.string().regex(/^[A-Za-z0-9][-A-Za-z0-9_.]{0,62}$/);
/** An idempotency key (Idempotency-Key header or runId query): visible ASCII without spaces. */
export const idempotencyKeySchema = z.string().min(1).max(MAX_IDEMPOTENCY_KEY).regex(/^[\x21-\x7e]+$/);
/** `dryRun` as the CronJob routes read it: true or false (empty is false). */
export const booleanQuerySchema = z.enum(['true', 'false']);
/** `previous` and `download` as the logs route reads them: true or false, 1 or 0 (empty is false). */
export const flagQuerySchema = z.enum(['true', 'false', '1', '0']);
/** A container in a query: a Kubernetes name of at most 63 characters, as the logs route checks it. */
export const containerNameSchema = z.string().min(1).max(63).regex(DNS_SUBDOMAIN);

/** A run's body: flat env overrides, numbers and booleans stringified (core/clone.ts parseEnvOverrides). */
export const envOverridesSchema = z
  .record(z.string().max(ENV_LIMITS.nameLength).regex(ENV_NAME), z.union([z.string(), z.number(), z.boolean()]))
  .meta({
    maxProperties: ENV_LIMITS.count,
    description:
      'Environment variable overrides for containers[0], name → value; numbers and booleans are stringified. Properties named "namespace" or "name" are the route parameters (as Polysync sends them): they must equal the route\'s values and are not env overrides.',
  });

/**
 * A start route's body: env overrides, and optionally a subscription to the run's verdict (issue 23). The
 * subscription is told apart from an env override by its value, a JSON object, which no env override can be.
 */
export const startRunBodySchema = z
  .object({ subscription: subscriptionRequestSchema.optional().meta({ description: 'Be told the verdict at this URL (a Logic Apps HTTP Webhook action\'s @{listCallbackUrl()}); a JSON object, which no env override can be' }) })
  .catchall(z.union([z.string(), z.number(), z.boolean()]))
  .meta({
    maxProperties: ENV_LIMITS.count + 1,
    description:
      'Environment variable overrides for containers[0], name → value (numbers and booleans are stringified), and optionally `subscription`. Properties named "namespace" or "name" are the route parameters (as Polysync sends them): they must equal the route\'s values and are not env overrides.',
  });

/** A subscription as answers show it: never its URL. */
/** A source subscription as POST /subscriptions answers it (issue 23 item 4): never its URL. */
export const sourceSubscriptionSchema = sourceSubscriptionViewSchema.extend({
  location: z.string().describe('Where DELETE removes it (a connector calls it when its flow is turned off or deleted)'),
});

export const subscriptionSchema = subscriptionViewSchema.extend({
  runId: z.string(),
  location: z.string().meta({ description: 'GET it for the delivery state, DELETE it to unsubscribe' }),
});

/** The cancel route's optional body (a module of its own: cancelRun imports it at start). */
export const cancelRequestSchema = cancel.cancelRequestSchema();

/** RFC 9457 problem details, as src/http/problem.ts writes them. */
export const problemSchema = z
  .looseObject({
    // The host's own answers (a 401 for a missing key, a 404 for no route) have no type; the app's always do.
    type: z.string().optional().meta({ description: "A reference to the reason in docs/errors.md, relative to the project root; absent from the host's own 401" }),
    title: z.string().meta({ description: 'The reason, e.g. BadRequest, Forbidden, ClusterUnavailable' }),
    status: z.int(),
    detail: z.string().meta({ description: 'What is wrong and what to do about it' }),
    field: z.string().optional().meta({ description: 'The query parameter a schedule preview refused' }),
  })
  .meta({ description: 'An RFC 9457 problem' });

const runLinksShape = {
  statusUrl: z.string().meta({ description: 'GET it for the run status (with the caller\'s ?code= when it sent one)' }),
  cancelUrl: z.string().meta({ description: 'POST it to cancel the run' }),
};

export const runAcceptedSchema = z.looseObject({
  runId: z.string(),
  ...runLinksShape,
  monitorUrl: z.string().nullable(),
  id: z.string().meta({ description: 'The run id, in the name Durable Functions\' check-status payload uses' }),
  statusQueryGetUri: z.string(),
  terminatePostUri: z.string(),
  subscriptionUrl: z.string().optional().meta({ description: 'When the body had a subscription: its location' }),
});

export const runStatusSchema = z
  .looseObject({
    ...runSnapshotSchema().shape,
    ...runLinksShape,
    runtimeStatus: z.enum(['Pending', 'Running', 'Completed', 'Failed', 'Terminated']),
    output: z.record(z.string(), z.unknown()).nullable(),
    subscriptions: z.array(subscriptionViewSchema).optional().meta({ description: "The run's subscriptions and their deliveries (host only); absent when it has none" }),
  })
  .meta({ description: "The run's snapshot. A successful run's outputs are also top-level properties where no snapshot field has their name." });

export const cancelAcceptedSchema = z.looseObject({ runId: z.string(), status: z.literal('Cancelling'), ...runLinksShape });

const runStatus = z.enum(['Starting', 'Running', 'Success', 'Failed', 'Cancelled', 'Unknown']);
const runTrigger = z.enum(['cluster', 'schedule', 'http', 'manual']);

const sourceSummaryShape = {
  kind: z.enum(['Job', 'CronJob']),
  name: z.string(),
  namespace: z.string(),
  cluster: z.string(),
  image: z.string().nullable(),
  params: z.record(z.string(), z.string().nullable()).meta({ description: 'containers[0] env with literal values (null when DISCOVERY_SHOW_ENV_VALUES is off)' }),
  referencedParams: z.array(z.string()),
  commandParams: z.array(z.string()).meta({
    description:
      "env names containers[0]'s command or args substitute as $(NAME) that the source's aks-job-runner.io/allow-env annotation does not name: the start route refuses a value for them",
  }),
  runnable: z.boolean(),
  notRunnableReason: z.string().nullable(),
  createdAt: z.string().nullable(),
  runUrl: z.string(),
};

const lastRun = z.looseObject({ time: z.string(), result: runStatus, runId: z.string() }).nullable();
const warning = z.looseObject({ reason: z.string(), message: z.string() });

export const jobListSchema = z.looseObject({ items: z.array(z.looseObject(sourceSummaryShape)), continue: z.string().nullable() });

export const cronJobListSchema = z.looseObject({
  items: z.array(
    z.looseObject({
      ...sourceSummaryShape,
      schedule: z.string(),
      timeZone: z.string().nullable(),
      suspended: z.boolean(),
      lastScheduleTime: z.string().nullable(),
      lastSuccessfulTime: z.string().nullable(),
      scheduler: z.enum(SCHEDULERS),
      nextRunTime: z.string().nullable(),
      warnings: z.array(warning),
      lastRun,
      activeRuns: z.array(z.string()),
    }),
  ),
  continue: z.string().nullable(),
});

export const deploymentListSchema = z.looseObject({
  items: z.array(
    z.looseObject({
      name: z.string(),
      namespace: z.string(),
      cluster: z.string(),
      replicas: z.number(),
      containers: z.array(
        z.looseObject({ name: z.string(), image: z.string().nullable(), env: z.array(z.string()), referencedEnv: z.array(z.string()), commandEnv: z.array(z.string()) }),
      ),
      createdAt: z.string().nullable(),
      runnable: z.boolean(),
      notRunnableReason: z.string().nullable(),
    }),
  ),
  continue: z.string().nullable(),
});

const runTime = z.looseObject({ utc: z.string(), local: z.string() });
const schedulePreview = z.looseObject({ schedule: z.string(), timeZone: z.string(), description: z.string(), nextRuns: z.array(runTime) });

const cronJobRun = z.looseObject({
  runId: z.string(),
  status: runStatus,
  reason: z.string(),
  message: z.string(),
  trigger: runTrigger,
  scheduledTime: z.string().nullable(),
  createdAt: z.string().nullable(),
  startTime: z.string().nullable(),
  completionTime: z.string().nullable(),
});

const nullableCount = z.number().nullable();
const cronJobDetailShape = {
  name: z.string(),
  namespace: z.string(),
  cluster: z.string(),
  resourceVersion: z.string().meta({ description: 'Send it back (If-Match or body resourceVersion) to update' }),
  createdAt: z.string().nullable(),
  scheduler: z.enum(SCHEDULERS),
  source: z.union([z.looseObject({ deployment: z.string() }), z.looseObject({ httpCall: z.string() }), z.null()]),
  settings: z.looseObject({
    schedule: z.string(),
    timeZone: z.string().nullable(),
    suspend: z.boolean(),
    concurrencyPolicy: z.string(),
    startingDeadlineSeconds: nullableCount,
    successfulJobsHistoryLimit: nullableCount,
    failedJobsHistoryLimit: nullableCount,
    backoffLimit: nullableCount,
    activeDeadlineSeconds: nullableCount,
    ttlSecondsAfterFinished: nullableCount,
    restartPolicy: z.string().nullable(),
    containers: z.array(
      z.looseObject({
        name: z.string(),
        image: z.string().nullable(),
        command: z.array(z.string()).nullable(),
        args: z.array(z.string()).nullable(),
        env: z.record(z.string(), z.string().nullable()).meta({ description: 'Env with literal values (null when DISCOVERY_SHOW_ENV_VALUES is off)' }),
        referencedEnv: z.array(z.string()),
        commandEnv: z.array(z.string()).meta({ description: 'names the command or args substitute as $(NAME) that aks-job-runner.io/allow-env does not name: an env edit of them is refused' }),
      }),
    ),
  }),
  status: z.looseObject({ lastScheduleTime: z.string().nullable(), lastSuccessfulTime: z.string().nullable() }),
  preview: schedulePreview.nullable(),
  latestRuns: z.array(cronJobRun),
  warnings: z.array(z.string()),
  lastRun,
  activeRuns: z.array(z.string()),
};

export const cronJobDetailSchema = z.looseObject(cronJobDetailShape);

export const cronJobUpdatedSchema = z.looseObject({
  dryRun: z.boolean(),
  changed: z.array(z.string()).meta({ description: 'The settings the update changed' }),
  ...cronJobDetailShape,
});

export const cronJobCreatedSchema = z.looseObject({
  dryRun: z.boolean(),
  url: z.string().meta({ description: "The CronJob's URL (GET, PATCH, DELETE)" }),
  preview: schedulePreview,
  cronJob: z.looseObject({}).meta({ description: 'The CronJob as the API server stored it (or would store it, on a dry run), without managedFields' }),
});

export const cronJobRunsSchema = z.looseObject({
  items: z.array(
    z.looseObject({
      runId: z.string(),
      status: runStatus,
      reason: z.string(),
      startTime: z.string().nullable(),
      completionTime: z.string().nullable(),
      trigger: runTrigger,
      live: z.boolean(),
      archived: z.boolean(),
      statusUrl: z.string().optional(),
      logsUrl: z.string(),
    }),
  ),
  continue: z.string().nullable(),
});

/**
 * `status` of the namespace's runs listing: one or more run statuses, comma-separated, as src/http/archive.ts
 * statusFilter reads them.
 */
const STATUS_WORD = '(?:Starting|Running|Success|Failed|Cancelled|Unknown)';
export const runStatusFilterSchema = z
  .string()
  .regex(new RegExp(`^${STATUS_WORD}(?:,${STATUS_WORD})*$`))
  .meta({ examples: ['Failed', 'Failed,Cancelled'] });

const starter = z
  .union([
    z.looseObject({ kind: z.literal('key') }),
    z.looseObject({ kind: z.literal('entra'), appId: z.string(), objectId: z.string() }),
    z.looseObject({ kind: z.literal('unknown') }),
  ])
  .nullable()
  .meta({
    description:
      'Who started the run: a function-key caller (never the key), a Microsoft Entra application and principal, or unknown (a run archived after its Job was gone); null for runs no caller started (the scheduler, the cluster, kubectl)',
  });

export const namespaceRunsSchema = z.looseObject({
  items: z.array(
    z.looseObject({
      runId: z.string(),
      cluster: z.string(),
      namespace: z.string(),
      source: z.looseObject({ kind: z.string(), name: z.string() }).nullable().meta({ description: 'The Job or CronJob it ran from; null when not known (archived before sources were kept)' }),
      trigger: runTrigger,
      startedBy: starter,
      status: runStatus,
      reason: z.string(),
      failureKind: z
        .enum(FAILURE_KINDS)
        .nullable()
        .meta({ description: "Why it failed, where the listing can tell: the archive's record, else the Job's own conditions; null otherwise (the run's status has the whole cause)" }),
      startTime: z.string().nullable(),
      completionTime: z.string().nullable(),
      durationSeconds: z.int().min(0).nullable().meta({ description: 'From start to completion (to now while it runs); null when an end is not known' }),
      live: z.boolean().meta({ description: 'Its Job is still in the cluster' }),
      archived: z.boolean().meta({ description: 'Its logs are in the archive' }),
      statusUrl: z.string().optional().meta({ description: 'The run status route, for runs the app started (trigger http or schedule)' }),
      logsUrl: z.string(),
    }),
  ),
  continue: z.string().nullable().meta({ description: 'Pass it back for the next page; null on the last. A page may hold fewer runs than limit (even none) while it is set.' }),
  archive: z.boolean().meta({ description: 'Whether a logs archive is configured: without one only live Jobs are listed' }),
});

export const schedulePreviewSchema = z.looseObject({
  next: z.array(runTime),
  description: z.string(),
  timeZone: z.string(),
  message: z.string().optional().meta({ description: 'Why there is no next time, when there is none' }),
});

export const clusterListSchema = z.looseObject({
  default: z.string().nullable().meta({ description: "The app's default cluster when the caller may use it, else the first it may; null for none" }),
  items: z.array(z.looseObject({ alias: z.string(), namespaces: z.array(z.string()) })),
});

export const concurrencyPolicyQuerySchema = z.enum(CONCURRENCY_POLICIES);

export const auditPageSchema = z.looseObject({
  date: z.string().meta({ description: 'The UTC day of the records, YYYY-MM-DD' }),
  items: z.array(auditRecordSchema()),
  continue: z.string().nullable().meta({ description: 'Pass as continue for the rest of the day; null when the day is done' }),
});
