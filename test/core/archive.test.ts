import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import {
  type ArchiveIndex,
  boundLog,
  CALLER_UNKNOWN,
  decodeCursor,
  encodeCursor,
  entryFromMarker,
  findLog,
  keepEnds,
  listedFailureKind,
  logTargets,
  markerMetadata,
  mergeRunPage,
  namespaceMarkerName,
  namespaceRunsPrefix,
  omissionMarker,
  type RunCursor,
  type RunEntry,
  sortTimeOf,
  sourceMarkerName,
  sourceOf,
  starterOf,
  tailLines,
  triggerOf,
} from '../../src/core/archive.js';
import { BadRequestError } from '../../src/core/errors.js';

const t0 = Date.parse('2026-11-23T10:00:00Z');
const minutes = (n: number) => t0 + n * 60_000;

function pod(spec: V1Pod['spec'], status: V1Pod['status'] = {}): V1Pod {
  return { metadata: { name: 'run-1-abcde' }, spec, status };
}

describe('logTargets', () => {
  it.each([
    {
      name: 'one container',
      pod: pod({ containers: [{ name: 'main' }] }),
      want: [['main', 'main', false]],
    },
    {
      name: 'init containers first, a sidecar told apart by restartPolicy Always',
      pod: pod({ initContainers: [{ name: 'setup' }, { name: 'proxy', restartPolicy: 'Always' }], containers: [{ name: 'main' }] }),
      want: [
        ['setup', 'init', false],
        ['proxy', 'sidecar', false],
        ['main', 'main', false],
      ],
    },
    {
      name: 'the previous instance of a container that restarted',
      pod: pod(
        { containers: [{ name: 'main' }, { name: 'helper' }] },
        { containerStatuses: [{ name: 'main', restartCount: 2, image: 'x', imageID: '', ready: false }, { name: 'helper', restartCount: 0, image: 'x', imageID: '', ready: false }] },
      ),
      want: [
        ['main', 'main', false],
        ['main', 'main', true],
        ['helper', 'main', false],
      ],
    },
    {
      name: 'ephemeral containers last',
      pod: pod({ containers: [{ name: 'main' }], ephemeralContainers: [{ name: 'debugger' }] }),
      want: [
        ['main', 'main', false],
        ['debugger', 'ephemeral', false],
      ],
    },
  ])('$name', ({ pod: p, want }) => {
    expect(logTargets(p).map((t) => [t.container, t.role, t.previous])).toEqual(want);
    expect(logTargets(p).every((t) => t.pod === 'run-1-abcde')).toBe(true);
  });
});

