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

/** The run attributes of the active context: every log record made under a run span carries them. */
const RUN_ATTRIBUTES = createContextKey('ajr.run.attributes');

function tracer() {
  return trace.getTracer(INSTRUMENTATION_SCOPE);
}

/** The active context as a W3C traceparent, for a run's input; undefined when nothing is traced. */
export function currentTraceparent(): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

async function inSpan<T>(span: Span, ctx: Context, work: () => Promise<T>): Promise<T> {
  try {
    return await context.with(ctx, work);
  } catch (err) {
    span.recordException(err instanceof Error ? err : String(err));
    span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.name : 'error' });
    throw err;
  } finally {
    span.end();
  }
}

/**
 * Run `work` in a span of its own, a child of the active span (on the Functions host: the host's span of the
 * invocation, which the preInvocation hook makes active). Attributes may be added to the span as they become known.
 */
export function withSpan<T>(name: string, attributes: Attributes, work: (span: Span) => Promise<T>): Promise<T> {
  const span = tracer().startSpan(name, { kind: SpanKind.INTERNAL, attributes });
  return inSpan(span, trace.setSpan(context.active(), span), () => work(span));
}

/** Give the active span (and the log records made under it) the run's attributes. */
export function markRun<T>(span: Span, run: RunFacts, work: () => Promise<T>): Promise<T> {
  const attributes = runAttributes(run);
  span.setAttributes(attributes);
  return context.with(context.active().setValue(RUN_ATTRIBUTES, attributes), work);
}

/**
 * Run an activity of a run in a span of the run's trace: the child of the span whose traceparent the run's input
 * carries (the start request's), linked to the active span (the host's span of this invocation) so each trace
 * leads to the other. Without a traceparent (runs started before runs carried one, telemetry off at their start)
 * the span starts a trace of its own.
 */
export function inRunTrace<T>(name: string, traceparent: string | undefined, run: RunFacts, work: () => Promise<T>): Promise<T> {
  const active = trace.getSpanContext(context.active());
  const links: Link[] = active ? [{ context: active }] : [];
  const parent = traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT;
  const attributes = runAttributes(run);
  const span = tracer().startSpan(name, { kind: SpanKind.INTERNAL, attributes, links }, parent);
  return inSpan(span, trace.setSpan(parent, span).setValue(RUN_ATTRIBUTES, attributes), work);
}

/**
 * inRunTrace for work whose span is worth keeping only sometimes (an observe poll: the first, each change, the
 * verdict). `work` runs in the caller's context, with no span and no context of its own; when it is over, the span
 * is recorded from the work's start, as inRunTrace's would have been, if `keep(result)` or the work threw, and
 * `after(result)` runs in it, so its log lines are in the run's trace with the run's attributes. A poll that saw
 * nothing new thus touches no OpenTelemetry API at all: a span, the context it needs and its export cost more than
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
): Promise<T> {
  const startTime = performance.timeOrigin + performance.now();
  // After the work's await the active context is still the caller's (the host's span of this invocation).
  const record = (): { span: Span; ctx: Context } => {
    const active = trace.getSpanContext(context.active());
    const links: Link[] = active ? [{ context: active }] : [];
    const parent = traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT;
    const attributes = runAttributes(run);
    const span = tracer().startSpan(name, { kind: SpanKind.INTERNAL, attributes, links, startTime }, parent);
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
  try {
    context.with(ctx, () => {
      after(result);
    });
  } finally {
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
  if (event) {
    context.with(trace.setSpan(parent, span).setValue(RUN_ATTRIBUTES, runAttributes(run)), () => {
      emitLog(event.severity, event.body, attributes, event.name);
    });
  }
  span.end(times.end);
}

/** The attribute that names an event: the exporters to Application Insights keep attributes, not `eventName`. */
export const EVENT_NAME_ATTRIBUTE = 'event.name';

/**
 * A log record (an event, or a plain line) with the active run's attributes and trace. An event's name is both
 * the record's `eventName` and its `event.name` attribute: the Azure Monitor exporter keeps only attributes
 * (AppTraces.Properties), and the KQL of infra/queries reads `Properties['event.name']`.
 */
export function emitLog(severity: SeverityNumber, body: string, attributes: Attributes = {}, eventName?: string): void {
  const run = context.active().getValue(RUN_ATTRIBUTES) as Attributes | undefined;
  logs.getLogger(INSTRUMENTATION_SCOPE).emit({
    severityNumber: severity,
    severityText: SeverityNumber[severity],
    body,
    attributes: { ...run, ...attributes, ...(eventName ? { [EVENT_NAME_ATTRIBUTE]: eventName } : {}) },
    ...(eventName ? { eventName } : {}),
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
    log(handler: (context: { level: string; message: string; category: string }) => void): unknown;
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
 * and run each invocation in the host's trace context, so the app's spans are children of the host's.
 */
function hookIntoFunctions(functions: FunctionsHooks): void {
  try {
    functions.hook.log((hook) => {
      emitLog(SEVERITY[hook.level] ?? SeverityNumber.UNSPECIFIED, hook.message, { 'log.category': hook.category });
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
    hook.functionHandler = context.bind(propagation.extract(context.active(), carrier), hook.functionHandler);
  });
}
