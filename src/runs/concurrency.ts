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
 * Forbid with an active run is a 409, Replace cancels the active runs first, Allow starts.
 * `ownRunId` is left out of the active runs: a replayed request must not conflict with its own run.
 *
 * `visible` says which active runs the caller may read (its own, every one for an admin, and runs no caller
 * started). The 409 names only those and counts the others; Replace cancels only when every active run is
 * visible, and otherwise cancels nothing and answers 409 without naming the other caller's run, so one caller
 * can neither stop nor learn of another's run.
 */
export async function honourConcurrencyPolicy(
  requestCancel: RequestCancel,
  gateway: KubeGateway,
  source: { namespace: string; name: string },
  override: ConcurrencyPolicy | undefined,
  ownRunId: string,
  log: (line: string) => void,
  visible: (job: V1Job) => boolean = () => true,
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
  const hidden = active.filter((job) => !visible(job)).length;
  if (decision.kind === 'skip') {
    const shown = names(active.filter(visible)).map((n) => `"${n}"`);
    const list = [...(shown.length > 0 ? [`an active run: ${shown.join(', ')}`] : []), ...(hidden > 0 ? [othersRuns(hidden)] : [])].join(', and ');
    throw new ConflictError(
      `CronJob "${name}" has concurrencyPolicy Forbid and ${list}; wait for it to finish, cancel it, or pass ?concurrencyPolicy=Allow to run alongside it`,
    );
  }
  if (decision.replace.length > 0 && hidden > 0) {
    throw new ConflictError(
      `CronJob "${name}" has ${othersRuns(hidden)}, which only its starter or an admin may replace; nothing was cancelled. Wait for it to finish, or pass ?concurrencyPolicy=Allow to run alongside it`,
    );
  }
  if (decision.replace.length > 0) {
    await cancelActiveRuns(requestCancel, gateway, namespace, active, `replaced by run ${ownRunId} (concurrencyPolicy Replace)`, log);
  }
}

function othersRuns(count: number): string {
  return count === 1 ? 'an active run started by another caller' : `${String(count)} active runs started by other callers`;
}
