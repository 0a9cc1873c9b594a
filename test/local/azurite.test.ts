import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${String(timeoutMs / 1000)} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the local runtime\'s Azurite', () => {
  it('never outlives the process that started it, even one killed with SIGKILL', async () => {
    // A process that starts Azurite as the local runtime does, prints its endpoint, and waits to be killed.
    const code = "import { startAzurite } from './local/azurite.ts'; const a = await startAzurite(); console.log(a.blobEndpoint); setInterval(() => undefined, 1000);";
    const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    parent.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    let port = 0;
    await until('Azurite to start', () => Promise.resolve((port = Number(/127\.0\.0\.1:(\d+)\//.exec(out)?.[1] ?? 0)) > 0), 60_000);
    expect(await listening(port)).toBe(true);

    parent.kill('SIGKILL');
    await new Promise((resolve) => parent.once('exit', resolve));
    await until(`Azurite on port ${String(port)} to stop once its parent is gone`, async () => !(await listening(port)), 15_000);
  }, 90_000);
});
