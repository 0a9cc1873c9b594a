import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { AppError, BadRequestError, ensureError, isForbidden, KubeApiError, PayloadTooLargeError } from '../core/errors.js';

/** Kubernetes answers that are about the request itself: invalid, not found, conflicting, gone. */
const REQUEST_CODES = new Set([400, 404, 409, 410, 422]);
const RETRY_AFTER_SECONDS = 10;

/**
 * Problem types are the project's own error reference, relative to the project root (where the README is):
 * one heading per reason, whose anchor is the reason in lower case. A relative reference, because the app
 * knows no public home of its docs; see docs/decisions.md.
 */
export const PROBLEM_TYPE_BASE = 'docs/errors.md#';

/** How long a caller waits after a 429 (the cap on active runs): runs end in minutes, not seconds. */
const LIMIT_RETRY_AFTER_SECONDS = 60;

function retryAfter(status: number): Record<string, string> {
  if (status === 503) return { 'Retry-After': String(RETRY_AFTER_SECONDS) };
  if (status === 429) return { 'Retry-After': String(LIMIT_RETRY_AFTER_SECONDS) };
  return {};
}

/** An RFC 9457 problem+json answer. A 503 and a 429 always say when to try again. */
export function problem(status: number, reason: string, detail: string, extra: Record<string, unknown> = {}): HttpResponseInit {
  return {
    status,
    headers: { 'Content-Type': 'application/problem+json', ...retryAfter(status) },
    jsonBody: { type: `${PROBLEM_TYPE_BASE}${reason.toLowerCase()}`, title: reason, status, detail, ...extra },
  };
}

const GUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;

/**
 * An answer about the app's own identity keeps out its principal id and its Azure scopes (the Kubernetes user
 * name in a 403, the object id and scope in an ARM refusal): a function key holder has no use for them and could
 * map the deployment with them. The full text goes to the log.
 */
export function redactIdentity(text: string): string {
  return text
    .replace(/User "[^"]*"/g, 'User "<the app\'s identity>"')
    .replace(/\/subscriptions\/[^\s'"]+/gi, '<scope>')
    .replace(GUID, '<id>');
}

/**
 * Turns anything a handler throws into an answer. The caller's mistakes are 4xx with our message; a cluster
 * refusing the app's own identity is an operator's problem, said as such; an unreachable cluster is 503 so
 * callers retry; anything else is a 500 whose details stay in the log.
 */
export function errorResponse(err: unknown, context: InvocationContext): HttpResponseInit {
  if (err instanceof AppError && err.logDetail !== undefined) context.warn(`${err.message} (${err.logDetail})`);
  if (err instanceof KubeApiError) {
    if (isForbidden(err)) {
      context.warn(`cluster refused the app's identity: ${err.message}`);
      return problem(
        403,
        'ClusterForbidden',
        `the cluster refused the app's identity: ${redactIdentity(err.message)}. An operator grants the Role in infra/kubernetes/rbac.yaml (Kubernetes RBAC) or the custom role of infra/app/rbac-aks.bicep (Azure RBAC) for this namespace`,
      );
    }
    if (err.transient) {
      context.warn(`cluster call failed transiently: ${err.message}`);
      return problem(503, 'ClusterUnavailable', `the cluster did not answer properly, try again: ${redactIdentity(err.message)}`);
    }
    if (err.code === 401) {
      // Not the caller's key: the cluster refused the app's own credentials even after a fresh one.
      context.error(`cluster refused the app's credentials: ${err.message}`);
      return problem(
        502,
        'ClusterCredentials',
        `the cluster refused the app's credentials: ${redactIdentity(err.message)}. An operator checks the app's managed identity and its "Azure Kubernetes Service Cluster User Role" on the cluster`,
      );
    }
    // Answers about what was asked (an invalid Job, a name taken, a resource gone) go back as they are.
    if (REQUEST_CODES.has(err.code)) return problem(err.code, err.kubeReason ?? 'ClusterError', err.message);
    context.error(`cluster answered unexpectedly: ${err.message}`);
    return problem(502, err.kubeReason ?? 'ClusterError', redactIdentity(err.message));
  }
  if (err instanceof AppError && err.status < 500) return problem(err.status, err.reason, err.message);
  const error = ensureError(err);
  context.error(`unexpected error: ${error.stack ?? error.message}`);
  if (err instanceof AppError) return problem(err.status, err.reason, redactIdentity(err.message));
  return problem(500, 'InternalError', `the app failed unexpectedly (invocation ${context.invocationId}); the details are in its log`);
}

/**
 * The largest request body the app takes: 256 KiB. A run's body becomes env vars in one Job, which with the
 * source's own spec must fit one etcd request (1.5 MiB by default), and in the orchestration's input. The
 * Functions host's own limit (100 MB) is far above it, so the app says no itself, before anything starts.
 */
export const MAX_BODY_BYTES = 256 * 1024;

/** The JSON body of a request: undefined when empty, a 413 when too large, a 400 when it is not JSON. */
export async function readJsonBody(request: HttpRequest): Promise<unknown> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  const tooLarge = (size: number) =>
    new PayloadTooLargeError(`the request body is ${size} bytes; the app takes at most ${MAX_BODY_BYTES} bytes (256 KiB)`);
  if (declared > MAX_BODY_BYTES) throw tooLarge(declared);
  // Read as it comes and stopped past the limit: with HTTP streaming (src/setup.ts) the body is the client's own
  // stream, chunked and of any length, which the worker does not buffer first.
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = (request.body as ReadableStream<Uint8Array> | null)?.getReader();
  for (let next = await reader?.read(); reader && next && !next.done; next = await reader.read()) {
    size += next.value.length;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel();
      throw new PayloadTooLargeError(`the request body is over ${MAX_BODY_BYTES} bytes; the app takes at most ${MAX_BODY_BYTES} bytes (256 KiB)`);
    }
    chunks.push(next.value);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new BadRequestError(`the request body is not valid JSON: ${ensureError(err).message}`);
  }
}
