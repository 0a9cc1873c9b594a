import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import { JOB_NAME_POD_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE, RUN_ID_LABEL } from '../../src/core/labels.js';
import { readBoundedLog, readRunLog } from '../../src/runs/archive.js';
import { FakeKube } from '../fakes/kube.js';

/** Logs read for the archive and the logs route: both ends kept, what is left out counted. The fake serves logs as the kubelet does. */
const numbered = (n: number) => Array.from({ length: n }, (_, i) => `line ${String(i + 1).padStart(6, '0')}`).join('\n') + '\n';

describe('readBoundedLog', () => {
  it('a log within the bound: one read, kept whole', async () => {
    const kube = new FakeKube();
    kube.logs.set('batch/p-1/main', numbered(10));
    const log = await readBoundedLog(kube, 'batch', 'p-1', { container: 'main', previous: false }, 4096);
    expect(log).toEqual({ content: Buffer.from(numbered(10)), truncated: false });
    expect(kube.calls.filter((c) => c.startsWith('readPodLog'))).toHaveLength(1);
  });

  it('a log within four times the bound: one read, both ends, the exact count left out', async () => {
    const kube = new FakeKube();
    kube.logs.set('batch/p-1/main', numbered(1000));
    const log = await readBoundedLog(kube, 'batch', 'p-1', { container: 'main', previous: false }, 4096);
    const text = log.content.toString('utf8');
    expect(text.startsWith('line 000001\n')).toBe(true);
    expect(text.endsWith('line 001000\n')).toBe(true);
    expect(log.omitted?.atLeast).toBe(false);
    expect(text.split('\n').length - 2 + (log.omitted?.lines ?? 0)).toBe(1000);
    expect(kube.calls.filter((c) => c.startsWith('readPodLog'))).toHaveLength(1);
  });

  it('a log longer than four times the bound: its end read by its last lines, the count says "more than"', async () => {
    const kube = new FakeKube();
    kube.logs.set('batch/p-1/main', numbered(100_000));
    const log = await readBoundedLog(kube, 'batch', 'p-1', { container: 'main', previous: false }, 4096);
    const text = log.content.toString('utf8');
    expect(log.content.length).toBeLessThanOrEqual(4096);
    expect(text.startsWith('line 000001\n')).toBe(true);
    expect(text.endsWith('line 100000\n')).toBe(true);
    expect(log.omitted).toMatchObject({ atLeast: true });
    expect(text).toContain('[aks-job-runner: more than');
  });

  it('the previous instance is read when asked for', async () => {
    const kube = new FakeKube();
    kube.logs.set('batch/p-1/main/previous', 'crashed\n');
    const log = await readBoundedLog(kube, 'batch', 'p-1', { container: 'main', previous: true }, 4096);
    expect(log.content.toString()).toBe('crashed\n');
  });
});

describe("readRunLog of a run on a later attempt's Job (retries on disruption)", () => {
  const runId = 'nightly-0123456789';
  const pod = (name: string, jobName: string, created: string): V1Pod => ({
    metadata: { name, namespace: 'batch', creationTimestamp: new Date(created), labels: { [JOB_NAME_POD_LABEL]: jobName, [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [RUN_ID_LABEL]: runId } },
    spec: { containers: [{ name: 'main', image: 'busybox' }] },
    status: { phase: 'Running', containerStatuses: [{ name: 'main', image: 'busybox', imageID: '', ready: true, restartCount: 0, state: { running: {} } }] },
  });

  it("the app's run: its newest pod of any attempt, when the run id's own Job has none left", async () => {
    const kube = new FakeKube();
    kube.pods.push(pod(`${runId}-2-bbbbb`, `${runId}-2`, '2026-11-23T10:05:00Z'));
    kube.logs.set(`batch/${runId}-2-bbbbb/main`, 'second attempt\n');
    const log = await readRunLog(kube, null, { cluster: 'dev', namespace: 'batch', runId, previous: false, maxBytes: 1000, appRun: true });
    expect(log).toMatchObject({ from: 'live', pod: `${runId}-2-bbbbb`, text: 'second attempt\n' });
  });

  it('a Job the app did not start is read by its own name only', async () => {
    const kube = new FakeKube();
    kube.pods.push(pod(`${runId}-2-bbbbb`, `${runId}-2`, '2026-11-23T10:05:00Z'));
    await expect(readRunLog(kube, null, { cluster: 'dev', namespace: 'batch', runId, previous: false, maxBytes: 1000 })).rejects.toThrow('it has no pods');
  });
});
