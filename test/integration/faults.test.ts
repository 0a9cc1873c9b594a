import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { HttpRequest, InvocationContext } from '@azure/functions';
import { BatchV1Api, CoreV1Api, KubeConfig, type V1Job, Watch } from '@kubernetes/client-node';
import * as df from 'durable-functions';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

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
let toxiproxy: ChildProcess | undefined;
let appProcess: ChildProcess | undefined;
let toxiApi = '';
const NS = 'faults';
/** The app's second cluster: the same API server, reached through toxiproxy. */
const PROXIED = 'proxied';
const context = () => new InvocationContext({ functionName: 'it', invocationId: 'inv-faults', logHandler: () => undefined });
const post = (path: string, params: Record<string, string>) =>
  new HttpRequest({ method: 'POST', url: `http://127.0.0.1:7071/api/${path}`, params, headers: { 'content-type': 'application/json' }, body: { string: '{}' } });

beforeAll(async () => {
  cluster = await startCluster({ nodes: 1 });
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);

  // toxiproxy (scripts/toxiproxy builds it from its Go module) between the app and the API server, on loopback.
  const [apiPort, proxyPort] = [await freePort(), await freePort()];
  toxiApi = `http://127.0.0.1:${String(apiPort)}`;
  const server = execFileSync('bash', [join(import.meta.dirname, '../../scripts/toxiproxy'), 'build'], { encoding: 'utf8' }).trim();
  toxiproxy = spawn(server, ['-host', '127.0.0.1', '-port', String(apiPort)], { stdio: 'ignore' });
  await waitFor('toxiproxy to answer', async () => (await fetch(`${toxiApi}/version`)).ok);
  const upstream = new URL(cluster.server).host;
  await toxi('POST', '/proxies', { name: 'kube', listen: `127.0.0.1:${String(proxyPort)}`, upstream, enabled: true });
  const proxiedPath = join(cluster.dataDir, 'proxied.kubeconfig');
  const proxied = new KubeConfig();
  proxied.loadFromFile(cluster.kubeconfigPath);
  const current = proxied.getCurrentCluster();
  if (!current) throw new Error('no cluster in the admin kubeconfig');
  (current as { server: string }).server = `https://127.0.0.1:${String(proxyPort)}`;
  await writeFile(proxiedPath, proxied.exportConfig(), { mode: 0o600 });
  batch = kc.makeApiClient(BatchV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: NS } } });
  await waitFor('ServiceAccount default', async () => (await core.readNamespacedServiceAccount({ name: 'default', namespace: NS })).metadata?.name);
  setServices(
    createServices(
      loadConfig({
        CLUSTERS: JSON.stringify([
          { alias: 'local', type: 'kubeconfig', kubeconfigPath: cluster.kubeconfigPath, namespaces: [NS] },
          { alias: PROXIED, type: 'kubeconfig', kubeconfigPath: join(cluster.dataDir, 'proxied.kubeconfig'), namespaces: [NS] },
        ]),
        POLL_INITIAL_SECONDS: '1',
        POLL_MAX_SECONDS: '2',
        ACTIVITY_RETRY_FIRST_SECONDS: '1',
        ACTIVITY_RETRY_MAX_ATTEMPTS: '2',
        KUBE_REQUEST_TIMEOUT_SECONDS: '3',
      }),
    ),
  );
  durable = new LocalDurable({ orchestrators: { jobRun: orchestratorRunner(jobRun) }, activities: { submitRun: (input, context) => submitRun(input, durable, context), observeRun, stopRun } });
}, 240_000);
afterAll(async () => {
  await durable.close();
  toxiproxy?.kill('SIGKILL');
  appProcess?.kill('SIGKILL');
  await cluster.stop();
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => {
        resolve(typeof address === 'object' && address ? address.port : 0);
      });
    });
  });
}

