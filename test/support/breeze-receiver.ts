import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer } from 'node:https';
import { type AddressInfo, connect, type Socket } from 'node:net';
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
 *   token over plain HTTP anyway. So this receiver serves TLS, with a certificate made here (openssl) that the
 *   process that exports must trust (`trustInThisProcess`, or NODE_EXTRA_CA_CERTS for another process).
 * - gzip, and only to Azure: the body is compressed only for an https `/v2(.1)/track` URL on a known Azure Monitor
 *   host (src/platform/nodejs/gzipHttpClient.ts `isIngestionUrl`, src/Declarations/Constants.ts
 *   `ALLOWED_REDIRECT_DOMAIN_SUFFIX_GROUPS`): to 127.0.0.1 it would be sent plain, which is not what Azure gets. So
 *   the connection string names a regional ingestion host as Azure's do (`eastus-8.in.applicationinsights.azure.com`),
 *   and `env` points HTTPS_PROXY at a CONNECT proxy of this receiver on loopback, which the Azure SDK's proxy policy
 *   honours (@typespec/ts-http-runtime policies/proxyPolicy.ts: HTTPS_PROXY, NO_PROXY): it tunnels that host to
 *   this receiver, whose certificate names it, and refuses every other host (403), recording it in `refused`.
 *   NO_PROXY keeps loopback (the managed identity endpoint, Azurite) direct. Nothing leaves the machine.
 * - Entra ID: with a `credential` the exporter sends `Authorization: Bearer <token>` for the scope
 *   `https://monitor.azure.com/.default`, or the connection string's AADAudience (src/platform/nodejs/httpSender.ts).
 *   With `token` set this receiver refuses any other request with 401, as a resource with local authentication off
 *   refuses the instrumentation key alone.
 * - Retries: 206, 401, 403, 408, 429, 439, 500, 502, 503, 504 are retriable (src/utils/breezeUtils.ts
 *   `isRetriable`): the exporter keeps the batch on disk and sends it again after Retry-After or 60 s
 *   (src/platform/nodejs/baseSender.ts `exportEnvelopes`, `persist`, `scheduleRetryTimer`). `answerNext` makes this
 *   receiver refuse the next request with such an answer.
 */

/** The ingestion host the connection string names, as a resource in East US's is named. */
export const INGESTION_HOST = 'eastus-8.in.applicationinsights.azure.com';

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
  /** The connection string the app is given: the instrumentation key and the ingestion host as IngestionEndpoint. */
  readonly connectionString: string;
  /**
   * The environment of the exporting process: the connection string, HTTPS_PROXY (this receiver's tunnel to the
   * ingestion host) and NO_PROXY (loopback). Set before the first Azure SDK client is made: the SDK reads NO_PROXY
   * once per process.
   */
  readonly env: { APPLICATIONINSIGHTS_CONNECTION_STRING: string; HTTPS_PROXY: string; NO_PROXY: string };
  /** The hosts (host:port) something asked the proxy to reach other than the ingestion host; each was refused. */
  readonly refused: string[];
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

function selfSigned(host: string): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'breeze-cert-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', `/CN=${host}`, '-addext', `subjectAltName=DNS:${host}`], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function startBreezeReceiver(options: { instrumentationKey: string; token?: string }): Promise<BreezeReceiver> {
  const { key, cert } = selfSigned(INGESTION_HOST);
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

  // The tunnel: what a forward proxy does with CONNECT, for the ingestion host only.
  const refused: string[] = [];
  const tunnels = new Set<Socket>();
  const proxy = createHttpServer((_req, res) => res.writeHead(405).end());
  proxy.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    tunnels.add(client);
    client.on('close', () => tunnels.delete(client));
    client.on('error', () => client.destroy());
    if (req.url !== `${INGESTION_HOST}:443`) {
      refused.push(req.url ?? '');
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const upstream = connect(port, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    tunnels.add(upstream);
    upstream.on('close', () => tunnels.delete(upstream));
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const proxyPort = (proxy.address() as AddressInfo).port;
  const connectionString = `InstrumentationKey=${options.instrumentationKey};IngestionEndpoint=https://${INGESTION_HOST}/`;
  return {
    connectionString,
    env: { APPLICATIONINSIGHTS_CONNECTION_STRING: connectionString, HTTPS_PROXY: `http://127.0.0.1:${String(proxyPort)}`, NO_PROXY: '127.0.0.1,localhost' },
    refused,
    ca: cert,
    envelopes,
    requests,
    answerNext: (status, headers = {}) => {
      queued.push({ status, headers });
    },
    close: async () => {
      for (const socket of tunnels) socket.destroy();
      await Promise.all(
        [server, proxy].map(
          (s) =>
            new Promise<void>((resolve) => {
              s.closeAllConnections();
              s.close(() => {
                resolve();
              });
            }),
        ),
      );
    },
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
