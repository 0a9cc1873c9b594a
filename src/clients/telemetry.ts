/**
 * OpenTelemetry: the SDK behind the API globals (`@opentelemetry/api`, `@opentelemetry/api-logs`) that the app's
 * code emits through, and the helpers that code uses (run spans, the trace context a run carries across the
 * Durable boundary, the metric instruments). docs/operations.md says what is emitted, docs/decisions.md why so.
 *
 * Cold start: only `@opentelemetry/api` is loaded with the app. The SDK and an exporter are imported when a
 * destination is configured, each exporter only when its destination is (the Azure Monitor exporter, with the
 * Azure SDK pipeline it brings, only with APPLICATIONINSIGHTS_CONNECTION_STRING). With none, nothing is set up and
 * every span, instrument and log record is the API's no-op.
 */
import type { TokenCredential } from '@azure/identity';
import {
  type Attributes,
  type Context,
  context,
  type Counter,
  createContextKey,
  type Histogram,
  type Link,
  metrics,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { logs, SeverityNumber } from '@opentelemetry/api-logs';

import type { TelemetrySettings } from '../config.js';
import { ATTRIBUTES, INSTRUMENTATION_SCOPE, METRICS } from '../core/telemetry-names.js';

/**
 * The service name (OpenTelemetry's service.name, Application Insights' cloud role) off Azure. On Azure it is the
 * function app's name, as the host's own telemetry's is (TelemetrySettings.siteName).
 */
export const SERVICE_NAME = 'aks-job-runner';

// ---------------------------------------------------------------------------------------------------------------
// What the app's code uses.

/** What a run's spans, metrics and log records say about it. */
export interface RunFacts {
  runId: string;
  cluster: string;
  namespace: string;
  source: { kind: string; name: string };
  /** http, schedule or rerun; runs started before runs recorded it were all http. */
  trigger?: string | undefined;
}

/** The run's attributes, under the names of core/telemetry-names.ts. */
export function runAttributes(run: RunFacts): Attributes {
  return {
    [ATTRIBUTES.runId]: run.runId,
    [ATTRIBUTES.cluster]: run.cluster,
    [ATTRIBUTES.namespace]: run.namespace,
    [ATTRIBUTES.sourceKind]: run.source.kind,
    [ATTRIBUTES.sourceName]: run.source.name,
    [ATTRIBUTES.trigger]: run.trigger ?? 'http',
  };
}

/** The run attributes of a context: every log record made in a run's span carries them. */
const RUN_ATTRIBUTES = createContextKey('ajr.run.attributes');

function tracer() {
  return trace.getTracer(INSTRUMENTATION_SCOPE);
}

// Where a span's or log record's context comes from. No context manager follows the app's awaits: the one
// registered (telemetry-sdk.ts, the SDK's StackContextManager) keeps a context only for the synchronous code inside
// `context.with`, so Node's AsyncLocalStorage and its promise hooks, which cost every promise of the process, are
// never turned on (docs/decisions.md, "Issue 24, check 'what telemetry costs': no async context manager"). What an
// async context manager carried, the code that knows it carries instead:
// - each Functions invocation's context (the host's trace, then the span of the helper whose work runs) is kept per
//   invocation (its InvocationContext) in `invocationContexts` below. One run per invocation: a start route starts
//   one run, an activity works for one run;
// - the helpers pass their parent explicitly (tracer.startSpan's third argument, logger.emit's `context`), and
//   the log hook reads the context of the invocation that wrote the line (LogHookContext.invocationContext: "the
//   context object passed to the function handler", @azure/functions types/hooks/logHooks.d.ts).
// Code that passes no invocation gets `context.active()`: inside `context.with` the context given, elsewhere
// ROOT_CONTEXT (the API's NoopContextManager does the same when no manager is registered: `active()` answers
// ROOT_CONTEXT, `with` just calls the function; opentelemetry-js api/src/context/NoopContextManager.ts).

/** A Functions invocation, by its InvocationContext (the object the handler gets): what carries its telemetry. */
export type Invocation = object;

/** The context each invocation is in now, while it runs (entries go with their InvocationContext). */
const invocationContexts = new WeakMap<Invocation, Context>();

/** The context of `invocation`, else the active one (in `context.with`, else ROOT_CONTEXT). */
function contextOf(invocation: Invocation | undefined): Context {
  return (invocation ? invocationContexts.get(invocation) : undefined) ?? context.active();
}

/** Make `ctx` the invocation's context; the function given back puts the one before back. */
function enter(invocation: Invocation | undefined, ctx: Context): () => void {
  if (!invocation) return () => undefined;
  const previous = invocationContexts.get(invocation);
  invocationContexts.set(invocation, ctx);
  return () => {
    if (previous) invocationContexts.set(invocation, previous);
    else invocationContexts.delete(invocation);
  };
}

/** Run `work` with `ctx` as the invocation's context (and as the active one for its synchronous start). */
async function runIn<T>(invocation: Invocation | undefined, ctx: Context, work: () => Promise<T>): Promise<T> {
  const leave = enter(invocation, ctx);
  try {
    return await context.with(ctx, work);
  } finally {
    leave();
  }
}

/**
 * Call `fn` with the invocation's context active for its synchronous part, for a library that reads
 * `context.active()` when called: durable-functions' DurableClient.startNew sends it to the host as its request's
 * traceparent header (DurableClient.getDistributedTracingHeaders, read before the request's first await), so the
 * host's Durable telemetry of the run joins the run's trace.
 */
export function withInvocationContext<T>(invocation: Invocation | undefined, fn: () => T): T {
  return context.with(contextOf(invocation), fn);
}

/** The invocation's context (or the active one) as a W3C traceparent, for a run's input; undefined when nothing is traced. */
export function currentTraceparent(invocation?: Invocation): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(contextOf(invocation), carrier);
  return carrier.traceparent;
}

