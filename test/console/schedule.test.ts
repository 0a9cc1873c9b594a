import { describe, expect, it } from 'vitest';

import { choiceOf, cronOf, DEFAULT_SCHEDULE, scheduleBody,type ScheduleChoice } from '../../console/src/logic/schedule.js';

const choice = (change: Partial<ScheduleChoice>): ScheduleChoice => ({ ...DEFAULT_SCHEDULE, ...change });

describe('console schedule form: presets to cron', () => {
  it.each<{ name: string; choice: ScheduleChoice; cron: string; body: Record<string, unknown> }>([
    { name: 'hourly at :15', choice: choice({ mode: 'hourly', minute: 15 }), cron: '15 * * * *', body: { preset: 'hourly', at: ':15' } },
    { name: 'hourly on the hour', choice: choice({ mode: 'hourly', minute: 0 }), cron: '0 * * * *', body: { preset: 'hourly', at: ':00' } },
    { name: 'daily at 02:30', choice: choice({ mode: 'daily', time: '02:30' }), cron: '30 2 * * *', body: { preset: 'daily', at: '02:30' } },
    { name: 'weekly on friday at 18:05', choice: choice({ mode: 'weekly', time: '18:05', weekday: 'friday' }), cron: '5 18 * * 5', body: { preset: 'weekly', at: '18:05', weekday: 'friday' } },
    { name: 'weekly on sunday is day 0', choice: choice({ mode: 'weekly', time: '00:00', weekday: 'sunday' }), cron: '0 0 * * 0', body: { preset: 'weekly', at: '00:00', weekday: 'sunday' } },
    { name: 'monthly on the 28th at 23:59', choice: choice({ mode: 'monthly', time: '23:59', day: 28 }), cron: '59 23 28 * *', body: { preset: 'monthly', at: '23:59', day: 28 } },
    { name: 'raw cron, trimmed', choice: choice({ mode: 'cron', cron: '  */5 * * * 1-5 ' }), cron: '*/5 * * * 1-5', body: { schedule: '*/5 * * * 1-5' } },
  ])('$name', ({ choice: c, cron, body }) => {
    expect(cronOf(c)).toEqual({ ok: true, value: cron });
    expect(scheduleBody(c)).toEqual(body);
  });

  it.each<{ name: string; choice: ScheduleChoice; error: RegExp }>([
    { name: 'a time that is not HH:MM', choice: choice({ mode: 'daily', time: '7:30' }), error: /HH:MM/ },
    { name: 'hour 24', choice: choice({ mode: 'weekly', time: '24:00' }), error: /HH:MM/ },
    { name: 'minute 60 past the hour', choice: choice({ mode: 'hourly', minute: 60 }), error: /0 to 59/ },
    { name: 'day 29 of the month', choice: choice({ mode: 'monthly', day: 29 }), error: /1 to 28/ },
    { name: 'an empty cron expression', choice: choice({ mode: 'cron', cron: '   ' }), error: /cron expression/ },
  ])('refuses $name with a message', ({ choice: c, error }) => {
    const result = cronOf(c);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(error);
  });

  it.each<{ cron: string; mode: ScheduleChoice['mode']; fields: Partial<ScheduleChoice> }>([
    { cron: '15 * * * *', mode: 'hourly', fields: { minute: 15 } },
    { cron: '30 2 * * *', mode: 'daily', fields: { time: '02:30' } },
    { cron: '0 6 * * 1', mode: 'weekly', fields: { time: '06:00', weekday: 'monday' } },
    { cron: '0 4 15 * *', mode: 'monthly', fields: { time: '04:00', day: 15 } },
    { cron: '0 4 31 * *', mode: 'cron', fields: { cron: '0 4 31 * *' } },
    { cron: '*/5 * * * *', mode: 'cron', fields: {} },
    { cron: '0 9 * * 1-5', mode: 'cron', fields: {} },
    { cron: '@daily', mode: 'cron', fields: { cron: '@daily' } },
  ])('reads a stored "$cron" back as $mode', ({ cron, mode, fields }) => {
    const back = choiceOf(cron);
    expect(back).toMatchObject({ mode, ...fields });
    // A preset read back stands for the same expression.
    if (mode !== 'cron') expect(cronOf(back)).toEqual({ ok: true, value: cron });
  });
});
