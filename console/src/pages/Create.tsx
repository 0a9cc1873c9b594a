import { useEffect, useState } from 'preact/hooks';

import type { Scope } from '../actions.ts';
import { ApiError, call, messageOf } from '../api.ts';
import { Empty, EnvEditor, ErrorNote, ScheduleEditor, useLoad } from '../components.tsx';
import { fieldMessages } from '../logic/answers.ts';
import { envProblems, type EnvRow, overridesOf } from '../logic/env.ts';
import { hashOf } from '../logic/routes.ts';
import { DEFAULT_SCHEDULE, scheduleBody,type ScheduleChoice } from '../logic/schedule.ts';
import { parseWords } from '../logic/words.ts';
import type { CreateAnswer, DeploymentItem, ManifestContainer, Page } from '../types.ts';

const FIELDS = ['name', 'fromDeployment', 'container', 'schedule', 'preset', 'at', 'weekday', 'day', 'timeZone', 'command', 'args', 'env', 'concurrencyPolicy', 'scheduler'];
const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const POLICY_WHY: Record<string, string> = {
  Forbid: 'Forbid: a run is skipped while the last one still runs, so two runs never work on the same data (what the Kubernetes docs advise).',
  Allow: 'Allow: runs may overlap; only for work that is safe to do twice at once.',
  Replace: 'Replace: a new run cancels the one still running; for work where only the latest matters.',
};

function container(answer: CreateAnswer): ManifestContainer | undefined {
  return answer.cronJob.spec.jobTemplate.spec?.template.spec?.containers[0];
}

function resourcesText(c: ManifestContainer | undefined): string {
  const part = (what: string, r: Record<string, string> | undefined) => (r && Object.keys(r).length > 0 ? `${what} ${Object.entries(r).map(([k, v]) => `${k} ${v}`).join(', ')}` : null);
  return [part('requests', c?.resources?.requests), part('limits', c?.resources?.limits)].filter((x) => x !== null).join('; ') || 'none set';
}

