import * as z from 'zod';

import { API_ROUTES, type ApiBody, type ApiParameter, type ApiRoute, type ApiSuccess, COMPONENT_SCHEMAS, type ErrorStatus, type HeaderName } from './routes.js';

/** A JSON value of a document: what the generator writes and the converter reads. */
export type JsonObject = Record<string, unknown>;

/** The version of the API contract the document describes (info.version), not of the package. */
const API_VERSION = '1.0.0';
const API_TITLE = 'aks-job-runner';

const PROBLEM_CONTENT_TYPE = 'application/problem+json';

const ERROR_DESCRIPTIONS: Readonly<Record<ErrorStatus, string>> = {
  400: 'The request is invalid: detail names the parameter or field and what it takes',
  401: 'No function key, or a wrong one (answered by the Functions host; in Azure without a body)',
  403: "The cluster or namespace is not allowed (for the app or for this caller), the source does not consent, or the cluster refused the app's identity",
  404: 'No such run, source or CronJob (detail says where to find them)',
  409: 'A conflict: the run has already finished, an active run holds a Forbid policy, a name is taken, or the resource changed since it was read',
  410: 'The continue token has expired: list again from the first page',
  413: 'The request body is over 256 KiB',
  422: 'The cluster refused the object as invalid',
  428: 'An update needs the version it was made from: If-Match or body resourceVersion',
  429: 'Too many active runs on the cluster (MAX_ACTIVE_RUNS_PER_CLUSTER), or too many followed logs of this caller (LOGS_FOLLOW_MAX_STREAMS_PER_CALLER): try again after Retry-After',
  502: "The cluster or Azure answered unexpectedly, or refused the app's credentials: an operator's problem",
  503: "The cluster, Azure or Durable's task hub did not answer, or the instance streams as many followed logs as it may (LOGS_FOLLOW_MAX_STREAMS): try again after Retry-After",
};

/** The error answers that say when to try again (src/http/problem.ts). */
const RETRY_STATUSES: ReadonlySet<ErrorStatus> = new Set([429, 503]);

const HEADERS: Readonly<Record<HeaderName, { description: string; schema: JsonObject }>> = {
  Location: { description: "The run's status URL (or the created CronJob's URL)", schema: { type: 'string' } },
  'Retry-After': { description: 'Seconds to wait before asking again', schema: { type: 'integer', minimum: 0 } },
  ETag: { description: "The resource's resourceVersion, quoted: send it back as If-Match", schema: { type: 'string' } },
  'Content-Disposition': { description: 'inline, or attachment with download=true, with a file name', schema: { type: 'string' } },
  'X-Log-Source': { description: 'Where the log came from: live (the pod) or archive', schema: { type: 'string', enum: ['live', 'archive'] } },
  'X-Log-Pod': { description: 'The pod the log is of', schema: { type: 'string' } },
  'X-Log-Container': { description: 'The container the log is of', schema: { type: 'string' } },
  'X-Log-Truncated': { description: 'true when the log was cut to its size limit', schema: { type: 'string', enum: ['true', 'false'] } },
  'X-Log-Kept': {
    description: "whole; head-and-tail: the log was cut to its size limit keeping its first and last lines, with a marker line between them; head: the lines asked for with tailLines, cut from their start",
    schema: { type: 'string', enum: ['whole', 'head-and-tail', 'head'] },
  },
  'X-Log-Omitted-Bytes': { description: 'Bytes the cut left out ("0" for a log kept whole); ">N" when the log was longer than the app read', schema: { type: 'string' } },
  'X-Log-Omitted-Lines': { description: 'Lines the cut left out ("0" for a log kept whole); ">N" when the log was longer than the app read', schema: { type: 'string' } },
};

/** JSON Schema 2020-12 of a zod schema, as OpenAPI 3.1 embeds it (no `$schema` of its own). */
function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonObject {
  const converted = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonObject;
  delete converted.$schema;
  return converted;
}

/** The OpenAPI path of a registered route template: `console/{*path}` is `/console/{path}`. */
export function openApiPath(route: string): string {
  return `/${route.replace(/\{\*([^}]+)\}/g, '{$1}')}`;
}

const schemaRef = (name: string) => ({ $ref: `#/components/schemas/${name}` });

function parameter(p: ApiParameter): JsonObject {
  const schema = jsonSchemaOf(p.schema, 'input');
  return {
    name: p.name,
    in: p.in,
    description: p.description,
    required: p.in === 'path' || p.required === true,
    schema: p.repeated ? { type: 'array', items: schema } : schema,
    ...(p.repeated ? { style: 'form', explode: true } : {}),
    ...(p.allowEmpty ? { allowEmptyValue: true } : {}),
    ...(p.pickFrom ? { 'x-ms-dynamic-values': dynamicValues(p.pickFrom) } : {}),
  };
}

