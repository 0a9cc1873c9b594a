/**
 * A schema built on its first use and kept (issue 25, the load-time goal): building a zod schema costs CPU at
 * module evaluation, which every function's start pays in both the bundled and the unbundled layout, while most
 * schemas are parsed by a few handlers only. `lazySchema(() => z.object(...))` returns a getter that builds the
 * schema once, on its first call, and then returns that same instance: the messages, the OpenAPI and Swagger
 * documents made from it and anything keyed by the schema's identity are as if it were built at load.
 */
export function lazySchema<T>(build: () => T): () => T {
  let schema: { value: T } | undefined;
  return () => (schema ??= { value: build() }).value;
}
