import { beforeAll, describe, expect, it } from 'vitest';

import { captureRegistrations, type Registration } from '../../local/host/registrations.js';
import { type JsonObject, openApiDocument, openApiPath } from '../../src/api/openapi.js';
import { API_ROUTES } from '../../src/api/routes.js';
import { swaggerDocument } from '../../src/api/swagger.js';
import { loadConfig } from '../../src/config.js';
import { createServices, setServices } from '../../src/services.js';
import { operationsOf, pathParametersOf, swagger2Violations, unresolvedRefs } from '../support/api-documents.js';

const SERVER = 'https://jobs.example.net/api';
const doc = openApiDocument({ serverUrl: SERVER });
let registrations: Registration[];

beforeAll(async () => {
  registrations = captureRegistrations();
  setServices(createServices(loadConfig({ CLUSTERS: JSON.stringify([{ alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/x', namespaces: ['batch'] }]) })));
  await import('../../src/index.js');
});

interface HttpFunction {
  name: string;
  method: string;
  path: string;
  anonymous: boolean;
}

function registeredHttpFunctions(): HttpFunction[] {
  return registrations.flatMap((r) => {
    const trigger = Object.values(r.metadata.bindings).find((b) => b.type === 'httpTrigger');
    if (!trigger) return [];
    return (trigger.methods as string[]).map((method) => ({
      name: r.metadata.name,
      method: method.toLowerCase(),
      path: openApiPath(String(trigger.route)),
      anonymous: trigger.authLevel === 'anonymous',
    }));
  });
}

function documentedOperations(): HttpFunction[] {
  return operationsOf(doc).map(({ path, method, operation }) => ({
    name: String(operation.operationId),
    method,
    path,
    anonymous: Array.isArray(operation.security) && operation.security.length === 0,
  }));
}

const byKey = (list: HttpFunction[]) => [...list].sort((a, b) => a.name.localeCompare(b.name) || a.method.localeCompare(b.method));

describe('the OpenAPI 3.1 document against the registered functions', () => {
  it('finds the HTTP functions (the capture itself works)', () => {
    expect(registeredHttpFunctions().map((f) => f.name)).toEqual(expect.arrayContaining(['startJobRun', 'getRun', 'getOpenApiDocument', 'getSwaggerDocument']));
  });

  it('describes every registered HTTP function, and nothing else, with its method, route and auth level', () => {
    expect(byKey(documentedOperations())).toEqual(byKey(registeredHttpFunctions()));
  });

  it('has one route table entry per registered function, the registration as it is', () => {
    const table = API_ROUTES.map((r) => ({ name: r.name, method: r.method.toLowerCase(), path: openApiPath(r.route), anonymous: r.authLevel === 'anonymous' }));
    expect(byKey(table)).toEqual(byKey(registeredHttpFunctions()));
  });
});

describe('the OpenAPI 3.1 document', () => {
  it('is OpenAPI 3.1 with the server it was made for', () => {
    expect(doc).toMatchObject({ openapi: '3.1.0', info: { title: 'aks-job-runner' }, servers: [{ url: SERVER }] });
  });

  it('resolves every $ref', () => {
    expect(unresolvedRefs(doc)).toEqual([]);
  });

  it('gives every operation a unique operationId, a summary and a description', () => {
    const operations = operationsOf(doc).map((o) => o.operation);
    const ids = operations.map((o) => o.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const o of operations) {
      expect(o.summary, String(o.operationId)).toMatch(/\S/);
      expect(o.description, String(o.operationId)).toMatch(/\S/);
    }
  });

  it.each(operationsOf(doc).map((o) => ({ ...o, id: `${o.method.toUpperCase()} ${o.path}` })))(
    '$id declares each of its path parameters once, required, and no other',
    ({ path, operation }) => {
      const declared = (operation.parameters as JsonObject[] | undefined)?.filter((p) => p.in === 'path') ?? [];
      expect(declared.map((p) => p.name).sort()).toEqual(pathParametersOf(path).sort());
      for (const p of declared) expect(p.required).toBe(true);
    },
  );

  it.each(operationsOf(doc).map((o) => ({ ...o, id: String(o.operation.operationId) })))(
    '$id answers every error as application/problem+json',
    ({ operation }) => {
      const responses = operation.responses as Record<string, JsonObject>;
      const components = (doc.components as { responses: Record<string, JsonObject> }).responses;
      for (const [status, response] of Object.entries(responses)) {
        if (Number(status) < 400 || status === '424') continue;
        const resolved = components[String(response.$ref).split('/').pop() ?? ''];
        expect(Object.keys((resolved?.content ?? {}) as JsonObject), status).toEqual(['application/problem+json']);
      }
    },
  );

  it('says where to poll on every 202: Location and Retry-After', () => {
    const accepted = operationsOf(doc).flatMap((o) => {
      const response = (o.operation.responses as Record<string, JsonObject>)['202'];
      return response ? [{ id: o.operation.operationId, headers: Object.keys(response.headers as JsonObject) }] : [];
    });
    expect(accepted.map((a) => a.id).sort()).toEqual(['cancelRun', 'getRun', 'rerunRun', 'startCronJobRun', 'startJobRun']);
    for (const a of accepted) expect(a.headers).toEqual(expect.arrayContaining(['Location', 'Retry-After']));
  });

  it('asks for the function key on every route registered with authLevel function, in the header or as code', () => {
    const schemes = (doc.components as { securitySchemes: JsonObject }).securitySchemes;
    expect(schemes).toMatchObject({
      functionKeyHeader: { type: 'apiKey', in: 'header', name: 'x-functions-key' },
      functionKeyQuery: { type: 'apiKey', in: 'query', name: 'code' },
    });
    expect(Object.keys(schemes)).toHaveLength(2);
    const getRun = operationsOf(doc).find((o) => o.operation.operationId === 'getRun');
    expect(getRun?.operation.security).toEqual([{ functionKeyHeader: [] }, { functionKeyQuery: [] }]);
  });

  it('documents the body schemas the handlers parse with, unknown fields refused', () => {
    const schemas = (doc.components as { schemas: Record<string, JsonObject> }).schemas;
    expect(schemas.CreateCronJob).toMatchObject({ type: 'object', additionalProperties: false, required: ['name'] });
    expect(Object.keys(schemas.CreateCronJob?.properties as JsonObject)).toEqual(expect.arrayContaining(['fromDeployment', 'httpCall', 'schedule', 'preset']));
    expect(schemas.UpdateCronJob).toMatchObject({ type: 'object', additionalProperties: false });
  });

  it('links answers to operations that exist, with parameters those operations have', () => {
    const operations = new Map(operationsOf(doc).map((o) => [String(o.operation.operationId), o.operation]));
    const links = operationsOf(doc).flatMap((o) =>
      Object.values(o.operation.responses as Record<string, JsonObject>).flatMap((r) => Object.values((r.links ?? {}) as Record<string, { operationId: string; parameters: JsonObject }>)),
    );
    expect(links.map((l) => l.operationId)).toEqual(expect.arrayContaining(['getRun', 'cancelRun', 'getCronJob']));
    for (const link of links) {
      const target = operations.get(link.operationId);
      expect(target, link.operationId).toBeDefined();
      const names = ((target?.parameters ?? []) as JsonObject[]).map((p) => p.name);
      for (const name of Object.keys(link.parameters)) expect(names, `${link.operationId} ${name}`).toContain(name);
      // Every path parameter of the target is given, else the link cannot be followed.
      for (const p of ((target?.parameters ?? []) as JsonObject[]).filter((p) => p.in === 'path')) expect(Object.keys(link.parameters)).toContain(p.name);
    }
  });

  it("picks values from operations that exist, with the picking operation's own parameters, from a list in their answer", () => {
    const operations = new Map(operationsOf(doc).map((o) => [String(o.operation.operationId), o.operation]));
    const schemas = (doc.components as { schemas: Record<string, JsonObject> }).schemas;
    const picks = operationsOf(doc).flatMap((o) =>
      ((o.operation.parameters ?? []) as JsonObject[]).flatMap((p) => (p['x-ms-dynamic-values'] ? [{ owner: o.operation, pick: p['x-ms-dynamic-values'] as Record<string, unknown> }] : [])),
    );
    expect(picks.length).toBeGreaterThan(5);
    for (const { owner, pick } of picks) {
      const target = operations.get(String(pick.operationId));
      expect(target, String(pick.operationId)).toBeDefined();
      const ownNames = ((owner.parameters ?? []) as JsonObject[]).map((p) => p.name);
      for (const from of Object.values((pick.parameters ?? {}) as Record<string, { parameter: string }>)) expect(ownNames).toContain(from.parameter);
      const answer = (target?.responses as Record<string, { content: Record<string, { schema: { $ref: string } }> }>)['200'];
      const schema = schemas[answer?.content['application/json']?.schema.$ref.split('/').pop() ?? ''];
      const list = (schema?.properties as Record<string, JsonObject>)[String(pick['value-collection'])];
      expect(list?.type).toBe('array');
      expect(Object.keys((list?.items as JsonObject).properties as JsonObject)).toContain(pick['value-path']);
    }
  });

  it('is the same document for the same server', () => {
    expect(openApiDocument({ serverUrl: SERVER })).toEqual(doc);
  });

  it('keeps each server its own: a document made for another leaves this one as it was, and the shared rest is frozen', () => {
    const other = openApiDocument({ serverUrl: 'http://localhost:7071/api' });
    expect(other.servers).toEqual([{ url: 'http://localhost:7071/api' }]);
    expect(doc.servers).toEqual([{ url: SERVER }]);
    expect(other.paths).toEqual(doc.paths);
    expect(Object.isFrozen(doc.paths)).toBe(true);
    expect(Object.isFrozen((doc.components as { schemas: JsonObject }).schemas.RunStatus)).toBe(true);
  });
});

describe('the Swagger 2.0 form', () => {
  const swagger = swaggerDocument({ serverUrl: SERVER });

  it('has the host, base path and scheme of the server', () => {
    expect(swagger).toMatchObject({ swagger: '2.0', host: 'jobs.example.net', basePath: '/api', schemes: ['https'] });
  });

  it('resolves every $ref', () => {
    expect(unresolvedRefs(swagger)).toEqual([]);
  });

  /**
   * Issue 23 item 4: the webhook trigger "When a run finishes", in the shape Microsoft documents for custom
   * connectors ("Use a webhook as a trigger for Azure Logic Apps and Power Automate",
   * learn.microsoft.com/connectors/custom-connectors/create-webhook-trigger, and the training module
   * create-triggers-custom-connectors/2-webhook-trigger): the registering operation carries `x-ms-trigger: single`;
   * its body has the property the platform fills with its callback URL, marked `x-ms-notification-url: true` and
   * `x-ms-visibility: internal` (the flow's author never sees it); the 201 answer has a Location header (the platform
   * DELETEs it when the flow is turned off or deleted), and its schema is what each notification carries.
   */
  it('offers the webhook trigger "When a run finishes" as Microsoft documents it, its delete on the Location', () => {
    const paths = swagger.paths as Record<string, Record<string, JsonObject>>;
    const triggers = operationsOf(swagger).filter((o) => o.operation['x-ms-trigger'] !== undefined);
    expect(triggers.map((o) => [o.method, o.path, o.operation.operationId])).toEqual([['post', '/subscriptions', 'createSourceSubscription']]);
    const op = paths['/subscriptions']?.post ?? {};
    expect(op).toMatchObject({ 'x-ms-trigger': 'single', summary: 'When a run finishes', 'x-ms-summary': 'When a run finishes' });
    const body = (op.parameters as JsonObject[]).find((p) => p.in === 'body') as { required: boolean; schema: { properties: Record<string, JsonObject>; required: string[] } };
    expect(body.required).toBe(true);
    expect(body.schema.properties.url).toMatchObject({ type: 'string', 'x-ms-notification-url': true, 'x-ms-visibility': 'internal' });
    // Only the URL is the platform's: the author picks the namespace and the source.
    for (const [name, property] of Object.entries(body.schema.properties)) if (name !== 'url') expect(property['x-ms-notification-url'], name).toBeUndefined();
    expect(body.schema.required).toEqual(expect.arrayContaining(['namespace', 'url']));
    const created = (op.responses as Record<string, JsonObject>)['201'] as { headers: Record<string, JsonObject>; schema: JsonObject };
    expect(Object.keys(created.headers)).toContain('Location');
    // The trigger's outputs: the run snapshot, with the properties a flow branches on.
    expect(created.schema).toEqual({ $ref: '#/definitions/RunStatus' });
    expect(op['x-ms-notification-content']).toMatchObject({ schema: { $ref: '#/definitions/RunStatus' } });
    const runStatus = (swagger.definitions as Record<string, { properties: Record<string, unknown> }>).RunStatus;
    expect(Object.keys(runStatus?.properties ?? {})).toEqual(expect.arrayContaining(['status', 'failureKind', 'exitCode', 'outputs', 'runId']));
    const removal = paths['/subscriptions/{subscriptionId}']?.delete;
    expect(removal?.operationId).toBe('deleteSourceSubscription');
    expect(Object.keys((removal?.responses ?? {}) as JsonObject)).toContain('204');
    // The 3.1 document has both routes too, without the connector's extensions.
    const doc31 = doc.paths as Record<string, Record<string, JsonObject>>;
    expect(doc31['/subscriptions']?.post?.operationId).toBe('createSourceSubscription');
    expect(doc31['/subscriptions/{subscriptionId}']?.delete?.operationId).toBe('deleteSourceSubscription');
  });

  it('uses nothing that only OpenAPI 3.x or later JSON Schema has, anywhere', () => {
    expect(swagger2Violations(swagger)).toEqual([]);
  });

  it('finds what only 3.x has in the 3.1 document (the check itself works)', () => {
    expect(swagger2Violations(doc)).toEqual(expect.arrayContaining(['#/openapi: openapi', '#/components: components']));
    expect(swagger2Violations(doc).some((v) => v.endsWith(': a list of types'))).toBe(true);
    expect(swagger2Violations(doc).some((v) => v.endsWith(': anyOf'))).toBe(true);
  });

  it('gives every operation a unique operationId, a summary, a description and x-ms-summary, and every parameter x-ms-summary', () => {
    const operations = operationsOf(swagger).map((o) => o.operation);
    const ids = operations.map((o) => o.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const o of operations) {
      for (const key of ['summary', 'description', 'x-ms-summary']) expect(o[key], `${String(o.operationId)} ${key}`).toMatch(/\S/);
      for (const p of o.parameters as JsonObject[]) expect(p['x-ms-summary'], `${String(o.operationId)} ${String(p.name)}`).toMatch(/\S/);
    }
  });

  it.each(operationsOf(swagger).map((o) => ({ ...o, id: `${o.method.toUpperCase()} ${o.path}` })))(
    '$id declares each of its path parameters once, required, and at most one body',
    ({ path, operation }) => {
      const parameters = operation.parameters as JsonObject[];
      const declared = parameters.filter((p) => p.in === 'path');
      expect(declared.map((p) => p.name).sort()).toEqual(pathParametersOf(path).sort());
      for (const p of declared) expect(p.required).toBe(true);
      expect(parameters.filter((p) => p.in === 'body').length).toBeLessThanOrEqual(1);
      for (const p of parameters.filter((p) => p.in !== 'body')) expect(typeof p.type, String(p.name)).toBe('string');
    },
  );

  it("asks for the function key once, as the query's code, which the app copies into the Location a connector polls", () => {
    expect(swagger.securityDefinitions).toMatchObject({ functionKey: { type: 'apiKey', in: 'query', name: 'code' } });
    expect(Object.keys(swagger.securityDefinitions as JsonObject)).toEqual(['functionKey']);
  });

  it('keeps every operation a connector calls, and leaves out the console and the documents', () => {
    const ids = operationsOf(swagger).map((o) => String(o.operation.operationId));
    const expected = API_ROUTES.filter((r) => r.connector !== false).map((r) => r.name);
    expect(ids.sort()).toEqual(expected.sort());
    expect(ids).not.toContain('serveConsole');
  });
});