describe('boundLog: both ends of a long log, and a marker of what was left out', () => {
  const numbered = (n: number) => Array.from({ length: n }, (_, i) => `line ${String(i + 1).padStart(5, '0')}`).join('\n') + '\n';

  it.each([
    { name: 'a log under the bound is kept whole', text: 'hello\n', max: 10 },
    { name: 'a log of exactly the bound is not truncated', text: '0123456789', max: 10 },
  ])('$name', ({ text, max }) => {
    expect(boundLog(text, max)).toEqual({ content: Buffer.from(text), truncated: false });
  });

  it('a numbered log over the bound keeps its first and last lines, whole, and says how many lines and bytes were left out', () => {
    const text = numbered(10_000);
    const bounded = boundLog(text, 4096);
    const kept = bounded.content.toString('utf8');
    expect(bounded.content.length).toBeLessThanOrEqual(4096);
    const lines = kept.split('\n');
    expect(lines[0]).toBe('line 00001');
    expect(lines.at(-2)).toBe('line 10000');
    const marker = lines.find((l) => l.startsWith('[aks-job-runner:'));
    const before = lines.indexOf(marker ?? '');
    const lastHead = Number(lines[before - 1]?.slice(5));
    const firstTail = Number(lines[before + 1]?.slice(5));
    // The marker's count is exactly the lines between the last kept head line and the first kept tail line.
    expect(bounded.omitted).toEqual({ lines: firstTail - lastHead - 1, bytes: (firstTail - lastHead - 1) * 11, atLeast: false });
    expect(marker).toBe(`[aks-job-runner: ${String((firstTail - lastHead - 1) * 11)} bytes (${String(firstTail - lastHead - 1)} lines) of this log are left out here]`);
    // Both halves are used: about half the bound each.
    expect(lastHead).toBeGreaterThan(150);
    expect(10_000 - firstTail).toBeGreaterThan(150);
  });

  it('one line longer than the bound keeps its start and its end, never splitting a character', () => {
    const bounded = boundLog(`START${'é'.repeat(5000)}END`, 1024);
    const kept = bounded.content.toString('utf8');
    expect(bounded.content.length).toBeLessThanOrEqual(1024);
    expect(kept.startsWith('STARTé')).toBe(true);
    expect(kept.endsWith('éEND')).toBe(true);
    expect(kept).not.toContain('\uFFFD');
    expect(bounded.omitted?.lines).toBe(0);
  });

  it('a log longer than was read: its end read apart, the marker says "more than"', () => {
    const start = Buffer.from(numbered(1000));
    const end = Buffer.from('line 99998\nline 99999\n');
    const bounded = keepEnds(start, end, 1024, false);
    const kept = bounded.content.toString('utf8');
    expect(kept.startsWith('line 00001\n')).toBe(true);
    expect(kept.endsWith('line 99998\nline 99999\n')).toBe(true);
    expect(bounded.omitted?.atLeast).toBe(true);
    expect(kept).toMatch(/\[aks-job-runner: more than \d+ bytes \(more than \d+ lines\) of this log are left out here\]/);
  });

  it('the marker\'s numbers fit the room kept for them', () => {
    expect(Buffer.byteLength(omissionMarker({ bytes: 1e14, lines: 1e14, atLeast: true }))).toBeLessThan(200);
  });
});

describe('tailLines', () => {
  it.each([
    { name: 'fewer lines than asked: all of them', text: 'a\nb\n', lines: 5, want: 'a\nb\n' },
    { name: 'the last lines, with the final newline', text: 'a\nb\nc\n', lines: 2, want: 'b\nc\n' },
    { name: 'a log without a final newline', text: 'a\nb\nc', lines: 1, want: 'c\n' },
    { name: 'an empty log', text: '', lines: 3, want: '' },
  ])('$name', ({ text, lines, want }) => {
    expect(tailLines(text, lines)).toBe(want);
  });
});

function job(metadata: V1Job['metadata'], status: V1Job['status'] = {}): V1Job {
  return { metadata: { name: 'nightly-29923598', ...metadata }, status };
}
const owner = { apiVersion: 'batch/v1', kind: 'CronJob', name: 'nightly', uid: 'u1', controller: true };
const appLabels = { 'app.kubernetes.io/managed-by': 'aks-job-runner', 'aks-job-runner.io/source-kind': 'CronJob', 'aks-job-runner.io/source-name': 'nightly' };

describe('triggerOf and sourceOf', () => {
  it.each([
    { name: 'the CronJob controller', job: job({ ownerReferences: [owner], annotations: { 'batch.kubernetes.io/cronjob-scheduled-timestamp': '2026-11-23T10:00:00Z' } }), trigger: 'cluster' },
    { name: 'kubectl create job --from', job: job({ ownerReferences: [owner], annotations: { 'cronjob.kubernetes.io/instantiate': 'manual' } }), trigger: 'manual' },
    { name: 'the app, on request', job: job({ ownerReferences: [owner], labels: appLabels, annotations: { 'cronjob.kubernetes.io/instantiate': 'manual' } }), trigger: 'http' },
    {
      name: "the app's scheduler",
      job: job({ ownerReferences: [owner], labels: appLabels, annotations: { 'batch.kubernetes.io/cronjob-scheduled-timestamp': '2026-11-23T10:00:00Z' } }),
      trigger: 'schedule',
    },
  ] as const)('a Job made by $name has trigger $trigger and its CronJob as source', ({ job: j, trigger }) => {
    expect(triggerOf(j)).toBe(trigger);
    expect(sourceOf(j)).toEqual({ kind: 'CronJob', name: 'nightly' });
  });

  it('a Job no CronJob controls and the app did not make has no source', () => {
    expect(sourceOf(job({ ownerReferences: [{ ...owner, controller: false }] }))).toBeNull();
  });
});

