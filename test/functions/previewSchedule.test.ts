import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import { describe, expect, it } from 'vitest';

import { decideSchedule } from '../../src/core/schedule.js';
import { previewSchedule } from '../../src/functions/previewSchedule.js';

const BASE = 'https://jobs.example.net/api/schedules/preview';
const context = () => new InvocationContext({ functionName: 'previewSchedule', invocationId: 'inv-1', logHandler: () => undefined });

/** `query` is put in the URL as it is, so tests can send what a caller types ("+" for spaces). */
function preview(query: string): HttpResponseInit {
  return previewSchedule(new HttpRequest({ method: 'GET', url: `${BASE}?${query}` }), context());
}

function get(params: Record<string, string>): HttpResponseInit {
  return preview(new URLSearchParams(params).toString());
}

interface PreviewBody {
  next: { utc: string; local: string }[];
  description: string;
  timeZone: string;
  message?: string;
}

describe('GET /api/schedules/preview', () => {
  it('answers the next times in UTC and in the zone, the schedule in words and the zone', () => {
    const response = get({ schedule: '30 2 * * *', timeZone: 'Europe/Amsterdam', from: '2026-10-24T12:00:00Z', count: '3' });
    expect(response.status).toBe(200);
    expect(response.jsonBody).toEqual({
      next: [
        { utc: '2026-10-25T00:30:00Z', local: '2026-10-25T02:30:00+02:00' },
        { utc: '2026-10-25T01:30:00Z', local: '2026-10-25T02:30:00+01:00' },
        { utc: '2026-10-26T01:30:00Z', local: '2026-10-26T02:30:00+01:00' },
      ],
      description: 'At 02:30 (Europe/Amsterdam)',
      timeZone: 'Europe/Amsterdam',
    });
  });

  it('defaults to 5 times from now, in UTC', () => {
    const before = Date.now();
    const body = get({ schedule: '* * * * *' }).jsonBody as PreviewBody;
    expect(body.timeZone).toBe('UTC');
    expect(body.next).toHaveLength(5);
    const first = Date.parse(body.next[0]?.utc ?? '');
    expect(first).toBeGreaterThan(before);
    expect(first).toBeLessThanOrEqual(before + 60_000);
    expect(body.next[0]?.local).toBe(body.next[0]?.utc.replace('Z', '+00:00'));
  });

  it('reads "+" in the query as a space, as browsers send it, also in an unencoded offset of `from`', () => {
    const response = preview('schedule=0+9+*+*+mon-fri&timeZone=Asia/Kolkata&from=2026-03-06T09:00:00+05:30&count=2');
    expect(response.jsonBody).toEqual({
      next: [
        { utc: '2026-03-09T03:30:00Z', local: '2026-03-09T09:00:00+05:30' },
        { utc: '2026-03-10T03:30:00Z', local: '2026-03-10T09:00:00+05:30' },
      ],
      description: 'At 09:00, Monday through Friday (Asia/Kolkata)',
      timeZone: 'Asia/Kolkata',
    });
  });

  it('takes an empty timeZone as none', () => {
    expect((get({ schedule: '@daily', timeZone: '', from: '2026-01-01T10:00:00Z', count: '1' }).jsonBody as PreviewBody).next).toEqual([
      { utc: '2026-01-02T00:00:00Z', local: '2026-01-02T00:00:00+00:00' },
    ]);
  });

  it('answers 50 times at most', () => {
    expect((get({ schedule: '* * * * *', count: '50' }).jsonBody as PreviewBody).next).toHaveLength(50);
  });

  it('answers a schedule that never fires with no times and a message saying why', () => {
    const response = get({ schedule: '0 0 31 2 *', from: '2026-01-01T00:00:00Z' });
    expect(response.status).toBe(200);
    expect(response.jsonBody).toEqual({
      next: [],
      description: 'At 00:00, on day 31 of the month, only in February (UTC): never, no such date exists',
      timeZone: 'UTC',
      message:
        'schedule "0 0 31 2 *" has no time after 2026-01-01T00:00:00Z: no such date exists (such as 31 February) within the 5 years Kubernetes looks ahead, so a CronJob with it never runs',
    });
  });

  it.each<{ name: string; params: Record<string, string>; field: string; detail: unknown }>([
    {
      name: 'no schedule',
      params: {},
      field: 'schedule',
      detail: 'schedule is required: a CronJob schedule such as ?schedule=30%202%20*%20*%201-5 (URL-encoded "30 2 * * 1-5") or ?schedule=@daily',
    },
    { name: 'a blank schedule', params: { schedule: '  ' }, field: 'schedule', detail: expect.stringMatching(/^schedule is required/) },
    {
      name: 'six fields',
      params: { schedule: '0 0 2 * * *' },
      field: 'schedule',
      detail:
        'schedule "0 0 2 * * *" is invalid: it has 6 fields; a CronJob schedule has exactly 5 fields (minute hour day-of-month month day-of-week), e.g. "30 2 * * 1-5", or is one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, @every <duration>',
    },
    {
      name: 'TZ= in the schedule',
      params: { schedule: 'TZ=Europe/Amsterdam 0 2 * * *' },
      field: 'schedule',
      detail: 'schedule "TZ=Europe/Amsterdam 0 2 * * *" is invalid: TZ= or CRON_TZ= in the schedule is refused by Kubernetes; put the zone in timeZone (spec.timeZone) instead',
    },
    {
      name: 'an unknown zone',
      params: { schedule: '0 2 * * *', timeZone: 'Europe/Atlantis' },
      field: 'timeZone',
      detail: 'timeZone "Europe/Atlantis" is not a known IANA time zone; use a name from the tz database such as "Europe/Amsterdam", "America/New_York" or "UTC"',
    },
    {
      name: 'a `from` that is not RFC 3339',
      params: { schedule: '0 2 * * *', from: 'tomorrow' },
      field: 'from',
      detail: 'from must be an RFC 3339 time such as 2026-03-29T00:00:00Z or 2026-03-29T01:00:00%2B01:00 (encode "+" as %2B), got "tomorrow"',
    },
    { name: 'a `from` without an offset', params: { schedule: '0 2 * * *', from: '2026-03-29T00:00:00' }, field: 'from', detail: expect.stringMatching(/^from must be an RFC 3339 time/) },
    { name: 'a `from` that is no date', params: { schedule: '0 2 * * *', from: '2026-02-30T00:00:00Z' }, field: 'from', detail: expect.stringMatching(/^from must be an RFC 3339 time/) },
    { name: 'a `from` before 1970', params: { schedule: '0 2 * * *', from: '1969-12-31T23:59:59Z' }, field: 'from', detail: 'from must be from 1970-01-01T00:00:00Z up to 9000-01-01T00:00:00Z, got "1969-12-31T23:59:59Z"' },
    { name: 'a `from` in the year 9999', params: { schedule: '0 2 * * *', from: '9999-12-31T00:00:00Z' }, field: 'from', detail: expect.stringMatching(/^from must be from 1970/) },
    { name: 'count 0', params: { schedule: '0 2 * * *', count: '0' }, field: 'count', detail: 'count must be a whole number from 1 to 50, got "0"' },
    { name: 'count 51', params: { schedule: '0 2 * * *', count: '51' }, field: 'count', detail: 'count must be a whole number from 1 to 50, got "51"' },
    { name: 'a fractional count', params: { schedule: '0 2 * * *', count: '2.5' }, field: 'count', detail: 'count must be a whole number from 1 to 50, got "2.5"' },
  ])('400 problem+json naming the field: $name', ({ params, field, detail }) => {
    const response = get(params);
    expect(response.status).toBe(400);
    expect(response.headers).toEqual({ 'Content-Type': 'application/problem+json' });
    expect(response.jsonBody).toMatchObject({ status: 400, title: 'BadRequest', field, detail });
  });
});

