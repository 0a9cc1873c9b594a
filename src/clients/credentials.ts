import { createHash } from 'node:crypto';

import type { ContainerServiceClientOptionalParams, ManagedCluster } from '@azure/arm-containerservice';
import type { AccessToken, TokenCredential } from '@azure/identity';
import type { KubeConfig } from '@kubernetes/client-node';

import type { AksClusterSettings } from '../config.js';
import { retryAfterMs } from '../core/backoff.js';
import { AppError } from '../core/errors.js';
import type { ConnectionSource } from './kube.js';
import { load } from './lazy.js';

/** The AKS AAD server application: tokens for this scope authenticate to Entra ID-integrated clusters. */
export const AKS_AAD_SCOPE = '6dae42f8-4368-4678-94ff-3960e28e3630/.default';
/** Refresh a token this long before it expires, so no call goes out with one about to lapse. */
export const TOKEN_REFRESH_MARGIN_MS = 5 * 60_000;
/** Re-read the cluster's server and CA (or local-account kubeconfig) this often even without a 401. */
export const CLUSTER_INFO_TTL_MS = 60 * 60_000;
const AUTH_PROVIDER = 'aks-job-runner-entra';

/** What ARM gives us about a cluster; an interface so tests need no Azure. */
export interface AksManagement {
  getCluster(settings: AksClusterSettings): Promise<Pick<ManagedCluster, 'aadProfile' | 'disableLocalAccounts' | 'fqdn' | 'privateFqdn'>>;
  /** The user kubeconfig YAML from listClusterUserCredentials, with the server ARM names by default. */
  userKubeconfig(settings: AksClusterSettings): Promise<string>;
}

/**
 * The API server URL the app connects to: ARM's, or, when CLUSTERS names a `serverFqdn`, ARM's with that host
 * (scheme, port and CA stay ARM's). The name must be one ARM reports for the cluster (its private FQDN, or the
 * public FQDN a private cluster may also have): the API server's certificate is made for those, so any other
 * name would fail TLS on every call; it is refused here instead, with the names that would do.
 */
export function serverUrlFor(
  armServer: string,
  settings: AksClusterSettings,
  cluster: Pick<ManagedCluster, 'fqdn' | 'privateFqdn'>,
): string {
  const wanted = settings.serverFqdn;
  if (wanted === undefined) return armServer;
  const known = [cluster.privateFqdn, cluster.fqdn].filter((name): name is string => typeof name === 'string' && name !== '');
  const host = known.find((name) => name.toLowerCase() === wanted.toLowerCase());
  if (host === undefined) {
    throw new CredentialError(
      `serverFqdn "${wanted}" of cluster "${settings.alias}" in CLUSTERS is not a name of AKS cluster "${settings.clusterName}": ` +
        (known.length === 0
          ? 'ARM reports no FQDN for it. '
          : `ARM reports ${known.map((name) => `"${name}"`).join(' and ')} (its private FQDN is az aks show --query privateFqdn). `) +
        'Set serverFqdn to one of them, or leave it out to use the server ARM names.',
    );
  }
  // The host alone changes: ARM writes the port (:443) out, and client-node takes the URL as it is written.
  const parts = /^([a-z][a-z0-9+.-]*:\/\/)[^/:?#]+(.*)$/i.exec(armServer);
  if (!parts) throw new CredentialError(`the kubeconfig of AKS cluster "${settings.clusterName}" names no server host: "${armServer}"`);
  return `${parts[1] ?? ''}${host}${parts[2] ?? ''}`;
}

/**
 * The app could not get credentials for a cluster. A configuration error (the identity lacks a role, a wrong
 * cluster name, no managed identity) is a 502 that names the fix and is never retried; ARM or Entra ID
 * throttling, a 5xx or a broken connection is transient: a 503, and retried by the run path.
 */
export class CredentialError extends AppError {
  override name = 'CredentialError';
  override readonly status: number;
  override readonly reason: string;
  readonly transient: boolean;
  /** Azure throttled the app (429) and said for how long, in milliseconds. */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options: { cause?: unknown; transient?: boolean; retryAfterMs?: number | undefined } = {}) {
    super(message, { cause: options.cause });
    this.transient = options.transient ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.status = this.transient ? 503 : 502;
    this.reason = this.transient ? 'ClusterCredentialsUnavailable' : 'ClusterCredentials';
  }
}

