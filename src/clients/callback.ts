/**
 * One POST of a pushed event to a caller's URL (issue 23). The URL was checked when it was given
 * (core/callback-url.ts); this is the check of where the connection really goes, made when it is made:
 * - a host name is resolved once, inside the connection (node:http's `lookup` option), and every address it
 *   answers is checked there; the socket then connects to one of those very addresses, so a name that answers a
 *   public address first and a private one later (DNS rebinding) cannot reach inside. An address literal is
 *   checked before the request (Node does not look literals up);
 * - in Azure, private, loopback, link-local, CGNAT, unique-local, IPv4-mapped and other special addresses are
 *   refused, unless the host is one the operator allowed by name;
 * - redirects are never followed (node:http does not follow them): a 3xx is the receiver's answer;
 * - a connect time-out and a total one; the answer's body is read and thrown away, never returned.
 * node:http rather than fetch: Node 22's fetch is its bundled undici, whose `dispatcher` option takes an undici
 * Agent of the same major only, and undici is no dependency of the app; node:http's `lookup` is the same hook
 * with nothing to add to the bundle.
 */
import { lookup as dnsLookup } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';

import { CALLBACK_ALLOWED_URLS_SETTING, displayUrl } from '../core/callback-url.js';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}
/** Resolves a host name to its addresses (dns.lookup with all: true); tests give one of their own. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export interface CallbackOptions {
  /** The whole exchange, connecting, sending and the answer's status line and headers. */
  timeoutMs: number;
  /** The local runtime: any address, loopback included. Never in Azure. */
  allowPrivate: boolean;
  /** Host names (as URL#hostname writes them) that may resolve to private addresses: the operator named them. */
  allowedPrivateHosts: readonly string[];
  /** Connecting (TCP and TLS); default the smaller of 10 s and timeoutMs. */
  connectTimeoutMs?: number;
  /** How host names are resolved; default the system's resolver. */
  resolve?: Resolver;
  /** Extra trusted CA certificates (PEM), for a test receiver; Azure uses the system's. */
  ca?: string;
}

export type CallbackResult = { status: number; retryAfter?: Date } | { error: string; transient: boolean };

/** Bytes of an answer read before the connection is dropped: the body is never used, only drained. */
const MAX_DRAIN_BYTES = 64 * 1024;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/**
 * Where no callback may go from Azure. IPv4: "this" network, private (RFC 1918), CGNAT (RFC 6598), loopback,
 * link-local (IMDS at 169.254.169.254), IETF protocol assignments, documentation and benchmark ranges, multicast
 * and reserved, and Azure's platform address 168.63.129.16 (DNS, health probes, the wire server). IPv6:
 * unspecified, loopback, IPv4-mapped and -translated (they reach an IPv4 address by another name), NAT64,
 * 6to4 and Teredo (the same), discard, documentation, unique-local, link-local, site-local and multicast.
 */
const BLOCKED_V4 = new BlockList();
const BLOCKED_V6 = new BlockList();
const MAPPED_V4 = new BlockList();
{
  const v4: [string, number][] = [
    ['0.0.0.0', 8],
    ['10.0.0.0', 8],
    ['100.64.0.0', 10],
    ['127.0.0.0', 8],
    ['169.254.0.0', 16],
    ['172.16.0.0', 12],
    ['192.0.0.0', 24],
    ['192.0.2.0', 24],
    ['192.88.99.0', 24],
    ['192.168.0.0', 16],
    ['198.18.0.0', 15],
    ['198.51.100.0', 24],
    ['203.0.113.0', 24],
    ['224.0.0.0', 4],
    ['240.0.0.0', 4],
    ['168.63.129.16', 32],
  ];
  for (const [net, prefix] of v4) BLOCKED_V4.addSubnet(net, prefix, 'ipv4');
  const v6: [string, number][] = [
    ['::', 128],
    ['::1', 128],
    ['::ffff:0:0:0', 96],
    ['64:ff9b::', 96],
    ['64:ff9b:1::', 48],
    ['100::', 64],
    ['2001::', 32],
    ['2001:db8::', 32],
    ['2002::', 16],
    ['fc00::', 7],
    ['fe80::', 10],
    ['fec0::', 10],
    ['ff00::', 8],
  ];
  for (const [net, prefix] of v6) BLOCKED_V6.addSubnet(net, prefix, 'ipv6');
  // Kept apart: a BlockList matches every IPv4 address against an IPv4-mapped IPv6 rule.
  MAPPED_V4.addSubnet('::ffff:0:0', 96, 'ipv6');
}

/** An address a callback may go to from Azure: none of the ranges above. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  if (family === 4) return !BLOCKED_V4.check(address, 'ipv4');
  return !MAPPED_V4.check(address, 'ipv6') && !BLOCKED_V6.check(address, 'ipv6');
}

/** A refusal by address: not transient (the same name would resolve the same way), and it names the setting. */
class BlockedAddressError extends Error {
  override name = 'BlockedAddressError';
  readonly code = 'ECALLBACKBLOCKED';
}

function blocked(host: string, address: string): BlockedAddressError {
  return new BlockedAddressError(
    `${host} resolves to ${address}, a private, loopback, link-local or otherwise internal address, where callbacks are never sent from Azure; an operator who means it lists the host by its full name in ${CALLBACK_ALLOWED_URLS_SETTING}`,
  );
}

