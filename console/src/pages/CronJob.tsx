import { useState } from 'preact/hooks';

import { cronJobPath, patchCronJob, runCronJobNow, type Scope } from '../actions.ts';
import { ApiError, call, messageOf } from '../api.ts';
import { Dialog, Empty, EnvEditor, ErrorNote, ScheduleEditor, StatusBadge, useLoad } from '../components.tsx';
import { fieldMessages, formatInstant, readableLocal, warningText } from '../logic/answers.ts';
import { envProblems, type EnvRow, overridesOf, rowsOf } from '../logic/env.ts';
import { hashOf } from '../logic/routes.ts';
import { choiceOf, cronOf, scheduleBody,type ScheduleChoice } from '../logic/schedule.ts';
import { formatWords, parseWords } from '../logic/words.ts';
import type { CronJobDetail, CronJobRun, Page } from '../types.ts';
import { RunDialog } from './RunDialog.tsx';

const FIELDS = ['schedule', 'preset', 'at', 'weekday', 'day', 'timeZone', 'command', 'args', 'env', 'concurrencyPolicy'];

/** The runs route lists live and archived runs; GET one CronJob's latestRuns are the live ones only. */
async function runsOf(scope: Scope, detail: CronJobDetail): Promise<CronJobRun[]> {
  try {
    return (await call<Page<CronJobRun>>('GET', `${cronJobPath(scope, detail.name)}/runs`, { query: { cluster: scope.cluster, limit: 20 } })).body.items;
  } catch (err) {
    if (err instanceof ApiError && err.problem.status === 404) return detail.latestRuns;
    throw err;
  }
}

