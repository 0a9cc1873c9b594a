import { describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config.js';
import { listClusters } from '../../src/functions/listClusters.js';
import { createServices, setServices } from '../../src/services.js';

const SUBSCRIPTION = '00000000-0000-4000-8000-0000000000aa';

describe('GET /api/clusters', () => {
  it('lists each alias with its allowed namespaces and names the default, revealing nothing else of the configuration', () => {
    const clusters = [
      { alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/secret/path/kubeconfig', context: 'admin@dev', namespaces: ['batch', 'etl'] },
      { alias: 'prod', type: 'aks', subscriptionId: SUBSCRIPTION, resourceGroup: 'rg-batch', clusterName: 'aks-prod', namespaces: ['*'] },
    ];
    setServices(createServices(loadConfig({ CLUSTERS: JSON.stringify(clusters), DEFAULT_CLUSTER: 'prod' })));
    const response = listClusters();
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
});
