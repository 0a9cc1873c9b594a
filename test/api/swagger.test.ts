import { describe, expect, it } from 'vitest';

import type { JsonObject } from '../../src/api/openapi.js';
import { labelOf, toSchema2, toSwagger2 } from '../../src/api/swagger.js';
import { swagger2Violations } from '../support/api-documents.js';

describe('JSON Schema 2020-12 → Swagger 2.0 schema', () => {
  it.each<{ name: string; from: JsonObject; to: JsonObject }>([
    { name: 'a plain string stays', from: { type: 'string', minLength: 1, pattern: '^a$' }, to: { type: 'string', minLength: 1, pattern: '^a$' } },
    { name: 'a nullable type list becomes the type with x-nullable', from: { type: ['string', 'null'] }, to: { type: 'string', 'x-nullable': true } },
    { name: 'a type list of several types becomes an untyped value that says so', from: { type: ['string', 'number', 'boolean'] }, to: { description: 'one of: string, number, boolean' } },
    { name: 'const becomes an enum of one, its type kept', from: { type: 'string', const: 'http' }, to: { type: 'string', enum: ['http'] } },
    { name: 'const without a type gets the type of its value', from: { const: 3 }, to: { enum: [3], type: 'integer' } },
    { name: 'anyOf with null becomes the other branch, nullable', from: { anyOf: [{ type: 'integer', minimum: 0 }, { type: 'null' }] }, to: { type: 'integer', minimum: 0, 'x-nullable': true } },
    {
      name: 'a nullable reference goes through allOf, since siblings of $ref are ignored',
      from: { anyOf: [{ $ref: '#/components/schemas/Problem' }, { type: 'null' }] },
      to: { allOf: [{ $ref: '#/definitions/Problem' }], 'x-nullable': true },
    },
    {
      name: 'oneOf of objects (a discriminated union) becomes one object: every property, the discriminator an enum of all values',
      from: {
        oneOf: [
          { type: 'object', properties: { kind: { type: 'string', const: 'http' } }, required: ['kind'], additionalProperties: false },
          { type: 'object', properties: { kind: { type: 'string', const: 'schedule' }, at: { type: 'string' } }, required: ['kind', 'at'], additionalProperties: false },
        ],
      },
      to: {
        type: 'object',
        properties: { kind: { type: 'string', enum: ['http', 'schedule'] }, at: { type: 'string' } },
        required: ['kind'],
        description: 'one of several shapes: the properties of each, together',
      },
    },
    {
      name: 'a union of enums of one type becomes one enum',
      from: { anyOf: [{ type: 'string', enum: ['a'] }, { type: 'string', const: 'b' }] },
      to: { type: 'string', enum: ['a', 'b'] },
    },
    { name: 'a union of different types becomes an untyped value that says so', from: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] }, to: { description: 'one of: string, array' } },
    { name: "a union keeps the schema's own description", from: { description: 'the time', anyOf: [{ type: 'string' }, { type: 'null' }] }, to: { type: 'string', description: 'the time', 'x-nullable': true } },
    { name: 'a numeric exclusiveMinimum becomes minimum with exclusiveMinimum true', from: { type: 'number', exclusiveMinimum: 0 }, to: { type: 'number', minimum: 0, exclusiveMinimum: true } },
    { name: 'propertyNames has no 2.0 form and is left out', from: { type: 'object', propertyNames: { pattern: '^a' }, additionalProperties: { type: 'string' } }, to: { type: 'object', additionalProperties: { type: 'string' } } },
    { name: '$schema, $defs, not and prefixItems are left out', from: { $schema: 'x', $defs: {}, not: {}, prefixItems: [], type: 'array' }, to: { type: 'array' } },
    { name: 'examples becomes its first example', from: { type: 'string', examples: ['a', 'b'] }, to: { type: 'string', example: 'a' } },
    { name: 'an empty required list is left out', from: { type: 'object', properties: {}, required: [] }, to: { type: 'object', properties: {} } },
    { name: 'a reference points into definitions', from: { $ref: '#/components/schemas/RunStatus' }, to: { $ref: '#/definitions/RunStatus' } },
    {
      name: 'properties, items and additionalProperties convert all the way down',
      from: { type: 'object', properties: { a: { type: 'array', items: { type: ['string', 'null'] } } }, additionalProperties: { const: true } },
      to: { type: 'object', properties: { a: { type: 'array', items: { type: 'string', 'x-nullable': true } } }, additionalProperties: { enum: [true], type: 'boolean' } },
    },
    {
      name: 'allOf members that only constrain across fields are left out, the others kept',
      from: { type: 'object', allOf: [{ oneOf: [{ required: ['a'] }, { required: ['b'] }] }, { $ref: '#/components/schemas/Base' }] },
      to: { type: 'object', allOf: [{ $ref: '#/definitions/Base' }] },
    },
    { name: 'an allOf of constraints only is left out whole', from: { type: 'object', allOf: [{ oneOf: [{ required: ['a'] }, { required: ['b'] }] }] }, to: { type: 'object' } },
    { name: 'an extension stays', from: { type: 'string', 'x-ms-visibility': 'important' }, to: { type: 'string', 'x-ms-visibility': 'important' } },
  ])('$name', ({ from, to }) => {
    expect(toSchema2(from)).toEqual(to);
  });
});

