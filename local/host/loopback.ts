/**
 * The local runtime's guard against DNS rebinding and cross-site requests. It listens on 127.0.0.1 only, but a
 * browser reaches it from any page: a page on `attacker.example` whose name is re-pointed at 127.0.0.1 sends
 * requests with `Host: attacker.example`, reads the answers as same-origin, and would find the development key
 * in the console's page (`npm run dev` writes it there) and drive the developer's clusters with it. A plain
 * cross-site form POST needs no rebinding at all, only the key, which `npm run dev` defaults to "local".
 *
 * So: every request must name a loopback host (localhost, 127.0.0.1, [::1], any port), which a rebinding page
 * cannot send; and a request that changes something and comes from a browser page (it carries `Origin`) must come
 * from a loopback origin, which a cross-site page cannot forge. Clients that are not browsers (curl, the tests,
 * Logic Apps pointed at a tunnel through localhost) send no Origin and are unaffected.
 */

/** What the local runtime answers to a refused request: a 403 problem naming what to use instead. */
export interface Refusal {
  status: 403;
  title: 'HostNotAllowed' | 'OriginNotAllowed';
  detail: string;
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);
/** Methods a browser may send cross-site without a preflight or that change nothing here. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The host name of a Host header value (`name[:port]`, `[v6][:port]`), lower-cased; null when it is not one. */
export function hostName(host: string): string | null {
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(host.trim());
  return match?.[1] ? match[1].toLowerCase() : null;
}

/** localhost, 127.0.0.1 or [::1], with any port (or none). `localhost.` with the root dot too. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const name = hostName(host);
  return name !== null && (LOOPBACK_NAMES.has(name) || name === 'localhost.');
}

/** An Origin header value of a page served from a loopback host (http or https, any port). */
export function isLoopbackOrigin(origin: string): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  return (url.protocol === 'http:' || url.protocol === 'https:') && isLoopbackHost(url.host);
}

/** Why the local runtime refuses this request, or null when it is served. */
export function refuseUnlessLoopback(method: string, headers: { host?: string | undefined; origin?: string | undefined }): Refusal | null {
  if (!isLoopbackHost(headers.host)) {
    return {
      status: 403,
      title: 'HostNotAllowed',
      detail: `the local runtime answers only requests to localhost, 127.0.0.1 or [::1] (any port), so that a web page whose host name is re-pointed at this machine cannot use it; this one was for ${headers.host === undefined ? 'no Host at all' : JSON.stringify(headers.host)}: call http://127.0.0.1:<port>/api/... instead`,
    };
  }
  const origin = headers.origin;
  if (origin !== undefined && !SAFE_METHODS.has(method.toUpperCase()) && !isLoopbackOrigin(origin)) {
    return {
      status: 403,
      title: 'OriginNotAllowed',
      detail: `the local runtime takes ${method.toUpperCase()} requests from web pages only when the page is served from localhost, 127.0.0.1 or [::1]; this one came from the page origin ${JSON.stringify(origin)}. Use the console the local runtime serves, or a client that is not a browser`,
    };
  }
  return null;
}
