import type { Starter } from '../types.ts';

/** The statuses the runs page filters by, in the order a person scans them. */
export const STATUS_FILTERS = ['Running', 'Starting', 'Failed', 'Cancelled', 'Success', 'Unknown'] as const;

/** "45 s", "3 min 20 s", "2 h 5 min", "3 d 4 h": a run's duration for people; an em dash when not known. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return s % 60 === 0 ? `${Math.floor(s / 60)} min` : `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86_400) {
    const minutes = Math.floor((s % 3600) / 60);
    return minutes === 0 ? `${Math.floor(s / 3600)} h` : `${Math.floor(s / 3600)} h ${minutes} min`;
  }
  const hours = Math.floor((s % 86_400) / 3600);
  return hours === 0 ? `${Math.floor(s / 86_400)} d` : `${Math.floor(s / 86_400)} d ${hours} h`;
}

const TRIGGERS: Readonly<Record<string, string>> = {
  http: 'on request',
  schedule: 'app scheduler',
  cluster: 'CronJob controller',
  manual: 'kubectl',
};

/** How a run was started, in words: the trigger, and for runs on request who asked (ids only; the API never gives a key). */
export function startedByText(trigger: string, starter: Starter): string {
  const how = TRIGGERS[trigger] ?? trigger;
  if (!starter) return how;
  if (starter.kind === 'key') return `${how}, function key`;
  if (starter.kind === 'entra') return `${how}, app ${starter.appId}`;
  return `${how}, caller unknown`;
}
