import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { V1Job } from '@kubernetes/client-node';

import { jobsByCronJob, runsOf, runsSummary } from '../core/cronjob-view.js';
import { summarizeCronJob, summarizeJob, withoutEnvValues } from '../core/discovery.js';
import { BadRequestError } from '../core/errors.js';
import { NOT_MANAGED_SELECTOR } from '../core/labels.js';
import { MAX_PAGE_SIZE } from '../core/limits.js';
import { namespaceJobs } from '../runs/cronjob-runs.js';
import { services } from '../services.js';
import { authorizeTarget, type Caller, callerOf, jobVisibleTo } from './caller.js';
import { startUrl } from './links.js';
import { errorResponse } from './problem.js';

export const DEFAULT_PAGE_SIZE = 100;

export function pageSize(request: HttpRequest): number {
  const raw = request.query.get('limit');
  if (raw === null || raw === '') return DEFAULT_PAGE_SIZE;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > MAX_PAGE_SIZE) {
    throw new BadRequestError(`limit must be a whole number from 1 to ${MAX_PAGE_SIZE}, got "${raw}"`);
  }
  return value;
}

/** The cluster and namespace of a listing: `namespace` may be left out when the cluster allows only one. */
export function listScope(request: HttpRequest): { cluster: string; namespace: string; caller: Caller } {
  const { clusters, config } = services();
  // Who asks comes first: a principal header nobody vouches for is refused before anything else is looked at.
  const caller = callerOf(request, config.callers);
  const cluster = request.query.get('cluster') ?? clusters.defaultAlias;
  const settings = clusters.settings(cluster);
  const only = settings.namespaces.length === 1 && settings.namespaces[0] !== '*' ? settings.namespaces[0] : undefined;
  const namespace = request.query.get('namespace') ?? only;
  if (!namespace) {
    throw new BadRequestError(`namespace is required, e.g. ?namespace=batch: a namespace you may use on cluster "${cluster}"`, {
      logDetail: `allowed on cluster "${cluster}": ${settings.namespaces.join(', ')}`,
    });
  }
  clusters.authorize(cluster, namespace);
  authorizeTarget(caller, config.callers, { cluster, namespace });
  return { cluster, namespace, caller };
}

/**
 * A namespace's Jobs split by whether the caller may see their runs (core/archive's jobStarter, caller.ts's
 * mayAccessRun): listings and a CronJob's detail show another caller's runs only to admins.
 */
export function visibleJobs(jobs: readonly V1Job[], caller: Caller): { shown: V1Job[]; hidden: ReadonlySet<string> } {
  const visible = jobVisibleTo(caller);
  const shown: V1Job[] = [];
  const hidden = new Set<string>();
  for (const job of jobs) {
    if (visible(job)) shown.push(job);
    else hidden.add(job.metadata?.name ?? '');
  }
  return { shown, hidden };
}

/**
 * GET /api/jobs and /api/cronjobs: what can be run in a namespace, a page at a time. The app's own runs are
 * hidden by label selector, on the server, so pages keep their size and the continue token stays valid.
 */
export async function listSources(kind: 'Job' | 'CronJob', request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const { clusters, config, now } = services();
    const { cluster, namespace, caller } = listScope(request);
    const optIn = config.runPolicy.sourcesOptIn;
    const options = { labelSelector: NOT_MANAGED_SELECTOR, limit: pageSize(request), continueToken: request.query.get('continue') ?? undefined };
    const gateway = clusters.gateway(cluster);
    const route = kind === 'Job' ? 'jobs' : 'cronjobs';
    const runUrl = (name: string) => startUrl(request, route, namespace, name, cluster);
    const page =
      kind === 'Job'
        ? await gateway.listJobs(namespace, options).then((p) => ({ ...p, items: p.items.map((j) => summarizeJob(j, cluster, runUrl, optIn)) }))
        : await gateway.listCronJobs(namespace, options).then(async (p) => {
            // Last and active runs come from the Jobs each CronJob controls, read once for the whole page.
            // Another caller's runs are not this caller's to see: neither as the last run nor among the active ones.
            const { shown, hidden } = visibleJobs(p.items.length > 0 ? await namespaceJobs(gateway, namespace) : [], caller);
            const jobs = jobsByCronJob(shown);
            const at = now();
            return {
              ...p,
              items: p.items.map((c) => {
                const summary = runsSummary(c, runsOf(c, jobs, cluster, config.grace, at));
                return { ...summarizeCronJob(c, cluster, runUrl, at, optIn), ...summary, activeRuns: summary.activeRuns.filter((name) => !hidden.has(name)) };
              }),
            };
          });
    const items = config.discoveryShowsEnvValues ? page.items : page.items.map(withoutEnvValues);
    return { status: 200, jsonBody: { items, continue: page.continueToken ?? null } };
  } catch (err) {
    return errorResponse(err, context);
  }
}
