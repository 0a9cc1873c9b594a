/**
 * CronJob schedule maths, as the Kubernetes v1.34 CronJob controller does it: the API server's validation of
 * `spec.schedule` / `spec.timeZone`, the controller's cron library (robfig/cron v3, `ParseStandard`) for the
 * times, and `pkg/controller/cronjob` (`mostRecentScheduleTime`, `nextScheduleTime`, `syncCronJob`) for what is
 * due. Pure: every function takes the instants it needs; nothing reads the clock.
 *
 * Iteration is cron-parser's, run on wall-clock time in UTC (where no DST exists); this module maps each
 * wall-clock time to the instants it names in the schedule's zone the way robfig/cron does (see `wallToInstants`),
 * because cron-parser's own zone handling differs from robfig's across DST changes.
 */
import { CronExpression, CronExpressionParser, type CronFieldCollection } from 'cron-parser';
import cronstrue from 'cronstrue';

import { BadRequestError } from './errors.js';

/** A schedule or time zone the API server would refuse (or one that can never fire): names the field. */
export class ScheduleError extends BadRequestError {
  override name = 'ScheduleError';
  readonly field: 'schedule' | 'timeZone';

  constructor(field: 'schedule' | 'timeZone', message: string) {
    super(message);
    this.field = field;
  }
}

export interface Schedule {
  /** `spec.schedule` as written. */
  readonly expression: string;
  /**
   * IANA zone. 'UTC' when the CronJob has none: the controller then uses kube-controller-manager's local zone,
   * which is UTC on AKS and everywhere this app runs (docs/decisions.md, "Schedules").
   */
  readonly timeZone: string;
}

export interface ScheduleWarning {
  reason: 'InvalidSchedule' | 'UnknownTimeZone' | 'MissSchedule' | 'TooManyMissedTimes';
  message: string;
}

/** The parts of a CronJob the due-time rule reads. `lastScheduleTime` is the app's last-schedule annotation. */
export interface CronJobTiming {
  schedule: string;
  timeZone?: string | null;
  startingDeadlineSeconds?: number | null;
  lastScheduleTime: Date | null;
  creationTime: Date;
}

export type ScheduleDecision =
  /** Nothing is due now; `next` is the first schedule time after now (null: none within robfig's 5 years). */
  | { kind: 'wait'; next: Date | null }
  /** Start the run for `scheduledTime`, then record it as the last schedule time. Warnings: MissSchedule, TooManyMissedTimes. */
  | { kind: 'run'; scheduledTime: Date; next: Date | null; warnings: ScheduleWarning[] }
  /**
   * Schedule times passed while nothing can start: the latest, `scheduledTime`, is more than
   * `startingDeadlineSeconds` ago. Nothing starts (as in the controller). Record `scheduledTime` as the last
   * schedule time so that it is reported once: that cannot change a later decision, which never looks before
   * now - startingDeadlineSeconds anyway (the controller, returning early, leaves its status alone).
   */
  | { kind: 'missed'; scheduledTime: Date; next: Date | null; warnings: ScheduleWarning[] }
  /** The schedule or zone is invalid (or never fires): report it once, never retry until the CronJob changes. */
  | { kind: 'invalid'; warnings: ScheduleWarning[] };

const SECOND = 1000;
const HOUR = 3600 * SECOND;
const DAY = 24 * HOUR;

// ---------------------------------------------------------------------------------------------------------------
// Time zones

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** Wall-clock time of `instant` in `timeZone`, as milliseconds of a UTC date with the same fields. */
function wallOf(instant: number, timeZone: string): number {
  if (timeZone === 'UTC') return instant;
  const fields: Record<string, number> = {};
  let bc = false;
  for (const part of formatterFor(timeZone).formatToParts(instant)) {
    if (part.type === 'era') bc = part.value === 'BC';
    else if (part.type !== 'literal') fields[part.type] = Number(part.value);
  }
  const year = bc ? 1 - (fields.year ?? 0) : (fields.year ?? 0);
  const wall = new Date(0);
  wall.setUTCFullYear(year, (fields.month ?? 1) - 1, fields.day ?? 1);
  wall.setUTCHours(fields.hour ?? 0, fields.minute ?? 0, fields.second ?? 0, instant - Math.floor(instant / SECOND) * SECOND);
  return wall.getTime();
}

