// Azurite's blob service as a child that ends with the local runtime that started it. However the parent goes
// (Ctrl-C, a crash, kill -9), its end of this process's stdin closes, and Azurite shuts down as on SIGTERM:
// an orphan would keep the archive's folder open under the next start's Azurite.
'use strict';
/* global process */
process.stdin.on('end', () => {
  process.kill(process.pid, 'SIGTERM');
});
process.stdin.resume();
// eslint-disable-next-line @typescript-eslint/no-require-imports -- CommonJS: Azurite's main runs when required
require('azurite/dist/src/blob/main.js');