describe('who a run answers to (issue 21 item 5)', () => {
  it.each([
    { name: 'an HTTP run of an Entra caller', trigger: 'http', tag: 'entra:app-1:obj-1', starter: { kind: 'entra', appId: 'app-1', objectId: 'obj-1' } },
    { name: 'an HTTP run of a key caller', trigger: 'http', tag: 'key', starter: { kind: 'key' } },
    { name: 'an HTTP run from before callers were recorded: a key caller\'s, as the status route says', trigger: 'http', tag: undefined, starter: { kind: 'key' } },
    { name: 'an HTTP run whose Job was gone before the archive read it: nobody\'s but an admin\'s', trigger: 'http', tag: CALLER_UNKNOWN, starter: { kind: 'entra', appId: '', objectId: '' } },
    { name: 'a scheduled run, whatever its Job says', trigger: 'schedule', tag: 'entra:app-1:obj-1', starter: null },
    { name: "the cluster's run, whatever its template copied", trigger: 'cluster', tag: 'entra:app-1:obj-1', starter: null },
    { name: "kubectl's run", trigger: 'manual', tag: undefined, starter: null },
  ] as const)('$name', ({ trigger, tag, starter }) => {
    expect(starterOf(trigger, tag)).toEqual(starter);
  });

  it('a marker keeps the caller tag and reads it back', () => {
    const metadata = markerMetadata({ runId: 'r-abcdefgh', status: 'Success', reason: 'Complete', startTime: null, completionTime: null, trigger: 'http', caller: 'entra:app-1:obj-1' });
    expect(Object.values(metadata).every((v) => /^[\x20-\x7e]*$/.test(v))).toBe(true);
    expect(entryFromMarker(`dev/batch/.by-source/CronJob/n/${'1'.repeat(13)}.r-abcdefgh`, metadata)?.caller).toBe('entra:app-1:obj-1');
  });
});

describe('source markers', () => {
  it('carry the run in their name and metadata, and read back as the same run', () => {
    const start = new Date('2026-11-23T10:00:05Z');
    const name = sourceMarkerName('dev', 'batch', 'CronJob', 'nightly', start, 'nightly-29923598');
    expect(name).toBe(`dev/batch/.by-source/CronJob/nightly/${String(9_999_999_999_999 - start.getTime())}.nightly-29923598`);
    const metadata = markerMetadata({
      runId: 'nightly-29923598',
      status: 'Failed',
      reason: 'BackoffLimitExceeded: ä',
      startTime: start.toISOString(),
      completionTime: null,
      trigger: 'cluster',
    });
    expect(Object.values(metadata).every((v) => /^[\x20-\x7e]*$/.test(v))).toBe(true);
    expect(entryFromMarker(name, metadata)).toEqual({
      runId: 'nightly-29923598',
      status: 'Failed',
      reason: 'BackoffLimitExceeded: ä',
      startTime: start.toISOString(),
      completionTime: null,
      trigger: 'cluster',
      live: false,
      archived: true,
      sortTime: start.getTime(),
    });
  });

  it('newer runs sort first by name', () => {
    const older = sourceMarkerName('dev', 'batch', 'CronJob', 'n', new Date(minutes(0)), 'n-1');
    const newer = sourceMarkerName('dev', 'batch', 'CronJob', 'n', new Date(minutes(1)), 'n-2');
    expect([older, newer].sort()).toEqual([newer, older]);
  });

  it('a blob that is not a marker is no run', () => {
    expect(entryFromMarker('dev/batch/.by-source/CronJob/n/readme.txt', {})).toBeUndefined();
  });

  it('a run sorts by its start, else by its creation', () => {
    expect(sortTimeOf(job({ creationTimestamp: new Date(minutes(0)) }, { startTime: new Date(minutes(1)) }), new Date(0)).getTime()).toBe(minutes(1));
    expect(sortTimeOf(job({ creationTimestamp: new Date(minutes(0)) }), new Date(0)).getTime()).toBe(minutes(0));
    expect(sortTimeOf(null, new Date(minutes(5))).getTime()).toBe(minutes(5));
  });
});

