import type { V1Job } from '@kubernetes/client-node';

import type { KubeGateway } from '../clients/kube.js';
import { activeRunsOf, appRunIdOf, type ConcurrencyPolicy, concurrencyPolicyOf, decideConcurrency } from '../core/concurrency.js';
import { ConflictError, ensureError } from '../core/errors.js';

/** Raises the cancel event on an app run's orchestration: rejects for an unknown run; on a finished one it resolves and the event is dropped (the host's 410). */
export type RequestCancel = (runId: string, reason: string) => Promise<void>;

const PAGE = 500;

/** Every Job of a namespace, all pages: the cluster's Jobs carry no label to select a CronJob's runs by. */
export async function namespaceJobs(gateway: KubeGateway, namespace: string): Promise<V1Job[]> {
  const jobs: V1Job[] = [];
  let continueToken: string | undefined;
  do {
    const page = await gateway.listJobs(namespace, { limit: PAGE, continueToken });
    jobs.push(...page.items);
    continueToken = page.continueToken;
  } while (continueToken);
  return jobs;
}

function names(jobs: readonly V1Job[]): string[] {
  return jobs.map((job) => job.metadata?.name ?? '');
}

/**
 * Stop a CronJob's active runs through the cancel path. An app run gets the orchestration's cancel event (so it
 * ends Cancelled with the reason) and its Job deleted, as the cancel route does; a Job the cluster or kubectl
 * made is deleted with propagation Background, as the CronJob controller's Replace does.
 */
export async function cancelActiveRuns(
  requestCancel: RequestCancel,
  gateway: KubeGateway,
  namespace: string,
  jobs: readonly V1Job[],
  reason: string,
  log: (line: string) => void,
): Promise<void> {
  await Promise.all(
    jobs.map(async (job) => {
      const name = job.metadata?.name ?? '';
      const runId = appRunIdOf(job);
      if (runId) {
        try {
          await requestCancel(runId, reason);
        } catch (err) {
          // Its orchestration has ended or is gone; deleting the Job is all that is left to do.
          log(`run ${runId}: no cancel event raised (${ensureError(err).message}); deleting its Job`);
        }
      }
      await gateway.deleteJob(namespace, name);
      log(`${runId ? `run ${runId}` : `Job ${namespace}/${name}`}: cancelled (${reason})`);
    }),
  );
}

/**
 * A manual run of a CronJob honours its concurrencyPolicy, or the caller's `override` for this one run:
 * Forbid with an active run is a 409 naming it, Replace cancels the active runs first, Allow starts.
 * `ownRunId` is left out of the active runs: a replayed request must not conflict with its own run.
 */
export async function honourConcurrencyPolicy(
  requestCancel: RequestCancel,
  gateway: KubeGateway,
  source: { namespace: string; name: string },
  override: ConcurrencyPolicy | undefined,
  ownRunId: string,
  log: (line: string) => void,
): Promise<void> {
  if (override === 'Allow') return;
  const { namespace, name } = source;
  const cronJob = await gateway.readCronJob(namespace, name);
  // Gone since the run was built: the submit activity reports that on the run.
  if (!cronJob) return;
  const policy = override ?? concurrencyPolicyOf(cronJob);
  if (policy === 'Allow') return;
  const active = activeRunsOf(cronJob, await namespaceJobs(gateway, namespace)).filter((job) => job.metadata?.name !== ownRunId);
  const decision = decideConcurrency(policy, names(active));
  if (decision.kind === 'skip') {
    const list = decision.active.map((n) => `"${n}"`).join(', ');
    throw new ConflictError(
      `CronJob "${name}" has concurrencyPolicy Forbid and an active run: ${list}; wait for it to finish, cancel it, or pass ?concurrencyPolicy=Allow to run alongside it`,
    );
  }
  if (decision.replace.length > 0) {
    await cancelActiveRuns(requestCancel, gateway, namespace, active, `replaced by run ${ownRunId} (concurrencyPolicy Replace)`, log);
  }
}
