import type { TokenCredential } from '@azure/identity';

import { type BlobStore, blobStoreFrom } from './clients/blob.js';
import { type ClusterRegistry, ConfiguredClusters } from './clients/clusters.js';
import { armManagement } from './clients/credentials.js';
import { eventGridPublisherFrom, type EventPublisher } from './clients/eventgrid.js';
import type { KubeGateway } from './clients/kube.js';
import { load } from './clients/lazy.js';
import { type ClusterSettings, type Config, loadConfig } from './config.js';
import { randomSuffix } from './core/naming.js';
import { SUBSCRIPTIONS_CONTAINER, SubscriptionStore } from './runs/subscriptions.js';

/** What handlers and activities need from the outside world, in one place so tests can replace it. */
export interface Services {
  readonly config: Config;
  readonly clusters: ClusterRegistry;
  readonly now: () => Date;
  /** A fresh run-id suffix for runs without an idempotency key. */
  readonly newSuffix: () => string;
  /** The logs archive's container; null when no archive is configured. */
  readonly logs: BlobStore | null;
  /** The audit trail's container, in the archive's account; null when no archive is configured. */
  readonly audit: BlobStore | null;
  /** Runs' subscriptions (issue 23), in the same storage account as the logs archive; null when there is none. */
  readonly subscriptions?: SubscriptionStore | null;
  /** The Event Grid topic every verdict is also published to (EVENT_GRID_TOPIC_ENDPOINT); null when none. */
  readonly eventGrid?: EventPublisher | null;
}

export interface ServiceOverrides {
  gatewayFactory?: (settings: ClusterSettings) => KubeGateway;
  credential?: TokenCredential;
  now?: () => Date;
  newSuffix?: () => string;
}

export function createServices(config: Config, overrides: ServiceOverrides = {}): Services {
  let credential: TokenCredential | undefined = overrides.credential;
  const getCredential = (): TokenCredential => {
    if (!credential) throw new Error('Azure credential requested before it was created');
    return credential;
  };
  const ensureCredential = async (): Promise<TokenCredential> => {
    if (!credential) {
      // Loaded on first AKS use: kubeconfig-only setups (development, tests) never touch Azure.
      const { DefaultAzureCredential } = await load('@azure/identity');
      credential = new DefaultAzureCredential(
        config.managedIdentityClientId ? { managedIdentityClientId: config.managedIdentityClientId } : {},
      );
    }
    return credential;
  };
  const clusters = new ConfiguredClusters(
    config,
    {
      credential: getCredential,
      management: async () => armManagement(await ensureCredential()),
    },
    overrides.gatewayFactory,
  );
  // The SDK wants a credential now; the identity is only created when the archive is first used.
  const lazyCredential: TokenCredential = { getToken: async (scopes, options) => (await ensureCredential()).getToken(scopes, options) };
  const logs = config.logs.storage ? blobStoreFrom(config.logs.storage, config.logs.container, () => lazyCredential) : null;
  const audit = config.logs.storage ? blobStoreFrom(config.logs.storage, config.auditContainer, () => lazyCredential) : null;
  return {
    config,
    clusters,
    now: overrides.now ?? (() => new Date()),
    newSuffix: overrides.newSuffix ?? randomSuffix,
    logs,
    audit,
    eventGrid: config.eventGridTopicEndpoint ? eventGridPublisherFrom(config.eventGridTopicEndpoint, () => lazyCredential) : null,
    subscriptions: config.logs.storage ? new SubscriptionStore(blobStoreFrom(config.logs.storage, SUBSCRIPTIONS_CONTAINER, () => lazyCredential)) : null,
  };
}

let current: Services | undefined;

/** The process's services, built from the app settings on first use. */
export function services(): Services {
  current ??= createServices(loadConfig());
  return current;
}

/** Replace the process's services (tests, the local runtime); undefined goes back to the app settings. */
export function setServices(value: Services | undefined): void {
  current = value;
}
