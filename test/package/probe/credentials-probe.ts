// Bundled by test/package/credentials.test.ts with the deployment bundle's own esbuild settings, then run in a
// fresh Node: reaches a cluster through client-node with each of the app's two kinds of credentials (a
// kubeconfig file; an AKS cluster with an Entra ID token from @azure/identity's managed identity, as the app
// gets it in Azure), and writes what came back to the file its first argument names.
import { writeFileSync } from 'node:fs';

import { DefaultAzureCredential } from '@azure/identity';

import { AksSource, KubeconfigFileSource } from '../../../src/clients/credentials.js';
import { ClientNodeGateway } from '../../../src/clients/kube.js';

interface ProbeInput {
  kubeconfigPath: string;
  aksKubeconfig: string;
  managedIdentityClientId: string;
}

const [out, input] = process.argv.slice(2);
if (out === undefined || input === undefined) throw new Error('usage: credentials-probe <out.json> <input.json>');
const { kubeconfigPath, aksKubeconfig, managedIdentityClientId } = JSON.parse(input) as ProbeInput;

async function read(gateway: ClientNodeGateway): Promise<{ name: string | undefined; startTimeIsDate: boolean } | { error: string }> {
  try {
    const job = await gateway.readJob('batch', 'report');
    return { name: job?.metadata?.name, startTimeIsDate: job?.status?.startTime instanceof Date };
  } catch (err) {
    return { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
}

const kubeconfig = await read(new ClientNodeGateway(new KubeconfigFileSource(kubeconfigPath), 10_000));

// As src/services.ts makes the app's credential.
const credential = new DefaultAzureCredential({ managedIdentityClientId });
const management = {
  getCluster: () => Promise.resolve({ aadProfile: { managed: true } }),
  userKubeconfig: () => Promise.resolve(aksKubeconfig),
};
const settings = { alias: 'prod', type: 'aks' as const, subscriptionId: '00000000-0000-4000-8000-000000000001', resourceGroup: 'rg', clusterName: 'aks-prod', namespaces: ['batch'] };
const entra = await read(new ClientNodeGateway(new AksSource(settings, management, credential), 10_000));

writeFileSync(out, JSON.stringify({ kubeconfig, entra }));
// The gateways keep their keep-alive connections open; the probe is done.
process.exit(0);
