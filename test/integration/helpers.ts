import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { AppsV1Api, BatchV1Api, CoreV1Api, KubeConfig, loadAllYaml, RbacAuthorizationV1Api, type V1Job, type V1Pod, type V1Role, type V1RoleBinding } from '@kubernetes/client-node';
import { afterAll, beforeAll, inject } from 'vitest';

import {
  COMPLETE_DELAY_ANNOTATION,
  COMPLETE_JITTER_ANNOTATION,
  COMPLETE_WEIGHT_ANNOTATION,
  FAIL_DELAY_ANNOTATION,
  FAIL_JITTER_ANNOTATION,
  FAIL_LABEL,
  FAIL_REASON_ANNOTATION,
  type PodFate,
  quickStart,
} from '../../testenv/fates.js';

export interface Kube {
  kc: KubeConfig;
  batch: BatchV1Api;
  core: CoreV1Api;
  rbac: RbacAuthorizationV1Api;
  apps: AppsV1Api;
}

export function kubeFrom(path: string): Kube {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return {
    kc,
    batch: kc.makeApiClient(BatchV1Api),
    core: kc.makeApiClient(CoreV1Api),
    rbac: kc.makeApiClient(RbacAuthorizationV1Api),
    apps: kc.makeApiClient(AppsV1Api),
  };
}

/** Admin (system:masters) access to the suite's control plane. */
export function adminKube(): Kube {
  return kubeFrom(inject('kubeconfigPath'));
}

/** Access as a user with no bindings at all (`inject('noRightsUser')` names it, to bind roles to). */
export function noRightsKube(): Kube {
  return kubeFrom(inject('noRightsKubeconfigPath'));
}

/**
 * The app's identity as a ServiceAccount of a test file's namespace, bound to infra/kubernetes/rbac.yaml's Role
 * as an operator applies it (its user name is one no other file has, for cluster-wide policies keyed on it),
 * with a kubeconfig of its own token written to a file the app's settings can name.
 */
export async function appServiceAccount(namespace: string, name = 'app'): Promise<{ user: string; kc: KubeConfig; kubeconfigPath: string }> {
  const admin = adminKube();
  await admin.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  const user = `system:serviceaccount:${namespace}:${name}`;
  const manifest = readFileSync(new URL('../../infra/kubernetes/rbac.yaml', import.meta.url), 'utf8').replaceAll('PRINCIPAL_OBJECT_ID', user).replaceAll('NAMESPACE', namespace);
  const [role, binding] = loadAllYaml(manifest) as [V1Role, V1RoleBinding];
  await admin.rbac.createNamespacedRole({ namespace, body: role });
  await admin.rbac.createNamespacedRoleBinding({ namespace, body: binding });
  const token = await admin.core.createNamespacedServiceAccountToken({ namespace, name, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const cluster = admin.kc.getCurrentCluster();
  if (!cluster || !token.status?.token) throw new Error('no cluster in the admin kubeconfig, or no token for the ServiceAccount');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name, token: token.status.token }],
    contexts: [{ name, cluster: cluster.name, user: name }],
    currentContext: name,
  });
  const kubeconfigPath = join(await mkdtemp(join(tmpdir(), `aks-job-runner-${namespace}-`)), `${name}.kubeconfig`);
  await writeFile(kubeconfigPath, kc.exportConfig(), { mode: 0o600 });
  // The RBAC authorizer sees a new binding through its informer, a moment after the create.
  await waitFor(`the RoleBinding of ${user} to take effect`, async () => (await kc.makeApiClient(BatchV1Api).listNamespacedJob({ namespace })).items);
  return { user, kc, kubeconfigPath };
}

/**
 * A namespace of this test file's own, created before its tests and deleted after, so files run in parallel
 * without seeing each other. Returns a getter, valid once beforeAll has run.
 */
