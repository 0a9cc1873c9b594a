/**
 * A throwaway Kubernetes control plane on 127.0.0.1 for the integration tests and the demo: etcd,
 * kube-apiserver, kube-controller-manager and kube-scheduler built from k8s.io/kubernetes' Go modules, and
 * kwok playing the kubelet of a few fake nodes. The binaries come from scripts/kube-testenv (built once into a
 * cache outside the repo); the control plane itself lives in a data dir of its own and goes away with stop().
 * See docs/test-control-plane.md.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { LOCAL_POD_LOG_LINES } from './fates.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const script = join(root, 'scripts', 'kube-testenv');
const ownStages = join(root, 'testenv', 'stages');

/** Default data dirs are made here, under this prefix, so a later start can find and clear abandoned ones. */
const DATA_DIR_PREFIX = 'aks-job-runner-kube-';
/** Marks a dir as ours, so cleanup never deletes a dir a caller pointed at that holds anything else. */
const MARKER = '.aks-job-runner-testenv';
const PIDS_FILE = 'pids.json';

/** A throwaway Kubernetes control plane on 127.0.0.1, with kwok playing the nodes. */
export interface LocalCluster {
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** PEM of the certificate the API server made for itself (the kubeconfigs trust it). */
  readonly caPem: string;
  /** Data, keys, kubeconfigs and one log file per process (`<process>.log`). */
  readonly dataDir: string;
  /** Kubeconfig of a cluster admin (system:masters). */
  readonly kubeconfigPath: string;
  /** Kubeconfig of a user with no groups and no bindings: everything is 403 until a test grants something. */
  readonly noRightsKubeconfigPath: string;
  /** The user name behind noRightsKubeconfigPath, to bind roles to. */
  readonly noRightsUser: string;
  /** The admin's bearer token (tests check it never leaks into run history). */
  readonly adminToken: string;
  /** The fake nodes, Ready and schedulable. */
  readonly nodeNames: readonly string[];
  /** Stops every process (SIGTERM, then SIGKILL after 5 s) and removes the data dir unless asked to keep it. */
  stop(): Promise<void>;
  /** The kube-apiserver's process id (for /proc/<pid>/stat); a restart changes it. */
  readonly apiServerPid: number;
  /**
   * Stops the kube-apiserver (SIGTERM), leaves it down for `downMs`, and starts it again with the same flags on
   * the same etcd; resolves once it is ready. The other processes reconnect on their own.
   */
  restartApiServer(downMs?: number): Promise<void>;
}

export interface ClusterOptions {
  /** Where data, keys, kubeconfigs and logs go; a new dir under the OS temp dir by default. */
  dataDir?: string;
  /** Keep the data dir (and its logs) after stop(), for a look after a failed run. */
  keepDataDir?: boolean;
  /** How many fake nodes to create (default 2). */
  nodes?: number;
  /** Progress lines (build output, readiness); nothing by default. */
  log?: (line: string) => void;
  /**
   * Logs of their own for the pods of some namespaces (kwok ClusterLogs, matched before the one file every other
   * pod shares): every container of those pods reads `logsFile` (CRI format), and its previous instance
   * `previousLogsFile`. kwok resolves a symlink when a read opens it, so a symlink re-pointed at a new file stands
   * for a container restarted into a new log, while a follow opened before keeps reading the old file.
   */
  podLogs?: readonly { namespace: string; logsFile: string; previousLogsFile: string }[];
}

const CONTROLLERS = [
  'job-controller',
  'cronjob-controller',
  'garbage-collector-controller',
  'namespace-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
  'root-ca-certificate-publisher-controller',
  'ttl-after-finished-controller',
  'pod-garbage-collector-controller',
  // Quota admission refuses pods against a ResourceQuota whose usage no controller has computed yet.
  'resourcequota-controller',
  // The API server taints every new node not-ready; only this controller lifts the taint.
  'node-lifecycle-controller',
].join(',');

