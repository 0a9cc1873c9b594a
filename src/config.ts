import * as z from 'zod';

import { type CallbackUrlRule, parseCallbackAllowedUrls } from './core/callback-url.js';
import { parseAllowedUrls, parseFallbackImages, type RunPolicy, type UrlRule } from './core/consent.js';
import { ConfigError } from './core/errors.js';
import { MAX_FOLLOW_SEGMENT_SECONDS } from './core/follow.js';
import { parseSigningSecrets, type SigningSecret } from './core/webhook-signature.js';

/**
 * Every setting the app reads, parsed once at start-up. Nothing else reads process.env. Empty strings count as
 * unset, so a blank app setting falls back to its default instead of failing as "not a number".
 */

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const namespaceName = z
  .string()
  .refine((s) => s === '*' || (s.length <= 63 && dnsLabel.test(s)), 'a namespace name (DNS label) or "*"');

const aksCluster = z.object({
  alias: z.string().regex(/^[A-Za-z0-9][-A-Za-z0-9_.]{0,62}$/, 'letters, digits, - _ . (at most 63)'),
  type: z.literal('aks'),
  subscriptionId: z.guid(),
  resourceGroup: z.string().min(1),
  clusterName: z.string().min(1),
  namespaces: z.array(namespaceName).min(1),
  /** Private clusters: which of the cluster's names (private or public FQDN) the app connects to (clients/credentials.ts). */
  serverFqdn: z.string().min(1).optional(),
});

const kubeconfigCluster = z.object({
  alias: aksCluster.shape.alias,
  type: z.literal('kubeconfig'),
  kubeconfigPath: z.string().min(1),
  context: z.string().min(1).optional(),
  namespaces: z.array(namespaceName).min(1),
});

const clusterSchema = z.discriminatedUnion('type', [aksCluster, kubeconfigCluster]);
export type ClusterSettings = z.infer<typeof clusterSchema>;
export type AksClusterSettings = z.infer<typeof aksCluster>;

const seconds = (fallback: number, min = 0) => z.coerce.number().int().min(min).default(fallback);

/** A Job's own deadline when its source sets none: a day, long for a batch run, short of a forgotten one. */
const JOB_DEADLINE = 24 * 3600;
/** A run's default timeout: the Job's deadline plus an hour for pulling, scheduling and the last polls. */
const DEFAULT_RUN_TIMEOUT = JOB_DEADLINE + 3600;
/** A CPU or memory quantity as Kubernetes writes them (`100m`, `1`, `512Mi`, `1G`). */
const quantity = (fallback: string) =>
  z
    .string()
    .regex(/^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/, 'a Kubernetes quantity, e.g. 100m, 1, 256Mi')
    .default(fallback);
const callerPolicy = z.strictObject({
  clusters: z.array(z.string().min(1)).optional(),
  namespaces: z.array(namespaceName).optional(),
  fallback: z.boolean().optional(),
});
export type CallerPolicy = z.infer<typeof callerPolicy>;

/** A setting that holds JSON: its text parsed, or an issue that says it is not JSON. */
function parseJson(text: string, ctx: z.RefinementCtx): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'not valid JSON' });
    return z.NEVER;
  }
}

