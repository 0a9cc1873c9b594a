import { metrics } from '@opentelemetry/api';
import { logs } from '@opentelemetry/api-logs';
import { InMemoryLogRecordExporter, LoggerProvider, type ReadableLogRecord, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';

/**
 * The OpenTelemetry SDK registered behind the API globals with its in-memory exporters, so a unit test sees the log
 * records and metric points the app emits through the API, as an exporter would get them. The real exporters (OTLP,
 * Azure Monitor) are the telemetry setup's, tested end to end on a receiver of their own.
 */
export interface CapturedPoint {
  name: string;
  unit: string;
  attributes: Record<string, unknown>;
  /** A counter's sum, or a histogram's sum. */
  sum: number;
  /** 1 for a counter point; a histogram's count. */
  count: number;
  max: number | undefined;
}

export interface TelemetryCapture {
  /** Log records emitted since the last reset, in order. */
  logRecords(): ReadableLogRecord[];
  /** Log records of one event name (the `event.name` attribute). */
  events(name: string): Record<string, unknown>[];
  /** Metric points recorded since the last collection (delta temporality). */
  collect(): Promise<CapturedPoint[]>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export function captureTelemetry(): TelemetryCapture {
  const logExporter = new InMemoryLogRecordExporter();
  const loggerProvider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter: logExporter })] });
  logs.setGlobalLoggerProvider(loggerProvider);
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.DELTA);
  // Exported only when the test asks (forceFlush): the interval is longer than any test.
  const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  metrics.setGlobalMeterProvider(meterProvider);

  const collect = async (): Promise<CapturedPoint[]> => {
    await reader.forceFlush();
    const points = metricExporter.getMetrics().flatMap((resource) =>
      resource.scopeMetrics.flatMap((scope) =>
        scope.metrics.flatMap((metric) =>
          metric.dataPoints.map((point) => {
            const value = point.value as number | { sum?: number; count: number; max?: number };
            return typeof value === 'number'
              ? { name: metric.descriptor.name, unit: metric.descriptor.unit, attributes: { ...point.attributes }, sum: value, count: 1, max: undefined }
              : { name: metric.descriptor.name, unit: metric.descriptor.unit, attributes: { ...point.attributes }, sum: value.sum ?? 0, count: value.count, max: value.max };
          }),
        ),
      ),
    );
    metricExporter.reset();
    return points;
  };

  return {
    logRecords: () => logExporter.getFinishedLogRecords(),
    events: (name) => logExporter.getFinishedLogRecords().filter((r) => r.attributes['event.name'] === name).map((r) => ({ ...r.attributes, body: r.body })),
    collect,
    reset: async () => {
      logExporter.reset();
      await collect();
    },
    stop: async () => {
      logs.disable();
      metrics.disable();
      await loggerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}
