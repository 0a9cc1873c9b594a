import { describe, expect, it, vi } from 'vitest';

import { type ClusterSettings, type Config, loadConfig, namespaceAllowed, REQUIRED_SETTINGS, SETTING_NAMES } from '../../src/config.js';
import { parseCallbackAllowedUrls } from '../../src/core/callback-url.js';
import { ConfigError } from '../../src/core/errors.js';
import { SigningSecret } from '../../src/core/webhook-signature.js';

const SUBSCRIPTION = '00000000-0000-4000-8000-000000000001';

const devCluster = { alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/home/dev/.kube/config', namespaces: ['batch'] };
const prodCluster = {
  alias: 'prod',
  type: 'aks',
  subscriptionId: SUBSCRIPTION,
  resourceGroup: 'rg-batch',
  clusterName: 'aks-prod',
  namespaces: ['batch', 'reports'],
};

const minimal = { CLUSTERS: JSON.stringify([devCluster]) };

const defaults: Config = {
  clusters: [devCluster as ClusterSettings],
  defaultCluster: 'dev',
  managedIdentityClientId: undefined,
  portalUrl: 'https://portal.azure.com',
  poll: { initialSeconds: 5, maxSeconds: 60, factor: 1.5, continueAsNewAfter: 50, maxObserveFailures: 10 },
  defaultRunTimeoutSeconds: 90_000,
  grace: { imagePullSeconds: 120, containerConfigSeconds: 60, unschedulableSeconds: 600, quotaSeconds: 300 },
  kubeRequestTimeoutMs: 30_000,
  activityRetry: { firstRetryMs: 5000, maxAttempts: 5 },
  statusRetryAfterSeconds: 10,
  logs: { storage: null, container: 'run-logs', maxBytesPerContainer: 4 * 1024 * 1024, follow: { segmentSeconds: 120, maxStreams: 50, maxStreamsPerCaller: 10 } },
  auditContainer: 'audit',
  links: { publicBaseUrl: undefined, trustForwardedHeaders: false },
  allowLocalAccountClusters: false,
  discoveryShowsEnvValues: true,
  httpCallImage: 'curlimages/curl:8.11.1',
  httpCallAllowedUrls: [],
  schedulerEnabled: true,
  runPolicy: {
    sourcesOptIn: false,
    jobActiveDeadlineSeconds: 86_400,
    fallback: {
      images: [],
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } },
      runAsUser: 65532,
    },
  },
  maxRunTimeoutSeconds: 604_800,
  maxActiveRunsPerCluster: 200,
  callers: { easyAuth: false, policies: {} },
  observeBatching: true,
  callbackAllowedUrls: parseCallbackAllowedUrls(undefined),
  callbacksLocal: true,
  webhookSigningSecrets: [],
  eventGridTopicEndpoint: undefined,
  telemetry: { azureMonitor: null, otlp: null, metricExportIntervalMs: 60_000, siteName: undefined },
};

function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('loadConfig accepted the settings');
}

