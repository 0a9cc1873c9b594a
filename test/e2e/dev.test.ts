import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterEach, describe, expect, inject, it } from 'vitest';

import { SETTING_NAMES } from '../../src/config.js';
import { adminKube, testJob, useNamespace, waitFor } from '../integration/helpers.js';

/**
 * `npm run dev` as a new user runs it: in a copy of the project (the sources linked, nothing else), with and
 * without local.settings.json, stopped with Ctrl-C (SIGINT to its process group, as a terminal sends it).
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ns = useNamespace('dev');
const started: { child: ChildProcess; dir: string }[] = [];

interface Dev {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

async function copyOfProject(settings?: unknown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'aks-job-runner-dev-'));
  for (const entry of ['package.json', 'tsconfig.json', 'node_modules', 'src', 'local', 'testenv', 'scripts', 'console']) await symlink(join(root, entry), join(dir, entry));
  if (settings !== undefined) await writeFile(join(dir, 'local.settings.json'), JSON.stringify(settings));
  return dir;
}

function npmRunDev(dir: string): Dev {
  const env: Record<string, string | undefined> = { ...process.env, LOCAL_PORT: '0' };
  // Whatever this test process has set must not reach the child: it reads its settings itself.
  for (const name of [...SETTING_NAMES, 'LOCAL_FUNCTION_KEY', 'LOCAL_HOST_KEY', 'LOCAL_MASTER_KEY', 'LOCAL_STATE_DIR']) env[name] = undefined;
  const child = spawn('npm', ['run', 'dev'], { cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push({ child, dir });
  let text = '';
  child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => { r(code); }));
  return { child, output: () => text, exited };
}

/** Ctrl-C in a terminal: SIGINT to the whole foreground process group (npm, tsx and the app). */
function ctrlC(child: ChildProcess): void {
  if (child.pid !== undefined) process.kill(-child.pid, 'SIGINT');
}

afterEach(async () => {
  for (const { child, dir } of started.splice(0)) {
    if (child.exitCode === null && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGINT');
      } catch {
        // already gone
      }
    }
    await rm(dir, { recursive: true, force: true });
  }
});

describe('npm run dev', () => {
  it('without local.settings.json serves the app on the built-in cluster with its samples until Ctrl-C', async () => {
    const dev = npmRunDev(await copyOfProject());
    const curl = await waitFor('the printed curl line', () => Promise.resolve(/^try: (curl .*)$/m.exec(dev.output())?.[1]), 180_000);
    const out = dev.output();
    expect(out).toMatch(/aks-job-runner \(local runtime\) on http:\/\/127\.0\.0\.1:\d+\/api, function key "local"/);
    const kubeconfig = /^local cluster kubeconfig: (\S+)$/m.exec(out)?.[1] ?? '';
    expect(existsSync(kubeconfig)).toBe(true);
    // The console it prints opens without asking for the key: the development host writes it into the page.
    const consoleUrl = await waitFor('the printed console URL', () => Promise.resolve(/^console: (\S+)$/m.exec(dev.output())?.[1]), 10_000);
    const page = await fetch(consoleUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<meta name="aks-job-runner-dev-key" content="local">');

    // The request the printed curl makes: method, URL, header and body, exactly as printed.
    const parts = /^curl -i -X (\w+) '([^']+)' -H '([^:]+): ([^']+)' -d '([^']*)'$/.exec(curl);
    expect(parts, curl).not.toBeNull();
    const [, method = '', url = '', headerName = '', headerValue = '', body = ''] = parts ?? [];
    const first = await fetch(url, { method, headers: { [headerName]: headerValue }, body });
    expect(first.status).toBe(202);
    const statusUrl = first.headers.get('Location') ?? '';
    const final = await waitFor('the sample run to end', async () => {
      const answer = await fetch(statusUrl);
      return answer.status === 202 ? undefined : { status: answer.status, body: (await answer.json()) as Record<string, unknown> };
    }, 60_000, 500);
    expect(final.status).toBe(200);
    expect(final.body).toMatchObject({ status: 'Success', outputs: { rowsWritten: 42, report: 'hello.csv' } });

    // Still serving after the run: it only stops on Ctrl-C, and then takes its cluster with it.
    expect(dev.child.exitCode).toBeNull();
    expect((await fetch(statusUrl)).status).toBe(200);
    ctrlC(dev.child);
    await dev.exited;
    await waitFor('the local cluster to be removed', () => Promise.resolve(!existsSync(kubeconfig)), 30_000);
  });

  it('with local.settings.json uses its settings and starts no cluster', async () => {
    const kube = adminKube();
    await kube.batch.createNamespacedJob({ namespace: ns(), body: testJob({ name: 'from-settings', namespace: ns(), suspend: true }) });
    const settings = {
      IsEncrypted: false,
      Values: {
        CLUSTERS: JSON.stringify([{ alias: 'mine', type: 'kubeconfig', kubeconfigPath: inject('kubeconfigPath'), namespaces: [ns()] }]),
        LOCAL_FUNCTION_KEY: 'from-settings-key',
      },
    };
    const dir = await copyOfProject(settings);
    const dev = npmRunDev(dir);
    const base = await waitFor('the printed URL', () => Promise.resolve(/on (http:\/\/127\.0\.0\.1:\d+\/api), function key "from-settings-key"/.exec(dev.output())?.[1]), 60_000);
    expect(dev.output()).not.toContain('built-in local Kubernetes control plane');
    const listed = await fetch(`${base}/jobs?namespace=${ns()}&code=from-settings-key`);
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { items: { name: string; cluster: string }[] }).items).toEqual([expect.objectContaining({ name: 'from-settings', cluster: 'mine' })]);
    ctrlC(dev.child);
    await dev.exited;
    // It kept its run state next to the settings, as before.
    expect(existsSync(join(dir, '.local-runtime'))).toBe(true);
  });
});
