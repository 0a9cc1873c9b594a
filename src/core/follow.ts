import * as z from 'zod';

import { BadRequestError } from './errors.js';
import { lazySchema } from './lazy-schema.js';

/**
 * Following a run's log (`GET /runs/{runId}/logs?follow=true`): the pure part. The stream comes in segments,
 * each shorter than the Functions host's HTTP limit (230 s), and each ends with a cursor the next request
 * resumes from (`&since=<cursor>`), so no line is lost or sent twice between segments, across a container
 * restart, or from one pod of the Job to the next.
 */

/** Every line the app itself writes into a followed log starts with this; a container's own lines never do (in practice). */
export const FOLLOW_LINE_PREFIX = '--- aks-job-runner: ';

/** The host's HTTP limit: a response not finished in 230 s is cut (Azure's load balancer idle timeout). */
export const HOST_HTTP_LIMIT_SECONDS = 230;
/** A segment's longest duration: well under the host's limit, so the closing line always gets out. */
export const MAX_FOLLOW_SEGMENT_SECONDS = 200;

/**
 * Where a follow stopped: the pod, its container and that container's instance (its restartCount), and the last
 * line sent, by its kubelet timestamp and how many lines carried exactly that timestamp (lines printed in the
 * same instant share one), plus how many lines of the instance were sent in all (what the archive, which keeps
 * no timestamps, is skipped by).
 */
export interface FollowCursor {
  /** The pod. */
  p: string;
  /** The container. */
  c: string;
  /** The container's restartCount when its lines were read: which instance. */
  r: number;
  /** The kubelet timestamp (RFC 3339, nanoseconds) of the last line sent of this instance; '' when none yet. */
  t: string;
  /** Lines sent with exactly timestamp `t`. */
  n: number;
  /** Lines of this instance sent in all. */
  l: number;
}

const DNS_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const TIMESTAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/;

// Built on the first cursor read (core/lazy-schema.ts): only a followed log's later segments parse one.
const cursorSchema = lazySchema(() =>
  z.strictObject({
    p: z.string().regex(DNS_NAME),
    c: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/),
    r: z.number().int().min(0).max(1_000_000),
    t: z.string().refine((t) => t === '' || TIMESTAMP.test(t)),
    n: z.number().int().min(0),
    l: z.number().int().min(0),
  }),
);

/** The cursor as the `since` query parameter takes it: base64url JSON. */
export function encodeFollowCursor(cursor: FollowCursor): string {
  return Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');
}

/** A `since` value back to a cursor; a 400 that says where cursors come from when it is not one. */
export function decodeFollowCursor(raw: string): FollowCursor {
  let parsed: unknown;
  try {
    parsed = /^[A-Za-z0-9_-]{1,2048}$/.test(raw) ? JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) : undefined;
  } catch {
    parsed = undefined;
  }
  const cursor = cursorSchema().safeParse(parsed);
  if (!cursor.success) {
    throw new BadRequestError(`since must be the cursor a followed log ended with (its last line, "${FOLLOW_LINE_PREFIX}continue since=<cursor>"), as it was; got "${raw.slice(0, 80)}"`);
  }
  return cursor.data;
}

/** A kubelet timestamp as a string that sorts as the instant does: seconds since the epoch, then nine fraction digits. */
export function timestampKey(stamp: string): string {
  const m = TIMESTAMP.exec(stamp);
  if (!m?.[1] || !m[3]) return '';
  const seconds = Math.floor(Date.parse(`${m[1]}${m[3]}`) / 1000);
  return `${String(seconds).padStart(12, '0')}.${(m[2] ?? '').padEnd(9, '0')}`;
}

/**
 * The `sinceTime` that asks the API server for every line from `stamp` on: the second it falls in. The API server
 * hands sinceTime to the kubelet at whole seconds (metav1.Time is serialised as RFC 3339 without fractions), so
 * lines earlier in that second come back too, and `FollowFilter` drops them.
 */
