import { type DocumentOptions, type JsonObject, openApiDocument } from './openapi.js';
import { API_ROUTES, type ApiRoute } from './routes.js';

/**
 * The Swagger 2.0 form of the OpenAPI 3.1 document, for Logic Apps and Power Automate custom connectors, which
 * import only 2.0. JSON Schema 2020-12 has more than 2.0's schema dialect says: nullable types become
 * `x-nullable` (the extension connectors and AutoRest read), `const` an enum of one, unions of objects one
 * object with every branch's properties, other unions an untyped value, and keywords 2.0 lacks are left out.
 */

const isObject = (value: unknown): value is JsonObject => value !== null && typeof value === 'object' && !Array.isArray(value);

/** Schema keywords Swagger 2.0 has, copied as they are. */
const KEPT = new Set([
  'title',
  'description',
  'default',
  'multipleOf',
  'maximum',
  'minimum',
  'maxLength',
  'minLength',
  'pattern',
  'maxItems',
  'minItems',
  'uniqueItems',
  'maxProperties',
  'minProperties',
  'enum',
  'format',
  'readOnly',
  'example',
]);

const REF_PREFIX_31 = '#/components/schemas/';
const REF_PREFIX_20 = '#/definitions/';

function typeOf(value: unknown): string | undefined {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return undefined;
}

function isNullSchema(schema: unknown): boolean {
  return isObject(schema) && schema.type === 'null';
}

function describe(out: JsonObject, note: string): void {
  out.description = typeof out.description === 'string' ? `${out.description} (${note})` : note;
}

/** Branches of a union, merged into one 2.0 schema. */
function mergeUnion(branches: readonly JsonObject[]): JsonObject {
  if (branches.length === 1 && branches[0]) return branches[0];
  if (branches.every((b) => b.type === 'object')) {
    const properties: JsonObject = {};
    for (const branch of branches) {
      for (const [name, schema] of Object.entries(isObject(branch.properties) ? branch.properties : {})) {
        const seen = properties[name];
        // A discriminator: the branches' enums of one property together.
        if (isObject(seen) && Array.isArray(seen.enum) && isObject(schema) && Array.isArray(schema.enum)) {
          properties[name] = { ...seen, enum: [...new Set([...(seen.enum as unknown[]), ...(schema.enum as unknown[])])] };
        } else {
          properties[name] = seen ?? schema;
        }
      }
    }
    const requiredOf = (b: JsonObject) => (Array.isArray(b.required) ? (b.required as string[]) : []);
    const required = requiredOf(branches[0] ?? {}).filter((name) => branches.every((b) => requiredOf(b).includes(name)));
    return { type: 'object', properties, ...(required.length > 0 ? { required } : {}), description: 'one of several shapes: the properties of each, together' };
  }
  const types = new Set(branches.map((b) => b.type));
  const [onlyType] = [...types];
  if (types.size === 1 && typeof onlyType === 'string' && branches.every((b) => Array.isArray(b.enum))) {
    return { type: onlyType, enum: [...new Set(branches.flatMap((b) => b.enum as unknown[]))] };
  }
  return { description: `one of: ${branches.map((b) => (typeof b.type === 'string' ? b.type : 'a value')).join(', ')}` };
}

/** A JSON Schema 2020-12 (as OpenAPI 3.1 has it) in Swagger 2.0's dialect. */
export function toSchema2(schema: unknown): JsonObject {
  if (!isObject(schema)) return {};
  if (typeof schema.$ref === 'string') return { $ref: schema.$ref.replace(REF_PREFIX_31, REF_PREFIX_20) };
  let out: JsonObject = {};
  let nullable = false;
  for (const [key, value] of Object.entries(schema)) {
    if (KEPT.has(key) || key.startsWith('x-')) out[key] = value;
    else if (key === 'type') {
      const types = (Array.isArray(value) ? value : [value]).filter((t) => t !== 'null');
      nullable ||= Array.isArray(value) ? value.includes('null') : value === 'null';
      if (types.length === 1) out.type = types[0];
      else if (types.length > 1) describe(out, `one of: ${types.join(', ')}`);
    } else if (key === 'const') {
      out.enum = [value];
      const type = typeOf(value);
      if (type && schema.type === undefined) out.type = type;
    } else if (key === 'properties' && isObject(value)) {
      out.properties = Object.fromEntries(Object.entries(value).map(([name, s]) => [name, toSchema2(s)]));
    } else if (key === 'required' && Array.isArray(value) && value.length > 0) {
      out.required = value;
    } else if (key === 'items') {
      out.items = toSchema2(value);
    } else if (key === 'additionalProperties') {
      out.additionalProperties = typeof value === 'boolean' ? value : toSchema2(value);
    } else if ((key === 'exclusiveMinimum' || key === 'exclusiveMaximum') && typeof value === 'number') {
      out[key === 'exclusiveMinimum' ? 'minimum' : 'maximum'] = value;
      out[key] = true;
    } else if (key === 'examples' && Array.isArray(value) && value.length > 0) {
      out.example = value[0];
    } else if (key === 'allOf' && Array.isArray(value)) {
      // A member that only constrains across fields (oneOf of required lists) has nothing 2.0 can say.
      const members = value.filter((m) => !isObject(m) || m.type !== undefined || m.$ref !== undefined || m.properties !== undefined).map(toSchema2);
      if (members.length > 0) out.allOf = members;
    }
    // Anything else (propertyNames, not, prefixItems, $schema, $defs, if/then/else...) has no 2.0 form.
  }
  const union = Array.isArray(schema.anyOf) ? schema.anyOf : Array.isArray(schema.oneOf) ? schema.oneOf : undefined;
  if (union) {
    nullable ||= union.some(isNullSchema);
    const branches = union.filter((b) => !isNullSchema(b)).map(toSchema2);
    const merged = mergeUnion(branches);
    // Siblings of a $ref are ignored in 2.0: a nullable reference goes through allOf.
    const base = typeof merged.$ref === 'string' ? { allOf: [merged] } : merged;
    const description = out.description ?? base.description;
    out = { ...base, ...out, ...(description === undefined ? {} : { description }) };
  }
  if (nullable) out['x-nullable'] = true;
  return out;
}

