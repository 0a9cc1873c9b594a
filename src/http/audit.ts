import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { emitEvent } from '../clients/otel-events.js';
import {
  auditBlobName,
  type AuditCaller,
  auditCaller,
  type AuditCursor,
  auditDay,
  auditLine,
  type AuditRecord,
  decodeAuditCursor,
  describeAuditCaller,
  describeAuditTarget,
  encodeAuditCursor,
  MAX_AUDIT_PAGE,
  outcomeOf,
  parseAuditLines,
} from '../core/audit.js';
import { ADMIN_ROLE } from '../core/callers.js';
import { BadRequestError, ensureError, ForbiddenError, ServiceUnavailableError } from '../core/errors.js';
import { ATTRIBUTES, EVENTS, OPERATIONS_ATTRIBUTES } from '../core/telemetry-names.js';
import { services } from '../services.js';
import { callerOf } from './caller.js';
import { errorResponse } from './problem.js';

/**
 * The audit trail, in one place: every route that changes something is registered through `audited`, which writes
 * one record per request, whatever the handler answered (docs/operations.md, "Audit trail"). The record goes to the
 * telemetry (the ajr.audit log event) and to the day's append blob in the audit container. Writing it never
 * changes the answer: the change has been made (or refused) by then, and a failure to record it is logged.
 */

/** Audit attribute keys, beside the shared ATTRIBUTES. */
const AUDIT_ATTRIBUTES = Object.freeze({
  action: OPERATIONS_ATTRIBUTES.auditAction,
  detail: OPERATIONS_ATTRIBUTES.auditDetail,
  caller: OPERATIONS_ATTRIBUTES.auditCaller,
  target: OPERATIONS_ATTRIBUTES.auditTarget,
});

/** What a handler may add to its request's record: a word on what the change was (never a value from the body). */
const notes = new WeakMap<HttpRequest, string>();

/** Say more about this request's change than its route does (a PATCH that hands a CronJob over: `handOver`). */
export function noteAudit(request: HttpRequest, detail: string): void {
  notes.set(request, detail);
}

function whoCalled(request: HttpRequest): AuditCaller {
  try {
    return auditCaller(callerOf(request, services().config.callers));
  } catch {
    // Principal headers nobody vouches for: the handler refused the request for that; who sent it is unknown.
    return { kind: 'unknown' };
  }
}

interface AnswerBody {
  runId?: unknown;
  cronJob?: { metadata?: { name?: unknown } };
  changed?: unknown;
}

function targetOf(request: HttpRequest, response: HttpResponseInit): AuditRecord['target'] {
  const params = request.params;
  const body = response.jsonBody as AnswerBody | undefined;
  const runId = params.runId ?? (typeof body?.runId === 'string' ? body.runId : undefined);
  // A created CronJob is named by the body: its answer says the name.
  const name = params.name ?? (typeof body?.cronJob?.metadata?.name === 'string' ? body.cronJob.metadata.name : undefined);
  const cluster = request.query.get('cluster') ?? undefined;
  return {
    ...(cluster ? { cluster } : {}),
    ...(params.namespace ? { namespace: params.namespace } : {}),
    ...(name ? { name } : {}),
    ...(runId ? { runId } : {}),
  };
}

/** The handler's note, a dry run, and the field names a PATCH changed (names only, never values). */
function detailOf(request: HttpRequest, response: HttpResponseInit): string | undefined {
  const changed = (response.jsonBody as AnswerBody | undefined)?.changed;
  const parts = [
    notes.get(request),
    request.query.get('dryRun') === 'true' ? 'dryRun' : undefined,
    Array.isArray(changed) && changed.length > 0 ? `changed ${changed.filter((c) => typeof c === 'string').join(',')}` : undefined,
  ].filter((part) => part !== undefined);
  return parts.length > 0 ? parts.join('; ') : undefined;
}

function reasonOf(response: HttpResponseInit): string | undefined {
  const body = response.jsonBody as { title?: unknown } | undefined;
  return (response.status ?? 200) >= 400 && typeof body?.title === 'string' ? body.title : undefined;
}

/** Write one record to the telemetry and to the day's blob. Never throws. */
export async function writeAudit(record: AuditRecord, context: InvocationContext): Promise<void> {
  const who = describeAuditCaller(record.caller);
  const target = describeAuditTarget(record.target);
  emitEvent(
    EVENTS.audit,
    `${record.action} by ${who} on ${target}: ${record.outcome} (${String(record.status)})`,
    {
      [AUDIT_ATTRIBUTES.action]: record.action,
      [AUDIT_ATTRIBUTES.caller]: who,
      [AUDIT_ATTRIBUTES.target]: target,
      [ATTRIBUTES.outcome]: record.outcome,
      [ATTRIBUTES.statusCode]: record.status,
      ...(record.detail ? { [AUDIT_ATTRIBUTES.detail]: record.detail } : {}),
      ...(record.reason ? { [ATTRIBUTES.reason]: record.reason } : {}),
      ...(record.target.cluster ? { [ATTRIBUTES.cluster]: record.target.cluster } : {}),
      ...(record.target.namespace ? { [ATTRIBUTES.namespace]: record.target.namespace } : {}),
      ...(record.target.runId ? { [ATTRIBUTES.runId]: record.target.runId } : {}),
    },
    'info',
    // In the request's trace (the host's span of the invocation).
    context,
  );
  const store = services().audit;
  if (!store) return;
  try {
    await store.append(auditBlobName(new Date(record.time)), auditLine(record), 'application/x-ndjson');
  } catch (err) {
    context.error(`audit: could not append the record of ${record.action} (${record.invocationId}) to ${store.path(auditBlobName(new Date(record.time)))}: ${ensureError(err).message}`);
  }
}