const envSchema = z.object({
  CLUSTERS: z
    .string({ error: 'required: a JSON array of clusters, e.g. [{"alias":"prod","type":"aks",...}]' })
    .transform(parseJson)
    .pipe(
      z
        .array(clusterSchema)
        .min(1)
        .refine((list) => new Set(list.map((c) => c.alias)).size === list.length, 'cluster aliases must be unique'),
    ),
  DEFAULT_CLUSTER: z.string().optional(),
  AZURE_CLIENT_ID: z.string().optional(),
  AZURE_PORTAL_URL: z.url().default('https://portal.azure.com'),
  POLL_INITIAL_SECONDS: seconds(5, 1),
  POLL_MAX_SECONDS: seconds(60, 1),
  POLL_BACKOFF_FACTOR: z.coerce.number().min(1).max(10).default(1.5),
  CONTINUE_AS_NEW_AFTER_POLLS: seconds(50, 1),
  MAX_OBSERVE_FAILURES: seconds(10, 1),
  DEFAULT_RUN_TIMEOUT_SECONDS: seconds(DEFAULT_RUN_TIMEOUT, 1),
  GRACE_IMAGE_PULL_SECONDS: seconds(120),
  GRACE_CONTAINER_CONFIG_SECONDS: seconds(60),
  GRACE_UNSCHEDULABLE_SECONDS: seconds(600),
  GRACE_QUOTA_SECONDS: seconds(300),
  KUBE_REQUEST_TIMEOUT_SECONDS: seconds(30, 1),
  ACTIVITY_RETRY_FIRST_SECONDS: seconds(5, 1),
  ACTIVITY_RETRY_MAX_ATTEMPTS: seconds(5, 1),
  STATUS_RETRY_AFTER_SECONDS: seconds(10, 1),
  LOGS_ACCOUNT_URL: z.url().optional(),
  LOGS_CONNECTION_STRING: z.string().optional(),
  LOGS_CONTAINER: z
    .string()
    .regex(/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/, 'a blob container name: 3-63 lower-case letters, digits and single hyphens')
    .default('run-logs'),
  LOGS_MAX_BYTES_PER_CONTAINER: z.coerce.number().int().min(1024).max(256 * 1024 * 1024).default(4 * 1024 * 1024),
  /** The audit trail's container, in the logs archive's account: one append blob per day. */
  AUDIT_CONTAINER: z
    .string()
    .regex(/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/, 'a blob container name: 3-63 lower-case letters, digits and single hyphens')
    .default('audit'),
  // A followed log's segment ends well before the host cuts a response at 230 s (MAX_FOLLOW_SEGMENT_SECONDS).
  LOGS_FOLLOW_SEGMENT_SECONDS: z.coerce.number().int().min(1).max(MAX_FOLLOW_SEGMENT_SECONDS).default(120),
  LOGS_FOLLOW_MAX_STREAMS: z.coerce.number().int().min(1).max(1000).default(50),
  LOGS_FOLLOW_MAX_STREAMS_PER_CALLER: z.coerce.number().int().min(1).max(1000).default(10),
  PUBLIC_BASE_URL: z
    .url({ protocol: /^https?$/, error: 'an http(s) URL, e.g. https://gateway.contoso.com/aks-jobs' })
    .refine((u) => !u.includes('?') && !u.includes('#'), 'no query string or fragment: the URL that stands for the app\'s /api')
    .optional(),
  TRUST_FORWARDED_HEADERS: z.stringbool({ error: 'true or false' }).default(false),
  ALLOW_LOCAL_ACCOUNT_CLUSTERS: z.stringbool({ error: 'true or false' }).default(false),
  DISCOVERY_SHOW_ENV_VALUES: z.stringbool({ error: 'true or false' }).default(true),
  /** The curl image of httpCall CronJobs, pinned: a moving tag would change what every scheduled call runs. */
  HTTP_CALL_IMAGE: z.string().min(1).default('curlimages/curl:8.11.1'),
  /** URL prefixes httpCall CronJobs may call; empty: httpCall is off (a key must not reach any URL, in-cluster ones included). */
  HTTP_CALL_ALLOWED_URLS: z
    .string()
    .default('')
    .transform((text, ctx) => {
      try {
        return parseAllowedUrls(text);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
        return z.NEVER;
      }
    }),
  SCHEDULER_ENABLED: z.stringbool({ error: 'true or false' }).default(true),
  FALLBACK_IMAGES: z
    .string()
    .default('')
    .transform((text, ctx) => {
      try {
        return parseFallbackImages(text);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
        return z.NEVER;
      }
    }),
  FALLBACK_CPU_REQUEST: quantity('100m'),
  FALLBACK_CPU_LIMIT: quantity('1'),
  FALLBACK_MEMORY_REQUEST: quantity('128Mi'),
  FALLBACK_MEMORY_LIMIT: quantity('512Mi'),
  FALLBACK_RUN_AS_USER: z.coerce.number().int().min(1, 'a non-root user id (1 or more)').default(65532),
  JOB_ACTIVE_DEADLINE_SECONDS: seconds(JOB_DEADLINE, 1),
  MAX_RUN_TIMEOUT_SECONDS: seconds(7 * 24 * 3600, 1),
  MAX_ACTIVE_RUNS_PER_CLUSTER: seconds(200, 1),
  SOURCES_OPT_IN: z.stringbool({ error: 'true or false' }).default(false),
  EASY_AUTH_ENABLED: z.stringbool({ error: 'true or false' }).default(false),
  CALLER_POLICIES: z
    .string()
    .default('{}')
    .transform(parseJson)
    .pipe(z.record(z.string().min(1), callerPolicy)),
  OBSERVE_BATCHING: z.stringbool({ error: 'true or false' }).default(true),
  /** Where callbacks may go (core/callback-url.ts); unset: the Logic Apps and Power Automate callback hosts. */
  CALLBACK_ALLOWED_URLS: z
    .string()
    .optional()
    .transform((text, ctx) => {
      try {
        return parseCallbackAllowedUrls(text);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
        return z.NEVER;
      }
    }),
  /** The Event Grid topic run events are published to, with the app's identity (clients/eventgrid.ts). */
  EVENT_GRID_TOPIC_ENDPOINT: z
    .url({ protocol: /^https$/, error: 'an https URL, the topic\'s endpoint, e.g. https://evgt-abc.westeurope-1.eventgrid.azure.net/api/events' })
    .refine((u) => !u.includes('?') && !u.includes('#'), 'no query string or fragment: the topic endpoint, published to with the app\'s identity (never a key)')
    .optional(),
  /** Standard Webhooks secrets callbacks are signed with (core/webhook-signature.ts); never in a message. */
  WEBHOOK_SIGNING_SECRET: z
    .string()
    .optional()
    .transform((text, ctx) => {
      try {
        return parseSigningSecrets(text);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
        return z.NEVER;
      }
    }),
  /** An OTLP/HTTP endpoint (a collector, Jaeger, Grafana...) the app's traces, metrics and logs also go to; unset: none. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/, error: 'an http(s) URL, e.g. http://127.0.0.1:4318' }).optional(),
  /** How often metrics are exported, in milliseconds (OpenTelemetry's own setting name and default). */
  OTEL_METRIC_EXPORT_INTERVAL: z.coerce.number().int().min(1000).max(3_600_000).default(60_000),
});

