import { execFile, type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { LOCAL_POD_LOG_LINES } from './fates.js';

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const script = join(root, 'scripts', 'kube-testenv');

/** A throwaway Kubernetes control plane on 127.0.0.1, with kwok playing the nodes. */
export interface LocalCluster {
  /** https://127.0.0.1:<port> */
  readonly server: string;
  readonly dataDir: string;
  /** Kubeconfig of a cluster admin (system:masters). */
  readonly kubeconfigPath: string;
  /** Kubeconfig of a user with no groups and no bindings: everything is 403 until a test grants something. */
  readonly noRightsKubeconfigPath: string;
  /** The user name behind noRightsKubeconfigPath, to bind roles to. */
  readonly noRightsUser: string;
  /** The admin's bearer token (tests check it never leaks into run history). */
  readonly adminToken: string;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** Where data, keys, kubeconfigs and logs go; a new temporary dir by default. Removed by stop(). */
  dataDir?: string;
  /** How many fake nodes to create. */
  nodes?: number;
  log?: (line: string) => void;
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => {
        resolvePort(port);
      });
    });
  });
}

/** Builds the binaries if the cache has none (minutes, once), then returns their dir. */
export async function ensureBinaries(log: (line: string) => void = () => undefined): Promise<string> {
  const started = Date.now();
  const { stdout, stderr } = await run('bash', [script, 'build'], { maxBuffer: 64 * 1024 * 1024 });
  if (stderr.trim() !== '') log(stderr.trim());
  log(`control plane binaries ready in ${Math.round((Date.now() - started) / 1000)} s`);
  return stdout.trim().split('\n').pop() ?? '';
}

async function kwokStageDir(): Promise<string> {
  const { stdout } = await run('bash', [script, 'stages']);
  return stdout.trim();
}

interface Proc {
  name: string;
  child: ChildProcess;
  logPath: string;
}

