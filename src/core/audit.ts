import * as z from 'zod';

import type { Caller } from './callers.js';
import { lazySchema } from './lazy-schema.js';

/**
 * The audit trail's record: one per request to a route that changes something (docs/operations.md, "Audit
 * trail"). Who is named by ids only: a function-key caller by a short hash of its key, an Entra caller by its
 * application and object id; never a key, a token or a request body.
 */

/** Hex digits of the key's SHA-256 that name a key caller: enough to tell a team's keys apart, no way back to the key. */
export const KEY_HASH_LENGTH = 12;

/** Records per page of the audit route, at most. */
export const MAX_AUDIT_PAGE = 500;

// Built on the first audit page read or API document (core/lazy-schema.ts): writing a record needs only its type.
export const auditCallerSchema = lazySchema(() =>
  z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('key'), keyHash: z.string() }),
    z.object({ kind: z.literal('entra'), appId: z.string(), objectId: z.string() }),
    /** The caller could not be told (principal headers nobody vouches for): the request was refused. */
    z.object({ kind: z.literal('unknown') }),
  ]),
);
export type AuditCaller = z.infer<ReturnType<typeof auditCallerSchema>>;

export const auditRecordSchema = lazySchema(() =>
  z.object({
    /** When the answer was given, RFC 3339 UTC with milliseconds. */
    time: z.string(),
    /** The route's operationId: startJobRun, updateCronJob... */
    action: z.string(),
    /** What a change said beyond its route, without values: `handOver`, `handBack`, the fields a PATCH set. */
    detail: z.string().optional(),
    caller: auditCallerSchema(),
    /** Where it acted: the route's cluster, namespace, name and run id, as far as the request names them. */
    target: z.object({
      cluster: z.string().optional(),
      namespace: z.string().optional(),
      name: z.string().optional(),
      runId: z.string().optional(),
    }),
    /** succeeded (2xx), refused (4xx: the request, the caller's rights or the cluster said no), failed (5xx). */
    outcome: z.enum(['succeeded', 'refused', 'failed']),
    status: z.int(),
    /** The problem's reason on a refusal or failure (errors.md), never its detail. */
    reason: z.string().optional(),
    /** The function invocation, to find the request's own logs. */
    invocationId: z.string(),
  }),
);
export type AuditRecord = z.infer<ReturnType<typeof auditRecordSchema>>;

/** An audit caller from the request's caller: never the key, only a short hash of it. */
export function auditCaller(caller: Caller): AuditCaller {
  if (caller.kind === 'entra') return { kind: 'entra', appId: caller.appId, objectId: caller.objectId };
  return { kind: 'key', keyHash: caller.keyScope.slice(0, KEY_HASH_LENGTH) };
}

/** How the caller shows in a line: `key:<hash>`, `entra:<app id>/<object id>`, `unknown`. */
export function describeAuditCaller(caller: AuditCaller): string {
  switch (caller.kind) {
    case 'key':
      return `key:${caller.keyHash === '' ? '(none)' : caller.keyHash}`;
    case 'entra':
      return `entra:${caller.appId}/${caller.objectId}`;
    case 'unknown':
      return 'unknown';
  }
}

/** How the target shows in a line: `<cluster>/<namespace>/<name>`, or the run id. */
export function describeAuditTarget(target: AuditRecord['target']): string {
  const place = [target.cluster ?? '(default)', target.namespace, target.name].filter((part) => part !== undefined).join('/');
  return target.runId ? (target.namespace ? `${place} run ${target.runId}` : `run ${target.runId}`) : place;
}

export function outcomeOf(status: number): AuditRecord['outcome'] {
  if (status >= 500) return 'failed';
  if (status >= 400) return 'refused';
  return 'succeeded';
}

/** The day's append blob: `YYYY/MM/DD.jsonl`, so a listing of the container is the days in order. */
export function auditBlobName(day: Date): string {
  return `${auditDay(day).replaceAll('-', '/')}.jsonl`;
}

/** The UTC day of an instant, YYYY-MM-DD. */
export function auditDay(instant: Date): string {
  return instant.toISOString().slice(0, 10);
}

/** One line of the day's blob. */
export function auditLine(record: AuditRecord): string {
  return `${JSON.stringify(record)}\n`;
}

/**
 * The records of a day's blob, in the order written. A line that is not a record (a torn append: Blob Storage
 * appends a block whole, so only a bug could make one) is skipped rather than failing the whole day.
 */
export function parseAuditLines(text: string): AuditRecord[] {
  return text.split('\n').flatMap((line) => {
    if (line.trim() === '') return [];
    try {
      const parsed = auditRecordSchema().safeParse(JSON.parse(line));
      return parsed.success ? [parsed.data] : [];
    } catch {
      return [];
    }
  });
}

/** Where a page of the audit route goes on: the day and the index of the next record in it. */
export interface AuditCursor {
  day: string;
  index: number;
}

export function encodeAuditCursor(cursor: AuditCursor): string {
  return Buffer.from(`${cursor.day}:${String(cursor.index)}`, 'utf8').toString('base64url');
}

/** The cursor a `continue` token names; null when it is not one this route gave. */
export function decodeAuditCursor(token: string): AuditCursor | null {
  const match = /^(\d{4}-\d{2}-\d{2}):(\d{1,9})$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  if (!match?.[1] || match[2] === undefined) return null;
  return { day: match[1], index: Number(match[2]) };
}
