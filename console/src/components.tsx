import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

import { ApiError, call, messageOf } from './api.ts';
import { readableLocal, relative, statusTone } from './logic/answers.ts';
import { addRow, envProblems, type EnvRow, resetRow, setRow } from './logic/env.ts';
import { cronOf, MAX_DAY, PRESETS, type ScheduleChoice, type ScheduleMode, WEEKDAYS } from './logic/schedule.ts';
import type { Preview } from './types.ts';

export function StatusBadge({ status }: { status: string | null | undefined }) {
  return <span class={`badge ${statusTone(status)}`}>{status ?? '—'}</span>;
}

export function ErrorNote({ error }: { error: string | null | undefined }) {
  if (!error) return null;
  return (
    <p class="error-note" role="alert">
      {error}
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

/** A value that may be loading, loaded or failed, with a way to load it again. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data: T | undefined; error: string | null; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data: T | undefined; error: string | null; loading: boolean }>({ data: undefined, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => {
        if (live) setState({ data, error: null, loading: false });
      },
      (err: unknown) => {
        if (live) setState({ data: undefined, error: messageOf(err), loading: false });
      },
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  return { ...state, reload: () => { setTick((t) => t + 1); } };
}

/** A modal dialog (the browser's own: focus kept inside, Escape closes). */
export function Dialog({ title, open, onClose, children }: { title: string; open: boolean; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog ref={ref} onClose={onClose} aria-label={title}>
      <article>
        <header>
          {/* Pico draws a close cross on a header button with rel="prev". */}
          <button type="button" aria-label="Close" {...{ rel: 'prev' }} onClick={onClose}></button>
          <h2 class="dialog-title">{title}</h2>
        </header>
        {open ? children : null}
      </article>
    </dialog>
  );
}

let ids = 0;
export function useId(prefix: string): string {
  const [id] = useState(() => `${prefix}-${++ids}`);
  return id;
}

/** Env rows: the source's variables with their values, editable; added rows; each problem next to its row. */
export function EnvEditor({ rows, onChange, label }: { rows: EnvRow[]; onChange: (rows: EnvRow[]) => void; label: string }) {
  const problems = envProblems(rows);
  const id = useId('env');
  return (
    <fieldset class="env-editor">
      <legend>{label}</legend>
      {rows.length === 0 ? <Empty>No variables declared; add one below.</Empty> : null}
      {rows.map((row, i) => {
        const problem = problems.get(i);
        const declared = row.original !== undefined;
        return (
          <div class="env-row" key={`${id}-${i}`}>
            <input
              aria-label={`Name of variable ${i + 1}`}
              value={row.name}
              readOnly={declared}
              placeholder="NAME"
              aria-invalid={problem ? 'true' : undefined}
              onInput={(e) => { onChange(setRow(rows, i, { name: e.currentTarget.value })); }}
            />
            <input
              aria-label={`Value of ${row.name || `variable ${i + 1}`}`}
              value={row.value}
              placeholder={row.original === null ? '(hidden or from a Secret: blank keeps it)' : 'value'}
              onInput={(e) => { onChange(setRow(rows, i, { value: e.currentTarget.value })); }}
            />
            <button type="button" class="secondary outline" aria-label={declared ? `Reset ${row.name}` : `Remove variable ${i + 1}`} onClick={() => { onChange(resetRow(rows, i)); }}>
              {declared ? 'Reset' : 'Remove'}
            </button>
            {problem ? <small class="field-error">{problem}</small> : null}
          </div>
        );
      })}
      <button type="button" class="secondary outline" onClick={() => { onChange(addRow(rows)); }}>
        Add variable
      </button>
    </fieldset>
  );
}

const MODE_LABELS: Record<ScheduleMode, string> = { hourly: 'Hourly', daily: 'Daily', weekly: 'Weekly', monthly: 'Monthly', cron: 'Cron' };

/**
 * Presets or raw cron, and the next runs previewed as you type: the preview route is the scheduler's own
 * function, so what it shows is what will happen. Its refusal is shown under the field it names.
 */
export function ScheduleEditor({
  choice,
  onChange,
  timeZone,
  onTimeZone,
  serverError,
}: {
  choice: ScheduleChoice;
  onChange: (choice: ScheduleChoice) => void;
  timeZone: string;
  onTimeZone: (zone: string) => void;
  serverError?: string | undefined;
}) {
  const [preview, setPreview] = useState<{ data?: Preview; error?: string; field?: string } | null>(null);
  const cron = cronOf(choice);
  const expression = cron.ok ? cron.value : null;
  useEffect(() => {
    if (expression === null) {
      setPreview(null);
      return;
    }
    let live = true;
    const timer = setTimeout(() => {
      call<Preview>('GET', 'schedules/preview', { query: { schedule: expression, timeZone: timeZone.trim(), count: 5 } }).then(
        (answer) => {
          if (live) setPreview({ data: answer.body });
        },
        (err: unknown) => {
          if (live) setPreview({ error: messageOf(err), ...(err instanceof ApiError && err.problem.field ? { field: err.problem.field } : {}) });
        },
      );
    }, 250);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [expression, timeZone]);
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  const scheduleError = !cron.ok ? cron.error : preview?.error && preview.field !== 'timeZone' ? preview.error : serverError;
  const zoneError = preview?.field === 'timeZone' ? preview.error : undefined;
  return (
    <fieldset class="schedule-editor">
      <legend>Schedule</legend>
      <div role="radiogroup" aria-label="Schedule kind" class="modes">
        {[...PRESETS, 'cron' as const].map((mode) => (
          <label key={mode}>
            <input type="radio" name="schedule-mode" value={mode} checked={choice.mode === mode} onChange={() => { onChange({ ...choice, mode, cron: mode === 'cron' && expression ? expression : choice.cron }); }} />
            {MODE_LABELS[mode]}
          </label>
        ))}
      </div>
      <div class="grid">
        {choice.mode === 'hourly' ? (
          <label>
            Minutes past the hour
            <input type="number" min={0} max={59} value={choice.minute} onInput={(e) => { onChange({ ...choice, minute: Number(e.currentTarget.value) }); }} />
          </label>
        ) : null}
        {choice.mode === 'daily' || choice.mode === 'weekly' || choice.mode === 'monthly' ? (
          <label>
            At (24-hour clock)
            <input
              value={choice.time}
              required
              inputMode="numeric"
              placeholder="02:30"
              autocomplete="off"
              aria-invalid={!cron.ok ? 'true' : undefined}
              onInput={(e) => { onChange({ ...choice, time: e.currentTarget.value.trim() }); }}
            />
          </label>
        ) : null}
        {choice.mode === 'weekly' ? (
          <label>
            On
            <select value={choice.weekday} onChange={(e) => { onChange({ ...choice, weekday: e.currentTarget.value as ScheduleChoice['weekday'] }); }}>
              {WEEKDAYS.map((d) => (
                <option key={d} value={d}>
                  {d.charAt(0).toUpperCase() + d.slice(1)}
                </option>
              ))}
            </select>
          </label>
        ) : null}
        {choice.mode === 'monthly' ? (
          <label>
            Day of the month (1–{MAX_DAY})
            <input type="number" min={1} max={MAX_DAY} value={choice.day} onInput={(e) => { onChange({ ...choice, day: Number(e.currentTarget.value) }); }} />
          </label>
        ) : null}
        {choice.mode === 'cron' ? (
          <div>
            <label for="cron-input">Cron expression</label>
            <input
              id="cron-input"
              name="cron"
              value={choice.cron}
              placeholder="30 2 * * 1-5"
              spellcheck={false}
              autocomplete="off"
              aria-invalid={scheduleError ? 'true' : undefined}
              aria-describedby="cron-help"
              onInput={(e) => { onChange({ ...choice, cron: e.currentTarget.value }); }}
            />
            <small id="cron-help">minute hour day-of-month month day-of-week, or @hourly, @daily, @weekly, @monthly</small>
          </div>
        ) : null}
        <label>
          Time zone
          <input
            name="timeZone"
            list="time-zones"
            value={timeZone}
            placeholder="UTC"
            autocomplete="off"
            aria-invalid={zoneError ? 'true' : undefined}
            onInput={(e) => { onTimeZone(e.currentTarget.value); }}
          />
          <datalist id="time-zones">
            {zones.map((z) => (
              <option key={z} value={z} />
            ))}
          </datalist>
          {zoneError ? <small class="field-error" role="alert">{zoneError}</small> : null}
        </label>
      </div>
      {scheduleError ? (
        <p class="field-error" role="alert" data-testid="schedule-error">
          {scheduleError}
        </p>
      ) : null}
      <section aria-live="polite" class="preview" data-testid="schedule-preview">
        {expression !== null && preview?.data ? (
          <>
            <p>
              <code>{expression}</code> — <strong>{preview.data.description}</strong>
              {preview.data.description.includes(preview.data.timeZone) ? null : ` (${preview.data.timeZone})`}
            </p>
            {preview.data.message ? <p class="empty">{preview.data.message}</p> : null}
            <ol class="next-runs" aria-label="Next five runs">
              {preview.data.next.map((n) => (
                <li key={n.utc}>
                  {readableLocal(n.local)} <small class="muted">{relative(n.utc, Date.now())}</small>
                </li>
              ))}
            </ol>
          </>
        ) : null}
      </section>
    </fieldset>
  );
}
