import { HttpRequest, InvocationContext } from '@azure/functions';
import { BatchV1Api, CoreV1Api, KubeConfig, type V1Job } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { orchestratorRunner } from '../../local/durable/engine.js';
import { LocalDurable } from '../../local/durable/runtime.js';
import { loadConfig } from '../../src/config.js';
import { RUN_ID_LABEL } from '../../src/core/labels.js';
import type { RunSnapshot } from '../../src/core/run.js';
import { jobRun } from '../../src/functions/jobRun.js';
import { observeRun } from '../../src/functions/observeRun.js';
import { startJobRun } from '../../src/functions/startJobRun.js';
import { stopRun } from '../../src/functions/stopRun.js';
import { submitRun } from '../../src/functions/submitRun.js';
import { createServices, setServices } from '../../src/services.js';
import { type LocalCluster, startCluster } from '../../testenv/cluster.js';
import { fails, succeeds } from '../../testenv/fates.js';
import { testJob, waitFor } from './helpers.js';

/**
 * Faults on a control plane of this file's own (the suite's shared one must not go down under other files):
 * the real kube-apiserver stopped in the middle of runs and started again on the same etcd. No mock anywhere.
 */
let cluster: LocalCluster;
let batch: BatchV1Api;
let durable: LocalDurable;
const NS = 'faults';
const context = () => new InvocationContext({ functionName: 'it', invocationId: 'inv-faults', logHandler: () => undefined });
const post = (path: string, params: Record<string, string>) =>
  new HttpRequest({ method: 'POST', url: `http://127.0.0.1:7071/api/${path}`, params, headers: { 'content-type': 'application/json' }, body: { string: '{}' } });

beforeAll(async () => {
  cluster = await startCluster({ nodes: 1 });
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  batch = kc.makeApiClient(BatchV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: NS } } });
  await waitFor('ServiceAccount default', async () => (await core.readNamespacedServiceAccount({ name: 'default', namespace: NS })).metadata?.name);
  setServices(
    createServices(
      loadConfig({
        CLUSTERS: JSON.stringify([{ alias: 'local', type: 'kubeconfig', kubeconfigPath: cluster.kubeconfigPath, namespaces: [NS] }]),
        POLL_INITIAL_SECONDS: '1',
        POLL_MAX_SECONDS: '2',
        ACTIVITY_RETRY_FIRST_SECONDS: '1',
        ACTIVITY_RETRY_MAX_ATTEMPTS: '2',
        KUBE_REQUEST_TIMEOUT_SECONDS: '3',
      }),
    ),
  );
  durable = new LocalDurable({ orchestrators: { jobRun: orchestratorRunner(jobRun) }, activities: { submitRun, observeRun, stopRun } });
}, 240_000);
afterAll(async () => {
  await durable.close();
  await cluster.stop();
});

async function startRun(source: string): Promise<string> {
  const started = await startJobRun(post(`jobs/${NS}/${source}/runs`, { namespace: NS, name: source }), durable, context());
  expect(started.status, JSON.stringify(started.jsonBody)).toBe(202);
  return (started.jsonBody as { runId: string }).runId;
}

describe('the API server restarted in the middle of runs', () => {
  it('every run reaches its true verdict, none is Failed for the outage, no Job is created twice', async () => {
    await batch.createNamespacedJob({ namespace: NS, body: testJob({ name: 'ok', namespace: NS, suspend: true, fate: succeeds({ runFor: '6s', terminationMessage: '{"rows":1}' }) }) });
    await batch.createNamespacedJob({ namespace: NS, body: testJob({ name: 'bad', namespace: NS, suspend: true, fate: fails({ runFor: '6s', exitCode: 3 }) }) });
    const runs = [await startRun('ok'), await startRun('ok'), await startRun('bad'), await startRun('bad')];
    const expected = ['Success', 'Success', 'Failed', 'Failed'];
    const uids = await waitFor('every run to have its Job', async () => {
      const jobs = await Promise.all(runs.map((id) => batch.readNamespacedJob({ namespace: NS, name: id }).catch(() => undefined)));
      return jobs.every((j) => j?.metadata?.uid) ? jobs.map((j) => j?.metadata?.uid) : undefined;
    });

    // While it is down and coming back, what each run says: never a verdict the outage made.
    const seen: RunSnapshot[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        for (const id of runs) seen.push((await durable.getStatus(id)).customStatus as RunSnapshot);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();
    await cluster.restartApiServer(8000);
    const finals = await waitFor(
      'every run to finish',
      async () => {
        const statuses = await Promise.all(runs.map((id) => durable.getStatus(id)));
        return statuses.every((s) => s.runtimeStatus === 'Completed') ? statuses.map((s) => s.output as RunSnapshot) : undefined;
      },
      120_000,
      500,
    );
    watching = false;
    await watcher;

    expect(finals.map((f) => f.status)).toEqual(expected);
    expect(finals.map((f) => f.reason)).toEqual(['CompletionsReached', 'CompletionsReached', 'BackoffLimitExceeded', 'BackoffLimitExceeded']);
    expect(finals[0]?.outputs).toEqual({ rows: 1 });
    // The outage was seen (the runs were watched through it), and it made no verdict of its own.
    expect(seen.some((s) => s.reason === 'ClusterUnavailable')).toBe(true);
    expect(seen.filter((s) => s.status === 'Failed' && s.reason !== 'BackoffLimitExceeded')).toEqual([]);
    // One Job per run, the one created before the outage.
    for (const [i, id] of runs.entries()) {
      const jobs: V1Job[] = (await batch.listNamespacedJob({ namespace: NS, labelSelector: `${RUN_ID_LABEL}=${id}` })).items;
      expect(jobs.map((j) => j.metadata?.uid)).toEqual([uids[i]]);
    }
  }, 240_000);
});
