/**
 * A run's start and verdict as CloudEvents 1.0 in the structured JSON mode (issue 23), for receivers that speak
 * CloudEvents and for Azure Event Grid: the event's attributes and its `data`, the run snapshot, in one JSON
 * document sent as `application/cloudevents+json` (cloudevents/spec, cloudevents/spec.md "Context Attributes",
 * cloudevents/formats/json-format.md "Envelope").
 */
import type { RunSnapshot, RunStatus } from './run.js';

/** The media type of one event in the structured JSON mode. */
export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json; charset=utf-8';

export const RUN_FINISHED_EVENT = 'io.aks-job-runner.run.finished';
export const RUN_STARTED_EVENT = 'io.aks-job-runner.run.started';
export type RunEventType = typeof RUN_FINISHED_EVENT | typeof RUN_STARTED_EVENT;

export interface CloudEvent<T = unknown> {
  readonly specversion: '1.0';
  /** Unique for its `source`: a receiver that sees the same source and id again has seen this event. */
  readonly id: string;
  /** URI-reference naming the app and the cluster the run is in. */
  readonly source: string;
  readonly type: RunEventType;
  /** The run id. */
  readonly subject: string;
  /** RFC 3339: when what the event tells happened (the verdict, the start), not when it is sent. */
  readonly time: string;
  readonly datacontenttype: 'application/json';
  readonly data: T;
}

/**
 * The source of a run's events: the app's own part (a URL of the app, e.g. its public `/api` base, or a
 * URI-reference such as `/aks-job-runner/<app name>`) and `/clusters/<alias>`. Run ids are unique within the
 * app, so (source, id) is unique as the specification asks.
 */
export function eventSource(app: string, cluster: string): string {
  if (app === '') throw new Error('the app part of an event source is empty');
  return `${app.replace(/\/+$/, '')}/clusters/${encodeURIComponent(cluster)}`;
}

/**
 * The event of a run's verdict. Its id is `<runId>:<status>`, so every attempt to deliver it, a replayed
 * activity's and one after a restart included, carries the same id and a receiver keeps one. Built from the
 * snapshot alone, so the same snapshot always gives the same event. `data` is the snapshot as the status route
 * answers it (the caller passes that body; its outputs at the top level included).
 */
export function runFinishedEvent<T extends Pick<RunSnapshot, 'runId' | 'status' | 'cluster' | 'observedAt' | 'completionTime'>>(
  snapshot: T,
  { source }: { source: string },
): CloudEvent<T> {
  if (!isVerdict(snapshot.status)) throw new Error(`run ${snapshot.runId} has no verdict yet (${snapshot.status})`);
  return event(RUN_FINISHED_EVENT, `${snapshot.runId}:${snapshot.status}`, snapshot.completionTime ?? snapshot.observedAt, snapshot, source);
}

/** The event of a run's start (its Job created), for subscribers that ask for it: id `<runId>:Started`. */
export function runStartedEvent<T extends Pick<RunSnapshot, 'runId' | 'cluster' | 'observedAt' | 'startTime'>>(
  snapshot: T,
  { source }: { source: string },
): CloudEvent<T> {
  return event(RUN_STARTED_EVENT, `${snapshot.runId}:Started`, snapshot.startTime ?? snapshot.observedAt, snapshot, source);
}

function isVerdict(status: RunStatus): boolean {
  return status === 'Success' || status === 'Failed' || status === 'Cancelled';
}

function event<T extends Pick<RunSnapshot, 'runId' | 'cluster'>>(type: RunEventType, id: string, at: string, data: T, app: string): CloudEvent<T> {
  const time = new Date(at);
  if (Number.isNaN(time.getTime())) throw new Error(`run ${data.runId}: "${at}" is not a time`);
  return {
    specversion: '1.0',
    id,
    source: eventSource(app, data.cluster),
    type,
    subject: data.runId,
    time: time.toISOString(),
    datacontenttype: 'application/json',
    data,
  };
}