async function inSpan<T>(span: Span, invocation: Invocation | undefined, ctx: Context, work: () => Promise<T>): Promise<T> {
  try {
    return await runIn(invocation, ctx, work);
  } catch (err) {
    span.recordException(err instanceof Error ? err : String(err));
    span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.name : 'error' });
    throw err;
  } finally {
    span.end();
  }
}

/**
 * Run `work` in a span of its own, a child of the invocation's context (on the Functions host: the host's span of
 * the invocation, which the preInvocation hook records). Attributes may be added to the span as they become known.
 */
export function withSpan<T>(name: string, attributes: Attributes, work: (span: Span) => Promise<T>, invocation?: Invocation): Promise<T> {
  const parent = contextOf(invocation);
  const span = tracer().startSpan(name, { kind: SpanKind.INTERNAL, attributes }, parent);
  return inSpan(span, invocation, trace.setSpan(parent, span), () => work(span));
}

/** Give the invocation's span (and the log records made in it while `work` runs) the run's attributes. */
export function markRun<T>(span: Span, run: RunFacts, work: () => Promise<T>, invocation?: Invocation): Promise<T> {
  const attributes = runAttributes(run);
  span.setAttributes(attributes);
  return runIn(invocation, contextOf(invocation).setValue(RUN_ATTRIBUTES, attributes), work);
}

/** The parent a run's span has (the span whose traceparent the run's input carries) and its link to the invocation's span. */
function runParent(traceparent: string | undefined, invocation: Invocation | undefined): { parent: Context; links: Link[] } {
  const active = trace.getSpanContext(contextOf(invocation));
  const links: Link[] = active ? [{ context: active }] : [];
  const parent = traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT;
  return { parent, links };
}

/**
 * Run an activity of a run in a span of the run's trace: the child of the span whose traceparent the run's input
 * carries (the start request's), linked to the invocation's span (the host's span of this invocation) so each trace
 * leads to the other. Without a traceparent (runs started before runs carried one, telemetry off at their start)
 * the span starts a trace of its own. The invocation's log lines while `work` runs are in the span, with the run.
 */
export function inRunTrace<T>(name: string, traceparent: string | undefined, run: RunFacts, work: () => Promise<T>, invocation?: Invocation): Promise<T> {
  const { parent, links } = runParent(traceparent, invocation);
  const attributes = runAttributes(run);
  const span = tracer().startSpan(name, { kind: SpanKind.INTERNAL, attributes, links }, parent);
  return inSpan(span, invocation, trace.setSpan(parent, span).setValue(RUN_ATTRIBUTES, attributes), work);
}

