/**
 * A real Blob Storage for the logs archive where Azure is not: Azurite's blob service (npm `azurite`) on
 * 127.0.0.1, a free port, a data dir of its own, telemetry off. Used by the dev runtime, the demo and the
 * integration tests' setup.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Azurite's one account and its published, well-known development key (not a secret; never logged anyway). */
const ACCOUNT = 'devstoreaccount1';
const DEVELOPMENT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface LocalAzurite {
  /** http://127.0.0.1:<port>/devstoreaccount1 */
  readonly blobEndpoint: string;
  /** For LOGS_CONNECTION_STRING. Holds the development key: pass it on, do not print it. */
  readonly connectionString: string;
  /** Stops Azurite and removes its data dir (unless one was given). */
  stop(): Promise<void>;
}

export interface AzuriteOptions {
  /** Where Azurite keeps its data; a new temp dir, removed on stop(), by default. */
  location?: string;
  /** Lines Azurite writes on stderr (start-up failures); nothing by default. */
  log?: (line: string) => void;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.end();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => {
      resolve();
    });
  });
}

export async function startAzurite(options: AzuriteOptions = {}): Promise<LocalAzurite> {
  const location = options.location ?? (await mkdtemp(join(tmpdir(), 'aks-job-runner-azurite-')));
  const port = await freePort();
  // The same Node as ours (22), whatever `node` is first on PATH; through azurite-child.cjs, which ends Azurite
  // when this process's end of its stdin closes, so it never outlives us.
  const child = spawn(
    process.execPath,
    [fileURLToPath(new URL('./azurite-child.cjs', import.meta.url)), '--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', location, '--silent', '--skipApiVersionCheck', '--loose', '--disableTelemetry'],
    { stdio: ['pipe', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) options.log?.(`[azurite] ${line}`);
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited(child);
      clearTimeout(killer);
    }
    if (options.location === undefined) await rm(location, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  while (!(await listening(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`Azurite did not start on 127.0.0.1:${port}${stderr ? `: ${stderr.trim().slice(0, 500)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const blobEndpoint = `http://127.0.0.1:${port}/${ACCOUNT}`;
  return {
    blobEndpoint,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${DEVELOPMENT_KEY};BlobEndpoint=${blobEndpoint};`,
    stop,
  };
}

/**
 * For the dev runtime: unless LOGS_CONNECTION_STRING or LOGS_ACCOUNT_URL already names an archive, start
 * Azurite (data kept in `location`, so archived logs outlive a restart; a temp dir without one) and point
 * LOGS_CONNECTION_STRING at it.
 * Returns how to stop it, or undefined when an archive was configured already.
 */
export async function startLogsArchiveUnlessConfigured(
  env: Record<string, string | undefined>,
  location: string | undefined,
  log: (line: string) => void,
): Promise<(() => Promise<void>) | undefined> {
  if (env.LOGS_CONNECTION_STRING?.trim() || env.LOGS_ACCOUNT_URL?.trim()) return undefined;
  if (location !== undefined) await mkdir(location, { recursive: true });
  const azurite = await startAzurite({ ...(location === undefined ? {} : { location }), log });
  env.LOGS_CONNECTION_STRING = azurite.connectionString;
  log(`logs archive: Azurite on ${azurite.blobEndpoint}${location === undefined ? '' : ` (data in ${location})`}`);
  return () => azurite.stop();
}
