/**
 * What telemetry costs: `npm run bench:telemetry` (BENCH_RUNS=6 runs a round, BENCH_ROUNDS=4 rounds of runs a mode;
 * BENCH_POLLS=500 polls a round, BENCH_POLL_ROUNDS=20 rounds of polls a mode; each after BENCH_WARMUP=1 pair of
 * rounds not counted; BENCH_PROFILE=1 also prints where the rounds' CPU went, from V8's sampling profiler).
 *
 * The app's CPU (process.cpuUsage of this process, which runs the app as the worker does: the start handler, the
 * jobRun orchestration on the local runtime, its activities against a real local control plane) per run and
 * per poll, with telemetry off and on (the OTLP/HTTP exporters, every span, metric and log record exported to a
 * receiver in another process, so only the app's side is measured), side by side: the rounds come in pairs, one
 * off and one on, in the order off-on, on-off, off-on..., so a machine busy with other work weighs on both alike
 * and neither always goes first. The figures: each mode's median over its rounds, and the median of the pairs'
 * ratios (on over off, each pair measured within seconds, on a shared machine whose speed drifts by tens of
 * percent from one minute to the next). Goal: telemetry adds under 10 %. Figures, never assertions.
 */
import { spawn } from 'node:child_process';
import { type Profiler, Session } from 'node:inspector/promises';
import { cpus, loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

import azureFunctions from '@azure/functions';
import { BatchV1Api, CoreV1Api, KubeConfig, type V1Job } from '@kubernetes/client-node';

import { orchestratorRunner } from '../local/durable/engine.js';
import { LocalDurable } from '../local/durable/runtime.js';
import { startTelemetry, type Telemetry, withSpan } from '../src/clients/telemetry.js';
import { loadConfig } from '../src/config.js';
import { archiveRun } from '../src/functions/archiveRun.js';
import { getRun } from '../src/functions/getRun.js';
import { jobRun } from '../src/functions/jobRun.js';
import { ACTIVITIES, CANCEL_EVENT } from '../src/functions/names.js';
import { observeRun } from '../src/functions/observeRun.js';
import { startJobRun } from '../src/functions/startJobRun.js';
import { stopRun } from '../src/functions/stopRun.js';
import { submitRun } from '../src/functions/submitRun.js';
import { createServices, setServices } from '../src/services.js';
import { startCluster } from '../testenv/cluster.js';
import { quickStart, succeeds } from '../testenv/fates.js';

const RUNS = Number(process.env.BENCH_RUNS ?? '6');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? '4');
const POLLS = Number(process.env.BENCH_POLLS ?? '500');
const POLL_ROUNDS = Number(process.env.BENCH_POLL_ROUNDS ?? '20');
/** Pairs of rounds run first and not counted: the first rounds compile the app's and the SDK's code. */
const WARMUP = Number(process.env.BENCH_WARMUP ?? '1');
/** BENCH_PROFILE=1: sample each round with V8's profiler too (below); the sampling adds to the CPU times of both modes. */
const PROFILE = process.env.BENCH_PROFILE === '1';
const ns = 'bench-otel';

/** An OTLP/HTTP receiver in a process of its own: it reads each request and answers 200. */
async function startReceiver(): Promise<{ endpoint: string; stop: () => void }> {
  const code =
    "const s=require('node:http').createServer((q,r)=>{q.resume();q.on('end',()=>{r.writeHead(200,{'Content-Type':'application/json'});r.end('{}')})});" +
    "s.listen(0,'127.0.0.1',()=>console.log(s.address().port))";
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => { resolve(d.toString().trim()); }));
  return { endpoint: `http://127.0.0.1:${port}`, stop: () => child.kill() };
}

function sourceJob(name: string, fate: { labels: Record<string, string>; annotations: Record<string, string> }): V1Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: ns },
    spec: {
      suspend: true,
      backoffLimit: 0,
      template: {
        metadata: { labels: fate.labels, annotations: { ...quickStart(), ...fate.annotations } },
        spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36', command: ['sh', '-c', 'echo hi'] }] },
      },
    },
  };
}