type RouteHandler<A extends unknown[]> = (request: HttpRequest, ...rest: A) => Promise<HttpResponseInit>;

/**
 * The handler of a route that changes something, audited: `action` is the route's name (its operationId). The
 * wrapper keeps the handler's arity, which tells the local runtime and the tests whether it takes a Durable client.
 */
export function audited<A extends [...unknown[], InvocationContext]>(action: string, handler: RouteHandler<A>): RouteHandler<A> {
  const wrapped: RouteHandler<A> = async (request, ...rest) => {
    const context = rest[rest.length - 1] as InvocationContext;
    let response: HttpResponseInit;
    try {
      response = await handler(request, ...rest);
    } catch (err) {
      // The handlers answer every error themselves; one that escapes is the host's 500, and is recorded as such.
      response = { status: 500, jsonBody: { title: ensureError(err).name } };
      await record(response);
      throw err;
    }
    await record(response);
    return response;

    async function record(answer: HttpResponseInit): Promise<void> {
      const status = answer.status ?? 200;
      const detail = detailOf(request, answer);
      const reason = reasonOf(answer);
      await writeAudit(
        {
          time: services().now().toISOString(),
          action,
          ...(detail ? { detail } : {}),
          caller: whoCalled(request),
          target: targetOf(request, answer),
          outcome: outcomeOf(status),
          status,
          ...(reason ? { reason } : {}),
          invocationId: context.invocationId,
        },
        context,
      );
    }
  };
  Object.defineProperty(wrapped, 'length', { value: handler.length });
  Object.defineProperty(wrapped, 'name', { value: action });
  return wrapped;
}

const DEFAULT_AUDIT_PAGE = 100;

function auditPageSize(request: HttpRequest): number {
  const raw = request.query.get('limit');
  if (raw === null || raw.trim() === '') return DEFAULT_AUDIT_PAGE;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > MAX_AUDIT_PAGE) throw new BadRequestError(`limit must be a whole number from 1 to ${String(MAX_AUDIT_PAGE)}, got "${raw}"`);
  return value;
}

/** Which day and where in it: `continue` (as a page gave it) wins; else `date`, else today (UTC). */
function auditCursorOf(request: HttpRequest, today: Date): AuditCursor {
  const token = request.query.get('continue');
  const date = request.query.get('date');
  if (token !== null && token !== '') {
    const cursor = decodeAuditCursor(token);
    if (!cursor) throw new BadRequestError('continue is not a token this route gave; pass the "continue" of the previous page as it was');
    if (date !== null && date !== '' && date !== cursor.day) throw new BadRequestError(`continue belongs to ${cursor.day}, not to date ${date}; send one of them`);
    return cursor;
  }
  if (date === null || date === '') return { day: auditDay(today), index: 0 };
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(new Date(`${date}T00:00:00Z`).getTime()) || new Date(`${date}T00:00:00Z`).toISOString().slice(0, 10) !== date) {
    throw new BadRequestError(`date must be a day as YYYY-MM-DD (UTC), e.g. ${auditDay(today)}, got "${date}"`);
  }
  return { day: date, index: 0 };
}

/**
 * GET /api/audit?date=&limit=&continue=: a day's audit records, in the order they were written, a page at a time;
 * for admins only (an Entra caller with the AksJobRunner.Admin app role): the trail names every caller's changes.
 */
export async function auditPage(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const { config, now, audit } = services();
    const caller = callerOf(request, config.callers);
    if (caller.kind !== 'entra' || !caller.roles.includes(ADMIN_ROLE)) {
      throw new ForbiddenError(
        `the audit trail is for admins: call with a Microsoft Entra token whose roles hold ${ADMIN_ROLE} (EASY_AUTH_ENABLED); function-key callers cannot read it. The records are also in the telemetry (event ${EVENTS.audit}) and in the storage account's ${config.auditContainer} container`,
      );
    }
    const limit = auditPageSize(request);
    const cursor = auditCursorOf(request, now());
    if (!audit) {
      throw new ServiceUnavailableError('no audit store is configured (LOGS_ACCOUNT_URL or LOGS_CONNECTION_STRING): the audit trail is only in the telemetry');
    }
    const text = await audit.get(auditBlobName(new Date(`${cursor.day}T00:00:00Z`)));
    const records = text ? parseAuditLines(text.toString('utf8')) : [];
    const items = records.slice(cursor.index, cursor.index + limit);
    const next = cursor.index + items.length;
    return {
      status: 200,
      jsonBody: { date: cursor.day, items, continue: next < records.length ? encodeAuditCursor({ day: cursor.day, index: next }) : null },
    };
  } catch (err) {
    return errorResponse(err, context);
  }
}