function kubeconfig(server: string, user: string, token: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: local',
    '  cluster:',
    `    server: ${server}`,
    '    insecure-skip-tls-verify: true',
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

async function tail(path: string, lines = 30): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** A call to the API server as admin; the server's certificate is its own self-signed one. */
function api(server: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolveCall, reject) => {
    const url = new URL(path, server);
    const req = httpsRequest(
      url,
      {
        method,
        rejectUnauthorized: false,
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        timeout: 5000,
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (data += chunk));
        res.on('end', () => {
          resolveCall({ status: res.statusCode ?? 0, body: data });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (body !== undefined) req.write(JSON.stringify(body));
    req.end();
  });
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, onTimeout: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`local cluster: ${what} did not happen within ${timeoutMs / 1000} s\n${await onTimeout()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const CONTROLLERS = [
  'job-controller',
  'cronjob-controller',
  'garbage-collector-controller',
  'namespace-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
  'ttl-after-finished-controller',
  'pod-garbage-collector-controller',
  // The API server taints every new node not-ready; only this controller lifts the taint.
  'node-lifecycle-controller',
].join(',');

/** Start etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok on loopback, and fake nodes. */
export async function startCluster(options: ClusterOptions = {}): Promise<LocalCluster> {
  const log = options.log ?? (() => undefined);
  const bin = await ensureBinaries(log);
  const stageDir = await kwokStageDir();
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'aks-job-runner-kube-')));
  await mkdir(dataDir, { recursive: true });
  const procs: Proc[] = [];
  let stopped = false;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.off('exit', killAll);
    for (const proc of [...procs].reverse()) {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) continue;
      const exited = new Promise<void>((r) => proc.child.once('exit', () => { r(); }));
      proc.child.kill('SIGTERM');
      const timer = setTimeout(() => proc.child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dataDir, { recursive: true, force: true });
  };
  // If the parent dies without calling stop(), take the children with it.
  const killAll = () => {
    for (const proc of procs) proc.child.kill('SIGKILL');
  };
  process.on('exit', killAll);

  const start = (name: string, args: string[]): Proc => {
    const logPath = join(dataDir, `${name}.log`);
    const fd = openSync(logPath, 'a');
    const child = spawn(join(bin, name), args, { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    const proc = { name, child, logPath };
    child.on('exit', (code, signal) => {
      if (!stopped) log(`${name} exited (${code ?? signal ?? '?'}); see ${logPath}`);
    });
    procs.push(proc);
    return proc;
  };

  try {
    const [etcdClient, etcdPeer, apiPort, kcmPort, schedPort, kwokPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
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
    await writeFile(tokens, `${adminToken},admin,admin-uid,"system:masters"\n${userToken},${noRightsUser},no-rights-uid\n`, { mode: 0o600 });
    const kubeconfigPath = join(dataDir, 'admin.kubeconfig');
    const noRightsKubeconfigPath = join(dataDir, 'no-rights.kubeconfig');
    await writeFile(kubeconfigPath, kubeconfig(server, 'admin', adminToken), { mode: 0o600 });
    await writeFile(noRightsKubeconfigPath, kubeconfig(server, noRightsUser, userToken), { mode: 0o600 });

    const etcd = start('etcd', [
      '--name=local',
      `--data-dir=${join(dataDir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=local=http://127.0.0.1:${etcdPeer}`,
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ]);
    await waitUntil(
      'etcd accepting clients',
      async () => (await fetch(`http://127.0.0.1:${etcdClient}/health`)).ok,
      30_000,
      () => tail(etcd.logPath),
    );

    const certDir = join(dataDir, 'pki');
    const apiserver = start('kube-apiserver', [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      // Without this it logs every 10 s that 127.0.0.1 cannot be the kubernetes Service's endpoint.
      '--endpoint-reconciler-type=none',
      `--cert-dir=${certDir}`,
      `--token-auth-file=${tokens}`,
      '--authorization-mode=Node,RBAC',
      `--service-account-key-file=${saPub}`,
      `--service-account-signing-key-file=${saKey}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      // A value the API server requires; no component here ever sends traffic to it.
      '--service-cluster-ip-range=10.96.0.0/16',
      '--profiling=false',
      '--v=1',
    ]);
    await waitUntil(
      'kube-apiserver ready',
      async () => (await api(server, adminToken, 'GET', '/readyz')).status === 200,
      90_000,
      () => tail(apiserver.logPath),
    );

    start('kube-controller-manager', [
      `--kubeconfig=${kubeconfigPath}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${kcmPort}`,
      '--leader-elect=false',
      `--service-account-private-key-file=${saKey}`,
      `--root-ca-file=${join(certDir, 'apiserver.crt')}`,
      '--use-service-account-credentials=true',
      `--controllers=${CONTROLLERS}`,
      '--v=1',
    ]);
    // No --authentication-kubeconfig / --authorization-kubeconfig: without a client CA on the API server they
    // wait for a ConfigMap that is never written, and the scheduler then schedules nothing, silently.
    start('kube-scheduler', [`--kubeconfig=${kubeconfigPath}`, '--bind-address=127.0.0.1', `--secure-port=${schedPort}`, '--leader-elect=false', '--v=1']);

    const logsFile = join(dataDir, 'pod.log');
    const stamp = '2026-01-01T00:00:00.000000000Z';
    await writeFile(logsFile, LOCAL_POD_LOG_LINES.map((line) => `${stamp} stdout F ${line}`).join('\n') + '\n');
    const kwokConfig = join(dataDir, 'kwok.yaml');
    await writeFile(
      kwokConfig,
      ['apiVersion: kwok.x-k8s.io/v1alpha1', 'kind: ClusterLogs', 'metadata:', '  name: all-pods', 'spec:', '  logs:', `  - logsFile: ${logsFile}`, '    follow: false', ''].join('\n'),
    );
    const stageFiles = [
      join(stageDir, 'node', 'fast', 'node-initialize.yaml'),
      join(stageDir, 'node', 'heartbeat-with-lease', 'node-heartbeat-with-lease.yaml'),
      ...['pod-create', 'pod-init-container-running', 'pod-init-container-completed', 'pod-ready', 'pod-complete', 'pod-delete'].map((s) =>
        join(stageDir, 'pod', 'general', `${s}.yaml`),
      ),
      join(stageDir, 'pod', 'chaos', 'pod-container-running-failed.yaml'),
      ...['pod-image-pull-error', 'pod-create-container-config-error', 'pod-complete-with-message'].map((s) => join(root, 'testenv', 'stages', `${s}.yaml`)),
      kwokConfig,
    ];
    const kwok = start('kwok', [
      `--kubeconfig=${kubeconfigPath}`,
      ...stageFiles.map((f) => `--config=${f}`),
      '--manage-all-nodes=false',
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      '--node-ip=127.0.0.1',
      `--node-port=${kwokPort}`,
      `--server-address=127.0.0.1:${kwokPort}`,
      // Pod IPs from loopback: the default range is private, and nothing may ever be sent there.
      '--cidr=127.64.0.0/16',
      '--node-lease-duration-seconds=40',
    ]);

    const nodes = options.nodes ?? 2;
    for (let i = 0; i < nodes; i++) {
      const name = `kwok-node-${i}`;
      const created = await api(server, adminToken, 'POST', '/api/v1/nodes', {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name,
          annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
          labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', type: 'kwok' },
        },
        status: {
          capacity: { cpu: '32', memory: '256Gi', pods: '110' },
          allocatable: { cpu: '32', memory: '256Gi', pods: '110' },
        },
      });
      if (created.status !== 201) throw new Error(`local cluster: creating node ${name} failed: ${created.status} ${created.body}`);
    }
    await waitUntil(
      `${nodes} Ready nodes without the not-ready taint`,
      async () => {
        const list = JSON.parse((await api(server, adminToken, 'GET', '/api/v1/nodes')).body) as {
          items: { spec?: { taints?: { key: string }[] }; status?: { conditions?: { type: string; status: string }[] } }[];
        };
        return (
          list.items.length === nodes &&
          list.items.every(
            (n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && !(n.spec?.taints ?? []).some((t) => t.key.startsWith('node.kubernetes.io/')),
          )
        );
      },
      90_000,
      async () => `kwok:\n${await tail(kwok.logPath)}`,
    );
    log(`local cluster up at ${server} (data in ${dataDir})`);
    return { server, dataDir, kubeconfigPath, noRightsKubeconfigPath, noRightsUser, adminToken, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
