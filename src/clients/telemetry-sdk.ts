/**
 * The OpenTelemetry SDK for the configured destinations (src/clients/telemetry.ts imports this module only when
 * one is configured, so the SDK is not loaded otherwise). Batched export: spans and log records every few
 * seconds, metrics every OTEL_METRIC_EXPORT_INTERVAL; nothing is sent while a request waits.
 */
import type { TokenCredential } from '@azure/identity';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, StackContextManager, TracerProvider } from '@opentelemetry/sdk-trace';

import type { TelemetrySettings } from '../config.js';

type SpanExporter = ConstructorParameters<typeof BatchSpanProcessor>[0]['exporter'];
type MetricExporter = ConstructorParameters<typeof PeriodicExportingMetricReader>[0]['exporter'];
type LogExporter = ConstructorParameters<typeof BatchLogRecordProcessor>[0]['exporter'];

export interface Sdk {
  destinations: string[];
  tracerProvider: TracerProvider;
  meterProvider: MeterProvider;
  loggerProvider: LoggerProvider;
  contextManager: StackContextManager;
  propagator: W3CTraceContextPropagator;
}

export async function buildSdk(
  settings: TelemetrySettings,
  serviceName: string,
  credentialFor?: (clientId: string | undefined) => Promise<TokenCredential>,
): Promise<Sdk> {
  const exporters: { name: string; spans: SpanExporter; metrics: MetricExporter; logs: LogExporter }[] = [];
  if (settings.otlp) {
    const { endpoint } = settings.otlp;
    // The signal paths of OTLP/HTTP under OTEL_EXPORTER_OTLP_ENDPOINT, as the specification builds them. The
    // exporters add OTEL_EXPORTER_OTLP_HEADERS themselves when it is set (an endpoint's API key).
    exporters.push({
      name: 'otlp',
      spans: new OTLPTraceExporter({ url: `${endpoint}/v1/traces` }),
      metrics: new OTLPMetricExporter({ url: `${endpoint}/v1/metrics` }),
      logs: new OTLPLogExporter({ url: `${endpoint}/v1/logs` }),
    });
  }
  if (settings.azureMonitor) {
    const { connectionString, entra } = settings.azureMonitor;
    const { AzureMonitorTraceExporter, AzureMonitorMetricExporter, AzureMonitorLogExporter } = await import('@azure/monitor-opentelemetry-exporter');
    // Entra ID: a token of the app's identity with every batch; the resource refuses the instrumentation key.
    const credential = entra && credentialFor ? await credentialFor(entra.clientId) : undefined;
    // The exporter's own "customer SDK stats" (items sent, dropped and retried, every 15 minutes) go to the same
    // resource through an exporter it makes without the credential (its src/export/statsbeat/customerSDKStats.ts),
    // i.e. with the instrumentation key alone, which the resource refuses (401) every time. Its environment
    // variable, read when an exporter is made, is the only switch it has.
    if (credential) process.env.APPLICATIONINSIGHTS_SDKSTATS_DISABLED = 'true';
    const options = { connectionString, ...(credential ? { credential } : {}) };
    exporters.push({
      name: 'azure-monitor',
      spans: new AzureMonitorTraceExporter(options),
      metrics: new AzureMonitorMetricExporter(options),
      logs: new AzureMonitorLogExporter(options),
    });
  }
  const resource = resourceFromAttributes({ 'service.name': serviceName });
  return {
    destinations: exporters.map((e) => e.name),
    tracerProvider: new TracerProvider({ resource, spanProcessors: exporters.map((e) => new BatchSpanProcessor({ exporter: e.spans })) }),
    meterProvider: new MeterProvider({
      resource,
      readers: exporters.map((e) => new PeriodicExportingMetricReader({ exporter: e.metrics, exportIntervalMillis: settings.metricExportIntervalMs })),
    }),
    loggerProvider: new LoggerProvider({ resource, processors: exporters.map((e) => new BatchLogRecordProcessor({ exporter: e.logs })) }),
    // Synchronous code only (the SDK's own doc comment says so): no AsyncLocalStorage, so no promise hook on every
    // promise of the process. The app carries a run's and an invocation's context across its awaits itself
    // (src/clients/telemetry.ts, "Where a span's or log record's context comes from").
    contextManager: new StackContextManager().enable(),
    propagator: new W3CTraceContextPropagator(),
  };
}
