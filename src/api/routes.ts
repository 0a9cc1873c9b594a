import * as z from 'zod';

import { MAX_AUDIT_PAGE } from '../core/audit.js';
import { createCronJobSchema, updateCronJobSchema } from '../core/cronjob-bodies.js';
import { RETRY_ON_DISRUPTION_ANNOTATION } from '../core/labels.js';
import { MAX_PAGE_SIZE, MAX_PREVIEW_COUNT, MAX_RUNS_PAGE, MAX_TAIL_LINES } from '../core/limits.js';
import { MAX_RETRIES_ON_DISRUPTION } from '../core/retry.js';
import {
  auditPageSchema,
  booleanQuerySchema,
  cancelAcceptedSchema,
  cancelRequestSchema,
  clusterAliasSchema,
  clusterListSchema,
  concurrencyPolicyQuerySchema,
  containerNameSchema,
  cronJobCreatedSchema,
  cronJobDetailSchema,
  cronJobListSchema,
  cronJobNameParamSchema,
  cronJobRunsSchema,
  cronJobUpdatedSchema,
  deploymentListSchema,
  envOverridesSchema,
  flagQuerySchema,
  idempotencyKeySchema,
  jobListSchema,
  jobNameParamSchema,
  namespaceParamSchema,
  namespaceRunsSchema,
  objectNameParamSchema,
  problemSchema,
  runAcceptedSchema,
  runIdParamSchema,
  runStatusFilterSchema,
  runStatusSchema,
  schedulePreviewSchema,
  sourceSubscriptionRequestSchema,
  sourceSubscriptionSchema,
  startRunBodySchema,
  subscriptionRequestSchema,
  subscriptionSchema,
  unsubscribeRequestSchema,
} from './schemas.js';

/**
 * The HTTP API, one entry per HTTP function: the single source the OpenAPI document is made from.
 * test/api/openapi.test.ts holds it against the functions the app really registers (name, route, method and
 * auth level), both ways, so a route cannot be added without being described here.
 */

/**
 * What the CronJob bodies' superRefine checks across fields, said in JSON Schema (zod cannot write a refinement
 * out): one source (fromDeployment or httpCall), one schedule (schedule or preset), and `at`, `weekday` and `day`
 * only with a preset. test/http/body-constraints.test.ts holds them against parseBody.
 */
const CREATE_CONSTRAINTS = {
  allOf: [
    { oneOf: [{ required: ['fromDeployment'] }, { required: ['httpCall'] }] },
    { oneOf: [{ required: ['schedule'] }, { required: ['preset'] }] },
  ],
  dependentRequired: { at: ['preset'], weekday: ['preset'], day: ['preset'] },
};
const UPDATE_CONSTRAINTS = {
  not: { required: ['schedule', 'preset'] },
  dependentRequired: { at: ['preset'], weekday: ['preset'], day: ['preset'] },
};

/** The schemas the document names in components; answers and bodies refer to them by these names. */
export const COMPONENT_SCHEMAS = {
  Problem: { schema: problemSchema, io: 'output' },
  EnvOverrides: { schema: envOverridesSchema, io: 'input' },
  StartRunBody: { schema: startRunBodySchema, io: 'input' },
  SubscriptionRequest: { schema: subscriptionRequestSchema, io: 'input' },
  UnsubscribeRequest: { schema: unsubscribeRequestSchema, io: 'input' },
  Subscription: { schema: subscriptionSchema, io: 'output' },
  SourceSubscriptionRequest: { schema: sourceSubscriptionRequestSchema, io: 'input' },
  SourceSubscription: { schema: sourceSubscriptionSchema, io: 'output' },
  CancelRequest: { schema: cancelRequestSchema, io: 'input' },
  CreateCronJob: { schema: createCronJobSchema(), io: 'input', constraints: CREATE_CONSTRAINTS },
  UpdateCronJob: { schema: updateCronJobSchema(), io: 'input', constraints: UPDATE_CONSTRAINTS },
  RunAccepted: { schema: runAcceptedSchema, io: 'output' },
  RunStatus: { schema: runStatusSchema, io: 'output' },
  CancelAccepted: { schema: cancelAcceptedSchema, io: 'output' },
  JobList: { schema: jobListSchema, io: 'output' },
  CronJobList: { schema: cronJobListSchema, io: 'output' },
  DeploymentList: { schema: deploymentListSchema, io: 'output' },
  CronJobCreated: { schema: cronJobCreatedSchema, io: 'output' },
  CronJobDetail: { schema: cronJobDetailSchema, io: 'output' },
  CronJobUpdated: { schema: cronJobUpdatedSchema, io: 'output' },
  CronJobRuns: { schema: cronJobRunsSchema, io: 'output' },
  RunList: { schema: namespaceRunsSchema, io: 'output' },
  SchedulePreview: { schema: schedulePreviewSchema, io: 'output' },
  ClusterList: { schema: clusterListSchema, io: 'output' },
  AuditPage: { schema: auditPageSchema, io: 'output' },
} as const satisfies Record<string, { schema: z.ZodType; io: 'input' | 'output'; constraints?: Readonly<Record<string, unknown>> }>;
export type SchemaName = keyof typeof COMPONENT_SCHEMAS;

