import { pathToFileURL } from 'node:url';

import azureFunctions, { type HttpRequest, type HttpResponseInit, type InvocationContext, type Timer } from '@azure/functions';

import type { OrchestratorRunner } from '../durable/engine.js';
import type { ActivityHandler, LocalDurable } from '../durable/runtime.js';
import { captureRegistrations } from './registrations.js';

export type AuthLevel = 'anonymous' | 'function' | 'admin';

export interface HttpFunction {
  name: string;
  route: string;
  methods: string[];
  authLevel: AuthLevel;
  /** Calls the function's own handler, with the local Durable client when the function binds one. */
  invoke(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit>;
}

export interface TimerFunction {
  name: string;
  /** NCRONTAB, six fields (seconds first), as registered. */
  schedule: string;
  /** Calls the function's own handler with the local Durable client, deciding for the instant `at`. */
  invoke(timer: Timer, context: InvocationContext, at: Date): Promise<unknown>;
}

export interface LoadedApp {
  http: HttpFunction[];
  timers: TimerFunction[];
  orchestrators: Record<string, OrchestratorRunner>;
  activities: Record<string, ActivityHandler>;
}

// On import, not only in loadApp: @azure/functions settles on its host (or test mode, registering nothing) at the
// first registration, and a test that imports a function module (through its helpers) registers one early.
captureRegistrations();

type ClientHandler = (request: HttpRequest, client: LocalDurable, context: InvocationContext) => Promise<HttpResponseInit>;
type PlainHandler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;
/** A timer handler with a Durable client, as this app writes them: the instant to decide for comes last. */
type ClientTimerHandler = (timer: Timer, client: LocalDurable, context: InvocationContext, at: Date) => Promise<unknown>;
type PlainTimerHandler = (timer: Timer, context: InvocationContext) => Promise<unknown>;

/** Where loadApp takes the app from; the repository's src/index.ts when no `main` is given. */
export interface AppSource {
  /** An entry point to load instead, as the worker does: a deployment bundle's package.json `main`. */
  main: string;
  /** What the host puts in a durableClient binding: the Durable HTTP API the bundle's own client calls. */
  clientData: () => Record<string, unknown>;
}

/**
 * The registered handler of a function with a Durable client binding, called as the worker calls it: with an
 * invocation context whose extra input of that binding holds the host's client data, from which the package's
 * wrapper makes its own DurableClient.
 */
function throughBinding(
  handler: unknown,
  binding: Record<string, unknown>,
  functionName: string,
  clientData: () => Record<string, unknown>,
): (trigger: unknown, context: InvocationContext) => Promise<unknown> {
  return async (trigger, context) => {
    const withClient = new azureFunctions.InvocationContext({
      functionName,
      invocationId: context.invocationId,
      logHandler: (_level, ...args) => {
        context.log(...args);
      },
      options: { trigger: { type: 'trigger', name: 'trigger' }, extraInputs: [binding as never], extraOutputs: [] },
    });
    withClient.extraInputs.set(binding as never, clientData());
    return (handler as (trigger: unknown, context: InvocationContext) => Promise<unknown>)(trigger, withClient);
  };
}

/** The function's own exported handler (file name = handler name = function name), for client bindings. */
async function ownHandler(name: string): Promise<unknown> {
  const file = new URL(`../../src/functions/${name}.js`, import.meta.url).href;
  const module = (await import(/* @vite-ignore */ file)) as Record<string, unknown>;
  const own = module[name];
  if (typeof own !== 'function') throw new Error(`function ${name} binds a Durable client but src/functions/${name}.ts exports no handler of that name`);
  return own;
}

/**
 * Load the app the way the Functions host does (its entry point registers every function) and collect the
 * registrations: routes, methods, auth levels, orchestrations and activities, as registered.
 *
 * A function with a Durable client binding is registered by durable-functions behind a wrapper that builds a
 * client for the host's HTTP API; here the function's own exported handler (the house style: file name =
 * handler name = function name) gets the local client instead.
 */
export async function loadApp(durable: () => LocalDurable, source?: AppSource): Promise<LoadedApp> {
  const registrations = captureRegistrations();
  if (source) await import(/* @vite-ignore */ pathToFileURL(source.main).href);
  else await import('../../src/index.js');
  const app: LoadedApp = { http: [], timers: [], orchestrators: {}, activities: {} };
  for (const { metadata, handler } of registrations) {
    const bindings = Object.values(metadata.bindings);
    const trigger = bindings.find((b) => String(b.type).endsWith('Trigger'));
    switch (trigger?.type) {
      case 'httpTrigger': {
        const binding = bindings.find((b) => b.type === 'durableClient');
        const bound = binding && source ? throughBinding(handler, binding, metadata.name, source.clientData) : undefined;
        const own = binding && !source ? await ownHandler(metadata.name) : undefined;
        app.http.push({
          name: metadata.name,
          route: typeof trigger.route === 'string' ? trigger.route : metadata.name,
          methods: (trigger.methods as string[] | undefined) ?? ['GET', 'POST'],
          authLevel: (trigger.authLevel as AuthLevel | undefined) ?? 'anonymous',
          invoke: bound
            ? async (request, context) => (await bound(request, context)) as HttpResponseInit
            : own
              ? (request, context) => (own as ClientHandler)(request, durable(), context)
              : (request, context) => (handler as PlainHandler)(request, context),
        });
        break;
      }
      case 'timerTrigger': {
        const binding = bindings.find((b) => b.type === 'durableClient');
        const bound = binding && source ? throughBinding(handler, binding, metadata.name, source.clientData) : undefined;
        const own = binding && !source ? await ownHandler(metadata.name) : undefined;
        app.timers.push({
          name: metadata.name,
          schedule: String(trigger.schedule),
          // Through the binding the handler decides for the moment it runs, as on the host (no `at` to pass).
          invoke: bound
            ? (timer, context) => bound(timer, context)
            : own
              ? (timer, context, at) => (own as ClientTimerHandler)(timer, durable(), context, at)
              : (timer, context) => (handler as PlainTimerHandler)(timer, context),
        });
        break;
      }
      case 'orchestrationTrigger':
        app.orchestrators[metadata.name] = handler as OrchestratorRunner;
        break;
      case 'activityTrigger':
        app.activities[metadata.name] = handler as ActivityHandler;
        break;
      default:
        throw new Error(`the local runtime does not run ${String(trigger?.type)} functions (${metadata.name})`);
    }
  }
  return app;
}
