import { CredentialError } from '../clients/credentials.js';
import { type AppError, KubeApiError } from '../core/errors.js';

/**
 * The failure as a refusal a person must fix (the cluster's 4xx, credentials the app cannot get), which the
 * run path turns into a result and never retries; undefined for a transient failure (429, 5xx, no answer,
 * ARM or Entra ID throttled) or an unexpected one, which activities throw for RetryOptions.
 */
export function refusal(err: unknown): AppError | undefined {
  if (err instanceof KubeApiError || err instanceof CredentialError) return err.transient ? undefined : err;
  return undefined;
}