const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, order: 'verbatim' }, (err, addresses) => {
      if (err) reject(err);
      else resolve(addresses.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 })));
    });
  });

/**
 * The `lookup` of the connection: resolves, checks every address (one bad address refuses the name: the
 * connection may try any of them), and hands Node exactly the addresses checked.
 */
function checkedLookup(resolve: Resolver, mayBePrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname).then(
      (found) => {
        const wanted = options.family === 4 || options.family === 6 ? found.filter((a) => a.family === options.family) : found;
        if (wanted.length === 0) {
          callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 4);
          return;
        }
        const bad = mayBePrivate ? undefined : wanted.find((a) => !isPublicAddress(a.address));
        if (bad) {
          callback(blocked(hostname, bad.address), '', 4);
          return;
        }
        if (options.all === true) {
          (callback as unknown as (err: null, addresses: ResolvedAddress[]) => void)(null, wanted);
          return;
        }
        const first = wanted[0] as ResolvedAddress;
        callback(null, first.address, first.family);
      },
      (err: unknown) => {
        callback(err instanceof Error ? err : new Error(String(err)), '', 4);
      },
    );
  };
}

/**
 * `Retry-After` as a moment: delay-seconds or an HTTP-date (RFC 9110, 10.2.3). Undefined when absent or not
 * one of the two; a date in the past is now.
 */
export function parseRetryAfter(value: string | undefined, now: Date): Date | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return new Date(now.getTime() + Number(text) * 1000);
  // An HTTP-date (IMF-fixdate, or the obsolete RFC 850 and asctime forms Date.parse also reads); a bare number or
  // anything else Date.parse would guess at is refused.
  if (!/^[A-Za-z]{3},? /.test(text) && !/^[A-Za-z]+day, /.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return new Date(Math.max(at, now.getTime()));
}

const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
]);

function errorResult(shown: string, err: unknown): CallbackResult {
  if (err instanceof BlockedAddressError) return { error: err.message, transient: false };
  const code = (err as { code?: unknown }).code;
  const what = typeof code === 'string' ? code : err instanceof Error ? err.name : 'error';
  // A certificate a receiver's owner can renew within the retry window is worth retrying, as a refused connection is.
  const transient = typeof code === 'string' && (TRANSIENT_CODES.has(code) || code.startsWith('ERR_TLS') || /CERT|SSL/.test(code));
  return { error: `${shown}: the request failed (${what})`, transient: transient || typeof code !== 'string' };
}

/**
 * POSTs `body` to `url` with `headers` (which should include Content-Type) and answers the receiver's status
 * (and Retry-After), or why there is none and whether trying again later may help. Never throws, never answers
 * the receiver's body, and never writes the URL's path or query into a message (they can hold a signature).
 */
export async function sendCallback(
  url: URL,
  body: string,
  headers: Record<string, string>,
  options: CallbackOptions,
): Promise<CallbackResult> {
  const shown = displayUrl(url);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { error: `${shown}: not an http(s) URL`, transient: false };
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const mayBePrivate = options.allowPrivate || options.allowedPrivateHosts.includes(url.hostname);
  if (isIP(host) !== 0 && !mayBePrivate && !isPublicAddress(host)) return errorResult(shown, blocked(url.hostname, host));

  const connectTimeoutMs = Math.min(options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, options.timeoutMs);
  const payload = Buffer.from(body, 'utf8');
  const transport = url.protocol === 'https:' ? https : http;

  return new Promise<CallbackResult>((resolve) => {
    let settled = false;
    const finish = (result: CallbackResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(total);
      clearTimeout(connecting);
      resolve(result);
    };
    const request = transport.request(url, {
      method: 'POST',
      headers: { 'user-agent': 'aks-job-runner', ...headers, 'content-length': String(payload.length) },
      agent: false,
      lookup: checkedLookup(options.resolve ?? systemResolver, mayBePrivate),
      ...(options.ca === undefined ? {} : { ca: options.ca }),
    });
    const total = setTimeout(() => {
      finish({ error: `${shown}: no answer within ${options.timeoutMs} ms`, transient: true });
      request.destroy();
    }, options.timeoutMs);
    const connecting = setTimeout(() => {
      finish({ error: `${shown}: could not connect within ${connectTimeoutMs} ms`, transient: true });
      request.destroy();
    }, connectTimeoutMs);
    request.on('socket', (socket) => {
      socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
        clearTimeout(connecting);
      });
    });
    request.on('error', (err) => {
      finish(errorResult(shown, err));
    });
    request.on('response', (response) => {
      const status = response.statusCode ?? 0;
      const retryAfter = parseRetryAfter(response.headers['retry-after'], new Date());
      finish(retryAfter ? { status, retryAfter } : { status });
      // Drained, not read: a bounded amount, then the connection goes (agent: false keeps none open).
      let bytes = 0;
      response.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > MAX_DRAIN_BYTES) response.destroy();
      });
      response.on('error', () => undefined);
      response.on('end', () => {
        request.destroy();
      });
      response.resume();
      setTimeout(() => {
        response.destroy();
      }, Math.min(options.timeoutMs, 5000)).unref();
    });
    request.end(payload);
  });
}
