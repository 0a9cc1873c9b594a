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
/** A timer handler without a client, as this app writes them: the instant to decide for comes last. */
type PlainTimerHandler = (timer: Timer, context: InvocationContext, at: Date) => Promise<unknown>;

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

/**
 * The function's own exported handler (file name = handler name = function name): for client bindings, and for
 * timers, whose handlers take the instant to decide for as their last argument.
 */
async function ownHandler(name: string, why: string): Promise<unknown> {
  const file = new URL(`../../src/functions/${name}.js`, import.meta.url).href;
  const module = (await import(/* @vite-ignore */ file)) as Record<string, unknown>;
  const own = module[name];
  if (typeof own !== 'function') throw new Error(`function ${name} ${why} but src/functions/${name}.ts exports no handler of that name`);
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
        const own = binding && !source ? await ownHandler(metadata.name, 'binds a Durable client') : undefined;
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
        if (source) {
          // A bundle's handlers are reached only as registered, which decide for the moment they run, as on the
          // host (no instant to pass).
          const bound = binding ? throughBinding(handler, binding, metadata.name, source.clientData) : undefined;
          app.timers.push({
            name: metadata.name,
            schedule: String(trigger.schedule),
            invoke: bound ? (timer, context) => bound(timer, context) : (timer, context) => (handler as (t: Timer, c: InvocationContext) => Promise<unknown>)(timer, context),
          });
          break;
        }
        // The registered handler drops the instant (the host gives none): the exported one takes it.
        const own = await ownHandler(metadata.name, 'is a timer');
        app.timers.push({
          name: metadata.name,
          schedule: String(trigger.schedule),
          invoke: binding
            ? (timer, context, at) => (own as ClientTimerHandler)(timer, durable(), context, at)
            : (timer, context, at) => (own as PlainTimerHandler)(timer, context, at),
        });
        break;
      }
      case 'orchestrationTrigger':
        app.orchestrators[metadata.name] = handler as OrchestratorRunner;
        break;
      case 'activityTrigger': {
        // An activity that starts orchestrations (notifyRun) binds a Durable client, as HTTP functions do.
        const binding = bindings.find((b) => b.type === 'durableClient');
        if (!binding) {
          app.activities[metadata.name] = handler as ActivityHandler;
          break;
        }
        if (source) {
          const bound = throughBinding(handler, binding, metadata.name, source.clientData);
          app.activities[metadata.name] = (input, context) => bound(input, context);
          break;
        }
        const own = (await ownHandler(metadata.name, 'binds a Durable client')) as (input: unknown, client: LocalDurable, context: InvocationContext) => Promise<unknown>;
        app.activities[metadata.name] = (input, context) => own(input, durable(), context);
        break;
      }
      default:
        throw new Error(`the local runtime does not run ${String(trigger?.type)} functions (${metadata.name})`);
    }
  }
  return app;
}