/** kwok's own stage files (in the Go module cache, pinned by the kwok version) that this environment uses. */
const SHIPPED_STAGES = [
  'node/fast/node-initialize.yaml',
  'node/heartbeat-with-lease/node-heartbeat-with-lease.yaml',
  'pod/general/pod-create.yaml',
  'pod/general/pod-init-container-running.yaml',
  'pod/general/pod-init-container-completed.yaml',
  'pod/general/pod-ready.yaml',
  'pod/general/pod-complete.yaml',
  'pod/general/pod-delete.yaml',
  'pod/chaos/pod-container-running-failed.yaml',
];

/** Start etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok on loopback, and fake nodes. */
export async function startCluster(options: ClusterOptions = {}): Promise<LocalCluster> {
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const bin = await ensureBinaries(log);
  const stageDir = await kwokStageDir();
  await clearAbandoned(bin, options.dataDir, log);

  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), DATA_DIR_PREFIX)));
  await mkdir(dataDir, { recursive: true });
  await writeFile(join(dataDir, MARKER), '');
  const group = new ProcessGroup(dataDir, log, options.keepDataDir ?? false);

  try {
    const [etcdClient, etcdPeer, apiPort, kcmPort, schedPort, kwokPort] = await Promise.all(Array.from({ length: 6 }, freePort));
    const server = `https://127.0.0.1:${apiPort}`;
    const adminToken = randomBytes(24).toString('hex');
    const userToken = randomBytes(24).toString('hex');
    const noRightsUser = 'no-rights';

    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const saKey = join(dataDir, 'sa.key');
    const saPub = join(dataDir, 'sa.pub');
    await writeFile(saKey, privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
    await writeFile(saPub, publicKey.export({ type: 'spki', format: 'pem' }));
    const tokens = join(dataDir, 'tokens.csv');
    // token,user,uid,"groups": authenticated users also get system:authenticated, which grants discovery only.
    await writeFile(tokens, `${adminToken},admin,admin-uid,"system:masters"\n${userToken},${noRightsUser},no-rights-uid\n`, { mode: 0o600 });

    const etcd = await group.start(join(bin, 'etcd'), 'etcd', [
      '--name=local',
      `--data-dir=${join(dataDir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=local=http://127.0.0.1:${etcdPeer}`,
      // The data is thrown away at the end; waiting for the disk would only slow every write down.
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ]);
    await group.waitUntil('etcd to accept clients', etcd, 30_000, async () => (await fetch(`http://127.0.0.1:${etcdClient}/health`)).ok);

    const certDir = join(dataDir, 'pki');
    const apiserverArgs = [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      // It makes its own serving certificate (for 127.0.0.1) here; the kubeconfigs trust that certificate.
      `--cert-dir=${certDir}`,
      // Without this it logs every 10 s that 127.0.0.1 cannot be the kubernetes Service's endpoint.
      '--endpoint-reconciler-type=none',
      `--token-auth-file=${tokens}`,
      '--authorization-mode=Node,RBAC',
      `--service-account-key-file=${saPub}`,
      `--service-account-signing-key-file=${saKey}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      // A value the API server requires. Nothing here routes or sends traffic to it; it is kept out of the
      // private ranges all the same (198.18.0.0/15 is reserved for benchmarking, RFC 2544).
      '--service-cluster-ip-range=198.18.0.0/24',
      // Reach kwok's kubelet endpoint (pod logs) by the node's IP, 127.0.0.1, never by resolving its name.
      '--kubelet-preferred-address-types=InternalIP',
      // As on AKS: the API server itself admits privileged containers, so an admission policy is what refuses
      // them (test/integration/admission-policy.test.ts; the default, false, would refuse them first).
      '--allow-privileged=true',
      '--profiling=false',
      '--v=1',
    ];
    let apiserver = await group.start(join(bin, 'kube-apiserver'), 'kube-apiserver', apiserverArgs);
    await group.waitUntil('kube-apiserver to be ready', apiserver, 120_000, async () => (await httpsGet(`${server}/readyz`, adminToken)).status === 200);
    const caPem = await readFile(join(certDir, 'apiserver.crt'), 'utf8');

    const kubeconfigPath = join(dataDir, 'admin.kubeconfig');
    const noRightsKubeconfigPath = join(dataDir, 'no-rights.kubeconfig');
    await writeFile(kubeconfigPath, kubeconfig(server, caPem, 'admin', adminToken), { mode: 0o600 });
    await writeFile(noRightsKubeconfigPath, kubeconfig(server, caPem, noRightsUser, userToken), { mode: 0o600 });

    // No --authentication-kubeconfig / --authorization-kubeconfig for the next two: without a client CA on the
    // API server they wait for a ConfigMap that is never written, and the scheduler then schedules nothing.
    const kcm = await group.start(join(bin, 'kube-controller-manager'), 'kube-controller-manager', [
      `--kubeconfig=${kubeconfigPath}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${kcmPort}`,
      '--leader-elect=false',
      `--service-account-private-key-file=${saKey}`,
      `--root-ca-file=${join(certDir, 'apiserver.crt')}`,
      // Each controller acts as its own ServiceAccount, so RBAC treats it as in a real cluster.
      '--use-service-account-credentials=true',
      `--controllers=${CONTROLLERS}`,
      '--v=1',
    ]);
    const scheduler = await group.start(join(bin, 'kube-scheduler'), 'kube-scheduler', [
      `--kubeconfig=${kubeconfigPath}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${schedPort}`,
      '--leader-elect=false',
      '--v=1',
    ]);

    const logsFile = join(dataDir, 'pod.log');
    // kwok serves this file as every container's log; it reads the CRI log format (time, stream, tag, line).
    const stamp = new Date().toISOString().replace('Z', '000000Z');
    await writeFile(logsFile, LOCAL_POD_LOG_LINES.map((line) => `${stamp} stdout F ${line}`).join('\n') + '\n');
    const kwokConfig = join(dataDir, 'kwok.yaml');
    await writeFile(
      kwokConfig,
      [
        // kwok takes the first ClusterLogs whose selector matches a pod (pkg/kwok/server/debugging_logs.go, getPodLogs).
        ...(options.podLogs ?? []).flatMap((rule, i) => [
          'apiVersion: kwok.x-k8s.io/v1alpha1',
          'kind: ClusterLogs',
          'metadata:',
          `  name: own-${String(i)}`,
          'spec:',
          '  selector:',
          `    matchNamespaces: [${JSON.stringify(rule.namespace)}]`,
          '  logs:',
          `  - logsFile: ${JSON.stringify(rule.logsFile)}`,
          `    previousLogsFile: ${JSON.stringify(rule.previousLogsFile)}`,
          '    follow: true',
          '---',
        ]),
        'apiVersion: kwok.x-k8s.io/v1alpha1',
        'kind: ClusterLogs',
        'metadata:',
        '  name: all-pods',
        'spec:',
        '  logs:',
        `  - logsFile: ${JSON.stringify(logsFile)}`,
        `    previousLogsFile: ${JSON.stringify(logsFile)}`,
        '    follow: false',
        '',
      ].join('\n'),
    );
    const ownStageFiles = (await readdir(ownStages)).filter((f) => f.endsWith('.yaml')).sort();
    const stageFiles = [...SHIPPED_STAGES.map((s) => join(stageDir, s)), ...ownStageFiles.map((f) => join(ownStages, f)), kwokConfig];
    const kwok = await group.start(join(bin, 'kwok'), 'kwok', [
      `--kubeconfig=${kubeconfigPath}`,
      ...stageFiles.map((f) => `--config=${f}`),
      '--manage-all-nodes=false',
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      '--node-ip=127.0.0.1',
      `--node-port=${kwokPort}`,
      // Serves pod logs to the API server, which finds it through the node's IP and port above.
      `--server-address=127.0.0.1:${kwokPort}`,
      // Pod IPs from loopback: the default range is private, and nothing may ever be sent there.
      '--cidr=127.64.0.0/16',
      '--node-lease-duration-seconds=40',
    ]);

    await group.waitUntil('kube-controller-manager to be healthy', kcm, 60_000, async () => (await httpsGet(`https://127.0.0.1:${kcmPort}/healthz`)).status === 200);
    await group.waitUntil('kube-scheduler to be healthy', scheduler, 60_000, async () => (await httpsGet(`https://127.0.0.1:${schedPort}/healthz`)).status === 200);
    await group.waitUntil('kwok to be healthy', kwok, 60_000, async () => (await fetch(`http://127.0.0.1:${kwokPort}/healthz`)).ok);

    const nodeNames = Array.from({ length: options.nodes ?? 2 }, (_, i) => `kwok-node-${i}`);
    for (const name of nodeNames) {
      const created = await httpsCall('POST', `${server}/api/v1/nodes`, adminToken, fakeNode(name));
      if (created.status !== 201) throw new Error(`local cluster: creating node ${name} failed: ${created.status} ${created.body}`);
    }
    // Ready comes from kwok; the not-ready taint goes only when the node-lifecycle controller has seen that.
    await group.waitUntil(`${nodeNames.length} Ready nodes without the not-ready taint`, kcm, 90_000, async () => {
      const list = JSON.parse((await httpsGet(`${server}/api/v1/nodes`, adminToken)).body) as { items?: NodeView[] };
      const ready = (list.items ?? []).filter(
        (n) =>
          nodeNames.includes(n.metadata.name) &&
          (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True') &&
          !(n.spec?.taints ?? []).some((t) => t.key.startsWith('node.kubernetes.io/')),
      );
      return ready.length === nodeNames.length;
    }, [kwok]);

    log(`local cluster up at ${server} in ${((Date.now() - started) / 1000).toFixed(1)} s (data in ${dataDir})`);
    return {
      server,
      caPem,
      dataDir,
      kubeconfigPath,
      noRightsKubeconfigPath,
      noRightsUser,
      adminToken,
      nodeNames,
      stop: () => group.stop(),
      get apiServerPid() {
        return apiserver.pid;
      },
      restartApiServer: async (downMs = 5000) => {
        await group.end(apiserver);
        await new Promise((resolve) => setTimeout(resolve, downMs));
        apiserver = await group.start(join(bin, 'kube-apiserver'), 'kube-apiserver', apiserverArgs);
        await group.waitUntil('kube-apiserver to be ready again', apiserver, 120_000, async () => (await httpsGet(`${server}/readyz`, adminToken)).status === 200);
      },
    };
  } catch (err) {
    await group.stop();
    throw err;
  }
}

/** Builds the binaries if the cache has none (about 10-15 minutes, once), then returns their dir. */
export async function ensureBinaries(log: (line: string) => void = () => undefined): Promise<string> {
  const lines = await runScript(['build'], log);
  const dir = lines.at(-1);
  if (dir === undefined || dir === '') throw new Error('scripts/kube-testenv build printed no bin dir');
  return dir;
}

async function kwokStageDir(): Promise<string> {
  const dir = (await runScript(['stages'], () => undefined)).at(-1);
  if (dir === undefined || dir === '') throw new Error('scripts/kube-testenv stages printed no dir');
  return dir;
}

/** Runs scripts/kube-testenv, passing its stderr (progress, timings) to `log` as it comes; returns stdout lines. */
function runScript(args: string[], log: (line: string) => void): Promise<string[]> {
  return new Promise((resolveRun, reject) => {
    const child = spawn('bash', [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: string[] = [];
    const errTail: string[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => out.push(line));
    createInterface({ input: child.stderr }).on('line', (line) => {
      errTail.push(line);
      if (errTail.length > 40) errTail.shift();
      log(line);
    });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolveRun(out);
      else reject(new Error(`scripts/kube-testenv ${args.join(' ')} failed (exit ${code ?? 'signal'}):\n${errTail.join('\n')}`));
    });
  });
}

interface NodeView {
  metadata: { name: string };
  spec?: { taints?: { key: string }[] };
  status?: { conditions?: { type: string; status: string }[] };
}

function fakeNode(name: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'node.kubernetes.io/instance-type': 'kwok',
        // What an AKS node pool's nodes carry, so a Job written for AKS schedules here unchanged.
        'kubernetes.azure.com/agentpool': 'nodepool1',
        type: 'kwok',
      },
    },
    status: {
      capacity: { cpu: '32', memory: '256Gi', pods: '110' },
      allocatable: { cpu: '32', memory: '256Gi', pods: '110' },
    },
  };
}

