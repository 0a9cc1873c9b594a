import { readFileSync } from 'node:fs';

import { ApiException, loadAllYaml, type V1Role, type V1RoleBinding } from '@kubernetes/client-node';
import { beforeAll, describe, expect, inject, it } from 'vitest';

import { KubeconfigFileSource } from '../../src/clients/credentials.js';
import { ClientNodeGateway, type KubeGateway } from '../../src/clients/kube.js';
import { JOB_NAME_POD_LABEL } from '../../src/core/labels.js';
import { LOCAL_POD_LOG_LINES } from '../../testenv/fates.js';
import { adminKube, noRightsKube, testJob, useNamespace, waitFor } from './helpers.js';

/**
 * infra/kubernetes/rbac.yaml, as an operator applies it, bound to a user that has no other right: every gateway
 * method works with that user's credentials, and what the Role leaves out is refused by the API server's own
 * RBAC. (test/infra checks the Role is no more than the gateway's permission table; this checks it is enough.)
 */
const ns = useNamespace('rbac');
const admin = adminKube();
const RUN = 'rbac-run';
const CRONJOB = 'rbac-cron';
const MADE = 'rbac-made';
const DEPLOYMENT = 'rbac-web';

let gateway: KubeGateway;
let podName = '';
let role: V1Role;
let binding: V1RoleBinding;

beforeAll(async () => {
  const manifest = readFileSync(new URL('../../infra/kubernetes/rbac.yaml', import.meta.url), 'utf8')
    .replaceAll('PRINCIPAL_OBJECT_ID', inject('noRightsUser'))
    .replaceAll('NAMESPACE', ns());
  [role, binding] = loadAllYaml(manifest) as [V1Role, V1RoleBinding];
  await admin.rbac.createNamespacedRole({ namespace: ns(), body: role });
  await admin.rbac.createNamespacedRoleBinding({ namespace: ns(), body: binding });
  await admin.batch.createNamespacedCronJob({
    namespace: ns(),
    body: {
      metadata: { name: CRONJOB },
      spec: { schedule: '0 3 * * *', suspend: true, jobTemplate: { spec: testJob({ name: 'x', namespace: ns() }).spec } },
    },
  });
  await admin.apps.createNamespacedDeployment({
    namespace: ns(),
    body: {
      metadata: { name: DEPLOYMENT },
      spec: { selector: { matchLabels: { app: DEPLOYMENT } }, template: { metadata: { labels: { app: DEPLOYMENT } }, spec: { containers: [{ name: 'web', image: 'busybox:1.36' }] } } },
    },
  });
  gateway = new ClientNodeGateway(new KubeconfigFileSource(inject('noRightsKubeconfigPath')), 10_000);
  // The RBAC authorizer sees a new binding through its informer, a moment after the create.
  await waitFor('the RoleBinding to take effect', async () => (await gateway.listJobs(ns())).items);
});

/**
 * One call of each gateway method, in an order where each finds what the ones before made. Typed by the
 * gateway's methods, so a new method does not compile until it is proven here too.
 */
