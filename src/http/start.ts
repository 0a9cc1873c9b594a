import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { type FallbackSpec, parseEnvOverrides } from '../core/clone.js';
import { parseConcurrencyPolicy } from '../core/concurrency.js';
import { BadRequestError, ConflictError } from '../core/errors.js';
import { parseImageReference } from '../core/image-reference.js';
import { assertNamespace, assertObjectName, runIdFor, type SourceKind } from '../core/naming.js';
import { requestHash, type RunRequest } from '../core/run.js';
import type { JobRunInput } from '../core/schemas.js';
import { ORCHESTRATORS } from '../functions/names.js';
import { assertRunCapacity } from '../runs/capacity.js';
import { honourConcurrencyPolicy } from '../runs/concurrency.js';
import { buildRunJob } from '../runs/submit.js';
import { services } from '../services.js';
import { authorizeStart, callerOf, callerScope, startedByOf } from './caller.js';
import { errorResponse, readJsonBody } from './problem.js';
import { acceptedResponse, cancelEventSender, findRun, type RunClient } from './runs.js';

/** Route parameters a Polysync call also puts in the body: there they are the route's, not env overrides. */
const ROUTE_PARAMS = ['namespace', 'name'] as const;

function stringList(request: HttpRequest, name: string): string[] | undefined {
  const values = request.query.getAll(name);
  if (values.length === 0) return undefined;
  const only = values[0];
  if (values.length === 1 && only?.trim().startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(only);
    } catch {
      throw new BadRequestError(`${name} must be a JSON array of strings or repeated ${name}= parameters`);
    }
    if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) {
      throw new BadRequestError(`${name} must be a JSON array of strings, e.g. ["sh","-c","echo hello"]`);
    }
    return parsed;
  }
  return values;
}

/** The run's timeout: the caller's, up to MAX_RUN_TIMEOUT_SECONDS, else DEFAULT_RUN_TIMEOUT_SECONDS. */
function timeoutOf(request: HttpRequest, fallback: number, max: number): number | undefined {
  const raw = request.query.get('timeoutSeconds');
  if (raw === null || raw.trim() === '') return fallback > 0 ? fallback : undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new BadRequestError(`timeoutSeconds must be a whole number of seconds from 1 to ${max} (MAX_RUN_TIMEOUT_SECONDS), got "${raw}"`);
  }
  return value;
}

function idempotencyKeyOf(request: HttpRequest): string | undefined {
  const header = request.headers.get('Idempotency-Key') ?? undefined;
  const query = request.query.get('runId') ?? undefined;
  if (header !== undefined && query !== undefined && header !== query) {
    throw new BadRequestError('the Idempotency-Key header and the runId query parameter differ; send one of them');
  }
  return header ?? query;
}

/** The body's env overrides, after taking out the route parameters Polysync repeats in it. */
function overridesOf(body: unknown, route: Record<(typeof ROUTE_PARAMS)[number], string>): Record<string, string> {
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
    const entries = Object.entries(body as Record<string, unknown>).filter(([key, value]) => {
      if (!(ROUTE_PARAMS as readonly string[]).includes(key)) return true;
      const routeValue = route[key as (typeof ROUTE_PARAMS)[number]];
      if (value !== routeValue) {
        throw new BadRequestError(
          `the body's "${key}" (${JSON.stringify(value)}) differs from the route's "${routeValue}"; a body property named like a route parameter must match it`,
        );
      }
      return false;
    });
    return parseEnvOverrides(Object.fromEntries(entries));
  }
  return parseEnvOverrides(body);
}

/**
 * Start a run of a Job or of a CronJob's template. Everything that can be wrong with the request is found
 * here, before anything is started: names, allow-lists, body, the source's existence.
 */
