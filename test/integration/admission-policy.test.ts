import { readFileSync } from 'node:fs';

import {
  AdmissionregistrationV1Api,
  ApiException,
  BatchV1Api,
  loadAllYaml,
  type V1CronJob,
  type V1Job,
  type V1ValidatingAdmissionPolicy,
  type V1ValidatingAdmissionPolicyBinding,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { KubeconfigFileSource } from '../../src/clients/credentials.js';
import { ClientNodeGateway, type KubeGateway } from '../../src/clients/kube.js';
import { cloneJob } from '../../src/core/clone.js';
import { KubeApiError } from '../../src/core/errors.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../src/core/labels.js';
import { adminKube, appServiceAccount, testJob, useNamespace, waitFor } from './helpers.js';

/**
 * infra/kubernetes/admission-policy.yaml on a real API server: Jobs the app's identity creates must follow its
 * rules, and nobody else's are touched. The app's identity here is a ServiceAccount of this file's namespace
 * (a user name no other test file has, since the policy is cluster-wide), given rbac.yaml's Role.
 */
const ns = useNamespace('admission');
const admin = adminKube();
const registration = admin.kc.makeApiClient(AdmissionregistrationV1Api);
const ALLOWED = 'registry.example/batch/';
const manifest = readFileSync(new URL('../../infra/kubernetes/admission-policy.yaml', import.meta.url), 'utf8');
let appBatch: BatchV1Api;
/** The app's own gateway, with the app identity's credentials. */
let appGateway: KubeGateway;
let policyName = '';
let bindingName = '';
let cronJobPolicyName = '';
let cronJobBindingName = '';

/** A Job the policy admits; each case below breaks one rule of it. */
function compliant(name: string): V1Job {
  const job = testJob({ name, namespace: ns(), image: `${ALLOWED}report:1` });
  job.metadata = { ...job.metadata, labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } };
  return job;
}

/** The compliant Job's pod as a CronJob's jobTemplate, as the app makes one from a Deployment. */
function compliantCronJob(name: string): V1CronJob {
  const job = compliant(name);
  return { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name, namespace: ns() }, spec: { schedule: '0 3 * * *', suspend: true, jobTemplate: { spec: job.spec } } };
}

async function refusal(batch: BatchV1Api, object: V1Job | V1CronJob): Promise<{ code: number; message: string } | null> {
  try {
    if (object.kind === 'CronJob') await batch.createNamespacedCronJob({ namespace: ns(), body: object as V1CronJob, dryRun: 'All' });
    else await batch.createNamespacedJob({ namespace: ns(), body: object as V1Job, dryRun: 'All' });
    return null;
  } catch (err) {
    if (!(err instanceof ApiException)) throw err;
    const body = typeof err.body === 'string' ? (JSON.parse(err.body) as { message?: string }) : (err.body as { message?: string });
    return { code: err.code, message: body.message ?? '' };
  }
}

beforeAll(async () => {
  const { user, kc, kubeconfigPath } = await appServiceAccount(ns());
  appBatch = kc.makeApiClient(BatchV1Api);
  appGateway = new ClientNodeGateway(new KubeconfigFileSource(kubeconfigPath), 10_000);

  const [policy, policyBinding, cronJobPolicy, cronJobBinding] = loadAllYaml(manifest.replaceAll('PRINCIPAL_OBJECT_ID', user).replaceAll('ALLOWED_IMAGE_PREFIX', ALLOWED)) as [
    V1ValidatingAdmissionPolicy,
    V1ValidatingAdmissionPolicyBinding,
    V1ValidatingAdmissionPolicy,
    V1ValidatingAdmissionPolicyBinding,
  ];
  policyName = (await registration.createValidatingAdmissionPolicy({ body: policy })).metadata?.name ?? '';
  bindingName = (await registration.createValidatingAdmissionPolicyBinding({ body: policyBinding })).metadata?.name ?? '';
  cronJobPolicyName = (await registration.createValidatingAdmissionPolicy({ body: cronJobPolicy })).metadata?.name ?? '';
  cronJobBindingName = (await registration.createValidatingAdmissionPolicyBinding({ body: cronJobBinding })).metadata?.name ?? '';
  // The admission plugin picks up a new policy and binding through its informers, a moment later.
  await waitFor('the policy to be enforced', async () => (await refusal(appBatch, { ...compliant('probe'), metadata: { name: 'probe' } }))?.code === 403);
  const foreign = compliantCronJob('probe');
  podSpec(foreign).hostPID = true;
  await waitFor('the CronJob policy to be enforced', async () => (await refusal(appBatch, foreign))?.code === 403);
});

