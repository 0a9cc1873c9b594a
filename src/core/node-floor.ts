/**
 * The oldest Node.js the app runs on. The platform picks the patch release of the major version the function
 * app names (Flex Consumption: `functionAppConfig.runtime.version` "22"), so an instance can run an older 22.x
 * than the one the app was tested on. The binding floor is the highest `engines.node` of the bundled
 * dependencies (test/package derives it from the lockfile and checks this constant): undici 8, which
 * @kubernetes/client-node uses for every request, declares 22.19.0, and below 22.15 it cannot even be loaded
 * (its decompress interceptor binds `zlib.createZstdDecompress`, added to Node 22 in 22.15.0).
 */
export const NODE_FLOOR = '22.19.0';

function parts(version: string): [number, number, number] | undefined {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version.trim());
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : undefined;
}

/** Whether `version` (`22.12.0` or `v22.12.0`) is at least `floor`; an unparseable version is not. */
export function atLeast(version: string, floor: string = NODE_FLOOR): boolean {
  const have = parts(version);
  const need = parts(floor);
  if (!have || !need) return false;
  for (let i = 0; i < 3; i++) {
    const h = have[i] ?? 0;
    const n = need[i] ?? 0;
    if (h !== n) return h > n;
  }
  return true;
}

/** Why the app cannot start on Node.js `version`, in words an operator can act on; undefined when it can. */
export function nodeFloorProblem(version: string, floor: string = NODE_FLOOR): string | undefined {
  if (atLeast(version, floor)) return undefined;
  return (
    `aks-job-runner needs Node.js ${floor} or later, but this worker runs Node.js ${version.replace(/^v/, '')}: ` +
    `its Kubernetes client's HTTP library (undici) requires ${floor}, and older releases fail on it. ` +
    'In Azure, the platform chooses the patch release of the Node.js major version the function app names: ' +
    'restart the app once the platform offers a newer 22.x, or set the app to a later major version. Locally, upgrade Node.js.'
  );
}