/** Network failures of @azure/core-rest-pipeline and Node, where no HTTP answer came back. */
const NO_ANSWER_CODES = new Set(['REQUEST_SEND_ERROR', 'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

const IDENTITY_HINT =
  "the app's managed identity could not get a token: check that the identity is assigned to the app and MANAGED_IDENTITY_CLIENT_ID names it";
const ROLE_HINT = 'the app identity needs "Azure Kubernetes Service Cluster User Role" on the cluster';
/** @azure/identity's errors for a credential that cannot be used at all (no identity, none of a chain). */
const IDENTITY_ERRORS = new Set(['CredentialUnavailableError', 'AggregateAuthenticationError']);

/**
 * Whether a failure of ARM (`arm`) or of getting an Entra ID token (`token`) is worth another try, and
 * what a person should check if not.
 */
export function classifyAzureFailure(err: unknown, during: 'arm' | 'token'): { transient: boolean; hint: string } {
  const { name, statusCode, code } = (err ?? {}) as { name?: unknown; statusCode?: unknown; code?: unknown };
  const status = typeof statusCode === 'number' ? statusCode : undefined;
  if (status === 429 || (status !== undefined && status >= 500)) return { transient: true, hint: 'Azure did not answer properly; the call is retried' };
  if ((typeof code === 'string' && NO_ANSWER_CODES.has(code)) || name === 'AbortError' || name === 'TimeoutError' || (name === 'RestError' && status === undefined)) {
    return { transient: true, hint: 'Azure did not answer; the call is retried' };
  }
  if (typeof name === 'string' && IDENTITY_ERRORS.has(name)) return { transient: false, hint: IDENTITY_HINT };
  if (during === 'token') return { transient: false, hint: IDENTITY_HINT };
  if (status === 404) return { transient: false, hint: 'check subscriptionId, resourceGroup and clusterName of this cluster in CLUSTERS' };
  return { transient: false, hint: ROLE_HINT };
}

/** ARM's throttling: a 429 (or a 503 that says when to come back), and how long to stay away. */
export function azureThrottle(err: unknown, now: Date): number | undefined {
  const { statusCode, response } = (err ?? {}) as { statusCode?: unknown; response?: { headers?: { get?: (name: string) => string | undefined } } };
  if (statusCode !== 429 && statusCode !== 503) return undefined;
  const header = typeof response?.headers?.get === 'function' ? response.headers.get('retry-after') : undefined;
  const after = retryAfterMs(header, now);
  if (after !== undefined) return after;
  return statusCode === 429 ? ARM_DEFAULT_THROTTLE_MS : undefined;
}

/** A 401 this soon after a reload of the credentials was for the ones it replaced: no second reload. */
const REFRESH_SHARED_MS = 5_000;

/** How long the app leaves ARM alone after a 429 that does not say. */
export const ARM_DEFAULT_THROTTLE_MS = 10_000;

function fingerprint(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value ?? null)).digest('hex');
}

/** A kubeconfig file on disk, for development and non-AKS clusters. Read once; re-read after a 401. */
export class KubeconfigFileSource implements ConnectionSource {
  /** Callers that come while client-node loads or the file is read wait for that same read. */
  private cached: Promise<KubeConfig> | undefined;

  constructor(
    private readonly path: string,
    private readonly context?: string,
  ) {}

  kubeConfig(): Promise<KubeConfig> {
    if (!this.cached) {
      const reading = this.read();
      // A file that could not be read is read again by the next call.
      reading.catch(() => {
        if (this.cached === reading) this.cached = undefined;
      });
      this.cached = reading;
    }
    return this.cached;
  }

  /** Read the file again; true when its user or cluster changed (a rotated credential). */
  async refresh(): Promise<boolean> {
    const before = this.cached;
    this.cached = undefined;
    const used = await before?.then(
      (kc) => fingerprint([kc.getCurrentUser(), kc.getCurrentCluster()]),
      () => undefined,
    );
    const kc = await this.kubeConfig();
    return fingerprint([kc.getCurrentUser(), kc.getCurrentCluster()]) !== used;
  }

  private async read(): Promise<KubeConfig> {
    const { KubeConfig } = await load('@kubernetes/client-node');
    const kc = new KubeConfig();
    try {
      kc.loadFromFile(this.path);
      if (this.context) kc.setCurrentContext(this.context);
    } catch (err) {
      throw new CredentialError(`could not read the kubeconfig file "${this.path}": ${err instanceof Error ? err.message : String(err)}. Check kubeconfigPath in CLUSTERS`, { cause: err });
    }
    return kc;
  }
}

interface ClusterInfo {
  kc: KubeConfig;
  fetchedAt: number;
  /** Entra ID cluster: every request carries a bearer token for AKS_AAD_SCOPE. */
  entra: boolean;
  /** Of the kubeconfig ARM returned, to tell a rotated local-account credential from the same one. */
  fingerprint: string;
}

