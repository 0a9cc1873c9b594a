import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { gunzipSync } from 'node:zlib';

/**
 * Application Insights' ingestion API ("Breeze") on loopback, as @azure/monitor-opentelemetry-exporter
 * (1.0.0-beta.47, the app's) talks to it, so tests check what the app's real Azure Monitor exporters send. What it
 * takes is read from the exporter's source (github.com/Azure/azure-sdk-for-js, sdk/monitor/monitor-opentelemetry-exporter):
 *
 * - The URL: `<IngestionEndpoint>/v2.1/track`, POST, `Content-Type: application/json`, a JSON array of envelopes
 *   (src/generated/api/applicationInsightsContext.ts: `${host}/v2.1`; src/generated/api/operations.ts `_trackSend`:
 *   path `/track`; src/generated/models/models.ts `telemetryItemSerializer`: `ver, name, time, sampleRate, iKey,
 *   tags, data: {baseType, baseData}`). A 200 or 206 answer is `{itemsReceived, itemsAccepted, errors}`.
 * - HTTPS only: the connection string's IngestionEndpoint is rewritten from http:// to https://
 *   (src/utils/connectionStringParser.ts `sanitizeUrl`), and the Azure SDK's bearer token policy refuses to send a
 *   token over plain HTTP anyway. So this receiver serves TLS with a certificate made for 127.0.0.1 (openssl), which
 *   the process that exports must trust (`trustInThisProcess`, or NODE_EXTRA_CA_CERTS for another process).
 * - gzip: the body is compressed only for an https `/v2(.1)/track` URL on a known Azure Monitor host
 *   (src/platform/nodejs/gzipHttpClient.ts `isIngestionUrl`, with src/Declarations/Constants.ts
 *   `ALLOWED_REDIRECT_DOMAIN_SUFFIX_GROUPS`), so on 127.0.0.1 it arrives plain; `Content-Encoding: gzip` is inflated
 *   here all the same, as the service does, and each request's encoding is recorded.
 * - Entra ID: with a `credential` the exporter sends `Authorization: Bearer <token>` for the scope
 *   `https://monitor.azure.com/.default`, or the connection string's AADAudience (src/platform/nodejs/httpSender.ts).
 *   With `token` set this receiver refuses any other request with 401, as a resource with local authentication off
 *   refuses the instrumentation key alone.
 * - Retries: 206, 401, 403, 408, 429, 439, 500, 502, 503, 504 are retriable (src/utils/breezeUtils.ts
 *   `isRetriable`): the exporter keeps the batch on disk and sends it again after Retry-After or 60 s
 *   (src/platform/nodejs/baseSender.ts `exportEnvelopes`, `persist`, `scheduleRetryTimer`). `answerNext` makes this
 *   receiver refuse the next request with such an answer.
 */

/** One envelope as it is on the wire (src/generated/models/models.ts). */
export interface BreezeEnvelope {
  ver?: number;
  name: string;
  time: string;
  sampleRate?: number;
  iKey: string;
  tags: Record<string, string>;
  data: { baseType: string; baseData: BaseData };
}

export interface BaseData {
  /** RemoteDependencyData / RequestData: the span id; name, duration, success, resultCode, type. */
  id?: string;
  name?: string;
  type?: string;
  success?: boolean;
  resultCode?: string;
  duration?: string;
  /** MessageData: the log record's body. */
  message?: string;
  severityLevel?: string;
  /** MetricData: one point (src/utils/metricUtils.ts: value = a sum's value or a histogram's sum). */
  metrics?: { name: string; value: number; count?: number; min?: number; max?: number }[];
  /** Span and log attributes as strings; a metric point's attributes as they were (numbers, booleans). */
  properties?: Record<string, string | number | boolean>;
}

export interface BreezeRequest {
  path: string;
  authorization: string | undefined;
  contentEncoding: string | undefined;
  status: number;
  envelopes: number;
  /** The body as received (inflated); '' when there was none or it could not be read. */
  body: string;
}

export interface BreezeReceiver {
  /** The connection string the app is given: the instrumentation key and this receiver as IngestionEndpoint. */
  readonly connectionString: string;
  /** The certificate the receiver serves (PEM), for whoever connects to trust it. */
  readonly ca: string;
  /** Envelopes accepted (with the right token, when one is required). */
  readonly envelopes: BreezeEnvelope[];
  /** Every request, accepted or refused, with its body: where no secret may be. */
  readonly requests: BreezeRequest[];
  /** Refuse the next track request with this status (and headers, e.g. Retry-After), once. */
  answerNext(status: number, headers?: Record<string, string>): void;
  close(): Promise<void>;
}

