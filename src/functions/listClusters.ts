import type { HttpResponseInit } from '@azure/functions';
import { app } from '@azure/functions';

import { services } from '../services.js';

/**
 * GET /api/clusters: the cluster aliases and the namespaces each allows, for pickers such as the console's.
 * Only what a key holder may name in a request anyway: no server, subscription, resource group or file.
 */
export function listClusters(): HttpResponseInit {
  const { config } = services();
  return {
    status: 200,
    jsonBody: {
      default: config.defaultCluster,
      items: config.clusters.map((c) => ({ alias: c.alias, namespaces: [...c.namespaces] })),
    },
  };
}

app.http('listClusters', {
  route: 'clusters',
  methods: ['GET'],
  authLevel: 'function',
  handler: listClusters,
});
