import type { HttpResponseInit, InvocationContext } from '@azure/functions';

import type { BlobStore } from '../clients/blob.js';
import type { KubeGateway } from '../clients/kube.js';
import type { FollowSettings } from '../config.js';
import { AppError, ensureError } from '../core/errors.js';
import { continueLine, decodeFollowCursor, FOLLOW_LINE_PREFIX, type FollowCursor } from '../core/follow.js';
import { type FollowRequest,followRunLog } from '../runs/follow.js';
import { redactIdentity } from './problem.js';

/** One caller holds as many followed logs on this instance as LOGS_FOLLOW_MAX_STREAMS_PER_CALLER allows. */
export class FollowLimitError extends AppError {
  override name = 'FollowLimitError';
  override readonly status = 429;
  override readonly reason = 'FollowLimit';
}

/** This instance streams as many followed logs as LOGS_FOLLOW_MAX_STREAMS allows. */
export class FollowCapacityError extends AppError {
  override name = 'FollowCapacityError';
  override readonly status = 503;
  override readonly reason = 'FollowCapacity';
}

/**
 * The followed logs open on this instance, in all and per caller. A stream holds its place until its segment
 * ends: the Functions worker reads a response body to its end even after the client has gone (it gives the
 * handler no sign of it), so a client that leaves early still holds a place for at most one segment.
 */
export class FollowSlots {
  private total = 0;
  private readonly byCaller = new Map<string, number>();

  /** A place for `caller`, and the function that gives it back (once, however often it is called). */
  acquire(caller: string, limits: Pick<FollowSettings, 'maxStreams' | 'maxStreamsPerCaller'>): () => void {
    const mine = this.byCaller.get(caller) ?? 0;
    if (mine >= limits.maxStreamsPerCaller) {
      throw new FollowLimitError(
        `you already follow ${String(mine)} logs on this instance, the most one caller may (LOGS_FOLLOW_MAX_STREAMS_PER_CALLER); close one, or read without follow=true`,
      );
    }
    if (this.total >= limits.maxStreams) {
      throw new FollowCapacityError(`this instance already streams ${String(this.total)} followed logs, the most it may (LOGS_FOLLOW_MAX_STREAMS); try again after Retry-After`);
    }
    this.total++;
    this.byCaller.set(caller, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const left = (this.byCaller.get(caller) ?? 1) - 1;
      if (left === 0) this.byCaller.delete(caller);
      else this.byCaller.set(caller, left);
    };
  }

  get open(): number {
    return this.total;
  }
}

/** The instance's followed logs (module state: one per worker process, as the caps are per instance). */
export const followSlots = new FollowSlots();

export function parseSince(raw: string | null): FollowCursor | undefined {
  return raw === null || raw === '' ? undefined : decodeFollowCursor(raw);
}

/**
 * The streamed answer of a followed log: text/plain whose body is written as the container writes its log. The
 * body is a web ReadableStream, which the Functions worker (with `enableHttpStream`) copies chunk by chunk to
 * the host as it is read (src/setup.ts). A failure after the first byte cannot change the status any more: it
 * becomes a line saying what failed and the continue line, so the client resumes where the stream stopped.
 */
export function followResponse(
  gateway: KubeGateway,
  store: BlobStore | null,
  request: FollowRequest,
  settings: FollowSettings,
  release: () => void,
  context: InvocationContext,
): HttpResponseInit {
  const lines = followRunLog(gateway, store, request, {
    deadline: Date.now() + settings.segmentSeconds * 1000,
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    pollMs: FOLLOW_POLL_MS,
    describe: (err) => {
      const error = ensureError(err);
      context.warn(`following the log of run ${request.runId} failed: ${error.message}`);
      return err instanceof AppError ? redactIdentity(error.message) : `the app failed while reading the log (invocation ${context.invocationId}); the details are in its log`;
    },
  });
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const next = await lines.next();
          if (next.done) {
            release();
            controller.close();
            return;
          }
          controller.enqueue(encoder.encode(next.value));
        } catch (err) {
          // followRunLog turns its own failures into lines; this is only for one it could not.
          context.error(`following the log of run ${request.runId} failed: ${ensureError(err).stack ?? String(err)}`);
          controller.enqueue(encoder.encode(`${FOLLOW_LINE_PREFIX}error: the app failed while reading the log (invocation ${context.invocationId})\n${continueLine(request.since)}\n`));
          release();
          controller.close();
        }
      },
      async cancel() {
        release();
        await lines.return(undefined);
      },
    },
    // Nothing is read ahead of the reader: a line is taken from the cluster when the worker asks for the next chunk.
    { highWaterMark: 0 },
  );
  return {
    status: 200,
    headers: {
      'Content-Type': 'text/plain; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'X-Log-Follow-Segment-Seconds': String(settings.segmentSeconds),
    },
    body,
  };
}

/** How often the pods are looked at while a log is followed: a restart or the Job's next pod is noticed within it. */
export const FOLLOW_POLL_MS = 1000;
