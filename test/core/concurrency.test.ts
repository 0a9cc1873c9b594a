import type { V1CronJob, V1Job, V1JobCondition } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import {
  activeRunsOf,
  appRunIdOf,
  concurrencyPolicyOf,
  decideConcurrency,
  isJobFinished,
  parseConcurrencyPolicy,
} from '../../src/core/concurrency.js';
import { BadRequestError } from '../../src/core/errors.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, RUN_ID_LABEL } from '../../src/core/labels.js';

const cronJob: V1CronJob = {
  metadata: { name: 'report', namespace: 'batch', uid: 'cj-uid' },
  spec: { schedule: '* * * * *', jobTemplate: {} },
};

function job(name: string, o: { owner?: string; controller?: boolean; conditions?: string[]; deleting?: boolean; appRun?: boolean } = {}): V1Job {
  const conditions: V1JobCondition[] = (o.conditions ?? []).map((type) => ({ type, status: 'True' }));
  return {
    metadata: {
      name,
      namespace: 'batch',
      ...(o.deleting ? { deletionTimestamp: new Date('2026-11-23T10:00:00Z') } : {}),
      labels: o.appRun ? { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [RUN_ID_LABEL]: name } : {},
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'report', uid: o.owner ?? 'cj-uid', controller: o.controller ?? true }],
    },
    status: { conditions },
  };
}

describe('isJobFinished', () => {
  it.each([
    { name: 'no conditions', conditions: [], finished: false },
    { name: 'Complete', conditions: ['Complete'], finished: true },
    { name: 'Failed', conditions: ['Failed'], finished: true },
    { name: 'SuccessCriteriaMet before Complete (1.31+)', conditions: ['SuccessCriteriaMet'], finished: true },
    { name: 'FailureTarget before Failed (1.31+)', conditions: ['FailureTarget'], finished: true },
    { name: 'Suspended only', conditions: ['Suspended'], finished: false },
  ])('$name: $finished', ({ conditions, finished }) => {
    expect(isJobFinished(job('j', { conditions }))).toBe(finished);
  });

  it('a condition that is False does not finish a Job', () => {
    expect(isJobFinished({ status: { conditions: [{ type: 'Complete', status: 'False' }] } })).toBe(false);
  });
});

describe('activeRunsOf', () => {
  it('keeps unfinished Jobs whose controller is this CronJob, the app’s and the cluster’s alike', () => {
    const jobs = [
      job('cluster-made'),
      job('app-made', { appRun: true }),
      job('done', { conditions: ['Complete'] }),
      job('failed', { conditions: ['FailureTarget'] }),
      job('other-cronjob', { owner: 'other-uid' }),
      job('owner-not-controller', { controller: false }),
      job('being-deleted', { deleting: true }),
    ];
    expect(activeRunsOf(cronJob, jobs).map((j) => j.metadata?.name)).toEqual(['cluster-made', 'app-made']);
  });

  it('a CronJob without a uid (never stored) has no runs', () => {
    expect(activeRunsOf({ ...cronJob, metadata: { name: 'report' } }, [job('x')])).toEqual([]);
  });
});

describe('appRunIdOf', () => {
  it('is the run id of the app’s runs and undefined for the cluster’s', () => {
    expect(appRunIdOf(job('report-29000000', { appRun: true }))).toBe('report-29000000');
    expect(appRunIdOf(job('report-29000000'))).toBeUndefined();
  });
});

describe('decideConcurrency', () => {
  it.each([
    { name: 'Allow with nothing active starts', policy: 'Allow' as const, active: [], expected: { kind: 'start', replace: [] } },
    { name: 'Allow alongside an active run starts', policy: 'Allow' as const, active: ['a'], expected: { kind: 'start', replace: [] } },
    { name: 'Forbid with nothing active starts', policy: 'Forbid' as const, active: [], expected: { kind: 'start', replace: [] } },
    { name: 'Forbid with an active run skips, naming it', policy: 'Forbid' as const, active: ['a', 'b'], expected: { kind: 'skip', active: ['a', 'b'] } },
    { name: 'Replace with nothing active starts', policy: 'Replace' as const, active: [], expected: { kind: 'start', replace: [] } },
    { name: 'Replace with active runs replaces them', policy: 'Replace' as const, active: ['a', 'b'], expected: { kind: 'start', replace: ['a', 'b'] } },
  ])('$name', ({ policy, active, expected }) => {
    expect(decideConcurrency(policy, active)).toEqual(expected);
  });
});

describe('policies', () => {
  it.each([
    { name: 'unset is Allow, as the API server defaults it', value: undefined, expected: 'Allow' },
    { name: 'Forbid', value: 'Forbid', expected: 'Forbid' },
    { name: 'Replace', value: 'Replace', expected: 'Replace' },
  ])('the CronJob’s: $name', ({ value, expected }) => {
    expect(concurrencyPolicyOf({ ...cronJob, spec: { ...cronJob.spec, ...(value ? { concurrencyPolicy: value } : {}) } })).toBe(expected);
  });

  it('a caller’s override is one of the three, or absent', () => {
    expect(parseConcurrencyPolicy(null)).toBeUndefined();
    expect(parseConcurrencyPolicy('')).toBeUndefined();
    expect(parseConcurrencyPolicy('Allow')).toBe('Allow');
    expect(() => parseConcurrencyPolicy('allow')).toThrow(BadRequestError);
    expect(() => parseConcurrencyPolicy('Sometimes')).toThrow(/concurrencyPolicy must be one of Allow, Forbid, Replace, got "Sometimes"/);
  });
});
