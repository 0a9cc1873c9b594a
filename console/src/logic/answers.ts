/** Reading the API's answers: problem+json messages, field errors, Retry-After, warnings, statuses. */

export interface Problem {
  status: number;
  title: string;
  detail: string;
  /** The query parameter a 400 is about, when the route names it (the schedule preview does). */
  field?: string;
}

/** A problem+json body, or what to say when the answer is something else (a proxy's HTML page, nothing). */
export function problemOf(status: number, text: string): Problem {
  try {
    const body = JSON.parse(text) as Partial<Problem> | null;
    if (body && typeof body === 'object' && typeof body.detail === 'string') {
      return { status, title: typeof body.title === 'string' ? body.title : `HTTP ${status}`, detail: body.detail, ...(typeof body.field === 'string' ? { field: body.field } : {}) };
    }
  } catch {
    // Not JSON: described below.
  }
  const detail = status === 401 ? 'the function key was not accepted' : text.trim() === '' ? `the app answered HTTP ${status} without a message` : `the app answered HTTP ${status}: ${text.trim().slice(0, 200)}`;
  return { status, title: `HTTP ${status}`, detail };
}

/**
 * A 400 of the CronJob routes lists every problem, "; " between them, each starting with the field it is about
 * ("name must be…", "env.A B: …", "at: …"). Each goes under its field when the form has one, the rest stays general.
 */
export function fieldMessages(detail: string, fields: readonly string[]): { byField: Record<string, string>; general: string[] } {
  const byField: Record<string, string> = {};
  const general: string[] = [];
  for (const part of detail.split('; ')) {
    const head = /^([A-Za-z][\w]*)/.exec(part)?.[1];
    const field = head !== undefined && fields.includes(head) ? head : undefined;
    if (field === undefined) general.push(part);
    else byField[field] = byField[field] === undefined ? part : `${byField[field]}; ${part}`;
  }
  return { byField, general };
}

/** How long to wait before polling again, as Retry-After says (seconds or an HTTP date), kept to 1 s..60 s. */
export function retryAfterMs(header: string | null, now: number, fallbackSeconds = 2): number {
  let seconds = fallbackSeconds;
  if (header !== null && header.trim() !== '') {
    if (/^\d+$/.test(header.trim())) seconds = Number(header.trim());
    else {
      const at = Date.parse(header);
      if (!Number.isNaN(at)) seconds = (at - now) / 1000;
    }
  }
  return Math.round(Math.min(60, Math.max(1, seconds)) * 1000);
}

/** Warnings come as text (one CronJob's answer) or as {reason, message} (the listing). */
export function warningText(warning: unknown): string {
  if (typeof warning === 'string') return warning;
  if (warning && typeof warning === 'object') {
    const { reason, message } = warning as { reason?: unknown; message?: unknown };
    if (typeof message === 'string') return typeof reason === 'string' ? `${reason}: ${message}` : message;
  }
  return String(warning);
}

export type RunStatus = 'Starting' | 'Running' | 'Success' | 'Failed' | 'Cancelled' | 'Unknown';

export function isFinished(status: string): boolean {
  return status === 'Success' || status === 'Failed' || status === 'Cancelled';
}

/** The Pico-friendly tone of a status: good, bad, busy or plain. */
export function statusTone(status: string | null | undefined): 'ok' | 'bad' | 'busy' | 'plain' {
  switch (status) {
    case 'Success':
      return 'ok';
    case 'Failed':
      return 'bad';
    case 'Starting':
    case 'Running':
      return 'busy';
    default:
      return 'plain';
  }
}

/** An instant for people: in the given zone (the browser's when absent), to the minute or second, with the zone's name. */
export function formatInstant(iso: string | null | undefined, timeZone?: string, seconds = false): string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  try {
    return new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', ...(seconds ? { second: '2-digit' } : {}), hourCycle: 'h23', timeZone, timeZoneName: 'short' }).format(date);
  } catch {
    return date.toISOString();
  }
}

/** "in 5 min", "3 h ago": how far an instant is from now. */
export function relative(iso: string | null | undefined, now: number): string {
  if (!iso) return '';
  const ms = Date.parse(iso) - now;
  if (Number.isNaN(ms)) return '';
  const abs = Math.abs(ms);
  const text = abs < 60_000 ? `${Math.round(abs / 1000)} s` : abs < 3_600_000 ? `${Math.round(abs / 60_000)} min` : abs < 172_800_000 ? `${Math.round(abs / 3_600_000)} h` : `${Math.round(abs / 86_400_000)} d`;
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}

const WALL_CLOCK = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * A wall-clock time in the schedule's zone as the preview answers it (2026-12-02T02:30:00+01:00), for people:
 * "Wed 2 Dec 2026, 02:30 (+01:00)". Read from the text itself, so the browser's own zone plays no part.
 */
export function readableLocal(local: string): string {
  const match = WALL_CLOCK.exec(local);
  if (!match) return local;
  const [, y, m, d, hh, mm, offset] = match as unknown as [string, string, string, string, string, string, string];
  const weekday = DAYS[new Date(Date.UTC(Number(y), Number(m) - 1, Number(d))).getUTCDay()] ?? '';
  return `${weekday} ${Number(d)} ${MONTHS[Number(m) - 1] ?? m} ${y}, ${hh}:${mm} (${offset === 'Z' ? 'UTC' : offset})`;
}