/**
 * Where a round's CPU went, from V8's sampling profiler (one sample a millisecond): the time of samples in telemetry
 * (an OpenTelemetry package or the app's telemetry client nearest on the stack: the app's work, which runs inside
 * the helpers' frames, is the app's) and in Node's async_hooks (an AsyncLocalStorage context manager's promise
 * hooks run there), of all samples but idle. A share within one round is not moved by the machine's speed, which
 * the CPU times are; it misses what telemetry costs elsewhere (garbage collection, the export's socket callbacks).
 */
interface Shares {
  telemetry: number;
  hooks: number;
  gc: number;
  all: number;
}

function sharesOf(profile: Profiler.Profile): Shares {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  type Kind = 'telemetry' | 'hooks' | 'gc' | 'idle' | 'app';
  const kinds = new Map<number, Kind>();
  const kindOf = (id: number): Kind => {
    const known = kinds.get(id);
    if (known) return known;
    const { url, functionName } = byId.get(id)?.callFrame ?? { url: '', functionName: '' };
    let kind: Kind;
    if (functionName === '(idle)') kind = 'idle';
    else if (functionName === '(garbage collector)') kind = 'gc';
    else if (/async_hooks|async_local_storage/.test(url)) kind = 'hooks';
    else if (/@opentelemetry|monitor-opentelemetry|src\/clients\/(telemetry|otel-events)/.test(url)) kind = 'telemetry';
    else if (url !== '' && !url.startsWith('node:')) kind = 'app';
    else {
      // Native code and Node's own modules are their caller's.
      const up = parent.get(id);
      kind = up === undefined ? 'app' : kindOf(up);
      if (kind === 'idle' || kind === 'gc') kind = 'app';
    }
    kinds.set(id, kind);
    return kind;
  };
  const shares: Shares = { telemetry: 0, hooks: 0, gc: 0, all: 0 };
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const kind = kindOf(samples[i] ?? 0);
    if (kind === 'idle') continue;
    const us = deltas[i] ?? 0;
    shares.all += us;
    if (kind === 'telemetry') shares.telemetry += us;
    if (kind === 'hooks') shares.hooks += us;
    if (kind === 'gc') shares.gc += us;
  }
  return shares;
}

const cpuMs = (from: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(from);
  return (used.user + used.system) / 1000;
};