/**
 * An AKS cluster reached with the app's identity: ARM's listClusterUserCredentials gives server and CA; on
 * Entra ID clusters each request gets a bearer token from @azure/identity (what kubelogin's msi mode does,
 * without the binary); on local-account clusters the returned kubeconfig user is used as is.
 * Credentials live only in this process's memory.
 */
export class AksSource implements ConnectionSource {
  private info: Promise<ClusterInfo> | undefined;
  private token: AccessToken | undefined;
  /** The credential last handed out (token or kubeconfig, as a fingerprint): what a 401 refused. */
  private used: string | undefined;
  /** Single flights: N callers that need the same thing at once make one call for it. */
  private tokenPending: Promise<AccessToken | null> | undefined;
  private refreshing: Promise<boolean> | undefined;
  private lastRefresh: { at: number; changed: boolean } | undefined;
  /** ARM throttled the app: no call to it before this instant, and the same transient error meanwhile. */
  private armQuiet: { until: number; error: CredentialError } | undefined;

  constructor(
    private readonly settings: AksClusterSettings,
    private readonly management: AksManagement,
    private readonly credential: TokenCredential,
    private readonly now: () => number = Date.now,
    /** ALLOW_LOCAL_ACCOUNT_CLUSTERS: accept a cluster whose credentials are an admin certificate. */
    private readonly allowLocalAccounts = false,
  ) {}

  async kubeConfig(): Promise<KubeConfig> {
    this.info ??= this.loadOnce();
    const pending = this.info;
    let info = await pending;
    if (this.now() - info.fetchedAt > CLUSTER_INFO_TTL_MS) {
      // Only the first caller to find it stale reloads; the others wait for that same load.
      if (this.info === pending) this.info = this.loadOnce();
      info = await this.info;
    }
    if (info.entra) await this.freshToken();
    else this.used = info.fingerprint;
    return info.kc;
  }

