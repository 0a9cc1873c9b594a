import type { V1CronJob } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import type { UpdateCronJobBody } from '../../src/core/cronjob-bodies.js';
import { planCronJobUpdate, schedulerOf } from '../../src/core/cronjob-update.js';
import { BadRequestError } from '../../src/core/errors.js';
import { SCHEDULER_LABEL } from '../../src/core/labels.js';

function cronJob(labels?: Record<string, string>, suspend?: boolean): V1CronJob {
  return {
    metadata: { name: 'report', namespace: 'batch', resourceVersion: '41', ...(labels ? { labels } : {}) },
    spec: {
      schedule: '0 3 * * *',
      timeZone: 'Europe/Amsterdam',
      concurrencyPolicy: 'Forbid',
      ...(suspend === undefined ? {} : { suspend }),
      startingDeadlineSeconds: 120,
      jobTemplate: {
        spec: {
          backoffLimit: 1,
          template: {
            spec: {
              restartPolicy: 'OnFailure',
              containers: [
                { name: 'main', image: 'report:1', command: ['report'], env: [{ name: 'MODE', value: 'full' }, { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] },
                { name: 'helper', image: 'helper:1' },
              ],
            },
          },
        },
      },
    },
  };
}

const RV = { op: 'replace', path: '/metadata/resourceVersion', value: '41' };
const DEFAULT_DEADLINE = 86_400;
const plan = (body: UpdateCronJobBody, current = cronJob()) => planCronJobUpdate(current, body, '41', DEFAULT_DEADLINE);
const LABEL_PATH = '/metadata/labels/aks-job-runner.io~1scheduler';

describe('planCronJobUpdate', () => {
  it.each<{ name: string; body: UpdateCronJobBody; current?: V1CronJob; ops: unknown[] }>([
    { name: 'a new schedule', body: { schedule: '30 4 * * *' }, ops: [{ op: 'add', path: '/spec/schedule', value: '30 4 * * *' }] },
    { name: 'a preset', body: { preset: 'weekly', weekday: 'friday', at: '18:00' }, ops: [{ op: 'add', path: '/spec/schedule', value: '0 18 * * 5' }] },
    { name: 'another zone', body: { timeZone: 'UTC' }, ops: [{ op: 'add', path: '/spec/timeZone', value: 'UTC' }] },
    { name: 'no zone (null)', body: { timeZone: null }, ops: [{ op: 'remove', path: '/spec/timeZone' }] },
    { name: 'suspend', body: { suspend: true }, ops: [{ op: 'add', path: '/spec/suspend', value: true }] },
    { name: 'resume', body: { suspend: false }, current: cronJob(undefined, true), ops: [{ op: 'add', path: '/spec/suspend', value: false }] },
    { name: 'the concurrency policy', body: { concurrencyPolicy: 'Replace' }, ops: [{ op: 'add', path: '/spec/concurrencyPolicy', value: 'Replace' }] },
    { name: 'no starting deadline (null)', body: { startingDeadlineSeconds: null }, ops: [{ op: 'remove', path: '/spec/startingDeadlineSeconds' }] },
    {
      name: 'the history limits',
      body: { successfulJobsHistoryLimit: 5, failedJobsHistoryLimit: 2 },
      ops: [
        { op: 'add', path: '/spec/successfulJobsHistoryLimit', value: 5 },
        { op: 'add', path: '/spec/failedJobsHistoryLimit', value: 2 },
      ],
    },
    {
      name: "the Job's limits",
      body: { backoffLimit: 0, activeDeadlineSeconds: 600, ttlSecondsAfterFinished: 3600 },
      ops: [
        { op: 'add', path: '/spec/jobTemplate/spec/backoffLimit', value: 0 },
        { op: 'add', path: '/spec/jobTemplate/spec/activeDeadlineSeconds', value: 600 },
        { op: 'add', path: '/spec/jobTemplate/spec/ttlSecondsAfterFinished', value: 3600 },
      ],
    },
    {
      name: 'no Job deadline (null): the default deadline, never none (JOB_ACTIVE_DEADLINE_SECONDS)',
      body: { activeDeadlineSeconds: null },
      ops: [{ op: 'add', path: '/spec/jobTemplate/spec/activeDeadlineSeconds', value: DEFAULT_DEADLINE }],
    },
    { name: 'the restart policy', body: { restartPolicy: 'Never' }, ops: [{ op: 'add', path: '/spec/jobTemplate/spec/template/spec/restartPolicy', value: 'Never' }] },
    {
      name: 'the command of the first container',
      body: { command: ['report', '--fast'] },
      ops: [{ op: 'add', path: '/spec/jobTemplate/spec/template/spec/containers/0/command', value: ['report', '--fast'] }],
    },
    {
      name: 'the args of a named container',
      body: { container: 'helper', args: ['--once'] },
      ops: [{ op: 'add', path: '/spec/jobTemplate/spec/template/spec/containers/1/args', value: ['--once'] }],
    },
    { name: 'no command override (null)', body: { command: null }, ops: [{ op: 'remove', path: '/spec/jobTemplate/spec/template/spec/containers/0/command' }] },
    {
      name: 'env: one replaced, one removed, one added, the secret reference kept',
      body: { env: { MODE: 'quick', GONE: null, DAY: 'today' } },
      ops: [
        {
          op: 'add',
          path: '/spec/jobTemplate/spec/template/spec/containers/0/env',
          value: [{ name: 'MODE', value: 'quick' }, { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }, { name: 'DAY', value: 'today' }],
        },
      ],
    },
    {
      name: 'env: the last variables removed',
      body: { env: { MODE: null, TOKEN: null } },
      ops: [{ op: 'remove', path: '/spec/jobTemplate/spec/template/spec/containers/0/env' }],
    },
    {
      name: 'hand-over to the app: label and suspend',
      body: { scheduler: 'app' },
      current: cronJob({ team: 'x' }),
      ops: [
        { op: 'add', path: LABEL_PATH, value: 'app' },
        { op: 'add', path: '/spec/suspend', value: true },
      ],
    },
    {
      name: 'hand-over of a CronJob without labels: the labels object is made',
      body: { scheduler: 'app' },
      ops: [
        { op: 'add', path: '/metadata/labels', value: { [SCHEDULER_LABEL]: 'app' } },
        { op: 'add', path: '/spec/suspend', value: true },
      ],
    },
    {
      name: 'hand-back to the cluster: label removed, suspend cleared',
      body: { scheduler: 'cluster' },
      current: cronJob({ [SCHEDULER_LABEL]: 'app' }, true),
      ops: [
        { op: 'remove', path: LABEL_PATH },
        { op: 'add', path: '/spec/suspend', value: false },
      ],
    },
    {
      name: 'hand-back that stays suspended when asked',
      body: { scheduler: 'cluster', suspend: true },
      current: cronJob({ [SCHEDULER_LABEL]: 'app' }, true),
      ops: [{ op: 'remove', path: LABEL_PATH }],
    },
  ])('$name: the caller’s resourceVersion first, then only what changes', ({ body, current, ops }) => {
    expect(plan(body, current).ops).toEqual([RV, ...ops]);
  });

  it('gives the schedule and zone the CronJob will have, to validate before sending', () => {
    expect(plan({ schedule: '*/5 * * * *' })).toMatchObject({ schedule: '*/5 * * * *', timeZone: 'Europe/Amsterdam', changed: ['schedule'] });
    expect(plan({ timeZone: null })).toMatchObject({ schedule: '0 3 * * *', timeZone: null });
  });

  it.each<{ name: string; body: UpdateCronJobBody; current?: V1CronJob; says: string }>([
    { name: 'a body that changes nothing', body: { schedule: '0 3 * * *', concurrencyPolicy: 'Forbid' }, says: 'nothing to change' },
    { name: 'an empty body', body: {}, says: 'nothing to change' },
    { name: 'an unknown container', body: { container: 'web', command: ['x'] }, says: 'container: CronJob "report" has no container "web"; it has "main", "helper"' },
    {
      name: 'resuming an app-scheduled CronJob without handing it back',
      body: { suspend: false },
      current: cronJob({ [SCHEDULER_LABEL]: 'app' }, true),
      says: 'send {"scheduler": "cluster"} to let the cluster run it',
    },
  ])('refuses $name', ({ body, current, says }) => {
    expect(() => plan(body, current)).toThrow(BadRequestError);
    expect(() => plan(body, current)).toThrow(says);
  });
});

describe('schedulerOf', () => {
  it.each([
    { name: 'no label: the cluster', labels: undefined, expected: 'cluster' },
    { name: 'the app label', labels: { [SCHEDULER_LABEL]: 'app' }, expected: 'app' },
    { name: 'another value: the cluster', labels: { [SCHEDULER_LABEL]: 'cluster' }, expected: 'cluster' },
  ])('$name', ({ labels, expected }) => {
    expect(schedulerOf(cronJob(labels))).toBe(expected);
  });
});
