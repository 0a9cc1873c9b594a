import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

import { type LocalApp, startLocalApp } from '../../local/host/server.js';
import type { JsonObject } from '../../src/api/openapi.js';
import { problemSchema } from '../../src/api/schemas.js';
import { operationsOf } from '../support/api-documents.js';

/**
 * The documents as the local runtime serves them (the runtime Schemathesis runs against): anonymous, naming the
 * runtime itself as their server, and every operation they describe reachable there, refusing a missing key
 * with the documented 401. No request here reaches a cluster: the one configured has no kubeconfig.
 */
let app: LocalApp;
let doc: JsonObject;

beforeAll(async () => {
  process.env.CLUSTERS = JSON.stringify([{ alias: 'local', type: 'kubeconfig', kubeconfigPath: '/nonexistent/kubeconfig', namespaces: ['batch'] }]);
  app = await startLocalApp({ functionKey: 'fn-key' });
  doc = (await (await fetch(`${app.url}/api/openapi.json`)).json()) as JsonObject;
});
afterAll(() => app.close());

const EXAMPLES: Readonly<Record<string, string>> = { namespace: 'batch', name: 'nightly', runId: 'nightly-abcdefghij', path: 'index.html' };

/** A response's media type and its schema, references followed. */
function mediaOf(response: JsonObject): { type: string; schema: JsonObject | undefined } | undefined {
  const components = doc.components as { responses: Record<string, JsonObject>; schemas: Record<string, JsonObject> };
  const resolved = typeof response.$ref === 'string' ? components.responses[response.$ref.split('/').pop() ?? ''] : response;
  const [type, media] = Object.entries((resolved?.content ?? {}) as Record<string, { schema?: JsonObject }>)[0] ?? [];
  if (type === undefined) return undefined;
  const schema = media?.schema;
  return { type, schema: typeof schema?.$ref === 'string' ? components.schemas[schema.$ref.split('/').pop() ?? ''] : schema };
}

function urlOf(path: string): string {
  return `${app.url}/api${path.replace(/\{([^}]+)\}/g, (_m, name: string) => EXAMPLES[name] ?? 'x')}`;
}

describe('the API documents on the local runtime', () => {
  it('serves both without a key, the runtime itself as their server', async () => {
    expect(doc).toMatchObject({ openapi: '3.1.0', servers: [{ url: `${app.url}/api` }] });
    const swagger = await fetch(`${app.url}/api/swagger.json`);
    expect(swagger.status).toBe(200);
    expect(swagger.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await swagger.json()).toMatchObject({ swagger: '2.0', host: new URL(app.url).host, basePath: '/api' });
  });

  it('describes operations with a function key (the list below is not empty)', () => {
    expect(operationsOf(doc).filter((o) => (o.operation.security as unknown[]).length > 0).length).toBeGreaterThan(10);
  });

  it.each(['get', 'post', 'patch', 'delete'])('every %s operation that needs a key answers the documented 401 without one', async (method) => {
    const operations = operationsOf(doc).filter((o) => o.method === method && (o.operation.security as unknown[]).length > 0);
    for (const { path, operation } of operations) {
      const response = await fetch(urlOf(path), { method: method.toUpperCase() });
      const where = `${method.toUpperCase()} ${path}`;
      expect(response.status, where).toBe(401);
      expect(Object.keys(operation.responses as JsonObject), where).toContain('401');
      expect(response.headers.get('content-type'), where).toBe('application/problem+json');
      expect(problemSchema.safeParse(await response.json()).success, where).toBe(true);
    }
  });

  it('answers every operation with a key with a status, media type and body its operation documents', async () => {
    for (const { path, method, operation } of operationsOf(doc)) {
      const response = await fetch(urlOf(path), {
        method: method.toUpperCase(),
        headers: { 'x-functions-key': 'fn-key', 'content-type': 'application/json' },
        ...(method === 'get' || method === 'delete' ? {} : { body: '{}' }),
      });
      const text = await response.text();
      const where = `${method.toUpperCase()} ${path}: ${String(response.status)} ${text}`;
      expect(Object.keys(operation.responses as JsonObject), where).toContain(String(response.status));
      const documented = mediaOf((operation.responses as Record<string, JsonObject>)[String(response.status)] ?? {});
      const type = response.headers.get('content-type')?.split(';')[0] ?? '';
      if (!documented) {
        expect(text, where).toBe('');
        continue;
      }
      expect(documented.type === '*/*' || documented.type === type, `${where}: ${type}`).toBe(true);
      if (type.endsWith('json') && documented.schema) {
        const parsed = z.fromJSONSchema(documented.schema).safeParse(JSON.parse(text));
        expect(parsed.error?.issues ?? [], where).toEqual([]);
      }
    }
  });
});
