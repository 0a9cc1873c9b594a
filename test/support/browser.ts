/**
 * The browser the console's test drives: a Chromium or Google Chrome already on the machine, found as a person
 * would find it (CHROME_PATH, then PATH, then where the packages put it). Where there is none, it is installed
 * as .ci/run installs it (Debian's `chromium` package, which needs root); anywhere else the test stops with one
 * line saying what to install. playwright-core drives any of them; it downloads no browser of its own.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** What the finder may look at: the machine by default, a fake in the unit test. */
export interface Machine {
  env: Readonly<Record<string, string | undefined>>;
  platform: NodeJS.Platform;
  /** A file that exists and may be executed. */
  executable(path: string): boolean;
  /** Debian or a Debian derivative (apt-get and /etc/debian_version). */
  debian(): boolean;
  root(): boolean;
  /** Run a command, its output shown; throws when it fails. */
  run(command: string, args: readonly string[]): void;
}

/** Executable names of Chromium and Chrome on PATH, in the order tried. */
export const BROWSER_NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable', 'chrome'] as const;

/** Where the packages put them when PATH does not say: Debian/Ubuntu, Google's packages, snap, macOS, Windows. */
export function usualLocations(platform: NodeJS.Platform, env: Machine['env']): string[] {
  if (platform === 'darwin') {
    return ['/Applications/Chromium.app/Contents/MacOS/Chromium', '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome'];
  }
  if (platform === 'win32') {
    const roots = [env.LOCALAPPDATA, env.PROGRAMFILES, env['PROGRAMFILES(X86)']].filter((root): root is string => !!root);
    return roots.flatMap((root) => [join(root, 'Chromium', 'Application', 'chrome.exe'), join(root, 'Google', 'Chrome', 'Application', 'chrome.exe')]);
  }
  return ['/usr/bin/chromium', '/usr/lib/chromium/chromium', '/usr/bin/chromium-browser', '/snap/bin/chromium', '/usr/bin/google-chrome', '/opt/google/chrome/chrome'];
}

/** The first Chromium or Chrome found, or null. CHROME_PATH (the name chrome-launcher and Lighthouse use) wins. */
export function findBrowser(machine: Pick<Machine, 'env' | 'platform' | 'executable'>): string | null {
  const given = machine.env.CHROME_PATH?.trim();
  if (given) return machine.executable(given) ? given : null;
  const suffixes = machine.platform === 'win32' ? ['.exe', ''] : [''];
  const dirs = (machine.env.PATH ?? '').split(machine.platform === 'win32' ? ';' : delimiter).filter((dir) => dir !== '');
  for (const name of BROWSER_NAMES) {
    for (const dir of dirs) {
      for (const suffix of suffixes) {
        const path = join(dir, `${name}${suffix}`);
        if (machine.executable(path)) return path;
      }
    }
  }
  return usualLocations(machine.platform, machine.env).find((path) => machine.executable(path)) ?? null;
}

/** The one line a machine without a browser is told. */
export function missingBrowserMessage(machine: Pick<Machine, 'env' | 'platform'>): string {
  const given = machine.env.CHROME_PATH?.trim();
  if (given) return `the console's browser test needs Chromium or Google Chrome: CHROME_PATH is "${given}", which is not an executable file`;
  return `the console's browser test needs Chromium or Google Chrome: install one (Debian/Ubuntu as root: apt-get install -y --no-install-recommends chromium), or set CHROME_PATH to its executable`;
}

/**
 * The browser to launch: found, or installed as .ci/run installs it where that can be done (Debian, as root),
 * or an Error whose message is the one line saying what to install.
 */
export function ensureBrowser(machine: Machine = thisMachine()): string {
  const found = findBrowser(machine);
  if (found) return found;
  if (!machine.env.CHROME_PATH?.trim() && machine.platform === 'linux' && machine.debian() && machine.root()) {
    machine.run('apt-get', ['update']);
    machine.run('apt-get', ['install', '-y', '--no-install-recommends', 'chromium']);
    const installed = findBrowser(machine);
    if (installed) return installed;
  }
  throw new Error(missingBrowserMessage(machine));
}

function isExecutable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** This machine, as ensureBrowser looks at it. */
export function thisMachine(): Machine {
  return {
    env: process.env,
    platform: process.platform,
    executable: isExecutable,
    debian: () => existsSync('/etc/debian_version') && findOnPath('apt-get') !== null,
    root: () => process.getuid?.() === 0,
    run: (command, args) => {
      execFileSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    },
  };
}

function findOnPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return null;
}
