import type { V1Job } from '@kubernetes/client-node';
import { beforeEach, describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config.js';
import { ALLOW_ENV_ANNOTATION } from '../../src/core/consent.js';
import { BadRequestError, ConflictError, ForbiddenError } from '../../src/core/errors.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, RETRY_ON_DISRUPTION_ANNOTATION } from '../../src/core/labels.js';
import type { JobRunInput } from '../../src/core/schemas.js';
import { runInstancesOf } from '../../src/http/runs.js';
import { type RunStartRequest, type StartDeps, startRun } from '../../src/runs/start.js';
import { createServices } from '../../src/services.js';
import { FakeDurableClient } from '../fakes/durable-client.js';
import { FakeKube } from '../fakes/kube.js';

/** The start use case on plain data, as a route, a rerun or the scheduler calls it: no HttpRequest. */
const t0 = new Date('2026-11-23T10:00:00Z');
const config = loadConfig({
  CLUSTERS: JSON.stringify([{ alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/nonexistent/kubeconfig', namespaces: ['batch'] }]),
  CALLER_POLICIES: JSON.stringify({ 'app-confined': { namespaces: ['etl'] } }),
  EASY_AUTH_ENABLED: 'true',
});

let kube: FakeKube;
let client: FakeDurableClient;
let deps: StartDeps;

function sourceJob(name = 'nightly'): V1Job {
  return {
    metadata: { name, namespace: 'batch', uid: 'u1', creationTimestamp: t0, annotations: { [ALLOW_ENV_ANNOTATION]: '*' } },
    spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36' }] } } },
  };
}

beforeEach(() => {
  kube = new FakeKube().addJob(sourceJob());
  client = new FakeDurableClient(() => t0);
  let suffix = 0;
  const services = createServices(config, { gatewayFactory: () => kube, newSuffix: () => `s${String(suffix++).padStart(4, '0')}` });
  deps = { config, clusters: services.clusters, newSuffix: services.newSuffix, runs: runInstancesOf(client), log: () => undefined };
});

const request = (o: Partial<RunStartRequest> = {}): RunStartRequest => ({
  kind: 'Job',
  namespace: 'batch',
  name: 'nightly',
  caller: { kind: 'key', keyScope: 'k1' },
  overrides: {},
  startedBy: 'inv-1',
  trigger: { kind: 'http' },
  ...o,
});

describe('startRun (src/runs/start.ts)', () => {
  it('starts a run of a Job from plain data, recording the caller and the trigger', async () => {
    const started = await startRun(request({ overrides: { BATCH_DATE: '2026-11-23' } }), deps);
    expect(started).toMatchObject({ cluster: 'dev', existing: false });
    const input = client.instances.get(started.runId)?.input as JobRunInput;
    expect(input.request).toMatchObject({ namespace: 'batch', source: { kind: 'Job', name: 'nightly' }, overrides: { BATCH_DATE: '2026-11-23' }, caller: { kind: 'key' } });
  });

  it('refuses a caller its policy keeps out of the namespace, before anything is read or started', async () => {
    const caller = { kind: 'entra' as const, appId: 'app-confined', objectId: 'o1', roles: [] };
    await expect(startRun(request({ caller }), deps)).rejects.toBeInstanceOf(ForbiddenError);
    expect(kube.calls).toEqual([]);
    expect(client.startCount).toBe(0);
  });

  it('one idempotency key is one run; another request under it is a 409', async () => {
    const first = await startRun(request({ idempotencyKey: 'nightly-2026-11-23' }), deps);
    const again = await startRun(request({ idempotencyKey: 'nightly-2026-11-23' }), deps);
    expect(again).toEqual({ ...first, existing: true });
    await expect(startRun(request({ idempotencyKey: 'nightly-2026-11-23', overrides: { X: '1' } }), deps)).rejects.toBeInstanceOf(ConflictError);
    expect(client.startCount).toBe(1);
  });

  it('two starts with one idempotency key racing a run that finishes at once start it once', async () => {
    // On the host startNew replaces a finished instance (the default overridableExistingInstanceStates,
    // NonRunningStates: azure-functions-durable-extension src/WebJobs.Extensions.DurableTask/OverridableStates.cs,
    // ToDedupeStatuses), as the fake does. The run finishes as soon as it is started; the second start's first
    // read of Durable is taken when it is called and answered only once the first start is done.
    const startNew = client.startNew.bind(client);
    client.startNew = async (name, options) => {
      const id = await startNew(name, options);
      const started = client.instances.get(id);
      if (started) started.runtimeStatus = 'Completed';
      return id;
    };
    let aDone!: () => void;
    const aFinished = new Promise<void>((resolve) => (aDone = resolve));
    let first = true;
    const late = {
      ...deps.runs,
      find: async (runId: string) => {
        const answer = deps.runs.find(runId);
        if (first) {
          first = false;
          await aFinished;
        }
        return answer;
      },
    };
    const a = startRun(request({ idempotencyKey: 'k' }), deps).finally(() => { aDone(); });
    const b = startRun(request({ idempotencyKey: 'k' }), { ...deps, runs: late });
    const [ra, rb] = await Promise.all([a, b]);
    expect(client.startCount).toBe(1);
    expect(ra.runId).toBe(rb.runId);
    expect([ra.existing, rb.existing]).toEqual([false, true]);
  });

  describe('the active-run cap (MAX_ACTIVE_RUNS_PER_CLUSTER) holds under concurrency', () => {
    const capped = (max: number): StartDeps => ({ ...deps, config: { ...config, maxActiveRunsPerCluster: max } });

    it('ten starts at once against a cap of 3: 3 runs, 7 refusals with 429 ActiveRunLimit', async () => {
      // No Job exists yet for any of them (the submit activity creates it later): the count must see the runs
      // Durable has accepted.
      const outcomes = await Promise.allSettled(Array.from({ length: 10 }, () => startRun(request(), capped(3))));
      const refused = outcomes.filter((o) => o.status === 'rejected').map((o) => o.reason as unknown);
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(3);
      expect(refused).toHaveLength(7);
      for (const reason of refused) expect(reason).toMatchObject({ status: 429, reason: 'ActiveRunLimit' });
      expect(client.startCount).toBe(3);
    });

    it("counts the scheduler's runs and every accepted run of the cluster, not other clusters' or those with a verdict", async () => {
      const ref = (runId: string, cluster = 'dev') => ({ request: { runId, cluster, namespace: 'batch', source: { kind: 'CronJob', name: 'report' }, trigger: { kind: 'schedule' } } });
      client.put({ instanceId: 'report-1', input: ref('report-1') });
      client.put({ instanceId: 'report-2', input: ref('report-2'), runtimeStatus: 'Pending' });
      client.put({ instanceId: 'elsewhere', input: ref('elsewhere', 'prod') });
      client.put({ instanceId: 'done', input: ref('done'), runtimeStatus: 'Completed' });
      client.put({ instanceId: 'stopping', input: ref('stopping'), customStatus: { status: 'Failed', reason: 'BackoffLimitExceeded', runId: 'stopping' } });
      await expect(startRun(request(), capped(3))).resolves.toMatchObject({ existing: false });
      await expect(startRun(request(), capped(3))).rejects.toMatchObject({ status: 429 });
    });

    it('a run counted by its orchestration and its Job is counted once', async () => {
      const first = await startRun(request(), capped(2));
      kube.addJob({ metadata: { name: first.runId, namespace: 'batch', labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } } });
      await expect(startRun(request(), capped(2))).resolves.toMatchObject({ existing: false });
      await expect(startRun(request(), capped(2))).rejects.toMatchObject({ status: 429 });
    });
  });
});

describe('retries on disruption, resolved at the start (issue 22, item 4)', () => {
  const annotated = (value: string): V1Job => {
    const job = sourceJob();
    job.metadata = { ...job.metadata, annotations: { ...job.metadata?.annotations, [RETRY_ON_DISRUPTION_ANNOTATION]: value } };
    return job;
  };
  const inputOf = (runId: string) => client.instances.get(runId)?.input as JobRunInput;

  it("a source's annotation gives every run of it that many retries, unless the request asks for fewer", async () => {
    kube = new FakeKube().addJob(annotated('2'));
    deps.clusters = createServices(config, { gatewayFactory: () => kube }).clusters;
    expect(inputOf((await startRun(request(), deps)).runId).request.retryOnDisruption).toBe(2);
    expect(inputOf((await startRun(request({ retryOnDisruption: 1 }), deps)).runId).request.retryOnDisruption).toBe(1);
    // Zero is no retry: the input says nothing, as for a run before retries existed.
    expect(inputOf((await startRun(request({ retryOnDisruption: 0 }), deps)).runId).request).not.toHaveProperty('retryOnDisruption');
  });

  it('a request asking for more than the annotation allows is refused (400) and nothing is started', async () => {
    kube = new FakeKube().addJob(annotated('1'));
    deps.clusters = createServices(config, { gatewayFactory: () => kube }).clusters;
    const refused = startRun(request({ retryOnDisruption: 2 }), deps);
    await expect(refused).rejects.toBeInstanceOf(BadRequestError);
    await expect(refused).rejects.toThrow(`retryOnDisruption=2 asks for more retries than Job batch/nightly allows: its annotation ${RETRY_ON_DISRUPTION_ANNOTATION} allows 1`);
    expect(client.startCount).toBe(0);
  });

  it('a source without the annotation allows none: a request for any is refused, a run without one has none', async () => {
    await expect(startRun(request({ retryOnDisruption: 1 }), deps)).rejects.toThrow(`it has no annotation ${RETRY_ON_DISRUPTION_ANNOTATION} allowing retries`);
    expect(inputOf((await startRun(request(), deps)).runId).request).not.toHaveProperty('retryOnDisruption');
  });

  it('a garbage annotation allows none, and a request for retries is told what is wrong with it', async () => {
    kube = new FakeKube().addJob(annotated('two'));
    deps.clusters = createServices(config, { gatewayFactory: () => kube }).clusters;
    expect(inputOf((await startRun(request(), deps)).runId).request).not.toHaveProperty('retryOnDisruption');
    await expect(startRun(request({ retryOnDisruption: 1 }), deps)).rejects.toThrow(`its annotation ${RETRY_ON_DISRUPTION_ANNOTATION} is "two", not a whole number from 0 to 5, so it allows no retry`);
  });

  it("a run of the caller's own image has no source to consent: a request for retries is refused", async () => {
    const images = loadConfig({ CLUSTERS: JSON.stringify([{ alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/nonexistent/kubeconfig', namespaces: ['batch'] }]), FALLBACK_IMAGES: 'busybox' });
    deps = { ...deps, config: images, clusters: createServices(images, { gatewayFactory: () => kube }).clusters };
    await expect(startRun(request({ name: 'adhoc', fallback: { image: 'busybox:1.36' }, retryOnDisruption: 1 }), deps)).rejects.toThrow(
      "a run of the caller's own image has no source whose owner could allow retries",
    );
  });
});
