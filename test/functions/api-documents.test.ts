import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import { describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config.js';
import { getOpenApiDocument } from '../../src/functions/getOpenApiDocument.js';
import { getSwaggerDocument } from '../../src/functions/getSwaggerDocument.js';
import { createServices, setServices } from '../../src/services.js';

const CLUSTERS = JSON.stringify([{ alias: 'secret-project', type: 'kubeconfig', kubeconfigPath: '/nonexistent/kubeconfig', namespaces: ['hidden-team'] }]);
const context = () => new InvocationContext({ functionName: 'test', invocationId: 'inv-1', logHandler: () => undefined });

function use(settings: Record<string, string> = {}): void {
  setServices(createServices(loadConfig({ CLUSTERS, ...settings })));
}

type Handler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;
async function ask(handler: Handler, url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await handler(new HttpRequest({ method: 'GET', url, headers }), context());
  return { status: response.status ?? 200, body: response.jsonBody as Record<string, unknown> };
}

interface Case {
  name: string;
  url: string;
  settings: Record<string, string>;
  headers: Record<string, string>;
}

describe('GET /api/openapi.json', () => {
  it.each<Case & { server: string }>([
    { name: 'the local runtime', url: 'http://localhost:7071/api/openapi.json', settings: {}, headers: {}, server: 'http://localhost:7071/api' },
    { name: 'Azure', url: 'https://jobs.azurewebsites.net/api/openapi.json', settings: {}, headers: {}, server: 'https://jobs.azurewebsites.net/api' },
    {
      name: 'a gateway in front, when its headers are trusted',
      url: 'http://app-internal:8080/api/openapi.json',
      settings: { TRUST_FORWARDED_HEADERS: 'true' },
      headers: { 'x-forwarded-host': 'api.example.com', 'x-forwarded-proto': 'https', 'x-forwarded-prefix': '/jobs' },
      server: 'https://api.example.com/jobs/api',
    },
    {
      name: 'a gateway whose headers are not trusted',
      url: 'https://jobs.azurewebsites.net/api/openapi.json',
      settings: {},
      headers: { 'x-forwarded-host': 'evil.example' },
      server: 'https://jobs.azurewebsites.net/api',
    },
    { name: 'PUBLIC_BASE_URL', url: 'http://localhost:7071/api/openapi.json', settings: { PUBLIC_BASE_URL: 'https://jobs.example.com/api/' }, headers: {}, server: 'https://jobs.example.com/api' },
  ])('names as its server the URL it was asked on: $name', async ({ url, settings, headers, server }) => {
    use(settings);
    const { status, body } = await ask(getOpenApiDocument, url, headers);
    expect(status).toBe(200);
    expect(body).toMatchObject({ openapi: '3.1.0', servers: [{ url: server }] });
  });

  it("hands out neither the caller's key nor the configured clusters and namespaces", async () => {
    use();
    const text = JSON.stringify((await ask(getOpenApiDocument, 'https://jobs.azurewebsites.net/api/openapi.json?code=the-function-key')).body);
    for (const hidden of ['the-function-key', 'secret-project', 'hidden-team']) expect(text).not.toContain(hidden);
  });
});

describe('GET /api/swagger.json', () => {
  it.each<Case & { host: string; basePath: string; scheme: string }>([
    { name: 'the local runtime', url: 'http://localhost:7071/api/swagger.json', settings: {}, headers: {}, host: 'localhost:7071', basePath: '/api', scheme: 'http' },
    { name: 'Azure', url: 'https://jobs.azurewebsites.net/api/swagger.json', settings: {}, headers: {}, host: 'jobs.azurewebsites.net', basePath: '/api', scheme: 'https' },
    {
      name: 'a gateway in front with a prefix',
      url: 'http://app-internal/api/swagger.json',
      settings: { TRUST_FORWARDED_HEADERS: 'true' },
      headers: { forwarded: 'host=api.example.com;proto=https', 'x-forwarded-prefix': '/jobs' },
      host: 'api.example.com',
      basePath: '/jobs/api',
      scheme: 'https',
    },
  ])('has the host, base path and scheme it was asked on: $name', async ({ url, settings, headers, host, basePath, scheme }) => {
    use(settings);
    const { status, body } = await ask(getSwaggerDocument, url, headers);
    expect(status).toBe(200);
    expect(body).toMatchObject({ swagger: '2.0', host, basePath, schemes: [scheme] });
  });

  it("hands out neither the caller's key nor the configured clusters and namespaces", async () => {
    use();
    const text = JSON.stringify((await ask(getSwaggerDocument, 'https://jobs.azurewebsites.net/api/swagger.json?code=the-function-key')).body);
    for (const hidden of ['the-function-key', 'secret-project', 'hidden-team']) expect(text).not.toContain(hidden);
  });
});
