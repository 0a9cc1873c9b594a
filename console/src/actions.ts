import { call } from './api.ts';
import type { CronJobDetail, RunList, StartAnswer } from './types.ts';

export interface Scope {
  cluster: string;
  namespace: string;
}

export function cronJobPath(scope: Scope, name: string): string {
  return `cronjobs/${encodeURIComponent(scope.namespace)}/${encodeURIComponent(name)}`;
}

/** An update carries the version it was made from (the API refuses one without): read it, then patch. */
export async function patchCronJob(scope: Scope, name: string, changes: Record<string, unknown>, resourceVersion?: string): Promise<CronJobDetail> {
  const version = resourceVersion ?? (await call<CronJobDetail>('GET', cronJobPath(scope, name), { query: { cluster: scope.cluster } })).body.resourceVersion;
  return (await call<CronJobDetail>('PATCH', cronJobPath(scope, name), { query: { cluster: scope.cluster }, body: { ...changes, resourceVersion: version } })).body;
}

export async function runCronJobNow(scope: Scope, name: string, overrides: Record<string, string>, allowConcurrent: boolean): Promise<StartAnswer> {
  return (
    await call<StartAnswer>('POST', `${cronJobPath(scope, name)}/runs`, {
      query: { cluster: scope.cluster, ...(allowConcurrent ? { concurrencyPolicy: 'Allow' } : {}) },
      body: overrides,
    })
  ).body;
}

export async function runJobNow(scope: Scope, name: string, overrides: Record<string, string>): Promise<StartAnswer> {
  return (await call<StartAnswer>('POST', `jobs/${encodeURIComponent(scope.namespace)}/${encodeURIComponent(name)}/runs`, { query: { cluster: scope.cluster }, body: overrides })).body;
}

/** One page of the namespace's runs (GET /runs), of some statuses only when `status` is set (comma-separated). */
export async function listRuns(scope: Scope, options: { status: string | null; limit: number; continueToken: string | null }): Promise<RunList> {
  return (
    await call<RunList>('GET', 'runs', {
      query: { cluster: scope.cluster, namespace: scope.namespace, status: options.status, limit: options.limit, continue: options.continueToken },
    })
  ).body;
}
