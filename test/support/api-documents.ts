/** Structural checks of OpenAPI 3.1 and Swagger 2.0 documents, written here since no validator is installed. */

type JsonObject = Record<string, unknown>;

const isObject = (value: unknown): value is JsonObject => value !== null && typeof value === 'object' && !Array.isArray(value);

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

export interface Operation {
  path: string;
  method: string;
  operation: JsonObject;
}

export function operationsOf(doc: JsonObject): Operation[] {
  const paths = isObject(doc.paths) ? doc.paths : {};
  return Object.entries(paths).flatMap(([path, item]) =>
    METHODS.flatMap((method) => {
      const operation = isObject(item) ? item[method] : undefined;
      return isObject(operation) ? [{ path, method, operation }] : [];
    }),
  );
}

/** The `{names}` of a path template. */
export function pathParametersOf(path: string): string[] {
  return [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] ?? '');
}

/** A JSON pointer (`#/a/b~1c`) inside the document, or undefined when it points at nothing. */
function resolve(doc: JsonObject, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let at: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isObject(at) || !(key in at)) return undefined;
    at = at[key];
  }
  return at;
}

/** Every `$ref` in the document that does not resolve inside it. */
export function unresolvedRefs(doc: JsonObject): string[] {
  const missing: string[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) {
      value.forEach(walk);
    } else if (isObject(value)) {
      if (typeof value.$ref === 'string' && resolve(doc, value.$ref) === undefined) missing.push(value.$ref);
      Object.values(value).forEach(walk);
    }
  };
  walk(doc);
  return missing;
}

/** Keywords of OpenAPI 3.x and of JSON Schema after draft 4 that Swagger 2.0 does not have. */
export const NOT_IN_SWAGGER_2 = new Set([
  'openapi',
  'servers',
  'components',
  'requestBody',
  'content',
  'callbacks',
  'links',
  'webhooks',
  'jsonSchemaDialect',
  'oneOf',
  'anyOf',
  'not',
  'const',
  'nullable',
  'prefixItems',
  'propertyNames',
  '$defs',
  '$schema',
  '$id',
  'if',
  'then',
  'else',
  'dependentRequired',
  'dependentSchemas',
  'unevaluatedProperties',
  'unevaluatedItems',
  'contains',
  'contentMediaType',
  'contentEncoding',
  'examples',
  'deprecated',
  'style',
  'explode',
]);

/** Maps whose keys are names the document's author chose (a property called "content"), not keywords. */
const NAME_MAPS = new Set(['properties', 'definitions', 'paths', 'responses', 'headers', 'securityDefinitions', 'parameters']);

/**
 * Every place a Swagger 2.0 document uses what only 3.x has: the keywords above, a list of types, a numeric
 * exclusiveMinimum/Maximum. Each finding is `<JSON path>: <what>`.
 */
export function swagger2Violations(doc: JsonObject): string[] {
  const found: string[] = [];
  const walk = (value: unknown, path: string, namesHere: boolean): void => {
    if (Array.isArray(value)) {
      value.forEach((v, i) => {
        walk(v, `${path}[${i}]`, false);
      });
      return;
    }
    if (!isObject(value)) return;
    for (const [key, child] of Object.entries(value)) {
      const at = `${path}/${key}`;
      if (!namesHere) {
        if (NOT_IN_SWAGGER_2.has(key)) found.push(`${at}: ${key}`);
        if (key === 'type' && typeof child !== 'string') found.push(`${at}: a list of types`);
        if ((key === 'exclusiveMinimum' || key === 'exclusiveMaximum') && typeof child !== 'boolean') found.push(`${at}: a numeric ${key}`);
      }
      // Parameter lists and response maps hold keywords again one level down.
      walk(child, at, !namesHere && NAME_MAPS.has(key) && !Array.isArray(child));
    }
  };
  walk(doc, '#', false);
  return found;
}