async function toxi(method: string, path: string, body?: unknown): Promise<void> {
  const response = await fetch(`${toxiApi}${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  if (!response.ok) throw new Error(`toxiproxy ${method} ${path}: ${String(response.status)} ${await response.text()}`);
}

/** Jobs of the test's sources (suspended templates), and the verdicts their runs must reach. */
async function sources(): Promise<void> {
  for (const [name, fate] of [
    ['ok', succeeds({ runFor: '6s', terminationMessage: '{"rows":1}' })],
    ['bad', fails({ runFor: '6s', exitCode: 3 })],
    ['ok-long', succeeds({ runFor: '14s', terminationMessage: '{"rows":2}' })],
    ['bad-long', fails({ runFor: '14s', exitCode: 3 })],
  ] as const) {
    await batch.createNamespacedJob({ namespace: NS, body: testJob({ name, namespace: NS, suspend: true, fate }) }).catch((err: unknown) => {
      if (!String(err).includes('AlreadyExists') && !String((err as { code?: unknown }).code).includes('409')) throw err;
    });
  }
}

async function startRun(source: string, clusterAlias = 'local'): Promise<string> {
  const started = await startJobRun(post(`jobs/${NS}/${source}/runs?cluster=${clusterAlias}`, { namespace: NS, name: source }), durable, context());
  expect(started.status, JSON.stringify(started.jsonBody)).toBe(202);
  return (started.jsonBody as { runId: string }).runId;
}

describe('the API server restarted in the middle of runs', () => {
  it('every run reaches its true verdict, none is Failed for the outage, no Job is created twice', async () => {
    await sources();
    const runs = [await startRun('ok'), await startRun('ok'), await startRun('bad'), await startRun('bad')];
    const expected = ['Success', 'Success', 'Failed', 'Failed'];
    const uids = await waitFor('every run to have its Job', async () => {
      const jobs = await Promise.all(runs.map((id) => batch.readNamespacedJob({ namespace: NS, name: id }).catch(() => undefined)));
      return jobs.every((j) => j?.metadata?.uid) ? jobs.map((j) => j?.metadata?.uid) : undefined;
    });

    // While it is down and coming back, what each run says: never a verdict the outage made.
    const seen: RunSnapshot[] = [];
    const watching = { on: true };
    const watcher = (async () => {
      while (watching.on) {
        for (const id of runs) {
          // Null until the orchestration has set its first status (a run just started).
          const status = (await durable.getStatus(id)).customStatus as RunSnapshot | null | undefined;
          if (status) seen.push(status);
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();
    await cluster.restartApiServer(8000);
    const finals = await waitFor(
      'every run to finish',
      async () => {
        const statuses = await Promise.all(runs.map((id) => durable.getStatus(id)));
        return statuses.every((s) => s.runtimeStatus === df.OrchestrationRuntimeStatus.Completed) ? statuses.map((s) => s.output as RunSnapshot) : undefined;
      },
      120_000,
      500,
    );
    watching.on = false;
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

describe('connections cut, answers delayed and connections half-open between the app and the API server', () => {
  it('every run through toxiproxy reaches its true verdict, none is Failed for the faults, no Job is created twice', async () => {
    await sources();
    const runs = [await startRun('ok-long', PROXIED), await startRun('ok-long', PROXIED), await startRun('bad-long', PROXIED), await startRun('bad-long', PROXIED)];
    const uids = await waitFor('every run to have its Job', async () => {
      const jobs = await Promise.all(runs.map((id) => batch.readNamespacedJob({ namespace: NS, name: id }).catch(() => undefined)));
      return jobs.every((j) => j?.metadata?.uid) ? jobs.map((j) => j?.metadata?.uid) : undefined;
    });
    const seen: RunSnapshot[] = [];
    const watching = { on: true };
    const watcher = (async () => {
      while (watching.on) {
        for (const id of runs) {
          // Null until the orchestration has set its first status (a run just started).
          const status = (await durable.getStatus(id)).customStatus as RunSnapshot | null | undefined;
          if (status) seen.push(status);
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();
    const faults: [string, unknown][] = [
      // Every connection reset as soon as data comes.
      ['reset', { name: 'reset', type: 'reset_peer', stream: 'downstream', attributes: { timeout: 0 } }],
      // Answers 5 s late: past KUBE_REQUEST_TIMEOUT_SECONDS (3 s) on every call.
      ['latency', { name: 'latency', type: 'latency', stream: 'downstream', attributes: { latency: 5000, jitter: 0 } }],
      // Half-open: the connection stays up, nothing comes back.
      ['timeout', { name: 'timeout', type: 'timeout', stream: 'downstream', attributes: { timeout: 0 } }],
    ];
    for (const [name, toxic] of faults) {
      await toxi('POST', '/proxies/kube/toxics', toxic);
      await new Promise((resolve) => setTimeout(resolve, 4000));
      await toxi('DELETE', `/proxies/kube/toxics/${name}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const finals = await waitFor(
      'every run to finish',
      async () => {
        const statuses = await Promise.all(runs.map((id) => durable.getStatus(id)));
        return statuses.every((s) => s.runtimeStatus === df.OrchestrationRuntimeStatus.Completed) ? statuses.map((s) => s.output as RunSnapshot) : undefined;
      },
      120_000,
      500,
    );
    watching.on = false;
    await watcher;
    expect(finals.map((f) => `${f.status} ${f.reason}`)).toEqual(['Success CompletionsReached', 'Success CompletionsReached', 'Failed BackoffLimitExceeded', 'Failed BackoffLimitExceeded']);
    expect(finals[0]?.outputs).toEqual({ rows: 2 });
    expect(seen.some((s) => s.reason === 'ClusterUnavailable')).toBe(true);
    expect(seen.filter((s) => s.status === 'Failed' && s.reason !== 'BackoffLimitExceeded')).toEqual([]);
    for (const [i, id] of runs.entries()) {
      const jobs: V1Job[] = (await batch.listNamespacedJob({ namespace: NS, labelSelector: `${RUN_ID_LABEL}=${id}` })).items;
      expect(jobs.map((j) => j.metadata?.uid)).toEqual([uids[i]]);
    }
  }, 240_000);
});

