import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadYaml } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';

import { clean } from '../../scripts/clean.js';

const ROOT = join(import.meta.dirname, '../..');
const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
const work = mkdtempSync(join(tmpdir(), 'clean-'));
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/** The npm scripts a command line runs, and the ones those run in turn (`npm run x`, `npm run --silent x`). */
function reached(command: string, seen = new Set<string>()): Set<string> {
  for (const [, name] of command.matchAll(/npm run (?:--silent )?([\w:-]+)/g)) {
    if (name === undefined || seen.has(name)) continue;
    seen.add(name);
    for (const hook of [`pre${name}`, name, `post${name}`]) if (scripts[hook] !== undefined) reached(scripts[hook], seen.add(hook));
  }
  return seen;
}

describe('npm run clean', () => {
  it('removes dist/ whole, and is no error when there is none', () => {
    mkdirSync(join(work, 'dist', 'src'), { recursive: true });
    writeFileSync(join(work, 'dist', 'src', 'index.js'), '');
    writeFileSync(join(work, 'keep.txt'), '');
    clean(work);
    expect(existsSync(join(work, 'dist'))).toBe(false);
    expect(existsSync(join(work, 'keep.txt'))).toBe(true);
    expect(() => {
      clean(work);
    }).not.toThrow();
  });

  it('every script azd\'s hooks reach runs in the Windows shells too: Node tools only, no POSIX commands', () => {
    // npm runs scripts with cmd.exe on Windows; azd's windows hooks (pwsh) call `npm run`. `&&` works in both.
    const azure = loadYaml<{ services: { api: { hooks: Record<string, { posix: { run: string }; windows: { run: string } }> } } }>(
      readFileSync(join(ROOT, 'azure.yaml'), 'utf8'),
    );
    const names = new Set<string>();
    for (const hook of Object.values(azure.services.api.hooks)) for (const name of reached(hook.windows.run)) names.add(name);
    // `npm run package` itself runs clean and build (scripts/package.ts).
    for (const name of reached('npm run clean && npm run build')) names.add(name);
    expect([...names]).toEqual(expect.arrayContaining(['package', 'clean', 'build', 'build:console', 'check-durable-backend', 'wait-for-storage-role']));
    for (const name of names) {
      const commands = (scripts[name] ?? '').split('&&').map((c) => c.trim().split(/\s+/)[0]);
      for (const command of commands) expect(['tsx', 'tsc', 'vite', 'npm', 'node'], `${name}: ${scripts[name] ?? ''}`).toContain(command);
    }
  });
});
