// The entry point the Functions worker loads (package.json `main`). It checks the Node.js release before
// anything else is evaluated: the app's dependencies fail on releases below the floor with errors that name
// neither the app nor the release (a TypeError deep inside undici), and the worker would only report those.
// So the app itself is imported afterwards, dynamically; in the deployment bundle it is a file of its own.
import { nodeFloorProblem } from './core/node-floor.js';

const problem = nodeFloorProblem(process.versions.node);
if (problem) throw new Error(problem);

// Stack traces of the bundle point at the TypeScript sources. Enabled here rather than with the worker argument
// (languageWorkers__node__arguments=--enable-source-maps), which would keep the platform from using its
// pre-started workers: only files loaded from now on have their maps read, which is all of the app.
process.setSourceMapsEnabled(true);

await import('./index.js');
