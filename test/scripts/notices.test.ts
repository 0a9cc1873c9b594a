import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Metafile } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';

import { bundledPackages, type Lockfile, packagePathOf, thirdPartyNotices } from '../../scripts/notices.js';

const root = mkdtempSync(join(tmpdir(), 'notices-'));
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

function metafileOf(inputs: Record<string, number>): Metafile {
  const entries = Object.fromEntries(Object.entries(inputs).map(([path, bytesInOutput]) => [path, { bytesInOutput }]));
  return { inputs: {}, outputs: { 'out/index.js': { bytes: 1, inputs: entries, imports: [], exports: [] } } };
}

const lock: Lockfile = {
  lockfileVersion: 3,
  packages: {
    '': {},
    'node_modules/a': { version: '1.0.0', license: 'MIT' },
    'node_modules/@s/b': { version: '2.0.0', license: 'Apache-2.0' },
    'node_modules/a/node_modules/c': { version: '3.0.0', license: 'ISC' },
    'node_modules/dev-only': { version: '4.0.0', license: 'MIT', dev: true },
  },
};

describe('which packages a bundle holds', () => {
  it.each([
    { input: 'node_modules/a/lib/x.js', path: 'node_modules/a' },
    { input: 'node_modules/@s/b/dist/esm/index.js', path: 'node_modules/@s/b' },
    { input: 'node_modules/a/node_modules/c/index.js', path: 'node_modules/a/node_modules/c' },
    { input: 'node_modules\\a\\lib\\x.js', path: 'node_modules/a' },
    { input: 'dist/src/index.js', path: undefined },
  ])('$input is in $path', ({ input, path }) => {
    expect(packagePathOf(input)).toBe(path);
  });

  it('lists each package with code in the bundle once, as the lockfile pins it, and not those tree-shaken away', () => {
    const found = bundledPackages(
      metafileOf({ 'node_modules/a/x.js': 10, 'node_modules/a/y.js': 5, 'node_modules/@s/b/i.js': 3, 'node_modules/a/node_modules/c/i.js': 0, 'dist/src/index.js': 9 }),
      lock,
    );
    expect(found).toEqual([
      { path: 'node_modules/@s/b', name: '@s/b', version: '2.0.0', license: 'Apache-2.0' },
      { path: 'node_modules/a', name: 'a', version: '1.0.0', license: 'MIT' },
    ]);
  });

  it('refuses a bundle with a devDependency or a package the lockfile does not know', () => {
    expect(() => bundledPackages(metafileOf({ 'node_modules/dev-only/i.js': 1 }), lock)).toThrow(/devDependency/);
    expect(() => bundledPackages(metafileOf({ 'node_modules/stray/i.js': 1 }), lock)).toThrow(/does not list/);
  });
});

describe('THIRD-PARTY-NOTICES.txt', () => {
  it('carries each package\'s licence and notice files, and says so when a package ships none', () => {
    mkdirSync(join(root, 'node_modules/a'), { recursive: true });
    writeFileSync(join(root, 'node_modules/a/LICENSE'), 'MIT License\n\nCopyright (c) A\n');
    writeFileSync(join(root, 'node_modules/a/NOTICE.md'), 'A notice\n');
    writeFileSync(join(root, 'node_modules/a/README.md'), 'not a licence\n');
    mkdirSync(join(root, 'node_modules/@s/b'), { recursive: true });
    const text = thirdPartyNotices(
      [
        { path: 'node_modules/a', name: 'a', version: '1.0.0', license: 'MIT' },
        { path: 'node_modules/@s/b', name: '@s/b', version: '2.0.0', license: 'Apache-2.0' },
      ],
      root,
    );
    expect(text).toContain('a 1.0.0 (MIT)');
    expect(text).toContain('LICENSE:\n\nMIT License\n\nCopyright (c) A');
    expect(text).toContain('NOTICE.md:\n\nA notice');
    expect(text).not.toContain('not a licence');
    expect(text).toContain('@s/b 2.0.0 (Apache-2.0)');
    expect(text).toContain('ships no licence file; package-lock.json gives its licence as Apache-2.0');
  });
});
