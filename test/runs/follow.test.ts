import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import { decodeFollowCursor, FOLLOW_LINE_PREFIX, type FollowCursor } from '../../src/core/follow.js';
import { JOB_NAME_POD_LABEL } from '../../src/core/labels.js';
import { followRunLog } from '../../src/runs/follow.js';
import { FakeKube } from '../fakes/kube.js';

const NS = 'batch';
const RUN = 'nightly-x1';

function job(conditions: { type: string; status: string }[] = []): V1Job {
  return { metadata: { name: RUN, namespace: NS }, spec: { template: { spec: { containers: [] } } }, status: { conditions: conditions } };
}

function pod(name: string, created: string, state: 'running' | 'terminated' | 'waiting', restartCount = 0): V1Pod {
  return {
    metadata: { name, namespace: NS, creationTimestamp: new Date(created), labels: { [JOB_NAME_POD_LABEL]: RUN } },
    spec: { containers: [{ name: 'main', image: 'busybox' }] },
    status: {
      phase: state === 'terminated' ? 'Succeeded' : state === 'running' ? 'Running' : 'Pending',
      containerStatuses: [
        {
          name: 'main',
          image: 'busybox',
          imageID: '',
          ready: state === 'running',
          restartCount,
          state: state === 'running' ? { running: {} } : state === 'terminated' ? { terminated: { exitCode: 0 } } : { waiting: { reason: 'ContainerCreating' } },
        },
      ],
    },
  };
}

function stamp(second: number, nanos = 0): string {
  return `2026-12-07T02:00:${String(second).padStart(2, '0')}${nanos ? `.${String(nanos).padStart(9, '0').replace(/0+$/, '')}` : ''}Z`;
}

/** One segment, read to its end; `during` runs while it is open. */
async function segment(kube: FakeKube, since: FollowCursor | undefined, ms: number, during?: () => Promise<void>): Promise<{ lines: string[]; cursor: FollowCursor | undefined; ended: boolean }> {
  const gen = followRunLog(kube, null, { cluster: 'local', namespace: NS, runId: RUN, since, maxBytes: 1 << 20 }, {
    deadline: Date.now() + ms,
    now: () => Date.now(),
    sleep: (wait) => new Promise((resolve) => setTimeout(resolve, wait)),
    pollMs: 20,
    describe: (err) => String(err),
  });
  const work = during?.();
  let text = '';
  for await (const chunk of gen) text += chunk;
  await work;
  const lines = text.split('\n').slice(0, -1);
  const last = lines.at(-1) ?? '';
  const resume = /since=(\S+)$/.exec(last)?.[1];
  return { lines, cursor: resume ? decodeFollowCursor(resume) : undefined, ended: last.startsWith(`${FOLLOW_LINE_PREFIX}end `) };
}

