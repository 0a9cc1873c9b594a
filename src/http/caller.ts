import { createHash } from 'node:crypto';

import type { HttpRequest } from '@azure/functions';
import type { V1Job } from '@kubernetes/client-node';

import type { CallerPolicy, CallerSettings } from '../config.js';
import { jobStarter, type RunEntry, starterOf } from '../core/archive.js';
import { AppError, ForbiddenError, NotFoundError } from '../core/errors.js';
import type { StartedBy } from '../core/run.js';
import { runRefSchema, runRequestSchema } from '../core/schemas.js';

/** The app role (in the token's `roles` claim) that may read and cancel every caller's runs. */
export const ADMIN_ROLE = 'AksJobRunner.Admin';
/** What CALLER_POLICIES calls function-key callers. */
export const KEY_CALLER = 'key';

/** The headers App Service Authentication sets after it validated a token, and strips from what callers send. */
const PRINCIPAL_HEADERS = ['x-ms-client-principal', 'x-ms-client-principal-id', 'x-ms-client-principal-name', 'x-ms-client-principal-idp'];

export type Caller =
  /** Authenticated by the Functions host with a function key; `keyScope` is a hash of the key, never the key. */
  | { kind: 'key'; keyScope: string }
  /** Authenticated by Easy Auth with a Microsoft Entra token. */
  | { kind: 'entra'; appId: string; objectId: string; roles: readonly string[] };

/** A request that carries principal headers the platform did not set. */
export class UntrustedPrincipalError extends AppError {
  override name = 'UntrustedPrincipalError';
  override readonly status = 400;
  override readonly reason = 'UntrustedPrincipal';
}

interface ClientPrincipal {
  claims?: { typ?: unknown; val?: unknown }[];
  role_typ?: unknown;
}

function decodePrincipal(header: string): ClientPrincipal {
  try {
    const parsed = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as unknown;
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed;
  } catch {
    // Said below, as one answer for every malformed form.
  }
  throw new UntrustedPrincipalError('the X-MS-CLIENT-PRINCIPAL header is not the base64 JSON App Service Authentication writes');
}

