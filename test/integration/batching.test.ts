import { beforeAll, describe, expect, inject, it } from 'vitest';

import { KubeconfigFileSource } from '../../src/clients/credentials.js';
import { ClientNodeGateway } from '../../src/clients/kube.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, RUN_ID_LABEL } from '../../src/core/labels.js';
import type { RunRef, RunSnapshot } from '../../src/core/run.js';
import { BATCH } from '../../src/runs/batch.js';
import { observeOnce, runReader } from '../../src/runs/observe.js';
import { fails, succeeds, UNPULLABLE_IMAGE, UNSCHEDULABLE_NODE_SELECTOR } from '../../testenv/fates.js';
import { adminKube, type JobSpecOptions, testJob, useNamespace, waitFor } from './helpers.js';

/**
 * The batched observe against the real API server: its set-based label selectors, paging and events give
 * every run exactly the snapshot the run's own reads give, for the states a run goes through.
 */
const ns = useNamespace('batching');
const kube = adminKube();
const grace = { imagePullSeconds: 3600, containerConfigSeconds: 3600, unschedulableSeconds: 3600, quotaSeconds: 3600 };
const noSettle = { reads: 0, intervalMs: 0 };

const RUNS: { name: string; options: Partial<JobSpecOptions> }[] = [
  { name: 'b-success', options: { fate: succeeds({ runFor: '100ms', terminationMessage: '{"rows":7}' }) } },
  { name: 'b-failure', options: { fate: fails({ runFor: '100ms', exitCode: 3 }) } },
  { name: 'b-running', options: { fate: succeeds({ runFor: '1h' }) } },
  { name: 'b-pull', options: { image: UNPULLABLE_IMAGE } },
  { name: 'b-unschedulable', options: { nodeSelector: UNSCHEDULABLE_NODE_SELECTOR } },
  { name: 'b-suspended', options: { suspend: true } },
];
const refs: RunRef[] = [...RUNS.map((r) => r.name), 'b-never-created'].map((runId) => ({ runId, cluster: 'local', namespace: '', source: { kind: 'Job', name: 'b' } }));
let gateway: ClientNodeGateway;

beforeAll(async () => {
  gateway = new ClientNodeGateway(new KubeconfigFileSource(inject('kubeconfigPath')), 10_000);
  for (const ref of refs) ref.namespace = ns();
  const labels = (runId: string) => ({ [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [RUN_ID_LABEL]: runId });
  for (const run of RUNS) {
    const job = testJob({ name: run.name, namespace: ns(), ...run.options, labels: { ...labels(run.name), ...run.options.labels } });
    await kube.batch.createNamespacedJob({ namespace: ns(), body: { ...job, metadata: { ...job.metadata, labels: labels(run.name) } } });
  }
  // Finished Jobs of the app nobody watches: never in the lists.
  for (let i = 0; i < 5; i++) {
    const name = `b-old-${String(i)}`;
    const job = testJob({ name, namespace: ns(), suspend: true, labels: labels(name) });
    await kube.batch.createNamespacedJob({ namespace: ns(), body: { ...job, metadata: { ...job.metadata, labels: labels(name) } } });
  }
  await waitFor('every run in the state it is tested in', async () => {
    const seen = await Promise.all(refs.map((ref) => observeOnce(gateway, ref, grace, null, new Date(), noSettle)));
    const reasons = Object.fromEntries(seen.map((s) => [s.runId, s.reason]));
    return (
      reasons['b-success'] === 'CompletionsReached' &&
      reasons['b-failure'] === 'BackoffLimitExceeded' &&
      reasons['b-running'] === 'Running' &&
      /ImagePull|ErrImagePull/.test(reasons['b-pull'] ?? '') &&
      reasons['b-unschedulable'] === 'Unschedulable' &&
      reasons['b-suspended'] === 'Suspended' &&
      reasons['b-never-created'] === 'JobDeleted'
    );
  }, 90_000, 1000);
}, 120_000);

describe('batched observation on the real API server', () => {
  it('gives each run every field its own reads give, whenever the cluster held still between the two', async () => {
    const now = new Date();
    let compared = 0;
    for (let round = 0; round < 5 && compared < refs.length; round++) {
      const before = await Promise.all(refs.map((ref) => observeOnce(gateway, ref, grace, null, now, noSettle)));
      const read = runReader(gateway, true, { ...BATCH, gatherMs: 20, pageSize: 2 });
      const batched = await Promise.all(refs.map((ref) => observeOnce(gateway, ref, grace, null, now, noSettle, read)));
      const after = await Promise.all(refs.map((ref) => observeOnce(gateway, ref, grace, null, now, noSettle)));
      const still = (i: number) => JSON.stringify(before[i]) === JSON.stringify(after[i]);
      const pairs: [RunSnapshot | undefined, RunSnapshot | undefined][] = refs.map((_, i) => (still(i) ? [batched[i], before[i]] : [undefined, undefined]));
      for (const [b, own] of pairs) expect(b).toEqual(own);
      compared = Math.max(compared, pairs.filter(([, own]) => own !== undefined).length);
    }
    // The pull-backoff pod's events move on their own; the others hold still, so most runs were compared.
    expect(compared).toBeGreaterThanOrEqual(refs.length - 1);
  }, 60_000);

  it('reads through a set-based selector only the watched runs, paged', async () => {
    const page = await gateway.listJobs(ns(), { labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE},${RUN_ID_LABEL} in (b-success,b-running,b-old-0)`, limit: 2 });
    expect(page.items).toHaveLength(2);
    expect(page.continueToken).toBeDefined();
    const rest = await gateway.listJobs(ns(), { labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE},${RUN_ID_LABEL} in (b-success,b-running,b-old-0)`, limit: 2, continueToken: page.continueToken });
    expect([...page.items, ...rest.items].map((j) => j.metadata?.name).sort()).toEqual(['b-old-0', 'b-running', 'b-success']);
  });
});