/** Offsets by zone and UTC hour; null where the offset changes within that hour. */
const offsetsByHour = new Map<string, Map<number, number | null>>();
// About 10 MB at most, whatever hours the preview route is asked about.
const OFFSET_CACHE_LIMIT = 100_000;
let offsetsCached = 0;

/**
 * UTC offset (ms) in effect at `instant`. Intl is slow (~10 µs a call) and the scheduler asks about the same
 * hours over and over, so an hour whose start and end have one offset is remembered as having it throughout
 * (no zone changes its offset twice within an hour).
 */
function offsetAt(instant: number, timeZone: string): number {
  if (timeZone === 'UTC') return 0;
  let hours = offsetsByHour.get(timeZone);
  if (!hours) {
    hours = new Map();
    offsetsByHour.set(timeZone, hours);
  }
  const hour = Math.floor(instant / HOUR);
  let offset = hours.get(hour);
  if (offset === undefined) {
    const start = hour * HOUR;
    const first = wallOf(start, timeZone) - start;
    const last = wallOf(start + HOUR - 1, timeZone) - (start + HOUR - 1);
    offset = first === last ? first : null;
    if (offsetsCached >= OFFSET_CACHE_LIMIT) {
      for (const cached of offsetsByHour.values()) cached.clear();
      offsetsCached = 0;
    }
    hours.set(hour, offset);
    offsetsCached++;
  }
  return offset ?? wallOf(instant, timeZone) - instant;
}

let knownZones: Map<string, string> | undefined;
const validZones = new Set<string>(['UTC']);

/**
 * Refuses what the API server refuses (`validateTimeZone`): empty, 'Local', characters outside the IANA naming
 * rules, and zones Go's `time.LoadLocation` does not know. Node's ICU stands in for Go's tzdata; ICU also
 * accepts a known zone in the wrong case, which Go (reading files) does not, so that is refused here too.
 */
function validateTimeZone(timeZone: string): void {
  if (validZones.has(timeZone)) return;
  if (timeZone === '') throw new ScheduleError('timeZone', 'timeZone must be left out or be an IANA time zone name such as "Europe/Amsterdam"; it is empty');
  if (timeZone.toLowerCase() === 'local') {
    throw new ScheduleError('timeZone', 'timeZone "Local" is refused by Kubernetes: name an explicit IANA time zone such as "Europe/Amsterdam"');
  }
  const unknown = (): ScheduleError =>
    new ScheduleError(
      'timeZone',
      `timeZone "${timeZone}" is not a known IANA time zone; use a name from the tz database such as "Europe/Amsterdam", "America/New_York" or "UTC"`,
    );
  for (const part of timeZone.split('/')) {
    if (part === '.' || part === '..' || part.startsWith('-') || !/^[A-Za-z.\-_0-9+]{1,14}$/.test(part)) throw unknown();
  }
  try {
    formatterFor(timeZone);
  } catch {
    throw unknown();
  }
  // ICU lists only its canonical names and resolves aliases (Asia/Kolkata) to them, so for an alias the case can
  // only be judged by the tz database's habit: every part of a name starts with a capital or a digit.
  knownZones ??= new Map(Intl.supportedValuesOf('timeZone').map((zone) => [zone.toLowerCase(), zone]));
  const listed = knownZones.get(timeZone.toLowerCase());
  if ((listed !== undefined && listed !== timeZone) || (listed === undefined && /(^|\/)[a-z]/.test(timeZone))) {
    const resolved = formatterFor(timeZone).resolvedOptions().timeZone;
    const suggestion =
      listed ??
      (resolved.toLowerCase() === timeZone.toLowerCase()
        ? resolved
        : timeZone.replace(/(^|[/_-])([a-z])/g, (_match, before: string, letter: string) => before + letter.toUpperCase()));
    throw new ScheduleError('timeZone', `timeZone "${timeZone}" is not a known IANA time zone: names are case-sensitive, did you mean "${suggestion}"?`);
  }
  validZones.add(timeZone);
}

/**
 * The instants a wall-clock time names in `timeZone`, in order, as robfig/cron's `SpecSchedule.Next` finds them:
 * a wall time that does not exist (the spring-forward gap) names none, so it is skipped, not moved to the end of
 * the gap; one that exists twice (the fall-back repeat) names both, so it fires twice. (cron-parser in a zone
 * moves gap times to the end of the gap and fires repeats once: this is why it iterates in UTC here.)
 */
