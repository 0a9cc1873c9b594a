import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { type FallbackSpec, parseEnvOverrides } from '../core/clone.js';
import { parseConcurrencyPolicy } from '../core/concurrency.js';
import { parseBody } from '../core/cronjob-bodies.js';
import { BadRequestError, ensureError } from '../core/errors.js';
import type { SourceKind } from '../core/naming.js';
import { parseRetryRequest } from '../core/retry.js';
import { type SubscriptionRequest,subscriptionRequestSchema } from '../core/subscriptions.js';
import { subscribeDepsOf } from '../runs/push.js';
import { startRun as startRunUseCase } from '../runs/start.js';
import { validateSubscription } from '../runs/subscriptions.js';
import { services } from '../services.js';
import { callerOf } from './caller.js';
import { errorResponse, readJsonBody } from './problem.js';
import { acceptedResponse, type RunClient, runInstancesOf } from './runs.js';
import { requireSubscriptions, subscribeToRun, subscriptionLocation } from './subscriptions.js';

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

/**
 * The body's subscription (issue 23): a property named SUBSCRIPTION_FIELD whose value is a JSON object. An env
 * override is never an object (that is a 400), so no body that worked before means anything else now; under that
 * name a string, number or boolean is still an env override.
 */
export const SUBSCRIPTION_FIELD = 'subscription';

function subscriptionOf(body: unknown): SubscriptionRequest | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const value = (body as Record<string, unknown>)[SUBSCRIPTION_FIELD];
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  try {
    return parseBody(subscriptionRequestSchema(), value);
  } catch (err) {
    throw new BadRequestError(`the body's "${SUBSCRIPTION_FIELD}" is {"url": "<https callback URL>", "events"?: ["finished"], "format"?: "snapshot" | "cloudevents"}: ${ensureError(err).message}`);
  }
}

/** The body's env overrides, after taking out the route parameters Polysync repeats in it and the subscription. */
function overridesOf(body: unknown, route: Record<(typeof ROUTE_PARAMS)[number], string>): Record<string, string> {
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
    const entries = Object.entries(body as Record<string, unknown>).filter(([key, value]) => {
      if (key === SUBSCRIPTION_FIELD && value !== null && typeof value === 'object' && !Array.isArray(value)) return false;
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
 * POST a run of a Job or of a CronJob's template: parse the route, query and body, let the start use case
 * (src/runs/start.ts) decide, and answer 202 with where to follow the run.
 */
export async function startRun(kind: SourceKind, request: HttpRequest, client: RunClient, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const { config, clusters, newSuffix } = services();
    const caller = callerOf(request, config.callers);
    const namespace = request.params.namespace ?? '';
    const name = request.params.name ?? '';
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
    const timeoutSeconds = timeoutOf(request, config.defaultRunTimeoutSeconds, config.maxRunTimeoutSeconds);
    const idempotencyKey = idempotencyKeyOf(request);
    const concurrencyPolicy = parseConcurrencyPolicy(request.query.get('concurrencyPolicy'));
    const retryOnDisruption = parseRetryRequest(request.query.get('retryOnDisruption'));
    const body = await readJsonBody(request);
    const overrides = overridesOf(body, { namespace, name });
    const subscription = subscriptionOf(body);
    // A URL the app will not call is refused before anything starts.
    if (subscription) validateSubscription(subscription, subscribeDepsOf(config, requireSubscriptions(), services().now(), null));

    const log = (line: string) => {
      context.log(line);
    };
    const started = await startRunUseCase(
      {
        kind,
        cluster: request.query.get('cluster') ?? undefined,
        namespace,
        name,
        caller,
        overrides,
        fallback,
        timeoutSeconds,
        idempotencyKey,
        concurrencyPolicy,
        retryOnDisruption,
        startedBy: context.invocationId,
        trigger: { kind: 'http' },
      },
      { config, clusters, newSuffix, runs: runInstancesOf(client), log, invocation: context },
    );
    const accepted = acceptedResponse(request, started.runId, clusters.monitorUrl(started.cluster), config.statusRetryAfterSeconds);
    if (!subscription) return accepted;
    // Written after the start (the run must exist to be subscribed to); the race with its verdict is closed as the
    // subscriptions route closes it. A failure here answers the error: the same request again (with its
    // idempotency key) meets the same run and subscribes it.
    const { sub } = await subscribeToRun(request, client, started.runId, subscription, context);
    return subscribedResponse(accepted, subscriptionLocation(request, started.runId, sub.id));
  } catch (err) {
    return errorResponse(err, context);
  }
}

/**
 * The answer to a start that subscribed: 201 Created, not 202. A 202 with Location is the asynchronous pattern's
 * "poll Location" (the HTTP action follows it), and a start that subscribed is a Logic Apps HTTP Webhook action's
 * Subscribe call, whose caller waits for the callback instead. Microsoft Learn documents no status for the Subscribe
 * answer and its sample answers 200 (docs/push.md); a 201 is a plain success in every reading, so the engine waits
 * for the callback whether or not it would have followed a 202. Location still names the run's status, for a
 * caller that wants to look; no Retry-After, as nobody is asked to poll.
 */
export function subscribedResponse(accepted: HttpResponseInit, subscriptionUrl: string): HttpResponseInit {
  const headers = Object.fromEntries(Object.entries(accepted.headers as Record<string, string>).filter(([name]) => name !== 'Retry-After'));
  return { status: 201, headers, jsonBody: { ...(accepted.jsonBody as Record<string, unknown>), subscriptionUrl } };
}
