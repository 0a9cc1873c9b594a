import type { V1Job } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import { namespaceJobs } from '../../src/runs/cronjob-runs.js';
import { FakeKube } from '../fakes/kube.js';

function jobs(count: number): FakeKube {
  const kube = new FakeKube();
  for (let i = 0; i < count; i++) {
    const job: V1Job = { metadata: { name: `job-${String(i).padStart(5, '0')}`, namespace: 'batch' }, spec: { template: { spec: { containers: [] } } } };
    kube.addJob(job);
  }
  return kube;
}

describe('namespaceJobs', () => {
  it.each([
    { name: 'one page', count: 3, pages: 1 },
    { name: 'three pages of 500', count: 1100, pages: 3 },
    { name: 'exactly one full page', count: 500, pages: 1 },
  ])('reads every Job of the namespace: $name', async ({ count, pages }) => {
    const kube = jobs(count);
    expect(await namespaceJobs(kube, 'batch')).toHaveLength(count);
    expect(kube.calls.filter((c) => c.startsWith('listJobs'))).toHaveLength(pages);
  });

  it('stops after 10 pages rather than slow every listing down', async () => {
    const kube = jobs(5200);
    expect(await namespaceJobs(kube, 'batch')).toHaveLength(5000);
    expect(kube.calls.filter((c) => c.startsWith('listJobs'))).toHaveLength(10);
  });

  it('reads only its own namespace', async () => {
    const kube = jobs(2);
    expect(await namespaceJobs(kube, 'other')).toEqual([]);
  });
});
