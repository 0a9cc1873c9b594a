import { describe, expect, inject, it } from 'vitest';

import {
  COMPLETE_DELAY_ANNOTATION,
  FAIL_EXIT_CODE_ANNOTATION,
  FAIL_LABEL,
  FATE_ANNOTATION,
  FATES,
  LOCAL_POD_LOG_LINES,
  TERMINATION_MESSAGE_ANNOTATION,
  UNSCHEDULABLE_NODE_SELECTOR,
} from '../../../testenv/fates.js';
import { adminKube, condition, kubeFrom, testJob, useNamespace, waitFor } from '../helpers.js';

/** The test environment is Kubernetes itself: these are its controllers' answers, not ours. */
const ns = useNamespace('env');
const kube = adminKube();

async function jobPods(namespace: string, job: string) {
  return (await kube.core.listNamespacedPod({ namespace, labelSelector: `batch.kubernetes.io/job-name=${job}` })).items;
}

describe('the local control plane', () => {
  it('runs a Job to SuccessCriteriaMet and Complete through the Job controller', async () => {
    await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'ok', namespace: ns(), annotations: { [COMPLETE_DELAY_ANNOTATION]: '1s' } }) });
    const job = await waitFor('Complete', async () => {
      const j = await kube.batch.readNamespacedJobStatus({ name: 'ok', namespace: ns() });
      return condition(j, 'Complete')?.status === 'True' ? j : undefined;
    });
    expect(condition(job, 'SuccessCriteriaMet')?.status).toBe('True');
    expect(condition(job, 'Complete')?.reason).toBe('CompletionsReached');
    expect(job.status?.succeeded).toBe(1);
  });

  it('drives a Job whose pod fails to FailureTarget and Failed with BackoffLimitExceeded', async () => {
    await kube.batch.createNamespacedJob({
      namespace: ns(),
      body: testJob({ name: 'fails', namespace: ns(), labels: { [FAIL_LABEL]: 'true' }, annotations: { [FAIL_EXIT_CODE_ANNOTATION]: '3' } }),
    });
    const job = await waitFor('Failed', async () => {
      const j = await kube.batch.readNamespacedJobStatus({ name: 'fails', namespace: ns() });
      return condition(j, 'Failed')?.status === 'True' ? j : undefined;
    });
    expect(condition(job, 'FailureTarget')?.reason).toBe('BackoffLimitExceeded');
    expect(condition(job, 'Failed')?.reason).toBe('BackoffLimitExceeded');
    const pods = await jobPods(ns(), 'fails');
    expect(pods[0]?.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(3);
  });

  it('gives a suspended Job the Suspended condition and no pods', async () => {
    await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'held', namespace: ns(), suspend: true }) });
    const job = await waitFor('Suspended', async () => {
      const j = await kube.batch.readNamespacedJobStatus({ name: 'held', namespace: ns() });
      return condition(j, 'Suspended')?.status === 'True' ? j : undefined;
    });
    expect(job.status?.active ?? 0).toBe(0);
    expect(await jobPods(ns(), 'held')).toEqual([]);
  });

  it('lets the CronJob controller create a scheduled Job named after the due minute', async () => {
    const template = testJob({ name: 'x', namespace: ns() });
    await kube.batch.createNamespacedCronJob({
      namespace: ns(),
      body: { metadata: { name: 'every-minute' }, spec: { schedule: '* * * * *', timeZone: 'Europe/Amsterdam', jobTemplate: { spec: template.spec } } },
    });
    const jobs = await waitFor(
      'a scheduled Job',
      async () => {
        const list = await kube.batch.listNamespacedJob({ namespace: ns() });
        const scheduled = list.items.filter((j) => j.metadata?.ownerReferences?.some((o) => o.kind === 'CronJob' && o.name === 'every-minute'));
        return scheduled.length > 0 ? scheduled : undefined;
      },
      75_000,
      1000,
    );
    const job = jobs[0];
    expect(job?.metadata?.name).toMatch(/^every-minute-\d{8}$/);
    const minutes = Number(job?.metadata?.name?.split('-').pop());
    expect(job?.metadata?.annotations?.['batch.kubernetes.io/cronjob-scheduled-timestamp']).toBe(new Date(minutes * 60_000).toISOString().replace('.000Z', 'Z'));
    expect(job?.metadata?.ownerReferences?.[0]?.controller).toBe(true);
    await kube.batch.deleteNamespacedCronJob({ name: 'every-minute', namespace: ns(), propagationPolicy: 'Background' });
  });

  it('removes the pods of a Job deleted with propagation Background', async () => {
    await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'long', namespace: ns(), annotations: { [COMPLETE_DELAY_ANNOTATION]: '1h' } }) });
    await waitFor('a running pod', async () => (await jobPods(ns(), 'long')).some((p) => p.status?.phase === 'Running'));
    await kube.batch.deleteNamespacedJob({ name: 'long', namespace: ns(), propagationPolicy: 'Background' });
    await waitFor('no pods', async () => (await jobPods(ns(), 'long')).length === 0, 60_000, 500);
  });

  it('answers 403 to a user without rights', async () => {
    const nobody = kubeFrom(inject('noRightsKubeconfigPath'));
    const error = await nobody.batch.listNamespacedJob({ namespace: ns() }).catch((e: unknown) => e);
    expect((error as { code?: number }).code).toBe(403);
  });

  it('serves pod logs through the API server', async () => {
    await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'logs', namespace: ns(), annotations: { [COMPLETE_DELAY_ANNOTATION]: '1h' } }) });
    const pod = await waitFor('a running pod', async () => (await jobPods(ns(), 'logs')).find((p) => p.status?.phase === 'Running'));
    const text = await kube.core.readNamespacedPodLog({ name: pod.metadata?.name ?? '', namespace: ns(), container: 'main' });
    expect(text).toContain(LOCAL_POD_LOG_LINES[0]);
  });

  it('keeps a pod with a bad image in ErrImagePull, then ImagePullBackOff', async () => {
    await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'badimage', namespace: ns(), image: 'registry.invalid/nope:1' }) });
    const pod = await waitFor('ImagePullBackOff', async () =>
      (await jobPods(ns(), 'badimage')).find((p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ImagePullBackOff'),
    );
    expect(pod.status?.containerStatuses?.[0]?.state?.waiting?.message).toContain('registry.invalid/nope:1');
    expect(pod.status?.phase).toBe('Pending');
  });

  it('keeps a pod with the config-error fate in CreateContainerConfigError', async () => {
    await kube.batch.createNamespacedJob({
      namespace: ns(),
      body: testJob({ name: 'configerror', namespace: ns(), annotations: { [FATE_ANNOTATION]: FATES.createContainerConfigError } }),
    });
    await waitFor('CreateContainerConfigError', async () =>
      (await jobPods(ns(), 'configerror')).find((p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerConfigError'),
    );
  });

  it('completes a pod with the termination message of its annotation', async () => {
    const message = '{"rows":42,"file":"out.csv"}';
    await kube.batch.createNamespacedJob({
      namespace: ns(),
      body: testJob({ name: 'message', namespace: ns(), annotations: { [TERMINATION_MESSAGE_ANNOTATION]: message, [COMPLETE_DELAY_ANNOTATION]: '1s' } }),
    });
    const pod = await waitFor('a succeeded pod', async () => (await jobPods(ns(), 'message')).find((p) => p.status?.phase === 'Succeeded'));
    expect(pod.status?.containerStatuses?.[0]?.state?.terminated?.message).toBe(message);
  });

  it('leaves a pod no node can take Pending with PodScheduled=False Unschedulable', async () => {
    await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'nowhere', namespace: ns(), nodeSelector: { ...UNSCHEDULABLE_NODE_SELECTOR } }) });
    const pod = await waitFor('Unschedulable', async () =>
      (await jobPods(ns(), 'nowhere')).find((p) => p.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.reason === 'Unschedulable')),
    );
    expect(pod.status?.phase).toBe('Pending');
  });
});
