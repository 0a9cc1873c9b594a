import { createHash } from 'node:crypto';

import type { HttpRequest } from '@azure/functions';

import type { CallerSettings } from '../config.js';
import { type Caller, mayAccessRun, mayTarget } from '../core/callers.js';
import { AppError, NotFoundError } from '../core/errors.js';
import type { StartedBy } from '../core/run.js';
import { runRefSchema, runRequestSchema } from '../core/schemas.js';

// The caller's policy is plain data the run use cases check too (src/runs/start.ts); the routes keep importing it here.
export {
  ADMIN_ROLE,
  authorizeStart,
  authorizeTarget,
  type Caller,
  callerScope,
  entryVisibleTo,
  jobVisibleTo,
  KEY_CALLER,
  mayAccessRun,
  mayTarget,
  policyOf,
  startedByOf,
} from '../core/callers.js';

/** The headers App Service Authentication sets after it validated a token, and strips from what callers send. */
const PRINCIPAL_HEADERS = ['x-ms-client-principal', 'x-ms-client-principal-id', 'x-ms-client-principal-name', 'x-ms-client-principal-idp'];

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

/**
 * The status, cancel and logs routes' check on a run the app started (see mayAccessRun): anyone who may not read
 * it gets the 404 an unknown id gets, so run ids of others cannot even be confirmed. Runs recorded before the
 * starter was (no `caller`) count as function-key runs.
 */
export function assertMayAccessRun(caller: Caller, runId: string, startedBy: StartedBy | undefined): void {
  if (!mayAccessRun(caller, startedBy ?? { kind: 'key' })) throw new NotFoundError(`no run with id "${runId}"; run ids are returned by the start routes`);
}

/**
 * The status and cancel routes' check, after the run was found: the request's caller against the starter the
 * run's input records, and the caller's policy against where the run lives (both a 404 for anyone else: the
 * answer must not tell a confined caller that a run exists outside its namespaces).
 */
export function authorizeRunAccess(request: HttpRequest, settings: CallerSettings, runId: string, input: unknown): void {
  const recorded = runRequestSchema().shape.caller.safeParse((input as { request?: { caller?: unknown } } | undefined)?.request?.caller);
  const caller = callerOf(request, settings);
  assertMayAccessRun(caller, runId, recorded.success ? recorded.data : undefined);
  const where = runRefSchema().pick({ cluster: true, namespace: true }).safeParse((input as { request?: unknown } | undefined)?.request);
  if (where.success && !mayTarget(caller, settings, where.data)) {
    throw new NotFoundError(`no run with id "${runId}"; run ids are returned by the start routes`);
  }
}