describe('findLog', () => {
  const index = {
    logs: [
      { pod: 'p-2', container: 'setup', role: 'init', previous: false, bytes: 1, truncated: false, blob: 'a' },
      { pod: 'p-2', container: 'main', role: 'main', previous: false, bytes: 1, truncated: false, blob: 'b' },
      { pod: 'p-2', container: 'main', role: 'main', previous: true, bytes: 1, truncated: false, blob: 'c' },
      { pod: 'p-1', container: 'main', role: 'main', previous: false, bytes: 1, truncated: false, blob: 'd' },
    ],
  } as ArchiveIndex;
  it.each([
    { name: 'by default the first main container, not an init container', container: undefined, previous: false, pod: undefined, blob: 'b' },
    { name: 'a container by name', container: 'setup', previous: false, pod: undefined, blob: 'a' },
    { name: 'the previous instance', container: undefined, previous: true, pod: undefined, blob: 'c' },
    { name: 'a pod by name', container: 'main', previous: false, pod: 'p-1', blob: 'd' },
    { name: 'nothing for a container the run did not have', container: 'nope', previous: false, pod: undefined, blob: undefined },
  ])('$name', ({ container, previous, pod: p, blob }) => {
    expect(findLog(index, container, previous, p)?.blob).toBe(blob);
  });
});

function run(id: string, minute: number, extra: Partial<RunEntry> = {}): RunEntry {
  return {
    runId: id,
    status: 'Success',
    reason: 'CompletionsReached',
    startTime: new Date(minutes(minute)).toISOString(),
    completionTime: null,
    trigger: 'cluster',
    live: false,
    archived: true,
    sortTime: minutes(minute),
    ...extra,
  };
}
const live = (id: string, minute: number) => run(id, minute, { live: true, archived: false });
/** Archived runs as the listing returns them (newest first), `perPage` to a listing page, markers m0, m1, ... */
function listing(entries: RunEntry[], perPage: number) {
  return entries.map((entry, i) => ({ entry, marker: i < perPage ? null : `m${Math.floor(i / perPage)}` }));
}

