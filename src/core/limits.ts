import type { RunFailure } from './failure.js';
import type { RunSnapshot } from './run.js';

/**
 * Sizes the app keeps what it stores within. The Functions host fails an orchestration whose custom status is
 * over 16 KB in UTF-16 (the Durable extension's MessagePayloadDataConverter: floor(bytes / 1024) > 16), and a
 * failed orchestration never deletes its Job; so the custom status is kept well under that, whatever the
 * cluster says in its messages or a container writes as its termination message.
 */

/** Any one message: Kubernetes' own (events, conditions, admission webhooks) can run to many kilobytes. */
export const MAX_MESSAGE_CHARS = 2000;
/** The whole custom status as JSON: 12 KB in UTF-16, a margin of 4 KB under the host's limit. */
export const CUSTOM_STATUS_BUDGET_CHARS = 6144;
/** The outputs in a run's result (the termination message they come from is at most 4 KB per container). */
export const MAX_OUTPUTS_CHARS = 32_768;

/** The text cut to at most `max` characters, saying how much was cut. */
export function boundText(text: string, max: number = MAX_MESSAGE_CHARS): string {
  if (text.length <= max) return text;
  const note = (cut: number) => `… (${String(cut)} more characters)`;
  const keep = max - note(text.length).length;
  return `${text.slice(0, Math.max(0, keep))}${note(text.length - Math.max(0, keep))}`;
}

function size(value: unknown): number {
  return JSON.stringify(value).length;
}

/** A reason is a short identifier (`BackoffLimitExceeded`); one from the cluster is cut to this. */
export const MAX_REASON_CHARS = 200;

function boundedFailure(failure: RunFailure): RunFailure {
  const bounded = { ...failure, message: boundText(failure.message, MAX_FAILURE_MESSAGE_CHARS) };
  if (failure.logTail !== undefined) bounded.logTail = boundText(failure.logTail, MAX_LOG_TAIL_CHARS);
  return bounded;
}

/** The snapshot as a run's result: its message, reason and archive error bounded, outputs kept unless absurdly large. */
export function forOutput(snapshot: RunSnapshot): RunSnapshot {
  const bounded = { ...snapshot, reason: boundText(snapshot.reason, MAX_REASON_CHARS), message: boundText(snapshot.message) };
  if (snapshot.failure) bounded.failure = boundedFailure(snapshot.failure);
  if (snapshot.attempts) bounded.attempts = snapshot.attempts.map((a) => (a.failure ? { ...a, failure: boundedFailure(a.failure) } : a));
  if (snapshot.archive?.error !== undefined) bounded.archive = { ...snapshot.archive, error: boundText(snapshot.archive.error) };
  if (size(bounded.outputs) <= MAX_OUTPUTS_CHARS) return bounded;
  return {
    ...bounded,
    outputs: {},
    message: boundText(`${bounded.message} (the outputs were dropped: ${String(size(snapshot.outputs))} characters, more than ${String(MAX_OUTPUTS_CHARS)})`),
  };
}

/** A failure's message (core/failure.ts); the run's own message says more where it needs to. */
export const MAX_FAILURE_MESSAGE_CHARS = 1000;
/** A failure's log tail: 50 lines, at most 4 KiB of UTF-8 when read; this bounds it again in characters. */
export const MAX_LOG_TAIL_CHARS = 4096;

/** Fields every snapshot has (the run snapshot schema's own): the last resort keeps only these, each bounded. */
function essentials(snapshot: RunSnapshot): RunSnapshot {
  const cut = (text: string, max: number) => boundText(text, max);
  const essential: RunSnapshot = {
    runId: cut(snapshot.runId, 63),
    status: snapshot.status,
    reason: cut(snapshot.reason, 100),
    message: cut(`${snapshot.message} (details too large for the status; the result has them)`, 300),
    cluster: cut(snapshot.cluster, 253),
    namespace: cut(snapshot.namespace, 253),
    jobName: cut(snapshot.jobName, 253),
    source: { kind: snapshot.source.kind, name: cut(snapshot.source.name, 253) },
    startTime: snapshot.startTime,
    completionTime: snapshot.completionTime,
    pods: snapshot.pods,
    monitorUrl: null,
    outputs: {},
    observedAt: snapshot.observedAt,
  };
  if (snapshot.archive !== undefined) {
    essential.archive = {
      location: snapshot.archive.location === null ? null : cut(snapshot.archive.location, 1000),
      ...(snapshot.archive.error === undefined ? {} : { error: cut(snapshot.archive.error, 300) }),
    };
  }
  if (snapshot.trigger !== undefined) essential.trigger = snapshot.trigger;
  if (snapshot.failureKind !== undefined) essential.failureKind = snapshot.failureKind;
  if (snapshot.exitCode !== undefined) essential.exitCode = snapshot.exitCode;
  return essential;
}

