// Azurite's blob service as a child that ends with the local runtime that started it. However the parent goes
// (Ctrl-C, a crash, kill -9), its end of this process's stdin closes, and Azurite shuts down as on SIGTERM:
// an orphan would keep the archive's folder open under the next start's Azurite.
process.stdin.on('end', () => {
  process.kill(process.pid, 'SIGTERM');
});
process.stdin.resume();
require('azurite/dist/src/blob/main.js');