afterAll(async () => {
  if (bindingName) await registration.deleteValidatingAdmissionPolicyBinding({ name: bindingName }).catch(() => undefined);
  if (policyName) await registration.deleteValidatingAdmissionPolicy({ name: policyName }).catch(() => undefined);
  if (cronJobBindingName) await registration.deleteValidatingAdmissionPolicyBinding({ name: cronJobBindingName }).catch(() => undefined);
  if (cronJobPolicyName) await registration.deleteValidatingAdmissionPolicy({ name: cronJobPolicyName }).catch(() => undefined);
});

type Breach = (job: V1Job) => void;
const podSpec = (object: V1Job | V1CronJob) => {
  const spec = object.kind === 'CronJob' ? (object as V1CronJob).spec.jobTemplate.spec?.template.spec : (object as V1Job).spec?.template.spec;
  if (!spec) throw new Error('testJob has a pod spec');
  return spec;
};

const breaches: { name: string; breach: Breach; message: string }[] = [
  { name: 'without the managed-by label', breach: (j) => void (j.metadata = { name: j.metadata?.name }), message: 'may only create Jobs labelled app.kubernetes.io/managed-by: aks-job-runner' },
  { name: 'with a wrong managed-by value', breach: (j) => void (j.metadata = { name: j.metadata?.name, labels: { [MANAGED_BY_LABEL]: 'someone-else' } }), message: 'may only create Jobs labelled' },
  { name: 'with a privileged container', breach: (j) => void ((podSpec(j).containers[0] ?? { name: '' }).securityContext = { privileged: true }), message: 'may not create Jobs with privileged containers' },
  {
    name: 'with a privileged init container',
    breach: (j) => void (podSpec(j).initContainers = [{ name: 'init', image: `${ALLOWED}init:1`, securityContext: { privileged: true } }]),
    message: 'may not create Jobs with privileged containers',
  },
  { name: 'with a hostPath volume', breach: (j) => void (podSpec(j).volumes = [{ name: 'root', hostPath: { path: '/' } }]), message: 'may not create Jobs with hostPath volumes' },
  { name: 'with hostNetwork', breach: (j) => void (podSpec(j).hostNetwork = true), message: "use the node's network, PID or IPC namespace" },
  { name: 'with hostPID', breach: (j) => void (podSpec(j).hostPID = true), message: "use the node's network, PID or IPC namespace" },
  { name: 'with hostIPC', breach: (j) => void (podSpec(j).hostIPC = true), message: "use the node's network, PID or IPC namespace" },
  {
    name: 'with an image outside the allow-list',
    breach: (j) => void ((podSpec(j).containers[0] ?? { name: '' }).image = 'docker.io/attacker/miner:latest'),
    message: `may only run images from ${ALLOWED}; not allowed: docker.io/attacker/miner:latest`,
  },
  {
    name: 'with an image whose host only starts like an allowed one',
    breach: (j) => void ((podSpec(j).containers[0] ?? { name: '' }).image = 'registry.example.evil/batch/report:1'),
    message: 'not allowed: registry.example.evil/batch/report:1',
  },
  {
    name: 'with an init container image outside the allow-list',
    breach: (j) => void (podSpec(j).initContainers = [{ name: 'init', image: 'busybox:1.36' }]),
    message: 'not allowed: busybox:1.36',
  },
];