describe('the app\'s process killed between the create of a Job and the record of its result', () => {
  const REPO = join(import.meta.dirname, '../..');

  /** The local app (npm run dev's entry) in a child process, on a task hub kept on disk. */
  async function startApp(stateDir: string, port: number): Promise<ChildProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'local/dev.ts'], {
      cwd: REPO,
      stdio: 'ignore',
      env: {
        ...process.env,
        CLUSTERS: JSON.stringify([{ alias: PROXIED, type: 'kubeconfig', kubeconfigPath: join(cluster.dataDir, 'proxied.kubeconfig'), namespaces: [NS] }]),
        LOCAL_PORT: String(port),
        LOCAL_FUNCTION_KEY: 'faults',
        LOCAL_STATE_DIR: stateDir,
        // The suite's Azurite: left to itself the app starts one of its own, which its SIGKILL would orphan.
        LOGS_CONNECTION_STRING: inject('logsConnectionString'),
        POLL_INITIAL_SECONDS: '1',
        POLL_MAX_SECONDS: '2',
        ACTIVITY_RETRY_FIRST_SECONDS: '1',
      },
    });
    await waitFor('the local app to answer', async () => (await fetch(`http://127.0.0.1:${String(port)}/api/runs/none?code=faults`)).status === 404, 60_000);
    return child;
  }

  it('restarted on the same task hub: one Job, one run, its true verdict', async () => {
    await sources();
    const stateDir = await mkdtemp(join(tmpdir(), 'faults-hub-'));
    const port = await freePort();
    appProcess = await startApp(stateDir, port);
    const app = appProcess;

    // From here the API server's answers to the app come 5 s late, so a Job exists well before the app can
    // know it was made: the kill below lands between the create and the record of its result, every time.
    const added = new Map<string, V1Job>();
    const watchKc = new KubeConfig();
    watchKc.loadFromFile(cluster.kubeconfigPath);
    const watch = await new Watch(watchKc).watch(
      `/apis/batch/v1/namespaces/${NS}/jobs`,
      {},
      (type: string, job: V1Job) => {
        if (type === 'ADDED') added.set(job.metadata?.name ?? '', job);
      },
      () => undefined,
    );
    await toxi('POST', '/proxies/kube/toxics', { name: 'slow', type: 'latency', stream: 'downstream', attributes: { latency: 5000, jitter: 0 } });
    const start = await fetch(`http://127.0.0.1:${String(port)}/api/jobs/${NS}/ok/runs?code=faults&cluster=${PROXIED}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(start.status).toBe(202);
    const { runId } = (await start.json()) as { runId: string };
    const job = await waitFor('the run\'s Job to appear', () => Promise.resolve(added.get(runId)), 30_000, 20);
    app.kill('SIGKILL');
    await new Promise((resolve) => app.once('exit', resolve));
    (watch as { abort: () => void }).abort();
    await toxi('DELETE', '/proxies/kube/toxics/slow');

    // On disk the submit is still pending: the app died before it learnt the Job was made.
    const files = await readdir(stateDir);
    const state = JSON.parse(await readFile(join(stateDir, files.find((f) => f.endsWith('.json')) ?? ''), 'utf8')) as { pending: { name?: string }[] };
    expect(state.pending.map((w) => w.name)).toContain('submitRun');

    appProcess = await startApp(stateDir, port);
    const final = await waitFor(
      'the resumed run to finish',
      async () => {
        const response = await fetch(`http://127.0.0.1:${String(port)}/api/runs/${runId}?code=faults`);
        return response.status === 200 || response.status === 424 ? ((await response.json()) as RunSnapshot) : undefined;
      },
      90_000,
      500,
    );
    expect(`${final.status} ${final.reason}`).toBe('Success CompletionsReached');
    expect(final.outputs).toEqual({ rows: 1 });
    const jobs: V1Job[] = (await batch.listNamespacedJob({ namespace: NS, labelSelector: `${RUN_ID_LABEL}=${runId}` })).items;
    expect(jobs.map((j) => j.metadata?.uid)).toEqual([job.metadata?.uid]);
    appProcess.kill('SIGKILL');
    await rm(stateDir, { recursive: true, force: true });
  }, 240_000);
});
