import type { V1ContainerStatus, V1Job, V1Pod } from '@kubernetes/client-node';

import type { BlobStore } from '../clients/blob.js';
import type { KubeGateway, PodLogStream, PodLogStreamOptions } from '../clients/kube.js';
import { NotFoundError } from '../core/errors.js';
import {
  continueLine,
  endLine,
  FOLLOW_LINE_PREFIX,
  type FollowCursor,
  FollowFilter,
  instanceLine,
  LineSplitter,
  sinceTimeOf,
  splitStamp,
} from '../core/follow.js';
import { JOB_NAME_POD_LABEL } from '../core/labels.js';
import { readIndex, readRunLog } from './archive.js';

export interface FollowRequest {
  cluster: string;
  namespace: string;
  runId: string;
  /** The container to follow; the pod's first by default. */
  container?: string | undefined;
  /** Where the previous segment stopped. */
  since?: FollowCursor | undefined;
  /** The bound of a live read (LOGS_MAX_BYTES_PER_CONTAINER), should a pod thought gone be read after all. */
  maxBytes: number;
}

export interface FollowClock {
  /** When this segment ends (ms since the epoch). */
  deadline: number;
  now(): number;
  sleep(ms: number): Promise<void>;
  /** How often the pods are looked at while a stream is open (a restart, a newer pod, the verdict). */
  pollMs: number;
  /** What a failure says in the stream (after the first byte the status cannot say it any more); logged by the caller. */
  describe(err: unknown): string;
}

const SUCCESS = new Set(['Complete', 'SuccessCriteriaMet']);
const FAILURE = new Set(['Failed', 'FailureTarget']);

/** The Job's verdict from its conditions; undefined while it runs. A Job gone (or going) was ended by someone. */
function verdictOf(job: V1Job | null): string | undefined {
  if (!job || job.metadata?.deletionTimestamp) return 'Cancelled';
  const conditions = (job.status?.conditions ?? []).filter((c) => c.status === 'True');
  if (conditions.some((c) => SUCCESS.has(c.type))) return 'Success';
  if (conditions.some((c) => FAILURE.has(c.type))) return 'Failed';
  if (conditions.some((c) => c.type === 'Suspended')) return 'Cancelled';
  return undefined;
}

function created(pod: V1Pod): number {
  return new Date(pod.metadata?.creationTimestamp ?? 0).getTime();
}

function statusOf(pod: V1Pod, container: string): V1ContainerStatus | undefined {
  return [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])].find((s) => s.name === container);
}

/** The pod newer than `pod` that a Job's next attempt runs in, if one was made. */
function newerPod(pods: V1Pod[], pod: V1Pod): V1Pod | undefined {
  return pods.filter((p) => created(p) > created(pod) && p.metadata?.name !== pod.metadata?.name).at(-1);
}

function startOf(pod: V1Pod, container: string | undefined): FollowCursor {
  const c = container ?? pod.spec?.containers[0]?.name ?? '';
  return { p: pod.metadata?.name ?? '', c, r: statusOf(pod, c)?.restartCount ?? 0, t: '', n: 0, l: 0 };
}

/** Whether a live read failed because there is nothing to read yet (container not started) or any more. */
function notThere(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 400 || code === 404;
}

type Step = 'ended' | 'changed' | 'deadline';

/**
 * One segment of a followed log, as text chunks (each one or more whole lines). From the cursor on (or the
 * newest pod's current instance from its start): lines as the container writes them, through each restart of
 * the container (what is left of the instance before, then the new one) and on to the Job's next pod; at the
 * verdict, the rest and an end line, from the archive when the pod is gone. At the deadline, a continue line
 * with the cursor. A line is sent once: the cursor is moved past each line as it is handed over.
 */
