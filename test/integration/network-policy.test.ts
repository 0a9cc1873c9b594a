import { readFileSync } from 'node:fs';

import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import { loadYaml, NetworkingV1Api, type V1NetworkPolicy } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LocalDurable } from '../../local/durable/runtime.js';
import { JOB_NAME_POD_LABEL } from '../../src/core/labels.js';
import { startJobRun } from '../../src/functions/startJobRun.js';
import { createServices, setServices } from '../../src/services.js';
import { COMPLETE_DELAY_ANNOTATION } from '../../testenv/fates.js';
import { adminKube, jobPods, testJob, useNamespace, waitFor } from './helpers.js';
import { localRunPath, runPathConfig } from './run-path.js';

/**
 * infra/kubernetes/fallback-network-policy.yaml (issue 21 item 10) as far as the test control plane can take it:
 * it has no network plugin, so the policy is not enforced here, but the API server validates it as it would on
 * AKS, and its pod selector is matched by the API server itself against the pods a fallback run and a clone get.
 */
const ns = useNamespace('netpol');
const kube = adminKube();
const networking = kube.kc.makeApiClient(NetworkingV1Api);
let durable: LocalDurable;
const context = () => new InvocationContext({ functionName: 'it', invocationId: 'inv-netpol', logHandler: () => undefined });
const BASE = 'http://127.0.0.1:7071/api';
const template = readFileSync(new URL('../../infra/kubernetes/fallback-network-policy.yaml', import.meta.url), 'utf8');

beforeAll(async () => {
  setServices(createServices(runPathConfig(ns(), { FALLBACK_IMAGES: 'docker.io/library/' })));
  durable = localRunPath();
  await kube.batch.createNamespacedJob({
    namespace: ns(),
    body: testJob({ name: 'source', namespace: ns(), suspend: true, annotations: { [COMPLETE_DELAY_ANNOTATION]: '1h' } }),
  });
});
afterAll(() => durable.close());

async function start(name: string, query = ''): Promise<HttpResponseInit> {
  const request = new HttpRequest({ method: 'POST', url: `${BASE}/jobs/${ns()}/${name}/runs${query}`, params: { namespace: ns(), name } });
  return startJobRun(request, durable, context());
}

async function podsOf(runId: string): Promise<string[]> {
  const pods = await waitFor(`the pods of ${runId}`, async () => {
    const found = await jobPods(kube, ns(), runId);
    return found.length > 0 ? found : undefined;
  });
  return pods.map((p) => p.metadata?.name ?? '');
}

describe('the fallback NetworkPolicy', () => {
  // The address this control plane's API server is reached at (AKS: the kubernetes EndpointSlice's, as the file says).
  const apiServerIp = () => new URL(kube.kc.getCurrentCluster()?.server ?? '').hostname;
  const filledIn = () => loadYaml<V1NetworkPolicy>(template.replaceAll('NAMESPACE', ns()).replaceAll('API_SERVER_IP', apiServerIp()));
  let created: V1NetworkPolicy;
  beforeAll(async () => {
    created = await networking.createNamespacedNetworkPolicy({ namespace: ns(), body: filledIn() });
  });

  it('is accepted by the API server as written, with the namespace and the API server address filled in', () => {
    expect(apiServerIp()).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(created.metadata?.namespace).toBe(ns());
    expect(created.spec).toEqual(filledIn().spec);
    expect(created.spec?.egress?.[1]?.to?.[0]?.ipBlock?.except).toEqual(expect.arrayContaining(['169.254.0.0/16', '10.0.0.0/8', `${apiServerIp()}/32`]));
    expect(created.spec?.policyTypes).toEqual(['Egress']);
  });

  it('selects exactly the pods of fallback runs: not a clone\'s', async () => {
    const fallback = await start('adhoc', '?image=docker.io/library/busybox:1.36&command=["sh","-c","sleep 1"]');
    expect(fallback.status, JSON.stringify(fallback.jsonBody)).toBe(202);
    const clone = await start('source');
    expect(clone.status, JSON.stringify(clone.jsonBody)).toBe(202);
    const fallbackPods = await podsOf((fallback.jsonBody as { runId: string }).runId);
    const clonePods = await podsOf((clone.jsonBody as { runId: string }).runId);

    const policy = await networking.readNamespacedNetworkPolicy({ name: 'aks-job-runner-fallback-egress', namespace: ns() });
    const selector = Object.entries(policy.spec?.podSelector?.matchLabels ?? {})
      .map(([key, value]) => `${key}=${value}`)
      .join(',');
    const selected = (await kube.core.listNamespacedPod({ namespace: ns(), labelSelector: selector })).items;
    expect(selected.map((p) => p.metadata?.name).sort()).toEqual([...fallbackPods].sort());
    expect(selected.map((p) => p.metadata?.name)).not.toEqual(expect.arrayContaining(clonePods));
    expect(selected.every((p) => p.metadata?.labels?.[JOB_NAME_POD_LABEL] === (fallback.jsonBody as { runId: string }).runId)).toBe(true);
  });
});
