import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import {
  AdmissionregistrationV1Api,
  ApiException,
  BatchV1Api,
  CoreV1Api,
  FlowcontrolApiserverV1Api,
  type KubeConfig,
  type V1FlowSchema,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { LocalDurable } from '../../local/durable/runtime.js';
import { loadConfig } from '../../src/config.js';
import { RUN_ID_LABEL } from '../../src/core/labels.js';
import type { RunSnapshot } from '../../src/core/run.js';
import { cancelRun } from '../../src/functions/cancelRun.js';
import { getRun } from '../../src/functions/getRun.js';
import { startJobRun } from '../../src/functions/startJobRun.js';
import { createServices, setServices } from '../../src/services.js';
import { succeeds } from '../../testenv/fates.js';
import { adminKube, appServiceAccount, testJob, useNamespace, waitFor } from './helpers.js';
import { localRunPath } from './run-path.js';

/**
 * The real API server's own throttling: API Priority and Fairness, told by FlowSchemas to send the app's
 * requests of one kind to a priority level with no seats of its own, answers them 429 (with Retry-After).
 * Such a level still runs one request when it runs none (so a lone request is never starved), so a "hog"
 * request of the same identity holds that one seat: a dry-run ConfigMap create that an admission webhook of
 * this file (HTTPS on loopback) keeps waiting. The app runs as a ServiceAccount of this file's namespace
 * bound to infra/kubernetes/rbac.yaml's Role, so nothing else on the suite's control plane is throttled.
 * No mock: the 429s are the API server's.
 */
const ns = useNamespace('throttle');
const admin = adminKube();
const flow = admin.kc.makeApiClient(FlowcontrolApiserverV1Api);
const SA = 'throttled-app';
const BASE = 'http://127.0.0.1:7071/api';
const context = () => new InvocationContext({ functionName: 'it', invocationId: 'inv-throttle', logHandler: () => undefined });
let durable: LocalDurable;
let app: KubeConfig;
/** The priority level with no seats: a request sent to it while another runs there is rejected at once. */
const jail = () => `aks-job-runner-jail-${ns()}`;

beforeAll(async () => {
  const identity = await appServiceAccount(ns(), SA);
  app = identity.kc;
  await flow.createPriorityLevelConfiguration({
    body: {
      metadata: { name: jail() },
      spec: { type: 'Limited', limited: { nominalConcurrencyShares: 0, lendablePercent: 0, borrowingLimitPercent: 0, limitResponse: { type: 'Reject' } } },
    },
  });
  // The hog's own rights, its FlowSchema to the same level, and the webhook that holds it.
  await admin.rbac.createNamespacedRole({ namespace: ns(), body: { metadata: { name: 'hog' }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['create'] }] } });
  await admin.rbac.createNamespacedRoleBinding({
    namespace: ns(),
    body: { metadata: { name: 'hog' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'hog' }, subjects: [{ kind: 'ServiceAccount', name: SA, namespace: ns() }] },
  });
  await flow.createFlowSchema({ body: flowSchema(`${jail()}-hog`, 'create', 'configmaps') });
  const { url, caBundle } = await startWebhook();
  await admin.kc.makeApiClient(AdmissionregistrationV1Api).createValidatingWebhookConfiguration({
    body: {
      metadata: { name: jail() },
      webhooks: [
        {
          name: 'hog.aks-job-runner.test',
          clientConfig: { url, caBundle },
          rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps'], scope: 'Namespaced' }],
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns() } },
          objectSelector: { matchLabels: { hog: 'true' } },
          sideEffects: 'None',
          admissionReviewVersions: ['v1'],
          timeoutSeconds: 30,
          failurePolicy: 'Ignore',
        },
      ],
    },
  });
  setServices(
    createServices(
      loadConfig({
        CLUSTERS: JSON.stringify([{ alias: 'local', type: 'kubeconfig', kubeconfigPath: identity.kubeconfigPath, namespaces: [ns()] }]),
        POLL_INITIAL_SECONDS: '1',
        POLL_MAX_SECONDS: '2',
        ACTIVITY_RETRY_FIRST_SECONDS: '1',
        ACTIVITY_RETRY_MAX_ATTEMPTS: '2',
      }),
    ),
  );
  durable = localRunPath();
  for (const [name, runFor] of [['short', '3s'], ['long', '120s']] as const) {
    await admin.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name, namespace: ns(), suspend: true, fate: succeeds({ runFor, terminationMessage: '{"rows":7}' }) }) });
  }
}, 60_000);