/** Parameter keywords a non-body 2.0 parameter takes from its schema. */
const PARAMETER_KEYS = ['type', 'format', 'items', 'default', 'maximum', 'exclusiveMaximum', 'minimum', 'exclusiveMinimum', 'maxLength', 'minLength', 'pattern', 'maxItems', 'minItems', 'uniqueItems', 'enum', 'multipleOf'];

/** `timeoutSeconds` → `Timeout seconds`: a connector shows it as the field's label. */
export function labelOf(name: string): string {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[-_]+/g, ' ')
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function parameter2(p: JsonObject): JsonObject {
  const schema = toSchema2(p.schema);
  const out: JsonObject = {
    name: p.name,
    in: p.in,
    description: p.description,
    required: p.required === true,
    'x-ms-summary': labelOf(String(p.name)),
  };
  for (const key of PARAMETER_KEYS) if (schema[key] !== undefined) out[key] = schema[key];
  if (p.allowEmptyValue === true) out.allowEmptyValue = true;
  for (const [key, value] of Object.entries(p)) if (key.startsWith('x-')) out[key] = value;
  // A string stands in for a parameter whose schema has no single type: a query string is text anyway.
  if (out.type === undefined) out.type = 'string';
  if (out.type === 'array') out.collectionFormat = p.explode === true ? 'multi' : 'csv';
  return out;
}

function resolveHeader(doc: JsonObject, header: unknown): JsonObject {
  if (!isObject(header)) return {};
  const ref = typeof header.$ref === 'string' ? header.$ref.split('/').pop() : undefined;
  const components = isObject(doc.components) && isObject(doc.components.headers) ? doc.components.headers : {};
  const resolved = ref !== undefined && isObject(components[ref]) ? components[ref] : header;
  const schema = toSchema2(resolved.schema);
  return { ...schema, description: resolved.description };
}

