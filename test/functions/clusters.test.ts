import { HttpRequest, InvocationContext } from '@azure/functions';
import { describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config.js';
import { listClusters } from '../../src/functions/listClusters.js';
import { createServices, setServices } from '../../src/services.js';

const SUBSCRIPTION = '00000000-0000-4000-8000-0000000000aa';
const APP = 'aaaaaaaa-0000-4000-8000-00000000000a';
const CLUSTERS = [
  { alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/secret/path/kubeconfig', context: 'admin@dev', namespaces: ['batch', 'etl'] },
  { alias: 'prod', type: 'aks', subscriptionId: SUBSCRIPTION, resourceGroup: 'rg-batch', clusterName: 'aks-prod', namespaces: ['*'] },
];

function use(settings: Record<string, string> = {}): void {
  setServices(createServices(loadConfig({ CLUSTERS: JSON.stringify(CLUSTERS), DEFAULT_CLUSTER: 'prod', ...settings })));
}
function principal(appId: string): string {
  const claims = [
    { typ: 'appid', val: appId },
    { typ: 'oid', val: `${appId}-sp` },
  ];
  return Buffer.from(JSON.stringify({ auth_typ: 'aad', claims })).toString('base64');
}
const get = (headers: Record<string, string> = {}) =>
  listClusters(new HttpRequest({ method: 'GET', url: 'https://jobs.example.net/api/clusters', headers }), new InvocationContext({ logHandler: () => undefined }));

describe('GET /api/clusters', () => {
  it('lists each alias with its allowed namespaces and names the default, revealing nothing else of the configuration', () => {
    use();
    const response = get();
    expect(response.status).toBe(200);
    expect(response.jsonBody).toEqual({
      default: 'prod',
      items: [
        { alias: 'dev', namespaces: ['batch', 'etl'] },
        { alias: 'prod', namespaces: ['*'] },
      ],
    });
    const text = JSON.stringify(response.jsonBody);
    for (const hidden of ['/secret/path', 'admin@dev', SUBSCRIPTION, 'rg-batch', 'aks-prod']) expect(text).not.toContain(hidden);
  });

  it('lists to a confined key caller only its clusters and namespaces (issue 21 item 9), and a default it may use', () => {
    use({ CALLER_POLICIES: JSON.stringify({ key: { clusters: ['dev'], namespaces: ['etl'] } }) });
    expect(get({ 'x-functions-key': 'k' }).jsonBody).toEqual({ default: 'dev', items: [{ alias: 'dev', namespaces: ['etl'] }] });
  });

  it('lists to an Entra caller its own entry: a "*" cluster shows the policy\'s namespaces it allows, never a system one', () => {
    use({ EASY_AUTH_ENABLED: 'true', CALLER_POLICIES: JSON.stringify({ [APP]: { namespaces: ['batch', 'kube-system'] } }) });
    expect(get({ 'x-ms-client-principal': principal(APP) }).jsonBody).toEqual({
      default: 'prod',
      items: [
        { alias: 'dev', namespaces: ['batch'] },
        { alias: 'prod', namespaces: ['batch'] },
      ],
    });
    // Another application without an entry gets what the app allows.
    expect((get({ 'x-ms-client-principal': principal('bbbbbbbb-0000-4000-8000-00000000000b') }).jsonBody as { items: unknown[] }).items).toHaveLength(2);
  });

  it('refuses principal headers nobody vouches for (Easy Auth off): 400 UntrustedPrincipal, nothing listed', () => {
    use();
    const response = get({ 'x-ms-client-principal': principal(APP) });
    expect(response.status).toBe(400);
    expect((response.jsonBody as { title: string }).title).toBe('UntrustedPrincipal');
  });
});