describe('mergeRunPage', () => {
  it('merges live and archived runs newest first; a run in both shows once, marked both', () => {
    const page = mergeRunPage([live('n-5', 5), live('n-4', 4)], { entries: listing([run('n-4', 4), run('n-3', 3)], 10), exhausted: true }, null, 10);
    expect(page.items.map((r) => [r.runId, r.live, r.archived])).toEqual([
      ['n-5', true, false],
      ['n-4', true, true],
      ['n-3', false, true],
    ]);
    expect(page.next).toBeNull();
  });

  it('orders runs that started in the same millisecond by run id, as the listing does', () => {
    const page = mergeRunPage([live('n-b', 1)], { entries: listing([run('n-a', 1), run('n-c', 1)], 10), exhausted: true }, null, 10);
    expect(page.items.map((r) => r.runId)).toEqual(['n-a', 'n-b', 'n-c']);
  });

  it('pages through every run exactly once, across live and archived runs and listing pages', () => {
    const archived = [9, 8, 6, 5, 3, 2, 1].map((m) => run(`n-${String(m)}`, m));
    const lives = [live('n-10', 10), live('n-7', 7), live('n-4', 4)];
    const seen: string[] = [];
    let cursor: RunCursor | null = null;
    for (let guard = 0; guard < 10; guard++) {
      // What the route reads: from the cursor's marker on (the listing pages hold 2 each).
      const all = listing(archived, 2);
      const from = cursor?.marker ? all.findIndex((a) => a.marker === cursor?.marker) : 0;
      const page = mergeRunPage(lives, { entries: all.slice(from), exhausted: true }, cursor, 3);
      seen.push(...page.items.map((r) => r.runId));
      if (!page.next) break;
      cursor = decodeCursor(encodeCursor(page.next));
    }
    expect(seen).toEqual(['n-10', 'n-9', 'n-8', 'n-7', 'n-6', 'n-5', 'n-4', 'n-3', 'n-2', 'n-1']);
  });

  it('keeps the marker of the listing page the last archived run shown came from', () => {
    const page = mergeRunPage([], { entries: listing([run('n-9', 9), run('n-8', 8), run('n-7', 7)], 2), exhausted: true }, null, 2);
    expect(page.next).toEqual({ sortTime: minutes(8), runId: 'n-8', marker: null });
    const second = mergeRunPage([], { entries: listing([run('n-9', 9), run('n-8', 8), run('n-7', 7), run('n-6', 6)], 2), exhausted: false }, page.next, 1);
    expect(second.items.map((r) => r.runId)).toEqual(['n-7']);
    expect(second.next?.marker).toBe('m1');
  });

  it('offers a next page when the listing has more, even if this page is exactly full', () => {
    const page = mergeRunPage([], { entries: listing([run('n-2', 2), run('n-1', 1)], 2), exhausted: false }, null, 2);
    expect(page.next).toMatchObject({ runId: 'n-1' });
  });

  it('an empty history is one empty page', () => {
    expect(mergeRunPage([], { entries: [], exhausted: true }, null, 5)).toEqual({ items: [], next: null });
  });
});

