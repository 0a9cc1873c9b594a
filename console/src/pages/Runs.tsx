import { useEffect, useState } from 'preact/hooks';

import { listRuns, type Scope } from '../actions.ts';
import { messageOf } from '../api.ts';
import { Empty, ErrorNote, StatusBadge } from '../components.tsx';
import { formatInstant, relative } from '../logic/answers.ts';
import { hashOf } from '../logic/routes.ts';
import { formatDuration, startedByText,STATUS_FILTERS } from '../logic/runs.ts';
import type { RunItem } from '../types.ts';

/** Runs shown at first, and added by "Show more". */
const PAGE = 50;
/**
 * Requests made at most to fill one screen: the API answers a shorter page (even an empty one) with a continue
 * token when a filter matches few runs, rather than reading the whole archive in one request.
 */
const MAX_REQUESTS = 5;

interface Loaded {
  items: RunItem[];
  next: string | null;
  archive: boolean;
}

/** GET /runs from `token` on, until a screenful is in or the API says there is no more. */
async function loadRuns(scope: Scope, status: string | null, token: string | null): Promise<Loaded> {
  const items: RunItem[] = [];
  let next = token;
  let archive = true;
  for (let i = 0; i < MAX_REQUESTS; i++) {
    const page = await listRuns(scope, { status, limit: PAGE - items.length, continueToken: next });
    items.push(...page.items);
    archive = page.archive;
    next = page.continue;
    if (!next || items.length >= PAGE) break;
  }
  return { items, next, archive };
}

/**
 * Every run of the namespace, whoever started it (a caller over HTTP, Polysync, the app's scheduler, the CronJob
 * controller, kubectl), newest first, as far as the key lets the console see them: live Jobs of the app and the
 * archive's runs. Each opens the run page (cause, log tail, Rerun).
 */
export function RunsPage({ scope, status, onStatus }: { scope: Scope; status: string | null; onStatus: (status: string | null) => void }) {
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setBusy(true);
    setError(null);
    loadRuns(scope, status, null).then(
      (page) => {
        if (!live) return;
        setLoaded(page);
        setBusy(false);
      },
      (err: unknown) => {
        if (!live) return;
        setLoaded(null);
        setError(messageOf(err));
        setBusy(false);
      },
    );
    return () => {
      live = false;
    };
  }, [scope.cluster, scope.namespace, status, tick]);
  const more = async () => {
    if (!loaded?.next) return;
    setBusy(true);
    try {
      const page = await loadRuns(scope, status, loaded.next);
      setLoaded({ items: [...loaded.items, ...page.items], next: page.next, archive: page.archive });
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  const now = Date.now();
  const runs = loaded?.items ?? [];
  return (
    <section aria-labelledby="runs-title">
      <div class="page-head">
        <h1 id="runs-title">Runs in {scope.namespace}</h1>
        <div class="head-actions">
          <label class="inline-filter">
            <span class="muted">Status</span>
            <select name="status" aria-label="Status" value={status ?? ''} onChange={(e) => { onStatus(e.currentTarget.value || null); }}>
              <option value="">All</option>
              {STATUS_FILTERS.map((s) => <option key={s} value={s}>{s}</option>)}
            </select>
          </label>
          <button type="button" class="secondary outline" onClick={() => { setTick((t) => t + 1); }} aria-busy={busy}>Refresh</button>
        </div>
      </div>
      <p class="muted">
        Every run in this namespace you may see, newest first: started on request (curl, Polysync, Logic Apps), by the app's scheduler or by the cluster.
        {loaded && !loaded.archive ? ' No logs archive is configured, so only runs whose Jobs are still in the cluster are listed.' : ''}
      </p>
      <ErrorNote error={error} />
      {loaded && runs.length === 0 && !loaded.next ? <Empty>{status ? `No ${status} runs in namespace ${scope.namespace}.` : `No runs in namespace ${scope.namespace} yet.`}</Empty> : null}
      {runs.length > 0 ? (
        <div class="overflow-auto">
          <table class="striped stack runs-table">
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Status</th>
                <th scope="col">Source</th>
                <th scope="col">Started by</th>
                <th scope="col">Started</th>
                <th scope="col">Duration</th>
              </tr>
            </thead>
            <tbody>
              {runs.map((r) => (
                <tr key={r.runId} data-run={r.runId}>
                  <th scope="row">
                    <a href={hashOf({ route: { page: 'run', runId: r.runId }, cluster: scope.cluster, namespace: scope.namespace })}>{r.runId}</a>
                    {r.live ? null : <small class="block muted">archived</small>}
                  </th>
                  <td data-label="Status">
                    <StatusBadge status={r.status} />
                    {r.failureKind ? <small class="block" data-testid="run-failure-kind">{r.failureKind}</small> : null}
                    {r.status !== 'Success' && r.status !== 'Running' && r.reason && r.reason !== r.failureKind ? <small class="block muted">{r.reason}</small> : null}
                  </td>
                  <td data-label="Source">{r.source ? <>{r.source.kind === 'CronJob' ? <a href={hashOf({ route: { page: 'cronjob', name: r.source.name }, cluster: scope.cluster, namespace: scope.namespace })}>{r.source.name}</a> : r.source.name}<small class="block muted">{r.source.kind}</small></> : '—'}</td>
                  <td data-label="Started by">{startedByText(r.trigger, r.startedBy)}</td>
                  <td data-label="Started" title={formatInstant(r.startTime, undefined, true)}>{r.startTime ? relative(r.startTime, now) : '—'}</td>
                  <td data-label="Duration">{formatDuration(r.durationSeconds)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {loaded?.next ? (
        <button type="button" class="secondary outline" aria-busy={busy} onClick={() => void more()}>
          {runs.length === 0 ? 'Look further back' : 'Show more'}
        </button>
      ) : null}
    </section>
  );
}
