// `npm run clean`: removes the build output with Node's own fs, so that it works in every shell azd's hooks
// run in (sh on Linux and macOS, pwsh on Windows); `rm -rf` exists only in the first.
import { rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Removes `dist/` under `root` (the repository by default), whole; a missing one is no error. */
export function clean(root: string = resolve(dirname(fileURLToPath(import.meta.url)), '..')): void {
  rmSync(resolve(root, 'dist'), { recursive: true, force: true });
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) clean();