export type HeaderName = 'Location' | 'Retry-After' | 'ETag' | 'Content-Disposition' | 'X-Log-Source' | 'X-Log-Pod' | 'X-Log-Container' | 'X-Log-Truncated' | 'X-Log-Kept' | 'X-Log-Omitted-Bytes' | 'X-Log-Omitted-Lines';

export interface ApiParameter {
  name: string;
  in: 'path' | 'query' | 'header';
  description: string;
  schema: z.ZodType;
  /** Path parameters always are. */
  required?: boolean;
  /** A query parameter that may repeat (command=sh&command=-c). */
  repeated?: boolean;
  /** The handler takes `name=` (empty) as if the parameter were not sent. */
  allowEmpty?: boolean;
  /**
   * Where a connector's designer gets the values to pick from (`x-ms-dynamic-values`, Power Platform's extension):
   * another operation of this API and the path to the values in its answer.
   */
  pickFrom?: { operationId: string; parameters?: Readonly<Record<string, string>>; collection: string; value: string };
}

/** An answer's body: a named schema (JSON), or a media type with a JSON Schema of its own (text, files). */
export type ApiBody = { schema: SchemaName } | { contentType: string; jsonSchema: Record<string, unknown> };

/**
 * An OpenAPI link: what the answer lets a client call next, with which of its values (runtime expressions such as
 * `$response.body#/runId`). Stateful fuzzers follow them; Swagger 2.0 has none.
 */
export interface ApiLink {
  operationId: string;
  parameters: Readonly<Record<string, string>>;
}

export interface ApiSuccess {
  description: string;
  body?: ApiBody;
  headers?: readonly HeaderName[];
  links?: Readonly<Record<string, ApiLink>>;
}

/** The error answers, all problem+json: which of them a route can give. */
export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 410 | 413 | 422 | 428 | 429 | 502 | 503;

export interface ApiRoute {
  /** The function's name: also the operationId. */
  name: string;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** The route template as registered (without the `api` prefix). */
  route: string;
  authLevel: 'function' | 'anonymous';
  tag: string;
  summary: string;
  description: string;
  parameters: readonly ApiParameter[];
  requestBody?: { schema: SchemaName; required: boolean; description: string };
  /** Answers other than the errors: 2xx, 3xx, and 424 for a run that failed. */
  answers: Readonly<Partial<Record<200 | 201 | 202 | 204 | 308 | 424, ApiSuccess>>>;
  errors: readonly ErrorStatus[];
  /** Left out of the Swagger 2.0 form: nothing a connector's action would call. */
  connector?: false;
  /**
   * A connector's webhook trigger (Swagger 2.0 `x-ms-trigger`): the request body's property that is the
   * x-ms-notification-url, and the schema of what is POSTed to it (the trigger's outputs).
   */
  trigger?: { notificationUrl: string; payload: SchemaName };
}

function zString(min = 0, max?: number): z.ZodString {
  const text = min > 0 ? z.string().min(min) : z.string();
  return max === undefined ? text : text.max(max);
}
const zInt = (min: number, max?: number) => (max === undefined ? z.int().min(min) : z.int().min(min).max(max));
const zDateTime = () => z.string().meta({ format: 'date-time' });

