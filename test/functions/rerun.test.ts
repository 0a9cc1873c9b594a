import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import type { V1Job } from '@kubernetes/client-node';
import { beforeEach, describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config.js';
import { ALLOW_ENV_ANNOTATION, RUNNABLE_ANNOTATION } from '../../src/core/consent.js';
import { snapshotOf } from '../../src/core/run.js';
import type { JobRunInput } from '../../src/core/schemas.js';
import { rerunRun } from '../../src/functions/rerunRun.js';
import { createServices, setServices } from '../../src/services.js';
import { FakeDurableClient } from '../fakes/durable-client.js';
import { FakeKube } from '../fakes/kube.js';

/** POST /runs/{runId}/rerun: a new run with the original's parameters, everything a start checks checked again. */
const t0 = new Date('2026-11-23T10:00:00Z');
const BASE = 'https://jobs.example.net/api';
const ORIGINAL = 'nightly-abcdefghij';
let kube: FakeKube;
let client: FakeDurableClient;
const context = () => new InvocationContext({ functionName: 'rerunRun', invocationId: 'inv-rerun', logHandler: () => undefined });

function useSettings(settings: Record<string, string> = {}): void {
  const config = loadConfig({
    CLUSTERS: JSON.stringify([{ alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/nonexistent', namespaces: ['batch'] }]),
    ...settings,
  });
  let n = 0;
  setServices(createServices(config, { gatewayFactory: () => kube, now: () => t0, newSuffix: () => `s${String(n++).padStart(9, '0')}` }));
}

function sourceJob(annotations: Record<string, string> = { [ALLOW_ENV_ANNOTATION]: 'DAY' }): V1Job {
  return {
    metadata: { name: 'nightly', namespace: 'batch', uid: 'u1', creationTimestamp: t0, annotations },
    spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36', env: [{ name: 'BATCH_DATE', value: 'today' }] }] } } },
  };
}

function original(overrides: Record<string, string>, caller?: JobRunInput['request']['caller']): JobRunInput {
  return {
    request: {
      runId: ORIGINAL,
      cluster: 'dev',
      namespace: 'batch',
      source: { kind: 'Job', name: 'nightly' },
      overrides,
      requestHash: 'h',
      timeoutSeconds: 900,
      trigger: { kind: 'http' },
      ...(caller ? { caller } : {}),
    },
    poll: { initialSeconds: 5, maxSeconds: 60, factor: 2, continueAsNewAfter: 50, maxObserveFailures: 10 },
    retry: { firstRetryMs: 1000, maxAttempts: 2 },
  };
}

function finishedOriginal(overrides: Record<string, string> = { BATCH_DATE: '2026-11-22' }, caller?: JobRunInput['request']['caller']): void {
  const ref = { runId: ORIGINAL, cluster: 'dev', namespace: 'batch', source: { kind: 'Job' as const, name: 'nightly' } };
  client.put({
    instanceId: ORIGINAL,
    input: original(overrides, caller),
    runtimeStatus: 'Completed',
    output: snapshotOf(ref, { status: 'Failed', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }, t0),
  });
}

const rerun = (body?: unknown, headers: Record<string, string> = {}, runId = ORIGINAL) =>
  rerunRun(
    new HttpRequest({
      method: 'POST',
      url: `${BASE}/runs/${runId}/rerun`,
      params: { runId },
      headers: { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: { string: JSON.stringify(body) } }),
    }),
    client,
    context(),
  );
/** The X-MS-CLIENT-PRINCIPAL headers App Service Authentication sends for an application token. */
function entra(appId: string): Record<string, string> {
  const objectId = `${appId}-sp`;
  const claims = [
    { typ: 'appid', val: appId },
    { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: objectId },
  ];
  return {
    'x-ms-client-principal': Buffer.from(JSON.stringify({ auth_typ: 'aad', claims, name_typ: 'name', role_typ: 'roles' })).toString('base64'),
    'x-ms-client-principal-id': objectId,
    'x-ms-client-principal-idp': 'aad',
  };
}
const json = (r: HttpResponseInit) => r.jsonBody as Record<string, unknown>;
const inputOf = (r: HttpResponseInit) => client.instances.get(json(r).runId as string)?.input as JobRunInput;

beforeEach(() => {
  kube = new FakeKube().addJob(sourceJob());
  client = new FakeDurableClient();
  useSettings();
});

describe('POST /runs/{runId}/rerun', () => {
  it('starts a new run of the same source with the original\'s parameters, the body\'s overrides merged over them, trigger rerun', async () => {
    finishedOriginal({ BATCH_DATE: '2026-11-22', DAY: 'monday' });
    const response = await rerun({ DAY: 'tuesday' });
    expect(response.status, JSON.stringify(response.jsonBody)).toBe(202);
    const runId = json(response).runId as string;
    expect(runId).not.toBe(ORIGINAL);
    expect(runId.startsWith('nightly-')).toBe(true);
    expect((response.headers as Record<string, string>).Location).toBe(`${BASE}/runs/${runId}`);
    expect(inputOf(response).request).toMatchObject({
      cluster: 'dev',
      namespace: 'batch',
      source: { kind: 'Job', name: 'nightly' },
      overrides: { BATCH_DATE: '2026-11-22', DAY: 'tuesday' },
      timeoutSeconds: 900,
      trigger: { kind: 'rerun', of: ORIGINAL },
    });
  });

  it('needs only the run\'s record: the original\'s Job and pods are gone', async () => {
    finishedOriginal();
    expect(kube.jobs.has(`batch/${ORIGINAL}`)).toBe(false);
    expect(kube.pods).toEqual([]);
    expect((await rerun()).status).toBe(202);
  });

  it('is idempotent with Idempotency-Key: the same key gives the same new run, once', async () => {
    finishedOriginal();
    const first = await rerun(undefined, { 'Idempotency-Key': 'retry-1' });
    const second = await rerun(undefined, { 'Idempotency-Key': 'retry-1' });
    expect([first.status, second.status]).toEqual([202, 202]);
    expect(json(second).runId).toBe(json(first).runId);
    expect(client.startCount).toBe(1);
    // Without a key, each call is a new run.
    const third = await rerun();
    expect(json(third).runId).not.toBe(json(first).runId);
  });

  it('is refused when the source has withdrawn its consent since (runnable: "false"), and nothing is started', async () => {
    finishedOriginal();
    kube.addJob(sourceJob({ [RUNNABLE_ANNOTATION]: 'false' }));
    const response = await rerun();
    expect(response.status).toBe(403);
    expect(json(response).detail).toMatch(/kept out of this app/);
    expect(client.startCount).toBe(0);
  });

  it('is refused when an override the original used is no longer allowed by the source', async () => {
    finishedOriginal({ DAY: 'monday' });
    kube.addJob(sourceJob({}));
    const response = await rerun();
    expect(response.status).toBe(400);
    expect(json(response).detail).toMatch(/DAY/);
    expect(client.startCount).toBe(0);
  });

  it('is refused when the caller\'s policy no longer allows the namespace: 404, as for its status (a confined caller is not told the run exists)', async () => {
    finishedOriginal();
    useSettings({ CALLER_POLICIES: JSON.stringify({ key: { namespaces: ['other'] } }) });
    const response = await rerun();
    expect(response.status).toBe(404);
    expect(client.startCount).toBe(0);
  });

  it('an Entra caller cannot rerun another caller\'s run: 404, as for its status, and nothing is started', async () => {
    useSettings({ EASY_AUTH_ENABLED: 'true' });
    finishedOriginal(undefined, { kind: 'entra', appId: 'app-a', objectId: 'app-a-sp' });
    const response = await rerun(undefined, entra('app-b'));
    expect(response.status).toBe(404);
    expect(client.startCount).toBe(0);
    // Its own caller may.
    expect((await rerun(undefined, entra('app-a'))).status).toBe(202);
  });

  it('an unknown run is a 404 that says where run ids come from', async () => {
    const response = await rerun(undefined, {}, 'nightly-zzzzzzzzzz');
    expect(response.status).toBe(404);
    expect(json(response).detail).toMatch(/returned by the start routes/);
  });

  it('a body that is not an object of env overrides is a 400', async () => {
    finishedOriginal();
    expect((await rerun([1])).status).toBe(400);
  });
});
