import type { V1Job } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import type { ClusterSettings } from '../../src/config.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../src/core/labels.js';
import { ActiveRunLimitError, assertRunCapacity, countActiveRuns } from '../../src/runs/capacity.js';
import { FakeKube } from '../fakes/kube.js';

const cluster = (namespaces: string[]): ClusterSettings => ({ alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/k', namespaces });
const job = (name: string, namespace: string, extra: Partial<V1Job> = {}, managed = true): V1Job => ({
  metadata: { name, namespace, labels: managed ? { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } : {} },
  ...extra,
});

describe('countActiveRuns', () => {
  const kube = new FakeKube()
    .addJob(job('a', 'batch'))
    .addJob(job('b', 'etl'))
    .addJob(job('c', 'other'))
    .addJob(job('done', 'batch', { status: { conditions: [{ type: 'Complete', status: 'True' }] } }))
    .addJob(job('failing', 'batch', { status: { conditions: [{ type: 'FailureTarget', status: 'True' }] } }))
    .addJob(job('not-yet', 'batch', { status: { conditions: [{ type: 'Failed', status: 'False' }] } }))
    .addJob(job('deleting', 'batch', { metadata: { name: 'deleting', namespace: 'batch', deletionTimestamp: new Date(), labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } } }))
    .addJob(job('source', 'batch', {}, false));

  it.each([
    { name: 'the allowed namespaces, one list each', namespaces: ['batch', 'etl'], expected: 3, lists: ['listJobs batch', 'listJobs etl'] },
    { name: 'the named namespaces and the started one, with "*"', namespaces: ['etl', '*'], expected: 3, lists: ['listJobs etl', 'listJobs batch'] },
    { name: 'the started namespace alone, with only "*"', namespaces: ['*'], expected: 2, lists: ['listJobs batch'] },
  ])('counts the unfinished runs of $name', async ({ namespaces, expected, lists }) => {
    kube.calls.length = 0;
    expect(await countActiveRuns(kube, cluster(namespaces), 'batch', 1000)).toBe(expected);
    expect(kube.calls).toEqual(lists);
  });

  it('stops listing once the count reaches the limit', async () => {
    kube.calls.length = 0;
    expect(await countActiveRuns(kube, cluster(['batch', 'etl', 'other']), 'batch', 2)).toBeGreaterThanOrEqual(2);
    expect(kube.calls).toEqual(['listJobs batch']);
  });

  it('refuses with a 429 at the limit and not below it', async () => {
    await expect(assertRunCapacity(kube, cluster(['batch', 'etl']), 'batch', 4)).resolves.toBeUndefined();
    const refusal = assertRunCapacity(kube, cluster(['batch', 'etl']), 'batch', 3);
    await expect(refusal).rejects.toBeInstanceOf(ActiveRunLimitError);
    await expect(refusal).rejects.toThrow('MAX_ACTIVE_RUNS_PER_CLUSTER');
  });
});