function wallToInstants(wall: number, timeZone: string): number[] {
  if (timeZone === 'UTC') return [wall];
  // Offsets are within ±14 h, so the instants lie within a day of `wall`; one DST change per two days at most.
  const offsets = new Set([offsetAt(wall - DAY, timeZone), offsetAt(wall, timeZone), offsetAt(wall + DAY, timeZone)]);
  const instants: number[] = [];
  for (const offset of offsets) {
    const instant = wall - offset;
    if (offsetAt(instant, timeZone) === offset && !instants.includes(instant)) instants.push(instant);
  }
  return instants.sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing, as robfig/cron v3 ParseStandard (which the API server and the controller both call)

interface FieldBounds {
  name: string;
  min: number;
  max: number;
  names?: Record<string, number>;
}

const MONTH_NAMES = { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 };
const DAY_NAMES = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };

const FIELDS: readonly FieldBounds[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES },
  // robfig's day of week is 0-6: unlike Vixie cron, 7 is not Sunday, and the API server refuses it.
  { name: 'day of week', min: 0, max: 6, names: DAY_NAMES },
];

/** The macros `ParseStandard` accepts, as the 5 fields robfig gives them. (cron-parser's extras are not.) */
const MACROS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const FIELD_HELP = 'a CronJob schedule has exactly 5 fields (minute hour day-of-month month day-of-week), e.g. "30 2 * * 1-5", or is one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, @every <duration>';

interface Compiled {
  /** The fields as cron-parser parsed them (from plain numeric fields), or null when robfig never finds a time. */
  readonly cron: CronFieldCollection | null;
  /** `@every`: the fixed delay in ms (whole seconds, at least 1 s), as robfig's ConstantDelaySchedule. */
  readonly everyMs: number | null;
  /** The 5 fields in plain numbers, for cronstrue when it cannot read what robfig can ("+5", "mon,"). */
  readonly plain: string | null;
  /**
   * Next wall time after a wall time (null: none within 5 years). cron-parser is the slow part of a decision
   * (~30 µs a time), and a tick asks the same questions for every CronJob with the same schedule, in any zone.
   */
  readonly nextWalls: Map<number, number | null>;
}

function scheduleError(expression: string, problem: string): ScheduleError {
  return new ScheduleError('schedule', `schedule "${expression}" is invalid: ${problem}`);
}

function parseNumber(text: string, field: FieldBounds, expression: string): number {
  const named = field.names?.[text.toLowerCase()];
  if (named !== undefined) return named;
  // strconv.Atoi: optional sign, decimal digits.
  if (!/^[+-]?\d+$/.test(text)) {
    const names = field.names ? ` or a name (${Object.keys(field.names).join(', ')})` : '';
    throw scheduleError(expression, `the ${field.name} field has "${text}" where a number${names} belongs`);
  }
  const value = Number(text);
  if (value < 0) throw scheduleError(expression, `the ${field.name} field has a negative number ${text}`);
  return value;
}

/**
 * One comma-separated part of a field, as robfig's getRange: `*` / `?`, `n`, `a-b`, each with an optional `/step`
 * (`n/step` meaning n to the maximum), and whether robfig marks it as a star (a star with step 1), which decides
 * the day-of-month / day-of-week rule.
 */
interface Part {
  start: number;
  end: number;
  step: number;
  star: boolean;
}

