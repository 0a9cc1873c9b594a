import { useEffect, useRef, useState } from 'preact/hooks';

import { cronJobPath, type Scope } from '../actions.ts';
import { ApiError, call, callText, messageOf, streamText } from '../api.ts';
import { Empty, ErrorNote, StatusBadge } from '../components.tsx';
import { formatInstant, isFinished, retryAfterMs } from '../logic/answers.ts';
import { type AttemptRow, attemptRows } from '../logic/attempts.ts';
import { hashOf } from '../logic/routes.ts';
import type { CronJobDetail, Delivery, RunFailure, Snapshot, Subscription } from '../types.ts';

/** What a failure kind means, in a person's words (docs/http-api.md, "Why a run failed"). */
const KIND_WORDS: Readonly<Record<string, string>> = {
  ExitCode: 'the container exited with an error',
  OOMKilled: 'the container used more memory than its limit',
  Evicted: 'the node ran short of resources and evicted the pod',
  DisruptionTarget: 'the pod was disrupted (a drain, an upgrade, preemption)',
  NodeLost: 'the pod\'s node went away',
  DeadlineExceeded: 'the Job ran longer than its activeDeadlineSeconds',
  PodFailurePolicy: 'a podFailurePolicy rule failed the Job',
  ImagePull: 'the image could not be pulled',
  Unschedulable: 'no node could take the pod',
  CreateContainerConfigError: 'a Secret, ConfigMap or key the container needs is missing',
  PodCreation: 'the Job could not create its pods (quota or admission)',
  RunTimeout: 'the run took longer than its timeoutSeconds',
  NotSubmitted: 'the Job was never created',
  Cancelled: 'the run was cancelled',
  Unknown: 'nothing the app knows explains it',
};

/** Why the run failed: the cause, where it happened, and the failing container's last lines. */
function Cause({ failure }: { failure: RunFailure }) {
  const where = [
    failure.container ? `container ${failure.container}` : null,
    failure.pod ? `pod ${failure.pod}` : null,
    failure.node ? `node ${failure.node}` : null,
    failure.attempt ? `pod attempt ${String(failure.attempt)}` : null,
  ].filter((x): x is string => x !== null);
  return (
    <section aria-labelledby="cause-title" data-testid="run-cause">
      <h2 id="cause-title">Why</h2>
      <p>
        <strong data-testid="failure-kind">{failure.kind}</strong>: {KIND_WORDS[failure.kind] ?? failure.kind}
        {failure.exitCode !== null ? <> · exit code <code data-testid="exit-code">{failure.exitCode}</code>{failure.signal ? ` (${failure.signal})` : ''}</> : null}
        {failure.rule !== undefined ? ` · rule ${String(failure.rule)}` : ''}
      </p>
      <p>
        <code>{failure.reason}</code> {failure.message}
      </p>
      {where.length > 0 || failure.at ? (
        <p>
          <small class="muted">{where.join(' · ')}{failure.at ? ` · ${formatInstant(failure.at, undefined, true)}` : ''}</small>
        </p>
      ) : null}
      {failure.logTail ? (
        <>
          <h3>Last lines</h3>
          <pre class="log" tabIndex={0} aria-label="The failing container's last lines" data-testid="log-tail">{failure.logTail}</pre>
        </>
      ) : null}
    </section>
  );
}

/**
 * The run's status as any client follows it: GET the status route, and while it answers 202 wait what
 * Retry-After says before asking again. 200 and 424 are final.
 */
function useRunStatus(runId: string): { snapshot: Snapshot | null; error: string | null; missing: boolean; refresh: () => void } {
  const [snapshot, setSnapshot] = useState<Snapshot | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [missing, setMissing] = useState(false);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const answer = await call<Snapshot>('GET', `runs/${encodeURIComponent(runId)}`, { accept: [424] });
        if (!live) return;
        setSnapshot(answer.body);
        setError(null);
        if (answer.status === 202) timer = setTimeout(() => void poll(), retryAfterMs(answer.headers.get('Retry-After'), Date.now()));
      } catch (err) {
        if (!live) return;
        if (err instanceof ApiError && err.problem.status === 404) setMissing(true);
        else {
          setError(messageOf(err));
          timer = setTimeout(() => void poll(), 5000);
        }
      }
    };
    void poll();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [runId, tick]);
  return { snapshot, error, missing, refresh: () => { setTick((t) => t + 1); } };
}