describe('the namespace index (issue 22 item 6)', () => {
  it("a namespace marker sorts newest first, lies outside every run's prefix and every source's, and keeps source and failure kind", () => {
    const start = new Date('2026-11-23T10:00:05Z');
    const name = namespaceMarkerName('dev', 'batch', start, 'report-abcdefgh12');
    expect(name).toBe(`dev/batch/.by-time/${String(9_999_999_999_999 - start.getTime())}.report-abcdefgh12`);
    expect(name.startsWith(namespaceRunsPrefix('dev', 'batch'))).toBe(true);
    expect(name.startsWith(sourceMarkerName('dev', 'batch', 'Job', 'report', start, 'x').replace(/[^/]+$/, ''))).toBe(false);
    expect([namespaceMarkerName('dev', 'batch', new Date(minutes(0)), 'a-1'), namespaceMarkerName('dev', 'batch', new Date(minutes(1)), 'a-2')].sort()[0]).toContain('a-2');
    const metadata = markerMetadata({
      runId: 'report-abcdefgh12',
      status: 'Failed',
      reason: 'BackoffLimitExceeded',
      startTime: start.toISOString(),
      completionTime: null,
      trigger: 'http',
      caller: 'key',
      source: { kind: 'Job', name: 'report' },
      failureKind: 'OOMKilled',
    });
    expect(Object.values(metadata).every((v) => /^[\x20-\x7e]*$/.test(v))).toBe(true);
    expect(entryFromMarker(name, metadata)).toMatchObject({ runId: 'report-abcdefgh12', source: { kind: 'Job', name: 'report' }, failureKind: 'OOMKilled', caller: 'key' });
  });

  it('a marker written before sources and failure kinds were kept reads back without them, and a kind the app does not know is left out', () => {
    const name = namespaceMarkerName('dev', 'batch', new Date(minutes(0)), 'old-run-1');
    const entry = entryFromMarker(name, { runid: 'old-run-1', status: 'Failed', reason: 'x', starttime: '', completiontime: '', trigger: 'http', failurekind: 'Gremlins' });
    expect(entry).toBeDefined();
    expect(entry && 'source' in entry).toBe(false);
    expect(entry && 'failureKind' in entry).toBe(false);
  });

  it.each([
    { name: 'a deadline the Job controller enforced', conditions: [{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' }], verdict: 'Failed', kind: 'DeadlineExceeded' },
    { name: 'a backoff limit: only the pods tell why', conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }], verdict: 'Failed', kind: null },
    { name: 'a success', conditions: [{ type: 'Complete', status: 'True', reason: 'CompletionsReached', message: '' }], verdict: 'Success', kind: null },
  ] as const)("a live Job's failure kind from the Job alone: $name", ({ conditions, verdict, kind }) => {
    const j = job({}, { conditions: conditions.map((c) => ({ ...c })) });
    expect(listedFailureKind({ status: verdict, reason: conditions[0].reason, message: conditions[0].message }, j, new Date(t0))).toBe(kind);
  });
});

/** What the namespace runs use case does with a listing: read from the cursor's marker, at most `maxPages` pages. */
function readListing(all: RunEntry[], perPage: number, cursor: RunCursor | null, maxPages: number, wantedLimit: number, keep: (e: RunEntry) => boolean) {
  const entries: { entry: RunEntry; marker: string | null }[] = [];
  let page = cursor?.marker ? Number(cursor.marker.slice(1)) : 0;
  let wanted = wantedLimit;
  for (let read = 1; ; read++) {
    const marker = page === 0 ? null : `m${String(page)}`;
    for (const entry of all.slice(page * perPage, (page + 1) * perPage)) {
      entries.push({ entry, marker });
      if ((!cursor || entry.sortTime < cursor.sortTime || (entry.sortTime === cursor.sortTime && entry.runId > cursor.runId)) && keep(entry)) wanted--;
    }
    page++;
    if (page * perPage >= all.length) return { entries, exhausted: true, next: null };
    if (wanted <= 0 || read >= maxPages) return { entries, exhausted: false, next: `m${String(page)}` };
  }
}

describe('mergeRunPage with a filter and a bounded listing (issue 22 item 6)', () => {
  it('leaves out what the filter does not keep, without counting it towards the page', () => {
    const archived = listing([run('n-4', 4, { status: 'Failed' }), run('n-3', 3), run('n-2', 2, { status: 'Failed' })], 10);
    const page = mergeRunPage([live('n-5', 5)], { entries: archived, exhausted: true }, null, 2, (e) => e.status === 'Failed');
    expect(page.items.map((r) => r.runId)).toEqual(['n-4', 'n-2']);
    expect(page.next).toBeNull();
  });

  it('the filter judges a run in both by its live status, and the archive gives the failure kind the Job alone cannot', () => {
    const page = mergeRunPage(
      [run('n-1', 1, { live: true, archived: false, status: 'Failed', failureKind: null })],
      { entries: listing([run('n-1', 1, { status: 'Failed', failureKind: 'OOMKilled' })], 10), exhausted: true },
      null,
      5,
    );
    expect(page.items).toMatchObject([{ runId: 'n-1', live: true, archived: true, failureKind: 'OOMKilled' }]);
  });

  it('places no live run after the last archived run read while the listing goes on, and resumes from there', () => {
    // Archived n-9, n-7 read (one listing page); the listing has more. Live n-8 is placed, live n-1 waits: an unread
    // archived run (n-5, say) sorts before it.
    const page = mergeRunPage([live('n-8', 8), live('n-1', 1)], { entries: listing([run('n-9', 9), run('n-7', 7)], 2), exhausted: false, next: 'm1' }, null, 10);
    expect(page.items.map((r) => r.runId)).toEqual(['n-9', 'n-8', 'n-7']);
    expect(page.next).toEqual({ sortTime: minutes(7), runId: 'n-7', marker: 'm1' });
    const second = mergeRunPage([live('n-8', 8), live('n-1', 1)], { entries: listing([run('n-5', 5)], 10), exhausted: true }, page.next, 10);
    expect(second.items.map((r) => r.runId)).toEqual(['n-5', 'n-1']);
  });

  it('a bounded read that finds nothing the filter keeps answers an empty page that still goes on', () => {
    const page = mergeRunPage([], { entries: listing([run('n-9', 9), run('n-8', 8)], 2), exhausted: false, next: 'm1' }, null, 5, (e) => e.status === 'Failed');
    expect(page).toEqual({ items: [], next: { sortTime: minutes(8), runId: 'n-8', marker: 'm1' } });
  });

  it('an empty listing page that goes on (Blob Storage may answer one) keeps the place it was given', () => {
    const cursor = { sortTime: minutes(8), runId: 'n-8', marker: 'm1' };
    expect(mergeRunPage([], { entries: [], exhausted: false, next: 'm2' }, cursor, 5).next).toEqual({ ...cursor, marker: 'm2' });
    expect(mergeRunPage([live('n-1', 1)], { entries: [], exhausted: false, next: 'm1' }, null, 5)).toEqual({
      items: [],
      next: { sortTime: Number.MAX_SAFE_INTEGER, runId: '', marker: 'm1' },
    });
  });

  it.each([
    { name: 'every run', keep: () => true },
    { name: 'Failed runs only', keep: (e: RunEntry) => e.status === 'Failed' },
    { name: 'a status no run has', keep: (e: RunEntry) => e.status === 'Unknown' },
    { name: 'one run in thirty, live ones among them', keep: (e: RunEntry) => Number(e.runId.split('-')[2]) % 30 === 0 },
  ])('pages through $name exactly once, newest first, in bounded reads, across live and archived runs', ({ keep }) => {
    // 400 runs a minute apart, every third failed; one in five live (one in ten of those archived too); ties by id.
    const statuses = ['Success', 'Failed', 'Success'] as const;
    const everyRun = Array.from({ length: 400 }, (_, i) => run(`n-${String(i % 10)}-${String(i)}`, Math.floor(i / 2), { status: statuses[i % 3] ?? 'Success' }));
    const lives = everyRun.filter((_, i) => i % 5 === 0).map((r) => ({ ...r, live: true, archived: false }));
    const archivedOnly = everyRun.filter((_, i) => i % 5 !== 0 || i % 10 === 0).sort(compareEntries);
    const expected = everyRun.filter(keep).sort(compareEntries).map((r) => r.runId);
    const seen: string[] = [];
    let cursor: RunCursor | null = null;
    let requests = 0;
    for (; requests < 200; requests++) {
      const batch = readListing(archivedOnly, 25, cursor, 3, 7, keep);
      expect(batch.entries.length).toBeLessThanOrEqual(75);
      const page = mergeRunPage(lives, batch, cursor, 7, keep);
      expect(page.items.length).toBeLessThanOrEqual(7);
      seen.push(...page.items.map((r) => r.runId));
      if (!page.next) break;
      cursor = decodeCursor(encodeCursor(page.next));
    }
    expect(seen).toEqual(expected);
    expect(requests).toBeLessThan(200);
  });
});

function compareEntries(a: RunEntry, b: RunEntry): number {
  return a.sortTime !== b.sortTime ? b.sortTime - a.sortTime : a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0;
}

describe('continue tokens', () => {
  it('round-trip', () => {
    const cursor = { sortTime: minutes(3), runId: 'n-3', marker: 'opaque/marker==' };
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
  });

  it.each(['not-a-token', Buffer.from('[1,2]').toString('base64url'), Buffer.from('{"a":1}').toString('base64url')])('refuses %s with a 400 saying where tokens come from', (token) => {
    expect(() => decodeCursor(token)).toThrow(BadRequestError);
    expect(() => decodeCursor(token)).toThrow(/"continue" value of the previous page/);
  });
});