const cluster = await startCluster({ nodes: 1 });
const receiver = await startReceiver();
let telemetry: Telemetry | null = null;
try {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  const batch = kc.makeApiClient(BatchV1Api);
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
  await sleep(2000); // the namespace's default ServiceAccount
  await batch.createNamespacedJob({ namespace: ns, body: sourceJob('quick', succeeds({ runFor: '2s' })) });
  await batch.createNamespacedJob({ namespace: ns, body: sourceJob('long', succeeds({ runFor: '1h' })) });

  const env = { CLUSTERS: JSON.stringify([{ alias: 'local', type: 'kubeconfig', kubeconfigPath: cluster.kubeconfigPath, namespaces: [ns] }]), POLL_INITIAL_SECONDS: '1', POLL_MAX_SECONDS: '2' };
  const config = loadConfig(env);
  const telemetrySettings = loadConfig({ ...env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint }).telemetry;
  setServices(createServices(config));
  const durable: LocalDurable = new LocalDurable({ orchestrators: { jobRun: orchestratorRunner(jobRun) }, activities: { submitRun: (input, context) => submitRun(input, durable, context), observeRun, stopRun, archiveRun } });
  // The package is CommonJS: under plain Node its classes come from the default export.
  const { HttpRequest, InvocationContext } = azureFunctions;
  const context = () => new InvocationContext({ functionName: 'bench', invocationId: 'bench', logHandler: () => undefined });
  const url = (path: string) => `http://127.0.0.1:7071/api/${path}`;
  const start = async (source: string): Promise<string> => {
    const post = new HttpRequest({ method: 'POST', url: url(`jobs/${ns}/${source}/runs`), params: { namespace: ns, name: source }, headers: { 'content-type': 'application/json' }, body: { string: '{}' } });
    const started = await startJobRun(post, durable, context());
    if (started.status !== 202) throw new Error(`start answered ${String(started.status)}: ${JSON.stringify(started.jsonBody)}`);
    return (started.jsonBody as { runId: string }).runId;
  };
  const finished = async (runId: string) => {
    for (;;) {
      const answer = await getRun(new HttpRequest({ method: 'GET', url: url(`runs/${runId}`), params: { runId } }), durable, context());
      if (answer.status === 200 || answer.status === 424) return;
      await sleep(500);
    }
  };

  const session = new Session();
  if (PROFILE) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 1000 });
  }
  const profiled = async <T>(work: () => Promise<T>): Promise<{ result: T; shares: Shares }> => {
    if (!PROFILE) return { result: await work(), shares: { telemetry: 0, hooks: 0, gc: 0, all: 0 } };
    await session.post('Profiler.start');
    const result = await work();
    const { profile } = await session.post('Profiler.stop');
    return { result, shares: sharesOf(profile) };
  };
  type Mode = 'off' | 'on';
  /** Pair k's order: off then on, then on then off, and so on. */
  const modesOf = (pair: number): Mode[] => (Math.abs(pair) % 2 === 0 ? ['off', 'on'] : ['on', 'off']);
  const telemetryFor = (mode: Mode) => (mode === 'on' ? startTelemetry(telemetrySettings) : Promise.resolve(null));

  // Runs, per round: started at once, each to its verdict and archive step, through the orchestration and activities.
  const results: Record<Mode, { run: number[]; poll: number[] }> = { off: { run: [], poll: [] }, on: { run: [], poll: [] } };
  const profiles: Record<Mode, Record<'run' | 'poll', Shares>> = {
    off: { run: { telemetry: 0, hooks: 0, gc: 0, all: 0 }, poll: { telemetry: 0, hooks: 0, gc: 0, all: 0 } },
    on: { run: { telemetry: 0, hooks: 0, gc: 0, all: 0 }, poll: { telemetry: 0, hooks: 0, gc: 0, all: 0 } },
  };
  const add = (to: Shares, from: Shares) => {
    to.telemetry += from.telemetry;
    to.hooks += from.hooks;
    to.gc += from.gc;
    to.all += from.all;
  };
  for (let pair = -WARMUP; pair < ROUNDS; pair++) {
    for (const mode of modesOf(pair)) {
      telemetry = await telemetryFor(mode);
      const { result: cpu, shares } = await profiled(async () => {
        const from = process.cpuUsage();
        const runIds = await Promise.all(Array.from({ length: RUNS }, () => start('quick')));
        await Promise.all(runIds.map(finished));
        await sleep(1500); // the archive activity after the verdict
        await telemetry?.flush();
        return cpuMs(from);
      });
      if (pair >= 0) {
        results[mode].run.push(cpu / RUNS);
        add(profiles[mode].run, shares);
      }
      await telemetry?.shutdown();
      telemetry = null;
    }
  }

  // Polls, per round: the observe activity on a run that keeps running, as its orchestration calls it (its
  // orchestration has already polled it, so these polls see nothing new: no span, as for most polls of a long run).
  // A round of polls is a few tens of ms of CPU, so its pair is measured under the same load.
  const longRun = await start('long');
  await sleep(3000);
  const input = durable.state(longRun)?.records.find((r) => r.kind === 'scheduled' && r.name === ACTIVITIES.observeRun);
  if (!input || input.kind !== 'scheduled') throw new Error('no observe was scheduled');
  for (let pair = -WARMUP; pair < POLL_ROUNDS; pair++) {
    for (const mode of modesOf(pair)) {
      telemetry = await telemetryFor(mode);
      // As in a worker, where starts and kept polls make spans between the polls that make none: one span made
      // through the app's helper first, so whatever a span turns on (an async context manager's hooks) is on.
      await withSpan('bench: a span before the polls', {}, () => Promise.resolve());
      await telemetry?.flush();
      const { result: cpu, shares } = await profiled(async () => {
        const from = process.cpuUsage();
        for (let i = 0; i < POLLS; i++) await observeRun(input.input, context());
        await telemetry?.flush();
        return cpuMs(from);
      });
      if (pair >= 0) {
        results[mode].poll.push(cpu / POLLS);
        add(profiles[mode].poll, shares);
      }
      await telemetry?.shutdown();
      telemetry = null;
    }
  }
  await durable.raiseEvent(longRun, CANCEL_EVENT, {});
  await finished(longRun);
  await durable.close();
  if (PROFILE) session.disconnect();

  const median = (values: readonly number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  };
  const off = { run: median(results.off.run), poll: median(results.off.poll) };
  const on = { run: median(results.on.run), poll: median(results.on.poll) };
  /** The median of the pairs' ratios, on over off (round i of each mode is pair i's). */
  const paired = (offs: readonly number[], ons: readonly number[]) => median(ons.map((v, i) => v / (offs[i] ?? Number.NaN)));
  const pct = (ratio: number) => `${((ratio - 1) * 100).toFixed(1)} %`;
  const list = (values: readonly number[], digits: number) => values.map((v) => v.toFixed(digits)).join(' ');
  console.log(
    `telemetry cost: rounds in pairs (off-on, on-off, ...) after ${String(WARMUP)} pair not counted; ${String(ROUNDS)} pairs of ${String(RUNS)} runs, ${String(POLL_ROUNDS)} pairs of ${String(POLLS)} polls; ` +
      "the app's CPU (user + system): each mode's median, and the median of the pairs' on/off ratios",
  );
  console.log(`${''.padEnd(22)}${'off'.padStart(10)}${'on (OTLP)'.padStart(12)}${'more'.padStart(10)}${'paired'.padStart(10)}   rounds off | on`);
  console.log(
    `${'CPU per run (ms)'.padEnd(22)}${off.run.toFixed(1).padStart(10)}${on.run.toFixed(1).padStart(12)}${pct(on.run / off.run).padStart(10)}` +
      `${pct(paired(results.off.run, results.on.run)).padStart(10)}   ${list(results.off.run, 1)} | ${list(results.on.run, 1)}`,
  );
  console.log(
    `${'CPU per poll (ms)'.padEnd(22)}${off.poll.toFixed(3).padStart(10)}${on.poll.toFixed(3).padStart(12)}${pct(on.poll / off.poll).padStart(10)}` +
      `${pct(paired(results.off.poll, results.on.poll)).padStart(10)}   ${list(results.off.poll, 3)} | ${list(results.on.poll, 3)}`,
  );
  const share = (part: number, all: number) => `${((part / all) * 100).toFixed(1)} %`;
  if (PROFILE) console.log("the rounds' CPU samples (profile) in telemetry code | in async_hooks | in garbage collection, off and on:");
  for (const what of PROFILE ? (['run', 'poll'] as const) : []) {
    const [a, b] = [profiles.off[what], profiles.on[what]];
    console.log(
      `${`  ${what}s`.padEnd(22)}off ${share(a.telemetry, a.all)} | ${share(a.hooks, a.all)} | ${share(a.gc, a.all)}` +
        `   on ${share(b.telemetry, b.all)} | ${share(b.hooks, b.all)} | ${share(b.gc, b.all)}` +
        `   (${String(Math.round(a.all / 1000))} and ${String(Math.round(b.all / 1000))} ms sampled)`,
    );
  }
  console.log(`load average (1, 5, 15 min): ${loadavg().map((l) => l.toFixed(2)).join(', ')} on ${String(cpus().length)} cores`);
} finally {
  await telemetry?.shutdown();
  receiver.stop();
  await cluster.stop();
}
