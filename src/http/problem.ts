import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { AppError, BadRequestError, ensureError, isForbidden, KubeApiError } from '../core/errors.js';

const PROBLEM_TYPE_BASE = 'https://github.com/aks-job-runner/aks-job-runner/blob/main/docs/errors.md#';

/** An RFC 9457 problem+json answer. */
export function problem(status: number, reason: string, detail: string, extra: Record<string, unknown> = {}): HttpResponseInit {
  return {
    status,
    headers: { 'Content-Type': 'application/problem+json' },
    jsonBody: { type: `${PROBLEM_TYPE_BASE}${reason.toLowerCase()}`, title: reason, status, detail, ...extra },
  };
}

/**
 * Turns anything a handler throws into an answer. The caller's mistakes are 4xx with our message; a cluster
 * refusing the app's own identity is an operator's problem, said as such; an unreachable cluster is 503 so
 * callers retry; anything else is a 500 whose details stay in the log.
 */
export function errorResponse(err: unknown, context: InvocationContext): HttpResponseInit {
  if (err instanceof KubeApiError) {
    if (isForbidden(err)) {
      return problem(
        403,
        'ClusterForbidden',
        `the cluster refused the app's identity: ${err.message}. An operator grants the Role in infra/kubernetes/rbac.yaml (Kubernetes RBAC) or the "Azure Kubernetes Service RBAC Writer" role (Azure RBAC) for this namespace`,
      );
    }
    if (err.transient) {
      context.warn(`cluster call failed transiently: ${err.message}`);
      return { ...problem(503, 'ClusterUnavailable', `the cluster did not answer properly, try again: ${err.message}`), headers: { 'Content-Type': 'application/problem+json', 'Retry-After': '10' } };
    }
    return problem(err.code >= 400 && err.code < 500 ? err.code : 502, err.kubeReason ?? 'ClusterError', err.message);
  }
  if (err instanceof AppError && err.status < 500) return problem(err.status, err.reason, err.message);
  const error = ensureError(err);
  context.error(`unexpected error: ${error.stack ?? error.message}`);
  if (err instanceof AppError) return problem(err.status, err.reason, err.message);
  return problem(500, 'InternalError', `the app failed unexpectedly (invocation ${context.invocationId}); the details are in its log`);
}

/** The JSON body of a request: undefined when empty, a 400 when it is not JSON. */
export async function readJsonBody(request: HttpRequest): Promise<unknown> {
  const text = await request.text();
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new BadRequestError(`the request body is not valid JSON: ${ensureError(err).message}`);
  }
}
