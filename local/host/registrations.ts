import Module from 'node:module';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface Registration {
  metadata: { name: string; bindings: Record<string, Record<string, unknown>> };
  handler: unknown;
}

const corePath = fileURLToPath(new URL('./functions-core.cjs', import.meta.url));
type Resolve = (request: string, ...rest: unknown[]) => string;
const moduleInternals = Module as unknown as { _resolveFilename: Resolve };

/**
 * Make `require('@azure/functions-core')` inside @azure/functions find our stand-in. Must run before the
 * first registration, since the library looks the module up once.
 */
let installed = false;

export function captureRegistrations(): Registration[] {
  const core = createRequire(import.meta.url)(corePath) as { registrations: Registration[] };
  if (installed) return core.registrations;
  installed = true;
  const original = moduleInternals._resolveFilename;
  moduleInternals._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]) {
    return request === '@azure/functions-core' ? corePath : original.call(this, request, ...rest);
  };
  return core.registrations;
}

/**
 * Run the app's log hooks (app.hook.log) for one line of an invocation's `context.log`, as the Functions worker
 * does for each log, synchronously inside the call and with the invocation's context object (the one its handler
 * got: @azure/functions LogHookContext.invocationContext): the app's telemetry exports its log lines from there.
 */
export function runLogHooks(level: string, args: unknown[], invocationContext?: unknown): void {
  const core = createRequire(import.meta.url)(corePath) as { hooks: Record<string, ((context: unknown) => void)[] | undefined> };
  const hooks = core.hooks.log;
  if (!hooks || hooks.length === 0) return;
  const message = args.map(String).join(' ');
  for (const hook of hooks) hook({ level, message, category: 'user', hookData: {}, invocationContext });
}