function dynamicValues(pick: NonNullable<ApiParameter['pickFrom']>): JsonObject {
  return {
    operationId: pick.operationId,
    ...(pick.parameters ? { parameters: Object.fromEntries(Object.entries(pick.parameters).map(([name, from]) => [name, { parameter: from }])) } : {}),
    'value-collection': pick.collection,
    'value-path': pick.value,
    'value-title': pick.value,
  };
}

function content(body: ApiBody): JsonObject {
  if ('schema' in body) return { 'application/json': { schema: schemaRef(body.schema) } };
  return { [body.contentType]: { schema: body.jsonSchema } };
}

function success(answer: ApiSuccess): JsonObject {
  return {
    description: answer.description,
    ...(answer.headers ? { headers: Object.fromEntries(answer.headers.map((h) => [h, { $ref: `#/components/headers/${h}` }])) } : {}),
    ...(answer.body ? { content: content(answer.body) } : {}),
    ...(answer.links ? { links: answer.links } : {}),
  };
}

const FUNCTION_KEY_SECURITY = [{ functionKeyHeader: [] }, { functionKeyQuery: [] }];

function operation(route: ApiRoute): JsonObject {
  const responses: JsonObject = {};
  const statuses = [...Object.keys(route.answers).map(Number), ...route.errors].sort((a, b) => a - b);
  for (const status of statuses) {
    const answer = route.answers[status as keyof ApiRoute['answers']];
    responses[String(status)] = answer ? success(answer) : { $ref: `#/components/responses/Problem${status}` };
  }
  return {
    operationId: route.name,
    summary: route.summary,
    description: route.description,
    tags: [route.tag],
    ...(route.parameters.length > 0 ? { parameters: route.parameters.map(parameter) } : {}),
    ...(route.requestBody
      ? { requestBody: { description: route.requestBody.description, required: route.requestBody.required, content: { 'application/json': { schema: schemaRef(route.requestBody.schema) } } } }
      : {}),
    responses,
    security: route.authLevel === 'anonymous' ? [] : FUNCTION_KEY_SECURITY,
  };
}

function errorResponses(routes: readonly ApiRoute[]): JsonObject {
  const used = [...new Set(routes.flatMap((r) => r.errors))].sort((a, b) => a - b);
  return Object.fromEntries(
    used.map((status) => [
      `Problem${status}`,
      {
        description: ERROR_DESCRIPTIONS[status],
        ...(RETRY_STATUSES.has(status) ? { headers: { 'Retry-After': { $ref: '#/components/headers/Retry-After' } } } : {}),
        content: { [PROBLEM_CONTENT_TYPE]: { schema: schemaRef('Problem') } },
      },
    ]),
  );
}

export interface DocumentOptions {
  /** The public URL of the app's `api` prefix, without a trailing slash (src/http/links.ts apiBase). */
  serverUrl: string;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Everything but the server, made once per route table: all of it is a function of the table and the schemas. */
const made = new WeakMap<readonly ApiRoute[], JsonObject>();

function serverless(routes: readonly ApiRoute[]): JsonObject {
  const cached = made.get(routes);
  if (cached) return cached;
  const paths: Record<string, JsonObject> = {};
  for (const route of routes) {
    const path = openApiPath(route.route);
    paths[path] = { ...paths[path], [route.method.toLowerCase()]: operation(route) };
  }
  const doc = deepFreeze({
    openapi: '3.1.0',
    info: {
      title: API_TITLE,
      version: API_VERSION,
      description:
        'Runs Kubernetes Jobs in AKS clusters for callers that speak HTTP: on demand, from CronJob templates, and on schedule. Errors are RFC 9457 problem+json.',
    },
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas: Object.fromEntries(
        Object.entries(COMPONENT_SCHEMAS).map(([name, entry]) => [name, { ...jsonSchemaOf(entry.schema, entry.io), ...('constraints' in entry ? entry.constraints : {}) }]),
      ),
      responses: errorResponses(routes),
      headers: HEADERS,
      securitySchemes: {
        functionKeyHeader: { type: 'apiKey', in: 'header', name: 'x-functions-key', description: 'A function key of the app' },
        functionKeyQuery: { type: 'apiKey', in: 'query', name: 'code', description: 'A function key of the app, in the query' },
      },
    },
  });
  made.set(routes, doc);
  return doc;
}

/**
 * The OpenAPI 3.1 document of the whole HTTP API, from the route table and the zod schemas. Pure: the same
 * options give the same document. All but `servers` is shared between calls, and frozen.
 */
export function openApiDocument(options: DocumentOptions, routes: readonly ApiRoute[] = API_ROUTES): JsonObject {
  const { openapi, info, ...rest } = serverless(routes);
  return { openapi, info, servers: [{ url: options.serverUrl }], ...rest };
}