function compilePart(part: string, field: FieldBounds, expression: string): Part {
  const slashes = part.split('/');
  if (slashes.length > 2) throw scheduleError(expression, `the ${field.name} field part "${part}" has more than one "/"`);
  const [range = '', stepText] = slashes;
  const hyphens = range.split('-');
  let start: number;
  let end: number;
  let star = false;
  if (hyphens[0] === '*' || hyphens[0] === '?') {
    // robfig ignores anything after "*-" here; so does this.
    start = field.min;
    end = field.max;
    star = true;
  } else {
    if (hyphens.length > 2) throw scheduleError(expression, `the ${field.name} field part "${part}" has more than one "-"`);
    start = parseNumber(hyphens[0] ?? '', field, expression);
    end = hyphens.length === 2 ? parseNumber(hyphens[1] ?? '', field, expression) : start;
  }
  let step = 1;
  if (stepText !== undefined) {
    if (!/^[+-]?\d+$/.test(stepText)) throw scheduleError(expression, `the ${field.name} field has step "${stepText}"; a step is a whole number`);
    step = Number(stepText);
    if (step < 0) throw scheduleError(expression, `the ${field.name} field has a negative step ${stepText}`);
    if (hyphens.length === 1) end = field.max;
    if (step > 1) star = false;
  }
  if (start < field.min) throw scheduleError(expression, `the ${field.name} field starts at ${start}, below its minimum ${field.min}`);
  if (end > field.max) throw scheduleError(expression, `the ${field.name} field goes to ${end}, above its maximum ${field.max}`);
  if (start > end) throw scheduleError(expression, `the ${field.name} field range "${part}" starts after it ends (${start} > ${end})`);
  if (step === 0) throw scheduleError(expression, `the ${field.name} field has step 0; a step is a positive number`);
  return { start, end, step, star };
}

/** A field for cron-parser; null when it allows no value at all (robfig drops empty list parts, so "," is that). */
function compileField(text: string, field: FieldBounds, expression: string): string | null {
  const parts = text
    .split(',')
    .filter((part) => part !== '')
    .map((part) => compilePart(part, field, expression));
  if (parts.length === 0) return null;
  // A robfig star covers the whole range; "*" tells cron-parser the same, which its OR rule reads as unrestricted
  // (it would read "*/1" or "*,5" as restricted where robfig does not).
  if (parts.some((part) => part.star)) return '*';
  const [only] = parts;
  if (parts.length === 1 && only) {
    return only.step === 1 ? (only.start === only.end ? `${only.start}` : `${only.start}-${only.end}`) : `${only.start}-${only.end}/${only.step}`;
  }
  // robfig ORs the parts' bits, so overlaps are fine ("1-5,3"); cron-parser refuses a value listed twice, so the
  // union is handed over as a plain list.
  const values = new Set<number>();
  for (const part of parts) for (let value = part.start; value <= part.end; value += part.step) values.add(value);
  return [...values].sort((a, b) => a - b).join(',');
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: SECOND, m: 60 * SECOND, h: HOUR };

