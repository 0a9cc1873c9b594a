import type { V1CronJob } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import { LAST_SCHEDULE_ANNOTATION, SCHEDULER_LABEL } from '../../src/core/labels.js';
import { isRunId, MAX_CRONJOB_NAME } from '../../src/core/naming.js';
import {
  evaluateCronJob,
  isHandedOver,
  lastScheduleTimeOf,
  scheduledRunIds,
  scheduledTimestamp,
  schedulerOf,
  schedulerView,
  warningEvent,
  warningKey,
} from '../../src/core/scheduler.js';

interface CronJobOptions {
  name?: string;
  schedule?: string;
  timeZone?: string;
  suspend?: boolean;
  labelled?: boolean;
  /** The app's last-schedule annotation. */
  last?: string;
  created?: string;
  startingDeadlineSeconds?: number;
  generation?: number;
}

function cronJob(o: CronJobOptions = {}): V1CronJob {
  return {
    metadata: {
      name: o.name ?? 'report',
      namespace: 'batch',
      uid: 'cj-uid',
      resourceVersion: '7',
      generation: o.generation ?? 1,
      creationTimestamp: new Date(o.created ?? '2026-11-23T08:00:00Z'),
      labels: o.labelled === false ? {} : { [SCHEDULER_LABEL]: 'app' },
      annotations: o.last ? { [LAST_SCHEDULE_ANNOTATION]: o.last } : {},
    },
    spec: {
      schedule: o.schedule ?? '*/15 * * * *',
      ...(o.timeZone ? { timeZone: o.timeZone } : {}),
      suspend: o.suspend ?? true,
      ...(o.startingDeadlineSeconds === undefined ? {} : { startingDeadlineSeconds: o.startingDeadlineSeconds }),
      jobTemplate: { spec: { template: { spec: { containers: [{ name: 'main', image: 'busybox' }] } } } },
    },
  };
}

const at = (iso: string) => new Date(iso);
/** Unix minutes of an instant: the suffix of a scheduled run's name. */
const minutes = (iso: string) => Math.floor(Date.parse(iso) / 60_000);

describe('who fires a CronJob', () => {
  it.each([
    { name: 'labelled and suspended: handed over to the app', o: {}, handedOver: true, scheduler: 'app' },
    { name: 'labelled but not suspended: still the cluster’s', o: { suspend: false }, handedOver: false, scheduler: 'cluster' },
    { name: 'suspended without the label: nobody’s, the cluster’s by default', o: { labelled: false }, handedOver: false, scheduler: 'cluster' },
    { name: 'neither', o: { labelled: false, suspend: false }, handedOver: false, scheduler: 'cluster' },
  ])('$name', ({ o, handedOver, scheduler }) => {
    expect(isHandedOver(cronJob(o))).toBe(handedOver);
    expect(schedulerOf(cronJob(o))).toBe(scheduler);
  });
});

describe('lastScheduleTimeOf', () => {
  it.each([
    { name: 'an RFC 3339 annotation', last: '2026-11-23T09:45:00Z', expected: '2026-11-23T09:45:00.000Z' },
    { name: 'no annotation', last: undefined, expected: null },
    { name: 'an annotation that is not a time (someone edited it)', last: 'yesterday', expected: null },
  ])('$name', ({ last, expected }) => {
    expect(lastScheduleTimeOf(cronJob({ last }))?.toISOString() ?? null).toBe(expected);
  });
});

describe('evaluateCronJob after a hand-over', () => {
  const handedOver = (status: string, last?: string): V1CronJob => ({ ...cronJob({ created: '2026-01-01T00:00:00Z', ...(last ? { last } : {}) }), status: { lastScheduleTime: new Date(status) } });

  it('a CronJob the cluster fired until now goes on from its last run, not from its creation', () => {
    expect(evaluateCronJob(handedOver('2026-11-23T09:45:00Z'), at('2026-11-23T09:50:00Z'))).toEqual({ kind: 'idle', next: at('2026-11-23T10:00:00Z') });
  });

  it('the app’s own later time wins over the cluster’s older one', () => {
    expect(evaluateCronJob(handedOver('2026-11-23T08:00:00Z', '2026-11-23T10:00:00Z'), at('2026-11-23T10:05:00Z'))).toEqual({
      kind: 'idle',
      next: at('2026-11-23T10:15:00Z'),
    });
  });
});