/**
 * inRunTrace for work whose span is worth keeping only sometimes (an observe poll: the first, each change, the
 * verdict). `work` runs in the caller's context, with no span and no context of its own; when it is over, the span
 * is recorded from the work's start, as inRunTrace's would have been, if `keep(result)` or the work threw, and
 * `after(result)` runs in it, so its log lines are in the run's trace with the run's attributes. A poll that saw
 * nothing new thus makes no span and no context: a span, the context it needs and its export cost more than
 * a batched poll itself (docs/operations.md, What it costs). So `work` must make no log record of its own (a line
 * made there would carry the host's trace and not the run): what it has to say, `after` says.
 */
export async function inRunTraceWhen<T>(
  name: string,
  traceparent: string | undefined,
  run: RunFacts,
  work: () => Promise<T>,
  keep: (result: T) => boolean,
  after: (result: T) => void = () => undefined,
  invocation?: Invocation,
): Promise<T> {
  const startTime = performance.timeOrigin + performance.now();
  // The link to the invocation's span, read now: after the work's awaits only an invocation's record tells it.
  const link = trace.getSpanContext(contextOf(invocation));
  const record = (): { span: Span; ctx: Context } => {
    const parent = traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT;
    const attributes = runAttributes(run);
    const span = tracer().startSpan(name, { kind: SpanKind.INTERNAL, attributes, links: link ? [{ context: link }] : [], startTime }, parent);
    return { span, ctx: trace.setSpan(parent, span).setValue(RUN_ATTRIBUTES, attributes) };
  };
  let result: T;
  try {
    result = await work();
  } catch (err) {
    const { span } = record();
    span.recordException(err instanceof Error ? err : String(err));
    span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.name : 'error' });
    span.end(performance.timeOrigin + performance.now());
    throw err;
  }
  if (!keep(result)) return result;
  const { span, ctx } = record();
  // `after` is synchronous: the invocation's context is the span's while it runs, and back as it was after.
  const leave = enter(invocation, ctx);
  try {
    context.with(ctx, () => {
      after(result);
    });
  } finally {
    leave();
    span.end(performance.timeOrigin + performance.now());
  }
  return result;
}

/**
 * A span already over, in the run's trace: the orchestration's, recorded once at the verdict (an orchestrator
 * cannot keep a span open across its replays), from when the run was started to the verdict.
 */
export function recordRunSpan(
  name: string,
  traceparent: string | undefined,
  run: RunFacts,
  times: { start: Date; end: Date },
  attributes: Attributes,
  outcome: { failed: boolean; event?: { name: string; body: string; severity: SeverityNumber } },
): void {
  const parent = traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT;
  const all = { ...runAttributes(run), ...attributes };
  const span = tracer().startSpan(name, { kind: SpanKind.INTERNAL, startTime: times.start, attributes: all }, parent);
  if (outcome.failed) span.setStatus({ code: SpanStatusCode.ERROR });
  const { event } = outcome;
  if (event) emitLogIn(trace.setSpan(parent, span).setValue(RUN_ATTRIBUTES, runAttributes(run)), event.severity, event.body, attributes, event.name);
  span.end(times.end);
}

/** The attribute that names an event: the exporters to Application Insights keep attributes, not `eventName`. */
export const EVENT_NAME_ATTRIBUTE = 'event.name';

/**
 * A log record (an event, or a plain line) in the invocation's context (else the active one): its trace, and the
 * run's attributes when made in a run's span. An event's name is both the record's `eventName` and its
 * `event.name` attribute: the Azure Monitor exporter keeps only attributes (AppTraces.Properties), and the KQL of
 * infra/queries reads `Properties['event.name']`.
 */
export function emitLog(severity: SeverityNumber, body: string, attributes: Attributes = {}, eventName?: string, invocation?: Invocation): void {
  emitLogIn(contextOf(invocation), severity, body, attributes, eventName);
}