describe('labels for connector fields', () => {
  it.each([
    ['timeoutSeconds', 'Timeout seconds'],
    ['Idempotency-Key', 'Idempotency key'],
    ['runId', 'Run id'],
    ['namespace', 'Namespace'],
  ])('%s is shown as "%s"', (name, label) => {
    expect(labelOf(name)).toBe(label);
  });
});

/** A small 3.1 document with one of everything the converter handles. */
const DOC: JsonObject = {
  openapi: '3.1.0',
  info: { title: 't', version: '1' },
  servers: [{ url: 'http://localhost:7071/api' }],
  tags: [{ name: 'Runs' }, { name: 'Docs' }],
  paths: {
    '/runs/{runId}': {
      post: {
        operationId: 'start',
        summary: 'Start',
        description: 'Starts',
        tags: ['Runs'],
        parameters: [
          { name: 'runId', in: 'path', required: true, description: 'id', schema: { type: 'string', pattern: '^[a-z]+$' } },
          { name: 'command', in: 'query', required: false, description: 'cmd', schema: { type: 'array', items: { type: 'string' } }, style: 'form', explode: true },
          { name: 'cluster', in: 'query', required: false, description: 'c', schema: { anyOf: [{ type: 'string' }, { type: 'integer' }] } },
        ],
        requestBody: { description: 'env', required: false, content: { 'application/json': { schema: { $ref: '#/components/schemas/Env' } } } },
        responses: {
          '202': {
            description: 'accepted',
            headers: { Location: { $ref: '#/components/headers/Location' } },
            content: { 'application/json': { schema: { type: 'object', properties: { at: { type: ['string', 'null'] } } } } },
          },
          '400': { $ref: '#/components/responses/Problem400' },
        },
        security: [{ functionKeyHeader: [] }, { functionKeyQuery: [] }],
      },
    },
    '/openapi.json': { get: { operationId: 'doc', summary: 'Doc', description: 'Doc', tags: ['Docs'], responses: { '200': { description: 'ok' } }, security: [] } },
  },
  components: {
    schemas: { Env: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } }, Problem: { type: 'object' } },
    responses: { Problem400: { description: 'bad', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } } },
    headers: { Location: { description: 'where', schema: { type: 'string' } } },
  },
};

describe('an OpenAPI 3.1 document → Swagger 2.0', () => {
  const swagger = toSwagger2(DOC, { omit: new Set(['doc']) });
  const op = (swagger.paths as Record<string, Record<string, JsonObject>>)['/runs/{runId}']?.post ?? {};
  const parameters = op.parameters as JsonObject[];

  it('takes host, basePath and scheme from the first server', () => {
    expect(swagger).toMatchObject({ swagger: '2.0', host: 'localhost:7071', basePath: '/api', schemes: ['http'] });
  });

  it('moves path and query schemas onto the parameter, a repeated query as collectionFormat multi', () => {
    expect(parameters[0]).toEqual({ name: 'runId', in: 'path', required: true, description: 'id', 'x-ms-summary': 'Run id', type: 'string', pattern: '^[a-z]+$' });
    expect(parameters[1]).toMatchObject({ name: 'command', in: 'query', type: 'array', items: { type: 'string' }, collectionFormat: 'multi' });
  });

  it('gives a query parameter without one type the type string, as a query string is text', () => {
    expect(parameters[2]).toMatchObject({ name: 'cluster', type: 'string' });
  });

  it('makes the request body a body parameter and says what it consumes', () => {
    expect(parameters[3]).toEqual({ name: 'body', in: 'body', required: false, description: 'env', 'x-ms-summary': 'Body', schema: { $ref: '#/definitions/Env' } });
    expect(op.consumes).toEqual(['application/json']);
  });

  it('gives answers their schema and headers inline, errors a reference to the shared responses, and lists what it produces', () => {
    expect((op.responses as JsonObject)['202']).toEqual({
      description: 'accepted',
      schema: { type: 'object', properties: { at: { type: 'string', 'x-nullable': true } } },
      headers: { Location: { type: 'string', description: 'where' } },
    });
    expect((op.responses as JsonObject)['400']).toEqual({ $ref: '#/responses/Problem400' });
    expect(swagger.responses).toEqual({ Problem400: { description: 'bad', schema: { $ref: '#/definitions/Problem' } } });
    expect(op.produces).toEqual(['application/json', 'application/problem+json']);
  });

  it('asks for the one header key, and carries operationId, summary, description and x-ms-summary', () => {
    expect(op).toMatchObject({ operationId: 'start', summary: 'Start', description: 'Starts', 'x-ms-summary': 'Start', security: [{ functionKey: [] }] });
  });

  it('leaves out the operations it is told to, and tags no operation uses', () => {
    expect(Object.keys(swagger.paths as JsonObject)).toEqual(['/runs/{runId}']);
    expect(swagger.tags).toEqual([{ name: 'Runs' }]);
  });

  it('leaves nothing only 3.x has', () => {
    expect(swagger2Violations(swagger)).toEqual([]);
  });
});