function EditForm({ scope, detail, onSaved, onCancel }: { scope: Scope; detail: CronJobDetail; onSaved: () => void; onCancel: () => void }) {
  const first = detail.settings.containers[0];
  const [choice, setChoice] = useState<ScheduleChoice>(() => choiceOf(detail.settings.schedule));
  const [timeZone, setTimeZone] = useState(detail.settings.timeZone ?? '');
  const [policy, setPolicy] = useState(detail.settings.concurrencyPolicy);
  const [command, setCommand] = useState(formatWords(first?.command));
  const [args, setArgs] = useState(formatWords(first?.args));
  const [env, setEnv] = useState<EnvRow[]>(() => rowsOf(first?.env ?? {}, first?.referencedEnv ?? []));
  const [errors, setErrors] = useState<{ byField: Record<string, string>; general: string[] }>({ byField: {}, general: [] });
  const [busy, setBusy] = useState(false);
  const commandWords = parseWords(command);
  const argWords = parseWords(args);
  const save = async (e: Event) => {
    e.preventDefault();
    const cron = cronOf(choice);
    const changes: Record<string, unknown> = {};
    if (cron.ok && cron.value !== detail.settings.schedule) Object.assign(changes, scheduleBody(choice));
    if (timeZone.trim() !== (detail.settings.timeZone ?? '')) changes.timeZone = timeZone.trim() === '' ? null : timeZone.trim();
    if (policy !== detail.settings.concurrencyPolicy) changes.concurrencyPolicy = policy;
    if (commandWords.ok && command !== formatWords(first?.command)) changes.command = commandWords.value;
    if (argWords.ok && args !== formatWords(first?.args)) changes.args = argWords.value;
    const overrides = overridesOf(env);
    if (Object.keys(overrides).length > 0) changes.env = overrides;
    if (Object.keys(changes).length === 0) {
      onCancel();
      return;
    }
    setBusy(true);
    try {
      await patchCronJob(scope, detail.name, changes, detail.resourceVersion);
      onSaved();
    } catch (err) {
      setErrors(err instanceof ApiError ? fieldMessages(err.problem.detail, FIELDS) : { byField: {}, general: [messageOf(err)] });
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={(e) => void save(e)} aria-labelledby="edit-title">
      <h2 id="edit-title">Edit {detail.name}</h2>
      <ScheduleEditor
        choice={choice}
        onChange={setChoice}
        timeZone={timeZone}
        onTimeZone={setTimeZone}
        serverError={['schedule', 'preset', 'at', 'weekday', 'day', 'timeZone'].map((f) => errors.byField[f]).filter(Boolean).join('; ') || undefined}
      />
      <div class="grid">
        <label>
          Command
          <input value={command} onInput={(e) => { setCommand(e.currentTarget.value); }} aria-invalid={!commandWords.ok ? 'true' : undefined} />
          {!commandWords.ok ? <small class="field-error">{commandWords.error}</small> : null}
        </label>
        <label>
          Args
          <input value={args} onInput={(e) => { setArgs(e.currentTarget.value); }} aria-invalid={!argWords.ok ? 'true' : undefined} />
          {!argWords.ok ? <small class="field-error">{argWords.error}</small> : null}
        </label>
        <label>
          Concurrency policy
          <select value={policy} onChange={(e) => { setPolicy(e.currentTarget.value); }}>
            <option>Forbid</option>
            <option>Allow</option>
            <option>Replace</option>
          </select>
        </label>
      </div>
      <EnvEditor label={`Environment of ${first?.name ?? 'the container'}`} rows={env} onChange={setEnv} />
      {[...Object.values(errors.byField), ...errors.general].map((g) => (
        <ErrorNote key={g} error={g} />
      ))}
      <div class="form-actions">
        <button type="button" class="secondary" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" aria-busy={busy} disabled={busy || !commandWords.ok || !argWords.ok || envProblems(env).size > 0}>
          Save
        </button>
      </div>
    </form>
  );
}

export function CronJobPage({ scope, name }: { scope: Scope; name: string }) {
  const detail = useLoad(async () => (await call<CronJobDetail>('GET', cronJobPath(scope, name), { query: { cluster: scope.cluster } })).body, [scope.cluster, scope.namespace, name]);
  const runs = useLoad(async () => (detail.data ? runsOf(scope, detail.data) : []), [detail.data]);
  const [editing, setEditing] = useState(false);
  const [running, setRunning] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [note, setNote] = useState<{ error?: string; done?: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const d = detail.data;
  const act = async (what: string, changes: Record<string, unknown>) => {
    if (!d) return;
    setBusy(true);
    setNote(null);
    try {
      await patchCronJob(scope, name, changes, d.resourceVersion);
      setNote({ done: what });
      detail.reload();
    } catch (err) {
      setNote({ error: messageOf(err) });
    } finally {
      setBusy(false);
    }
  };
  const remove = async () => {
    setBusy(true);
    try {
      await call('DELETE', cronJobPath(scope, name), { query: { cluster: scope.cluster } });
      window.location.hash = hashOf({ route: { page: 'cronjobs' }, ...scope });
    } catch (err) {
      setNote({ error: messageOf(err) });
      setDeleting(false);
    } finally {
      setBusy(false);
    }
  };
  const first = d?.settings.containers[0];
  return (
    <section aria-labelledby="cronjob-title">
      <p>
        <a href={hashOf({ route: { page: 'cronjobs' }, ...scope })}>← CronJobs</a>
      </p>
      <div class="page-head">
        <h1 id="cronjob-title">{name}</h1>
        {d ? (
          <div class="head-actions">
            <button type="button" onClick={() => { setRunning(true); }}>Run now</button>
            {d.scheduler === 'app' ? null : (
              <button type="button" class="secondary outline" disabled={busy} onClick={() => void act(d.settings.suspend ? 'resumed' : 'suspended', { suspend: !d.settings.suspend })}>
                {d.settings.suspend ? 'Resume' : 'Suspend'}
              </button>
            )}
            <button type="button" class="secondary outline" disabled={busy} onClick={() => void act(d.scheduler === 'app' ? 'handed back to the cluster' : "handed to the app's scheduler", { scheduler: d.scheduler === 'app' ? 'cluster' : 'app' })}>
              {d.scheduler === 'app' ? 'Hand back to cluster' : 'Hand to app'}
            </button>
            <button type="button" class="secondary outline" onClick={() => { setEditing(true); }}>Edit</button>
            <button type="button" class="secondary outline danger" onClick={() => { setDeleting(true); }}>Delete</button>
          </div>
        ) : null}
      </div>
      <ErrorNote error={note?.error ?? detail.error} />
      {note?.done ? <p role="status" class="done-note">{note.done}</p> : null}
      {d && editing ? (
        <EditForm scope={scope} detail={d} onCancel={() => { setEditing(false); }} onSaved={() => { setEditing(false); setNote({ done: 'saved' }); detail.reload(); }} />
      ) : null}
      {d && !editing ? (
        <div class="grid detail">
          <article>
            <h2>Schedule</h2>
            <p>
              <strong>{d.preview?.description ?? d.settings.schedule}</strong>
              <small class="block muted">
                <code>{d.settings.schedule}</code> {d.settings.timeZone ?? 'UTC'} · scheduled by {d.scheduler === 'app' ? 'the app' : 'the cluster'}
                {d.settings.suspend ? ' · suspended' : ''} · concurrency {d.settings.concurrencyPolicy}
              </small>
            </p>
            {(d.warnings).map((w, i) => (
              <p key={i} class="warning" role="note">⚠ {warningText(w)}</p>
            ))}
            <h3>Next runs</h3>
            {d.preview && d.preview.nextRuns.length > 0 ? (
              <ol class="next-runs">
                {d.preview.nextRuns.map((n) => (
                  <li key={n.utc}>{readableLocal(n.local)}</li>
                ))}
              </ol>
            ) : (
              <Empty>none</Empty>
            )}
          </article>
          <article>
            <h2>Container</h2>
            {first ? (
              <dl>
                <dt>Name</dt>
                <dd>{first.name}</dd>
                <dt>Image</dt>
                <dd><code>{first.image}</code></dd>
                <dt>Command</dt>
                <dd><code>{formatWords([...(first.command ?? []), ...(first.args ?? [])]) || "the image's own"}</code></dd>
                <dt>Env</dt>
                <dd>{[...Object.keys(first.env), ...first.referencedEnv].join(', ') || 'none'}</dd>
                <dt>Made from</dt>
                <dd>{d.source && 'deployment' in d.source ? `Deployment ${d.source.deployment}` : d.source ? `HTTP call ${d.source.httpCall}` : '—'}</dd>
              </dl>
            ) : null}
          </article>
        </div>
      ) : null}
      {d && !editing ? (
        <section aria-labelledby="runs-title">
          <h2 id="runs-title">Runs</h2>
          <ErrorNote error={runs.error} />
          {runs.data && runs.data.length === 0 ? <Empty>No runs yet.</Empty> : null}
          {runs.data && runs.data.length > 0 ? (
            <div class="overflow-auto">
              <table class="striped stack">
                <thead>
                  <tr>
                    <th scope="col">Run</th>
                    <th scope="col">Status</th>
                    <th scope="col">Started by</th>
                    <th scope="col">Started</th>
                    <th scope="col">Finished</th>
                  </tr>
                </thead>
                <tbody>
                  {runs.data.map((r) => (
                    <tr key={r.runId}>
                      <th scope="row"><a href={hashOf({ route: { page: 'run', runId: r.runId }, ...scope })}>{r.runId}</a></th>
                      <td data-label="Status"><StatusBadge status={r.status} /> <small class="muted">{r.reason}</small></td>
                      <td data-label="Started by">{r.trigger}{r.archived ? <small class="block muted">archived</small> : null}</td>
                      <td data-label="Started">{formatInstant(r.startTime, undefined, true)}</td>
                      <td data-label="Finished">{formatInstant(r.completionTime, undefined, true)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : null}
        </section>
      ) : null}
      {d && running ? (
        <RunDialog
          title={`Run ${name} now`}
          params={first?.env ?? {}}
          referenced={first?.referencedEnv ?? []}
          concurrency
          start={(overrides, allow) => runCronJobNow(scope, name, overrides, allow)}
          onStarted={(answer) => { window.location.hash = hashOf({ route: { page: 'run', runId: answer.runId }, ...scope }); }}
          onClose={() => { setRunning(false); }}
        />
      ) : null}
      {deleting ? (
        <Dialog title={`Delete ${name}?`} open onClose={() => { setDeleting(false); }}>
          <p>The CronJob <strong>{name}</strong> goes, with its Jobs and their pods. Archived logs stay.</p>
          <footer>
            <button type="button" class="secondary" onClick={() => { setDeleting(false); }}>Keep it</button>
            <button type="button" class="danger" aria-busy={busy} onClick={() => void remove()}>Delete {name}</button>
          </footer>
        </Dialog>
      ) : null}
    </section>
  );
}