function emitLogIn(ctx: Context, severity: SeverityNumber, body: string, attributes: Attributes, eventName: string | undefined): void {
  const run = ctx.getValue(RUN_ATTRIBUTES) as Attributes | undefined;
  logs.getLogger(INSTRUMENTATION_SCOPE).emit({
    severityNumber: severity,
    severityText: SeverityNumber[severity],
    body,
    attributes: { ...run, ...attributes, ...(eventName ? { [EVENT_NAME_ATTRIBUTE]: eventName } : {}) },
    ...(eventName ? { eventName } : {}),
    // The SDK takes the record's trace from this context (sdk-logs Logger: `logRecord.context || context.active()`).
    context: ctx,
  });
}

/** The app's metric instruments (core/telemetry-names.ts METRICS; units as UCUM). */
export interface Instruments {
  runsStarted: Counter;
  runsFinished: Counter;
  runDuration: Histogram;
  runTimeToRunning: Histogram;
  kubeRequests: Counter;
  archiveBytes: Counter;
  archiveFailures: Counter;
}

let made: { provider: unknown; instruments: Instruments } | undefined;

/** The instruments of the current global meter provider (the API's meters are no-ops until one is set). */
export function instruments(): Instruments {
  const provider = metrics.getMeterProvider();
  if (made?.provider !== provider) {
    const meter = provider.getMeter(INSTRUMENTATION_SCOPE);
    // Seconds for durations from a second to days; the SDK's default buckets are for milliseconds.
    const runBuckets = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400];
    made = {
      provider,
      instruments: {
        runsStarted: meter.createCounter(METRICS.runsStarted, { unit: '{run}', description: 'Runs started' }),
        runsFinished: meter.createCounter(METRICS.runsFinished, { unit: '{run}', description: 'Runs that got their verdict' }),
        runDuration: meter.createHistogram(METRICS.runDuration, { unit: 's', description: "From the run's start request to its verdict", advice: { explicitBucketBoundaries: runBuckets } }),
        runTimeToRunning: meter.createHistogram(METRICS.runTimeToRunning, { unit: 's', description: 'From the start request to the run first seen Running', advice: { explicitBucketBoundaries: runBuckets } }),
        kubeRequests: meter.createCounter(METRICS.kubeRequests, { unit: '{request}', description: 'Kubernetes API requests answered' }),
        archiveBytes: meter.createCounter(METRICS.archiveBytes, { unit: 'By', description: 'Bytes written to the logs archive' }),
        archiveFailures: meter.createCounter(METRICS.archiveFailures, { unit: '{archive}', description: 'Archives that failed or were left partial' }),
      },
    };
  }
  return made.instruments;
}

/** Metric attributes of a run: the run's own minus its id (one series per run would be unbounded). */
export function runMetricAttributes(run: RunFacts, more: Record<string, string | number | boolean | undefined> = {}): Attributes {
  const all = { ...runAttributes(run), ...more };
  return Object.fromEntries(Object.entries(all).filter(([key, value]) => key !== ATTRIBUTES.runId && value !== undefined));
}

// ---------------------------------------------------------------------------------------------------------------
// The SDK.