/** Go's time.ParseDuration, in ms: "1h30m", "90s", "1.5h", "-5m". */
function parseGoDuration(text: string, expression: string): number {
  const invalid = scheduleError(expression, `"${text}" is not a duration; @every takes a Go duration such as 90s, 15m or 1h30m`);
  const match = /^([+-]?)(.+)$/.exec(text);
  if (!match) throw invalid;
  const [, sign, body = ''] = match;
  if (body === '0') return 0;
  let total = 0;
  let rest = body;
  while (rest !== '') {
    const unit = /^(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/.exec(rest);
    if (!unit) throw invalid;
    total += Number(unit[1]) * (DURATION_UNITS[unit[2] ?? ''] ?? 0);
    rest = rest.slice(unit[0].length);
  }
  return sign === '-' ? -total : total;
}

const compiledCache = new Map<string, Compiled>();
// The preview route compiles whatever callers send: the cache must not grow with it.
const COMPILED_CACHE_LIMIT = 10_000;

function compile(expression: string): Compiled {
  const cached = compiledCache.get(expression);
  if (cached) return cached;
  const compiled = compileUncached(expression);
  if (compiledCache.size >= COMPILED_CACHE_LIMIT) compiledCache.clear();
  compiledCache.set(expression, compiled);
  return compiled;
}

function compileUncached(expression: string): Compiled {
  if (expression === '') throw new ScheduleError('schedule', `schedule is empty: ${FIELD_HELP}`);
  // The API server refuses "TZ" anywhere in a new schedule (validateScheduleFormat); spec.timeZone replaces it.
  if (expression.includes('TZ')) {
    throw scheduleError(expression, 'TZ= or CRON_TZ= in the schedule is refused by Kubernetes; put the zone in timeZone (spec.timeZone) instead');
  }
  if (expression.startsWith('@')) {
    const macro = MACROS[expression];
    if (macro !== undefined) return compileFields(macro, expression);
    if (expression.startsWith('@every ')) {
      const ms = parseGoDuration(expression.slice('@every '.length), expression);
      // robfig's Every: at least one second, truncated to whole seconds.
      return { cron: null, everyMs: ms < SECOND ? SECOND : Math.trunc(ms / SECOND) * SECOND, plain: null, nextWalls: new Map() };
    }
    throw scheduleError(expression, `unknown macro; ${FIELD_HELP}`);
  }
  return compileFields(expression, expression);
}

function compileFields(fields: string, expression: string): Compiled {
  const texts = fields.split(/\s+/).filter((text) => text !== '');
  if (texts.length !== FIELDS.length) throw scheduleError(expression, `it has ${texts.length} field${texts.length === 1 ? '' : 's'}; ${FIELD_HELP}`);
  const compiledFields = FIELDS.map((field, index) => compileField(texts[index] ?? '', field, expression));
  const [minute, hour, dayOfMonth, month, dayOfWeek] = compiledFields as [string | null, string | null, string | null, string | null, string | null];
  const never: Compiled = { cron: null, everyMs: null, plain: null, nextWalls: new Map() };
  if (minute === null || hour === null || month === null) return never;
  // An empty day field matches no day. By robfig's rule the other day field then decides alone if it is
  // restricted (OR), which "*" for the empty one tells cron-parser; if the other is a star (AND), no day matches.
  if (dayOfMonth === null && dayOfWeek === null) return never;
  if ((dayOfMonth === null && dayOfWeek === '*') || (dayOfWeek === null && dayOfMonth === '*')) return never;
  const cron = `${minute} ${hour} ${dayOfMonth ?? '*'} ${month} ${dayOfWeek ?? '*'}`;
  try {
    return { cron: CronExpressionParser.parse(cron, { tz: 'UTC' }).fields, everyMs: null, plain: cron, nextWalls: new Map() };
  } catch (err) {
    // cron-parser refuses a day of month no listed month has (31 February); robfig accepts it and never finds a
    // time, and the API server accepts it too. Anything else cron-parser refuses, robfig would have too.
    if (err instanceof Error && err.message === 'Invalid explicit day of month definition') return { cron: null, everyMs: null, plain: cron, nextWalls: new Map() };
    throw scheduleError(expression, err instanceof Error ? err.message : String(err));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The public surface

/** Validates as the API server does (robfig ParseStandard, validateScheduleFormat, validateTimeZone). */
export function parseSchedule(expression: string, timeZone?: string | null): Schedule {
  const zone = timeZone ?? 'UTC';
  validateTimeZone(zone);
  compile(expression);
  return { expression, timeZone: zone };
}

/**
 * robfig's Next over and over: the schedule instants strictly after `after`, in order, ending when no time comes
 * within the 5 years robfig searches from the one before (31 February; 29 February across 2100).
 */
function* instantsAfter(schedule: Schedule, after: number): Generator<number, void, undefined> {
  const compiled = compile(schedule.expression);
  if (compiled.everyMs !== null) {
    // ConstantDelaySchedule.Next: t + delay, minus t's fraction of a second, each from the previous time.
    for (let t = after; ; ) {
      t = t - (((t % SECOND) + SECOND) % SECOND) + compiled.everyMs;
      yield t;
    }
  }
  if (compiled.cron === null) return;
  const zone = schedule.timeZone;
  // Instants after `after` have wall times after `after` + the lowest offset in effect soon after it.
  const lowest = Math.min(offsetAt(after, zone), offsetAt(after + DAY, zone), offsetAt(after + 2 * DAY, zone));
  let wall = after + lowest;
  // Instants found but not yet safe to yield, in order, each with the wall time after which it is safe.
  const pending: { instant: number; release: number }[] = [];
  for (;;) {
    const next = nextWall(compiled, compiled.cron, wall);
    if (next === null) break;
    wall = next;
    const instants = wallToInstants(wall, zone);
    // Real time runs against wall time only in a fall-back repeat: the second instant of a repeated wall time
    // comes after the first instants of the wall times up to the end of the repeat, which is as far ahead in
    // wall time as the repeat is long (second - first).
    const [first = 0, second] = instants;
    for (const instant of instants) {
      if (instant <= after) continue;
      const entry = { instant, release: instant === second ? wall + (second - first) : wall };
      const at = pending.findIndex((other) => other.instant > instant);
      pending.splice(at === -1 ? pending.length : at, 0, entry);
    }
    while (pending.length > 0 && (pending[0]?.release ?? Infinity) <= wall) {
      yield (pending.shift() as { instant: number }).instant;
    }
  }
  for (const entry of pending) yield entry.instant;
}

const NEXT_WALLS_LIMIT = 10_000;

/** The first wall time after `wall`, searching as robfig's Next does: up to the end of the 5th year after it. */
function nextWall(compiled: Compiled, cron: CronFieldCollection, wall: number): number | null {
  let next = compiled.nextWalls.get(wall);
  if (next === undefined) {
    const endDate = new Date(Date.UTC(new Date(wall).getUTCFullYear() + 6, 0, 1) - SECOND);
    try {
      next = CronExpression.fieldsToExpression(cron, { tz: 'UTC', currentDate: new Date(wall), endDate }).next().getTime();
    } catch {
      // Past endDate: robfig's zero time.
      next = null;
    }
    if (compiled.nextWalls.size >= NEXT_WALLS_LIMIT) compiled.nextWalls.clear();
    compiled.nextWalls.set(wall, next);
  }
  return next;
}

/** The next `count` times strictly after `after`, in order, as the controller's cron library computes them. */
export function nextRunTimes(schedule: Schedule, after: Date, count: number): Date[] {
  const times: Date[] = [];
  if (count <= 0) return times;
  for (const instant of instantsAfter(schedule, after.getTime())) {
    times.push(new Date(instant));
    if (times.length >= count) break;
  }
  return times;
}

function nextAfter(schedule: Schedule, after: number): number | null {
  for (const instant of instantsAfter(schedule, after)) return instant;
  return null;
}

/** The schedule in words, with its zone: "At 02:30, Monday through Friday (Europe/Amsterdam)". */
export function describeSchedule(schedule: Schedule): string {
  const compiled = compile(schedule.expression);
  const zone = `(${schedule.timeZone})`;
  if (compiled.everyMs !== null) {
    const seconds = compiled.everyMs / SECOND;
    const parts = [
      [Math.floor(seconds / 3600), 'h'],
      [Math.floor((seconds % 3600) / 60), 'm'],
      [seconds % 60, 's'],
    ] as const;
    const every = parts.filter(([value]) => value > 0).map(([value, unit]) => `${String(value)}${unit}`).join('');
    return `Every ${every}, counted from the previous schedule time ${zone}`;
  }
  const inWords = (fields: string): string | null => {
    try {
      return cronstrue.toString(fields, { use24HourTimeFormat: true });
    } catch {
      return null;
    }
  };
  const words = inWords(MACROS[schedule.expression] ?? schedule.expression) ?? (compiled.plain === null ? null : inWords(compiled.plain)) ?? `"${schedule.expression}"`;
  return compiled.cron === null ? `${words} ${zone}: never, no such date exists` : `${words} ${zone}`;
}

/** ISO 8601 with the zone's offset: 2026-03-29T03:30:00+02:00 (seconds kept, milliseconds when not zero). */
export function formatInZone(instant: Date, timeZone: string): string {
  const ms = instant.getTime();
  // Offsets before standard time had seconds (local mean time); ISO 8601 offsets have minutes, so the time shown
  // is the instant at the rounded offset, which still reads back as the same instant.
  const offsetMinutes = Math.round((wallOf(ms, timeZone) - ms) / 60000);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  const offset = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  const iso = new Date(ms + offsetMinutes * 60000).toISOString().replace(/Z$/, '');
  return `${ms % SECOND === 0 ? iso.replace(/\.\d{3}$/, '') : iso}${offset}`;
}

// ---------------------------------------------------------------------------------------------------------------
// The due-time rule

/** Above this many missed times only the latest runs (the controller's guard against a wrong clock eating it). */
const TOO_MANY_MISSED = 100;

interface MostRecent {
  /** The most recent unmet schedule time <= now, or null. */
  time: number | null;
  /** More than 100 schedule times were missed. */
  tooMany: boolean;
  /** The first schedule time after now, or null. */
  next: number | null;
}

/**
 * `mostRecentScheduleTime` (with the starting deadline): the controller's own approximation, kept as it is,
 * including where it misses a time on schedules with uneven gaps ("30 6-16/4 * * 1-5" after a weekend), so that
 * we decide what the controller decides. Null when robfig's Next finds no time, which the controller reports as
 * an invalid schedule ("time difference between two schedules is less than 1 second").
 */
function mostRecentScheduleTime(schedule: Schedule, earliest: number, now: number): MostRecent | null {
  const fromEarliest = instantsAfter(schedule, earliest);
  const t1 = fromEarliest.next().value ?? null;
  if (t1 === null) return null;
  if (now < t1) return { time: null, tooMany: false, next: earliest <= now ? t1 : nextAfter(schedule, now) };
  const t2 = fromEarliest.next().value ?? null;
  if (t2 === null) return null;
  if (now < t2) return { time: t1, tooMany: false, next: t2 };
  const between = Math.round((t2 - t1) / SECOND);
  if (between < 1) return null;
  const elapsed = Math.trunc((now - t1) / SECOND);
  const missed = Math.trunc(elapsed / between) + 1;
  // The controller steps back one interval more than the count, then lets the cron library find the times.
  const potentialEarliest = t1 + (missed - 2) * between * SECOND;
  let mostRecent: number | null = null;
  let next: number | null = null;
  for (const t of instantsAfter(schedule, potentialEarliest)) {
    if (t > now) {
      next = t;
      break;
    }
    mostRecent = t;
  }
  // The guard against a wrong clock eating the controller: only the latest of that many runs.
  return { time: mostRecent, tooMany: missed > TOO_MANY_MISSED, next };
}

function invalid(reason: ScheduleWarning['reason'], message: string): ScheduleDecision {
  return { kind: 'invalid', warnings: [{ reason, message }] };
}

/**
 * What the controller's `syncCronJob` decides for a (suspended-by-us) CronJob at `now`: earliest = the last
 * schedule time, else the creation time, moved up to now - startingDeadlineSeconds; the most recent schedule time
 * since then that is <= now is due; more than 100 missed since then: only that latest one, with
 * TooManyMissedTimes.
 *
 * Times before now - startingDeadlineSeconds are skipped, as the controller skips them. The controller's own
 * MissSchedule check (scheduled + deadline < now) can no longer fire since the deadline moved into
 * mostRecentScheduleTime, so it skips them silently; here the latest skipped time is reported as MissSchedule:
 * on the run that starts, or as a 'missed' decision when none does. Whether and which run starts is the
 * controller's decision either way.
 */
export function decideSchedule(timing: CronJobTiming, now: Date): ScheduleDecision {
  let schedule: Schedule;
  try {
    schedule = parseSchedule(timing.schedule, timing.timeZone);
  } catch (err) {
    if (!(err instanceof ScheduleError)) throw err;
    return invalid(err.field === 'timeZone' ? 'UnknownTimeZone' : 'InvalidSchedule', err.message);
  }
  const nowMs = now.getTime();
  const since = (timing.lastScheduleTime ?? timing.creationTime).getTime();
  const deadline = timing.startingDeadlineSeconds ?? null;
  // The controller schedules nothing before this point.
  const cutoff = deadline === null ? null : nowMs - deadline * SECOND;
  const earliest = cutoff === null ? since : Math.max(since, cutoff);

  const recent = mostRecentScheduleTime(schedule, earliest, nowMs);
  if (recent === null) {
    return invalid('InvalidSchedule', `schedule "${timing.schedule}" never fires: no such time comes within 5 years (for example 31 February); fix spec.schedule`);
  }
  const next = recent.next === null ? null : new Date(recent.next);
  const skipped = cutoff !== null && cutoff > since ? (mostRecentScheduleTime(schedule, since, cutoff)?.time ?? null) : null;
  const warnings: ScheduleWarning[] = [];
  if (skipped !== null) {
    warnings.push({
      reason: 'MissSchedule',
      message: `Missed scheduled time to start a job: ${formatInZone(new Date(skipped), schedule.timeZone)} was more than startingDeadlineSeconds (${String(deadline)}s) before ${now.toISOString()}, so it was skipped; raise .spec.startingDeadlineSeconds if a late start is fine`,
    });
  }
  if (recent.time === null) return skipped === null ? { kind: 'wait', next } : { kind: 'missed', scheduledTime: new Date(skipped), next, warnings };

  if (recent.tooMany) {
    warnings.push({
      reason: 'TooManyMissedTimes',
      message: 'too many missed start times (more than 100): only the latest runs. Set or decrease .spec.startingDeadlineSeconds or check clock skew',
    });
  }
  return { kind: 'run', scheduledTime: new Date(recent.time), next, warnings };
}
