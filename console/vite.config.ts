import { fileURLToPath } from 'node:url';

import { defineConfig } from 'vite';

/**
 * The console is built into dist/console, which the deployment package ships with the compiled app and the
 * serveConsole function serves. Relative asset URLs, so the page works under whatever route prefix the host uses.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    reportCompressedSize: false,
  },
});
