import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { ensureBrowser, findBrowser, type Machine, missingBrowserMessage, thisMachine } from './browser.js';

/** A machine with these executable files (the array, as it is when looked at), and whatever else it is told. */
function machine(files: string[], over: Partial<Omit<Machine, 'executable'>> = {}): Machine & { ran: string[] } {
  const ran: string[] = [];
  return {
    env: { PATH: '/usr/local/bin:/usr/bin:/bin' },
    platform: 'linux',
    debian: () => false,
    root: () => false,
    run: (command, args) => {
      ran.push([command, ...args].join(' '));
    },
    ...over,
    executable: (path) => files.includes(path),
    ran,
  };
}

describe('finding a Chromium or Chrome for the console test', () => {
  interface Case {
    name: string;
    files: string[];
    env?: Record<string, string>;
    platform?: NodeJS.Platform;
    found: string | null;
  }
  it.each<Case>([
    { name: "Debian's package, on PATH", files: ['/usr/bin/chromium'], found: '/usr/bin/chromium' },
    { name: 'the first PATH entry that has one', files: ['/usr/bin/chromium', '/usr/local/bin/chromium'], found: '/usr/local/bin/chromium' },
    { name: 'Chromium before Chrome, whatever the PATH order', files: ['/usr/local/bin/google-chrome', '/usr/bin/chromium'], found: '/usr/bin/chromium' },
    { name: "Google's Chrome package", files: ['/usr/bin/google-chrome-stable'], found: '/usr/bin/google-chrome-stable' },
    { name: 'Chrome where PATH does not lead', files: ['/opt/google/chrome/chrome'], env: { PATH: '/bin' }, found: '/opt/google/chrome/chrome' },
    { name: 'the snap, where PATH does not lead', files: ['/snap/bin/chromium'], env: { PATH: '/bin' }, found: '/snap/bin/chromium' },
    { name: 'CHROME_PATH over everything', files: ['/usr/bin/chromium', '/home/me/chrome-linux/chrome'], env: { PATH: '/usr/bin', CHROME_PATH: '/home/me/chrome-linux/chrome' }, found: '/home/me/chrome-linux/chrome' },
    { name: 'a CHROME_PATH that is not there: none, not another', files: ['/usr/bin/chromium'], env: { PATH: '/usr/bin', CHROME_PATH: '/nope/chrome' }, found: null },
    { name: 'Chrome on macOS', files: ['/Applications/Google Chrome.app/Contents/MacOS/Google Chrome'], platform: 'darwin', env: { PATH: '/usr/bin' }, found: '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome' },
    { name: 'nothing at all', files: ['/usr/bin/firefox'], found: null },
  ])('$name', ({ files, env, platform, found }) => {
    expect(findBrowser(machine(files, { ...(env ? { env } : {}), ...(platform ? { platform } : {}) }))).toBe(found);
  });
});

describe('when there is none', () => {
  it('installs Debian’s chromium as .ci/run does, on Debian as root, and uses it', () => {
    const files: string[] = [];
    const ran: string[] = [];
    const m = machine(files, {
      debian: () => true,
      root: () => true,
      run: (command, args) => {
        ran.push([command, ...args].join(' '));
        if (args.includes('chromium')) files.push('/usr/bin/chromium');
      },
    });
    expect(ensureBrowser(m)).toBe('/usr/bin/chromium');
    expect(ran).toEqual(['apt-get update', 'apt-get install -y --no-install-recommends chromium']);
  });

  it.each([
    { name: 'not root', debian: true, root: false },
    { name: 'not Debian', debian: false, root: true },
  ])('installs nothing when $name, and says in one line what to install', ({ debian, root }) => {
    const m = machine([], { debian: () => debian, root: () => root });
    expect(() => ensureBrowser(m)).toThrow(missingBrowserMessage(m));
    expect(m.ran).toEqual([]);
    expect(missingBrowserMessage(m)).not.toContain('\n');
    expect(missingBrowserMessage(m)).toContain('apt-get install -y --no-install-recommends chromium');
  });

  it('installs nothing when CHROME_PATH names a file that is not there, and says so', () => {
    const m = machine([], { env: { PATH: '/usr/bin', CHROME_PATH: '/nope/chrome' }, debian: () => true, root: () => true });
    expect(() => ensureBrowser(m)).toThrow('CHROME_PATH is "/nope/chrome", which is not an executable file');
    expect(m.ran).toEqual([]);
  });

  it('an install that leaves no browser still ends in the one line', () => {
    const m = machine([], { debian: () => true, root: () => true });
    expect(() => ensureBrowser(m)).toThrow(/^the console's browser test needs Chromium or Google Chrome/);
    expect(m.ran).toHaveLength(2);
  });
});

describe('this machine', () => {
  it('looks at real files: a directory or a plain file is not a browser, an executable is', () => {
    const real = thisMachine();
    expect(real.executable('/usr')).toBe(false);
    expect(real.executable(fileURLToPath(new URL('../../package.json', import.meta.url)))).toBe(false);
    expect(real.executable(process.execPath)).toBe(true);
  });
});