describe('evaluateCronJob', () => {
  it.each([
    {
      name: 'a due quarter hour since the last scheduled time is due, under the controller’s name',
      o: { last: '2026-11-23T09:45:00Z' },
      now: '2026-11-23T10:00:30Z',
      expected: { kind: 'due', scheduledTime: at('2026-11-23T10:00:00Z'), runName: `report-${minutes('2026-11-23T10:00:00Z')}`, warnings: [] },
    },
    {
      name: 'the same quarter hour once recorded is idle until the next',
      o: { last: '2026-11-23T10:00:00Z' },
      now: '2026-11-23T10:05:00Z',
      expected: { kind: 'idle', next: at('2026-11-23T10:15:00Z') },
    },
    {
      name: 'without the annotation the creation time is the earliest',
      o: { created: '2026-11-23T09:58:00Z' },
      now: '2026-11-23T10:00:00Z',
      expected: { kind: 'due', scheduledTime: at('2026-11-23T10:00:00Z') },
    },
    {
      name: 'several missed times: only the most recent runs',
      o: { last: '2026-11-23T08:00:00Z' },
      now: '2026-11-23T10:07:00Z',
      expected: { kind: 'due', scheduledTime: at('2026-11-23T10:00:00Z'), warnings: [] },
    },
    {
      name: 'past startingDeadlineSeconds: missed, with MissSchedule, and nothing runs',
      o: { last: '2026-11-23T09:00:00Z', startingDeadlineSeconds: 60 },
      now: '2026-11-23T10:02:00Z',
      expected: { kind: 'missed', scheduledTime: at('2026-11-23T10:00:00Z'), next: at('2026-11-23T10:15:00Z'), warnings: [expect.objectContaining({ reason: 'MissSchedule' })] },
    },
    {
      name: 'within startingDeadlineSeconds the due time runs',
      o: { last: '2026-11-23T09:45:00Z', startingDeadlineSeconds: 300 },
      now: '2026-11-23T10:02:00Z',
      expected: { kind: 'due', scheduledTime: at('2026-11-23T10:00:00Z') },
    },
    {
      name: 'more than 100 missed: the latest runs, with TooManyMissedTimes',
      o: { schedule: '* * * * *', last: '2026-11-23T08:00:00Z' },
      now: '2026-11-23T10:00:10Z',
      expected: { kind: 'due', scheduledTime: at('2026-11-23T10:00:00Z'), warnings: [expect.objectContaining({ reason: 'TooManyMissedTimes' })] },
    },
    {
      name: 'a schedule with no such day (31 February) is invalid',
      o: { schedule: '0 0 31 2 *' },
      now: '2026-11-23T10:00:00Z',
      expected: { kind: 'invalid', warnings: [expect.objectContaining({ reason: 'InvalidSchedule' })] },
    },
    {
      name: 'an unknown time zone is invalid, with UnknownTimeZone',
      o: { timeZone: 'Mars/Olympus_Mons' },
      now: '2026-11-23T10:00:00Z',
      expected: { kind: 'invalid', warnings: [expect.objectContaining({ reason: 'UnknownTimeZone' })] },
    },
    {
      name: 'a labelled CronJob that is not suspended is never due, and says why',
      o: { suspend: false, last: '2026-11-23T09:45:00Z' },
      now: '2026-11-23T10:00:30Z',
      expected: { kind: 'notHandedOver', warnings: [expect.objectContaining({ reason: 'NotSuspended', message: expect.stringContaining('kubectl patch cronjob report') as unknown })] },
    },
    {
      name: 'a CronJob without the label is not the app’s, silently',
      o: { labelled: false, last: '2026-11-23T09:45:00Z' },
      now: '2026-11-23T10:00:30Z',
      expected: { kind: 'notHandedOver', warnings: [] },
    },
    {
      name: 'in its time zone: 02:30 Amsterdam is 01:30 UTC in winter',
      o: { schedule: '30 2 * * *', timeZone: 'Europe/Amsterdam', last: '2026-11-22T01:30:00Z' },
      now: '2026-11-23T01:30:05Z',
      expected: { kind: 'due', scheduledTime: at('2026-11-23T01:30:00Z') },
    },
  ])('$name', ({ o, now, expected }) => {
    expect(evaluateCronJob(cronJob(o), at(now))).toMatchObject(expected);
  });
});

describe('schedulerView (the listing)', () => {
  it.each([
    {
      name: 'handed over and waiting: the app’s next time',
      o: { last: '2026-11-23T10:00:00Z' },
      expected: { scheduler: 'app', nextRunTime: '2026-11-23T10:15:00Z', warnings: [] },
    },
    {
      name: 'handed over and due: it runs at the due time, within the minute',
      o: { last: '2026-11-23T09:45:00Z' },
      expected: { scheduler: 'app', nextRunTime: '2026-11-23T10:00:00Z', warnings: [] },
    },
    {
      name: 'fired by the cluster: its next time',
      o: { labelled: false, suspend: false },
      expected: { scheduler: 'cluster', nextRunTime: '2026-11-23T10:15:00Z', warnings: [] },
    },
    {
      name: 'suspended and not handed over: nobody fires it',
      o: { labelled: false },
      expected: { scheduler: 'cluster', nextRunTime: null, warnings: [] },
    },
    {
      name: 'labelled but not suspended: the cluster’s next time, with the warning',
      o: { suspend: false },
      expected: { scheduler: 'cluster', nextRunTime: '2026-11-23T10:15:00Z', warnings: [expect.objectContaining({ reason: 'NotSuspended' })] },
    },
    {
      name: 'an invalid zone: no next time, the warning',
      o: { timeZone: 'Mars/Olympus_Mons' },
      expected: { scheduler: 'app', nextRunTime: null, warnings: [expect.objectContaining({ reason: 'UnknownTimeZone' })] },
    },
    {
      name: 'a cluster CronJob with an invalid zone says so too',
      o: { labelled: false, suspend: false, timeZone: 'Mars/Olympus_Mons' },
      expected: { scheduler: 'cluster', nextRunTime: null, warnings: [expect.objectContaining({ reason: 'UnknownTimeZone' })] },
    },
  ])('$name', ({ o, expected }) => {
    expect(schedulerView(cronJob(o), at('2026-11-23T10:05:00Z'))).toEqual(expected);
  });
});

