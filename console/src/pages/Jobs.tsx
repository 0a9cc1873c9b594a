import { useState } from 'preact/hooks';

import { runJobNow, type Scope } from '../actions.ts';
import { call } from '../api.ts';
import { Empty, ErrorNote, useLoad } from '../components.tsx';
import { hashOf } from '../logic/routes.ts';
import type { JobItem, Page } from '../types.ts';
import { RunDialog } from './RunDialog.tsx';

/** Ad-hoc runs: the runnable Jobs of the namespace with their parameters (env), run with overrides. */
export function JobsPage({ scope }: { scope: Scope }) {
  const list = useLoad(async () => (await call<Page<JobItem>>('GET', 'jobs', { query: { cluster: scope.cluster, namespace: scope.namespace, limit: 500 } })).body.items, [scope.cluster, scope.namespace]);
  const [running, setRunning] = useState<JobItem | null>(null);
  return (
    <section aria-labelledby="jobs-title">
      <div class="page-head">
        <h1 id="jobs-title">Jobs in {scope.namespace}</h1>
        <div class="head-actions">
          <button type="button" class="secondary outline" onClick={list.reload} aria-busy={list.loading}>Refresh</button>
        </div>
      </div>
      <p class="muted">Each run is a copy of the Job with your env overrides; the Job itself is never changed.</p>
      <ErrorNote error={list.error} />
      {list.data && list.data.length === 0 ? <Empty>No runnable Jobs in namespace {scope.namespace} on cluster {scope.cluster}.</Empty> : null}
      {list.data && list.data.length > 0 ? (
        <div class="overflow-auto">
          <table class="striped stack">
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">Parameters</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.data.map((job) => (
                <tr key={job.name} data-job={job.name}>
                  <th scope="row">
                    {job.name}
                    {job.image ? <small class="block muted">{job.image}</small> : null}
                  </th>
                  <td data-label="Parameters">
                    {[
                      ...Object.entries(job.params).map(([k, v]) => `${k}=${v ?? '…'}${job.commandParams?.includes(k) ? ' (in the command: fixed)' : ''}`),
                      ...job.referencedParams.map((k) => `${k} (from a Secret)`),
                    ].join(', ') || 'none'}
                  </td>
                  <td data-label="Actions">
                      <div class="actions">
                    <button type="button" onClick={() => { setRunning(job); }}>Run…</button>
                      </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {running ? (
        <RunDialog
          title={`Run ${running.name}`}
          params={running.params}
          referenced={running.referencedParams}
          concurrency={false}
          start={(overrides) => runJobNow(scope, running.name, overrides)}
          onStarted={(answer) => { window.location.hash = hashOf({ route: { page: 'run', runId: answer.runId }, ...scope }); }}
          onClose={() => { setRunning(null); }}
        />
      ) : null}
    </section>
  );
}
