import { randomBytes } from 'node:crypto';

import { BatchV1Api, CoreV1Api, KubeConfig, RbacAuthorizationV1Api, type V1Job } from '@kubernetes/client-node';
import { afterAll, beforeAll, inject } from 'vitest';

export interface Kube {
  kc: KubeConfig;
  batch: BatchV1Api;
  core: CoreV1Api;
  rbac: RbacAuthorizationV1Api;
}

export function kubeFrom(path: string): Kube {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return { kc, batch: kc.makeApiClient(BatchV1Api), core: kc.makeApiClient(CoreV1Api), rbac: kc.makeApiClient(RbacAuthorizationV1Api) };
}

/** Admin access to the suite's control plane. */
export function adminKube(): Kube {
  return kubeFrom(inject('kubeconfigPath'));
}

/**
 * A namespace of this test file's own, created before its tests and deleted after, so files run in parallel
 * without seeing each other. Returns a getter, valid once beforeAll has run.
 */
export function useNamespace(prefix: string): () => string {
  let name = '';
  beforeAll(async () => {
    name = `${prefix}-${randomBytes(3).toString('hex')}`;
    await adminKube().core.createNamespace({ body: { metadata: { name } } });
    // Pods need the namespace's default ServiceAccount, which a controller creates a moment later.
    await waitFor(`ServiceAccount default in ${name}`, async () => {
      await adminKube().core.readNamespacedServiceAccount({ name: 'default', namespace: name });
      return true;
    });
  });
  afterAll(async () => {
    if (name) await adminKube().core.deleteNamespace({ name }).catch(() => undefined);
  });
  return () => name;
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
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${lastError instanceof Error ? `: ${lastError.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface JobSpecOptions {
  name: string;
  namespace: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  env?: { name: string; value: string }[];
  image?: string;
  backoffLimit?: number;
  suspend?: boolean;
  nodeSelector?: Record<string, string>;
}

/** A Job whose pod's fate is chosen by the pod-template labels and annotations (see testenv/fates.ts). */
export function testJob(o: JobSpecOptions): V1Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: o.name, namespace: o.namespace },
    spec: {
      backoffLimit: o.backoffLimit ?? 0,
      ...(o.suspend === undefined ? {} : { suspend: o.suspend }),
      template: {
        metadata: { labels: o.labels ?? {}, annotations: o.annotations ?? {} },
        spec: {
          restartPolicy: 'Never',
          ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
          containers: [{ name: 'main', image: o.image ?? 'busybox:1.36', command: ['sh', '-c', 'echo hi'], env: o.env ?? [] }],
        },
      },
    },
  };
}

export function condition(job: V1Job, type: string): { status: string; reason?: string } | undefined {
  return job.status?.conditions?.find((c) => c.type === type);
}
