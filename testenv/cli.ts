/**
 * The local control plane from a terminal:
 *
 *   npx tsx testenv/cli.ts start [--nodes N] [--keep]   start it, print how to reach it, stop it on Ctrl-C
 *   npx tsx testenv/cli.ts build                        build (or find) the binaries and print their dir
 */
import { ensureBinaries, startCluster } from './cluster.js';

const log = (line: string): void => {
  process.stderr.write(`[kube] ${line}\n`);
};

async function main(args: string[]): Promise<void> {
  const [command = 'start', ...rest] = args;
  if (command === 'build') {
    console.log(await ensureBinaries(log));
    return;
  }
  if (command !== 'start') {
    throw new Error(`unknown command ${command}: use start [--nodes N] [--keep] or build`);
  }
  const nodesAt = rest.indexOf('--nodes');
  const nodes = nodesAt >= 0 ? Number(rest[nodesAt + 1]) : 2;
  if (!Number.isInteger(nodes) || nodes < 1) throw new Error('--nodes wants a whole number of at least 1');
  const cluster = await startCluster({ nodes, keepDataDir: rest.includes('--keep'), log });
  console.log(`server:          ${cluster.server}`);
  console.log(`admin:           export KUBECONFIG=${cluster.kubeconfigPath}`);
  console.log(`no rights:       ${cluster.noRightsKubeconfigPath} (user ${cluster.noRightsUser})`);
  console.log(`nodes:           ${cluster.nodeNames.join(', ')}`);
  console.log(`logs:            ${cluster.dataDir}/*.log`);
  console.log('Ctrl-C stops it.');
  await new Promise<void>((resolveStop) => {
    const stop = (): void => {
      log('stopping');
      void cluster.stop().then(resolveStop);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
