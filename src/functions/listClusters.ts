import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { app } from '@azure/functions';

import { namespaceAllowed } from '../config.js';
import { callerOf, policyOf } from '../http/caller.js';
import { errorResponse } from '../http/problem.js';
import { services } from '../services.js';

/**
 * GET /api/clusters: the cluster aliases and the namespaces each allows, for pickers such as the console's.
 * Only what a key holder may name in a request anyway: no server, subscription, resource group or file. And
 * only what this caller may name: its CALLER_POLICIES entry narrows the clusters and namespaces listed as it
 * narrows every other route, so a confined caller does not learn the rest of the configuration. `default` is
 * the app's default cluster when the caller may use it, else the first it may (null for none).
 */
export function listClusters(request: HttpRequest, context: InvocationContext): HttpResponseInit {
  try {
    const { config } = services();
    const policy = policyOf(callerOf(request, config.callers), config.callers);
    const items = config.clusters
      .filter((c) => !policy.clusters || policy.clusters.includes(c.alias))
      .map((c) => ({ alias: c.alias, namespaces: policy.namespaces ? policy.namespaces.filter((ns) => namespaceAllowed(c, ns)) : [...c.namespaces] }));
    const fallback = items.find((c) => c.alias === config.defaultCluster) ?? items[0];
    return { status: 200, jsonBody: { default: fallback?.alias ?? null, items } };
  } catch (err) {
    return errorResponse(err, context);
  }
}

app.http('listClusters', {
  route: 'clusters',
  methods: ['GET'],
  authLevel: 'function',
  handler: listClusters,
});