/** Where the links in answers point (statusUrl, Location, runUrl...). */
export interface LinkSettings {
  /** The public URL of the app's `/api` prefix behind a gateway, without a trailing slash. */
  readonly publicBaseUrl: string | undefined;
  /** Build links from Forwarded / X-Forwarded-* headers (only behind a gateway that sets them). */
  readonly trustForwardedHeaders: boolean;
}

export interface GracePeriods {
  imagePullSeconds: number;
  containerConfigSeconds: number;
  unschedulableSeconds: number;
  quotaSeconds: number;
}

export interface PollPolicy {
  initialSeconds: number;
  maxSeconds: number;
  factor: number;
  continueAsNewAfter: number;
  /** Polls in a row that could not read the run before it ends as Failed (ObserveFailed). */
  maxObserveFailures: number;
}

/**
 * Where the logs archive lives: an account URL reached with the app's identity (Azure), or a connection string
 * (Azurite, development). Never logged: a connection string may hold a key.
 */
export type LogsStorage = { kind: 'identity'; accountUrl: string } | { kind: 'connectionString'; connectionString: string };

export interface LogsArchiveSettings {
  /** null: no archive configured; runs end without one and say so. */
  readonly storage: LogsStorage | null;
  readonly container: string;
  readonly maxBytesPerContainer: number;
  readonly follow: FollowSettings;
}

/** Following a run's log: how long one response lasts, and how many may be open on one instance at once. */
export interface FollowSettings {
  readonly segmentSeconds: number;
  readonly maxStreams: number;
  readonly maxStreamsPerCaller: number;
}