export function sinceTimeOf(stamp: string): string | undefined {
  const m = TIMESTAMP.exec(stamp);
  if (!m?.[1] || !m[3]) return undefined;
  return new Date(Math.floor(Date.parse(`${m[1]}${m[3]}`) / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** One line of a log read with `timestamps=true`: the kubelet's timestamp, a space, the line as printed. */
export interface StampedLine {
  stamp: string;
  text: string;
}

/** Splits `<RFC3339Nano> <text>`; a line without a timestamp (never from a kubelet) keeps an empty one. */
export function splitStamp(line: string): StampedLine {
  const space = line.indexOf(' ');
  const stamp = space < 0 ? line : line.slice(0, space);
  if (!TIMESTAMP.test(stamp)) return { stamp: '', text: line };
  return { stamp, text: space < 0 ? '' : line.slice(space + 1) };
}

/**
 * Turns chunks of bytes into whole lines (UTF-8 characters split between chunks stay whole); `end()` gives the
 * last line when the log did not end with a newline.
 */
export class LineSplitter {
  private rest = '';
  private readonly decoder = new TextDecoder('utf-8');

  push(chunk: Uint8Array): string[] {
    const text = this.rest + this.decoder.decode(chunk, { stream: true });
    const lines = text.split('\n');
    this.rest = lines.pop() ?? '';
    return lines;
  }

  end(): string[] {
    const last = this.rest + this.decoder.decode();
    this.rest = '';
    return last === '' ? [] : [last];
  }
}

/**
 * Decides, line by line, what of an instance's log a follow still has to send, and moves the cursor. Lines before
 * the cursor's timestamp were sent; of those with exactly its timestamp, the first `n` were. Kubelet timestamps of
 * one container's log never go backwards (the runtime stamps each line as it writes it).
 */
export class FollowFilter {
  private readonly key: string;
  /** How many lines with the cursor's timestamp were sent before: fixed at the start, as the cursor moves on. */
  private readonly sentAtStamp: number;
  private seenAtStamp = 0;

  constructor(private cursor: FollowCursor) {
    this.key = cursor.t === '' ? '' : timestampKey(cursor.t);
    this.sentAtStamp = cursor.n;
  }

  /** The line's text when it is new (the cursor moves past it), else undefined. */
  accept(line: StampedLine): string | undefined {
    if (this.key !== '' && line.stamp !== '') {
      const key = timestampKey(line.stamp);
      if (key < this.key) return undefined;
      if (key === this.key && this.seenAtStamp < this.sentAtStamp) {
        this.seenAtStamp++;
        return undefined;
      }
    }
    if (line.stamp === '') this.cursor = { ...this.cursor, l: this.cursor.l + 1 };
    else {
      const n = line.stamp === this.cursor.t ? this.cursor.n + 1 : 1;
      this.cursor = { ...this.cursor, t: line.stamp, n, l: this.cursor.l + 1 };
    }
    return line.text;
  }

  get position(): FollowCursor {
    return this.cursor;
  }
}

/** The line that ends a segment: where the next request resumes (no cursor: nothing was read yet, start again). */
export function continueLine(cursor: FollowCursor | undefined): string {
  return `${FOLLOW_LINE_PREFIX}continue${cursor ? ` since=${encodeFollowCursor(cursor)}` : ''}`;
}

/** The line that ends the follow: the run has its verdict and every line of its log was sent. */
export function endLine(status: string, source: 'live' | 'archive'): string {
  return `${FOLLOW_LINE_PREFIX}end ${status} (the rest ${source === 'archive' ? 'from the logs archive' : 'from the live pod'})`;
}

/** The line that says whose log the lines after it are. */
export function instanceLine(cursor: FollowCursor, why: string): string {
  return `${FOLLOW_LINE_PREFIX}pod ${cursor.p} container ${cursor.c} instance ${String(cursor.r)} (${why})`;
}
