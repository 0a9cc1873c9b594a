import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { KubeConfig } from '@kubernetes/client-node';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

import { ClientNodeGateway } from '../../src/clients/kube.js';
import { GATEWAY_PERMISSIONS, type KubePermission, requiredPermissions } from '../../src/clients/kubeAccess.js';

/**
 * The permission table is the one place the app's cluster rights are written down (rbac.yaml and the Azure
 * role are checked against it in test/infra). Here it is checked against the code: every public method of
 * ClientNodeGateway has an entry, and each entry is exactly what the method's client-node calls need.
 */

/** Public methods of ClientNodeGateway, read from its source: private helpers are on the prototype too. */
function publicMethods(): string[] {
  const path = new URL('../../src/clients/kube.ts', import.meta.url);
  const source = ts.createSourceFile('kube.ts', readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  source.forEachChild((node) => {
    if (!ts.isClassDeclaration(node) || node.name?.text !== 'ClientNodeGateway') return;
    for (const member of node.members) {
      const hidden = ts.getCombinedModifierFlags(member) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected);
      const isMethod = ts.isMethodDeclaration(member) || (ts.isPropertyDeclaration(member) && member.initializer !== undefined && ts.isArrowFunction(member.initializer));
      if (isMethod && !hidden && !ts.isPrivateIdentifier(member.name)) found.push(member.name.getText(source));
    }
  });
  return found;
}

/** client-node API class → API group. */
const GROUPS: Readonly<Record<string, string>> = { BatchV1Api: 'batch', CoreV1Api: '', AppsV1Api: 'apps', EventsV1Api: 'events.k8s.io' };
/** client-node operation prefix → RBAC verb. */
const VERBS: Readonly<Record<string, KubePermission['verb'] | 'deletecollection'>> = {
  read: 'get',
  list: 'list',
  create: 'create',
  replace: 'update',
  patch: 'patch',
  delete: 'delete',
  deleteCollection: 'deletecollection',
};

/** The permission a client-node call needs, from its names: `BatchV1Api.readNamespacedCronJob` → batch/cronjobs get. */
function permissionOf(call: string): string {
  const [api = '', operation = ''] = call.split('.');
  // `listCronJobForAllNamespaces` is the same verb on the same resource, cluster-wide.
  const match =
    /^(read|list|create|replace|patch|deleteCollection|delete)Namespaced([A-Z][a-z]*(?:[A-Z][a-z]*)*?)(Status|Log|Scale|Ephemeralcontainers)?$/.exec(operation) ??
    /^(list)([A-Z][a-z]*(?:[A-Z][a-z]*)*?)()ForAllNamespaces$/.exec(operation);
  const group = GROUPS[api];
  if (!match || group === undefined) throw new Error(`no RBAC mapping for ${call}: extend GROUPS/VERBS in this test`);
  const [, prefix = '', kind = '', sub] = match;
  const resource = `${kind.toLowerCase()}s${sub ? `/${sub.toLowerCase()}` : ''}`;
  return `${group || 'core'}/${resource}:${VERBS[prefix] ?? prefix}`;
}

function key(p: KubePermission): string {
  return `${p.apiGroup || 'core'}/${p.resource}:${p.verb}`;
}

/** A gateway whose client-node APIs only record which operations were called. */
function recordingGateway(): { gateway: ClientNodeGateway; calls: string[] } {
  const calls: string[] = [];
  const kc = {
    makeApiClient: (api: { name: string }) =>
      new Proxy(
        {},
        {
          get: (_target, operation) => () => {
            // client-node's exported BatchV1Api is a class named ObjectBatchV1Api, and so on.
            calls.push(`${api.name.replace(/^Object/, '')}.${String(operation)}`);
            return Promise.resolve({ items: [], metadata: {} });
          },
        },
      ),
  } as unknown as KubeConfig;
  return { gateway: new ClientNodeGateway({ kubeConfig: () => Promise.resolve(kc), refresh: () => Promise.resolve(false) }, 1000), calls };
}

describe('GATEWAY_PERMISSIONS', () => {
  it('has an entry for every public method of ClientNodeGateway, and none for a method it lacks', () => {
    const methods = publicMethods();
    expect(methods.length).toBeGreaterThan(0);
    expect([...methods].sort()).toEqual(Object.keys(GATEWAY_PERMISSIONS).sort());
  });

  // streamPodLog goes through client-node's Log class, not a generated API: proven below on the wire.
  it.each(Object.entries(GATEWAY_PERMISSIONS).filter(([method]) => method !== 'streamPodLog'))('%s needs exactly the verbs its client-node calls use', async (method, permissions) => {
    const { gateway, calls } = recordingGateway();
    const fn = (gateway as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)[method];
    expect(fn, method).toBeTypeOf('function');
    // Placeholder arguments: the recording APIs answer anything, so only which operations are called matters.
    await fn?.call(gateway, 'ns', 'name', {}).catch(() => undefined);
    expect(calls.length, `${method} made no client-node call`).toBeGreaterThan(0);
    expect([...new Set(calls.map(permissionOf))].sort()).toEqual(permissions.map(key).sort());
  });

  it('streamPodLog reads the pods/log subresource (get), as client-node\'s Log class asks it over HTTP', async () => {
    const paths: string[] = [];
    const server = createServer((req, res) => {
      paths.push(`${req.method ?? ''} ${req.url ?? ''}`);
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('2026-12-07T02:00:00.5Z one\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'c', server: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`, skipTLSVerify: true }],
        users: [{ name: 'u', token: 't' }],
        contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
        currentContext: 'x',
      });
      const gateway = new ClientNodeGateway({ kubeConfig: () => Promise.resolve(kc), refresh: () => Promise.resolve(false) }, 5000);
      const stream = await gateway.streamPodLog('ns', 'pod-1', { container: 'main', follow: true, timestamps: true, sinceTime: '2026-12-07T02:00:00Z' });
      let text = '';
      for await (const chunk of stream.chunks) text += Buffer.from(chunk).toString('utf8');
      expect(text).toBe('2026-12-07T02:00:00.5Z one\n');
      const [method, url = ''] = paths[0]?.split(' ') ?? [];
      const parsed = new URL(url, 'http://x');
      expect(method).toBe('GET');
      expect(parsed.pathname).toBe('/api/v1/namespaces/ns/pods/pod-1/log');
      expect(Object.fromEntries(parsed.searchParams)).toMatchObject({ container: 'main', follow: 'true', timestamps: 'true', sinceTime: '2026-12-07T02:00:00Z' });
      // GET on pods/log is the `get` verb on the pods/log subresource.
      expect(GATEWAY_PERMISSIONS.streamPodLog.map(key)).toEqual(['core/pods/log:get']);
    } finally {
      await new Promise<void>((resolve) => server.close(() => { resolve(); }));
    }
  });

  it('requiredPermissions is the union of the entries, each once', () => {
    const union = new Set(Object.values(GATEWAY_PERMISSIONS).flat().map(key));
    const required = requiredPermissions().map(key);
    expect(required).toHaveLength(union.size);
    expect(new Set(required)).toEqual(union);
  });
});