const OBJECT_ID_CLAIMS = ['http://schemas.microsoft.com/identity/claims/objectidentifier', 'oid'];
const ROLE_CLAIMS = ['roles', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role'];

/**
 * Who sent the request. With Easy Auth on, a request with its principal headers is an Entra caller (the platform
 * validated the token and removes such headers from what callers send); one without is a function-key caller (the
 * host checked the key). With Easy Auth off nobody vouches for those headers, so a request carrying them is refused
 * rather than believed or silently ignored.
 */
export function callerOf(request: HttpRequest, settings: CallerSettings): Caller {
  const present = PRINCIPAL_HEADERS.filter((name) => request.headers.has(name));
  if (!settings.easyAuth) {
    if (present.length > 0) {
      throw new UntrustedPrincipalError(
        `the request carries ${present.join(', ')}, which only App Service Authentication may set, and it is not on for this app (EASY_AUTH_ENABLED); send the function key alone`,
      );
    }
    return keyCaller(request);
  }
  const header = request.headers.get('x-ms-client-principal');
  if (header === null) {
    if (present.length > 0) throw new UntrustedPrincipalError(`the request carries ${present.join(', ')} without X-MS-CLIENT-PRINCIPAL`);
    return keyCaller(request);
  }
  const principal = decodePrincipal(header);
  const claims = (principal.claims ?? []).flatMap((c) => (typeof c.typ === 'string' && typeof c.val === 'string' ? [{ typ: c.typ, val: c.val }] : []));
  const claim = (types: readonly string[]) => claims.find((c) => types.includes(c.typ))?.val;
  // v1 tokens name the client application in appid, v2 tokens in azp.
  const appId = claim(['appid', 'azp']);
  const objectId = claim(OBJECT_ID_CLAIMS) ?? request.headers.get('x-ms-client-principal-id') ?? undefined;
  if (!appId || !objectId) {
    throw new UntrustedPrincipalError('the authenticated principal has no appid/azp or object id claim; call with a Microsoft Entra access token for this API (client credentials, a managed identity)');
  }
  const roleTypes = typeof principal.role_typ === 'string' ? [...ROLE_CLAIMS, principal.role_typ] : ROLE_CLAIMS;
  const roles = claims.filter((c) => roleTypes.includes(c.typ)).map((c) => c.val);
  return { kind: 'entra', appId, objectId, roles };
}

/**
 * The host does not tell the app which function key it accepted, but the key itself reaches the app (header or
 * `code`), so its hash scopes idempotency keys to the function key. Without one (local runtimes with auth off) the
 * scope is empty.
 */
function keyCaller(request: HttpRequest): Caller {
  const key = request.headers.get('x-functions-key') ?? request.query.get('code') ?? '';
  return { kind: 'key', keyScope: key === '' ? '' : createHash('sha256').update(key).digest('hex').slice(0, 32) };
}

/** What the run records about its starter: kind and ids, never the key or its hash. */
export function startedByOf(caller: Caller): StartedBy {
  return caller.kind === 'key' ? { kind: 'key' } : { kind: 'entra', appId: caller.appId, objectId: caller.objectId };
}

/** The part of a run id's hash that makes idempotency keys the caller's own; empty for a call without any key. */
export function callerScope(caller: Caller): string {
  if (caller.kind === 'key') return caller.keyScope === '' ? '' : `key:${caller.keyScope}`;
  return `entra:${caller.appId}:${caller.objectId}`;
}

export function policyOf(caller: Caller, settings: CallerSettings): CallerPolicy {
  return settings.policies[caller.kind === 'key' ? KEY_CALLER : caller.appId] ?? {};
}

function describeCaller(caller: Caller): string {
  return caller.kind === 'key' ? 'function-key callers' : `application ${caller.appId}`;
}

/** True when the caller's policy lets it use this cluster and namespace (the app's allow-lists are checked apart). */
export function mayTarget(caller: Caller, settings: CallerSettings, target: { cluster: string; namespace: string }): boolean {
  const policy = policyOf(caller, settings);
  return (!policy.clusters || policy.clusters.includes(target.cluster)) && (!policy.namespaces || policy.namespaces.includes(target.namespace));
}

/** The caller's own limits on where it may look or run, on top of the app's allow-lists. */
export function authorizeTarget(caller: Caller, settings: CallerSettings, target: { cluster: string; namespace: string }): void {
  const policy = policyOf(caller, settings);
  const who = describeCaller(caller);
  if (policy.clusters && !policy.clusters.includes(target.cluster)) {
    throw new ForbiddenError(`cluster "${target.cluster}" is not allowed for ${who}; an operator allows it in the CALLER_POLICIES app setting`);
  }
  if (policy.namespaces && !policy.namespaces.includes(target.namespace)) {
    throw new ForbiddenError(`namespace "${target.namespace}" is not allowed for ${who}; an operator allows it in the CALLER_POLICIES app setting`);
  }
}

/** The caller's own limits on a start: clusters, namespaces, fallback runs. */
export function authorizeStart(caller: Caller, settings: CallerSettings, target: { cluster: string; namespace: string; fallback: boolean }): void {
  authorizeTarget(caller, settings, target);
  const who = describeCaller(caller);
  if (target.fallback && policyOf(caller, settings).fallback === false) {
    throw new ForbiddenError(`runs from an image are not allowed for ${who}; run an existing Job, or an operator sets "fallback": true in the CALLER_POLICIES app setting`);
  }
}

/**
 * A run answers only whoever could have started it: an Entra caller sees its own runs (same object id) and an admin
 * every run; function-key callers see the runs of function-key callers. A run no caller started (`null`: the app
 * scheduler's, the cluster's, kubectl's) is anyone's who may use its namespace.
 */
export function mayAccessRun(caller: Caller, starter: StartedBy | null): boolean {
  if (starter === null) return true;
  if (caller.kind === 'entra' && caller.roles.includes(ADMIN_ROLE)) return true;
  return caller.kind === 'key' ? starter.kind === 'key' : starter.kind === 'entra' && starter.appId === caller.appId && starter.objectId === caller.objectId;
}

/**
 * The status, cancel and logs routes' check on a run the app started: anyone who may not read it gets the 404 an
 * unknown id gets, so run ids of others cannot even be confirmed. Runs recorded before the starter was (no
 * `caller`) count as function-key runs.
 */
export function assertMayAccessRun(caller: Caller, runId: string, startedBy: StartedBy | undefined): void {
  if (!mayAccessRun(caller, startedBy ?? { kind: 'key' })) throw new NotFoundError(`no run with id "${runId}"; run ids are returned by the start routes`);
}

/** Which of a CronJob's Jobs the caller may see (and replace): see mayAccessRun and core/archive's jobStarter. */
export function jobVisibleTo(caller: Caller): (job: V1Job) => boolean {
  return (job) => mayAccessRun(caller, jobStarter(job));
}

/** Which listed runs (live or archived) the caller may see. */
export function entryVisibleTo(caller: Caller): (entry: Pick<RunEntry, 'trigger' | 'caller'>) => boolean {
  return (entry) => mayAccessRun(caller, starterOf(entry.trigger, entry.caller));
}

/**
 * The status and cancel routes' check, after the run was found: the request's caller against the starter the
 * run's input records, and the caller's policy against where the run lives (both a 404 for anyone else: the
 * answer must not tell a confined caller that a run exists outside its namespaces).
 */
export function authorizeRunAccess(request: HttpRequest, settings: CallerSettings, runId: string, input: unknown): void {
  const recorded = runRequestSchema.shape.caller.safeParse((input as { request?: { caller?: unknown } } | undefined)?.request?.caller);
  const caller = callerOf(request, settings);
  assertMayAccessRun(caller, runId, recorded.success ? recorded.data : undefined);
  const where = runRefSchema.pick({ cluster: true, namespace: true }).safeParse((input as { request?: unknown } | undefined)?.request);
  if (where.success && !mayTarget(caller, settings, where.data)) {
    throw new NotFoundError(`no run with id "${runId}"; run ids are returned by the start routes`);
  }
}
