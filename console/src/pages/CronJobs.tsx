import { useEffect, useState } from 'preact/hooks';

import { patchCronJob, runCronJobNow, type Scope } from '../actions.ts';
import { call, messageOf } from '../api.ts';
import { Dialog, Empty, ErrorNote, StatusBadge, useLoad } from '../components.tsx';
import { formatInstant, relative, warningText } from '../logic/answers.ts';
import { hashOf } from '../logic/routes.ts';
import type { CronJobItem, Page, Preview } from '../types.ts';
import { RunDialog } from './RunDialog.tsx';

interface Reading {
  words: string;
  next: string | null;
}

/**
 * The schedule in words and its next time, from the preview route (the scheduler's own reading), one request
 * per distinct schedule. The listing's own nextRunTime, when it has one, knows who fires it and wins.
 */
function useDescriptions(items: CronJobItem[] | undefined): Record<string, Reading> {
  const [words, setWords] = useState<Record<string, Reading>>({});
  useEffect(() => {
    const wanted = [...new Set((items ?? []).map((c) => `${c.schedule}\n${c.timeZone ?? ''}`))].filter((k) => !(k in words));
    let live = true;
    void Promise.all(
      wanted.map(async (k) => {
        const [schedule, timeZone] = k.split('\n');
        try {
          const answer = await call<Preview>('GET', 'schedules/preview', { query: { schedule, timeZone, count: 1 } });
          return [k, { words: answer.body.description, next: answer.body.next[0]?.utc ?? null }] as const;
        } catch (err) {
          return [k, { words: `cannot be read: ${messageOf(err)}`, next: null }] as const;
        }
      }),
    ).then((pairs) => {
      if (live && pairs.length > 0) setWords((w) => ({ ...w, ...Object.fromEntries(pairs) }));
    });
    return () => {
      live = false;
    };
  }, [items]);
  return words;
}

