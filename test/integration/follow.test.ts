import { appendFile, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { type LocalApp, startLocalApp } from '../../local/host/server.js';
import { decodeFollowCursor, FOLLOW_LINE_PREFIX } from '../../src/core/follow.js';
import { JOB_NAME_POD_LABEL } from '../../src/core/labels.js';
import { type LocalCluster, startCluster } from '../../testenv/cluster.js';
import { succeeds } from '../../testenv/fates.js';
import { testJob, waitFor } from './helpers.js';

/**
 * Following a run's log on a control plane of this file's own, whose kwok gives the pods of one namespace a log
 * of the test's own (testenv `podLogs`: a ClusterLogs rule, read by kwok through the API server as a kubelet's
 * log is, with `follow`). The test writes numbered lines into it as a container would, in the CRI format, and
 * restarts the container as a kubelet does: a new log file for the new instance (the symlink kwok reads through
 * re-pointed at it; a follow already open keeps the old file, as the kubelet's does) and the pod's restartCount
 * moved on. The app runs on the local host, which streams a response as the Functions worker does with
 * enableHttpStream (@azure/functions src/http/httpProxy.ts, sendProxyResponse: each chunk written as the body
 * gives it); the client is fetch, reading the body as it arrives.
 */
let cluster: LocalCluster;
let app: LocalApp;
let core: CoreV1Api;
let dir: string;
const NS = 'follow';
const SEGMENT_SECONDS = 4;

const current = () => join(dir, 'current.log');
const instanceFile = (i: number) => join(dir, `instance-${String(i)}.log`);

/** Points `link` at `target` in one step (a new symlink renamed over the old), as a restart swaps the log file. */
async function repoint(link: string, target: string): Promise<void> {
  const temp = `${link}.new`;
  await rm(temp, { force: true });
  await symlink(target, temp);
  await rename(temp, link);
}

/** Lines in the CRI log format a runtime writes: RFC 3339 time with nanoseconds, stream, tag F (a full line), text. */
function cri(lines: string[], at = new Date()): string {
  const stamp = at.toISOString().replace('Z', '123456Z');
  return lines.map((line) => `${stamp} stdout F ${line}\n`).join('');
}

const numbered = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `line-${String(from + i).padStart(4, '0')}`);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aks-job-runner-follow-'));
  await writeFile(instanceFile(0), '');
  await symlink(instanceFile(0), current());
  await symlink(instanceFile(0), join(dir, 'previous.log'));
  cluster = await startCluster({ nodes: 1, podLogs: [{ namespace: NS, logsFile: current(), previousLogsFile: join(dir, 'previous.log') }] });
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: NS } } });
  await waitFor('ServiceAccount default', async () => (await core.readNamespacedServiceAccount({ name: 'default', namespace: NS })).metadata?.name);
  Object.assign(process.env, {
    CLUSTERS: JSON.stringify([{ alias: 'local', type: 'kubeconfig', kubeconfigPath: cluster.kubeconfigPath, namespaces: [NS] }]),
    POLL_INITIAL_SECONDS: '1',
    POLL_MAX_SECONDS: '1',
    STATUS_RETRY_AFTER_SECONDS: '1',
    LOGS_CONNECTION_STRING: inject('logsConnectionString'),
    LOGS_CONTAINER: 'follow-logs',
    LOGS_FOLLOW_SEGMENT_SECONDS: String(SEGMENT_SECONDS),
    LOGS_FOLLOW_MAX_STREAMS: '3',
    LOGS_FOLLOW_MAX_STREAMS_PER_CALLER: '2',
  });
  app = await startLocalApp({ functionKey: 'follow-key' });
  const batch = kc.makeApiClient((await import('@kubernetes/client-node')).BatchV1Api);
  await batch.createNamespacedJob({
    namespace: NS,
    body: testJob({ name: 'numbered', namespace: NS, suspend: true, fate: succeeds({ runFor: '1h' }), terminationGracePeriodSeconds: 1 }),
  });
}, 120_000);

afterAll(async () => {
  await app.close();
  await cluster.stop();
  await rm(dir, { recursive: true, force: true });
});

interface Segment {
  startedAt: number;
  lines: { text: string; at: number }[];
}

/** Reads one followed segment, line by line as the bytes arrive, noting when each line came. */
async function readSegment(runId: string, since: string | undefined, onStart: () => void): Promise<Segment> {
  const url = `${app.url}/api/runs/${runId}/logs?follow=true&code=follow-key${since ? `&since=${since}` : ''}`;
  const startedAt = Date.now();
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8');
  onStart();
  const segment: Segment = { startedAt, lines: [] };
  const decoder = new TextDecoder();
  let rest = '';
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    const parts = (rest + decoder.decode(chunk, { stream: true })).split('\n');
    rest = parts.pop() ?? '';
    for (const text of parts) segment.lines.push({ text, at: Date.now() });
  }
  expect(rest).toBe('');
  return segment;
}

async function runPod(runId: string): Promise<V1Pod> {
  return waitFor('the run pod to run', async () =>
    (await core.listNamespacedPod({ namespace: NS, labelSelector: `${JOB_NAME_POD_LABEL}=${runId}` })).items.find((p) => p.status?.phase === 'Running'),
  );
}

