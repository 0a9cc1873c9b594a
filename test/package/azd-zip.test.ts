import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { copyAsAzdZips } from './azd-zip.js';

let work: string;

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'azd-zip-'));
});

afterEach(() => {
  rmSync(work, { recursive: true, force: true });
});

function tree(root: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

function copied(root: string): string[] {
  const out = join(work, 'out');
  mkdirSync(out);
  copyAsAzdZips(root, out);
  return readdirSync(out, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(out, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
}

describe('copying a folder as azd zips a function app', () => {
  it('applies unanchored .funcignore patterns at every depth, as the old root .funcignore did to dist/src', () => {
    const root = join(work, 'app');
    tree(root, {
      '.funcignore': 'src\n*.ts\n',
      'src/index.ts': '',
      'dist/src/index.js': '',
      'node_modules/durable-functions/lib/src/index.js': '',
      'node_modules/durable-functions/package.json': '{}',
      'host.json': '{}',
    });
    expect(copied(root)).toEqual(['host.json', 'node_modules/durable-functions/package.json']);
  });

  it('drops azd\'s own exclusions: .azure/, the ignore file and local.settings.json', () => {
    const root = join(work, 'app');
    tree(root, { '.funcignore': '# nothing\n', '.azure/env/.env': 'x', 'local.settings.json': '{}', 'host.json': '{}' });
    expect(copied(root)).toEqual(['host.json']);
  });

  it('follows symlinks, so a linked folder is copied whole, outside the reach of the ignore rules', () => {
    const root = join(work, 'app');
    tree(root, { '.funcignore': 'bin\n', 'host.json': '{}' });
    tree(join(work, 'elsewhere'), { 'bin/node': 'binary', 'lib.js': '' });
    symlinkSync(join(work, 'elsewhere'), join(root, 'linked'));
    symlinkSync(join(work, 'elsewhere', 'lib.js'), join(root, 'lib.js'));
    expect(copied(root)).toEqual(['host.json', 'lib.js', 'linked/bin/node', 'linked/lib.js']);
    expect(readFileSync(join(work, 'out', 'linked', 'bin', 'node'), 'utf8')).toBe('binary');
  });
});