const own = (lines: string[]) => lines.filter((l) => !l.startsWith(FOLLOW_LINE_PREFIX));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('followRunLog', () => {
  it('sends lines as they are written, resumes from the cursor without a line twice, through a restart and onto the next pod, and ends at the verdict', async () => {
    const kube = new FakeKube().addJob(job());
    kube.pods.push(pod('p1', '2026-12-07T02:00:00Z', 'running'));
    const key = `${NS}/p1/main`;
    for (const i of [1, 2, 3]) kube.appendLog(key, stamp(1), `line ${String(i)}`);

    // Segment 1: three lines there, a fourth written while it is open (same second as none before).
    const first = await segment(kube, undefined, 300, async () => {
      await sleep(100);
      kube.appendLog(key, stamp(2, 5), 'line 4');
    });
    expect(own(first.lines)).toEqual(['line 1', 'line 2', 'line 3', 'line 4']);
    expect(first.lines[0]).toBe(`${FOLLOW_LINE_PREFIX}pod p1 container main instance 0 (start)`);
    expect(first.cursor).toMatchObject({ p: 'p1', c: 'main', r: 0, t: stamp(2, 5), n: 1, l: 4 });
    expect(kube.openStreams.size).toBe(0);

    // Between segments the container prints two more lines in the same instant, then restarts: they are in its
    // previous log now, with everything before them; the new instance writes its own.
    kube.appendLog(key, stamp(2, 5), 'line 5');
    kube.appendLog(key, stamp(2, 5), 'line 6');
    kube.stampedLogs.set(`${key}/previous`, [...(kube.stampedLogs.get(key) ?? [])]);
    kube.stampedLogs.set(key, [{ stamp: stamp(3), text: 'line 7' }]);
    kube.pods[0] = pod('p1', '2026-12-07T02:00:00Z', 'running', 1);
    const second = await segment(kube, first.cursor, 300, async () => {
      await sleep(100);
      kube.appendLog(key, stamp(4), 'line 8');
    });
    expect(own(second.lines)).toEqual(['line 5', 'line 6', 'line 7', 'line 8']);
    expect(second.lines).toContain(`${FOLLOW_LINE_PREFIX}pod p1 container main instance 1 (restarted)`);
    expect(second.cursor).toMatchObject({ p: 'p1', r: 1, l: 2 });

    // The pod fails for good after one more line, the Job makes another, which runs to the Job's verdict.
    kube.appendLog(key, stamp(5), 'line 9');
    kube.pods[0] = pod('p1', '2026-12-07T02:00:00Z', 'terminated', 1);
    kube.pods.push(pod('p2', '2026-12-07T02:00:06Z', 'terminated'));
    kube.appendLog(`${NS}/p2/main`, stamp(7), 'line 10');
    kube.addJob(job([{ type: 'Complete', status: 'True' }]));
    const third = await segment(kube, second.cursor, 2000);
    expect(own(third.lines)).toEqual(['line 9', 'line 10']);
    expect(third.lines).toContain(`${FOLLOW_LINE_PREFIX}pod p2 container main instance 0 (next pod)`);
    expect(third.ended).toBe(true);
    expect(third.lines.at(-1)).toBe(`${FOLLOW_LINE_PREFIX}end Success (the rest from the live pod)`);
    expect(kube.openStreams.size).toBe(0);
  });

  it('waits for a pod that has not started, then follows it', async () => {
    const kube = new FakeKube().addJob(job());
    kube.pods.push(pod('p1', '2026-12-07T02:00:00Z', 'waiting'));
    const result = await segment(kube, undefined, 400, async () => {
      await sleep(100);
      kube.pods[0] = pod('p1', '2026-12-07T02:00:00Z', 'running');
      kube.appendLog(`${NS}/p1/main`, stamp(1), 'hello');
    });
    expect(own(result.lines)).toEqual(['hello']);
    expect(result.cursor).toMatchObject({ p: 'p1', l: 1 });
  });

  it('a failure mid-stream becomes a line and the continue line with the cursor before it', async () => {
    const kube = new FakeKube().addJob(job());
    kube.pods.push(pod('p1', '2026-12-07T02:00:00Z', 'running'));
    kube.appendLog(`${NS}/p1/main`, stamp(1), 'one');
    kube.failNext('listPods', 500);
    const result = await segment(kube, { p: 'p1', c: 'main', r: 0, t: stamp(1), n: 1, l: 1 }, 300);
    expect(result.lines[0]).toContain(`${FOLLOW_LINE_PREFIX}error: `);
    expect(result.cursor).toEqual({ p: 'p1', c: 'main', r: 0, t: stamp(1), n: 1, l: 1 });
  });

  it('a pod gone at the verdict with no archive to read ends the follow saying its last lines are not kept', async () => {
    const kube = new FakeKube();
    const result = await segment(kube, { p: 'p1', c: 'main', r: 0, t: stamp(1), n: 1, l: 1 }, 1000);
    expect(result.lines).toEqual([`${FOLLOW_LINE_PREFIX}pod p1 is gone and its last lines are not in the logs archive`, `${FOLLOW_LINE_PREFIX}end Cancelled (the rest from the logs archive)`]);
    expect(result.ended).toBe(true);
  });
});
