import type { TokenCredential } from '@azure/identity';

import { type ClusterSettings, type Config, isSystemNamespace, namespaceAllowed } from '../config.js';
import { ForbiddenError } from '../core/errors.js';
import { assertNamespace } from '../core/naming.js';
import { aksMonitorUrl } from '../core/status.js';
import { type AksManagement, AksSource, KubeconfigFileSource } from './credentials.js';
import { ClientNodeGateway, type KubeGateway } from './kube.js';

/** Resolves cluster aliases to gateways, and is the one place the allow-lists are enforced. */
export interface ClusterRegistry {
  /** The alias a request without `cluster` uses. */
  readonly defaultAlias: string;
  /** Settings of an allowed cluster and namespace; ForbiddenError otherwise. */
  authorize(alias: string, namespace: string): ClusterSettings;
  /** Settings of a known cluster; ForbiddenError otherwise. */
  settings(alias: string): ClusterSettings;
  gateway(alias: string): KubeGateway;
  monitorUrl(alias: string): string | null;
}

export interface AzureDeps {
  credential: () => TokenCredential;
  management: () => Promise<AksManagement>;
}

function describe(list: readonly string[]): string {
  return list.map((x) => `"${x}"`).join(', ');
}

export class ConfiguredClusters implements ClusterRegistry {
  private readonly gateways = new Map<string, KubeGateway>();
  private readonly byAlias: ReadonlyMap<string, ClusterSettings>;

  constructor(
    private readonly config: Config,
    private readonly azure: AzureDeps,
    /** Tests and the local runtime put their own gateways here. */
    gatewayFactory?: (settings: ClusterSettings) => KubeGateway,
  ) {
    this.byAlias = new Map(config.clusters.map((c) => [c.alias, c]));
    if (gatewayFactory) this.makeGateway = gatewayFactory;
  }

  get defaultAlias(): string {
    return this.config.defaultCluster;
  }

  settings(alias: string): ClusterSettings {
    const settings = this.byAlias.get(alias);
    if (!settings) {
      // The caller learns what it asked for, not the app's whole configuration; the operator finds that in the log.
      throw new ForbiddenError(
        `cluster "${alias}" is not configured for this app. Use a cluster alias the app's operator gave you, or leave "cluster" out for the default one; an operator adds clusters in the CLUSTERS app setting`,
        { logDetail: `configured clusters: ${describe([...this.byAlias.keys()])}` },
      );
    }
    return settings;
  }

  authorize(alias: string, namespace: string): ClusterSettings {
    assertNamespace(namespace);
    const settings = this.settings(alias);
    if (!namespaceAllowed(settings, namespace)) {
      const why =
        settings.namespaces.includes('*') && isSystemNamespace(namespace)
          ? `"${namespace}" is a system namespace, which "*" does not include; an operator who means it lists it by name in the CLUSTERS app setting`
          : 'ask the app\'s operator to allow it in the CLUSTERS app setting';
      throw new ForbiddenError(`namespace "${namespace}" is not allowed on cluster "${alias}": ${why}`, {
        logDetail: `allowed on cluster "${alias}": ${describe(settings.namespaces)}`,
      });
    }
    return settings;
  }

  gateway(alias: string): KubeGateway {
    let gateway = this.gateways.get(alias);
    if (!gateway) {
      gateway = this.makeGateway(this.settings(alias));
      this.gateways.set(alias, gateway);
    }
    return gateway;
  }

  monitorUrl(alias: string): string | null {
    const s = this.settings(alias);
    return s.type === 'aks' ? aksMonitorUrl(this.config.portalUrl, s.subscriptionId, s.resourceGroup, s.clusterName) : null;
  }

  private makeGateway = (settings: ClusterSettings): KubeGateway => {
    if (settings.type === 'kubeconfig') {
      return new ClientNodeGateway(new KubeconfigFileSource(settings.kubeconfigPath, settings.context), this.config.kubeRequestTimeoutMs, true, settings.alias);
    }
    const azure = this.azure;
    let source: Promise<AksSource> | undefined;
    const allowLocalAccounts = this.config.allowLocalAccountClusters;
    // One source per cluster even when N activities start cold at once: its credentials are then fetched once.
    const lazy = () => {
      if (!source) {
        const made = azure.management().then((management) => new AksSource(settings, management, azure.credential(), Date.now, allowLocalAccounts));
        made.catch(() => {
          if (source === made) source = undefined;
        });
        source = made;
      }
      return source;
    };
    return new ClientNodeGateway(
      {
        kubeConfig: async () => (await lazy()).kubeConfig(),
        refresh: async () => (await lazy()).refresh(),
      },
      this.config.kubeRequestTimeoutMs,
      true,
      settings.alias,
    );
  };
}
