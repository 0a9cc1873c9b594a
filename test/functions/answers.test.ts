import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import type { V1Job } from '@kubernetes/client-node';
import { beforeEach, describe, expect, it } from 'vitest';

import { CredentialError } from '../../src/clients/credentials.js';
import { loadConfig } from '../../src/config.js';
import { KubeApiError } from '../../src/core/errors.js';
import { listCronJobs } from '../../src/functions/listCronJobs.js';
import { listJobs } from '../../src/functions/listJobs.js';
import { errorResponse } from '../../src/http/problem.js';
import { createServices, setServices } from '../../src/services.js';
import { FakeKube } from '../fakes/kube.js';

/**
 * What answers reveal to a function key holder: what it asked for and what to do, never the app's whole
 * configuration or its identity's ids and scopes (those reach the operator through the log).
 */
const SUB = '00000000-0000-4000-8000-0000000000aa';
const PRINCIPAL = '11111111-2222-4333-8444-555555555555';
const clusters = [
  { alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/nonexistent/kubeconfig', namespaces: ['batch', 'etl'] },
  { alias: 'secret-project', type: 'kubeconfig', kubeconfigPath: '/nonexistent/kubeconfig', namespaces: ['hidden-team'] },
  { alias: 'sandbox', type: 'kubeconfig', kubeconfigPath: '/nonexistent/kubeconfig', namespaces: ['*'] },
];

let kube: FakeKube;
let logged: string[];

function context(): InvocationContext {
  return new InvocationContext({ functionName: 'test', invocationId: 'inv-1', logHandler: (_level, ...args) => logged.push(args.map(String).join(' ')) });
}
function get(path: string): HttpRequest {
  return new HttpRequest({ method: 'GET', url: `https://jobs.example.net/api/${path}` });
}
function detail(response: HttpResponseInit): string {
  return (response.jsonBody as { detail: string }).detail;
}
function use(settings: Record<string, string> = {}): void {
  const config = loadConfig({ CLUSTERS: JSON.stringify(clusters), ...settings });
  setServices(createServices(config, { gatewayFactory: () => kube }));
}

const job: V1Job = {
  metadata: { name: 'nightly', namespace: 'batch' },
  spec: {
    template: {
      spec: {
        restartPolicy: 'Never',
        containers: [{ name: 'main', image: 'busybox:1.36', env: [{ name: 'DB_HOST', value: 'db.internal:5432' }, { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] }],
      },
    },
  },
};

beforeEach(() => {
  kube = new FakeKube().addJob(job);
  kube.addCronJob({ metadata: { name: 'report', namespace: 'batch' }, spec: { schedule: '0 3 * * *', jobTemplate: { spec: job.spec } } });
  logged = [];
  use();
});

describe('refusals name what was asked, not the configuration', () => {
  it.each([
    { name: 'an unknown cluster', path: 'jobs?cluster=elsewhere&namespace=batch', status: 403, says: 'cluster "elsewhere" is not configured', logs: '"secret-project"' },
    { name: 'a namespace outside the allow-list', path: 'jobs?namespace=default', status: 403, says: 'namespace "default" is not allowed on cluster "dev"', logs: '"etl"' },
    { name: 'a missing namespace', path: 'jobs', status: 400, says: 'namespace is required', logs: 'batch, etl' },
  ])('$name: $status naming it, the allowed list only in the log', async ({ path, status, says, logs }) => {
    const response = await listJobs(get(path), context());
    expect(response.status).toBe(status);
    expect(detail(response)).toContain(says);
    for (const hidden of ['secret-project', 'hidden-team', 'etl', 'sandbox']) expect(detail(response)).not.toContain(hidden);
    expect(logged.join('\n')).toContain(logs);
  });

  it.each(['kube-system', 'kube-node-lease', 'gatekeeper-system'])('"*" does not reach system namespace %s: 403 saying it must be listed by name', async (namespace) => {
    const response = await listJobs(get(`jobs?cluster=sandbox&namespace=${namespace}`), context());
    expect(response.status).toBe(403);
    expect(detail(response)).toContain(`"${namespace}" is a system namespace, which "*" does not include`);
    expect(kube.calls).toEqual([]);
  });

  it('"*" still reaches an ordinary namespace', async () => {
    expect((await listJobs(get('jobs?cluster=sandbox&namespace=team-a'), context())).status).toBe(200);
  });
});

describe('answers about the app identity keep its ids and scopes out', () => {
  it('a 403 from the cluster does not name the Kubernetes user the app is', () => {
    const err = new KubeApiError('list Jobs in batch', 403, 'Forbidden', `jobs.batch is forbidden: User "${PRINCIPAL}" cannot list resource "jobs" in API group "batch" in the namespace "batch"`);
    const response = errorResponse(err, context());
    expect(response.status).toBe(403);
    expect(detail(response)).toContain('cannot list resource "jobs"');
    expect(detail(response)).not.toContain(PRINCIPAL);
    expect(logged.join('\n')).toContain(PRINCIPAL);
  });

  it('an ARM refusal does not hand out the principal id, the subscription or the scope', () => {
    const arm = `The client '${PRINCIPAL}' with object id '${PRINCIPAL}' does not have authorization to perform action 'Microsoft.ContainerService/managedClusters/listClusterUserCredential/action' over scope '/subscriptions/${SUB}/resourceGroups/rg-batch/providers/Microsoft.ContainerService/managedClusters/aks-prod'`;
    const response = errorResponse(new CredentialError(`could not get credentials of AKS cluster "aks-prod": ${arm}`), context());
    expect(response.status).toBe(502);
    expect(detail(response)).toContain('does not have authorization to perform action');
    for (const hidden of [PRINCIPAL, SUB, '/subscriptions/']) expect(detail(response)).not.toContain(hidden);
    expect(logged.join('\n')).toContain(PRINCIPAL);
  });
});

describe('discovery and env values', () => {
  it('shows default values of plain env vars by default, never a valueFrom', async () => {
    const body = (await listJobs(get('jobs?namespace=batch'), context())).jsonBody as { items: { params: Record<string, unknown>; referencedParams: string[] }[] };
    expect(body.items[0]).toMatchObject({ params: { DB_HOST: 'db.internal:5432' }, referencedParams: ['TOKEN'] });
  });

  it.each([
    ['Jobs', listJobs],
    ['CronJobs', listCronJobs],
  ] as const)('DISCOVERY_SHOW_ENV_VALUES=false keeps the names of %s params and drops their values', async (_kind, handler) => {
    use({ DISCOVERY_SHOW_ENV_VALUES: 'false' });
    const response = await handler(get('x?namespace=batch'), context());
    const body = response.jsonBody as { items: { params: Record<string, unknown>; referencedParams: string[] }[] };
    expect(body.items[0]?.params).toEqual({ DB_HOST: null });
    expect(body.items[0]?.referencedParams).toEqual(['TOKEN']);
    expect(JSON.stringify(response.jsonBody)).not.toContain('db.internal');
  });
});