/** Create a CronJob from a Deployment: its pod template fills in, the schedule is previewed, the API decides. */
export function CreatePage({ scope }: { scope: Scope }) {
  const deployments = useLoad(
    async () => (await call<Page<DeploymentItem>>('GET', 'deployments', { query: { cluster: scope.cluster, namespace: scope.namespace, limit: 500 } })).body.items,
    [scope.cluster, scope.namespace],
  );
  const [name, setName] = useState('');
  const [from, setFrom] = useState('');
  const [containerName, setContainerName] = useState('');
  const [filled, setFilled] = useState<{ container: ManifestContainer; error?: undefined } | { error: string } | null>(null);
  const [env, setEnv] = useState<EnvRow[]>([]);
  const [command, setCommand] = useState('');
  const [args, setArgs] = useState('');
  const [schedule, setSchedule] = useState<ScheduleChoice>(DEFAULT_SCHEDULE);
  const [timeZone, setTimeZone] = useState('');
  const [policy, setPolicy] = useState('Forbid');
  const [scheduler, setScheduler] = useState('cluster');
  const [errors, setErrors] = useState<{ byField: Record<string, string>; general: string[] }>({ byField: {}, general: [] });
  const [manifest, setManifest] = useState<string | null>(null);
  const [busy, setBusy] = useState<'dry' | 'create' | null>(null);

  const deployment = deployments.data?.find((d) => d.name === from);
  useEffect(() => {
    if (!from && deployments.data?.[0]) setFrom(deployments.data[0].name);
  }, [deployments.data]);
  useEffect(() => {
    setContainerName(deployment?.containers[0]?.name ?? '');
  }, [from, deployments.data]);

  // What fills in comes from the API's own dry run: the container as the CronJob would get it.
  useEffect(() => {
    if (!from || !containerName) return;
    let live = true;
    setFilled(null);
    call<CreateAnswer>('POST', `cronjobs/${encodeURIComponent(scope.namespace)}`, {
      query: { cluster: scope.cluster, dryRun: true },
      body: { name: 'console-fill-in', fromDeployment: from, container: containerName, schedule: '@daily' },
    }).then(
      (answer) => {
        const c = container(answer.body);
        if (!live) return;
        if (!c) {
          setFilled({ error: 'the dry run answered no container' });
          return;
        }
        setFilled({ container: c });
        setEnv((c.env ?? []).map((e) => ({ name: e.name, value: e.value ?? '', original: e.valueFrom === undefined ? (e.value ?? '') : null })));
      },
      (err: unknown) => {
        if (live) setFilled({ error: messageOf(err) });
      },
    );
    return () => {
      live = false;
    };
  }, [from, containerName, scope.cluster, scope.namespace]);

  const commandWords = parseWords(command);
  const argWords = parseWords(args);
  const nameProblem = name !== '' && !NAME.test(name) ? "lower-case letters, digits and '-', starting and ending with a letter or digit" : name.length > 52 ? 'at most 52 characters' : undefined;
  const body = (): Record<string, unknown> => ({
    name,
    fromDeployment: from,
    container: containerName,
    ...scheduleBody(schedule),
    ...(timeZone.trim() ? { timeZone: timeZone.trim() } : {}),
    ...(commandWords.ok && commandWords.value ? { command: commandWords.value } : {}),
    ...(argWords.ok && argWords.value ? { args: argWords.value } : {}),
    ...(Object.keys(overridesOf(env)).length > 0 ? { env: overridesOf(env) } : {}),
    concurrencyPolicy: policy,
    scheduler,
  });
  const submit = async (dryRun: boolean) => {
    setBusy(dryRun ? 'dry' : 'create');
    setErrors({ byField: {}, general: [] });
    try {
      const answer = await call<CreateAnswer>('POST', `cronjobs/${encodeURIComponent(scope.namespace)}`, { query: { cluster: scope.cluster, ...(dryRun ? { dryRun: true } : {}) }, body: body() });
      if (dryRun) setManifest(JSON.stringify(answer.body.cronJob, null, 2));
      else window.location.hash = hashOf({ route: { page: 'cronjob', name }, ...scope });
    } catch (err) {
      setErrors(err instanceof ApiError ? fieldMessages(err.problem.detail, FIELDS) : { byField: {}, general: [messageOf(err)] });
    } finally {
      setBusy(null);
    }
  };
  const fieldError = (field: string) =>
    errors.byField[field] ? (
      <small class="field-error" role="alert">
        {errors.byField[field]}
      </small>
    ) : null;
  const scheduleServerError = ['schedule', 'preset', 'at', 'weekday', 'day'].map((f) => errors.byField[f]).filter(Boolean).join('; ') || undefined;
  const blocked = !name || !!nameProblem || !from || !commandWords.ok || !argWords.ok || envProblems(env).size > 0;

  return (
    <section aria-labelledby="create-title">
      <h1 id="create-title">New CronJob from a Deployment</h1>
      <ErrorNote error={deployments.error} />
      {deployments.data && deployments.data.length === 0 ? <Empty>No Deployments in namespace {scope.namespace}: a CronJob is made from one.</Empty> : null}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit(false);
        }}
      >
        <div class="grid">
          <label>
            Name
            <input name="name" value={name} required maxLength={52} placeholder="nightly-report" autocomplete="off" aria-invalid={nameProblem || errors.byField.name ? 'true' : undefined} onInput={(e) => { setName(e.currentTarget.value); }} />
            {nameProblem ? <small class="field-error">{nameProblem}</small> : fieldError('name')}
          </label>
          <label>
            Deployment
            <select name="fromDeployment" value={from} required onChange={(e) => { setFrom(e.currentTarget.value); }}>
              {(deployments.data ?? []).map((d) => (
                <option key={d.name} value={d.name}>
                  {d.name}
                </option>
              ))}
            </select>
            {fieldError('fromDeployment')}
          </label>
          <label>
            Container
            <select name="container" value={containerName} onChange={(e) => { setContainerName(e.currentTarget.value); }}>
              {(deployment?.containers ?? []).map((c) => (
                <option key={c.name} value={c.name}>
                  {c.name}
                </option>
              ))}
            </select>
            {fieldError('container')}
          </label>
        </div>
        <article class="filled" aria-live="polite" data-testid="filled-in">
          {filled === null ? <p aria-busy="true">Reading the Deployment…</p> : null}
          {filled?.error !== undefined ? <ErrorNote error={filled.error} /> : null}
          {filled && filled.error === undefined ? (
            <dl>
              <dt>Image</dt>
              <dd>
                <code>{filled.container.image}</code>
              </dd>
              <dt>Resources</dt>
              <dd>{resourcesText(filled.container)}</dd>
              <dt>Command</dt>
              <dd>
                <code>{[...(filled.container.command ?? []), ...(filled.container.args ?? [])].join(' ') || "the image's own"}</code>
              </dd>
            </dl>
          ) : null}
        </article>
        <div class="grid">
          <label>
            Command override
            <input name="command" value={command} placeholder='e.g. node report.js, or ["sh","-c","…"]' aria-describedby="command-hint" aria-invalid={!commandWords.ok ? 'true' : undefined} onInput={(e) => { setCommand(e.currentTarget.value); }} />
            {!commandWords.ok ? <small class="field-error">{commandWords.error}</small> : fieldError('command')}
            <small id="command-hint" class="muted" data-testid="command-hint">
              A new command drops the Deployment's args
              {filled && filled.error === undefined && filled.container.args?.length ? <> (<code>{filled.container.args.join(' ')}</code>)</> : null} unless you give args too.
            </small>
          </label>
          <label>
            Args override
            <input name="args" value={args} placeholder="e.g. --day yesterday" aria-invalid={!argWords.ok ? 'true' : undefined} onInput={(e) => { setArgs(e.currentTarget.value); }} />
            {!argWords.ok ? <small class="field-error">{argWords.error}</small> : fieldError('args')}
          </label>
        </div>
        <EnvEditor label="Environment (from the Deployment; changed values are set on the CronJob)" rows={env} onChange={setEnv} />
        {fieldError('env')}
        <ScheduleEditor choice={schedule} onChange={setSchedule} timeZone={timeZone} onTimeZone={setTimeZone} serverError={scheduleServerError ?? errors.byField.timeZone} />
        <div class="grid">
          <label>
            Concurrency policy
            <select name="concurrencyPolicy" value={policy} aria-describedby="policy-why" onChange={(e) => { setPolicy(e.currentTarget.value); }}>
              <option value="Forbid">Forbid</option>
              <option value="Allow">Allow</option>
              <option value="Replace">Replace</option>
            </select>
            <small id="policy-why">{POLICY_WHY[policy]}</small>
          </label>
          <label>
            Scheduled by
            <select name="scheduler" value={scheduler} aria-describedby="scheduler-why" onChange={(e) => { setScheduler(e.currentTarget.value); }}>
              <option value="cluster">the cluster (its CronJob controller)</option>
              <option value="app">the app (suspended in the cluster)</option>
            </select>
            <small id="scheduler-why">
              {scheduler === 'app' ? "The app's scheduler fires it: each run gets a status route, reasons, outputs and archived logs." : 'The cluster fires it, as any CronJob.'}
            </small>
          </label>
        </div>
        {errors.general.map((g) => (
          <ErrorNote key={g} error={g} />
        ))}
        <div class="form-actions">
          <button type="button" class="secondary" disabled={blocked} aria-busy={busy === 'dry'} onClick={() => void submit(true)}>
            Show manifest (dry run)
          </button>
          <button type="submit" disabled={blocked} aria-busy={busy === 'create'}>
            Create CronJob
          </button>
        </div>
      </form>
      {manifest ? (
        <details open>
          <summary>Manifest the API server would store (dry run, nothing created)</summary>
          <pre class="manifest" data-testid="manifest" tabIndex={0}>
            {manifest}
          </pre>
        </details>
      ) : null}
    </section>
  );
}
