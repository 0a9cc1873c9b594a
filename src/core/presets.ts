import { BadRequestError } from './errors.js';

/** Friendly schedules, each one cron expression the CronJob controller (and the app's scheduler) reads. */
export const PRESETS = ['hourly', 'daily', 'weekly', 'monthly'] as const;
export type Preset = (typeof PRESETS)[number];

export const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** Monthly runs stop at the 28th: a later day would silently skip the months that lack it. */
export const MAX_PRESET_DAY = 28;

export interface PresetSchedule {
  preset: Preset;
  /** `HH:MM` (24 h) for daily, weekly and monthly; `:MM` (minutes past) for hourly. Default midnight / `:00`. */
  at?: string | undefined;
  /** weekly only; default monday. */
  weekday?: Weekday | undefined;
  /** monthly only, 1 to 28; default 1. */
  day?: number | undefined;
}

function timeOfDay(at: string): { hour: number; minute: number } {
  const match = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(at);
  if (!match) throw new BadRequestError(`at: "${at}" is not a time of day; write it as HH:MM on a 24-hour clock, e.g. "02:30"`);
  return { hour: Number(match[1]), minute: Number(match[2]) };
}

function minutePastTheHour(at: string): number {
  const match = /^:([0-5]\d)$/.exec(at);
  if (!match) throw new BadRequestError(`at: "${at}" is not a minute past the hour; an hourly preset takes ":MM", e.g. ":15"`);
  return Number(match[1]);
}

/**
 * The cron expression of a preset, in the CronJob's own time zone. Fields that do not belong to the preset
 * (a weekday on a daily schedule) are refused rather than ignored, so a caller never believes in a schedule
 * that is not the one written.
 */
export function presetToCron(schedule: PresetSchedule): string {
  const { preset, at, weekday, day } = schedule;
  if (weekday !== undefined && preset !== 'weekly') throw new BadRequestError(`weekday: applies only to the weekly preset, not to ${preset}`);
  if (day !== undefined && preset !== 'monthly') throw new BadRequestError(`day: applies only to the monthly preset, not to ${preset}`);
  if (day !== undefined && (!Number.isInteger(day) || day < 1 || day > MAX_PRESET_DAY)) {
    throw new BadRequestError(`day: must be a whole number from 1 to ${MAX_PRESET_DAY} (later days are missing in some months), got ${day}`);
  }
  if (preset === 'hourly') return `${at === undefined ? 0 : minutePastTheHour(at)} * * * *`;
  const { hour, minute } = timeOfDay(at ?? '00:00');
  switch (preset) {
    case 'daily':
      return `${minute} ${hour} * * *`;
    case 'weekly':
      return `${minute} ${hour} * * ${WEEKDAYS.indexOf(weekday ?? 'monday')}`;
    case 'monthly':
      return `${minute} ${hour} ${day ?? 1} * *`;
  }
}