function response2(doc: JsonObject, response: unknown, produces: Set<string>): JsonObject {
  if (!isObject(response)) return {};
  if (typeof response.$ref === 'string') return { $ref: response.$ref.replace('#/components/responses/', '#/responses/') };
  const out: JsonObject = { description: response.description };
  if (isObject(response.content)) {
    const [type, media] = Object.entries(response.content)[0] ?? [];
    if (type !== undefined) produces.add(type);
    if (isObject(media) && media.schema !== undefined) out.schema = toSchema2(media.schema);
  }
  if (isObject(response.headers)) {
    out.headers = Object.fromEntries(Object.entries(response.headers).map(([name, header]) => [name, resolveHeader(doc, header)]));
  }
  return out;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch'];

function operation2(doc: JsonObject, op: JsonObject, errorTypes: Set<string>): JsonObject {
  const produces = new Set<string>();
  const responses = isObject(op.responses) ? op.responses : {};
  const converted = Object.fromEntries(Object.entries(responses).map(([status, r]) => [status, response2(doc, r, produces)]));
  if (Object.values(responses).some((r) => isObject(r) && typeof r.$ref === 'string')) for (const type of errorTypes) produces.add(type);
  const parameters = (Array.isArray(op.parameters) ? op.parameters : []).filter(isObject).map(parameter2);
  const body = isObject(op.requestBody) ? op.requestBody : undefined;
  if (body) {
    const media = isObject(body.content) ? body.content['application/json'] : undefined;
    parameters.push({
      name: 'body',
      in: 'body',
      description: body.description,
      required: body.required === true,
      'x-ms-summary': 'Body',
      schema: toSchema2(isObject(media) ? media.schema : {}),
    });
  }
  const security = Array.isArray(op.security) && op.security.length === 0 ? [] : [{ functionKey: [] }];
  return {
    operationId: op.operationId,
    summary: op.summary,
    description: op.description,
    'x-ms-summary': op.summary,
    tags: op.tags,
    ...(body ? { consumes: ['application/json'] } : {}),
    produces: [...produces],
    parameters,
    responses: converted,
    security,
  };
}

/**
 * A webhook trigger, as Microsoft documents them for custom connectors ("Use a webhook as a trigger for Azure Logic
 * Apps and Power Automate"): `x-ms-trigger: single` on the operation that registers the webhook; in its body, the
 * property the platform fills with the URL it is to be notified at, marked `x-ms-notification-url` and hidden from
 * the flow's author (`x-ms-visibility: internal`); a 201 answer with a Location the platform DELETEs when the flow
 * is turned off or deleted, whose schema (and `x-ms-notification-content`) is what each notification carries: the
 * trigger's outputs in the designer.
 */
function asTrigger(op: JsonObject, trigger: NonNullable<ApiRoute['trigger']>, definitions: JsonObject): JsonObject {
  const payload = { $ref: `${REF_PREFIX_20}${trigger.payload}` };
  const parameters = (op.parameters as JsonObject[]).map((p) => {
    if (p.in !== 'body' || !isObject(p.schema) || typeof p.schema.$ref !== 'string') return p;
    const body = definitions[p.schema.$ref.replace(REF_PREFIX_20, '')];
    if (!isObject(body) || !isObject(body.properties)) return p;
    const url = body.properties[trigger.notificationUrl];
    const properties = { ...body.properties, [trigger.notificationUrl]: { ...(isObject(url) ? url : {}), 'x-ms-notification-url': true, 'x-ms-visibility': 'internal' } };
    return { ...p, schema: { ...body, properties } };
  });
  const responses = op.responses as JsonObject;
  const created = isObject(responses['201']) ? responses['201'] : { description: 'Subscribed' };
  return {
    ...op,
    'x-ms-trigger': 'single',
    'x-ms-notification-content': { description: 'The run, as GET /runs/{runId} answers it', schema: payload },
    parameters,
    responses: { ...responses, 201: { ...created, schema: payload } },
  };
}

export interface SwaggerOptions {
  /** Operations to leave out, by operationId. */
  omit?: ReadonlySet<string>;
}

/** The Swagger 2.0 form of an OpenAPI 3.1 document (one openApiDocument made). */
export function toSwagger2(doc: JsonObject, options: SwaggerOptions = {}): JsonObject {
  const servers = Array.isArray(doc.servers) ? doc.servers : [];
  const first: unknown = servers[0];
  const server = new URL(isObject(first) && typeof first.url === 'string' ? first.url : 'https://localhost/api');
  const components = isObject(doc.components) ? doc.components : {};
  const schemas = isObject(components.schemas) ? components.schemas : {};
  const responses = isObject(components.responses) ? components.responses : {};
  const errorTypes = new Set<string>();
  const responses2 = Object.fromEntries(Object.entries(responses).map(([name, r]) => [name, response2(doc, r, errorTypes)]));
  const definitions = Object.fromEntries(Object.entries(schemas).map(([name, s]) => [name, toSchema2(s)]));
  const paths: JsonObject = {};
  for (const [path, item] of Object.entries(isObject(doc.paths) ? doc.paths : {})) {
    if (!isObject(item)) continue;
    const operations: JsonObject = {};
    for (const method of METHODS) {
      const op = item[method];
      if (!isObject(op) || options.omit?.has(String(op.operationId))) continue;
      const converted = operation2(doc, op, errorTypes);
      const trigger = API_ROUTES.find((r) => r.name === op.operationId)?.trigger;
      operations[method] = trigger ? asTrigger(converted, trigger, definitions) : converted;
    }
    if (Object.keys(operations).length > 0) paths[path] = operations;
  }
  const tags = new Set(Object.values(paths).flatMap((item) => Object.values(item as JsonObject).flatMap((op) => (op as { tags: string[] }).tags)));
  return {
    swagger: '2.0',
    info: doc.info,
    host: server.host,
    basePath: server.pathname.replace(/\/$/, '') || '/',
    schemes: [server.protocol.replace(':', '')],
    consumes: ['application/json'],
    produces: ['application/json'],
    tags: (Array.isArray(doc.tags) ? doc.tags : []).filter((t) => isObject(t) && tags.has(String(t.name))),
    paths,
    definitions,
    responses: responses2,
    // Custom connectors take one API key. The query's `code`, not the header: the app copies a `code` into the
    // Location it answers with, so the connector's polls of a run's status carry the key too.
    securityDefinitions: {
      functionKey: { type: 'apiKey', in: 'query', name: 'code', description: 'A function key of the app' },
    },
    security: [{ functionKey: [] }],
  };
}

/** Operations a connector has no use for: the console's files and these documents themselves. */
const CONNECTOR_OMITS: ReadonlySet<string> = new Set(API_ROUTES.filter((r) => r.connector === false).map((r) => r.name));

/** The Swagger 2.0 document a connector imports. */
export function swaggerDocument(options: DocumentOptions): JsonObject {
  return toSwagger2(openApiDocument(options), { omit: CONNECTOR_OMITS });
}
