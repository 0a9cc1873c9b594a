// The licences of what the deployment bundle contains. A bundle drops the package folders that carried each
// dependency's LICENSE file, while MIT, ISC, BSD and Apache-2.0 all ask that the notice travel with copies of
// the code; so the package ships THIRD-PARTY-NOTICES.txt: every bundled package, as the lockfile pins it, with
// the licence texts its installed folder holds.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Metafile } from 'esbuild';

export interface LockEntry {
  version?: string;
  license?: string;
  dev?: boolean;
  optional?: boolean;
  link?: boolean;
}

export interface Lockfile {
  lockfileVersion: number;
  packages: Record<string, LockEntry>;
}

export interface BundledPackage {
  /** The lockfile's key: `node_modules/a`, `node_modules/@s/b`, `node_modules/a/node_modules/c`. */
  path: string;
  name: string;
  version: string;
  license: string;
}

/** The package folder a bundled file came from: the path up to the last `node_modules/<name>`. */
export function packagePathOf(input: string): string | undefined {
  return /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input.split('\\').join('/'))?.[1];
}

/**
 * Every package esbuild put code of into the bundle, looked up in the lockfile (which must know it, and not as a
 * devDependency: a production bundle that needs a dev package would break on `npm ci --omit=dev` installs too).
 */
export function bundledPackages(metafile: Metafile, lock: Lockfile): BundledPackage[] {
  if (lock.lockfileVersion < 2) throw new Error('package-lock.json must be lockfileVersion 2 or later (npm 7+)');
  const paths = new Set<string>();
  for (const [output, { inputs }] of Object.entries(metafile.outputs)) {
    if (output.endsWith('.map')) continue;
    for (const [input, { bytesInOutput }] of Object.entries(inputs)) {
      const path = bytesInOutput > 0 ? packagePathOf(input) : undefined;
      if (path !== undefined) paths.add(path);
    }
  }
  return [...paths].sort().map((path) => {
    const entry = lock.packages[path];
    if (!entry?.version) throw new Error(`the bundle contains ${path}, which package-lock.json does not list: run npm ci first`);
    if (entry.dev === true) throw new Error(`the bundle contains ${path}, a devDependency: a production module imports it`);
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    return { path, name, version: entry.version, license: entry.license ?? 'UNKNOWN' };
  });
}

/** Licence, notice and copying files at the top of a package folder, as packages name them. */
const LICENCE_FILE = /^(licen[cs]e|copying|notice)([-._].*)?$/i;

/** The texts of the licence files in an installed package folder, by file name. */
export function licenceTexts(folder: string): { file: string; text: string }[] {
  if (!existsSync(folder)) return [];
  return readdirSync(folder, { withFileTypes: true })
    .filter((entry) => entry.isFile() && LICENCE_FILE.test(entry.name))
    .map((entry) => entry.name)
    .sort()
    .map((file) => ({ file, text: readFileSync(join(folder, file), 'utf8').trimEnd() }));
}

const RULE = '-'.repeat(100);

/** THIRD-PARTY-NOTICES.txt for the bundled packages, their licence files read from `root`'s installed tree. */
export function thirdPartyNotices(packages: BundledPackage[], root: string): string {
  const sections = packages.map((pkg) => {
    const texts = licenceTexts(join(root, pkg.path));
    const body = texts.length > 0 ? texts.map((t) => `${t.file}:\n\n${t.text}`).join('\n\n') : `The package ships no licence file; package-lock.json gives its licence as ${pkg.license}.`;
    return `${RULE}\n${pkg.name} ${pkg.version} (${pkg.license})\n${RULE}\n\n${body}\n`;
  });
  return (
    'Third-party software in this deployment package\n\n' +
    'The app\'s bundle (dist/*.js) contains code of the packages below, at the versions package-lock.json pins. ' +
    'Each is listed with the licence it is distributed under and the licence and notice files it ships.\n\n' +
    sections.join('\n')
  );
}
