// The way azd zips a function app's folder (cli/azd/pkg/project/project_utils.go createDeployableZip and
// pkg/rzip in Azure/azure-dev), as a copy instead of a zip, so a test can load what azd would upload.
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

import ignore, { type Ignore } from 'ignore';

/** azd's go-gitignore parse: a UTF-8 byte order mark is dropped first (azd 1.23.13 and later). */
export function ignoreRules(folder: string): Ignore | undefined {
  const file = join(folder, '.funcignore');
  return existsSync(file) ? ignore().add(readFileSync(file, 'utf8').replace(/^\uFEFF/, '')) : undefined;
}

/**
 * Copy `root` as azd zips it. Entries are visited with lstat; a symlink is followed (a linked folder is walked
 * at its real path, up to 40 links deep), a folder that is excluded is not walked into. azd drops `.azure/`,
 * the ignore file itself and `local.settings.json`, then asks the ignore rules about the path relative to
 * `root`; a path reached through a link that leads outside `root` matches no rule, as go-gitignore's Absolute
 * answers nothing for a path outside its base.
 */
export function copyAsAzdZips(root: string, dest: string): void {
  const rules = ignoreRules(root);
  const walk = (dir: string, out: string, links: number): void => {
    if (links > 40) return;
    for (const name of readdirSync(dir)) {
      const source = join(dir, name);
      const link = lstatSync(source).isSymbolicLink();
      const isDir = statSync(source).isDirectory();
      if (name === '.azure' && isDir) continue;
      if ((name === '.funcignore' || name === 'local.settings.json') && !isDir) continue;
      const path = relative(root, source).split(sep).join('/');
      if (rules && !path.startsWith('../') && rules.ignores(isDir ? `${path}/` : path)) continue;
      if (isDir) {
        mkdirSync(join(out, name));
        walk(link ? realpathSync(source) : source, join(out, name), links + (link ? 1 : 0));
      } else {
        copyFileSync(source, join(out, name));
      }
    }
  };
  walk(root, dest, 0);
}