afterAll(async () => {
  hog.stop();
  await durable.close();
  await admin.kc.makeApiClient(AdmissionregistrationV1Api).deleteValidatingWebhookConfiguration({ name: jail() }).catch(() => undefined);
  await flow.deleteFlowSchema({ name: `${jail()}-hog` }).catch(() => undefined);
  await flow.deletePriorityLevelConfiguration({ name: jail() }).catch(() => undefined);
  await new Promise((resolve) => webhook.close(resolve));
});

/** The admission webhook that keeps a hog request waiting (at most HOLD_MS, under its 30 s time-out). */
const HOLD_MS = 25_000;
let webhook: Server;
const held = new Set<() => void>();

async function startWebhook(): Promise<{ url: string; caBundle: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'aks-job-runner-webhook-'));
  const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const pem = readFileSync(cert);
  webhook = createServer({ key: readFileSync(key), cert: pem }, (request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const review = JSON.parse(body) as { request: { uid: string } };
      const answer = () => {
        if (!held.delete(answer)) return;
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: true } }));
      };
      held.add(answer);
      setTimeout(answer, HOLD_MS).unref();
    });
  });
  await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
  const address = webhook.address() as AddressInfo;
  return { url: `https://127.0.0.1:${String(address.port)}/hog`, caBundle: pem.toString('base64') };
}

/** While on, one request of the app's identity always holds the priority level's one seat. */
const hog = {
  running: false,
  async start(): Promise<void> {
    this.running = true;
    const loop = async () => {
      while (this.running) {
        await app
          .makeApiClient(CoreV1Api)
          .createNamespacedConfigMap({ namespace: ns(), dryRun: 'All', body: { metadata: { generateName: 'hog-', labels: { hog: 'true' } } } })
          .catch(() => undefined);
      }
    };
    void loop();
    await new Promise((resolve) => setTimeout(resolve, 500));
  },
  stop(): void {
    this.running = false;
    for (const answer of [...held]) answer();
  },
};

type Verb = 'create' | 'delete' | 'list';

/** A request of the app's of this kind, sent for the API server's answer only (dry run, or a read). */
async function probe(verb: Verb): Promise<number> {
  try {
    if (verb === 'create') await app.makeApiClient(BatchV1Api).createNamespacedJob({ namespace: ns(), dryRun: 'All', body: testJob({ name: 'probe', namespace: ns(), suspend: true }) });
    if (verb === 'delete') await app.makeApiClient(BatchV1Api).deleteNamespacedJob({ namespace: ns(), name: 'no-such-job', dryRun: 'All' });
    if (verb === 'list') await app.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns() });
    return 200;
  } catch (err) {
    if (err instanceof ApiException) return err.code;
    throw err;
  }
}

function flowSchema(name: string, verb: string, resource: string): V1FlowSchema {
  return {
    metadata: { name },
    spec: {
      priorityLevelConfiguration: { name: jail() },
      matchingPrecedence: 500,
      distinguisherMethod: { type: 'ByUser' },
      rules: [
        {
          subjects: [{ kind: 'ServiceAccount', serviceAccount: { name: SA, namespace: ns() } }],
          resourceRules: [{ verbs: [verb], apiGroups: [resource === 'jobs' ? 'batch' : ''], resources: [resource], namespaces: [ns()] }],
        },
      ],
    },
  };
}

/** From now on the API server answers 429 to the app's `verb` of `resource`; undone by the returned function. */
async function throttle(verb: Verb, resource: 'jobs' | 'pods'): Promise<() => Promise<void>> {
  const name = `${jail()}-${verb}-${resource}`;
  await flow.createFlowSchema({ body: flowSchema(name, verb, resource) });
  await hog.start();
  await waitFor(`the API server to throttle ${verb} ${resource}`, async () => (await probe(verb)) === 429);
  return async () => {
    await flow.deleteFlowSchema({ name });
    hog.stop();
    await waitFor(`the API server to stop throttling ${verb} ${resource}`, async () => (await probe(verb)) !== 429);
  };
}

async function start(source: string): Promise<string> {
  const request = new HttpRequest({
    method: 'POST',
    url: `${BASE}/jobs/${ns()}/${source}/runs`,
    params: { namespace: ns(), name: source },
    headers: { 'content-type': 'application/json' },
    body: { string: '{}' },
  });
  const started = await startJobRun(request, durable, context());
  expect(started.status, JSON.stringify(started.jsonBody)).toBe(202);
  return (started.jsonBody as { runId: string }).runId;
}

async function status(runId: string): Promise<HttpResponseInit> {
  return getRun(new HttpRequest({ method: 'GET', url: `${BASE}/runs/${runId}`, params: { runId } }), durable, context());
}

const snapshotOf = (response: HttpResponseInit) => response.jsonBody as RunSnapshot;