const calls: Record<keyof KubeGateway, () => Promise<unknown>> = {
  createJob: async () => { expect((await gateway.createJob(ns(), testJob({ name: RUN, namespace: ns() }))).metadata?.uid).toBeTruthy(); },
  readJob: async () => { expect((await gateway.readJob(ns(), RUN))?.metadata?.name).toBe(RUN); },
  listJobs: async () => { expect((await gateway.listJobs(ns())).items.map((j) => j.metadata?.name)).toContain(RUN); },
  readCronJob: async () => { expect((await gateway.readCronJob(ns(), CRONJOB))?.spec.schedule).toBe('0 3 * * *'); },
  listCronJobs: async () => { expect((await gateway.listCronJobs(ns())).items.map((c) => c.metadata?.name)).toEqual([CRONJOB]); },
  listPods: async () => {
    const pod = await waitFor('the run pod to be running', async () =>
      (await gateway.listPods(ns(), `${JOB_NAME_POD_LABEL}=${RUN}`)).find((p) => p.status?.phase === 'Running' || p.status?.phase === 'Succeeded'),
    );
    podName = pod.metadata?.name ?? '';
  },
  // The Job controller records its events through a broadcaster that writes them a moment after the pod exists.
  listEvents: async () => {
    await waitFor('the Job controller\'s SuccessfulCreate event, read as the app identity', async () =>
      (await gateway.listEvents(ns(), RUN)).some((e) => e.reason === 'SuccessfulCreate'),
    );
  },
  readPodLog: async () => { expect(await gateway.readPodLog(ns(), podName, { container: 'main' })).toContain(LOCAL_POD_LOG_LINES[0]); },
  streamPodLog: async () => {
    const stream = await gateway.streamPodLog(ns(), podName, { container: 'main', timestamps: true });
    let text = '';
    for await (const chunk of stream.chunks) text += Buffer.from(chunk).toString('utf8');
    expect(text).toContain(LOCAL_POD_LOG_LINES[0]);
  },
  listPodsPage: async () => { expect((await gateway.listPodsPage(ns(), { labelSelector: `${JOB_NAME_POD_LABEL} in (${RUN},other)`, limit: 1 })).items.map((p) => p.metadata?.name)).toEqual([podName]); },
  listNamespaceEvents: async () => { expect((await gateway.listNamespaceEvents(ns(), { limit: 500 })).items.map((e) => e.reason)).toContain('SuccessfulCreate'); },
  deleteJob: async () => { expect(await gateway.deleteJob(ns(), RUN)).toBe(true); },
  readDeployment: async () => { expect((await gateway.readDeployment(ns(), DEPLOYMENT))?.metadata?.name).toBe(DEPLOYMENT); },
  listDeployments: async () => { expect((await gateway.listDeployments(ns())).items.map((d) => d.metadata?.name)).toEqual([DEPLOYMENT]); },
  createCronJob: async () => {
    const made = await gateway.createCronJob(ns(), { metadata: { name: MADE }, spec: { schedule: '0 4 * * *', suspend: true, jobTemplate: { spec: testJob({ name: 'y', namespace: ns() }).spec } } });
    expect(made.metadata?.uid).toBeTruthy();
  },
  patchCronJob: async () => {
    const patched = await gateway.patchCronJob(ns(), MADE, [{ op: 'replace', path: '/spec/schedule', value: '0 5 * * *' }]);
    expect(patched.spec.schedule).toBe('0 5 * * *');
  },
  deleteCronJob: async () => { expect(await gateway.deleteCronJob(ns(), MADE)).toBe(true); },
  patchCronJobAnnotations: async () => {
    const current = await admin.batch.readNamespacedCronJob({ namespace: ns(), name: CRONJOB });
    const patched = await gateway.patchCronJobAnnotations(ns(), CRONJOB, current.metadata?.resourceVersion ?? '', { 'example.com/seen': 'yes' });
    expect(patched.metadata?.annotations?.['example.com/seen']).toBe('yes');
  },
  createEvent: async () => {
    const event = await gateway.createEvent(ns(), {
      metadata: { name: 'rbac-event', namespace: ns() },
      involvedObject: { kind: 'CronJob', name: CRONJOB, namespace: ns() },
      reason: 'Test',
      message: 'written as the app identity',
      type: 'Warning',
    });
    expect(event.metadata.name).toBe('rbac-event');
  },
  // A cluster whose allow-list is "*" gets the Role's rules as a ClusterRole (rbac.yaml says how); bound only
  // for this call, so other files still meet a user without cluster-wide rights.
  listCronJobsInAllNamespaces: async () => {
    const name = `rbac-all-${ns()}`;
    await admin.rbac.createClusterRole({ body: { metadata: { name }, rules: role.rules ?? [] } });
    await admin.rbac.createClusterRoleBinding({
      body: { metadata: { name }, subjects: binding.subjects ?? [], roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name } },
    });
    try {
      const all = await waitFor('the ClusterRoleBinding to take effect', async () => (await gateway.listCronJobsInAllNamespaces()).items);
      expect(all.map((c) => `${c.metadata?.namespace ?? ''}/${c.metadata?.name ?? ''}`)).toContain(`${ns()}/${CRONJOB}`);
    } finally {
      await admin.rbac.deleteClusterRoleBinding({ name });
      await admin.rbac.deleteClusterRole({ name });
    }
  },
};

describe('the Role of infra/kubernetes/rbac.yaml', () => {
  it.each(Object.entries(calls))('lets the app identity call %s', async (_method, call) => {
    await call();
  });

  /** What a caller could try through the app if it could make it call anything: the API server says no. */
  const refused: [string, () => Promise<unknown>][] = [
    ['read a Secret', () => noRightsKube().core.readNamespacedSecret({ namespace: ns(), name: 'any' })],
    ['list Secrets', () => noRightsKube().core.listNamespacedSecret({ namespace: ns() })],
    ['patch a Job', () => noRightsKube().batch.patchNamespacedJob({ namespace: ns(), name: RUN, body: [{ op: 'replace', path: '/spec/suspend', value: true }] })],
    ['change a Deployment', () => noRightsKube().apps.patchNamespacedDeployment({ namespace: ns(), name: DEPLOYMENT, body: [{ op: 'replace', path: '/spec/replicas', value: 0 }] })],
    ['create a Pod', () => noRightsKube().core.createNamespacedPod({ namespace: ns(), body: { metadata: { name: 'nope' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } })],
    ['exec into a Pod', () => noRightsKube().core.connectPostNamespacedPodExec({ namespace: ns(), name: 'any', command: 'sh' })],
    ['list Jobs in another namespace', () => noRightsKube().batch.listNamespacedJob({ namespace: 'default' })],
  ];

  it.each(refused)('refuses to %s (403)', async (_what, call) => {
    const error = await call().then(
      () => new Error('the API server allowed it'),
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(ApiException);
    expect((error as ApiException<unknown>).code).toBe(403);
  });
});
