import { inject } from 'vitest';

/**
 * The settings an e2e test's app starts with: the suite's local cluster with the test's one namespace, and polls
 * and Retry-After short enough for a test to follow a run in seconds. `more` adds to them or overrides them.
 */
export function localAppSettings(namespace: string, more: Record<string, string> = {}): Record<string, string> {
  return {
    CLUSTERS: JSON.stringify([{ alias: 'local', type: 'kubeconfig', kubeconfigPath: inject('kubeconfigPath'), namespaces: [namespace] }]),
    POLL_INITIAL_SECONDS: '1',
    POLL_MAX_SECONDS: '2',
    STATUS_RETRY_AFTER_SECONDS: '1',
    ...more,
  };
}
