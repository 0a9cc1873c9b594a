/**
 * Env editing, for a run's overrides and a new CronJob's env: rows start from what the source declares, and only
 * what the person changed or added is sent (the API replaces a declared name, appends a new one).
 */
export interface EnvRow {
  name: string;
  value: string;
  /** The source's value; null when the source hides it (or takes it from a Secret); undefined for an added row. */
  original?: string | null;
}

/** The API's rule for env names (src/core/clone.ts, as Kubernetes since 1.34): printable ASCII without '='. */
export const ENV_NAME = /^[\x20-\x3c\x3e-\x7e]+$/;

export function rowsOf(params: Readonly<Record<string, string | null>>, referenced: readonly string[] = []): EnvRow[] {
  return [
    ...Object.entries(params).map(([name, value]) => ({ name, value: value ?? '', original: value })),
    ...referenced.map((name) => ({ name, value: '', original: null })),
  ];
}

/** What a row contributes: a changed or added value; a hidden value left blank is left alone. */
function changed(row: EnvRow): boolean {
  if (row.original === undefined) return row.name.trim() !== '';
  if (row.original === null) return row.value !== '';
  return row.value !== row.original;
}

export function overridesOf(rows: readonly EnvRow[]): Record<string, string> {
  return Object.fromEntries(rows.filter(changed).map((row) => [row.name.trim(), row.value]));
}

/** A message per row that cannot be sent, by index: bad or repeated names. */
export function envProblems(rows: readonly EnvRow[]): Map<number, string> {
  const problems = new Map<number, string>();
  const seen = new Set<string>();
  rows.forEach((row, i) => {
    const name = row.name.trim();
    if (name === '' && row.original === undefined) {
      if (row.value !== '') problems.set(i, 'give the variable a name');
      return;
    }
    if (!ENV_NAME.test(name)) problems.set(i, `"${name}" is not an env name: printable characters without '='`);
    else if (seen.has(name)) problems.set(i, `${name} is listed twice`);
    seen.add(name);
  });
  return problems;
}

export function setRow(rows: readonly EnvRow[], index: number, change: Partial<EnvRow>): EnvRow[] {
  return rows.map((row, i) => (i === index ? { ...row, ...change } : row));
}

export function addRow(rows: readonly EnvRow[]): EnvRow[] {
  return [...rows, { name: '', value: '' }];
}

/** Added rows go; a declared one goes back to its value. */
export function resetRow(rows: readonly EnvRow[], index: number): EnvRow[] {
  const row = rows[index];
  if (!row) return [...rows];
  if (row.original === undefined) return rows.filter((_, i) => i !== index);
  return setRow(rows, index, { value: row.original ?? '' });
}