export function CronJobsPage({ scope }: { scope: Scope }) {
  const list = useLoad(
    async () => (await call<Page<CronJobItem>>('GET', 'cronjobs', { query: { cluster: scope.cluster, namespace: scope.namespace, limit: 500 } })).body.items,
    [scope.cluster, scope.namespace],
  );
  const words = useDescriptions(list.data);
  const [running, setRunning] = useState<CronJobItem | null>(null);
  const [deleting, setDeleting] = useState<CronJobItem | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [note, setNote] = useState<{ error?: string; done?: string } | null>(null);
  const now = Date.now();

  const act = async (item: CronJobItem, what: string, changes: Record<string, unknown>) => {
    setBusy(item.name);
    setNote(null);
    try {
      await patchCronJob(scope, item.name, changes);
      setNote({ done: `${item.name}: ${what}` });
      list.reload();
    } catch (err) {
      setNote({ error: `${item.name}: ${messageOf(err)}` });
    } finally {
      setBusy(null);
    }
  };
  const remove = async (item: CronJobItem) => {
    setBusy(item.name);
    try {
      await call('DELETE', `cronjobs/${encodeURIComponent(scope.namespace)}/${encodeURIComponent(item.name)}`, { query: { cluster: scope.cluster } });
      setNote({ done: `${item.name} deleted, with its Jobs` });
      setDeleting(null);
      list.reload();
    } catch (err) {
      setNote({ error: `${item.name}: ${messageOf(err)}` });
    } finally {
      setBusy(null);
    }
  };

  return (
    <section aria-labelledby="cronjobs-title">
      <div class="page-head">
        <h1 id="cronjobs-title">CronJobs in {scope.namespace}</h1>
        <div class="head-actions">
          <button type="button" class="secondary outline" onClick={list.reload} aria-busy={list.loading}>
            Refresh
          </button>
          <a role="button" href={hashOf({ route: { page: 'create' }, ...scope })}>
            New CronJob
          </a>
        </div>
      </div>
      <ErrorNote error={note?.error ?? list.error} />
      {note?.done ? <p role="status" class="done-note">{note.done}</p> : null}
      {list.data && list.data.length === 0 ? (
        <Empty>
          No CronJobs in namespace {scope.namespace} on cluster {scope.cluster}. <a href={hashOf({ route: { page: 'create' }, ...scope })}>Make one from a Deployment</a>.
        </Empty>
      ) : null}
      {list.data && list.data.length > 0 ? (
        <div class="overflow-auto">
          <table class="striped cronjobs stack">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Schedule</th>
                <th scope="col">Next run</th>
                <th scope="col">Last run</th>
                <th scope="col">Scheduled by</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.data.map((item) => {
                const reading = words[`${item.schedule}\n${item.timeZone ?? ''}`];
                const app = item.scheduler === 'app';
                // Nobody fires a suspended CronJob the app does not own.
                const next = item.nextRunTime !== undefined ? item.nextRunTime : item.suspended && !app ? null : (reading?.next ?? null);
                return (
                  <tr key={item.name} data-cronjob={item.name}>
                    <th scope="row">
                      <a href={hashOf({ route: { page: 'cronjob', name: item.name }, ...scope })}>{item.name}</a>
                      {item.image ? <small class="block muted">{item.image}</small> : null}
                    </th>
                    <td data-label="Schedule">
                      {reading?.words ?? <code>{item.schedule}</code>}
                      <small class="block muted">
                        <code>{item.schedule}</code> {reading?.words.includes(item.timeZone ?? 'UTC') ? null : (item.timeZone ?? 'UTC')}
                      </small>
                      {(item.warnings ?? []).map((w, i) => (
                        <small key={i} class="block warning" role="note">
                          ⚠ {warningText(w)}
                        </small>
                      ))}
                    </td>
                    <td data-label="Next run">
                      {next ? formatInstant(next, item.timeZone ?? 'UTC') : item.suspended ? 'none: suspended' : '—'}
                      {next ? <small class="block muted">{relative(next, now)}</small> : null}
                    </td>
                    <td data-label="Last run">
                      {item.lastRun ? (
                        <>
                          <a href={hashOf({ route: { page: 'run', runId: item.lastRun.runId }, ...scope })}>
                            <StatusBadge status={item.lastRun.result} />
                          </a>
                          <small class="block muted">{formatInstant(item.lastRun.time)}</small>
                        </>
                      ) : (
                        'never'
                      )}
                      {(item.activeRuns ?? []).length > 0 ? <small class="block">running: {(item.activeRuns ?? []).join(', ')}</small> : null}
                    </td>
                    <td data-label="Scheduled by">
                      {app ? 'the app' : 'the cluster'}
                      {item.suspended ? <small class="block muted">{app ? 'suspended in the cluster' : 'suspended'}</small> : null}
                    </td>
                    <td data-label="Actions">
                      <div class="actions">
                      <button type="button" onClick={() => { setRunning(item); }} disabled={busy === item.name}>
                        Run now
                      </button>
                      {app ? null : (
                        <button type="button" class="secondary outline" disabled={busy === item.name} onClick={() => void act(item, item.suspended ? 'resumed' : 'suspended', { suspend: !item.suspended })}>
                          {item.suspended ? 'Resume' : 'Suspend'}
                        </button>
                      )}
                      <button
                        type="button"
                        class="secondary outline"
                        disabled={busy === item.name}
                        onClick={() => void act(item, app ? 'handed back to the cluster' : "handed to the app's scheduler", { scheduler: app ? 'cluster' : 'app' })}
                      >
                        {app ? 'Hand back to cluster' : 'Hand to app'}
                      </button>
                      <a role="button" class="secondary outline" href={hashOf({ route: { page: 'cronjob', name: item.name }, ...scope })}>
                        Edit
                      </a>
                      <button type="button" class="secondary outline danger" disabled={busy === item.name} onClick={() => { setDeleting(item); }}>
                        Delete
                      </button>
                      </div>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : null}
      {running ? (
        <RunDialog
          title={`Run ${running.name} now`}
          params={running.params}
          referenced={running.referencedParams}
          concurrency
          start={(overrides, allow) => runCronJobNow(scope, running.name, overrides, allow)}
          onStarted={(answer) => {
            window.location.hash = hashOf({ route: { page: 'run', runId: answer.runId }, ...scope });
          }}
          onClose={() => { setRunning(null); }}
        />
      ) : null}
      {deleting ? (
        <Dialog title={`Delete ${deleting.name}?`} open onClose={() => { setDeleting(null); }}>
          <p>
            The CronJob <strong>{deleting.name}</strong> goes, with its Jobs and their pods. Archived logs stay.
          </p>
          <footer>
            <button type="button" class="secondary" onClick={() => { setDeleting(null); }}>
              Keep it
            </button>
            <button type="button" class="danger" aria-busy={busy === deleting.name} onClick={() => void remove(deleting)}>
              Delete {deleting.name}
            </button>
          </footer>
        </Dialog>
      ) : null}
    </section>
  );
}