/**
 * The snapshot as the orchestration's custom status, which must stay under the host's limit: the failure's log
 * tail goes first, then the outputs (the result keeps both), then the texts are cut further; the size is checked
 * after every step, and when even that is not enough (a field added later, or every text at its bound) only the
 * schema's own fields stay, each cut short, with the failure's kind and exit code. Whatever it is given, the result is within CUSTOM_STATUS_BUDGET_CHARS.
 */
export function forCustomStatus(snapshot: RunSnapshot): RunSnapshot {
  let bounded = forOutput(snapshot);
  if (size(bounded) <= CUSTOM_STATUS_BUDGET_CHARS) return bounded;
  if (bounded.failure?.logTail !== undefined) {
    const failure = { ...bounded.failure };
    delete failure.logTail;
    bounded = { ...bounded, failure };
    if (size(bounded) <= CUSTOM_STATUS_BUDGET_CHARS) return bounded;
  }
  if (bounded.attempts?.some((a) => a.failure?.logTail !== undefined || (a.failure?.message.length ?? 0) > 300)) {
    // The attempts' log tails, and their long messages, go next (the result keeps them).
    const attempts = bounded.attempts.map((a) => {
      if (!a.failure) return a;
      const failure = { ...a.failure, message: boundText(a.failure.message, 300) };
      delete failure.logTail;
      return { ...a, failure };
    });
    bounded = { ...bounded, attempts };
    if (size(bounded) <= CUSTOM_STATUS_BUDGET_CHARS) return bounded;
  }
  if (Object.keys(bounded.outputs).length > 0) {
    bounded = { ...bounded, outputs: {}, message: boundText(`${bounded.message} (outputs too large for the status; the result has them)`) };
    if (size(bounded) <= CUSTOM_STATUS_BUDGET_CHARS) return bounded;
  }
  const room = Math.max(200, bounded.message.length - (size(bounded) - CUSTOM_STATUS_BUDGET_CHARS));
  bounded = { ...bounded, reason: boundText(bounded.reason, 100), message: boundText(bounded.message, room) };
  if (bounded.archive?.error !== undefined) bounded.archive = { ...bounded.archive, error: boundText(bounded.archive.error, 500) };
  if (bounded.failure) bounded = { ...bounded, failure: { ...bounded.failure, reason: boundText(bounded.failure.reason, 200), message: boundText(bounded.failure.message, 300) } };
  const source = { ...bounded.source, name: boundText(bounded.source.name, 300) };
  if (bounded.source.fallbackImage !== undefined) source.fallbackImage = boundText(bounded.source.fallbackImage, 600);
  bounded = { ...bounded, source, monitorUrl: bounded.monitorUrl === null ? null : boundText(bounded.monitorUrl, 1000) };
  if (size(bounded) <= CUSTOM_STATUS_BUDGET_CHARS) return bounded;
  return essentials(bounded);
}

/** Request bounds the HTTP API and its documents share. Next run times a schedule preview lists at most. */
export const MAX_PREVIEW_COUNT = 50;
/** Runs in one page of a runs listing. */
export const MAX_RUNS_PAGE = 500;
/** More lines than any tail a person reads; the API server and the archive bound the bytes anyway. */
export const MAX_TAIL_LINES = 100_000;
/** Items in one page of a discovery listing. */
export const MAX_PAGE_SIZE = 500;