const cluster: ApiParameter = {
  name: 'cluster',
  in: 'query',
  description: 'The cluster alias (CLUSTERS); default DEFAULT_CLUSTER. One not configured is a 403.',
  schema: clusterAliasSchema,
  pickFrom: { operationId: 'listClusters', collection: 'items', value: 'alias' },
};
const namespacePath: ApiParameter = { name: 'namespace', in: 'path', required: true, description: 'The Kubernetes namespace', schema: namespaceParamSchema };
const cronJobPath: ApiParameter = { name: 'name', in: 'path', required: true, description: 'The CronJob', schema: cronJobNameParamSchema };
const subscriptionIdPath: ApiParameter = {
  name: 'subscriptionId',
  in: 'path',
  required: true,
  description: 'The subscription id the subscriptions route answered with',
  schema: z.string().regex(/^[0-9a-f]{20}$/),
};
const runIdPath: ApiParameter = { name: 'runId', in: 'path', required: true, description: 'The run id the start route answered with', schema: runIdParamSchema };
const namespaceQuery: ApiParameter = {
  name: 'namespace',
  in: 'query',
  description: 'The namespace to list; may be left out when the cluster allows only one',
  schema: namespaceParamSchema,
};
const limit = (max: number, what: string): ApiParameter => ({
  name: 'limit',
  in: 'query',
  description: `${what} per page, 1 to ${max}`,
  schema: zInt(1, max),
  allowEmpty: true,
});
const continueToken: ApiParameter = { name: 'continue', in: 'query', description: 'The `continue` of the previous page, as it was', schema: zString(), allowEmpty: true };
const dryRun: ApiParameter = {
  name: 'dryRun',
  in: 'query',
  description: 'true: answer what the API server would store, storing nothing',
  schema: booleanQuerySchema,
  allowEmpty: true,
};

/** Every cluster call can be refused as Kubernetes refuses it (400, 404, 409, 410, 422 pass through), or fail (502, 503). */
const CLUSTER_ERRORS = [400, 401, 403, 404, 409, 410, 422, 502, 503] as const;

const runId = { runId: '$response.body#/runId' };
const runStarted: ApiSuccess = {
  description: 'The run is accepted (or, with the same idempotency key, was already): poll Location until it is no longer 202',
  body: { schema: 'RunAccepted' },
  headers: ['Location', 'Retry-After'],
  links: {
    GetRun: { operationId: 'getRun', parameters: runId },
    CancelRun: { operationId: 'cancelRun', parameters: runId },
    GetRunLogs: { operationId: 'getRunLogs', parameters: runId },
  },
};
/** A start whose body subscribed to the verdict (a Logic Apps HTTP Webhook's Subscribe): the caller waits for the push. */
const runStartedSubscribed: ApiSuccess = {
  description: 'The run is accepted and the body\'s subscription made: its verdict is POSTed to the subscription\'s URL, nothing to poll (Location still names the run\'s status)',
  body: { schema: 'RunAccepted' },
  headers: ['Location'],
  links: runStarted.links,
};
// On the default cluster: a runtime expression of a query parameter the request did not have would be empty.
const cronJob = { namespace: '$request.path.namespace', name: '$response.body#/cronJob/metadata/name' };
const cronJobLinks: Readonly<Record<string, ApiLink>> = {
  GetCronJob: { operationId: 'getCronJob', parameters: cronJob },
  UpdateCronJob: { operationId: 'updateCronJob', parameters: cronJob },
  DeleteCronJob: { operationId: 'deleteCronJob', parameters: cronJob },
  ListCronJobRuns: { operationId: 'listCronJobRuns', parameters: cronJob },
  StartCronJobRun: { operationId: 'startCronJobRun', parameters: cronJob },
};

/** A run's source is picked from the discovery listing of the namespace and cluster already given. */
function sources(operationId: 'listJobs' | 'listCronJobs'): NonNullable<ApiParameter['pickFrom']> {
  return { operationId, parameters: { namespace: 'namespace', cluster: 'cluster' }, collection: 'items', value: 'name' };
}

