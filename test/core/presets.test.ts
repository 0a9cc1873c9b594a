import { describe, expect, it } from 'vitest';

import { BadRequestError } from '../../src/core/errors.js';
import { type PresetSchedule, presetToCron } from '../../src/core/presets.js';
import { nextRunTimes, parseSchedule } from '../../src/core/schedule.js';

describe('presetToCron', () => {
  it.each<{ name: string; preset: PresetSchedule; cron: string }>([
    { name: 'hourly on the hour', preset: { preset: 'hourly' }, cron: '0 * * * *' },
    { name: 'hourly at a quarter past', preset: { preset: 'hourly', at: ':15' }, cron: '15 * * * *' },
    { name: 'daily at midnight', preset: { preset: 'daily' }, cron: '0 0 * * *' },
    { name: 'daily at 02:30', preset: { preset: 'daily', at: '02:30' }, cron: '30 2 * * *' },
    { name: 'daily at 23:59', preset: { preset: 'daily', at: '23:59' }, cron: '59 23 * * *' },
    { name: 'weekly on monday by default', preset: { preset: 'weekly', at: '06:00' }, cron: '0 6 * * 1' },
    { name: 'weekly on sunday', preset: { preset: 'weekly', weekday: 'sunday' }, cron: '0 0 * * 0' },
    { name: 'weekly on saturday at 18:45', preset: { preset: 'weekly', weekday: 'saturday', at: '18:45' }, cron: '45 18 * * 6' },
    { name: 'monthly on the first by default', preset: { preset: 'monthly' }, cron: '0 0 1 * *' },
    { name: 'monthly on the 28th at 04:05', preset: { preset: 'monthly', day: 28, at: '04:05' }, cron: '5 4 28 * *' },
  ])('$name is "$cron"', ({ preset, cron }) => {
    expect(presetToCron(preset)).toBe(cron);
  });

  it('gives expressions the scheduler runs when expected: daily at 02:30 in Amsterdam', () => {
    const schedule = parseSchedule(presetToCron({ preset: 'daily', at: '02:30' }), 'Europe/Amsterdam');
    expect(nextRunTimes(schedule, new Date('2026-11-23T12:00:00Z'), 2).map((d) => d.toISOString())).toEqual([
      '2026-11-24T01:30:00.000Z',
      '2026-11-25T01:30:00.000Z',
    ]);
  });

  it.each<{ name: string; preset: PresetSchedule; says: string }>([
    { name: 'a time without a colon', preset: { preset: 'daily', at: '0230' }, says: 'at: "0230" is not a time of day; write it as HH:MM' },
    { name: 'hour 24', preset: { preset: 'daily', at: '24:00' }, says: 'at: "24:00"' },
    { name: 'a 12-hour time', preset: { preset: 'daily', at: '2:30pm' }, says: 'HH:MM on a 24-hour clock' },
    { name: 'a time of day on an hourly preset', preset: { preset: 'hourly', at: '02:30' }, says: 'an hourly preset takes ":MM"' },
    { name: 'minute 60 on an hourly preset', preset: { preset: 'hourly', at: ':60' }, says: 'at: ":60"' },
    { name: 'a weekday on a daily preset', preset: { preset: 'daily', weekday: 'monday' }, says: 'weekday: applies only to the weekly preset' },
    { name: 'a day on a weekly preset', preset: { preset: 'weekly', day: 3 }, says: 'day: applies only to the monthly preset' },
    { name: 'day 31', preset: { preset: 'monthly', day: 31 }, says: 'day: must be a whole number from 1 to 28' },
    { name: 'day 0', preset: { preset: 'monthly', day: 0 }, says: 'from 1 to 28' },
    { name: 'a fractional day', preset: { preset: 'monthly', day: 1.5 }, says: 'from 1 to 28' },
  ])('refuses $name with a 400 that names the field', ({ preset, says }) => {
    expect(() => presetToCron(preset)).toThrow(BadRequestError);
    expect(() => presetToCron(preset)).toThrow(says);
  });
});
