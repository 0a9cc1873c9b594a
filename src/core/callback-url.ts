/**
 * Where the app may send a run's verdict (issue 23). A caller names the URL, so it is checked as a target the
 * caller cannot be trusted with: HTTPS only, only what the operator allows (CALLBACK_ALLOWED_URLS), no user or
 * password, bounded length. The addresses a host name resolves to are checked later, when the connection is made
 * (clients/callback.ts), since only then is the address the one that is used.
 */

/** The app setting that lists the URLs callbacks may go to. */
export const CALLBACK_ALLOWED_URLS_SETTING = 'CALLBACK_ALLOWED_URLS';

/**
 * Longer is refused: a Logic Apps callback URL (host, workflow, run and action ids, `sp`, `sv`, `sig`) is a few
 * hundred characters; the URL is kept with the run's subscriptions, so an unbounded one would be stored as given.
 */
export const MAX_CALLBACK_URL_LENGTH = 2048;

/**
 * The callback hosts of Logic Apps (Consumption) and Power Automate, admitted when CALLBACK_ALLOWED_URLS is unset:
 * - Logic Apps callback URLs are `https://prod-NN.<region>.logic.azure.com/workflows/<id>/...?...&sig=...`
 *   (Microsoft Learn: REST API "Workflows - List Callback Url" and `Get-AzLogicAppTriggerCallbackUrl`'s example,
 *   `https://prod-03.westus.logic.azure.com:443/workflows/...`); the HTTP Webhook action's `listCallbackUrl()`
 *   is on the same host under the workflow's path. Power Automate's classic flow URLs are on these hosts too.
 * - Power Automate's newer flow URLs are `https://<environment>.NN.environment.api.powerplatform.com/powerautomate/
 *   automations/direct/workflows/<id>/...`.
 * Both are Microsoft's own domains, where no tenant can host a listener of its own. Logic Apps Standard calls back
 * on the logic app's own `*.azurewebsites.net` host, which anyone's app shares: list such a URL by its full host.
 */
export const DEFAULT_CALLBACK_ALLOWED_URLS = [
  'https://*.logic.azure.com/workflows/',
  'https://*.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/',
] as const;

/** One CALLBACK_ALLOWED_URLS entry: a scheme, a host (or every host under a domain), a port and a path prefix. */
export interface CallbackUrlRule {
  readonly protocol: 'https:' | 'http:';
  /** The host name, or with `wildcard` the domain every allowed host ends with (after a dot). */
  readonly hostname: string;
  /** `*.` in the entry: any host under `hostname`, at any depth, but not `hostname` itself. */
  readonly wildcard: boolean;
  /** '' for the scheme's default port, as URL#port gives it. */
  readonly port: string;
  /** Ends with `/`, or is a whole path that may be followed only by `/...` (as HTTP_CALL_ALLOWED_URLS). */
  readonly path: string;
}

export interface CallbackPolicy {
  readonly allowed: readonly CallbackUrlRule[];
  /**
   * The local runtime (development, tests): plain HTTP is allowed to loopback, and loopback URLs need not be
   * listed (the runtime itself listens only there). Never true in Azure.
   */
  readonly local: boolean;
}

/**
 * CALLBACK_ALLOWED_URLS: absolute https URL prefixes separated by commas or white space, written and compared as
 * HTTP_CALL_ALLOWED_URLS' (origin, then path prefix; no user, query or fragment), plus a host may start with `*.`
 * for every host under a domain. `default` stands for DEFAULT_CALLBACK_ALLOWED_URLS (so a list can add to them);
 * `none` alone turns callbacks off. Unset: the defaults. Throws with a message naming the entry.
 */
export function parseCallbackAllowedUrls(text: string | undefined): CallbackUrlRule[] {
  const entries = (text ?? 'default').split(/[\s,]+/).filter((entry) => entry !== '');
  if (entries.length === 1 && entries[0] === 'none') return [];
  if (entries.length === 0) return parseCallbackAllowedUrls('default');
  return entries.flatMap((entry) => (entry === 'default' ? DEFAULT_CALLBACK_ALLOWED_URLS.map(parseRule) : [parseRule(entry)]));
}

