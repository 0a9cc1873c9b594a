import type { HttpRequest } from '@azure/functions';

import type { LinkSettings } from '../config.js';
import { services } from '../services.js';

export interface RunLinks {
  statusUrl: string;
  cancelUrl: string;
}

const HOST = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[-A-Za-z0-9]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
const PREFIX = /^(?:\/[-A-Za-z0-9._~!$&'()*+,;=:@%]+)+\/?$/;

/** The first (client-facing) value of a header that each proxy appends to with a comma. */
function first(request: HttpRequest, name: string): string | undefined {
  const value = request.headers.get(name)?.split(',')[0]?.trim();
  return value === '' ? undefined : value;
}

/** host and proto of the first element of an RFC 7239 `Forwarded` header. */
function forwarded(request: HttpRequest): { host?: string; proto?: string } {
  const element = first(request, 'forwarded');
  if (!element) return {};
  const pairs = element.split(';').map((pair) => {
    const at = pair.indexOf('=');
    return [pair.slice(0, at).trim().toLowerCase(), pair.slice(at + 1).trim().replace(/^"(.*)"$/, '$1')] as const;
  });
  const get = (key: string) => pairs.find(([k]) => k === key)?.[1];
  return { host: get('host'), proto: get('proto') };
}

/**
 * The public URL of the app's `/api` prefix, as the caller reached it, without a trailing slash:
 * PUBLIC_BASE_URL when set; else, when TRUST_FORWARDED_HEADERS is on, what the gateway in front says in
 * `Forwarded` (host, proto) or `X-Forwarded-Host` / `X-Forwarded-Proto` / `X-Forwarded-Prefix`; else the
 * request's own origin. A header value that is not a plain host, proto or path is ignored, so a link never
 * points at something a header smuggled in.
 */
export function apiBase(request: HttpRequest, settings: LinkSettings = services().config.links): string {
  if (settings.publicBaseUrl !== undefined) return settings.publicBaseUrl;
  const own = new URL(request.url);
  if (!settings.trustForwardedHeaders) return `${own.origin}/api`;
  const standard = forwarded(request);
  const host = [standard.host, first(request, 'x-forwarded-host')].find((h) => h !== undefined && HOST.test(h)) ?? own.host;
  const proto = [standard.proto, first(request, 'x-forwarded-proto')].map((p) => p?.toLowerCase()).find((p) => p === 'http' || p === 'https') ?? own.protocol.replace(':', '');
  const rawPrefix = first(request, 'x-forwarded-prefix');
  const prefix = rawPrefix !== undefined && PREFIX.test(rawPrefix) ? rawPrefix.replace(/\/$/, '') : '';
  return `${proto}://${host}${prefix}/api`;
}

/** A link under the app's public `/api`, with the caller's own `?code=` when it sent one. */
function link(request: HttpRequest, path: string, query: Record<string, string> = {}): string {
  const url = new URL(`${apiBase(request)}/${path}`);
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  const code = new URL(request.url).searchParams.get('code');
  if (code) url.searchParams.set('code', code);
  return url.toString();
}

/**
 * Absolute URLs of a run's routes. A caller that authenticated with `?code=` (its own function key) gets the
 * same `code` on them, since Logic Apps does not send the first request's headers again when it polls
 * Location. Durable's system key is never handed out.
 */
export function runLinks(request: HttpRequest, runId: string): RunLinks {
  const run = `runs/${encodeURIComponent(runId)}`;
  return { statusUrl: link(request, run), cancelUrl: link(request, `${run}/cancel`) };
}

/** The URL a caller POSTs to start a run of a Job or CronJob, for discovery listings; it keeps `?code=` too. */
export function startUrl(request: HttpRequest, kind: 'jobs' | 'cronjobs', namespace: string, name: string, cluster: string): string {
  return link(request, `${kind}/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/runs`, { cluster });
}
