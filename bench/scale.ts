/**
 * Scale benchmark: `npm run bench:scale` (BENCH_N=50,200 by default; BENCH_WINDOWS=4 poll windows a mode).
 *
 * N concurrent runs in one namespace of a real local control plane (testenv), observed the way the observe
 * activity does, 10 at a time (host.json's maxConcurrentActivityFunctions), one round per poll window, in
 * four modes side by side: per-run reads with a new TLS connection per request (client-node 2 as it is),
 * per-run reads over one keep-alive pool, batched lists over one keep-alive pool, and the same batched lists
 * in two workers that share the runs (each its own lists, as two instances of the app). It prints, per mode:
 * API requests per poll window (the API server's own apiserver_request_total, an idle window of the same
 * length subtracted), the app's CPU per run and poll, the API server's CPU per window (/proc/<pid>/stat),
 * and the worker's memory. Then detection latency (Job's terminal condition to the status route's final
 * answer, through the app's start route and orchestration on the local runtime) and history records per run over a one-hour run (the replay engine, fake clock).
 * Figures, never assertions.
 */
import { readFile, readlink } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { cpus, totalmem } from 'node:os';

import azureFunctions from '@azure/functions';
import { BatchV1Api, CoreV1Api, KubeConfig, type V1Job } from '@kubernetes/client-node';

import { completeActivity, fireTimer, newInstance, orchestratorRunner, replay } from '../local/durable/engine.js';
import { LocalDurable } from '../local/durable/runtime.js';
import { KubeconfigFileSource } from '../src/clients/credentials.js';
import { ClientNodeGateway } from '../src/clients/kube.js';
import { loadConfig } from '../src/config.js';
import { pollDelayMs } from '../src/core/backoff.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, RUN_ID_LABEL } from '../src/core/labels.js';
import { type RunRef, snapshotOf } from '../src/core/run.js';
import type { JobRunInput } from '../src/core/schemas.js';
import { getRun } from '../src/functions/getRun.js';
import { jobRun } from '../src/functions/jobRun.js';
import { ACTIVITIES } from '../src/functions/names.js';
import { observeRun } from '../src/functions/observeRun.js';
import { startJobRun } from '../src/functions/startJobRun.js';
import { stopRun } from '../src/functions/stopRun.js';
import { submitRun } from '../src/functions/submitRun.js';
import { BATCH } from '../src/runs/batch.js';
import { observeOnce, runReader } from '../src/runs/observe.js';
import { createServices, setServices } from '../src/services.js';
import { startCluster } from '../testenv/cluster.js';
import { COMPLETE_DELAY_ANNOTATION, COMPLETE_JITTER_ANNOTATION } from '../testenv/fates.js';

