/**
 * Heavy clients are loaded lazily through this module. A new Functions instance evaluates every module the app
 * imports statically before it registers a function and answers anything, so the SDKs only some requests need
 * (client-node and its undici, the Azure SDK's identity, ARM and Blob clients) are not imported statically: a
 * client module imports only their types (`import type`) and gets their values from `load(...)` in the first
 * call that needs them. The first such call pays the load, once per process; every later one finds it done.
 * In the deployment bundle each `import()` below becomes a file of its own (esbuild's code splitting), read
 * only then.
 *
 * Each package is imported through a file of src/clients/sdk/ that re-exports, by name, the values the app uses
 * of it: a namespace (what `import()` of the package itself gives) keeps the whole package in the bundle,
 * client-node's hundreds of API classes included (4.2 MB instead of 1.9).
 *
 * A new heavy dependency (an Event Grid or OpenTelemetry exporter client, an HTTP sender...) gets a file in
 * src/clients/sdk/ and a line in LOADERS (and in eslint.config.js's heavyPackages), and is used through `load`;
 * eslint refuses a value import of a listed package anywhere else in src/, and the package test (test/package)
 * refuses a bundle whose files read at start hold code of one of them or outgrow their budget (docs/deploy.md,
 * "Cold start").
 */
const LOADERS = {
  '@kubernetes/client-node': () => import('./sdk/client-node.js'),
  '@azure/identity': () => import('./sdk/identity.js'),
  '@azure/arm-containerservice': () => import('./sdk/arm-containerservice.js'),
  '@azure/storage-blob': () => import('./sdk/storage-blob.js'),
  '@azure/eventgrid': () => import('./sdk/eventgrid.js'),
  'durable-functions': () => import('./sdk/durable-functions.js'),
} as const;

export type HeavyPackage = keyof typeof LOADERS;
export type Loaded<P extends HeavyPackage> = Awaited<ReturnType<(typeof LOADERS)[P]>>;

/** The packages only `load` may bring in (the package test and the eslint rule check the same list). */
export const HEAVY_PACKAGES = Object.keys(LOADERS) as readonly HeavyPackage[];

const loading = new Map<HeavyPackage, Promise<unknown>>();
const done = new Map<HeavyPackage, unknown>();

/**
 * The package's module, imported on the first call (N callers at once share that one import). A failed import
 * (a broken deployment) is not kept, so the next call tries again and reports it again.
 */
export function load<P extends HeavyPackage>(name: P): Promise<Loaded<P>> {
  let pending = loading.get(name) as Promise<Loaded<P>> | undefined;
  if (!pending) {
    pending = (LOADERS[name]() as Promise<Loaded<P>>).then(
      (module) => {
        done.set(name, module);
        return module;
      },
      (err: unknown) => {
        loading.delete(name);
        throw err;
      },
    );
    loading.set(name, pending);
  }
  return pending;
}

/**
 * The package's module if `load` has brought it in, else undefined: for telling the package's own errors apart
 * (`instanceof`) without loading it. Until it is loaded nothing can have thrown one of them.
 */
export function loadedAlready<P extends HeavyPackage>(name: P): Loaded<P> | undefined {
  return done.get(name) as Loaded<P> | undefined;
}
