/**
 * The create form's schedule: a preset with a time, or raw cron. The form previews the cron expression a preset
 * stands for (the same one the API makes of it) and sends the preset itself, so the API stays the one that decides.
 */
export const PRESETS = ['hourly', 'daily', 'weekly', 'monthly'] as const;
export type Preset = (typeof PRESETS)[number];
export type ScheduleMode = Preset | 'cron';

export const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** As the API: later days are missing in some months. */
export const MAX_DAY = 28;

export interface ScheduleChoice {
  mode: ScheduleMode;
  /** HH:MM for daily, weekly and monthly. */
  time: string;
  /** Minutes past the hour, for hourly. */
  minute: number;
  weekday: Weekday;
  day: number;
  /** The expression, in cron mode. */
  cron: string;
}

export const DEFAULT_SCHEDULE: ScheduleChoice = { mode: 'daily', time: '02:30', minute: 0, weekday: 'monday', day: 1, cron: '30 2 * * *' };

export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

const TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;

function timeOf(text: string): Result<{ hour: number; minute: number }> {
  const match = TIME.exec(text);
  if (!match) return { ok: false, error: `"${text}" is not a time of day: HH:MM on a 24-hour clock, e.g. 02:30` };
  return { ok: true, value: { hour: Number(match[1]), minute: Number(match[2]) } };
}

/** The cron expression the choice stands for, or why there is none. */
export function cronOf(choice: ScheduleChoice): Result<string> {
  if (choice.mode === 'cron') {
    const cron = choice.cron.trim();
    return cron === '' ? { ok: false, error: 'write a cron expression, e.g. 30 2 * * 1-5' } : { ok: true, value: cron };
  }
  if (choice.mode === 'hourly') {
    if (!Number.isInteger(choice.minute) || choice.minute < 0 || choice.minute > 59) return { ok: false, error: 'minutes past the hour are 0 to 59' };
    return { ok: true, value: `${choice.minute} * * * *` };
  }
  const time = timeOf(choice.time);
  if (!time.ok) return time;
  const { hour, minute } = time.value;
  switch (choice.mode) {
    case 'daily':
      return { ok: true, value: `${minute} ${hour} * * *` };
    case 'weekly':
      return { ok: true, value: `${minute} ${hour} * * ${WEEKDAYS.indexOf(choice.weekday)}` };
    case 'monthly':
      if (!Number.isInteger(choice.day) || choice.day < 1 || choice.day > MAX_DAY) return { ok: false, error: `the day of the month is 1 to ${MAX_DAY}` };
      return { ok: true, value: `${minute} ${hour} ${choice.day} * *` };
  }
}

/** The schedule fields of a create or update body: the preset as the API takes it, or `schedule`. */
export function scheduleBody(choice: ScheduleChoice): Record<string, string | number> {
  switch (choice.mode) {
    case 'cron':
      return { schedule: choice.cron.trim() };
    case 'hourly':
      return { preset: 'hourly', at: `:${String(choice.minute).padStart(2, '0')}` };
    case 'daily':
      return { preset: 'daily', at: choice.time };
    case 'weekly':
      return { preset: 'weekly', at: choice.time, weekday: choice.weekday };
    case 'monthly':
      return { preset: 'monthly', at: choice.time, day: choice.day };
  }
}

/** The form's choice for a stored schedule: the preset it is, when it is one, else raw cron. */
export function choiceOf(cron: string): ScheduleChoice {
  const fields = cron.trim().split(/\s+/);
  const base = { ...DEFAULT_SCHEDULE, cron: cron.trim() };
  if (fields.length !== 5) return { ...base, mode: 'cron' };
  const [m, h, dom, mon, dow] = fields as [string, string, string, string, string];
  const num = (s: string, max: number) => (/^\d{1,2}$/.test(s) && Number(s) <= max ? Number(s) : undefined);
  const minute = num(m, 59);
  const hour = num(h, 23);
  if (minute === undefined || mon !== '*') return { ...base, mode: 'cron' };
  if (h === '*' && dom === '*' && dow === '*') return { ...base, mode: 'hourly', minute };
  if (hour === undefined) return { ...base, mode: 'cron' };
  const time = `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`;
  if (dom === '*' && dow === '*') return { ...base, mode: 'daily', time };
  const weekday = num(dow, 6);
  if (dom === '*' && weekday !== undefined) return { ...base, mode: 'weekly', time, weekday: WEEKDAYS[weekday] ?? 'monday' };
  const day = num(dom, MAX_DAY);
  if (dow === '*' && day !== undefined && day >= 1) return { ...base, mode: 'monthly', time, day };
  return { ...base, mode: 'cron' };
}