describe('loadConfig', () => {
  it('a minimal env with one kubeconfig cluster gives the defaults', () => {
    expect(loadConfig(minimal)).toEqual(defaults);
  });

  it('the config is frozen', () => {
    const config = loadConfig(minimal);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.poll)).toBe(true);
    expect(Object.isFrozen(config.grace)).toBe(true);
  });

  it.each([
    { name: 'empty strings', blank: '' },
    { name: 'blank strings', blank: '   ' },
  ])('$name count as unset and give the defaults', ({ blank }) => {
    const env: Record<string, string> = Object.fromEntries(SETTING_NAMES.map((name) => [name, blank]));
    expect(loadConfig({ ...env, ...minimal })).toEqual(defaults);
  });

  it('settings given override the defaults', () => {
    const config = loadConfig({
      CLUSTERS: JSON.stringify([devCluster, prodCluster]),
      DEFAULT_CLUSTER: 'prod',
      AZURE_CLIENT_ID: 'client-id',
      AZURE_PORTAL_URL: 'https://portal.azure.us/',
      POLL_INITIAL_SECONDS: '2',
      POLL_MAX_SECONDS: '30',
      POLL_BACKOFF_FACTOR: '2',
      CONTINUE_AS_NEW_AFTER_POLLS: '20',
      MAX_OBSERVE_FAILURES: '4',
      DEFAULT_RUN_TIMEOUT_SECONDS: '3600',
      GRACE_IMAGE_PULL_SECONDS: '30',
      GRACE_CONTAINER_CONFIG_SECONDS: '15',
      GRACE_UNSCHEDULABLE_SECONDS: '900',
      GRACE_QUOTA_SECONDS: '0',
      KUBE_REQUEST_TIMEOUT_SECONDS: '10',
      ACTIVITY_RETRY_FIRST_SECONDS: '2',
      ACTIVITY_RETRY_MAX_ATTEMPTS: '3',
      STATUS_RETRY_AFTER_SECONDS: '15',
      LOGS_ACCOUNT_URL: 'https://stlogs.blob.core.usgovcloudapi.net/',
      LOGS_CONTAINER: 'archive-2',
      LOGS_MAX_BYTES_PER_CONTAINER: '65536',
      AUDIT_CONTAINER: 'audit-2',
      PUBLIC_BASE_URL: 'https://gateway.contoso.com/aks-jobs/',
      TRUST_FORWARDED_HEADERS: 'true',
      ALLOW_LOCAL_ACCOUNT_CLUSTERS: 'TRUE',
      DISCOVERY_SHOW_ENV_VALUES: 'false',
      HTTP_CALL_IMAGE: 'registry.example.com/mirror/curl:8.11.1',
      HTTP_CALL_ALLOWED_URLS: 'https://my-app.azurewebsites.net/api/, http://reports.example.com:8080/run',
      SCHEDULER_ENABLED: 'false',
      FALLBACK_IMAGES: 'myacr.azurecr.io/tools/, docker.io/library/busybox@sha256',
      FALLBACK_CPU_REQUEST: '250m',
      FALLBACK_CPU_LIMIT: '2',
      FALLBACK_MEMORY_REQUEST: '64Mi',
      FALLBACK_MEMORY_LIMIT: '1Gi',
      FALLBACK_RUN_AS_USER: '1000',
      JOB_ACTIVE_DEADLINE_SECONDS: '7200',
      MAX_RUN_TIMEOUT_SECONDS: '86400',
      MAX_ACTIVE_RUNS_PER_CLUSTER: '50',
      SOURCES_OPT_IN: 'true',
      EASY_AUTH_ENABLED: 'true',
      CALLER_POLICIES: JSON.stringify({ '11111111-2222-3333-4444-555555555555': { clusters: ['prod'], namespaces: ['batch'], fallback: false } }),
      OBSERVE_BATCHING: 'false',
      CALLBACK_ALLOWED_URLS: 'https://hooks.contoso.com/aks-jobs/ https://*.logic.azure.com/workflows/',
      EVENT_GRID_TOPIC_ENDPOINT: 'https://evgt-abc.westeurope-1.eventgrid.azure.net/api/events',
      WEBHOOK_SIGNING_SECRET: `whsec_${Buffer.alloc(32, 7).toString('base64')} whsec_${Buffer.alloc(24, 9).toString('base64')}`,
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector.example.com:4318/',
      OTEL_METRIC_EXPORT_INTERVAL: '15000',
      APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/',
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=identity-client-id;Authorization=AAD',
      LOGS_FOLLOW_SEGMENT_SECONDS: '30',
      LOGS_FOLLOW_MAX_STREAMS: '8',
      LOGS_FOLLOW_MAX_STREAMS_PER_CALLER: '2',
    });
    expect(config).toEqual({
      clusters: [devCluster, prodCluster],
      defaultCluster: 'prod',
      managedIdentityClientId: 'client-id',
      portalUrl: 'https://portal.azure.us',
      poll: { initialSeconds: 2, maxSeconds: 30, factor: 2, continueAsNewAfter: 20, maxObserveFailures: 4 },
      defaultRunTimeoutSeconds: 3600,
      grace: { imagePullSeconds: 30, containerConfigSeconds: 15, unschedulableSeconds: 900, quotaSeconds: 0 },
      kubeRequestTimeoutMs: 10_000,
      activityRetry: { firstRetryMs: 2000, maxAttempts: 3 },
      statusRetryAfterSeconds: 15,
      logs: { storage: { kind: 'identity', accountUrl: 'https://stlogs.blob.core.usgovcloudapi.net/' }, container: 'archive-2', maxBytesPerContainer: 65_536, follow: { segmentSeconds: 30, maxStreams: 8, maxStreamsPerCaller: 2 } },
      auditContainer: 'audit-2',
      links: { publicBaseUrl: 'https://gateway.contoso.com/aks-jobs', trustForwardedHeaders: true },
      allowLocalAccountClusters: true,
      discoveryShowsEnvValues: false,
      httpCallImage: 'registry.example.com/mirror/curl:8.11.1',
      httpCallAllowedUrls: [
        { origin: 'https://my-app.azurewebsites.net', path: '/api/' },
        { origin: 'http://reports.example.com:8080', path: '/run' },
      ],
      schedulerEnabled: false,
      runPolicy: {
        sourcesOptIn: true,
        jobActiveDeadlineSeconds: 7200,
        fallback: {
          images: [
            { prefix: 'myacr.azurecr.io/tools/', digest: false },
            { prefix: 'docker.io/library/busybox', digest: true },
          ],
          resources: { requests: { cpu: '250m', memory: '64Mi' }, limits: { cpu: '2', memory: '1Gi' } },
          runAsUser: 1000,
        },
      },
      maxRunTimeoutSeconds: 86_400,
      maxActiveRunsPerCluster: 50,
      callers: { easyAuth: true, policies: { '11111111-2222-3333-4444-555555555555': { clusters: ['prod'], namespaces: ['batch'], fallback: false } } },
      observeBatching: false,
      callbackAllowedUrls: [
        { protocol: 'https:', hostname: 'hooks.contoso.com', wildcard: false, port: '', path: '/aks-jobs/' },
        { protocol: 'https:', hostname: 'logic.azure.com', wildcard: true, port: '', path: '/workflows/' },
      ],
      callbacksLocal: true,
      webhookSigningSecrets: [expect.any(SigningSecret), expect.any(SigningSecret)],
      eventGridTopicEndpoint: 'https://evgt-abc.westeurope-1.eventgrid.azure.net/api/events',
      telemetry: {
        azureMonitor: {
          connectionString: 'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/',
          entra: { clientId: 'identity-client-id' },
        },
        otlp: { endpoint: 'http://collector.example.com:4318' },
        metricExportIntervalMs: 15_000,
        siteName: undefined,
      },
    });
  });

  it('sends to Application Insights with the instrumentation key only when the authentication string does not say AAD', () => {
    const connectionString = 'InstrumentationKey=00000000-0000-0000-0000-000000000000';
    expect(loadConfig({ ...minimal, APPLICATIONINSIGHTS_CONNECTION_STRING: connectionString }).telemetry.azureMonitor).toEqual({ connectionString, entra: null });
    expect(loadConfig({ ...minimal, APPLICATIONINSIGHTS_CONNECTION_STRING: connectionString, APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD' }).telemetry.azureMonitor).toEqual({
      connectionString,
      entra: { clientId: undefined },
    });
  });

  it('names the telemetry after the function app the platform names (WEBSITE_SITE_NAME), as the host does', () => {
    expect(loadConfig({ ...minimal, WEBSITE_SITE_NAME: 'func-jobs' }).telemetry.siteName).toBe('func-jobs');
    expect(loadConfig({ ...minimal, WEBSITE_SITE_NAME: ' ' }).telemetry.siteName).toBeUndefined();
  });

  it('an OTLP endpoint that is no http(s) URL stops start-up naming the setting', () => {
    expect(configError({ ...minimal, OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://collector:4317' }).message).toContain('- OTEL_EXPORTER_OTLP_ENDPOINT: an http(s) URL');
  });

  it.each([
    ['no platform variable: the local runtime', {}, true],
    ['WEBSITE_SITE_NAME set by App Service: Azure', { WEBSITE_SITE_NAME: 'func-jobs' }, false],
    ['WEBSITE_INSTANCE_ID set by App Service: Azure', { WEBSITE_INSTANCE_ID: 'abc123' }, false],
  ])('callbacks are local (loopback and private addresses allowed) only off Azure: %s', (_name, platform, local) => {
    expect(loadConfig({ ...minimal, ...platform }).callbacksLocal).toBe(local);
  });

  it('a flag that is neither true nor false stops start-up naming the setting', () => {
    expect(configError({ ...minimal, ALLOW_LOCAL_ACCOUNT_CLUSTERS: 'maybe' }).message).toContain('- ALLOW_LOCAL_ACCOUNT_CLUSTERS: true or false');
  });

  it.each([
    { name: 'no setting: no archive', env: {}, storage: null },
    {
      name: 'a development connection string',
      env: { LOGS_CONNECTION_STRING: 'UseDevelopmentStorage=true' },
      storage: { kind: 'connectionString', connectionString: 'UseDevelopmentStorage=true' },
    },
    {
      name: 'an account URL, reached with the identity',
      env: { LOGS_ACCOUNT_URL: 'https://logs.blob.core.windows.net/' },
      storage: { kind: 'identity', accountUrl: 'https://logs.blob.core.windows.net/' },
    },
    {
      name: "not the host's own storage, which is never guessed from",
      env: { AzureWebJobsStorage: 'UseDevelopmentStorage=true', AzureWebJobsStorage__blobServiceUri: 'https://st1.blob.core.windows.net' },
      storage: null,
    },
  ])('the logs archive: $name', ({ env, storage }) => {
    expect(loadConfig({ ...minimal, ...env }).logs.storage).toEqual(storage);
  });

  it.each([
    { name: 'both an account URL and a connection string', env: { LOGS_ACCOUNT_URL: 'https://a.blob.core.windows.net', LOGS_CONNECTION_STRING: 'UseDevelopmentStorage=true' }, message: /LOGS_ACCOUNT_URL, LOGS_CONNECTION_STRING: set one of them/ },
    { name: 'an account URL that is not a URL', env: { LOGS_ACCOUNT_URL: 'stlogs' }, message: /LOGS_ACCOUNT_URL/ },
    { name: 'a container name Blob Storage refuses', env: { LOGS_CONTAINER: 'Run_Logs' }, message: /LOGS_CONTAINER: a blob container name/ },
    { name: 'a bound below 1 KiB', env: { LOGS_MAX_BYTES_PER_CONTAINER: '100' }, message: /LOGS_MAX_BYTES_PER_CONTAINER/ },
    { name: 'a signing secret without its whsec_ prefix', env: { WEBHOOK_SIGNING_SECRET: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0' }, message: /- WEBHOOK_SIGNING_SECRET: the secret does not start with "whsec_"/ },
    { name: 'an Event Grid endpoint over plain http', env: { EVENT_GRID_TOPIC_ENDPOINT: 'http://evgt-abc.westeurope-1.eventgrid.azure.net/api/events' }, message: /- EVENT_GRID_TOPIC_ENDPOINT: an https URL/ },
    { name: 'an Event Grid endpoint with a key in its query', env: { EVENT_GRID_TOPIC_ENDPOINT: 'https://evgt-abc.westeurope-1.eventgrid.azure.net/api/events?aeg-sas-key=k' }, message: /- EVENT_GRID_TOPIC_ENDPOINT: no query string/ },
    { name: 'a callback prefix over plain http', env: { CALLBACK_ALLOWED_URLS: 'http://hooks.contoso.com/' }, message: /- CALLBACK_ALLOWED_URLS: "http:\/\/hooks.contoso.com\/" is not a callback URL prefix/ },
  ])('refuses $name', ({ env, message }) => {
    expect(configError({ ...minimal, ...env }).message).toMatch(message);
  });

  it('without DEFAULT_CLUSTER the first cluster is the default', () => {
    expect(loadConfig({ CLUSTERS: JSON.stringify([prodCluster, devCluster]) }).defaultCluster).toBe('prod');
  });

  it('an AKS cluster keeps its serverFqdn for private clusters', () => {
    const config = loadConfig({ CLUSTERS: JSON.stringify([{ ...prodCluster, serverFqdn: 'aks-prod.privatelink.westeurope.azmk8s.io' }]) });
    expect(config.clusters[0]).toEqual({ ...prodCluster, serverFqdn: 'aks-prod.privatelink.westeurope.azmk8s.io' });
  });

  const BAD_ALIAS = '- CLUSTERS at 0.alias: letters, digits, - _ . (at most 63)';
  const cases: { name: string; env: Record<string, string | undefined>; says: string }[] = [
    { name: 'CLUSTERS missing', env: {}, says: '- CLUSTERS: required: a JSON array of clusters' },
    { name: 'CLUSTERS empty', env: { CLUSTERS: '' }, says: '- CLUSTERS: required: a JSON array of clusters' },
    { name: 'CLUSTERS not JSON', env: { CLUSTERS: '[{alias: dev}]' }, says: '- CLUSTERS: not valid JSON' },
    { name: 'CLUSTERS an empty list', env: { CLUSTERS: '[]' }, says: '- CLUSTERS: ' },
    { name: 'CLUSTERS an object, not a list', env: { CLUSTERS: JSON.stringify(devCluster) }, says: '- CLUSTERS: ' },
    { name: 'a bad alias', env: { CLUSTERS: JSON.stringify([{ ...devCluster, alias: 'dev cluster' }]) }, says: BAD_ALIAS },
    { name: 'an alias starting with a hyphen', env: { CLUSTERS: JSON.stringify([{ ...devCluster, alias: '-dev' }]) }, says: BAD_ALIAS },
    {
      name: 'duplicate aliases',
      env: { CLUSTERS: JSON.stringify([devCluster, { ...prodCluster, alias: 'dev' }]) },
      says: '- CLUSTERS: cluster aliases must be unique',
    },
    { name: 'an unknown cluster type', env: { CLUSTERS: JSON.stringify([{ ...devCluster, type: 'eks' }]) }, says: '- CLUSTERS at 0.type: ' },
    {
      name: 'an AKS cluster without subscriptionId',
      env: { CLUSTERS: JSON.stringify([{ ...prodCluster, subscriptionId: undefined }]) },
      says: '- CLUSTERS at 0.subscriptionId: ',
    },
    {
      name: 'an AKS cluster whose subscriptionId is no GUID',
      env: { CLUSTERS: JSON.stringify([devCluster, { ...prodCluster, subscriptionId: 'my-subscription' }]) },
      says: '- CLUSTERS at 1.subscriptionId: ',
    },
    {
      name: 'an AKS cluster without resourceGroup',
      env: { CLUSTERS: JSON.stringify([{ ...prodCluster, resourceGroup: '' }]) },
      says: '- CLUSTERS at 0.resourceGroup: ',
    },
    {
      name: 'a namespace that is no DNS label',
      env: { CLUSTERS: JSON.stringify([{ ...devCluster, namespaces: ['batch', 'Reports'] }]) },
      says: '- CLUSTERS at 0.namespaces.1: a namespace name (DNS label) or "*"',
    },
    { name: 'no namespaces', env: { CLUSTERS: JSON.stringify([{ ...devCluster, namespaces: [] }]) }, says: '- CLUSTERS at 0.namespaces: ' },
    {
      name: 'an unknown DEFAULT_CLUSTER',
      env: { ...minimal, DEFAULT_CLUSTER: 'qa' },
      says: '- DEFAULT_CLUSTER: "qa" is not one of the aliases in CLUSTERS (dev)',
    },
    { name: 'a POLL_INITIAL_SECONDS that is not a number', env: { ...minimal, POLL_INITIAL_SECONDS: 'fast' }, says: '- POLL_INITIAL_SECONDS: ' },
    { name: 'a SCHEDULER_ENABLED that is not a boolean', env: { ...minimal, SCHEDULER_ENABLED: 'sometimes' }, says: '- SCHEDULER_ENABLED: true or false' },
    { name: 'a POLL_INITIAL_SECONDS of 0', env: { ...minimal, POLL_INITIAL_SECONDS: '0' }, says: '- POLL_INITIAL_SECONDS: ' },
    { name: 'a POLL_INITIAL_SECONDS with a fraction', env: { ...minimal, POLL_INITIAL_SECONDS: '1.5' }, says: '- POLL_INITIAL_SECONDS: ' },
    {
      name: 'POLL_MAX_SECONDS below POLL_INITIAL_SECONDS',
      env: { ...minimal, POLL_INITIAL_SECONDS: '30', POLL_MAX_SECONDS: '10' },
      says: '- POLL_MAX_SECONDS: must be at least POLL_INITIAL_SECONDS',
    },
    { name: 'a POLL_BACKOFF_FACTOR below 1', env: { ...minimal, POLL_BACKOFF_FACTOR: '0.5' }, says: '- POLL_BACKOFF_FACTOR: ' },
    { name: 'a negative grace period', env: { ...minimal, GRACE_IMAGE_PULL_SECONDS: '-1' }, says: '- GRACE_IMAGE_PULL_SECONDS: ' },
    { name: 'a run timeout of 0 (none)', env: { ...minimal, DEFAULT_RUN_TIMEOUT_SECONDS: '0' }, says: '- DEFAULT_RUN_TIMEOUT_SECONDS: ' },
    {
      name: 'a default run timeout above the maximum',
      env: { ...minimal, DEFAULT_RUN_TIMEOUT_SECONDS: '7200', MAX_RUN_TIMEOUT_SECONDS: '3600' },
      says: '- DEFAULT_RUN_TIMEOUT_SECONDS: must be at most MAX_RUN_TIMEOUT_SECONDS',
    },
    { name: 'a FALLBACK_IMAGES entry with a tag', env: { ...minimal, FALLBACK_IMAGES: 'busybox:latest' }, says: '- FALLBACK_IMAGES: "busybox:latest"' },
    { name: 'a FALLBACK_IMAGES entry that is a URL', env: { ...minimal, FALLBACK_IMAGES: 'https://evil.example/x' }, says: '- FALLBACK_IMAGES: ' },
    { name: 'an HTTP_CALL_ALLOWED_URLS entry that is no absolute URL', env: { ...minimal, HTTP_CALL_ALLOWED_URLS: 'my-app.azurewebsites.net/api/' }, says: '- HTTP_CALL_ALLOWED_URLS: ' },
    { name: 'an HTTP_CALL_ALLOWED_URLS entry with a user', env: { ...minimal, HTTP_CALL_ALLOWED_URLS: 'https://u:p@my-app.example/' }, says: 'carries a user or password' },
    { name: 'an HTTP_CALL_ALLOWED_URLS entry with a query', env: { ...minimal, HTTP_CALL_ALLOWED_URLS: 'https://my-app.example/api?x=1' }, says: 'has a query or fragment' },
    { name: 'a resource that is no quantity', env: { ...minimal, FALLBACK_MEMORY_LIMIT: 'lots' }, says: '- FALLBACK_MEMORY_LIMIT: a Kubernetes quantity' },
    { name: 'CALLER_POLICIES not JSON', env: { ...minimal, CALLER_POLICIES: '{app: 1}' }, says: '- CALLER_POLICIES: not valid JSON' },
    {
      name: 'a caller policy with an unknown field',
      env: { ...minimal, CALLER_POLICIES: JSON.stringify({ app: { images: ['x'] } }) },
      says: '- CALLER_POLICIES at app: ',
    },
    { name: 'an AZURE_PORTAL_URL that is no URL', env: { ...minimal, AZURE_PORTAL_URL: 'portal' }, says: '- AZURE_PORTAL_URL: ' },
    { name: 'a PUBLIC_BASE_URL that is no URL', env: { ...minimal, PUBLIC_BASE_URL: 'gateway.contoso.com' }, says: '- PUBLIC_BASE_URL: an http(s) URL' },
    { name: 'a PUBLIC_BASE_URL that is not http(s)', env: { ...minimal, PUBLIC_BASE_URL: 'ftp://gateway.contoso.com' }, says: '- PUBLIC_BASE_URL: an http(s) URL' },
    { name: 'a PUBLIC_BASE_URL with a query', env: { ...minimal, PUBLIC_BASE_URL: 'https://gw.contoso.com/api?x=1' }, says: '- PUBLIC_BASE_URL: no query string' },
    { name: 'a TRUST_FORWARDED_HEADERS that is not a boolean', env: { ...minimal, TRUST_FORWARDED_HEADERS: 'maybe' }, says: '- TRUST_FORWARDED_HEADERS: true or false' },
  ];

  it.each(cases)('$name is a ConfigError naming the setting', ({ env, says }) => {
    const err = configError(env);
    expect(err.name).toBe('ConfigError');
    expect(err.message.startsWith('Invalid app settings:\n')).toBe(true);
    expect(err.message).toContain(says);
  });

  it('a follow segment past the host\'s HTTP limit is refused, naming the setting', () => {
    const err = configError({ ...minimal, LOGS_FOLLOW_SEGMENT_SECONDS: '230' });
    expect(err.message).toContain('- LOGS_FOLLOW_SEGMENT_SECONDS: ');
  });

  it('every bad setting is named, not only the first', () => {
    const err = configError({ ...minimal, POLL_INITIAL_SECONDS: 'fast', GRACE_QUOTA_SECONDS: 'later' });
    expect(err.message).toContain('- POLL_INITIAL_SECONDS: ');
    expect(err.message).toContain('- GRACE_QUOTA_SECONDS: ');
  });
});

describe('namespaceAllowed', () => {
  const [dev, prod, any, anyAndSystem] = loadConfig({
    CLUSTERS: JSON.stringify([
      devCluster,
      prodCluster,
      { ...devCluster, alias: 'any', namespaces: ['*'] },
      { ...devCluster, alias: 'any-and-system', namespaces: ['*', 'kube-system'] },
    ]),
  }).clusters;

  it.each([
    { name: 'a listed namespace', cluster: prod, namespace: 'reports', expected: true },
    { name: 'another listed namespace', cluster: dev, namespace: 'batch', expected: true },
    { name: 'a namespace not in the list', cluster: prod, namespace: 'kube-system', expected: false },
    { name: 'a namespace of another cluster', cluster: dev, namespace: 'reports', expected: false },
    { name: 'any namespace under "*"', cluster: any, namespace: 'reports', expected: true },
    ...['kube-system', 'kube-public', 'kube-node-lease', 'gatekeeper-system', 'calico-system', 'tigera-operator', 'app-routing-system', 'aks-istio-system', 'aks-command', 'flux-system', 'dataprotection-microsoft'].map(
      (namespace) => ({ name: `system namespace ${namespace} under "*"`, cluster: any, namespace, expected: false }),
    ),
    { name: 'a system namespace listed by name next to "*"', cluster: anyAndSystem, namespace: 'kube-system', expected: true },
    { name: 'a namespace that only contains "system"', cluster: any, namespace: 'systems-team', expected: true },
  ])('$name is allowed: $expected', ({ cluster, namespace, expected }) => {
    if (!cluster) throw new Error('cluster fixture missing');
    expect(namespaceAllowed(cluster, namespace)).toBe(expected);
  });
});

describe('SETTING_NAMES', () => {
  it('lists every setting the app reads', () => {
    expect([...SETTING_NAMES].sort()).toEqual(
      [
        'ACTIVITY_RETRY_FIRST_SECONDS',
        'ACTIVITY_RETRY_MAX_ATTEMPTS',
        'AZURE_CLIENT_ID',
        'AZURE_PORTAL_URL',
        'CLUSTERS',
        'CONTINUE_AS_NEW_AFTER_POLLS',
        'MAX_OBSERVE_FAILURES',
        'DEFAULT_CLUSTER',
        'DEFAULT_RUN_TIMEOUT_SECONDS',
        'GRACE_CONTAINER_CONFIG_SECONDS',
        'GRACE_IMAGE_PULL_SECONDS',
        'GRACE_QUOTA_SECONDS',
        'GRACE_UNSCHEDULABLE_SECONDS',
        'HTTP_CALL_IMAGE',
        'HTTP_CALL_ALLOWED_URLS',
        'KUBE_REQUEST_TIMEOUT_SECONDS',
        'POLL_BACKOFF_FACTOR',
        'POLL_INITIAL_SECONDS',
        'POLL_MAX_SECONDS',
        'PUBLIC_BASE_URL',
        'STATUS_RETRY_AFTER_SECONDS',
        'LOGS_ACCOUNT_URL',
        'LOGS_CONNECTION_STRING',
        'LOGS_CONTAINER',
        'LOGS_MAX_BYTES_PER_CONTAINER',
        'AUDIT_CONTAINER',
        'LOGS_FOLLOW_SEGMENT_SECONDS',
        'LOGS_FOLLOW_MAX_STREAMS',
        'LOGS_FOLLOW_MAX_STREAMS_PER_CALLER',
        'TRUST_FORWARDED_HEADERS',
        'ALLOW_LOCAL_ACCOUNT_CLUSTERS',
        'DISCOVERY_SHOW_ENV_VALUES',
        'SCHEDULER_ENABLED',
        'FALLBACK_IMAGES',
        'FALLBACK_CPU_REQUEST',
        'FALLBACK_CPU_LIMIT',
        'FALLBACK_MEMORY_REQUEST',
        'FALLBACK_MEMORY_LIMIT',
        'FALLBACK_RUN_AS_USER',
        'JOB_ACTIVE_DEADLINE_SECONDS',
        'MAX_RUN_TIMEOUT_SECONDS',
        'MAX_ACTIVE_RUNS_PER_CLUSTER',
        'SOURCES_OPT_IN',
        'EASY_AUTH_ENABLED',
        'CALLER_POLICIES',
        'OBSERVE_BATCHING',
        'CALLBACK_ALLOWED_URLS',
        'WEBHOOK_SIGNING_SECRET',
        'EVENT_GRID_TOPIC_ENDPOINT',
        'OTEL_EXPORTER_OTLP_ENDPOINT',
        'OTEL_METRIC_EXPORT_INTERVAL',
      ].sort(),
    );
  });

  it('only CLUSTERS is required', () => {
    expect(REQUIRED_SETTINGS).toEqual(['CLUSTERS']);
  });

  it('a setting outside SETTING_NAMES is not read', () => {
    expect(loadConfig({ ...minimal, POLL_INITIAL: '1', poll_initial_seconds: '1' }).poll.initialSeconds).toBe(5);
  });
});

describe('the settings parse at start', () => {
  it("builds no compiled parser: zod's fast path (made with new Function on an object's first parse) costs a cold start more than it saves on one parse", async () => {
    // A fresh copy of the module, so that its schema has never parsed, as at start.
    vi.resetModules();
    const fresh = await import('../../src/config.js');
    const made: string[][] = [];
    const original = globalThis.Function;
    globalThis.Function = new Proxy(original, {
      construct(target, args: string[]) {
        made.push(args);
        return Reflect.construct(target, args);
      },
    });
    try {
      expect(fresh.loadConfig(minimal).clusters).toHaveLength(1);
    } finally {
      globalThis.Function = original;
    }
    // zod may probe whether it can compile at all (util.allowsEval: `new Function("")`); nothing more.
    expect(made.filter((args) => args.some((a) => a.trim() !== ''))).toEqual([]);
  });
});