describe('infra/kubernetes/admission-policy.yaml', () => {
  it.each(breaches)('refuses a Job from the app identity $name, with the policy message', async ({ breach, message }) => {
    const job = compliant('breach');
    breach(job);
    const refused = await refusal(appBatch, job);
    expect(refused?.code).toBe(403);
    expect(refused?.message).toContain(`ValidatingAdmissionPolicy '${policyName}'`);
    expect(refused?.message).toContain(message);
  });

  it('admits a compliant Job from the app identity, and the API server stores it', async () => {
    const created = await appBatch.createNamespacedJob({ namespace: ns(), body: compliant('compliant') });
    expect(created.metadata?.labels?.[MANAGED_BY_LABEL]).toBe(MANAGED_BY_VALUE);
    expect((await admin.batch.readNamespacedJob({ namespace: ns(), name: 'compliant' })).metadata?.uid).toBe(created.metadata?.uid);
  });

  it('admits the run the app itself builds from a source Job with an allowed image', async () => {
    const source = await admin.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'nightly', namespace: ns(), image: `${ALLOWED}nightly:2`, suspend: true }) });
    const run = cloneJob(source, { runId: 'nightly-0000000001', namespace: ns(), sourceKind: 'Job', sourceName: 'nightly', requestHash: 'h' }, { DAY: 'today' });
    const created = await appGateway.createJob(ns(), run);
    expect(created.metadata?.labels?.[MANAGED_BY_LABEL]).toBe(MANAGED_BY_VALUE);
  });

  it('refuses the run the app builds from a source Job whose image is not allowed, with the policy message', async () => {
    const source = await admin.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'foreign', namespace: ns(), image: 'docker.io/library/busybox:1.36', suspend: true }) });
    const run = cloneJob(source, { runId: 'foreign-0000000001', namespace: ns(), sourceKind: 'Job', sourceName: 'foreign', requestHash: 'h' }, {});
    const error = await appGateway.createJob(ns(), run).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KubeApiError);
    expect((error as KubeApiError).code).toBe(403);
    expect((error as KubeApiError).message).toContain('not allowed: docker.io/library/busybox:1.36');
  });

  /** The Job breaches that are about the pod (the managed-by label is not asked of CronJobs). */
  const podBreaches = breaches.filter((b) => !b.message.includes('labelled'));
  it.each(podBreaches)('refuses a CronJob from the app identity $name in its jobTemplate, with the policy message', async ({ breach, message }) => {
    const cronJob = compliantCronJob('breach');
    // The Job breaches edit a Job's pod template; the CronJob's is the same object.
    const job: V1Job = { kind: 'Job', metadata: {}, spec: { template: { spec: podSpec(cronJob) } } };
    breach(job);
    const refused = await refusal(appBatch, cronJob);
    expect(refused?.code).toBe(403);
    expect(refused?.message).toContain(`ValidatingAdmissionPolicy '${cronJobPolicyName}'`);
    expect(refused?.message).toContain(message.replace('create Jobs', 'create CronJobs').replace('only run images', 'only schedule images'));
  });

  it('admits a compliant CronJob from the app identity, and refuses an update of its pod template to a foreign image', async () => {
    const created = await appGateway.createCronJob(ns(), compliantCronJob('nightly-cron'));
    const container = podSpec(created).containers[0];
    expect(container?.image).toBe(`${ALLOWED}report:1`);
    const ops = [
      { op: 'replace' as const, path: '/metadata/resourceVersion', value: created.metadata?.resourceVersion },
      { op: 'replace' as const, path: '/spec/jobTemplate/spec/template/spec/containers/0/image', value: 'docker.io/attacker/miner:latest' },
    ];
    const error = await appGateway.patchCronJob(ns(), 'nightly-cron', ops).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KubeApiError);
    expect((error as KubeApiError).code).toBe(403);
    expect((error as KubeApiError).message).toContain('not allowed: docker.io/attacker/miner:latest');
  });

  it('lets the app identity change the schedule of a CronJob made by hand with a foreign image, leaving its pod template alone', async () => {
    const byHand = compliantCronJob('by-hand');
    const container = podSpec(byHand).containers[0];
    if (container) container.image = 'docker.io/library/busybox:1.36';
    const created = await admin.batch.createNamespacedCronJob({ namespace: ns(), body: byHand });
    const ops = [
      { op: 'replace' as const, path: '/metadata/resourceVersion', value: created.metadata?.resourceVersion },
      { op: 'replace' as const, path: '/spec/schedule', value: '0 4 * * *' },
    ];
    expect((await appGateway.patchCronJob(ns(), 'by-hand', ops)).spec.schedule).toBe('0 4 * * *');
  });

  it('does not affect anyone else: an admin may create a Job that breaks every rule', async () => {
    const job = compliant('admin-job');
    for (const { breach } of breaches) breach(job);
    const created = await admin.batch.createNamespacedJob({ namespace: ns(), body: job, dryRun: 'All' });
    expect(podSpec(created).hostNetwork).toBe(true);
  });
});