function download(name: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => { URL.revokeObjectURL(url); }, 1000);
}

/** Every line the app adds to a followed log starts with this (docs/http-api.md, "Following a log"). */
const FOLLOW_PREFIX = '--- aks-job-runner: ';
/** The most lines a followed log keeps on the page: the oldest go first. */
const FOLLOW_KEEP_LINES = 5000;

/**
 * A run's log followed as it is written (GET .../logs?follow=true): one streamed answer per segment, each resumed
 * from the cursor the one before ended with, until the end line at the run's verdict; a refusal (429, 503) or a
 * broken connection is tried again a few seconds later from the same cursor.
 */
function useFollowedLog(runId: string, scope: Scope, container: string, enabled: boolean): { text: string | null; note: string | null; ended: boolean } {
  const [text, setText] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [ended, setEnded] = useState(false);
  useEffect(() => {
    if (!enabled) {
      setText(null);
      return;
    }
    const abort = new AbortController();
    let lines: string[] = [];
    let rest = '';
    let since: string | undefined;
    // Set by take() while a stream is read; a function, so the loop below reads it afresh each time.
    const state = { done: false };
    const finished = () => state.done;
    const stopped = () => abort.signal.aborted;
    setEnded(false);
    setText('');
    const take = (piece: string) => {
      const parts = (rest + piece).split('\n');
      rest = parts.pop() ?? '';
      for (const line of parts) {
        const resume = line.startsWith(`${FOLLOW_PREFIX}continue`) ? /since=(\S+)$/.exec(line) : null;
        if (line.startsWith(`${FOLLOW_PREFIX}continue`)) since = resume?.[1];
        else if (line.startsWith(`${FOLLOW_PREFIX}end `)) {
          state.done = true;
          lines.push(line);
        } else lines.push(line);
      }
      if (lines.length > FOLLOW_KEEP_LINES) lines = lines.slice(-FOLLOW_KEEP_LINES);
      setText(lines.join('\n'));
    };
    void (async () => {
      while (!finished() && !stopped()) {
        try {
          await streamText(`runs/${encodeURIComponent(runId)}/logs`, { cluster: scope.cluster, namespace: scope.namespace, container, follow: true, since }, take, abort.signal);
          setNote(null);
        } catch (err) {
          if (stopped()) return;
          setNote(`${messageOf(err)} (trying again)`);
          await new Promise((resolve) => setTimeout(resolve, 5000));
        }
      }
      if (finished()) setEnded(true);
    })();
    return () => {
      abort.abort();
    };
  }, [runId, container, enabled]);
  return { text, note, ended };
}

/** One row per subscription and event it asks for: a subscription made before events were told apart shows its one delivery. */
function deliveryRows(sub: Subscription): { event: string; delivery: Delivery }[] {
  const rows = Object.entries(sub.deliveries ?? {}).flatMap(([event, delivery]) => (delivery ? [{ event, delivery }] : []));
  return rows.length > 0 ? rows : [{ event: sub.events.join(', '), delivery: sub }];
}