  /**
   * After a 401: load the cluster's details and credentials again. True only when they differ from the ones
   * refused; @azure/identity keeps managed-identity tokens in its own cache (GetTokenOptions has no way to
   * bypass it), so the same token often comes back, and sending it again would only be refused again.
   */
  refresh(): Promise<boolean> {
    // Calls refused together share one reload, also those whose 401 comes just after it: they sent the
    // credentials it replaced, and retry with the new ones.
    const recent = this.lastRefresh;
    if (!this.refreshing && recent && this.now() - recent.at < REFRESH_SHARED_MS) return Promise.resolve(recent.changed);
    this.refreshing ??= this.reload()
      .then((changed) => {
        this.lastRefresh = { at: this.now(), changed };
        return changed;
      })
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  private async reload(): Promise<boolean> {
    const refused = this.used;
    this.info = undefined;
    this.token = undefined;
    await this.kubeConfig();
    return this.used !== refused;
  }

  private async freshToken(): Promise<string> {
    if (!this.token || this.token.expiresOnTimestamp - this.now() < TOKEN_REFRESH_MARGIN_MS) {
      let token: AccessToken | null;
      try {
        // The token is kept before the flight ends, so a caller that comes in between finds it.
        this.tokenPending ??= this.credential
          .getToken(AKS_AAD_SCOPE)
          .then((fresh) => {
            if (fresh) this.token = fresh;
            return fresh;
          })
          .finally(() => {
            this.tokenPending = undefined;
          });
        token = await this.tokenPending;
      } catch (err) {
        const { transient, hint } = classifyAzureFailure(err, 'token');
        throw new CredentialError(
          `could not get a token for AKS cluster "${this.settings.clusterName}" (alias "${this.settings.alias}"): ${err instanceof Error ? err.message : String(err)}. ${hint}`,
          { cause: err, transient },
        );
      }
      if (!token) throw new CredentialError(`no token for the AKS server application for cluster "${this.settings.alias}"`);
      this.token = token;
    }
    this.used = fingerprint(this.token.token);
    return this.token.token;
  }

  /** One load shared by concurrent callers; a failed load is forgotten so the next call tries again. */
  private loadOnce(): Promise<ClusterInfo> {
    const pending = this.load();
    pending.catch(() => {
      if (this.info === pending) this.info = undefined;
    });
    return pending;
  }

  private async load(): Promise<ClusterInfo> {
    const { alias, clusterName, resourceGroup } = this.settings;
    if (this.armQuiet && this.now() < this.armQuiet.until) throw this.armQuiet.error;
    let yaml: string;
    let cluster: Awaited<ReturnType<AksManagement['getCluster']>>;
    try {
      [cluster, yaml] = await Promise.all([this.management.getCluster(this.settings), this.management.userKubeconfig(this.settings)]);
    } catch (err) {
      const { transient, hint } = classifyAzureFailure(err, 'arm');
      const quietMs = azureThrottle(err, new Date(this.now()));
      const reason = err instanceof Error ? err.message : String(err);
      const error = new CredentialError(
        quietMs === undefined
          ? `could not get credentials of AKS cluster "${clusterName}" in resource group "${resourceGroup}" (alias "${alias}"): ${reason}. ${hint}`
          : `Azure Resource Manager throttled the app while it got the credentials of AKS cluster "${clusterName}" (alias "${alias}"): ${reason}. The app asks again after ${Math.ceil(quietMs / 1000)}s`,
        { cause: err, transient, retryAfterMs: quietMs },
      );
      // Honour ARM's Retry-After for the whole cluster: every caller in that window gets this error, not a call.
      if (quietMs !== undefined) this.armQuiet = { until: this.now() + quietMs, error };
      throw error;
    }
    const { KubeConfig } = await load('@kubernetes/client-node');
    const raw = new KubeConfig();
    raw.loadFromString(yaml);
    const server = raw.getCurrentCluster();
    if (!server) throw new CredentialError(`the kubeconfig of AKS cluster "${clusterName}" names no cluster`);
    const entra = cluster.aadProfile !== undefined;
    if (!entra && !this.allowLocalAccounts) {
      // Without Entra ID the "user" credentials are the cluster-admin certificate: no Role or namespace limits it.
      throw new CredentialError(
        `AKS cluster "${clusterName}" (alias "${alias}") uses local accounts, not Microsoft Entra ID: its user credentials are a cluster-admin certificate, ` +
          'which would give this app, and through it every holder of a function key, full control of the cluster (Secrets and kube-system included). ' +
          'The app refuses such clusters. Enable Microsoft Entra ID integration on the cluster (az aks update --enable-aad), or accept that risk with the app setting ALLOW_LOCAL_ACCOUNT_CLUSTERS=true.',
      );
    }
    const serverUrl = serverUrlFor(server.server, this.settings, cluster);
    const print = fingerprint(yaml);
    if (!entra) {
      if (serverUrl !== server.server) {
        raw.loadFromOptions({
          clusters: raw.clusters.map((c) => (c.name === server.name ? { ...c, server: serverUrl } : c)),
          users: raw.users,
          contexts: raw.contexts,
          currentContext: raw.getCurrentContext(),
        });
      }
      return { kc: raw, fetchedAt: this.now(), entra, fingerprint: print };
    }

    // Only server and CA are taken: the file's user would exec kubelogin, which a Functions host does not have.
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: alias, server: serverUrl, caData: server.caData, skipTLSVerify: server.skipTLSVerify }],
      users: [{ name: alias, authProvider: { name: AUTH_PROVIDER, config: {} } }],
      contexts: [{ name: alias, cluster: alias, user: alias }],
      currentContext: alias,
    });
    kc.addAuthenticator({
      isAuthProvider: (user) => (user.authProvider as { name?: string } | undefined)?.name === AUTH_PROVIDER,
      applyAuthentication: async (_user, opts) => {
        const token = await this.freshToken();
        // opts is https.RequestOptions or ws.ClientOptions; both take headers the same way.
        const target = opts as { headers?: Record<string, unknown> };
        target.headers = { ...target.headers, Authorization: `Bearer ${token}` };
      },
    });
    return { kc, fetchedAt: this.now(), entra, fingerprint: print };
  }
}

/**
 * AksManagement on @azure/arm-containerservice. Loaded lazily: local development never needs ARM. `options` are
 * the SDK client's (tests give it an HTTP client of their own).
 */
export async function armManagement(credential: TokenCredential, options?: ContainerServiceClientOptionalParams): Promise<AksManagement> {
  const { ContainerServiceClient } = await load('@azure/arm-containerservice');
  const clients = new Map<string, InstanceType<typeof ContainerServiceClient>>();
  const client = (subscriptionId: string) => {
    let c = clients.get(subscriptionId);
    if (!c) {
      c = new ContainerServiceClient(credential, subscriptionId, options);
      clients.set(subscriptionId, c);
    }
    return c;
  };
  return {
    getCluster: (s) => client(s.subscriptionId).managedClusters.get(s.resourceGroup, s.clusterName),
    userKubeconfig: async (s) => {
      // No server-fqdn: ARM takes it as a type of server ("public" asks for a private cluster's public FQDN),
      // not a host name. Without it a private cluster's kubeconfig names its private FQDN; a serverFqdn of
      // CLUSTERS is put in by serverUrlFor.
      const result = await client(s.subscriptionId).managedClusters.listClusterUserCredentials(s.resourceGroup, s.clusterName);
      const value = result.kubeconfigs?.[0]?.value;
      if (!value) throw new Error('listClusterUserCredentials returned no kubeconfig');
      return new TextDecoder().decode(value);
    },
  };
}