export interface Config {
  readonly clusters: readonly ClusterSettings[];
  readonly defaultCluster: string;
  readonly managedIdentityClientId: string | undefined;
  readonly portalUrl: string;
  readonly poll: Readonly<PollPolicy>;
  readonly defaultRunTimeoutSeconds: number;
  readonly grace: Readonly<GracePeriods>;
  readonly kubeRequestTimeoutMs: number;
  readonly activityRetry: { readonly firstRetryMs: number; readonly maxAttempts: number };
  readonly statusRetryAfterSeconds: number;
  readonly logs: LogsArchiveSettings;
  /** The audit trail's blob container, in the logs archive's account (none without one). */
  readonly auditContainer: string;
  readonly links: LinkSettings;
  /** AKS clusters without Entra ID hand out an admin certificate; refused unless this is true. */
  readonly allowLocalAccountClusters: boolean;
  /** Discovery shows the values of plain env vars (the seed's Polysync reads them as defaults); false hides them. */
  readonly discoveryShowsEnvValues: boolean;
  readonly httpCallImage: string;
  readonly httpCallAllowedUrls: readonly UrlRule[];
  /** Whether the timer fires the CronJobs handed over to the app. */
  readonly schedulerEnabled: boolean;
  /** What a run may be made of: consent of sources, fallback images and their pod spec, the Job deadline. */
  readonly runPolicy: RunPolicy;
  /** The longest timeoutSeconds a caller may ask for. */
  readonly maxRunTimeoutSeconds: number;
  /** Unfinished runs of the app per cluster past which a start answers 429. */
  readonly maxActiveRunsPerCluster: number;
  /** Observes of one namespace share one list of Jobs and one of pods per poll window; false: each run reads its own. */
  readonly observeBatching: boolean;
  readonly callers: CallerSettings;
  /** URL prefixes callbacks may go to (CALLBACK_ALLOWED_URLS); empty: callbacks are off. */
  readonly callbackAllowedUrls: readonly CallbackUrlRule[];
  /**
   * Not on an Azure host (the local runtime, Core Tools): callbacks may go to plain HTTP on loopback and to
   * private addresses. Not a setting: the platform's own variables decide, so no configuration can turn it on in
   * Azure (App Service sets WEBSITE_SITE_NAME and WEBSITE_INSTANCE_ID on every plan; either one means Azure).
   */
  readonly callbacksLocal: boolean;
  /** Secrets each callback is signed with, the newest first (WEBHOOK_SIGNING_SECRET); empty: not signed. */
  readonly webhookSigningSecrets: readonly SigningSecret[];
  /** The Event Grid topic run events go to (EVENT_GRID_TOPIC_ENDPOINT); undefined: none. */
  readonly eventGridTopicEndpoint: string | undefined;
  readonly telemetry: TelemetrySettings;
}

/**
 * Where the app's OpenTelemetry traces, metrics and logs go (src/clients/telemetry.ts); nowhere when both are null.
 * Application Insights' two settings are the Functions host's own (it exports the host's telemetry with them
 * when host.json says telemetryMode OpenTelemetry); the app reads them too, so both land in one resource.
 */
export interface TelemetrySettings {
  readonly azureMonitor: {
    /** Identifies the resource; with local auth off its instrumentation key cannot write to it. Never logged. */
    readonly connectionString: string;
    /** APPLICATIONINSIGHTS_AUTHENTICATION_STRING says Authorization=AAD: send with an Entra token of this identity. */
    readonly entra: { readonly clientId: string | undefined } | null;
  } | null;
  readonly otlp: { readonly endpoint: string } | null;
  readonly metricExportIntervalMs: number;
  /**
   * The function app's name (WEBSITE_SITE_NAME, set by the platform, not an app setting); undefined off Azure. The
   * host names its own telemetry's service after it (its FunctionsResourceDetector), so the app's telemetry takes
   * it too: one cloud role in Application Insights for the host and the app.
   */
  readonly siteName: string | undefined;
}

/** Who callers are and what each may do. */
export interface CallerSettings {
  /** App Service Authentication runs in front of the app, so its X-MS-CLIENT-PRINCIPAL headers can be trusted. */
  readonly easyAuth: boolean;
  /** Per caller, keyed by Entra application (client) id, or `key` for function-key callers. */
  readonly policies: Readonly<Record<string, CallerPolicy>>;
}