describe('the preview answers the times the scheduler decides', () => {
  it.each([
    { name: 'daily across the fall back in Amsterdam', schedule: '30 2 * * *', timeZone: 'Europe/Amsterdam', from: '2026-10-20T00:00:00Z' },
    { name: 'every 30 minutes across the spring forward in Sydney', schedule: '*/30 * * * *', timeZone: 'Australia/Sydney', from: '2026-10-03T14:00:00Z' },
    { name: 'weekdays in Santiago across its midnight change', schedule: '0 0 * * 1-5', timeZone: 'America/Santiago', from: '2026-08-30T00:00:00Z' },
    { name: 'hourly in Adelaide', schedule: '@hourly', timeZone: 'Australia/Adelaide', from: '2026-04-04T14:00:00Z' },
  ])('$name', ({ schedule, timeZone, from }) => {
    const times = (get({ schedule, timeZone, from, count: '20' }).jsonBody as PreviewBody).next.map((time) => new Date(time.utc));
    expect(times).toHaveLength(20);
    // Each tick a little after a previewed time, with the one before as the last schedule time, runs exactly it.
    let last: Date | null = null;
    for (const time of times) {
      const decision = decideSchedule({ schedule, timeZone, lastScheduleTime: last, creationTime: new Date(from) }, new Date(time.getTime() + 20_000));
      expect(decision).toMatchObject({ kind: 'run', scheduledTime: time });
      last = time;
    }
  });
});