/** What started telemetry hands back: flush (tests, the bench, before a worker stops) and shut down. */
export interface Telemetry {
  readonly destinations: readonly string[];
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface TelemetryDeps {
  /** The identity that sends to Application Insights with Entra ID (the app's managed identity). */
  credential?: (clientId: string | undefined) => Promise<TokenCredential>;
  /** The Functions library, to tell the host the worker exports its own logs and to take its trace context. */
  functions?: FunctionsHooks;
}

/** The parts of @azure/functions' `app` telemetry needs (app.setup, app.hook.log, app.hook.preInvocation). */
export interface FunctionsHooks {
  setup(options: { capabilities: Record<string, boolean> }): void;
  hook: {
    log(handler: (context: { level: string; message: string; category: string; invocationContext?: unknown }) => void): unknown;
    preInvocation(handler: (context: { invocationContext: { traceContext?: { traceParent?: string | null | undefined; traceState?: string | null | undefined } | undefined }; functionHandler: (...args: never[]) => unknown }) => void): unknown;
  };
}

let current: Telemetry | undefined;

const SEVERITY: Readonly<Record<string, SeverityNumber>> = {
  trace: SeverityNumber.TRACE,
  debug: SeverityNumber.DEBUG,
  information: SeverityNumber.INFO,
  warning: SeverityNumber.WARN,
  error: SeverityNumber.ERROR,
  critical: SeverityNumber.FATAL,
};

/**
 * Set up the SDK for the configured destinations and make it the API's globals; null (and nothing set up) when
 * none is configured. Once per process: a second call answers the first one's telemetry.
 */
export async function startTelemetry(settings: TelemetrySettings, deps: TelemetryDeps = {}): Promise<Telemetry | null> {
  if (current) return current;
  if (!settings.otlp && !settings.azureMonitor) return null;
  // One import for the SDK and the OTLP exporters (one file of the deployment bundle); the Azure Monitor
  // exporter is imported within it only when Application Insights is configured.
  const { buildSdk } = await import('./telemetry-sdk.js');
  const sdk = await buildSdk(settings, settings.siteName ?? SERVICE_NAME, deps.credential);
  const { tracerProvider, meterProvider, loggerProvider } = sdk;
  context.setGlobalContextManager(sdk.contextManager);
  propagation.setGlobalPropagator(sdk.propagator);
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  logs.setGlobalLoggerProvider(loggerProvider);

  if (deps.functions) hookIntoFunctions(deps.functions);

  const telemetry: Telemetry = {
    destinations: sdk.destinations,
    flush: async () => {
      await Promise.all([tracerProvider.forceFlush(), meterProvider.forceFlush(), loggerProvider.forceFlush()]);
    },
    shutdown: async () => {
      await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown(), loggerProvider.shutdown()]);
      trace.disable();
      metrics.disable();
      logs.disable();
      propagation.disable();
      context.disable();
      current = undefined;
    },
  };
  current = telemetry;
  return telemetry;
}

/** The process's telemetry, when started. */
export function telemetryStarted(): Telemetry | undefined {
  return current;
}

/**
 * What `@azure/functions-opentelemetry-instrumentation` does (its src/instrumentation.ts), done directly rather
 * than by patching the module at load: tell the host the worker exports its own logs (capability
 * WorkerOpenTelemetryEnabled, so the host does not send them twice), export every `context.log` as a log record,
 * and run each invocation in the host's trace context, so the app's spans are children of the host's (kept for the
 * invocation here, where the instrumentation binds the handler with an async context manager).
 */
function hookIntoFunctions(functions: FunctionsHooks): void {
  try {
    functions.hook.log((hook) => {
      // The line's invocation (undefined for a line outside one): its context is the host's, or the span a helper
      // runs its work in. The worker runs the log hooks inside context.log, synchronously (azure-functions-nodejs-worker
      // src/WorkerContext.ts, log()), so a line written inside `context.with` has that context active too.
      const invocation = typeof hook.invocationContext === 'object' && hook.invocationContext !== null ? hook.invocationContext : undefined;
      emitLog(SEVERITY[hook.level] ?? SeverityNumber.UNSPECIFIED, hook.message, { 'log.category': hook.category }, undefined, invocation);
    });
    // Only once the app sends the logs itself may the host stop sending them.
    functions.setup({ capabilities: { WorkerOpenTelemetryEnabled: true } });
  } catch {
    // A host older than 4.34 has no log hooks (the library says so by throwing): it keeps sending the logs.
  }
  functions.hook.preInvocation((hook) => {
    const traceContext = hook.invocationContext.traceContext;
    if (!traceContext?.traceParent) return;
    const carrier: Record<string, string> = { traceparent: traceContext.traceParent };
    if (traceContext.traceState) carrier.tracestate = traceContext.traceState;
    const host = propagation.extract(ROOT_CONTEXT, carrier);
    // Kept for the invocation (the worker's preInvocation context holds the very object the handler gets:
    // azure-functions-nodejs-worker src/eventHandlers/InvocationHandler.ts), and active for its synchronous start.
    invocationContexts.set(hook.invocationContext, host);
    hook.functionHandler = context.bind(host, hook.functionHandler);
  });
}