function startParameters(kind: 'Job' | 'CronJob'): ApiParameter[] {
  const name: ApiParameter =
    kind === 'Job'
      ? { name: 'name', in: 'path', required: true, description: 'The Job to clone', schema: objectNameParamSchema, pickFrom: sources('listJobs') }
      : { name: 'name', in: 'path', required: true, description: 'The CronJob whose jobTemplate runs', schema: objectNameParamSchema, pickFrom: sources('listCronJobs') };
  const common: ApiParameter[] = [
    namespacePath,
    name,
    cluster,
    {
      name: 'timeoutSeconds',
      in: 'query',
      description: 'Stop the run (Failed, RunTimeout) after this many seconds, at most MAX_RUN_TIMEOUT_SECONDS; default DEFAULT_RUN_TIMEOUT_SECONDS',
      schema: zInt(1),
      allowEmpty: true,
    },
    {
      name: 'retryOnDisruption',
      in: 'query',
      description: `Fresh Jobs the run may make after one the cluster evicted, disrupted or lost (never after an exit code, OOM or deadline), 0 to ${String(MAX_RETRIES_ON_DISRUPTION)}: at most what the source's annotation ${RETRY_ON_DISRUPTION_ANNOTATION} allows (asking more is a 400); default that annotation's value`,
      schema: zInt(0, MAX_RETRIES_ON_DISRUPTION),
      allowEmpty: true,
    },
    { name: 'runId', in: 'query', description: 'An idempotency key: the same key gives the same run, never a second Job', schema: idempotencyKeySchema },
    { name: 'Idempotency-Key', in: 'header', description: 'The idempotency key, as a header (must equal runId when both are sent)', schema: idempotencyKeySchema },
  ];
  if (kind === 'CronJob') {
    return [
      ...common,
      {
        name: 'concurrencyPolicy',
        in: 'query',
        description: "This run's concurrencyPolicy instead of the CronJob's own",
        schema: concurrencyPolicyQuerySchema,
        allowEmpty: true,
      },
    ];
  }
  return [
    ...common,
    { name: 'image', in: 'query', description: 'Run this image when the Job does not exist (a fallback Job)', schema: zString(1) },
    { name: 'command', in: 'query', repeated: true, description: 'The fallback container\'s command (with image): repeated, or one JSON array', schema: zString() },
    { name: 'args', in: 'query', repeated: true, description: 'The fallback container\'s args (with image): repeated, or one JSON array', schema: zString() },
  ];
}