export async function startRun(kind: SourceKind, request: HttpRequest, client: RunClient, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const { config, clusters, newSuffix } = services();
    const caller = callerOf(request, config.callers);
    const namespace = request.params.namespace ?? '';
    const name = request.params.name ?? '';
    assertNamespace(namespace);
    assertObjectName(kind, name);
    const cluster = request.query.get('cluster') ?? clusters.defaultAlias;
    clusters.authorize(cluster, namespace);

    const image = request.query.get('image') ?? undefined;
    const command = stringList(request, 'command');
    const args = stringList(request, 'args');
    if (kind === 'CronJob' && (image !== undefined || command || args)) {
      throw new BadRequestError('image, command and args apply only to Job runs; a CronJob run always uses its jobTemplate');
    }
    if (image === undefined && (command || args)) {
      throw new BadRequestError('command and args are only used with image, to run when the source Job does not exist');
    }
    const fallback: FallbackSpec | undefined = image !== undefined ? { image, command, args } : undefined;
    if (fallback) parseImageReference(fallback.image);
    authorizeStart(caller, config.callers, { cluster, namespace, fallback: fallback !== undefined });
    const timeoutSeconds = timeoutOf(request, config.defaultRunTimeoutSeconds, config.maxRunTimeoutSeconds);
    const idempotencyKey = idempotencyKeyOf(request);
    const concurrencyPolicy = parseConcurrencyPolicy(request.query.get('concurrencyPolicy'));
    if (kind === 'Job' && concurrencyPolicy) throw new BadRequestError('concurrencyPolicy applies only to CronJob runs');
    const overrides = overridesOf(await readJsonBody(request), { namespace, name });

    const runId = runIdFor({ cluster, namespace, sourceKind: kind, sourceName: name, idempotencyKey, callerScope: callerScope(caller) }, newSuffix);
    const source = { kind, name };
    const runRequest: RunRequest = {
      runId,
      cluster,
      namespace,
      source,
      overrides,
      fallback,
      requestHash: requestHash({ cluster, namespace, source, overrides, fallback }),
      timeoutSeconds,
      startedBy: context.invocationId,
      trigger: { kind: 'http' },
      caller: startedByOf(caller),
    };
    const monitorUrl = clusters.monitorUrl(cluster);

    const existing = await findRun(client, runId);
    if (existing) return replay(existing, runRequest, request, monitorUrl, config.statusRetryAfterSeconds);

    // Building the Job reads the source: a missing one is a 404 now, not a failed run later.
    await assertRunCapacity(clusters.gateway(cluster), clusters.settings(cluster), namespace, config.maxActiveRunsPerCluster);
    const built = await buildRunJob(clusters.gateway(cluster), runRequest, config.runPolicy);
    runRequest.source = built.source;
    if (kind === 'CronJob') {
      await honourConcurrencyPolicy(cancelEventSender(client), clusters.gateway(cluster), { namespace, name }, concurrencyPolicy, runId, (line) => {
        context.log(line);
      });
    }

    const input: JobRunInput = { request: runRequest, poll: { ...config.poll }, retry: { ...config.activityRetry } };
    try {
      await client.startNew(ORCHESTRATORS.jobRun, { instanceId: runId, input });
    } catch (err) {
      // Two requests with the same key raced: the other one started the run, which is this run.
      const raced = await findRun(client, runId);
      if (!raced) throw err;
      return replay(raced, runRequest, request, monitorUrl, config.statusRetryAfterSeconds);
    }
    context.log(`run ${runId}: started from ${kind} ${namespace}/${name} on ${cluster}`);
    return acceptedResponse(request, runId, monitorUrl, config.statusRetryAfterSeconds);
  } catch (err) {
    return errorResponse(err, context);
  }
}

function replay(
  existing: Awaited<ReturnType<typeof findRun>> & object,
  runRequest: RunRequest,
  request: HttpRequest,
  monitorUrl: string | null,
  retryAfterSeconds: number,
): HttpResponseInit {
  const previous = (existing.input as Partial<JobRunInput> | undefined)?.request?.requestHash;
  if (previous !== undefined && previous !== runRequest.requestHash) {
    throw new ConflictError(
      `the idempotency key of run "${runRequest.runId}" was already used for a different request (other parameters); use a new key for a new request`,
    );
  }
  return acceptedResponse(request, runRequest.runId, monitorUrl, retryAfterSeconds);
}