function selfSignedFor127(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'breeze-cert-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function startBreezeReceiver(options: { instrumentationKey: string; token?: string }): Promise<BreezeReceiver> {
  const { key, cert } = selfSignedFor127();
  const envelopes: BreezeEnvelope[] = [];
  const requests: BreezeRequest[] = [];
  const queued: { status: number; headers: Record<string, string> }[] = [];
  const server = createServer({ key, cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'https://127.0.0.1').pathname;
      const authorization = req.headers.authorization;
      const contentEncoding = req.headers['content-encoding'];
      let text = '';
      const answer = (status: number, body: unknown, count = 0, headers: Record<string, string> = {}) => {
        requests.push({ path, authorization, contentEncoding, status, envelopes: count, body: text });
        res.writeHead(status, { 'Content-Type': 'application/json', ...headers }).end(JSON.stringify(body));
      };
      if (req.method !== 'POST' || path !== '/v2.1/track') {
        answer(404, { itemsReceived: 0, itemsAccepted: 0, errors: [{ index: 0, statusCode: 404, message: `no ${String(req.method)} ${path}` }] });
        return;
      }
      try {
        const body = Buffer.concat(chunks);
        text = (contentEncoding === 'gzip' ? gunzipSync(body) : body).toString('utf8');
      } catch {
        answer(400, { itemsReceived: 0, itemsAccepted: 0, errors: [{ index: 0, statusCode: 400, message: 'body is not gzip' }] });
        return;
      }
      if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
        answer(415, { itemsReceived: 0, itemsAccepted: 0, errors: [] });
        return;
      }
      let batch: BreezeEnvelope[];
      try {
        batch = JSON.parse(text) as BreezeEnvelope[];
        if (!Array.isArray(batch)) throw new Error('not an array');
      } catch {
        answer(400, { itemsReceived: 0, itemsAccepted: 0, errors: [{ index: 0, statusCode: 400, message: 'body is not a JSON array of envelopes' }] });
        return;
      }
      if (options.token !== undefined && authorization !== `Bearer ${options.token}`) {
        // What a resource with local authentication off answers a request without a valid Entra token.
        answer(401, { itemsReceived: batch.length, itemsAccepted: 0, errors: batch.map((_, index) => ({ index, statusCode: 401, message: 'Unauthorized' })) }, batch.length);
        return;
      }
      const refusal = queued.shift();
      if (refusal) {
        answer(refusal.status, { itemsReceived: batch.length, itemsAccepted: 0, errors: batch.map((_, index) => ({ index, statusCode: refusal.status, message: 'refused by the test' })) }, batch.length, refusal.headers);
        return;
      }
      const wrongKey = batch.findIndex((e) => e.iKey !== options.instrumentationKey);
      if (wrongKey >= 0) {
        answer(400, { itemsReceived: batch.length, itemsAccepted: 0, errors: [{ index: wrongKey, statusCode: 400, message: 'Invalid instrumentation key' }] }, batch.length);
        return;
      }
      envelopes.push(...batch);
      answer(200, { itemsReceived: batch.length, itemsAccepted: batch.length, appId: null, errors: [] }, batch.length);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    connectionString: `InstrumentationKey=${options.instrumentationKey};IngestionEndpoint=https://127.0.0.1:${String(port)}/`,
    ca: cert,
    envelopes,
    requests,
    answerNext: (status, headers = {}) => {
      queued.push({ status, headers });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/**
 * Trust `ca` in this process for TLS connections that name no CA of their own (the Azure SDK's HTTP client names
 * none), besides the default ones: what NODE_EXTRA_CA_CERTS does for a process at its start. Returns the undo.
 */
export function trustInThisProcess(ca: string): () => void {
  const before = getCACertificates('default');
  setDefaultCACertificates([...before, ca]);
  return () => {
    setDefaultCACertificates(before);
  };
}

/** The envelopes of one base type (RemoteDependencyData, RequestData, MessageData, MetricData...). */
export function ofType(envelopes: readonly BreezeEnvelope[], baseType: string): BreezeEnvelope[] {
  return envelopes.filter((e) => e.data.baseType === baseType);
}

/**
 * A metric's total over every MetricData envelope of that name whose properties match: the Azure Monitor exporter
 * asks for delta temporality (src/export/metric.ts `selectAggregationTemporality`), so each envelope holds what
 * happened since the previous export and the total is their sum. For a histogram, `count` sums the counts.
 */
export function metricSum(envelopes: readonly BreezeEnvelope[], name: string, where: (properties: Record<string, string | number | boolean>) => boolean = () => true, of: 'value' | 'count' = 'value'): number {
  let total = 0;
  for (const e of ofType(envelopes, 'MetricData')) {
    const properties = e.data.baseData.properties ?? {};
    if (!where(properties)) continue;
    for (const m of e.data.baseData.metrics ?? []) if (m.name === name) total += of === 'count' ? (m.count ?? 0) : m.value;
  }
  return total;
}
