import { describe, expect, it } from 'vitest';

import {
  CLOUDEVENTS_CONTENT_TYPE,
  eventSource,
  RUN_FINISHED_EVENT,
  RUN_STARTED_EVENT,
  runFinishedEvent,
  runStartedEvent,
} from '../../src/core/cloudevents.js';
import { type RunSnapshot, snapshotOf } from '../../src/core/run.js';

/**
 * A structured-mode event checked as the CloudEvents 1.0 specification says a consumer may check it
 * (cloudevents/spec, cloudevents/spec.md "Context Attributes" and "Type System"; formats/json-format.md):
 * - required: `id`, `source`, `specversion`, `type`, each a non-empty string; `specversion` "1.0"; `source` a
 *   URI-reference;
 * - optional ones, when present: `subject` a non-empty string, `time` an RFC 3339 timestamp,
 *   `datacontenttype` an RFC 2046 media type;
 * - every attribute name lower-case letters and digits only (20 at most, as the specification advises);
 * - in JSON, with a JSON `datacontenttype`, `data` is the JSON value itself, not a string.
 * Returns what is wrong, empty when nothing is.
 */
function specProblems(event: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const nonEmpty = (name: string) => typeof event[name] === 'string' && event[name] !== '';
  for (const name of ['id', 'source', 'specversion', 'type']) if (!nonEmpty(name)) problems.push(`${name} is required and a non-empty string`);
  if (event.specversion !== '1.0') problems.push('specversion is not 1.0');
  for (const name of Object.keys(event)) if (!/^[a-z0-9]{1,20}$/.test(name)) problems.push(`attribute name ${name}`);
  if (typeof event.source === 'string') {
    try {
      new URL(event.source, 'https://base.invalid/');
    } catch {
      problems.push('source is not a URI-reference');
    }
    if (/\s/.test(event.source)) problems.push('source holds white space');
  }
  if ('subject' in event && !nonEmpty('subject')) problems.push('subject is empty');
  const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
  if ('time' in event && !(typeof event.time === 'string' && rfc3339.test(event.time) && !Number.isNaN(Date.parse(event.time)))) problems.push('time is not RFC 3339');
  if ('datacontenttype' in event && !(typeof event.datacontenttype === 'string' && /^[\w.+-]+\/[\w.+-]+(\s*;.*)?$/.test(event.datacontenttype))) {
    problems.push('datacontenttype is not a media type');
  }
  if (typeof event.datacontenttype === 'string' && /json/.test(event.datacontenttype) && typeof event.data === 'string') problems.push('JSON data sent as a string');
  return problems;
}

const ref = { runId: 'nightly-report-7f3k2', cluster: 'prod-weu', namespace: 'batch', source: { kind: 'Job' as const, name: 'nightly-report' } };
const finished: RunSnapshot = {
  ...snapshotOf(ref, { status: 'Success', reason: 'Complete', message: 'the Job completed' }, new Date('2026-12-07T03:10:05.250Z')),
  startTime: '2026-12-07T03:00:00Z',
  completionTime: '2026-12-07T03:10:02Z',
  outputs: { rows: 1200 },
};
const APP = 'https://func-api-abc123.azurewebsites.net/api';

describe('runFinishedEvent', () => {
  it.each(['Success', 'Failed', 'Cancelled'] as const)('a %s verdict is a valid CloudEvents 1.0 event', (status) => {
    const event = runFinishedEvent({ ...finished, status }, { source: APP });
    const wire = JSON.parse(JSON.stringify(event)) as Record<string, unknown>;
    expect(specProblems(wire)).toEqual([]);
    expect(wire).toMatchObject({
      specversion: '1.0',
      type: RUN_FINISHED_EVENT,
      id: `nightly-report-7f3k2:${status}`,
      subject: 'nightly-report-7f3k2',
      source: 'https://func-api-abc123.azurewebsites.net/api/clusters/prod-weu',
      time: '2026-12-07T03:10:02.000Z',
      datacontenttype: 'application/json',
    });
  });

  it('carries the snapshot as it is, as data', () => {
    const body = { ...finished, runtimeStatus: 'Completed', output: finished.outputs, rows: 1200 };
    expect(runFinishedEvent(body, { source: APP }).data).toEqual(body);
  });

  it('is the same event, id and time included, whenever it is built from the same snapshot (a retry, a replay)', () => {
    expect(JSON.stringify(runFinishedEvent(finished, { source: APP }))).toBe(JSON.stringify(runFinishedEvent(structuredClone(finished), { source: APP })));
  });

  it('differs in id between verdicts of different runs, so a receiver keeps both', () => {
    const other = runFinishedEvent({ ...finished, runId: 'nightly-report-9x1aa' }, { source: APP });
    expect(other.id).not.toBe(runFinishedEvent(finished, { source: APP }).id);
  });

  it('takes its time from the verdict, or from the snapshot when the Job never completed (a cancel)', () => {
    const cancelled = { ...finished, status: 'Cancelled' as const, completionTime: null };
    expect(runFinishedEvent(cancelled, { source: APP }).time).toBe('2026-12-07T03:10:05.250Z');
  });

  it.each(['Starting', 'Running', 'Unknown'] as const)('refuses a run without a verdict (%s)', (status) => {
    expect(() => runFinishedEvent({ ...finished, status }, { source: APP })).toThrow(/no verdict/);
  });
});

describe('runStartedEvent', () => {
  it('is a valid event of its own type and id', () => {
    const running = { ...finished, status: 'Running' as const, completionTime: null };
    const event = runStartedEvent(running, { source: '/aks-job-runner/func-api-abc123' });
    expect(specProblems(JSON.parse(JSON.stringify(event)) as Record<string, unknown>)).toEqual([]);
    expect(event).toMatchObject({ type: RUN_STARTED_EVENT, id: 'nightly-report-7f3k2:Started', time: '2026-12-07T03:00:00.000Z', source: '/aks-job-runner/func-api-abc123/clusters/prod-weu' });
  });
});

describe('eventSource', () => {
  it('names the app and the cluster, without a doubled slash', () => {
    expect(eventSource(`${APP}/`, 'prod-weu')).toBe(`${APP}/clusters/prod-weu`);
  });

  it('refuses an empty app part', () => {
    expect(() => eventSource('', 'prod')).toThrow(/empty/);
  });
});

describe('the checker itself', () => {
  it.each([
    ['no id', { specversion: '1.0', source: '/a', type: 't' }],
    ['another spec version', { id: '1', specversion: '0.3', source: '/a', type: 't' }],
    ['a time that is not RFC 3339', { id: '1', specversion: '1.0', source: '/a', type: 't', time: 'yesterday' }],
    ['an upper-case attribute', { id: '1', specversion: '1.0', source: '/a', type: 't', dataContentType: 'application/json' }],
  ])('finds %s', (_name, event) => {
    expect(specProblems(event)).not.toEqual([]);
  });

  it('names the structured content type', () => {
    expect(CLOUDEVENTS_CONTENT_TYPE.split(';')[0]).toBe('application/cloudevents+json');
  });
});
