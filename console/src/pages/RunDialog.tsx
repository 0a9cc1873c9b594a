import { useState } from 'preact/hooks';

import { messageOf } from '../api.ts';
import { Dialog, EnvEditor, ErrorNote } from '../components.tsx';
import { envProblems, type EnvRow, overridesOf, rowsOf } from '../logic/env.ts';
import type { StartAnswer } from '../types.ts';

/** Run a Job or CronJob now, with env overrides: only the values changed or added are sent. */
export function RunDialog({
  title,
  params,
  referenced,
  concurrency,
  start,
  onStarted,
  onClose,
}: {
  title: string;
  params: Record<string, string | null>;
  referenced: string[];
  concurrency: boolean;
  start: (overrides: Record<string, string>, allowConcurrent: boolean) => Promise<StartAnswer>;
  onStarted: (answer: StartAnswer) => void;
  onClose: () => void;
}) {
  const [rows, setRows] = useState<EnvRow[]>(() => rowsOf(params, referenced));
  const [allow, setAllow] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const overrides = overridesOf(rows);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onStarted(await start(overrides, allow));
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog title={title} open onClose={onClose}>
      <form onSubmit={(e) => void submit(e)}>
        <EnvEditor label="Environment (changed values are sent as overrides)" rows={rows} onChange={setRows} />
        {concurrency ? (
          <label>
            <input type="checkbox" role="switch" checked={allow} onChange={(e) => { setAllow(e.currentTarget.checked); }} />
            Run even while another run is active (concurrency policy Allow for this run)
          </label>
        ) : null}
        <p>
          <small>{Object.keys(overrides).length === 0 ? 'No overrides: the run uses the declared values.' : `Overrides: ${Object.keys(overrides).join(', ')}`}</small>
        </p>
        <ErrorNote error={error} />
        <footer>
          <button type="button" class="secondary" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" aria-busy={busy} disabled={busy || envProblems(rows).size > 0}>
            Run now
          </button>
        </footer>
      </form>
    </Dialog>
  );
}