const SIZES = (process.env.BENCH_N ?? '50,200').split(',').map(Number);
const WINDOWS = Number(process.env.BENCH_WINDOWS ?? '4');
const WINDOW_MS = 5_000;
const CONCURRENCY = 10;
const grace = { imagePullSeconds: 120, containerConfigSeconds: 60, unschedulableSeconds: 600, quotaSeconds: 300 };
const noSettle = { reads: 0, intervalMs: 0 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

console.log(`# scale: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`);
const cluster = await startCluster({ nodes: 2 });
try {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  const batch = kc.makeApiClient(BatchV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const apiserverPid = await findPid(cluster.dataDir, 'kube-apiserver');
  const metricsAgent = new Agent({ ca: cluster.caPem, keepAlive: true });

  /** Requests of the kinds the observe makes (GET and LIST of jobs, pods, events), from the API server. */
  async function observeRequests(): Promise<number> {
    const text = await httpsText(`${cluster.server}/metrics`, cluster.adminToken, metricsAgent);
    let sum = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith('apiserver_request_total{')) continue;
      if (!/verb="(GET|LIST)"/.test(line) || !/resource="(jobs|pods|events)"/.test(line)) continue;
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return sum;
  }
  const apiserverCpuMs = async () => {
    const fields = (await readFile(`/proc/${apiserverPid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, in 100 Hz ticks
  };

  async function idle(ms: number): Promise<{ requests: number; cpuMs: number }> {
    const [r0, c0] = [await observeRequests(), await apiserverCpuMs()];
    await sleep(ms);
    return { requests: (await observeRequests()) - r0, cpuMs: (await apiserverCpuMs()) - c0 };
  }

  const rows: string[][] = [];
  for (const n of SIZES) {
    const ns = `bench-${String(n)}`;
    await core.createNamespace({ body: { metadata: { name: ns } } });
    const refs: RunRef[] = [];
    for (let i = 0; i < n; i++) {
      const runId = `bench-${String(i).padStart(4, '0')}`;
      refs.push({ runId, cluster: 'local', namespace: ns, source: { kind: 'Job', name: 'bench' } });
      await batch.createNamespacedJob({ namespace: ns, body: longJob(runId, ns) });
    }
    // Finished Jobs of the app that nobody watches any more: the batched lists must not read them.
    for (let i = 0; i < n; i++) await batch.createNamespacedJob({ namespace: ns, body: longJob(`old-${String(i).padStart(4, '0')}`, ns, true) });
    await waitRunning(core, ns, n);

    const modes = [
      { name: 'per-run, new TLS per request', batching: false, reuse: false },
      { name: 'per-run, keep-alive', batching: false, reuse: true },
      { name: 'batched, keep-alive', batching: true, reuse: true },
      // Durable hands each observe to any worker: two workers, each with its own lists, sharing the runs.
      { name: 'batched, keep-alive, 2 workers', batching: true, reuse: true, workers: 2 },
    ];
    for (const mode of modes) {
      const workers = Array.from({ length: mode.workers ?? 1 }, () => {
        const gateway = new ClientNodeGateway(new KubeconfigFileSource(cluster.kubeconfigPath), 30_000, mode.reuse);
        return { gateway, read: runReader(gateway, mode.batching, BATCH) };
      });
      globalThis.gc?.();
      const r0 = await observeRequests();
      const c0 = await apiserverCpuMs();
      const app0 = process.cpuUsage();
      const started = Date.now();
      let statuses = new Map<string, number>();
      // The request count at the start of each window and at the end: what each window cost.
      const marks = [r0];
      for (let w = 0; w < WINDOWS; w++) {
        if (w > 0) marks.push(await observeRequests());
        const windowStart = Date.now();
        statuses = new Map();
        let next = 0;
        await Promise.all(
          Array.from({ length: CONCURRENCY }, async () => {
            while (next < refs.length) {
              // A run's observe lands on another worker from one window to the next, as the host spreads them.
              const worker = workers[(next + w) % workers.length];
              const ref = refs[next++];
              if (!ref || !worker) break;
              const s = await observeOnce(worker.gateway, ref, grace, null, new Date(), noSettle, worker.read);
              statuses.set(s.status, (statuses.get(s.status) ?? 0) + 1);
            }
          }),
        );
        await sleep(Math.max(0, WINDOW_MS - (Date.now() - windowStart)));
      }
      const elapsed = Date.now() - started;
      const app = process.cpuUsage(app0);
      // Less this bench's own /metrics reads; the first window also tells the worker which runs it watches.
      const end = await observeRequests();
      marks.push(end);
      const perWindow = marks.slice(1).map((mark, i) => mark - (marks[i] ?? mark) - 1);
      const cpu = (await apiserverCpuMs()) - c0;
      const base = await idle(elapsed);
      const mem = process.memoryUsage();
      rows.push([
        String(n),
        mode.name,
        perWindow.map((r) => (r - base.requests / WINDOWS).toFixed(0)).join(', '),
        ((app.user + app.system) / 1000 / (n * WINDOWS)).toFixed(2),
        ((cpu - base.cpuMs) / WINDOWS).toFixed(0),
        (mem.rss / 2 ** 20).toFixed(0),
        [...statuses].map(([k, v]) => `${k} ${String(v)}`).join(', '),
      ]);
      console.log(`  N=${String(n)} ${mode.name}: done in ${(elapsed / 1000).toFixed(1)} s`);
    }
    await core.deleteNamespace({ name: ns });
  }
  console.log('\n| N | mode | API requests in each poll window | app CPU ms / run / poll | API server CPU ms / window | worker RSS MiB | statuses seen |');
  console.log('|---|---|---|---|---|---|---|');
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);

  console.log('\n# detection latency: Job terminal condition → the status route\'s final answer (start route, jobRun on the local runtime, default poll policy)');
  console.log(await detection(cluster.kubeconfigPath, batch, Number(process.env.BENCH_DETECT_N ?? '20')));
} finally {
  await cluster.stop();
}

console.log('\n# history records per run over a one-hour run (replay engine, fake clock)');
console.log(await historyOfOneHour());

function longJob(runId: string, namespace: string, suspend = false): V1Job {
  const labels = { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [RUN_ID_LABEL]: runId };
  return {
    metadata: { name: runId, namespace, labels },
    spec: {
      backoffLimit: 0,
      suspend,
      template: {
        metadata: { labels, annotations: { [COMPLETE_DELAY_ANNOTATION]: '1h', [COMPLETE_JITTER_ANNOTATION]: '1h' } },
        spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36' }] },
      },
    },
  };
}

async function waitRunning(core: CoreV1Api, namespace: string, n: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const pods = await core.listNamespacedPod({ namespace });
    if (pods.items.filter((p) => p.status?.phase === 'Running').length >= n) return;
    await sleep(1000);
  }
  throw new Error(`${String(n)} pods did not all run in ${namespace}`);
}

async function findPid(dataDir: string, binary: string): Promise<number> {
  const { pids } = JSON.parse(await readFile(`${dataDir}/pids.json`, 'utf8')) as { pids: number[] };
  for (const pid of pids) {
    if ((await readlink(`/proc/${String(pid)}/exe`).catch(() => '')).endsWith(`/${binary}`)) return pid;
  }
  throw new Error(`no ${binary} among ${pids.join(', ')}`);
}

function httpsText(url: string, token: string, agent: Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        resolve(body);
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Runs that end 5-25 s in, through the app itself: the start route, the jobRun orchestration on the local
 * runtime (default poll policy: 5 s, ×1.5, aligned timers), and the status route, read every 100 ms until
 * it gives the final answer. Latency: from the Job's terminal condition to that answer.
 */
async function detection(kubeconfigPath: string, batch: BatchV1Api, k: number): Promise<string> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const ns = 'bench-detect';
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
  await sleep(2000); // the namespace's default ServiceAccount
  const config = loadConfig({ CLUSTERS: JSON.stringify([{ alias: 'local', type: 'kubeconfig', kubeconfigPath, namespaces: [ns] }]) });
  setServices(createServices(config));
  const durable: LocalDurable = new LocalDurable({ orchestrators: { jobRun: orchestratorRunner(jobRun) }, activities: { submitRun: (input, context) => submitRun(input, durable, context), observeRun, stopRun } });
  // The package is CommonJS: under plain Node its classes come from the default export.
  const { HttpRequest, InvocationContext } = azureFunctions;
  const context = () => new InvocationContext({ functionName: 'bench', invocationId: 'bench', logHandler: () => undefined });
  const url = (path: string) => `http://127.0.0.1:7071/api/${path}`;
  try {
    const results = await Promise.all(
      Array.from({ length: k }, async (_, i) => {
        const source = `detect-${String(i).padStart(3, '0')}`;
        const job = longJob(source, ns, true);
        const delay = `${String(5 + Math.round((20 * i) / Math.max(1, k - 1)))}s`;
        const annotations = job.spec?.template.metadata?.annotations;
        if (annotations) {
          annotations[COMPLETE_DELAY_ANNOTATION] = delay;
          annotations[COMPLETE_JITTER_ANNOTATION] = delay;
        }
        // A source Job, as an operator keeps it: suspended, without the app's labels.
        await batch.createNamespacedJob({ namespace: ns, body: { ...job, metadata: { name: source, namespace: ns } } });
        const post = new HttpRequest({ method: 'POST', url: url(`jobs/${ns}/${source}/runs`), params: { namespace: ns, name: source }, headers: { 'content-type': 'application/json' }, body: { string: '{}' } });
        const started = await startJobRun(post, durable, context());
        const runId = (started.jsonBody as { runId: string }).runId;
        for (;;) {
          const answer = await getRun(new HttpRequest({ method: 'GET', url: url(`runs/${runId}`), params: { runId } }), durable, context());
          if (answer.status === 200 || answer.status === 424) break;
          await sleep(100);
        }
        const seen = Date.now();
        const done = (await batch.readNamespacedJob({ namespace: ns, name: runId })).status?.conditions?.find((c) => c.type === 'SuccessCriteriaMet' || c.type === 'Complete');
        const polls = (durable.state(runId)?.records ?? []).filter((r) => r.kind === 'scheduled' && r.name === ACTIVITIES.observeRun).length;
        const interval = pollDelayMs(config.poll, Math.max(0, polls - 1));
        return { latency: seen - new Date(done?.lastTransitionTime ?? seen).getTime(), interval };
      }),
    );
    const sorted = results.map((r) => r.latency).sort((a, b) => a - b);
    const worst = Math.max(...results.map((r) => r.latency / r.interval));
    return `${String(k)} runs: median ${String((sorted[Math.floor(k / 2)] ?? 0) / 1000)} s, max ${String((sorted[k - 1] ?? 0) / 1000)} s; worst latency / the poll interval of the step that saw it ${worst.toFixed(2)} (condition times have 1 s resolution)`;
  } finally {
    await durable.close();
  }
}

async function historyOfOneHour(): Promise<string> {
  const ref = { runId: 'bench-0123456789', cluster: 'local', namespace: 'batch', source: { kind: 'Job' as const, name: 'bench' } };
  const t0 = new Date('2026-11-23T10:00:00Z');
  const input: JobRunInput = {
    request: { ...ref, overrides: {}, requestHash: 'h' },
    poll: { initialSeconds: 5, maxSeconds: 60, factor: 1.5, continueAsNewAfter: 50, maxObserveFailures: 10 },
    retry: { firstRetryMs: 1000, maxAttempts: 3 },
  };
  const runner = orchestratorRunner(jobRun);
  const running = snapshotOf(ref, { status: 'Running', reason: 'Running', message: '' }, t0);
  const state = newInstance('bench', 'jobRun', input, t0);
  let now = t0;
  await replay(state, runner, now);
  completeActivity(state, state.pending[0]?.id ?? 0, { outcome: 'submitted', snapshot: running }, now);
  await replay(state, runner, now);
  let polls = 0;
  let maxRecords = 0;
  let executions = 1;
  let lastInput = state.input;
  while (now.getTime() - t0.getTime() < 3600_000) {
    const timer = state.pending.find((w) => w.kind === 'timer');
    if (!timer) throw new Error('no timer');
    now = timer.fireAt;
    fireTimer(state, timer.id, now);
    await replay(state, runner, now);
    const observe = state.pending.find((w) => w.kind === 'activity' && w.name === ACTIVITIES.observeRun);
    if (!observe) throw new Error('no observe');
    completeActivity(state, observe.id, snapshotOf(ref, { status: 'Running', reason: 'Running', message: '' }, now), now);
    maxRecords = Math.max(maxRecords, state.records.length);
    await replay(state, runner, now);
    polls++;
    if (state.input !== lastInput) {
      executions++;
      lastInput = state.input;
    }
  }
  return `${String(polls)} polls in one hour, ${String(executions)} executions (continueAsNew every 50 polls), at most ${String(maxRecords)} history records in one execution, ${String(state.records.length)} in the last`;
}