function kubeconfig(server: string, caPem: string, user: string, token: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: local',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${Buffer.from(caPem).toString('base64')}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: local',
    '  context:',
    '    cluster: local',
    `    user: ${user}`,
    'current-context: local',
    '',
  ].join('\n');
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        resolvePort(port);
      });
    });
  });
}

/**
 * A request to one of the control plane's own HTTPS endpoints while it starts. The certificates are the
 * processes' self-made ones and only readiness is asked, so they are not verified here; the kubeconfigs do
 * verify the API server's.
 */
function httpsCall(method: string, url: string, token?: string, body?: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolveCall, reject) => {
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (token !== undefined) headers.Authorization = `Bearer ${token}`;
    const req = httpsRequest(url, { method, rejectUnauthorized: false, headers, timeout: 5000 }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (data += chunk));
      res.on('end', () => {
        resolveCall({ status: res.statusCode ?? 0, body: data });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: timed out`)));
    req.on('error', reject);
    if (body !== undefined) req.write(JSON.stringify(body));
    req.end();
  });
}

function httpsGet(url: string, token?: string): Promise<{ status: number; body: string }> {
  return httpsCall('GET', url, token);
}

async function tail(path: string, lines = 40): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly logPath: string;
  readonly exited: Promise<void>;
  done: boolean;
}

interface PidsFile {
  owner: number;
  bin: string;
  pids: number[];
}

/**
 * The control plane's processes. Each runs in a process group of its own (so a Ctrl-C in a terminal reaches
 * the test runner, which then stops them in order), and three things make sure none outlives its parent: stop(),
 * a kill on the parent's 'exit', and a watchdog shell that kills them when the parent's pipe to it closes, which
 * is also what happens when the parent is SIGKILLed. A pids file lets a later start clear what survived anyway.
 */
class ProcessGroup {
  private readonly procs: Proc[] = [];
  private readonly watchdog: ChildProcess;
  private stopping: Promise<void> | undefined;
  private readonly killOnExit = (): void => {
    for (const proc of this.procs) killGroup(proc.pid, 'SIGKILL');
  };

  constructor(
    private readonly dataDir: string,
    private readonly log: (line: string) => void,
    private readonly keepDataDir: boolean,
  ) {
    this.watchdog = spawn('/bin/sh', ['-c', WATCHDOG, 'watchdog', keepDataDir ? '' : dataDir, MARKER], {
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true,
    });
    this.watchdog.unref();
    (this.watchdog.stdin as Socket | null)?.unref();
    process.on('exit', this.killOnExit);
  }

  async start(binary: string, name: string, args: string[]): Promise<Proc> {
    const logPath = join(this.dataDir, `${name}.log`);
    const fd = openSync(logPath, 'a');
    const child = spawn(binary, args, { stdio: ['ignore', fd, fd], detached: true });
    closeSync(fd);
    const pid = child.pid;
    if (pid === undefined) {
      const error = await new Promise<Error>((r) => child.once('error', r));
      throw new Error(`local cluster: could not start ${name}: ${error.message}`);
    }
    const proc: Proc = {
      name,
      child,
      pid,
      logPath,
      done: false,
      exited: new Promise<void>((r) =>
        child.once('exit', (code, signal) => {
          proc.done = true;
          if (this.stopping === undefined) this.log(`${name} exited (${code ?? signal ?? '?'}); see ${logPath}`);
          r();
        }),
      ),
    };
    this.procs.push(proc);
    this.watchdog.stdin?.write(`${pid}\n`);
    const pids: PidsFile = { owner: process.pid, bin: dirname(binary), pids: this.procs.map((p) => p.pid) };
    await writeFile(join(this.dataDir, PIDS_FILE), JSON.stringify(pids));
    return proc;
  }

  /**
   * Polls `check` until it is true. Fails at once, with the log's tail, when `proc` (or one of `alsoWatch`)
   * exits, and with the tails of all of them when time runs out.
   */
  async waitUntil(what: string, proc: Proc, timeoutMs: number, check: () => Promise<boolean>, alsoWatch: Proc[] = []): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const watched = [proc, ...alsoWatch];
    for (;;) {
      const dead = this.procs.find((p) => p.done);
      if (dead !== undefined) {
        throw new Error(`local cluster: ${dead.name} exited while waiting for ${what}. ${dead.logPath}:\n${await tail(dead.logPath)}`);
      }
      try {
        if (await check()) {
          this.log(`${what}: ok`);
          return;
        }
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) {
        const tails = await Promise.all(watched.map(async (p) => `${p.logPath}:\n${await tail(p.logPath)}`));
        throw new Error(`local cluster: waited ${timeoutMs / 1000} s for ${what}\n${tails.join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  stop(): Promise<void> {
    this.stopping ??= this.stopAll();
    return this.stopping;
  }

  /** Stops one process on purpose (a fault test): it leaves the group, so waitUntil does not take it for a crash. */
  async end(proc: Proc): Promise<void> {
    const index = this.procs.indexOf(proc);
    if (index >= 0) this.procs.splice(index, 1);
    if (proc.done) return;
    killGroup(proc.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      killGroup(proc.pid, 'SIGKILL');
    }, 5000);
    await proc.exited;
    clearTimeout(timer);
  }

  private async stopAll(): Promise<void> {
    // Clients first, etcd last, so nothing logs a storm of connection errors on the way down.
    for (const proc of [...this.procs].reverse()) {
      if (proc.done) continue;
      killGroup(proc.pid, 'SIGTERM');
      const timer = setTimeout(() => {
        killGroup(proc.pid, 'SIGKILL');
      }, 5000);
      await proc.exited;
      clearTimeout(timer);
    }
    process.off('exit', this.killOnExit);
    this.watchdog.stdin?.end('stop\n');
    if (!this.keepDataDir) await rm(this.dataDir, { recursive: true, force: true });
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Reads process ids, one a line, until "stop" (a clean stop: nothing to do) or end of input (the parent died):
 * then kills their process groups and removes the data dir ($1, when given and marked as ours by $2).
 * (`kill -SIG -pgid`, without `--`: dash, /bin/sh on Debian, takes no `--` there.)
 */
const WATCHDOG = `
pids=""
while IFS= read -r line; do
  [ "$line" = stop ] && exit 0
  pids="$pids $line"
done
for p in $pids; do kill -TERM "-$p" 2>/dev/null; done
sleep 3
for p in $pids; do kill -KILL "-$p" 2>/dev/null; done
if [ -n "$1" ] && [ -f "$1/$2" ]; then rm -rf -- "$1"; fi
`;

/**
 * Clears control planes whose owner died without stopping them (and whose watchdog died too): kills their
 * processes, checking each is still one of our binaries so a recycled pid is never hit, and removes the dir.
 */
async function clearAbandoned(bin: string, dataDir: string | undefined, log: (line: string) => void): Promise<void> {
  const candidates = dataDir === undefined ? [] : [dataDir];
  const tmp = tmpdir();
  for (const entry of await readdir(tmp).catch(() => [])) {
    if (entry.startsWith(DATA_DIR_PREFIX)) candidates.push(join(tmp, entry));
  }
  for (const dir of candidates) {
    let pids: PidsFile;
    try {
      pids = JSON.parse(await readFile(join(dir, PIDS_FILE), 'utf8')) as PidsFile;
    } catch {
      continue;
    }
    if (alive(pids.owner)) continue;
    for (const pid of pids.pids) {
      const exe = await readlink(`/proc/${pid}/exe`).catch(() => '');
      if (exe.startsWith(`${bin}/`) || exe.startsWith(`${pids.bin}/`)) killGroup(pid, 'SIGKILL');
    }
    log(`cleared an abandoned local cluster in ${dir}`);
    await rm(dir, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
