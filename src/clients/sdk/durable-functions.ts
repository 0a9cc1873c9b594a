// What the app uses of durable-functions at run time, for src/clients/lazy.ts: the Durable client and the wrappers
// the package's `df.app.*` puts around an orchestration and an activity (src/clients/durable.ts registers the
// functions without loading the package). The two wrappers are exports of the package's own modules that its
// declarations leave out (their types: ./durable-functions-internals.d.ts).
export { getClient } from 'durable-functions';
export { wrapActivityHandler } from 'durable-functions/lib/src/app.js';
export { createOrchestrator } from 'durable-functions/lib/src/util/testingUtils.js';