async function jobsOf(runId: string): Promise<string[]> {
  const jobs = await admin.batch.listNamespacedJob({ namespace: ns(), labelSelector: `${RUN_ID_LABEL}=${runId}` });
  return jobs.items.map((j) => j.metadata?.name ?? '');
}

/** Every answer until the run's final one, the statuses it went through in order. */
async function finalAnswer(runId: string, seen: Set<string>): Promise<HttpResponseInit> {
  return waitFor(
    `run ${runId} to finish`,
    async () => {
      const response = await status(runId);
      const snapshot = snapshotOf(response);
      seen.add(`${snapshot.status}/${snapshot.reason}`);
      return response.status === 202 ? undefined : response;
    },
    90_000,
    250,
  );
}

describe('the API server throttles the app (API Priority and Fairness, 429)', () => {
  it('a throttled create leaves the run Starting, Throttled, never Failed; once it ends the one Job is created and the run succeeds', async () => {
    const unthrottle = await throttle('create', 'jobs');
    const runId = await start('short');
    const seen = new Set<string>();
    const throttled = await waitFor('the run to say Throttled', async () => {
      const snapshot = snapshotOf(await status(runId));
      seen.add(`${snapshot.status}/${snapshot.reason}`);
      return snapshot.reason === 'Throttled' ? snapshot : undefined;
    });
    expect(throttled.status).toBe('Starting');
    expect(throttled.message).toMatch(/^the API server asked the app to slow down \(HTTP 429\) until .*; the Job is created after that/);
    // Well past what RetryOptions' attempts (1 s, then 2 s) would have allowed before SubmitFailed.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    const still = snapshotOf(await status(runId));
    expect([still.status, still.reason]).toEqual(['Starting', 'Throttled']);
    expect(await jobsOf(runId)).toEqual([]);

    await unthrottle();
    const final = await finalAnswer(runId, seen);
    expect(final.status, JSON.stringify(final.jsonBody)).toBe(200);
    expect(snapshotOf(final)).toMatchObject({ status: 'Success', outputs: { rows: 7 } });
    expect([...seen].filter((s) => s.startsWith('Failed'))).toEqual([]);
    expect(await jobsOf(runId)).toEqual([runId]);
  });

  it('throttled pod lists keep a running run Running, Throttled, and it goes on to its verdict', async () => {
    const runId = await start('long');
    await waitFor('the run to be Running', async () => snapshotOf(await status(runId)).status === 'Running', 60_000);
    const unthrottle = await throttle('list', 'pods');
    const throttled = await waitFor('the run to say Throttled', async () => {
      const snapshot = snapshotOf(await status(runId));
      return snapshot.reason === 'Throttled' ? snapshot : undefined;
    });
    expect(throttled.status).toBe('Running');
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    expect(snapshotOf(await status(runId))).toMatchObject({ status: 'Running', reason: 'Throttled' });
    await unthrottle();
    await waitFor('the run to be read again', async () => snapshotOf(await status(runId)).reason === 'Running');

    // A cancel whose delete is throttled: the verdict stands, the Job stays until the throttling ends.
    const unthrottleDelete = await throttle('delete', 'jobs');
    const cancel = await cancelRun(
      new HttpRequest({ method: 'POST', url: `${BASE}/runs/${runId}/cancel`, params: { runId }, headers: { 'content-type': 'application/json' }, body: { string: '{}' } }),
      durable,
      context(),
    );
    expect(cancel.status, JSON.stringify(cancel.jsonBody)).toBe(202);
    const waiting = await waitFor('the stop to wait for the throttled delete', async () => {
      const snapshot = snapshotOf(await status(runId));
      return snapshot.message.includes('waits') ? snapshot : undefined;
    });
    expect(waiting).toMatchObject({ status: 'Cancelled', reason: 'CancelRequested' });
    expect(waiting.message).toMatch(new RegExp(`deleting Job ${ns()}/${runId} waits: the API server asked the app to slow down \\(HTTP 429\\)`));
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await jobsOf(runId)).toEqual([runId]);

    // The verdict is the caller's final answer already (424); only the delete waits, and says so.
    const answer = await status(runId);
    expect(answer.status).toBe(424);
    expect(snapshotOf(answer).message).toMatch(/waits: the API server asked the app to slow down/);

    await unthrottleDelete();
    await waitFor('the Job to be deleted', async () => (await jobsOf(runId)).length === 0);
    const final = await waitFor('the stop to end', async () => {
      const snapshot = snapshotOf(await status(runId));
      return snapshot.message.includes('waits') ? undefined : snapshot;
    });
    expect(final).toMatchObject({ status: 'Cancelled', reason: 'CancelRequested', message: 'cancelled: by a function-key caller', failureKind: 'Cancelled' });
  });
});
