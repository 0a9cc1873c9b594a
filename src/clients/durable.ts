/**
 * Durable Functions registrations that do not load durable-functions at start. The package's entry point
 * (`df.app.*`) requires, at its top, its Durable client (lib/src/app.js requires ./client.js, which requires
 * durableClient/getClient.js): axios, validator, lodash, mime-db, and through axios Node's own fetch (undici),
 * http2 and zlib. At start that was the largest part of what a new instance evaluated before its first request
 * (docs/decisions.md, "Issue 25, the load-time goal: what a new instance runs at start"), and no registration needs
 * any of it: a registration is metadata (a trigger, a durableClient input binding) and a handler.
 *
 * So the functions register here, with the metadata durable-functions registers (its lib/src/trigger.js,
 * input.js, app.js and client.js, 3.5.0), and handlers that load the package through `load('durable-functions')`
 * (src/clients/lazy.ts) on their first call, then do what the package's own wrappers do:
 * - an orchestration runs through the package's `createOrchestrator` (what `df.app.orchestration` registers);
 * - an activity through its `wrapActivityHandler` (what `df.app.activity` registers);
 * - a function with a Durable client gets `getClient(context)` (what `df.app.client.*` registers).
 * The first call in a process pays the package's load, once; every later one finds it loaded.
 */
import { app, type FunctionInput, type HttpHandler, type HttpResponseInit, input, type InvocationContext, type Timer, trigger } from '@azure/functions';
import type {
  ActivityOptions,
  DurableClient,
  HttpDurableClientHandler,
  HttpDurableClientOptions,
  OrchestrationHandler,
  RetryOptions,
  TimerDurableClientHandler,
  TimerDurableClientOptions,
} from 'durable-functions';

import { load, type Loaded } from './lazy.js';

/** The package's orchestrator listener: what the host invokes for an orchestration trigger. */
type Orchestrator = ReturnType<Loaded<'durable-functions'>['createOrchestrator']>;

/** The binding `df.input.durableClient()` makes (durable-functions lib/src/input.js). */
export function durableClientInput(): FunctionInput {
  return input.generic({ type: 'durableClient' });
}

/** durable-functions lib/src/durableClient/getClient.js isDurableClientInput: a binding of that type. */
function isDurableClientInput(binding: FunctionInput): boolean {
  return binding.type === 'durableClient';
}

/** The client for the host's Durable HTTP API from the function's durableClient binding, loading the package on first use. */
export async function durableClientOf(context: InvocationContext): Promise<DurableClient> {
  return (await load('durable-functions')).getClient(context);
}

/** Memoized per registration: the package's wrapper around a handler, made on the first call. */
function onFirstCall<H extends (...args: never[]) => unknown>(make: () => Promise<H>): () => Promise<H> {
  let made: Promise<H> | undefined;
  return () => {
    made ??= make().catch((err: unknown) => {
      // A failed load is reported again by the next call rather than kept.
      made = undefined;
      throw err;
    });
    return made;
  };
}

/** `df.app.orchestration(name, handler)`: an orchestrationTrigger whose handler is the package's orchestrator listener. */
export function orchestration(name: string, handler: OrchestrationHandler): void {
  const listener = onFirstCall(async () => (await load('durable-functions')).createOrchestrator(handler));
  app.generic(name, {
    trigger: trigger.generic({ type: 'orchestrationTrigger' }),
    handler: async (triggerInput: Parameters<Orchestrator>[0], context: InvocationContext) => (await listener())(triggerInput, context),
  });
}

/** `df.app.activity(name, options)`: an activityTrigger whose handler goes through the package's activity wrapper. */
export function activity(name: string, options: ActivityOptions): void {
  const wrapped = onFirstCall(async () => (await load('durable-functions')).wrapActivityHandler(options.handler));
  app.generic(name, {
    trigger: trigger.generic({ type: 'activityTrigger' }),
    ...options,
    handler: async (triggerInput: unknown, context: InvocationContext): Promise<unknown> => (await wrapped())(triggerInput, context) as unknown,
  });
}

/** durable-functions lib/src/client.js addClientInput: the durableClient binding, unless the options have one. */
function withClientInput(extraInputs: FunctionInput[] | undefined): FunctionInput[] {
  const inputs = extraInputs ?? [];
  return inputs.some(isDurableClientInput) ? inputs : [...inputs, durableClientInput()];
}

/** `df.app.client.http` and `df.app.client.timer`: the function gets the Durable client as its second argument. */
export const client = {
  http(name: string, options: HttpDurableClientOptions): void {
    const handler: HttpDurableClientHandler = options.handler;
    const http: HttpHandler = async (request, context): Promise<HttpResponseInit> => handler(request, await durableClientOf(context), context);
    app.http(name, { ...options, extraInputs: withClientInput(options.extraInputs), handler: http });
  },
  timer(name: string, options: TimerDurableClientOptions): void {
    const handler: TimerDurableClientHandler = options.handler;
    app.timer(name, {
      ...options,
      extraInputs: withClientInput(options.extraInputs),
      handler: async (timer: Timer, context: InvocationContext) => handler(timer, await durableClientOf(context), context),
    });
  },
};

/**
 * `new df.RetryOptions(firstRetryMs, maxAttempts)` with the given backoff, for orchestrators, without loading the
 * package: its orchestrator takes a retry's options by their properties (lib/src/util/Utils.js
 * `throwIfNotInstanceOf` checks the value has every own property of `new RetryOptions(1, 1)`), and the host reads
 * them from the action's JSON, so an object with the class's properties, in the order its constructor sets them,
 * is the same action. The constructor's checks are kept.
 */
export function durableRetryOptions(firstRetryIntervalInMilliseconds: number, maxNumberOfAttempts: number, more: Partial<Pick<RetryOptions, 'backoffCoefficient' | 'maxRetryIntervalInMilliseconds'>> = {}): RetryOptions {
  if (!Number.isFinite(firstRetryIntervalInMilliseconds) || !Number.isFinite(maxNumberOfAttempts)) throw new TypeError('retry options: numbers expected');
  if (firstRetryIntervalInMilliseconds <= 0) throw new RangeError('firstRetryIntervalInMilliseconds value must be greater than 0.');
  return { firstRetryIntervalInMilliseconds, maxNumberOfAttempts, ...more } as RetryOptions;
}
