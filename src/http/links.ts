import type { HttpRequest } from '@azure/functions';

export interface RunLinks {
  statusUrl: string;
  cancelUrl: string;
}

/**
 * Absolute URLs of a run's routes, built from the request's own origin. A caller that authenticated with
 * `?code=` (its own function key) gets the same `code` on them, since Logic Apps does not send the first
 * request's headers again when it polls Location. Durable's system key is never handed out.
 */
export function runLinks(request: HttpRequest, runId: string): RunLinks {
  const url = new URL(request.url);
  const code = url.searchParams.get('code');
  const make = (path: string) => {
    const link = new URL(`/api/${path}`, url.origin);
    if (code) link.searchParams.set('code', code);
    return link.toString();
  };
  return { statusUrl: make(`runs/${encodeURIComponent(runId)}`), cancelUrl: make(`runs/${encodeURIComponent(runId)}/cancel`) };
}

/** The URL a caller POSTs to start a run of a Job or CronJob, for discovery listings. */
export function startUrl(request: HttpRequest, kind: 'jobs' | 'cronjobs', namespace: string, name: string, cluster: string): string {
  const url = new URL(request.url);
  const link = new URL(`/api/${kind}/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/runs`, url.origin);
  link.searchParams.set('cluster', cluster);
  return link.toString();
}