/** The names of every setting, for docs, infra checks and tests. */
export const SETTING_NAMES = Object.keys(envSchema.shape) as (keyof z.infer<typeof envSchema>)[];
/** The settings with no default. */
export const REQUIRED_SETTINGS = ['CLUSTERS'] as const;

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const raw = Object.fromEntries(
    SETTING_NAMES.map((name) => [name, env[name] === undefined || env[name].trim() === '' ? undefined : env[name]]),
  );
  // Parsed once per process: zod's compiled fast path for objects (generated with `new Function` on an object
  // schema's first parse) would cost more to build than this one parse saves, at every cold start.
  const parsed = envSchema.safeParse(raw, { jitless: true });
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const [setting, ...rest] = issue.path;
      const where = rest.length > 0 ? `${String(setting)} at ${rest.join('.')}` : String(setting);
      return `- ${where}: ${issue.message}`;
    });
    throw new ConfigError(`Invalid app settings:\n${lines.join('\n')}`);
  }
  const s = parsed.data;
  const defaultCluster = s.DEFAULT_CLUSTER ?? s.CLUSTERS[0]?.alias ?? '';
  if (!s.CLUSTERS.some((c) => c.alias === defaultCluster)) {
    throw new ConfigError(
      `Invalid app settings:\n- DEFAULT_CLUSTER: "${defaultCluster}" is not one of the aliases in CLUSTERS (${s.CLUSTERS.map((c) => c.alias).join(', ')})`,
    );
  }
  if (s.DEFAULT_RUN_TIMEOUT_SECONDS > s.MAX_RUN_TIMEOUT_SECONDS) {
    throw new ConfigError('Invalid app settings:\n- DEFAULT_RUN_TIMEOUT_SECONDS: must be at most MAX_RUN_TIMEOUT_SECONDS');
  }
  if (s.POLL_MAX_SECONDS < s.POLL_INITIAL_SECONDS) {
    throw new ConfigError('Invalid app settings:\n- POLL_MAX_SECONDS: must be at least POLL_INITIAL_SECONDS');
  }
  if (s.LOGS_ACCOUNT_URL && s.LOGS_CONNECTION_STRING) {
    throw new ConfigError('Invalid app settings:\n- LOGS_ACCOUNT_URL, LOGS_CONNECTION_STRING: set one of them, not both');
  }
  return Object.freeze({
    clusters: Object.freeze(s.CLUSTERS),
    defaultCluster,
    managedIdentityClientId: s.AZURE_CLIENT_ID,
    portalUrl: s.AZURE_PORTAL_URL.replace(/\/+$/, ''),
    poll: Object.freeze({
      initialSeconds: s.POLL_INITIAL_SECONDS,
      maxSeconds: s.POLL_MAX_SECONDS,
      factor: s.POLL_BACKOFF_FACTOR,
      continueAsNewAfter: s.CONTINUE_AS_NEW_AFTER_POLLS,
      maxObserveFailures: s.MAX_OBSERVE_FAILURES,
    }),
    defaultRunTimeoutSeconds: s.DEFAULT_RUN_TIMEOUT_SECONDS,
    grace: Object.freeze({
      imagePullSeconds: s.GRACE_IMAGE_PULL_SECONDS,
      containerConfigSeconds: s.GRACE_CONTAINER_CONFIG_SECONDS,
      unschedulableSeconds: s.GRACE_UNSCHEDULABLE_SECONDS,
      quotaSeconds: s.GRACE_QUOTA_SECONDS,
    }),
    kubeRequestTimeoutMs: s.KUBE_REQUEST_TIMEOUT_SECONDS * 1000,
    activityRetry: Object.freeze({ firstRetryMs: s.ACTIVITY_RETRY_FIRST_SECONDS * 1000, maxAttempts: s.ACTIVITY_RETRY_MAX_ATTEMPTS }),
    statusRetryAfterSeconds: s.STATUS_RETRY_AFTER_SECONDS,
    logs: Object.freeze({
      storage: logsStorage(s),
      container: s.LOGS_CONTAINER,
      maxBytesPerContainer: s.LOGS_MAX_BYTES_PER_CONTAINER,
      follow: Object.freeze({
        segmentSeconds: s.LOGS_FOLLOW_SEGMENT_SECONDS,
        maxStreams: s.LOGS_FOLLOW_MAX_STREAMS,
        maxStreamsPerCaller: s.LOGS_FOLLOW_MAX_STREAMS_PER_CALLER,
      }),
    }),
    auditContainer: s.AUDIT_CONTAINER,
    links: Object.freeze({ publicBaseUrl: s.PUBLIC_BASE_URL?.replace(/\/+$/, ''), trustForwardedHeaders: s.TRUST_FORWARDED_HEADERS }),
    allowLocalAccountClusters: s.ALLOW_LOCAL_ACCOUNT_CLUSTERS,
    discoveryShowsEnvValues: s.DISCOVERY_SHOW_ENV_VALUES,
    httpCallImage: s.HTTP_CALL_IMAGE,
    httpCallAllowedUrls: Object.freeze(s.HTTP_CALL_ALLOWED_URLS),
    schedulerEnabled: s.SCHEDULER_ENABLED,
    runPolicy: Object.freeze({
      sourcesOptIn: s.SOURCES_OPT_IN,
      jobActiveDeadlineSeconds: s.JOB_ACTIVE_DEADLINE_SECONDS,
      fallback: Object.freeze({
        images: Object.freeze(s.FALLBACK_IMAGES),
        resources: {
          requests: { cpu: s.FALLBACK_CPU_REQUEST, memory: s.FALLBACK_MEMORY_REQUEST },
          limits: { cpu: s.FALLBACK_CPU_LIMIT, memory: s.FALLBACK_MEMORY_LIMIT },
        },
        runAsUser: s.FALLBACK_RUN_AS_USER,
      }),
    }),
    maxRunTimeoutSeconds: s.MAX_RUN_TIMEOUT_SECONDS,
    maxActiveRunsPerCluster: s.MAX_ACTIVE_RUNS_PER_CLUSTER,
    callers: Object.freeze({ easyAuth: s.EASY_AUTH_ENABLED, policies: Object.freeze(s.CALLER_POLICIES) }),
    observeBatching: s.OBSERVE_BATCHING,
    callbackAllowedUrls: Object.freeze(s.CALLBACK_ALLOWED_URLS),
    webhookSigningSecrets: Object.freeze(s.WEBHOOK_SIGNING_SECRET),
    eventGridTopicEndpoint: s.EVENT_GRID_TOPIC_ENDPOINT,
    telemetry: Object.freeze({
      azureMonitor: azureMonitorOf(env),
      otlp: s.OTEL_EXPORTER_OTLP_ENDPOINT ? Object.freeze({ endpoint: s.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '') }) : null,
      metricExportIntervalMs: s.OTEL_METRIC_EXPORT_INTERVAL,
      siteName: env.WEBSITE_SITE_NAME?.trim() || undefined,
    }),
    callbacksLocal: (env.WEBSITE_SITE_NAME ?? '') === '' && (env.WEBSITE_INSTANCE_ID ?? '') === '',
  });
}