export function useNamespace(prefix: string): () => string {
  let name = '';
  beforeAll(async () => {
    name = `${prefix}-${randomBytes(3).toString('hex')}`;
    const kube = adminKube();
    await kube.core.createNamespace({ body: { metadata: { name } } });
    // Pods need the namespace's default ServiceAccount, which a controller creates a moment later.
    await waitFor(`ServiceAccount default in ${name}`, async () => {
      await kube.core.readNamespacedServiceAccount({ name: 'default', namespace: name });
      return true;
    });
  });
  afterAll(async () => {
    if (name) await adminKube().core.deleteNamespace({ name }).catch(() => undefined);
  });
  return () => {
    if (!name) throw new Error('useNamespace: the namespace exists only from beforeAll on');
    return name;
  };
}

/** Poll until `check` returns a truthy value (which is returned); errors count as "not yet". */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | null | false>, timeoutMs = 60_000, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError === undefined ? '' : `: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)}`;
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface JobSpecOptions {
  name: string;
  namespace: string;
  /** Pod template labels and annotations; see testenv/fates.ts. */
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** The same, as made by succeeds(), fails() or waits() from testenv/fates.ts; merged under labels/annotations. */
  fate?: PodFate;
  env?: { name: string; value: string }[];
  image?: string;
  backoffLimit?: number;
  suspend?: boolean;
  nodeSelector?: Record<string, string>;
  /** kwok removes a deleted pod at a random moment within its grace period (default 30 s). */
  terminationGracePeriodSeconds?: number;
  /** Start pods in about 0.2 s instead of kwok's 2-10 s (default true). */
  quickStart?: boolean;
  /** The Job's own annotations (the app reads its consent there, src/core/consent.ts). */
  jobAnnotations?: Record<string, string>;
}

/**
 * A Job whose pod's fate is chosen by the pod-template labels and annotations (see testenv/fates.ts). Made
 * exact on the way: a run delay without a jitter-delay gets one equal to it (kwok would otherwise cut "1h" to
 * 5 s), and a pod with the chaos label can never succeed by chance and fails with the kubelet's reason, Error.
 */
export function testJob(o: JobSpecOptions): V1Job {
  const labels = { ...o.fate?.labels, ...o.labels };
  const annotations = { ...(o.quickStart === false ? {} : quickStart()), ...o.fate?.annotations, ...o.annotations };
  const exact = (delay: string, jitter: string) => {
    const value = annotations[delay];
    if (value !== undefined && annotations[jitter] === undefined) annotations[jitter] = value;
  };
  exact(COMPLETE_DELAY_ANNOTATION, COMPLETE_JITTER_ANNOTATION);
  exact(FAIL_DELAY_ANNOTATION, FAIL_JITTER_ANNOTATION);
  if (labels[FAIL_LABEL] === 'true') {
    annotations[COMPLETE_WEIGHT_ANNOTATION] ??= '0';
    annotations[FAIL_REASON_ANNOTATION] ??= 'Error';
  }
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: o.name, namespace: o.namespace, ...(o.jobAnnotations ? { annotations: o.jobAnnotations } : {}) },
    spec: {
      backoffLimit: o.backoffLimit ?? 0,
      ...(o.suspend === undefined ? {} : { suspend: o.suspend }),
      template: {
        metadata: { labels, annotations },
        spec: {
          restartPolicy: 'Never',
          ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
          ...(o.terminationGracePeriodSeconds === undefined ? {} : { terminationGracePeriodSeconds: o.terminationGracePeriodSeconds }),
          containers: [{ name: 'main', image: o.image ?? 'busybox:1.36', command: ['sh', '-c', 'echo hi'], env: o.env ?? [] }],
        },
      },
    },
  };
}

export function condition(job: V1Job, type: string): { status: string; reason?: string } | undefined {
  return job.status?.conditions?.find((c) => c.type === type);
}

/** The pods of a Job, by the label the Job controller puts on them. */
export async function jobPods(kube: Kube, namespace: string, job: string): Promise<V1Pod[]> {
  return (await kube.core.listNamespacedPod({ namespace, labelSelector: `batch.kubernetes.io/job-name=${job}` })).items;
}