export const API_ROUTES: readonly ApiRoute[] = [
  {
    name: 'startJobRun',
    method: 'POST',
    route: 'jobs/{namespace}/{name}/runs',
    authLevel: 'function',
    tag: 'Runs',
    summary: 'Run a Job',
    description: 'Run a clone of a Job with the body\'s env overrides, or, with `image`, a minimal Job when the source does not exist.',
    parameters: startParameters('Job'),
    requestBody: { schema: 'StartRunBody', required: false, description: 'Env overrides for containers[0], and optionally a subscription to the verdict' },
    answers: { 201: runStartedSubscribed, 202: runStarted },
    errors: [...CLUSTER_ERRORS, 413, 429],
  },
  {
    name: 'startCronJobRun',
    method: 'POST',
    route: 'cronjobs/{namespace}/{name}/runs',
    authLevel: 'function',
    tag: 'Runs',
    summary: "Run a CronJob's template now",
    description: "Run the CronJob's jobTemplate now, with the body's env overrides; its concurrencyPolicy holds (Forbid: 409 naming the active run).",
    parameters: startParameters('CronJob'),
    requestBody: { schema: 'StartRunBody', required: false, description: 'Env overrides for containers[0], and optionally a subscription to the verdict' },
    answers: { 201: runStartedSubscribed, 202: runStarted },
    errors: [...CLUSTER_ERRORS, 413, 429],
  },
  {
    name: 'getRun',
    method: 'GET',
    route: 'runs/{runId}',
    authLevel: 'function',
    tag: 'Runs',
    summary: 'Get run status',
    description: "The run's latest snapshot: 202 while it is Starting or Running, 200 on Success, 424 when it Failed or was Cancelled.",
    parameters: [runIdPath],
    answers: {
      200: { description: 'The run succeeded', body: { schema: 'RunStatus' } },
      202: { description: 'The run is not finished: poll Location again after Retry-After seconds', body: { schema: 'RunStatus' }, headers: ['Location', 'Retry-After'] },
      424: { description: 'The run failed or was cancelled: status and reason say why', body: { schema: 'RunStatus' } },
    },
    errors: [400, 401, 404, 503],
  },
  {
    name: 'cancelRun',
    method: 'POST',
    route: 'runs/{runId}/cancel',
    authLevel: 'function',
    tag: 'Runs',
    summary: 'Cancel a run',
    description: 'Stop a run and delete its Job. A run that has already ended keeps its verdict (409).',
    parameters: [runIdPath],
    requestBody: { schema: 'CancelRequest', required: false, description: 'Why, for the run\'s record' },
    answers: { 202: { description: 'The cancel is under way: poll Location for the final status', body: { schema: 'CancelAccepted' }, headers: ['Location', 'Retry-After'] } },
    errors: [...CLUSTER_ERRORS, 413],
  },
  {
    name: 'createRunSubscription',
    method: 'POST',
    route: 'runs/{runId}/subscriptions',
    authLevel: 'function',
    tag: 'Runs',
    summary: 'Subscribe to a run',
    description:
      "Be told the run's verdict at a URL: HTTPS under CALLBACK_ALLOWED_URLS, signed with the Standard Webhooks headers (Logic Apps callback URLs need no signature). Delivered at once when the verdict is already made; retried for a day. The same URL again is the same subscription (200). At most 5 per run (409). Unsubscribing never cancels the run.",
    parameters: [runIdPath],
    requestBody: { schema: 'SubscriptionRequest', required: true, description: 'Where to, which events, in which format' },
    answers: {
      200: { description: 'This URL was already subscribed to this run', body: { schema: 'Subscription' }, headers: ['Location'] },
      201: { description: 'Subscribed: Location is the subscription', body: { schema: 'Subscription' }, headers: ['Location'] },
    },
    errors: [400, 401, 404, 409, 413, 503],
  },
  {
    name: 'getRunSubscription',
    method: 'GET',
    route: 'runs/{runId}/subscriptions/{subscriptionId}',
    authLevel: 'function',
    tag: 'Runs',
    summary: 'Get a subscription',
    description: "A subscription and its delivery's state: host (never the URL's path or query), state, attempts, last error, dead letter.",
    parameters: [runIdPath, subscriptionIdPath],
    answers: { 200: { description: 'The subscription', body: { schema: 'Subscription' } } },
    errors: [400, 401, 404, 503],
  },
  {
    name: 'deleteRunSubscription',
    method: 'DELETE',
    route: 'runs/{runId}/subscriptions/{subscriptionId}',
    authLevel: 'function',
    tag: 'Runs',
    summary: 'Unsubscribe',
    description: 'Remove a subscription: nothing is sent to its URL after this, and the URL is forgotten. It never cancels the run (POST /runs/{runId}/cancel does).',
    parameters: [runIdPath, subscriptionIdPath],
    answers: { 204: { description: 'Unsubscribed' } },
    errors: [400, 401, 404, 409, 503],
  },
  {
    name: 'unsubscribeCallback',
    method: 'POST',
    route: 'subscriptions/unsubscribe',
    authLevel: 'function',
    tag: 'Runs',
    summary: 'Unsubscribe a callback URL',
    description:
      "A Logic Apps HTTP Webhook action's Unsubscribe: body {\"url\": \"@{listCallbackUrl()}\"}. Removes the subscription made with that callback URL; 204 also when there is none. It never cancels the run.",
    parameters: [],
    requestBody: { schema: 'UnsubscribeRequest', required: true, description: 'The callback URL that was subscribed' },
    answers: { 204: { description: 'No subscription with this URL remains' } },
    errors: [400, 401, 413, 503],
  },
  {
    name: 'createSourceSubscription',
    method: 'POST',
    route: 'subscriptions',
    authLevel: 'function',
    tag: 'Runs',
    summary: 'When a run finishes',
    description:
      "Be told the verdict of every run of a Job or CronJob (or of every run in a namespace) that ends from now on: POSTed to the URL, the same JSON GET /runs/{runId} answers (status, failureKind, exitCode, outputs). A custom connector's webhook trigger: Power Automate and Logic Apps call it with their notification URL when a flow is saved, and DELETE on the Location when it is turned off or deleted. Only sources the caller may run, HTTPS under CALLBACK_ALLOWED_URLS; an Entra caller is told only of its own runs. At most 5 per source or namespace (409).",
    parameters: [],
    requestBody: { schema: 'SourceSubscriptionRequest', required: true, description: 'Which runs, and where to' },
    answers: {
      200: { description: 'This URL was already subscribed to these runs', body: { schema: 'SourceSubscription' }, headers: ['Location'] },
      201: { description: 'Subscribed: DELETE on Location removes it', body: { schema: 'SourceSubscription' }, headers: ['Location'] },
    },
    errors: [400, 401, 403, 404, 409, 413, 503],
    trigger: { notificationUrl: 'url', payload: 'RunStatus' },
  },
  {
    name: 'deleteSourceSubscription',
    method: 'DELETE',
    route: 'subscriptions/{subscriptionId}',
    authLevel: 'function',
    tag: 'Runs',
    summary: 'Remove a trigger subscription',
    description: 'What a connector calls on the Location POST /subscriptions answered with, when its flow is turned off or deleted: no run that ends after this is told. Never cancels a run.',
    parameters: [subscriptionIdPath],
    answers: { 204: { description: 'Removed' } },
    errors: [401, 404, 503],
  },
  {
    name: 'rerunRun',
    method: 'POST',
    route: 'runs/{runId}/rerun',
    authLevel: 'function',
    tag: 'Runs',
    summary: 'Run a run again',
    description:
      "Start a new run of the same source with the same parameters (cluster, namespace, env overrides, fallback image, timeout), the body's env overrides merged over the original's; also when the original's Job and pods are gone. Consent and the caller's policy are checked again; the new run's trigger is {kind: rerun, of}.",
    parameters: [
      runIdPath,
      { name: 'Idempotency-Key', in: 'header', description: 'The same key reruns this run once, never a second Job', schema: idempotencyKeySchema },
    ],
    requestBody: { schema: 'EnvOverrides', required: false, description: "Env overrides for containers[0], merged over the original run's" },
    answers: { 202: runStarted },
    errors: [...CLUSTER_ERRORS, 413, 429],
  },
  {
    name: 'listRuns',
    method: 'GET',
    route: 'runs',
    authLevel: 'function',
    tag: 'Runs',
    summary: "List a namespace's runs",
    description:
      "The namespace's runs, newest first, whoever started them: the app's live Jobs and the logs archive's runs, each with its source, trigger, starter, status, failure kind and duration. A caller sees the runs it may read (an Entra caller its own and those no caller started); runs of sources kept out are left out. A page may hold fewer than limit runs while continue is set.",
    parameters: [
      namespaceQuery,
      cluster,
      { name: 'status', in: 'query', description: 'Only runs with these statuses, comma-separated: Starting, Running, Success, Failed, Cancelled, Unknown', schema: runStatusFilterSchema, allowEmpty: true },
      limit(MAX_RUNS_PAGE, 'Runs'),
      continueToken,
    ],
    answers: { 200: { description: 'A page of runs', body: { schema: 'RunList' } } },
    errors: CLUSTER_ERRORS,
  },
  {
    name: 'getRunLogs',
    method: 'GET',
    route: 'runs/{runId}/logs',
    authLevel: 'function',
    tag: 'Runs',
    summary: 'Get run logs',
    description:
      "One container's log of a run as text: from the live pod, else from the logs archive. With follow=true, streamed as the container writes it, in segments of LOGS_FOLLOW_SEGMENT_SECONDS: each ends with a line `--- aks-job-runner: continue since=<cursor>` (resume with follow=true&since=<cursor>: no line lost or repeated, across restarts and the Job's next pod) or, at the run's verdict, `--- aks-job-runner: end <status> (...)`; the app's own lines all start with `--- aks-job-runner: `.",
    parameters: [
      { name: 'runId', in: 'path', required: true, description: 'The run id, or the name of any Job (with namespace)', schema: jobNameParamSchema },
      { name: 'container', in: 'query', description: 'The container (default the first)', schema: containerNameSchema, allowEmpty: true },
      { name: 'pod', in: 'query', description: 'The pod (default the newest)', schema: objectNameParamSchema, allowEmpty: true },
      { name: 'previous', in: 'query', description: "true: the previous instance's log", schema: flagQuerySchema, allowEmpty: true },
      { name: 'download', in: 'query', description: 'true: Content-Disposition attachment', schema: flagQuerySchema, allowEmpty: true },
      { name: 'tailLines', in: 'query', description: `The last lines only, 1 to ${MAX_TAIL_LINES}`, schema: zInt(1, MAX_TAIL_LINES), allowEmpty: true },
      cluster,
      { name: 'namespace', in: 'query', description: "The Job's namespace: needed for a Job the app did not start", schema: namespaceParamSchema },
      {
        name: 'follow',
        in: 'query',
        description: 'true: stream the log as it is written (text/plain, chunked), one segment per answer; not with previous, tailLines, pod or download',
        schema: flagQuerySchema,
        allowEmpty: true,
      },
      {
        name: 'since',
        in: 'query',
        description: 'With follow=true: the cursor the previous segment ended with (`continue since=<cursor>`), as it was',
        schema: zString(),
        allowEmpty: true,
      },
    ],
    answers: {
      200: {
        description: 'The log; with follow=true, streamed, ending with a continue or end line',
        body: { contentType: 'text/plain', jsonSchema: { type: 'string' } },
        // A followed log's answer has none of these (it is streamed before what they say is known).
        headers: ['Content-Disposition', 'X-Log-Source', 'X-Log-Pod', 'X-Log-Container', 'X-Log-Truncated', 'X-Log-Kept', 'X-Log-Omitted-Bytes', 'X-Log-Omitted-Lines'],
      },
    },
    errors: [...CLUSTER_ERRORS, 429],
  },
  {
    name: 'listJobs',
    method: 'GET',
    route: 'jobs',
    authLevel: 'function',
    tag: 'Discovery',
    summary: 'List Jobs',
    description: 'Jobs that can be run in a namespace, their env as string parameters; the app\'s own runs are hidden.',
    parameters: [namespaceQuery, cluster, limit(MAX_PAGE_SIZE, 'Jobs'), continueToken],
    answers: { 200: { description: 'A page of Jobs', body: { schema: 'JobList' } } },
    errors: CLUSTER_ERRORS,
  },
  {
    name: 'listCronJobs',
    method: 'GET',
    route: 'cronjobs',
    authLevel: 'function',
    tag: 'CronJobs',
    summary: 'List CronJobs',
    description: 'CronJobs in a namespace: env parameters, scheduler, next run, last run and its result, active runs, warnings.',
    parameters: [namespaceQuery, cluster, limit(MAX_PAGE_SIZE, 'CronJobs'), continueToken],
    answers: { 200: { description: 'A page of CronJobs', body: { schema: 'CronJobList' } } },
    errors: CLUSTER_ERRORS,
  },
  {
    name: 'listDeployments',
    method: 'GET',
    route: 'deployments',
    authLevel: 'function',
    tag: 'CronJobs',
    summary: 'List Deployments',
    description: 'Deployments a CronJob can be made from: containers, images, env names.',
    parameters: [namespaceQuery, cluster, limit(MAX_PAGE_SIZE, 'Deployments'), continueToken],
    answers: { 200: { description: 'A page of Deployments', body: { schema: 'DeploymentList' } } },
    errors: CLUSTER_ERRORS,
  },
  {
    name: 'createCronJob',
    method: 'POST',
    route: 'cronjobs/{namespace}',
    authLevel: 'function',
    tag: 'CronJobs',
    summary: 'Create a CronJob',
    description: 'A CronJob from a Deployment\'s pod template (fromDeployment), or one that calls an HTTP endpoint (httpCall).',
    parameters: [namespacePath, cluster, dryRun],
    requestBody: { schema: 'CreateCronJob', required: true, description: 'The CronJob to make' },
    answers: {
      200: { description: 'Dry run: what the API server would store', body: { schema: 'CronJobCreated' } },
      201: { description: 'Created', body: { schema: 'CronJobCreated' }, headers: ['Location', 'ETag'], links: cronJobLinks },
    },
    errors: [...CLUSTER_ERRORS, 413],
  },
  {
    name: 'getCronJob',
    method: 'GET',
    route: 'cronjobs/{namespace}/{name}',
    authLevel: 'function',
    tag: 'CronJobs',
    summary: 'Get a CronJob',
    description: 'One CronJob: its settings, status, next runs and latest runs; ETag is its resourceVersion.',
    parameters: [namespacePath, cronJobPath, cluster],
    answers: { 200: { description: 'The CronJob', body: { schema: 'CronJobDetail' }, headers: ['ETag'] } },
    errors: CLUSTER_ERRORS,
  },
  {
    name: 'updateCronJob',
    method: 'PATCH',
    route: 'cronjobs/{namespace}/{name}',
    authLevel: 'function',
    tag: 'CronJobs',
    summary: 'Update a CronJob',
    description: 'Change schedule, time zone, suspension, scheduler, command, env, policies or limits, from the version read (If-Match or body resourceVersion).',
    parameters: [
      namespacePath,
      cronJobPath,
      cluster,
      dryRun,
      { name: 'If-Match', in: 'header', description: 'The ETag GET answered with', schema: zString(1) },
    ],
    requestBody: { schema: 'UpdateCronJob', required: true, description: 'The settings to change; null removes' },
    answers: { 200: { description: 'Updated (or, on a dry run, what it would be)', body: { schema: 'CronJobUpdated' }, headers: ['ETag'] } },
    errors: [...CLUSTER_ERRORS, 413, 428],
  },
  {
    name: 'deleteCronJob',
    method: 'DELETE',
    route: 'cronjobs/{namespace}/{name}',
    authLevel: 'function',
    tag: 'CronJobs',
    summary: 'Delete a CronJob',
    description: 'Delete the CronJob; its Jobs and their pods go too (propagation Background).',
    parameters: [namespacePath, cronJobPath, cluster],
    answers: { 204: { description: 'Deleted' } },
    errors: CLUSTER_ERRORS,
  },
  {
    name: 'listCronJobRuns',
    method: 'GET',
    route: 'cronjobs/{namespace}/{name}/runs',
    authLevel: 'function',
    tag: 'CronJobs',
    summary: "List a CronJob's runs",
    description: "The CronJob's runs, newest first: live Jobs (the cluster's and the app's) and archived ones.",
    parameters: [namespacePath, cronJobPath, cluster, limit(MAX_RUNS_PAGE, 'Runs'), continueToken],
    answers: { 200: { description: 'A page of runs', body: { schema: 'CronJobRuns' } } },
    errors: CLUSTER_ERRORS,
  },
  {
    name: 'previewSchedule',
    method: 'GET',
    route: 'schedules/preview',
    authLevel: 'function',
    tag: 'CronJobs',
    summary: 'Preview a schedule',
    description: 'The next times a CronJob schedule fires, in UTC and in its zone, and the schedule in words.',
    parameters: [
      { name: 'schedule', in: 'query', required: true, description: 'A CronJob schedule, e.g. "30 2 * * 1-5" or "@daily"', schema: zString(1) },
      { name: 'timeZone', in: 'query', description: 'An IANA time zone, e.g. Europe/Amsterdam (default UTC)', schema: zString(), allowEmpty: true },
      { name: 'from', in: 'query', description: 'Start from this RFC 3339 time, 1970 to 9000 (default now)', schema: zDateTime(), allowEmpty: true },
      { name: 'count', in: 'query', description: `How many times, 1 to ${MAX_PREVIEW_COUNT}`, schema: zInt(1, MAX_PREVIEW_COUNT), allowEmpty: true },
    ],
    answers: { 200: { description: 'The next times', body: { schema: 'SchedulePreview' } } },
    errors: [400, 401],
  },
  {
    name: 'listClusters',
    method: 'GET',
    route: 'clusters',
    authLevel: 'function',
    tag: 'Discovery',
    summary: 'List clusters',
    description: 'The cluster aliases and the namespaces each allows, as far as the caller\'s CALLER_POLICIES entry lets it name them.',
    parameters: [],
    answers: { 200: { description: 'The clusters', body: { schema: 'ClusterList' } } },
    errors: [400, 401],
  },
  {
    name: 'listAuditRecords',
    method: 'GET',
    route: 'audit',
    authLevel: 'function',
    tag: 'Audit',
    summary: 'List audit records',
    description:
      "A day's audit records (who changed what, where, and how it ended), in the order they were written, a page at a time. For admins only: an Entra caller with the AksJobRunner.Admin app role.",
    parameters: [
      { name: 'date', in: 'query', description: 'The UTC day, YYYY-MM-DD (default today)', schema: zString().regex(/^\d{4}-\d{2}-\d{2}$/), allowEmpty: true },
      limit(MAX_AUDIT_PAGE, 'Records'),
      continueToken,
    ],
    answers: { 200: { description: 'A page of audit records', body: { schema: 'AuditPage' } } },
    errors: [400, 401, 403, 502, 503],
  },
  {
    name: 'serveConsole',
    method: 'GET',
    route: 'console/{*path}',
    authLevel: 'anonymous',
    tag: 'Console',
    summary: 'Web console',
    description: "The web console's static files (HTML, scripts, styles). `/api/console` itself redirects to `/api/console/`.",
    parameters: [{ name: 'path', in: 'path', required: true, description: 'A file of the console', schema: zString() }],
    answers: {
      200: { description: 'The file', body: { contentType: '*/*', jsonSchema: { type: 'string', description: 'HTML, a script, a style sheet, an image or a font' } } },
      308: { description: 'Redirect to the path with a trailing slash', headers: ['Location'] },
    },
    errors: [404],
    connector: false,
  },
  {
    name: 'getOpenApiDocument',
    method: 'GET',
    route: 'openapi.json',
    authLevel: 'anonymous',
    tag: 'API documents',
    summary: 'OpenAPI 3.1 document',
    description: 'This API as an OpenAPI 3.1 document, its server the URL it was asked on.',
    parameters: [],
    answers: { 200: { description: 'The document', body: { contentType: 'application/json', jsonSchema: { type: 'object' } } } },
    errors: [],
    connector: false,
  },
  {
    name: 'getSwaggerDocument',
    method: 'GET',
    route: 'swagger.json',
    authLevel: 'anonymous',
    tag: 'API documents',
    summary: 'Swagger 2.0 document',
    description: 'This API as a Swagger 2.0 document, for Logic Apps and Power Automate custom connectors.',
    parameters: [],
    answers: { 200: { description: 'The document', body: { contentType: 'application/json', jsonSchema: { type: 'object' } } } },
    errors: [],
    connector: false,
  },
];
