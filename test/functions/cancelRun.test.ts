import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import type { V1Job } from '@kubernetes/client-node';
import { beforeEach, describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config.js';
import { snapshotOf } from '../../src/core/run.js';
import { cancelledBy, cancelRun } from '../../src/functions/cancelRun.js';
import { CANCEL_EVENT } from '../../src/functions/names.js';
import { createServices, setServices } from '../../src/services.js';
import { FakeDurableClient } from '../fakes/durable-client.js';
import { FakeKube } from '../fakes/kube.js';

const t0 = new Date('2026-11-23T10:00:00Z');
const config = loadConfig({
  CLUSTERS: JSON.stringify([{ alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/nonexistent/kubeconfig', namespaces: ['batch'] }]),
});
const RUN_ID = 'nightly-abcdefghij';
const request = { runId: RUN_ID, cluster: 'dev', namespace: 'batch', source: { kind: 'Job' as const, name: 'nightly' } };
const input = { request: { ...request, overrides: {}, requestHash: 'h' }, poll: config.poll, retry: config.activityRetry };
const running = snapshotOf(request, { status: 'Running', reason: 'Running', message: '1 pod(s) active' }, t0);

let kube: FakeKube;
let client: FakeDurableClient;
const context = () => new InvocationContext({ functionName: 'cancelRun', invocationId: 'inv-1', logHandler: () => undefined });
const cancel = () =>
  cancelRun(new HttpRequest({ method: 'POST', url: `https://jobs.example.net/api/runs/${RUN_ID}/cancel`, params: { runId: RUN_ID } }), client, context());
const detail = (r: HttpResponseInit) => (r.jsonBody as { detail: string }).detail;

function runJob(status: V1Job['status']): V1Job {
  return {
    metadata: { name: RUN_ID, namespace: 'batch', creationTimestamp: t0 },
    spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36' }] } } },
    status,
  };
}

beforeEach(() => {
  kube = new FakeKube();
  client = new FakeDurableClient();
  setServices(createServices(config, { gatewayFactory: () => kube, now: () => t0 }));
});

describe('POST /runs/{runId}/cancel and the run\'s own end', () => {
  it('cancels a running Job: raises the event and deletes it', async () => {
    client.put({ instanceId: RUN_ID, input, customStatus: running });
    kube.addJob(runJob({ active: 1, startTime: t0 }));
    const response = await cancel();
    expect(response.status).toBe(202);
    expect(client.events).toEqual([{ instanceId: RUN_ID, name: CANCEL_EVENT, data: { reason: 'by a function-key caller' } }]);
    expect(kube.jobs.has(`batch/${RUN_ID}`)).toBe(false);
  });

  it('the event says who asked, with the reason given: the run\'s failure then says who and why', async () => {
    client.put({ instanceId: RUN_ID, input, customStatus: running });
    kube.addJob(runJob({ active: 1, startTime: t0 }));
    const response = await cancelRun(
      new HttpRequest({
        method: 'POST',
        url: `https://jobs.example.net/api/runs/${RUN_ID}/cancel`,
        params: { runId: RUN_ID },
        headers: { 'content-type': 'application/json' },
        body: { string: JSON.stringify({ reason: 'the window closed' }) },
      }),
      client,
      context(),
    );
    expect(response.status).toBe(202);
    expect(client.events).toEqual([{ instanceId: RUN_ID, name: CANCEL_EVENT, data: { reason: 'the window closed (by a function-key caller)' } }]);
  });

  it('an Entra caller is named by its app and object ids, a key caller by a short hash of its key, never the key', () => {
    expect(cancelledBy({ kind: 'entra', appId: 'app-1', objectId: 'obj-1', roles: [] })).toBe('Entra app app-1, object obj-1');
    expect(cancelledBy({ kind: 'key', keyScope: '0123456789abcdef' })).toBe('the caller with key 01234567');
  });

  it.each([
    ['Complete', 'Success', { succeeded: 1, conditions: [{ type: 'Complete', status: 'True', reason: 'CompletionsReached' }] }],
    ['SuccessCriteriaMet', 'Success', { succeeded: 1, conditions: [{ type: 'SuccessCriteriaMet', status: 'True', reason: 'CompletionsReached' }] }],
    ['Failed', 'Failed', { failed: 1, conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }] }],
  ] as const)('answers 409 and deletes nothing when the Job has ended (%s) but the run has not seen it yet', async (_, status, jobStatus) => {
    client.put({ instanceId: RUN_ID, input, customStatus: running });
    kube.addJob(runJob({ startTime: t0, ...jobStatus, conditions: jobStatus.conditions.map((c) => ({ ...c, lastTransitionTime: t0 })) }));
    const response = await cancel();
    expect(response.status).toBe(409);
    expect(detail(response)).toContain(`its Job has already ended: ${status}`);
    expect(kube.jobs.has(`batch/${RUN_ID}`)).toBe(true);
    expect(client.events).toEqual([]);
  });

  it('answers 409 while the verdict is made and the stop activity deletes the Job', async () => {
    const verdict = snapshotOf(request, { status: 'Failed', reason: 'ErrImagePull', message: 'image not found' }, t0);
    client.put({ instanceId: RUN_ID, input, customStatus: verdict });
    kube.addJob(runJob({ active: 1 }));
    const response = await cancel();
    expect(response.status).toBe(409);
    expect(detail(response)).toContain('Failed (ErrImagePull)');
    expect(client.events).toEqual([]);
  });

  it('when the Job cannot be looked at, only raises the event: the orchestration looks before it deletes', async () => {
    client.put({ instanceId: RUN_ID, input, customStatus: running });
    kube.addJob(runJob({ active: 1 })).failNext('readJob', 503);
    const response = await cancel();
    expect(response.status).toBe(202);
    expect(client.events).toHaveLength(1);
    expect(kube.jobs.has(`batch/${RUN_ID}`)).toBe(true);
  });

  it('answers 409 and deletes nothing when the run finishes between its read and the cancel event', async () => {
    // The extension answers 410 Gone for an event raised on a finished instance
    // (azure-functions-durable-extension HttpApiHandler.HandleRaiseEventRequestAsync) and durable-functions'
    // client resolves on 410 (node_modules/durable-functions/lib/src/durableClient/DurableClient.js raiseEvent:
    // `case 202: case 410: return;`), so the cancel route cannot tell from raiseEvent; the fake answers alike.
    client.put({ instanceId: RUN_ID, input, customStatus: running });
    kube.addJob(runJob({ active: 1, startTime: t0 }));
    const success = snapshotOf(request, { status: 'Success', reason: 'Complete', message: 'done' }, t0);
    const readJob = kube.readJob.bind(kube);
    kube.readJob = async (namespace, name) => {
      const job = await readJob(namespace, name);
      const instance = client.instances.get(RUN_ID);
      if (instance) Object.assign(instance, { runtimeStatus: 'Completed', output: success });
      return job;
    };
    const response = await cancel();
    expect(response.status).toBe(409);
    expect(detail(response)).toContain('finished with status Success (Complete) while it was being cancelled');
    expect(client.events).toEqual([]);
    expect(client.dropped).toEqual([{ instanceId: RUN_ID, name: CANCEL_EVENT, data: { reason: 'by a function-key caller' } }]);
    expect(kube.jobs.has(`batch/${RUN_ID}`)).toBe(true);
  });

  it('answers 202 when the run the event reached has ended Cancelled by the time it is read again', async () => {
    client.put({ instanceId: RUN_ID, input, customStatus: running });
    kube.addJob(runJob({ active: 1, startTime: t0 }));
    const cancelled = snapshotOf(request, { status: 'Cancelled', reason: 'Cancelled', message: 'cancelled' }, t0);
    const raise = client.raiseEvent.bind(client);
    client.raiseEvent = async (instanceId, name, data) => {
      await raise(instanceId, name, data);
      const instance = client.instances.get(RUN_ID);
      if (instance) Object.assign(instance, { runtimeStatus: 'Completed', output: cancelled });
    };
    const response = await cancel();
    expect(response.status).toBe(202);
    expect(client.events).toHaveLength(1);
  });
});

describe('cancelling a run that retries on disruption (its current Job is <runId>-<n>)', () => {
  const second = `${RUN_ID}-2`;
  const retrying = { ...input, request: { ...input.request, retryOnDisruption: 2 } };

  it("deletes the current attempt's Job, not the failed first one", async () => {
    const onSecond = snapshotOf({ ...request, jobName: second }, { status: 'Running', reason: 'Running', message: '1 pod(s) active' }, t0);
    client.put({ instanceId: RUN_ID, input: { ...retrying, request: { ...retrying.request, jobName: second } }, customStatus: onSecond });
    kube.addJob({ ...runJob({ active: 1, startTime: t0 }), metadata: { name: second, namespace: 'batch', creationTimestamp: t0 } });
    const response = await cancel();
    expect(response.status).toBe(202);
    expect(kube.jobs.has(`batch/${second}`)).toBe(false);
  });

  it('between two attempts (the first Job failed, evicted): accepted, not a 409 for the failed Job', async () => {
    const between = snapshotOf({ ...request, jobName: second }, { status: 'Starting', reason: 'RetryOnDisruption', message: 'attempt 2 gets a fresh Job' }, t0);
    client.put({ instanceId: RUN_ID, input: retrying, customStatus: between });
    kube.addJob(runJob({ failed: 1, startTime: t0, conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'evicted' }] }));
    const response = await cancel();
    expect(response.status, detail(response)).toBe(202);
    expect(client.events).toHaveLength(1);
  });
});