describe('scheduledTimestamp (the controller’s cronjob-scheduled-timestamp)', () => {
  it.each([
    { name: 'no time zone: UTC, written Z as Go does', zone: undefined, instant: '2026-11-23T10:00:00Z', expected: '2026-11-23T10:00:00Z' },
    { name: 'Amsterdam in winter', zone: 'Europe/Amsterdam', instant: '2026-11-23T10:00:00Z', expected: '2026-11-23T11:00:00+01:00' },
    { name: 'London in winter has offset zero: Z', zone: 'Europe/London', instant: '2026-11-23T10:00:00Z', expected: '2026-11-23T10:00:00Z' },
    { name: 'a half-hour zone', zone: 'Asia/Kolkata', instant: '2026-11-23T10:00:00Z', expected: '2026-11-23T15:30:00+05:30' },
    { name: 'west of Greenwich', zone: 'America/New_York', instant: '2026-07-01T12:00:00Z', expected: '2026-07-01T08:00:00-04:00' },
  ])('$name', ({ zone, instant, expected }) => {
    expect(scheduledTimestamp(at(instant), zone)).toBe(expected);
  });
});

describe('warningEvent', () => {
  const missed = { reason: 'MissSchedule' as const, message: 'missed' };
  const now = at('2026-11-23T10:02:00Z');

  it('names the Event from the CronJob, the reason and the key, so a repeat is AlreadyExists', () => {
    const first = warningEvent(cronJob(), missed, '2026-11-23T10:00:00Z', now);
    const again = warningEvent(cronJob(), missed, '2026-11-23T10:00:00Z', at('2026-11-23T10:03:00Z'));
    const nextTime = warningEvent(cronJob(), missed, '2026-11-23T10:15:00Z', now);
    expect(again.metadata.name).toBe(first.metadata.name);
    expect(nextTime.metadata.name).not.toBe(first.metadata.name);
    expect(first.metadata.name).toMatch(/^report\.[0-9a-f]{16}$/);
  });

  it('is a Warning about the CronJob, from the app', () => {
    expect(warningEvent(cronJob(), missed, 'k', now)).toMatchObject({
      metadata: { namespace: 'batch' },
      involvedObject: { apiVersion: 'batch/v1', kind: 'CronJob', name: 'report', namespace: 'batch', uid: 'cj-uid' },
      type: 'Warning',
      reason: 'MissSchedule',
      message: 'missed',
      count: 1,
      firstTimestamp: now,
      source: { component: 'aks-job-runner-scheduler' },
    });
  });

  it.each([
    { name: 'too many missed: per due time', o: { schedule: '* * * * *', last: '2026-11-23T08:00:00Z' }, expected: '2026-11-23T10:02:00Z' },
    { name: 'an invalid schedule: per schedule and zone', o: { schedule: '0 0 31 2 *', timeZone: 'UTC' }, expected: '0 0 31 2 *\nUTC' },
    { name: 'not suspended: per version of the spec', o: { suspend: false, generation: 4 }, expected: '4' },
  ])('keys $name', ({ o, expected }) => {
    const job = cronJob(o);
    expect(warningKey(job, evaluateCronJob(job, at('2026-11-23T10:02:00Z')))).toBe(expected);
  });

  it('keys a missed time per due time', () => {
    const scheduledTime = at('2026-11-23T10:00:00Z');
    expect(warningKey(cronJob(), { kind: 'missed', scheduledTime, next: null, warnings: [missed] })).toBe('2026-11-23T10:00:00Z');
  });
});

describe('scheduledRunIds', () => {
  const ten = at('2026-11-23T10:00:00Z');

  it('first the controller’s name, then the same with a hash of cluster and namespace', () => {
    const [primary, fallback] = scheduledRunIds(cronJob(), 'dev', ten);
    expect(primary).toBe(`report-${minutes('2026-11-23T10:00:00Z')}`);
    expect(fallback).toMatch(new RegExp(`^report-${minutes('2026-11-23T10:00:00Z')}-[0-9a-z]{8}$`));
    expect(scheduledRunIds(cronJob(), 'dev', ten)).toEqual([primary, fallback]);
    expect(scheduledRunIds(cronJob(), 'prod', ten)[1]).not.toBe(fallback);
  });

  it.each([1, 20, 44, 45, 46, MAX_CRONJOB_NAME])('a %i-character CronJob name gives run ids that are Job names and run ids', (length) => {
    const name = `${'a'.repeat(length - 1)}z`.replace(/^(.{20})./, '$1-');
    for (const id of scheduledRunIds(cronJob({ name }), 'dev', ten)) {
      expect(id.length).toBeLessThanOrEqual(63);
      expect(id).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      expect(isRunId(id)).toBe(true);
    }
  });
});