describe('GET /runs/{runId}/logs?follow=true on the real control plane', () => {
  it('a numbered-line log read with follow across segments and a container restart has no line lost or doubled, and a new line arrives within 2 s', async () => {
    const started = await fetch(`${app.url}/api/jobs/${NS}/numbered/runs?code=follow-key`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(started.status).toBe(202);
    const { runId } = (await started.json()) as { runId: string };
    const pod = await runPod(runId);
    const podName = pod.metadata?.name ?? '';

    // The first lines, before anyone follows; two share one instant.
    await appendFile(instanceFile(0), cri(numbered(1, 5)));

    // The client: segment after segment, each resumed from the cursor the one before ended with, until the end line.
    const segments: Segment[] = [];
    let segmentStarted: () => void = () => undefined;
    const following = (async () => {
      let since: string | undefined;
      for (let i = 0; i < 20; i++) {
        const segment = await readSegment(runId, since, () => {
          segmentStarted();
        });
        segments.push(segment);
        const last = segment.lines.at(-1)?.text ?? '';
        if (last.startsWith(`${FOLLOW_LINE_PREFIX}end `)) return;
        const cursor = /^--- aks-job-runner: continue(?: since=(\S+))?$/.exec(last);
        expect(cursor, `segment ${String(i)} ends with a continue line, not ${last}`).not.toBeNull();
        since = cursor?.[1];
      }
      throw new Error(`the follow never ended; the last segments:\n${segments.slice(-3).map((s) => s.lines.map((l) => l.text).join('\n')).join('\n--\n')}`);
    })();
    const nextSegment = () =>
      new Promise<void>((resolve) => {
        segmentStarted = resolve;
      });

    // Lines written one by one while it follows, each noted with the moment it was written.
    const written = new Map<string, number>();
    const write = async (file: string, from: number, to: number, gapMs: number) => {
      for (const line of numbered(from, to)) {
        written.set(line, Date.now());
        await appendFile(file, cri([line]));
        await new Promise((resolve) => setTimeout(resolve, gapMs));
      }
    };
    await write(instanceFile(0), 6, 25, 250);

    // The restart, in the middle of a segment: the old instance's last words (in one instant), then the kubelet's
    // new log file for the new instance and, a moment later, the pod's status saying restartCount 1.
    await nextSegment();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await appendFile(instanceFile(0), cri(numbered(26, 28)));
    await writeFile(instanceFile(1), cri(numbered(29, 30)));
    await repoint(current(), instanceFile(1));
    const live = await core.readNamespacedPod({ namespace: NS, name: podName });
    const status = live.status?.containerStatuses?.[0];
    if (!live.status || !status) throw new Error('the run pod has no container status');
    const restartedAt = new Date();
    status.restartCount = 1;
    status.lastState = { terminated: { exitCode: 1, reason: 'Error', startedAt: status.state?.running?.startedAt ?? restartedAt, finishedAt: restartedAt } };
    status.state = { running: { startedAt: restartedAt } };
    await core.replaceNamespacedPodStatus({ namespace: NS, name: podName, body: live });
    await write(instanceFile(1), 31, 45, 250);

    // The verdict: the run is cancelled, its Job and pod deleted; the rest comes from the archive and the follow ends.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const cancelled = await fetch(`${app.url}/api/runs/${runId}/cancel?code=follow-key`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(cancelled.status).toBe(202);
    await following;

    const all = segments.flatMap((s) => s.lines);
    const own = all.filter((l) => !l.text.startsWith(FOLLOW_LINE_PREFIX)).map((l) => l.text);
    expect(own).toEqual(numbered(1, 45));
    expect(segments.length).toBeGreaterThanOrEqual(3);
    // Each segment but the last ended on its own with a cursor, near the segment length.
    for (const segment of segments.slice(0, -1)) {
      const end = segment.lines.at(-1);
      expect(end?.text).toMatch(/^--- aks-job-runner: continue since=/);
      expect((end?.at ?? 0) - segment.startedAt).toBeLessThan((SEGMENT_SECONDS + 3) * 1000);
    }
    const restartedCursor = segments.flatMap((s) => s.lines).map((l) => /since=(\S+)$/.exec(l.text)?.[1]).filter((c) => c !== undefined).map((c) => decodeFollowCursor(c));
    expect(restartedCursor.some((c) => c.r === 1)).toBe(true);
    expect(all.map((l) => l.text)).toContain(`${FOLLOW_LINE_PREFIX}pod ${podName} container main instance 1 (restarted)`);
    expect(all.at(-1)?.text).toBe(`${FOLLOW_LINE_PREFIX}end Cancelled (the rest from the logs archive)`);
    expect(all.some((l) => l.text.includes('not in the logs archive'))).toBe(false);
    // A line written while a segment was open reached the client within 2 s.
    // A line written while the client follows (across segment ends and the restart too) reaches it within 2 s.
    const delays = all.filter((l) => written.has(l.text)).map((l) => l.at - (written.get(l.text) ?? 0));
    expect(delays).toHaveLength(35);
    const sorted = [...delays].sort((a, b) => a - b);
    console.log(`follow: ${String(segments.length)} segments, ${String(delays.length)} lines timed, median ${String(sorted[Math.floor(sorted.length / 2)])} ms, max ${String(sorted.at(-1))} ms`);
    expect(Math.max(...delays)).toBeLessThan(2000);
  }, 180_000);
});
