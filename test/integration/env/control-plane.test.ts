import { VersionApi } from '@kubernetes/client-node';
import { describe, inject, it } from 'vitest';

import {
  evicted,
  fails,
  FATES,
  LOCAL_POD_LOG_LINES,
  succeeds,
  UNPULLABLE_IMAGE,
  UNSCHEDULABLE_NODE_SELECTOR,
  waits,
} from '../../../testenv/fates.js';
import { adminKube, condition, jobPods, noRightsKube, testJob, useNamespace, waitFor } from '../helpers.js';

/** The test environment is Kubernetes itself: these are its controllers' answers, not ours. */
const ns = useNamespace('env');
const kube = adminKube();

async function jobStatus(name: string) {
  return kube.batch.readNamespacedJobStatus({ name, namespace: ns() });
}

async function waitingReason(job: string, reason: string) {
  return waitFor(`a pod of ${job} waiting with ${reason}`, async () =>
    (await jobPods(kube, ns(), job)).find((p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === reason),
  );
}

/** The UTC offset of `zone` at `instant`, as RFC 3339 writes it ("+01:00"). */
function offsetOf(zone: string, instant: Date): string {
  const name = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' }).formatToParts(instant).find((p) => p.type === 'timeZoneName')?.value;
  const offset = name?.replace('GMT', '') ?? '';
  return offset === '' ? 'Z' : offset;
}

describe.concurrent('the local control plane', () => {
  it('is the pinned Kubernetes release', async ({ expect }) => {
    const version = await kube.kc.makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).toBe('v1.34.4');
  });

  it('runs a Job to SuccessCriteriaMet and Complete through the Job controller', async ({ expect }) => {
    await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'ok', namespace: ns(), fate: succeeds({ runFor: '1s' }) }) });
    const job = await waitFor('Complete', async () => {
      const j = await jobStatus('ok');
      return condition(j, 'Complete')?.status === 'True' ? j : undefined;
    });
    expect(condition(job, 'SuccessCriteriaMet')).toMatchObject({ status: 'True', reason: 'CompletionsReached' });
    expect(condition(job, 'Complete')).toMatchObject({ status: 'True', reason: 'CompletionsReached' });
    expect(job.status?.succeeded).toBe(1);
    const [pod] = await jobPods(kube, ns(), 'ok');
    expect(pod?.spec?.nodeName).toMatch(/^kwok-node-\d$/);
    expect(pod?.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
  });

  it('drives a Job whose pod fails, with backoffLimit 0, to FailureTarget and Failed with BackoffLimitExceeded', async ({ expect }) => {
    await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'fails', namespace: ns(), backoffLimit: 0, fate: fails({ exitCode: 3 }) }) });
    const job = await waitFor('Failed', async () => {
      const j = await jobStatus('fails');
      return condition(j, 'Failed')?.status === 'True' ? j : undefined;
    });
    expect(condition(job, 'FailureTarget')).toMatchObject({ status: 'True', reason: 'BackoffLimitExceeded' });
    expect(condition(job, 'Failed')).toMatchObject({ status: 'True', reason: 'BackoffLimitExceeded' });
    expect(condition(job, 'Complete')).toBeUndefined();
    const pods = await jobPods(kube, ns(), 'fails');
    expect(pods).toHaveLength(1);
    expect(pods[0]?.status?.phase).toBe('Failed');
    expect(pods[0]?.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 3, reason: 'Error' });
  });

  it('gives a suspended Job the Suspended condition and no pods', async ({ expect }) => {
    await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'held', namespace: ns(), suspend: true }) });
    const job = await waitFor('Suspended', async () => {
      const j = await jobStatus('held');
      return condition(j, 'Suspended')?.status === 'True' ? j : undefined;
    });
    expect(condition(job, 'Suspended')?.reason).toBe('JobSuspended');
    expect(job.status?.active ?? 0).toBe(0);
    expect(await jobPods(kube, ns(), 'held')).toEqual([]);
  });

  it('lets the CronJob controller create the Job of the due minute, in the CronJob time zone', async ({ expect }) => {
    const zone = 'Europe/Amsterdam';
    await kube.batch.createNamespacedCronJob({
      namespace: ns(),
      body: {
        metadata: { name: 'every-minute' },
        spec: { schedule: '* * * * *', timeZone: zone, jobTemplate: { spec: testJob({ name: 'x', namespace: ns(), fate: succeeds() }).spec } },
      },
    });
    // The first due minute is at most 60 s away; the controller acts on it within a second or two.
    const job = await waitFor(
      'a scheduled Job',
      async () => (await kube.batch.listNamespacedJob({ namespace: ns() })).items.find((j) => j.metadata?.ownerReferences?.some((o) => o.kind === 'CronJob' && o.name === 'every-minute')),
      80_000,
      1000,
    );
    expect(job.metadata?.name).toMatch(/^every-minute-\d{8}$/);
    const scheduled = new Date(Number(job.metadata?.name?.split('-').pop()) * 60_000);
    const stamp = job.metadata?.annotations?.['batch.kubernetes.io/cronjob-scheduled-timestamp'] ?? '';
    expect(new Date(stamp).getTime()).toBe(scheduled.getTime());
    expect(stamp.endsWith(offsetOf(zone, scheduled))).toBe(true);
    expect(job.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'CronJob', name: 'every-minute', controller: true });
    const cronJob = await waitFor('lastScheduleTime', async () => {
      const c = await kube.batch.readNamespacedCronJobStatus({ name: 'every-minute', namespace: ns() });
      return c.status?.lastScheduleTime ? c : undefined;
    });
    expect(new Date(cronJob.status?.lastScheduleTime ?? 0).getTime()).toBe(scheduled.getTime());
    await kube.batch.deleteNamespacedCronJob({ name: 'every-minute', namespace: ns(), propagationPolicy: 'Background' });
  });

  it('removes the pods of a Job deleted with propagation Background', async ({ expect }) => {
    await kube.batch.createNamespacedJob({
      namespace: ns(),
      body: testJob({ name: 'long', namespace: ns(), fate: succeeds({ runFor: '1h' }), terminationGracePeriodSeconds: 2 }),
    });
    await waitFor('a running pod', async () => (await jobPods(kube, ns(), 'long')).some((p) => p.status?.phase === 'Running'));
    await kube.batch.deleteNamespacedJob({ name: 'long', namespace: ns(), propagationPolicy: 'Background' });
    await waitFor('no pods', async () => (await jobPods(kube, ns(), 'long')).length === 0, 60_000, 500);
    await expect(jobStatus('long')).rejects.toMatchObject({ code: 404 });
  });

  it('answers 403 to a user without rights, and 200 once a RoleBinding grants them', async ({ expect }) => {
    const nobody = noRightsKube();
    await expect(nobody.batch.listNamespacedJob({ namespace: ns() })).rejects.toMatchObject({ code: 403 });
    await kube.rbac.createNamespacedRole({
      namespace: ns(),
      body: { metadata: { name: 'job-reader' }, rules: [{ apiGroups: ['batch'], resources: ['jobs'], verbs: ['list'] }] },
    });
    await kube.rbac.createNamespacedRoleBinding({
      namespace: ns(),
      body: {
        metadata: { name: 'job-reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'job-reader' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: inject('noRightsUser') }],
      },
    });
    const list = await waitFor('the binding to take effect', () => nobody.batch.listNamespacedJob({ namespace: ns() }), 10_000);
    expect(Array.isArray(list.items)).toBe(true);
    await expect(nobody.core.listNamespacedPod({ namespace: ns() })).rejects.toMatchObject({ code: 403 });
  });

  it('serves pod logs through the API server', async ({ expect }) => {
    await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'logs', namespace: ns(), fate: succeeds({ runFor: '1h' }) }) });
    const pod = await waitFor('a running pod', async () => (await jobPods(kube, ns(), 'logs')).find((p) => p.status?.phase === 'Running'));
    const name = pod.metadata?.name ?? '';
    const text = await kube.core.readNamespacedPodLog({ name, namespace: ns(), container: 'main' });
    expect(text.trimEnd().split('\n')).toEqual([...LOCAL_POD_LOG_LINES]);
    const last = await kube.core.readNamespacedPodLog({ name, namespace: ns(), container: 'main', tailLines: 2 });
    expect(last.trimEnd().split('\n')).toEqual(LOCAL_POD_LOG_LINES.slice(-2));
    const first = await kube.core.readNamespacedPodLog({ name, namespace: ns(), container: 'main', limitBytes: 10 });
    expect(first).toBe(LOCAL_POD_LOG_LINES[0].slice(0, 10));
    const previous = await kube.core.readNamespacedPodLog({ name, namespace: ns(), container: 'main', previous: true });
    expect(previous).toBe(text);
  });

  it('keeps a pod whose image is on a .invalid host in ErrImagePull, then ImagePullBackOff, with events', async ({ expect }) => {
    await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'badimage', namespace: ns(), image: UNPULLABLE_IMAGE }) });
    const pulling = await waitingReason('badimage', 'ErrImagePull');
    expect(pulling.status?.containerStatuses?.[0]?.state?.waiting?.message).toContain(UNPULLABLE_IMAGE);
    const backingOff = await waitingReason('badimage', 'ImagePullBackOff');
    expect(backingOff.status?.containerStatuses?.[0]?.state?.waiting?.message).toBe(`Back-off pulling image "${UNPULLABLE_IMAGE}"`);
    expect(backingOff.status?.phase).toBe('Pending');
    // The kubelet's (here kwok's) events, which a run's status shows while it waits.
    await waitFor('Failed and BackOff events', async () => {
      const events = await kube.core.listNamespacedEvent({ namespace: ns(), fieldSelector: `involvedObject.name=${backingOff.metadata?.name ?? ''}` });
      const reasons = events.items.map((e) => e.reason);
      return reasons.includes('Failed') && reasons.includes('BackOff');
    });
    expect((await jobStatus('badimage')).status?.conditions ?? []).toEqual([]);
  });

  it('keeps a pod with the image-pull-error fate and a good image in ErrImagePull', async () => {
    await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'pullfate', namespace: ns(), fate: waits(FATES.imagePullError) }) });
    await waitingReason('pullfate', 'ErrImagePull');
  });

  it('reports InvalidImageName for an image name no registry accepts', async ({ expect }) => {
    await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'badname', namespace: ns(), image: 'Busybox:1.36' }) });
    const pod = await waitingReason('badname', 'InvalidImageName');
    expect(pod.status?.containerStatuses?.[0]?.state?.waiting?.message).toContain('Busybox:1.36');
  });

  it('keeps a pod with the config-error fate in CreateContainerConfigError', async ({ expect }) => {
    await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'configerror', namespace: ns(), fate: waits(FATES.createContainerConfigError) }) });
    const pod = await waitingReason('configerror', 'CreateContainerConfigError');
    expect(pod.status?.phase).toBe('Pending');
  });

  it('fails a pod OOM-killed: exit code 137, reason OOMKilled, as the runtime reports it', async ({ expect }) => {
    await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'oomkilled', namespace: ns(), fate: fails({ exitCode: 137, reason: 'OOMKilled' }) }) });
    const pod = await waitFor('a failed pod', async () => (await jobPods(kube, ns(), 'oomkilled')).find((p) => p.status?.phase === 'Failed'));
    expect(pod.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 137, reason: 'OOMKilled' });
  });

  it('evicts a pod as the kubelet does under node pressure: Failed, Evicted, DisruptionTarget TerminationByKubelet, 137, an Evicted event', async ({ expect }) => {
    await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'evicted', namespace: ns(), fate: evicted({ after: '500ms' }) }) });
    const pod = await waitFor('an evicted pod', async () => (await jobPods(kube, ns(), 'evicted')).find((p) => p.status?.phase === 'Failed'));
    expect(pod.status).toMatchObject({ reason: 'Evicted', message: expect.stringContaining('The node was low on resource: memory') as unknown });
    expect(pod.status?.conditions?.find((c) => c.type === 'DisruptionTarget')).toMatchObject({ status: 'True', reason: 'TerminationByKubelet' });
    expect(pod.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 137 });
    const events = await waitFor('the Evicted event', async () => {
      const list = await kube.core.listNamespacedEvent({ namespace: ns(), fieldSelector: `involvedObject.name=${pod.metadata?.name ?? ''}` });
      return list.items.some((e) => e.reason === 'Evicted') ? list.items : undefined;
    });
    expect(events.find((e) => e.reason === 'Evicted')?.type).toBe('Warning');
    await waitFor('the Job to fail', async () => condition(await jobStatus('evicted'), 'Failed')?.status === 'True');
  });

  it('completes a pod with the termination message of its annotation', async ({ expect }) => {
    const message = '{"rows":42,"file":"out.csv"}';
    await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'message', namespace: ns(), fate: succeeds({ terminationMessage: message }) }) });
    const pod = await waitFor('a succeeded pod', async () => (await jobPods(kube, ns(), 'message')).find((p) => p.status?.phase === 'Succeeded'));
    expect(pod.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 0, reason: 'Completed', message });
    await waitFor('Complete', async () => condition(await jobStatus('message'), 'Complete')?.status === 'True');
  });

  it('fails a pod with an exit code and the termination message of its annotation', async ({ expect }) => {
    const message = 'could not open input.csv';
    await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'failmessage', namespace: ns(), fate: fails({ exitCode: 2, terminationMessage: message }) }) });
    const pod = await waitFor('a failed pod', async () => (await jobPods(kube, ns(), 'failmessage')).find((p) => p.status?.phase === 'Failed'));
    expect(pod.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 2, reason: 'Error', message });
  });

  it('leaves a pod no node can take Pending with PodScheduled=False Unschedulable', async ({ expect }) => {
    await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'nowhere', namespace: ns(), nodeSelector: { ...UNSCHEDULABLE_NODE_SELECTOR } }) });
    const pod = await waitFor('Unschedulable', async () =>
      (await jobPods(kube, ns(), 'nowhere')).find((p) => p.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable')),
    );
    expect(pod.status?.phase).toBe('Pending');
    expect(pod.spec?.nodeName).toBeUndefined();
  });
});