/** Who is told the run's start and verdict: each subscription's host (never its URL) and how each event's delivery stands. */
function Subscriptions({ items }: { items: Subscription[] }) {
  return (
    <section aria-labelledby="subscriptions-title" data-testid="run-subscriptions">
      <h2 id="subscriptions-title">Told of this run</h2>
      <table class="outputs">
        <thead>
          <tr><th scope="col">Receiver</th><th scope="col">Event</th><th scope="col">Delivery</th><th scope="col">Attempts</th><th scope="col">Last error</th></tr>
        </thead>
        <tbody>
          {items.flatMap((sub) =>
            deliveryRows(sub).map(({ event, delivery }) => (
              <tr key={`${sub.id}-${event}`}>
                <th scope="row">{sub.host} <small>({sub.format})</small></th>
                <td>{event}</td>
                <td>{delivery.state}{delivery.deliveredAt ? ` · ${formatInstant(delivery.deliveredAt, undefined, true)}` : ''}{delivery.deadLetter ? ` · dead letter ${delivery.deadLetter}` : ''}</td>
                <td>{delivery.attempts}</td>
                <td>{delivery.lastError ?? ''}</td>
              </tr>
            )),
          )}
        </tbody>
      </table>
    </section>
  );
}

/** The Jobs of a run that may retry on disruption (or did): each attempt's Job, how it ended, when. */
function Attempts({ rows }: { rows: AttemptRow[] }) {
  return (
    <section aria-labelledby="attempts-title" data-testid="run-attempts">
      <h2 id="attempts-title">Attempts</h2>
      <table class="outputs stack">
        <thead>
          <tr><th scope="col">#</th><th scope="col">Job</th><th scope="col">Ended</th><th scope="col">Started</th><th scope="col">Finished</th></tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.job}>
              <td data-label="#">{row.n}</td>
              <th scope="row"><code>{row.job}</code></th>
              <td data-label="Ended" data-testid="attempt-outcome">{row.outcome}</td>
              <td data-label="Started">{formatInstant(row.startTime, undefined, true)}</td>
              <td data-label="Finished">{formatInstant(row.completionTime, undefined, true)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** One container's log, live from the pod while it exists, from the archive after; a tail, following, a download. */
function Logs({ runId, scope, running, containers }: { runId: string; scope: Scope; running: boolean; containers: string[] }) {
  const [container, setContainer] = useState('');
  const [previous, setPrevious] = useState(false);
  const [tail, setTail] = useState('500');
  const [follow, setFollow] = useState(true);
  const [log, setLog] = useState<{ text: string; source: string | null; pod: string | null; container: string | null; truncated: boolean } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const pre = useRef<HTMLPreElement>(null);
  // While the run runs, its log is followed as it is written instead of asked for again and again.
  const followed = useFollowedLog(runId, scope, container, follow && running && !previous);
  const query = (all: boolean) => ({ cluster: scope.cluster, namespace: scope.namespace, container, previous: previous || undefined, tailLines: all ? undefined : tail });
  useEffect(() => {
    let live = true;
    callText(`runs/${encodeURIComponent(runId)}/logs`, query(false)).then(
      (answer) => {
        if (!live) return;
        setError(null);
        setLog({
          text: answer.body,
          source: answer.headers.get('X-Log-Source'),
          pod: answer.headers.get('X-Log-Pod'),
          container: answer.headers.get('X-Log-Container'),
          truncated: answer.headers.get('X-Log-Truncated') === 'true',
        });
      },
      (err: unknown) => {
        if (live) setError(messageOf(err));
      },
    );
    return () => {
      live = false;
    };
  }, [runId, container, previous, tail, tick]);
  useEffect(() => {
    // The follow has ended at the verdict: the log as it now is (the pod's or the archive's) takes its place.
    if (followed.ended) setTick((t) => t + 1);
  }, [followed.ended]);
  const wasRunning = useRef(running);
  useEffect(() => {
    // So it does when the status poll sees the verdict first: the follow stops then, before its end line came, and
    // the log asked for on opening (before the pod had written anything, say) would otherwise stay on the page.
    if (wasRunning.current && !running) setTick((t) => t + 1);
    wasRunning.current = running;
  }, [running]);
  useEffect(() => {
    if (pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [log?.text, followed.text]);
  const save = async () => {
    try {
      const answer = await callText(`runs/${encodeURIComponent(runId)}/logs`, query(true));
      download(`${runId}-${answer.headers.get('X-Log-Container') ?? 'log'}${previous ? '-previous' : ''}.log`, answer.body);
    } catch (err) {
      setError(messageOf(err));
    }
  };
  return (
    <section aria-labelledby="logs-title">
      <h2 id="logs-title">Logs</h2>
      <div class="grid log-controls">
        <label>
          Container
          <input list="run-containers" value={container} placeholder={containers[0] ?? 'the first'} onChange={(e) => { setContainer(e.currentTarget.value.trim()); }} />
          <datalist id="run-containers">
            {containers.map((c) => (
              <option key={c} value={c} />
            ))}
          </datalist>
        </label>
        <label>
          Last lines
          <input type="number" min={1} value={tail} onChange={(e) => { setTail(e.currentTarget.value); }} />
        </label>
        <fieldset>
          <legend class="sr-only">Log options</legend>
          <label>
            <input type="checkbox" checked={previous} onChange={(e) => { setPrevious(e.currentTarget.checked); }} />
            Previous instance
          </label>
          <label>
            <input type="checkbox" role="switch" checked={follow} onChange={(e) => { setFollow(e.currentTarget.checked); }} />
            Follow while running
          </label>
        </fieldset>
      </div>
      <div class="head-actions">
        <button type="button" class="secondary outline" onClick={() => { setTick((t) => t + 1); }}>Refresh log</button>
        <button type="button" class="secondary outline" onClick={() => void save()}>Download</button>
      </div>
      <ErrorNote error={error} />
      {followed.text !== null ? (
        <>
          <p>
            <small class="muted" data-testid="log-source">
              following live{container ? ` · container ${container}` : ''}{followed.note ? ` · ${followed.note}` : ''}
            </small>
          </p>
          {followed.text === '' ? <Empty>Waiting for the first line…</Empty> : <pre class="log" ref={pre} tabIndex={0} aria-label="Log text, followed as it is written" data-testid="log" data-following="true">{followed.text}</pre>}
        </>
      ) : log ? (
        <>
          <p>
            <small class="muted" data-testid="log-source">
              {log.source === 'archive' ? 'from the archive' : 'live from the pod'} {log.pod ?? ''} · container {log.container ?? '?'}
              {log.truncated ? ' · cut to the archive bound' : ''}
            </small>
          </p>
          {log.text === '' ? <Empty>The log is empty (so far).</Empty> : <pre class="log" ref={pre} tabIndex={0} aria-label="Log text" data-testid="log">{log.text}</pre>}
        </>
      ) : null}
    </section>
  );
}

export function RunPage({ scope, runId }: { scope: Scope; runId: string }) {
  const { snapshot: s, error, missing, refresh } = useRunStatus(runId);
  const [cancelling, setCancelling] = useState(false);
  const [note, setNote] = useState<string | null>(null);
  const [containers, setContainers] = useState<string[]>([]);
  const running = s !== null && !isFinished(s.status);
  const sourceKind = s?.source.kind;
  const sourceName = s?.source.name;
  useEffect(() => {
    if (sourceKind !== 'CronJob' || !sourceName) return;
    call<CronJobDetail>('GET', cronJobPath(scope, sourceName), { query: { cluster: scope.cluster } }).then(
      (answer) => { setContainers(answer.body.settings.containers.map((c) => c.name)); },
      () => undefined,
    );
  }, [sourceKind, sourceName]);
  const cancel = async () => {
    setCancelling(true);
    setNote(null);
    try {
      await call('POST', `runs/${encodeURIComponent(runId)}/cancel`, { body: { reason: 'cancelled in the console' } });
      refresh();
    } catch (err) {
      setNote(messageOf(err));
    } finally {
      setCancelling(false);
    }
  };
  const [rerunning, setRerunning] = useState(false);
  const rerun = async () => {
    setRerunning(true);
    setNote(null);
    try {
      const answer = await call<{ runId: string }>('POST', `runs/${encodeURIComponent(runId)}/rerun`, { body: {} });
      window.location.hash = hashOf({ route: { page: 'run', runId: answer.body.runId }, ...scope });
    } catch (err) {
      setNote(messageOf(err));
    } finally {
      setRerunning(false);
    }
  };
  const outputs = Object.entries(s?.outputs ?? {});
  return (
    <section aria-labelledby="run-title">
      {s ? (
        <p>
          <a href={s.source.kind === 'CronJob' ? hashOf({ route: { page: 'cronjob', name: s.source.name }, ...scope }) : hashOf({ route: { page: 'jobs' }, ...scope })}>
            ← {s.source.kind} {s.source.name}
          </a>
        </p>
      ) : null}
      <div class="page-head">
        <h1 id="run-title">Run {runId}</h1>
        {running ? (
          <div class="head-actions">
            <button type="button" class="danger" aria-busy={cancelling} onClick={() => void cancel()}>Cancel run</button>
          </div>
        ) : s ? (
          <div class="head-actions">
            <button type="button" aria-busy={rerunning} onClick={() => void rerun()}>Rerun</button>
          </div>
        ) : null}
      </div>
      <ErrorNote error={note ?? error} />
      {missing ? <Empty>The app did not start this run (the cluster's CronJob controller did, or it is unknown): no status to follow, but its logs are below.</Empty> : null}
      {!s && !missing && !error ? <p aria-busy="true">Reading the run…</p> : null}
      {s ? (
        <article aria-live="polite" data-testid="run-status">
          <p class="run-status">
            <StatusBadge status={s.status} /> <strong>{s.reason}</strong> {s.message}
          </p>
          <dl class="facts">
            <dt>Pods</dt>
            <dd>{s.pods.active} active, {s.pods.ready} ready, {s.pods.succeeded} succeeded, {s.pods.failed} failed</dd>
            <dt>Started by</dt>
            <dd>
              {s.trigger ? (
                s.trigger.kind === 'schedule' ? (
                  `the app's scheduler (${formatInstant(s.trigger.scheduledTime)})`
                ) : s.trigger.kind === 'rerun' && s.trigger.of ? (
                  <>a rerun of <a href={hashOf({ route: { page: 'run', runId: s.trigger.of }, ...scope })}>{s.trigger.of}</a></>
                ) : (
                  'a request'
                )
              ) : (
                '—'
              )}
            </dd>
            <dt>Started</dt>
            <dd>{formatInstant(s.startTime, undefined, true)}</dd>
            <dt>Finished</dt>
            <dd>{formatInstant(s.completionTime, undefined, true)}</dd>
            <dt>Where</dt>
            <dd>{s.cluster} / {s.namespace} / Job {s.jobName}</dd>
            <dt>Monitor</dt>
            <dd>{s.monitorUrl ? <a href={s.monitorUrl} target="_blank" rel="noopener noreferrer">open in the Azure portal</a> : 'no portal link for this cluster'}</dd>
            <dt>Observed</dt>
            <dd>{formatInstant(s.observedAt, undefined, true)}{running ? ' · following' : ''}</dd>
          </dl>
          {s.failure ? <Cause failure={s.failure} /> : null}
          {s.attempts && s.attempts.length > 0 ? <Attempts rows={attemptRows(s.attempts, s.status)} /> : null}
          {s.subscriptions && s.subscriptions.length > 0 ? <Subscriptions items={s.subscriptions} /> : null}
          <h2>Outputs</h2>
          {outputs.length === 0 ? (
            <Empty>{running ? 'Outputs come when the run ends.' : 'No outputs: the container wrote no JSON object as its termination message.'}</Empty>
          ) : (
            <table class="outputs">
              <tbody>
                {outputs.map(([k, v]) => (
                  <tr key={k}><th scope="row">{k}</th><td><code>{JSON.stringify(v)}</code></td></tr>
                ))}
              </tbody>
            </table>
          )}
        </article>
      ) : null}
      <Logs runId={runId} scope={{ cluster: s?.cluster ?? scope.cluster, namespace: s?.namespace ?? scope.namespace }} running={running || missing} containers={containers} />
    </section>
  );
}
