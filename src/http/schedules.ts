import type { HttpRequest, HttpResponseInit } from '@azure/functions';

import { MAX_PREVIEW_COUNT } from '../core/limits.js';
import { describeSchedule, formatInZone, nextRunTimes, parseSchedule, type Schedule, ScheduleError } from '../core/schedule.js';
import { problem } from './problem.js';

export const DEFAULT_PREVIEW_COUNT = 5;

/** One schedule time as the API shows it: the instant in UTC and the wall-clock time in the schedule's zone. */
export interface RunTime {
  utc: string;
  local: string;
}

/** RFC 3339 in UTC, without milliseconds when there are none (schedule times are whole minutes). */
export function utcString(instant: Date): string {
  return instant.toISOString().replace('.000Z', 'Z');
}

export function runTimes(schedule: Schedule, times: readonly Date[]): RunTime[] {
  return times.map((time) => ({ utc: utcString(time), local: formatInZone(time, schedule.timeZone) }));
}

const FROM_MIN = Date.UTC(1970, 0, 1);
const FROM_MAX = Date.UTC(9000, 0, 1);
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;

/** Date.parse is lenient (30 February becomes 2 March): the fields must name a real date and time. */
function parseRfc3339(text: string): number {
  const match = RFC3339.exec(text);
  if (!match) return Number.NaN;
  const [year, month, day, hour, minute, second, offsetHours, offsetMinutes] = [1, 2, 3, 4, 5, 6, 9, 10].map((index) => Number(match[index] ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const fields = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  const real = fields.getUTCMonth() === month - 1 && fields.getUTCDate() === day && fields.getUTCHours() === hour && minute < 60 && second < 60;
  return real && offsetHours < 24 && offsetMinutes < 60 ? Date.parse(text) : Number.NaN;
}

/** A query parameter the caller got wrong: a 400 that names it. */
class QueryError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

function readFrom(raw: string | null, now: Date): Date {
  if (raw === null || raw === '') return now;
  // An unencoded "+" in a query string arrives as a space: "...T01:00:00 02:00" meant "+02:00".
  const text = raw.replace(/(:\d{2}(?:\.\d+)?) (\d{2}:\d{2})$/, '$1+$2');
  const ms = parseRfc3339(text);
  if (Number.isNaN(ms)) {
    throw new QueryError('from', `from must be an RFC 3339 time such as 2026-03-29T00:00:00Z or 2026-03-29T01:00:00%2B01:00 (encode "+" as %2B), got "${raw}"`);
  }
  // Times keep four-digit years (RFC 3339) with room for the 5 years a search looks ahead.
  if (ms < FROM_MIN || ms >= FROM_MAX) throw new QueryError('from', `from must be from 1970-01-01T00:00:00Z up to 9000-01-01T00:00:00Z, got "${raw}"`);
  return new Date(ms);
}

function readCount(raw: string | null): number {
  if (raw === null || raw === '') return DEFAULT_PREVIEW_COUNT;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < 1 || value > MAX_PREVIEW_COUNT) {
    throw new QueryError('count', `count must be a whole number from 1 to ${String(MAX_PREVIEW_COUNT)}, got "${raw}"`);
  }
  return value;
}

/**
 * GET /api/schedules/preview?schedule=&timeZone=&from=&count=: the next times a CronJob with this schedule fires,
 * computed by the function the scheduler uses. An empty `timeZone` is the same as none (UTC).
 */
export function previewScheduleResponse(request: HttpRequest, now: Date): HttpResponseInit {
  try {
    const expression = request.query.get('schedule');
    if (expression === null || expression.trim() === '') {
      throw new QueryError('schedule', 'schedule is required: a CronJob schedule such as ?schedule=30%202%20*%20*%201-5 (URL-encoded "30 2 * * 1-5") or ?schedule=@daily');
    }
    const timeZone = request.query.get('timeZone');
    const schedule = parseSchedule(expression, timeZone === '' ? null : timeZone);
    const from = readFrom(request.query.get('from'), now);
    const count = readCount(request.query.get('count'));
    const next = runTimes(schedule, nextRunTimes(schedule, from, count));
    const body: Record<string, unknown> = { next, description: describeSchedule(schedule), timeZone: schedule.timeZone };
    if (next.length === 0) {
      body.message = `schedule "${schedule.expression}" has no time after ${utcString(from)}: no such date exists (such as 31 February) within the 5 years Kubernetes looks ahead, so a CronJob with it never runs`;
    }
    return { status: 200, jsonBody: body };
  } catch (err) {
    if (err instanceof ScheduleError || err instanceof QueryError) return problem(400, 'BadRequest', err.message, { field: err.field });
    throw err;
  }
}
