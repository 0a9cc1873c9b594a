import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An OTLP/HTTP receiver on loopback: what an OpenTelemetry Collector's otlp receiver takes on :4318, decoded
 * from the wire, so tests check what the app's real exporters send, not what an in-memory exporter holds.
 * The app's exporters (@opentelemetry/exporter-*-otlp-http) post OTLP's JSON encoding (`Content-Type:
 * application/json`; ids as hex, int64 as strings or numbers), which is what this decodes; a protobuf body is
 * refused with 415, so a change of encoding fails a test instead of passing silently.
 * Encoding: https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding
 */

type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number; arrayValue?: { values?: AnyValue[] }; kvlistValue?: { values?: KeyValue[] } };
interface KeyValue {
  key: string;
  value?: AnyValue;
}
type Attrs = Record<string, string | number | boolean | undefined>;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  attributes: Attrs;
  status: number;
  links: { traceId: string; spanId: string }[];
}
export interface ReceivedPoint {
  attributes: Attrs;
  /** Sums: the value; histograms: the count of recorded values. */
  value: number;
  /** Histograms: the sum of recorded values. */
  sum?: number;
}
export interface ReceivedMetric {
  name: string;
  unit: string;
  kind: 'sum' | 'histogram' | 'gauge' | 'other';
  points: ReceivedPoint[];
}
export interface ReceivedLog {
  traceId: string;
  spanId: string;
  body: string;
  eventName: string;
  severityText: string;
  attributes: Attrs;
}

export interface OtlpReceiver {
  /** The endpoint as OTEL_EXPORTER_OTLP_ENDPOINT takes it (the signal paths are added by the exporter). */
  readonly endpoint: string;
  readonly spans: ReceivedSpan[];
  readonly metrics: ReceivedMetric[];
  readonly logs: ReceivedLog[];
  /** Every request body as sent, to search for what must never be exported. */
  readonly raw: string[];
  /** Every resource attribute seen. */
  readonly resources: Attrs[];
  close(): Promise<void>;
}

function valueOf(value: AnyValue | undefined): string | number | boolean | undefined {
  if (!value) return undefined;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue) return JSON.stringify(value.arrayValue.values?.map(valueOf) ?? []);
  if (value.kvlistValue) return JSON.stringify(attrsOf(value.kvlistValue.values));
  return undefined;
}

function attrsOf(list: KeyValue[] | undefined): Attrs {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, valueOf(kv.value)]));
}

interface TraceRequest {
  resourceSpans?: { resource?: { attributes?: KeyValue[] }; scopeSpans?: { spans?: { traceId: string; spanId: string; parentSpanId?: string; name: string; attributes?: KeyValue[]; status?: { code?: number }; links?: { traceId: string; spanId: string }[] }[] }[] }[];
}
interface DataPoint {
  attributes?: KeyValue[];
  asInt?: string | number;
  asDouble?: number;
  count?: string | number;
  sum?: number;
}
interface MetricsRequest {
  resourceMetrics?: { resource?: { attributes?: KeyValue[] }; scopeMetrics?: { metrics?: { name: string; unit?: string; sum?: { dataPoints?: DataPoint[] }; histogram?: { dataPoints?: DataPoint[] }; gauge?: { dataPoints?: DataPoint[] } }[] }[] }[];
}
interface LogsRequest {
  resourceLogs?: { resource?: { attributes?: KeyValue[] }; scopeLogs?: { logRecords?: { traceId?: string; spanId?: string; body?: AnyValue; eventName?: string; severityText?: string; attributes?: KeyValue[] }[] }[] }[];
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const metrics: ReceivedMetric[] = [];
  const logs: ReceivedLog[] = [];
  const raw: string[] = [];
  const resources: Attrs[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const type = req.headers['content-type'] ?? '';
      if (req.method !== 'POST' || !type.startsWith('application/json')) {
        res.writeHead(req.method === 'POST' ? 415 : 405).end();
        return;
      }
      const text = Buffer.concat(chunks).toString('utf8');
      raw.push(text);
      const body = JSON.parse(text) as TraceRequest & MetricsRequest & LogsRequest;
      switch (req.url) {
        case '/v1/traces':
          for (const rs of body.resourceSpans ?? []) {
            resources.push(attrsOf(rs.resource?.attributes));
            for (const ss of rs.scopeSpans ?? [])
              for (const s of ss.spans ?? [])
                spans.push({
                  traceId: s.traceId,
                  spanId: s.spanId,
                  parentSpanId: s.parentSpanId ?? '',
                  name: s.name,
                  attributes: attrsOf(s.attributes),
                  status: s.status?.code ?? 0,
                  links: (s.links ?? []).map((l) => ({ traceId: l.traceId, spanId: l.spanId })),
                });
          }
          break;
        case '/v1/metrics':
          for (const rm of body.resourceMetrics ?? []) {
            resources.push(attrsOf(rm.resource?.attributes));
            for (const sm of rm.scopeMetrics ?? [])
              for (const m of sm.metrics ?? []) {
                const kind = m.sum ? 'sum' : m.histogram ? 'histogram' : m.gauge ? 'gauge' : 'other';
                const points = (m.sum ?? m.histogram ?? m.gauge)?.dataPoints ?? [];
                metrics.push({
                  name: m.name,
                  unit: m.unit ?? '',
                  kind,
                  points: points.map((p) => ({
                    attributes: attrsOf(p.attributes),
                    value: kind === 'histogram' ? Number(p.count ?? 0) : Number(p.asInt ?? p.asDouble ?? 0),
                    ...(kind === 'histogram' ? { sum: p.sum ?? 0 } : {}),
                  })),
                });
              }
          }
          break;
        case '/v1/logs':
          for (const rl of body.resourceLogs ?? []) {
            resources.push(attrsOf(rl.resource?.attributes));
            for (const sl of rl.scopeLogs ?? [])
              for (const l of sl.logRecords ?? [])
                logs.push({
                  traceId: l.traceId ?? '',
                  spanId: l.spanId ?? '',
                  body: String(valueOf(l.body) ?? ''),
                  eventName: l.eventName ?? '',
                  severityText: l.severityText ?? '',
                  attributes: attrsOf(l.attributes),
                });
          }
          break;
        default:
          res.writeHead(404).end();
          return;
      }
      // An empty ExportServiceResponse: everything accepted.
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    metrics,
    logs,
    raw,
    resources,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** The latest cumulative value of a sum (or count of a histogram) per data point matching `where`, summed. */
export function metricTotal(metrics: readonly ReceivedMetric[], name: string, where: (attributes: Attrs) => boolean = () => true): number {
  const latest = metrics.filter((m) => m.name === name).at(-1);
  return (latest?.points ?? []).filter((p) => where(p.attributes)).reduce((sum, p) => sum + p.value, 0);
}