export async function* followRunLog(gateway: KubeGateway, store: BlobStore | null, request: FollowRequest, clock: FollowClock): AsyncGenerator<string> {
  const { namespace, runId } = request;
  let cursor = request.since;
  const listPods = async () => (await gateway.listPods(namespace, `${JOB_NAME_POD_LABEL}=${runId}`)).sort((a, b) => created(a) - created(b));

  /** Reads one stream to its end (or until `watch` says stop), handing over the lines the cursor has not passed. */
  async function* pump(stream: PodLogStream, watch?: () => Promise<boolean>): AsyncGenerator<string, Step> {
    if (!cursor) return 'ended';
    const filter = new FollowFilter(cursor);
    const splitter = new LineSplitter();
    const iterator = stream.chunks[Symbol.asyncIterator]();
    let step: Step | undefined;
    let next = iterator.next();
    // One timer per look, not per chunk: a busy log must not pile up timers.
    const tick = () => clock.sleep(Math.max(0, Math.min(clock.deadline, clock.now() + clock.pollMs) - clock.now())).then(() => 'tick' as const);
    let timer = watch ? tick() : undefined;
    try {
      while (!step) {
        const got = timer ? await Promise.race([next, timer]) : await next;
        if (got === 'tick') {
          if (clock.now() >= clock.deadline) step = 'deadline';
          else if (await watch?.()) step = 'changed';
          timer = tick();
          continue;
        }
        if (got.done) {
          step = 'ended';
          // The kubelet ends a stream when the container has stopped: its last line is whole, newline or not.
          for (const line of splitter.end()) {
            const text = filter.accept(splitStamp(line));
            if (text !== undefined) yield `${text}\n`;
          }
          break;
        }
        let out = '';
        for (const line of splitter.push(got.value)) {
          const text = filter.accept(splitStamp(line));
          if (text !== undefined) out += `${text}\n`;
        }
        cursor = filter.position;
        if (out) yield out;
        next = iterator.next();
      }
    } finally {
      // A line cut off by a close is not passed on: the cursor stays before it, and the next read has it whole.
      cursor = filter.position;
      stream.close();
      void next.catch(() => undefined);
    }
    return step;
  }

  /** What is left of an instance whose container has stopped (`previous` once the container was restarted). */
  async function* drain(previous: boolean): AsyncGenerator<string> {
    if (!cursor) return;
    let stream: PodLogStream;
    try {
      stream = await gateway.streamPodLog(namespace, cursor.p, options(cursor, { previous, follow: false }));
    } catch (err) {
      if (notThere(err)) return;
      throw err;
    }
    yield* pump(stream);
  }

  function options(at: FollowCursor, extra: Partial<PodLogStreamOptions>): PodLogStreamOptions {
    return { container: at.c, timestamps: true, sinceTime: sinceTimeOf(at.t), ...extra };
  }

  function moveTo(pod: V1Pod, why: string): string {
    cursor = startOf(pod, cursor?.c ?? request.container);
    return `${instanceLine(cursor, why)}\n`;
  }

  /**
   * The rest of a pod that is gone, from the archive: 'sent'; 'pending' while the run is not archived yet (it is
   * written just after the verdict); 'missing' when there is no archive, or the run's holds no log of that pod.
   */
  async function* fromArchive(at: FollowCursor): AsyncGenerator<string, 'sent' | 'pending' | 'missing'> {
    if (!store) return 'missing';
    let text: string;
    try {
      const log = await readRunLog(gateway, store, { cluster: request.cluster, namespace, runId, pod: at.p, container: at.c, previous: false, maxBytes: request.maxBytes });
      text = log.text;
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      return (await readIndex(store, request.cluster, namespace, runId)) ? 'missing' : 'pending';
    }
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    const rest = lines.slice(at.l);
    cursor = { ...at, l: at.l + rest.length };
    if (rest.length > 0) yield `${rest.join('\n')}\n`;
    return 'sent';
  }

  async function* segment(): AsyncGenerator<string> {
    while (clock.now() < clock.deadline) {
      const [job, pods] = await Promise.all([gateway.readJob(namespace, runId), listPods()]);
      const verdict = verdictOf(job);
      if (!cursor) {
        const newest = pods.at(-1);
        if (newest) {
          yield moveTo(newest, 'start');
          continue;
        }
        if (job && !verdict) {
          // No pod yet: the Job waits for one.
          await clock.sleep(Math.min(clock.pollMs, clock.deadline - clock.now()));
          continue;
        }
        // No pod and no Job to make one: the run has ended, and the archive has what there was.
        const index = store ? await readIndex(store, request.cluster, namespace, runId) : null;
        const entry = index?.logs.find((l) => !l.previous && (request.container === undefined || l.container === request.container));
        if (index && entry) {
          cursor = { p: entry.pod, c: entry.container, r: 0, t: '', n: 0, l: 0 };
          yield `${instanceLine(cursor, 'archived')}\n`;
          if ((yield* fromArchive(cursor)) === 'sent') {
            yield `${endLine(index.verdict.status, 'archive')}\n`;
            return;
          }
        }
        if (index || !job) {
          yield `${endLine(index?.verdict.status ?? verdict ?? 'Unknown', 'archive')}\n`;
          return;
        }
        await clock.sleep(Math.min(clock.pollMs, clock.deadline - clock.now()));
        continue;
      }

      const at: FollowCursor = cursor;
      const pod = pods.find((p) => p.metadata?.name === at.p);
      if (!pod) {
        // The pod is gone (deleted with its Job, or by the Job controller): its last lines are in the archive.
        const later = pods.filter((p) => created(p) > 0).at(-1);
        const archived = yield* fromArchive(at);
        const gone = `${FOLLOW_LINE_PREFIX}pod ${at.p} is gone and its last lines are not in the logs archive\n`;
        if (later && later.metadata?.name !== at.p) {
          if (archived !== 'sent') yield gone;
          yield moveTo(later, 'next pod');
          continue;
        }
        if (verdict && archived !== 'pending') {
          if (archived === 'missing') yield gone;
          yield `${endLine(verdict, 'archive')}\n`;
          return;
        }
        await clock.sleep(Math.min(clock.pollMs, Math.max(0, clock.deadline - clock.now())));
        continue;
      }

      const status = statusOf(pod, at.c);
      const restarts = status?.restartCount ?? 0;
      if (restarts > at.r) {
        // Restarted: what is left of the instance followed is now the previous one. The kubelet keeps only that one.
        if (restarts === at.r + 1) yield* drain(true);
        else yield `${FOLLOW_LINE_PREFIX}instances ${String(at.r)} to ${String(restarts - 2)} of ${at.c} are no longer kept by the kubelet\n`;
        cursor = { ...at, r: restarts, t: '', n: 0, l: 0 };
        yield `${instanceLine(cursor, 'restarted')}\n`;
        continue;
      }
      const later = newerPod(pods, pod);
      if (status?.state?.terminated || (!status?.state?.running && (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed'))) {
        yield* drain(false);
        if (later) {
          yield moveTo(later, 'next pod');
          continue;
        }
        if (verdict) {
          yield `${endLine(verdict, 'live')}\n`;
          return;
        }
        // Stopped, and a restart or the Job's next pod may follow.
        await clock.sleep(Math.min(clock.pollMs, Math.max(0, clock.deadline - clock.now())));
        continue;
      }
      if (!status?.state?.running) {
        if (later) {
          yield moveTo(later, 'next pod');
          continue;
        }
        await clock.sleep(Math.min(clock.pollMs, Math.max(0, clock.deadline - clock.now())));
        continue;
      }

      let stream: PodLogStream;
      try {
        stream = await gateway.streamPodLog(namespace, at.p, options(at, { follow: true }));
      } catch (err) {
        if (!notThere(err)) throw err;
        await clock.sleep(Math.min(clock.pollMs, Math.max(0, clock.deadline - clock.now())));
        continue;
      }
      // While the stream is open: a restart, the container stopping, the pod going or a newer one ends it.
      const changed = async (): Promise<boolean> => {
        const now = await listPods();
        const same = now.find((p) => p.metadata?.name === at.p);
        const s = same ? statusOf(same, at.c) : undefined;
        return !same || !s?.state?.running || s.restartCount !== at.r || newerPod(now, same) !== undefined;
      };
      const step = yield* pump(stream, changed);
      if (step === 'deadline') break;
    }
    yield `${continueLine(cursor)}\n`;
  }

  try {
    yield* segment();
  } catch (err) {
    // The cursor stays before the first line not handed over: the client resumes from there.
    yield `${FOLLOW_LINE_PREFIX}error: ${clock.describe(err)}\n${continueLine(cursor)}\n`;
  }
}
