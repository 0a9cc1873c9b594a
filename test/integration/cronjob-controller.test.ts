import type { V1CronJob, V1Job } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import { COMPLETE_DELAY_ANNOTATION, FAIL_LABEL } from '../../testenv/fates.js';
import { adminKube, condition, testJob, useNamespace, waitFor } from './helpers.js';

/**
 * Evidence, not a feature: what the Kubernetes v1.34 CronJob controller does for a CronJob that is suspended
 * (as every CronJob handed to the app's scheduler is) when Jobs name it as their controller, the way the app's
 * scheduled runs do. The scheduler relies on what this shows (docs/decisions.md, "Scheduler").
 */
const ns = useNamespace('cjctl');
const kube = adminKube();

async function suspendedCronJob(name: string, limits: { successful: number; failed: number }): Promise<V1CronJob> {
  return kube.batch.createNamespacedCronJob({
    namespace: ns(),
    body: {
      metadata: { name },
      spec: {
        schedule: '0 0 1 1 *',
        suspend: true,
        successfulJobsHistoryLimit: limits.successful,
        failedJobsHistoryLimit: limits.failed,
        jobTemplate: { spec: testJob({ name, namespace: ns() }).spec },
      },
    },
  });
}

/** A Job owned the way the app's runs are: controller true, no blockOwnerDeletion. */
async function ownedJob(cronJob: V1CronJob, name: string, job: V1Job): Promise<V1Job> {
  job.metadata = {
    ...job.metadata,
    name,
    ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: cronJob.metadata?.name ?? '', uid: cronJob.metadata?.uid ?? '', controller: true }],
  };
  return kube.batch.createNamespacedJob({ namespace: ns(), body: job });
}

async function jobNames(): Promise<string[]> {
  return (await kube.batch.listNamespacedJob({ namespace: ns() })).items.map((j) => j.metadata?.name ?? '').sort();
}

function finished(job: V1Job): boolean {
  return ['Complete', 'Failed'].some((type) => condition(job, type)?.status === 'True');
}

describe('the CronJob controller, for a suspended CronJob', () => {
  it('prunes finished Jobs it controls beyond the history limits and records lastSuccessfulTime', async () => {
    const cronJob = await suspendedCronJob('pruned', { successful: 1, failed: 1 });
    // One at a time, so their start times (which the controller sorts by) differ.
    for (const name of ['pruned-1', 'pruned-2', 'pruned-3']) {
      await ownedJob(cronJob, name, testJob({ name, namespace: ns(), annotations: { [COMPLETE_DELAY_ANNOTATION]: '100ms' } }));
      await waitFor(`${name} to complete`, async () => finished(await kube.batch.readNamespacedJob({ name, namespace: ns() })));
    }
    for (const name of ['pruned-f1', 'pruned-f2']) {
      await ownedJob(cronJob, name, testJob({ name, namespace: ns(), labels: { [FAIL_LABEL]: 'true' } }));
      await waitFor(`${name} to fail`, async () => finished(await kube.batch.readNamespacedJob({ name, namespace: ns() })));
    }
    // Only the newest of each kind stays; the controller deletes the others although the CronJob is suspended.
    await waitFor('the history limits to be applied', async () => {
      const names = (await jobNames()).filter((n) => n.startsWith('pruned-'));
      return names.length === 2 && names.includes('pruned-3') && names.includes('pruned-f2');
    });
    const status = (await kube.batch.readNamespacedCronJob({ name: 'pruned', namespace: ns() })).status;
    expect(status?.lastSuccessfulTime).toBeDefined();
    // It never schedules a suspended CronJob, so it never sets lastScheduleTime.
    expect(status?.lastScheduleTime).toBeUndefined();
  });

  it('does not list an unfinished Job it did not create as active, and warns UnexpectedJob', async () => {
    const cronJob = await suspendedCronJob('unlisted', { successful: 3, failed: 1 });
    await ownedJob(cronJob, 'unlisted-1', testJob({ name: 'unlisted-1', namespace: ns(), annotations: { [COMPLETE_DELAY_ANNOTATION]: '1h' } }));
    await waitFor('the controller to warn UnexpectedJob', async () => {
      const events = await kube.core.listNamespacedEvent({ namespace: ns(), fieldSelector: 'involvedObject.name=unlisted' });
      return events.items.some((e) => e.reason === 'UnexpectedJob' && e.message?.includes('unlisted-1'));
    });
    const status = (await kube.batch.readNamespacedCronJob({ name: 'unlisted', namespace: ns() })).status;
    // So status.active is no source of the app's active runs: the scheduler lists Jobs by owner itself.
    expect(status?.active ?? []).toEqual([]);
  });
});