/**
 * The host's Application Insights settings, as the host reads them: `Authorization=AAD` (and `ClientId=` for a
 * user-assigned identity) in the authentication string means Entra tokens instead of the instrumentation key.
 */
function azureMonitorOf(env: Record<string, string | undefined>): TelemetrySettings['azureMonitor'] {
  const connectionString = env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim();
  if (!connectionString) return null;
  const parts = new Map(
    (env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING ?? '')
      .split(';')
      .map((part) => part.split('=').map((x) => x.trim()))
      .filter(([name]) => name)
      .map(([name, ...value]) => [String(name).toLowerCase(), value.join('=')]),
  );
  const entra = parts.get('authorization')?.toUpperCase() === 'AAD' ? Object.freeze({ clientId: parts.get('clientid') || undefined }) : null;
  return Object.freeze({ connectionString, entra });
}

/**
 * The archive's account, named explicitly (infra sets LOGS_ACCOUNT_URL; the dev runtime, the demo and the tests
 * LOGS_CONNECTION_STRING): never guessed from the host's storage settings, whose shape differs by host.
 */
function logsStorage(s: z.infer<typeof envSchema>): LogsStorage | null {
  if (s.LOGS_CONNECTION_STRING) return { kind: 'connectionString', connectionString: s.LOGS_CONNECTION_STRING };
  if (s.LOGS_ACCOUNT_URL) return { kind: 'identity', accountUrl: s.LOGS_ACCOUNT_URL };
  return null;
}

/**
 * Namespaces of the cluster itself and of its add-ons (AKS's own, Gatekeeper for Azure Policy, Calico, Istio,
 * app routing, Flux...): whoever runs a Job there runs it next to the platform, often with its service accounts.
 */
const SYSTEM_NAMESPACE = /^(kube-.*|aks-.*|.*-system|tigera-operator|dataprotection-microsoft)$/;

export function isSystemNamespace(namespace: string): boolean {
  return SYSTEM_NAMESPACE.test(namespace);
}

/** The namespaces a cluster allows: the ones listed; `*` adds every other one except system namespaces. */
export function namespaceAllowed(cluster: ClusterSettings, namespace: string): boolean {
  return cluster.namespaces.includes(namespace) || (cluster.namespaces.includes('*') && !isSystemNamespace(namespace));
}