function parseRule(entry: string): CallbackUrlRule {
  const bad = (why: string) =>
    new Error(
      `"${entry}" is not a callback URL prefix (${why}): write an absolute https URL such as https://hooks.contoso.com/aks-jobs/ or https://*.logic.azure.com/workflows/, "default" for the Logic Apps and Power Automate hosts, or "none"`,
    );
  if (entry === 'none') throw bad('"none" must stand alone');
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    throw bad('not an absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw bad(`${url.protocol} is not https`);
  if (url.username !== '' || url.password !== '') throw bad('it carries a user or password');
  if (url.search !== '' || url.hash !== '' || entry.includes('?') || entry.includes('#')) throw bad('it has a query or fragment');
  const wildcard = url.hostname.startsWith('*.');
  const hostname = wildcard ? url.hostname.slice(2) : url.hostname;
  if (hostname.includes('*')) throw bad('`*` is allowed only as the whole first label of the host, as in *.logic.azure.com');
  // `*.com` would admit a whole top-level domain: a wildcard needs a registrable domain under it.
  if (wildcard && hostname.split('.').length < 2) throw bad('a wildcard needs at least two labels after `*.`');
  if (url.protocol === 'http:' && !isLoopbackHost(hostname)) throw bad('plain http is allowed only to loopback, for the local runtime');
  return { protocol: url.protocol, hostname, wildcard, port: url.port, path: url.pathname };
}

/** How an entry is written back (logs, docs): `https://*.logic.azure.com/workflows/`. */
export function formatRule(rule: CallbackUrlRule): string {
  return `${rule.protocol}//${rule.wildcard ? '*.' : ''}${rule.hostname}${rule.port === '' ? '' : `:${rule.port}`}${rule.path}`;
}

function ruleMatches(rule: CallbackUrlRule, url: URL): boolean {
  if (url.protocol !== rule.protocol || url.port !== rule.port) return false;
  const host = url.hostname;
  if (rule.wildcard ? !(host.endsWith(`.${rule.hostname}`) && host.length > rule.hostname.length + 1) : host !== rule.hostname) return false;
  if (rule.path.endsWith('/')) return url.pathname.startsWith(rule.path);
  return url.pathname === rule.path || url.pathname.startsWith(`${rule.path}/`);
}

/**
 * The hosts CALLBACK_ALLOWED_URLS names in full (no `*.`): the operator named each, so each may resolve to a
 * private address (a receiver inside the network). A wildcard entry never admits one.
 */
export function hostsAllowedByName(rules: readonly CallbackUrlRule[]): string[] {
  return [...new Set(rules.filter((rule) => !rule.wildcard).map((rule) => rule.hostname))];
}

/** `localhost`, 127.0.0.0/8 or ::1, as a URL's hostname writes them. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** Scheme, host and port only: what may be shown of a callback URL (its path and query can carry a signature). */
export function displayUrl(url: URL): string {
  return `${url.protocol}//${url.host}`;
}

/**
 * A callback URL the app may send to, as parsed (dot segments resolved, characters escaped: what is checked is what
 * is sent), or the problem to answer. Messages never repeat the URL's path or query (`sig=` is a secret), only its
 * scheme and host, and name the setting that would allow it.
 */
export function checkCallbackUrl(raw: string, policy: CallbackPolicy): { url: URL } | { problem: string; setting?: string } {
  const S = CALLBACK_ALLOWED_URLS_SETTING;
  const refuse = (problem: string) => ({ problem, setting: S });
  if (raw.length > MAX_CALLBACK_URL_LENGTH) {
    return refuse(`the callback URL is ${raw.length} characters long; ${S} admits URLs of at most ${MAX_CALLBACK_URL_LENGTH} characters`);
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse(`the callback URL is not an absolute URL; ${S} admits absolute https URLs such as https://hooks.contoso.com/aks-jobs`);
  }
  const shown = url.protocol === 'https:' || url.protocol === 'http:' ? displayUrl(url) : url.protocol;
  if (url.username !== '' || url.password !== '') {
    return refuse(`the callback URL for ${shown} carries a user name or password before the host, which ${S} never admits; leave it out`);
  }
  if (url.hash !== '' || raw.includes('#')) {
    return refuse(`the callback URL for ${shown} has a fragment (#...), which is never sent and which ${S} never admits; leave it out`);
  }
  const loopback = isLoopbackHost(url.hostname);
  if (url.protocol !== 'https:') {
    if (url.protocol === 'http:' && policy.local && loopback) return { url };
    return refuse(
      `the callback URL ${shown} is not https; ${S} admits only https URLs${policy.local ? ' (and, in the local runtime, plain http to loopback)' : ''}`,
    );
  }
  if (policy.local && loopback) return { url };
  if (!policy.allowed.some((rule) => ruleMatches(rule, url))) {
    return refuse(
      policy.allowed.length === 0
        ? `callbacks are off in this app (${S} is "none"); an operator allows them by listing the URL prefixes callbacks may go to in ${S}`
        : `the callback URL ${shown}${url.pathname === '/' ? '' : '/...'} is not under a URL this app may call back; use a Logic Apps or Power Automate callback URL, or an operator adds its prefix to ${S}`,
    );
  }
  return { url };
}
