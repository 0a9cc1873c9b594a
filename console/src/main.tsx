import '@picocss/pico/css/pico.min.css';
import './app.css';

import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';

import type { Scope } from './actions.ts';
import { call, currentKey, isDevKey, messageOf, setKey, whenUnauthorized } from './api.ts';
import { ErrorNote } from './components.tsx';
import { hashOf, type Location, parseHash } from './logic/routes.ts';
import { CreatePage } from './pages/Create.tsx';
import { CronJobPage } from './pages/CronJob.tsx';
import { CronJobsPage } from './pages/CronJobs.tsx';
import { JobsPage } from './pages/Jobs.tsx';
import { RunPage } from './pages/Run.tsx';
import { RunsPage } from './pages/Runs.tsx';
import type { ClusterList } from './types.ts';

function useLocation(): Location {
  const [location, setLocation] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const changed = () => { setLocation(parseHash(window.location.hash)); };
    window.addEventListener('hashchange', changed);
    return () => { window.removeEventListener('hashchange', changed); };
  }, []);
  return location;
}

function KeyForm({ refused, onKey }: { refused: boolean; onKey: (key: string) => void }) {
  const [value, setValue] = useState('');
  return (
    <article class="key-form">
      <h1>Function key</h1>
      <p>
        The console calls this app's API with a function key (sent as <code>x-functions-key</code>, kept for this browser tab only). An operator finds it in the
        Azure portal under the Function App, <em>App keys</em>, or with <code>az functionapp keys list</code>.
      </p>
      {refused ? <ErrorNote error="That key was not accepted: check it and try again." /> : null}
      <form onSubmit={(e) => { e.preventDefault(); if (value.trim()) onKey(value.trim()); }}>
        <label>
          Function key
          <input type="password" name="functionKey" autocomplete="off" required value={value} onInput={(e) => { setValue(e.currentTarget.value); }} />
        </label>
        <button type="submit">Use this key</button>
      </form>
    </article>
  );
}

function App() {
  const location = useLocation();
  const [key, setKeyState] = useState(currentKey());
  const [refused, setRefused] = useState(false);
  const [clusters, setClusters] = useState<ClusterList | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    whenUnauthorized(() => {
      setKey(null);
      setKeyState(null);
      setRefused(true);
    });
  }, []);
  useEffect(() => {
    if (!key) return;
    setError(null);
    call<ClusterList>('GET', 'clusters').then(
      (answer) => { setClusters(answer.body); },
      (err: unknown) => { setError(messageOf(err)); },
    );
  }, [key]);
  if (!key) {
    return (
      <main class="container">
        <KeyForm refused={refused} onKey={(k) => { setKey(k); setRefused(false); setKeyState(k); }} />
      </main>
    );
  }
  const cluster = clusters?.items.find((c) => c.alias === (location.cluster ?? clusters.default)) ?? clusters?.items[0];
  const named = cluster?.namespaces.filter((n) => n !== '*') ?? [];
  const anyNamespace = cluster?.namespaces.includes('*') ?? false;
  const namespace = location.namespace ?? named[0] ?? null;
  const scope: Scope | null = cluster && namespace ? { cluster: cluster.alias, namespace } : null;
  const go = (change: Partial<Location>) => { window.location.hash = hashOf({ ...location, ...change }); };
  const page = location.route.page;
  const nav = (target: Location['route'], label: string, current: boolean) => (
    <li>
      <a href={hashOf({ ...location, route: target })} aria-current={current ? 'page' : undefined}>{label}</a>
    </li>
  );
  return (
    <>
      <header class="container">
        <nav aria-label="Main">
          <ul>
            <li><strong class="brand">aks-job-runner</strong></li>
          </ul>
          <ul>
            {nav({ page: 'cronjobs' }, 'CronJobs', page === 'cronjobs' || page === 'cronjob')}
            {nav({ page: 'create' }, 'New CronJob', page === 'create')}
            {nav({ page: 'jobs' }, 'Jobs', page === 'jobs')}
            {nav({ page: 'runs', status: null }, 'Runs', page === 'runs' || page === 'run')}
          </ul>
        </nav>
        {clusters ? (
          <form class="scope" aria-label="Cluster and namespace" onSubmit={(e) => { e.preventDefault(); }}>
            <label>
              Cluster
              <select name="cluster" value={cluster?.alias} onChange={(e) => { go({ cluster: e.currentTarget.value, namespace: null }); }}>
                {clusters.items.map((c) => <option key={c.alias} value={c.alias}>{c.alias}</option>)}
              </select>
            </label>
            <label>
              Namespace
              {anyNamespace ? (
                <input name="namespace" list="namespaces" value={namespace ?? ''} placeholder="namespace" onChange={(e) => { go({ namespace: e.currentTarget.value.trim() || null }); }} />
              ) : (
                <select name="namespace" value={namespace ?? ''} onChange={(e) => { go({ namespace: e.currentTarget.value }); }}>
                  {named.map((n) => <option key={n} value={n}>{n}</option>)}
                </select>
              )}
              <datalist id="namespaces">{named.map((n) => <option key={n} value={n} />)}</datalist>
            </label>
            {isDevKey() ? <small class="muted key-note">local runtime: development key filled in</small> : (
              <button type="button" class="secondary outline key-note" onClick={() => { setKey(null); setKeyState(null); setRefused(false); }}>Forget key</button>
            )}
          </form>
        ) : null}
      </header>
      <main class="container">
        <ErrorNote error={error} />
        {clusters && !scope ? <p class="empty">Name a namespace to work in: cluster {cluster?.alias} allows any.</p> : null}
        {scope && page === 'cronjobs' ? <CronJobsPage scope={scope} /> : null}
        {scope && page === 'create' ? <CreatePage scope={scope} /> : null}
        {scope && location.route.page === 'cronjob' ? <CronJobPage scope={scope} name={location.route.name} /> : null}
        {scope && page === 'jobs' ? <JobsPage scope={scope} /> : null}
        {scope && location.route.page === 'runs' ? <RunsPage scope={scope} status={location.route.status} onStatus={(status) => { go({ route: { page: 'runs', status } }); }} /> : null}
        {scope && location.route.page === 'run' ? <RunPage scope={scope} runId={location.route.runId} /> : null}
      </main>
    </>
  );
}

const root = document.getElementById('app');
if (root) render(<App />, root);
