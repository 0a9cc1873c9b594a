import { describe, expect, it } from 'vitest';

import { fieldMessages, formatInstant, problemOf, readableLocal, relative, retryAfterMs, statusTone, warningText } from '../../console/src/logic/answers.js';

const NOW = Date.parse('2026-12-01T12:00:00Z');

describe('console: reading the API answers', () => {
  it.each<{ name: string; status: number; text: string; detail: string; field?: string }>([
    { name: 'a problem+json body', status: 400, text: JSON.stringify({ title: 'BadRequest', status: 400, detail: 'schedule: 6 fields', field: 'schedule' }), detail: 'schedule: 6 fields', field: 'schedule' },
    { name: 'a 401 of the host without a body', status: 401, text: '', detail: 'the function key was not accepted' },
    { name: 'an empty 502', status: 502, text: '', detail: 'the app answered HTTP 502 without a message' },
    { name: "a proxy's HTML page", status: 503, text: '<html>down</html>', detail: 'the app answered HTTP 503: <html>down</html>' },
  ])('problem of $name', ({ status, text, detail, field }) => {
    const problem = problemOf(status, text);
    expect(problem.detail).toBe(detail);
    expect(problem.field).toBe(field);
  });

  it("puts each of a 400's messages under its field, the rest general", () => {
    const detail = 'name must be lower-case letters; at: "25:00" is not a time of day; env.A=B: env names are printable; something else went wrong';
    expect(fieldMessages(detail, ['name', 'at', 'env'])).toEqual({
      byField: { name: 'name must be lower-case letters', at: 'at: "25:00" is not a time of day', env: 'env.A=B: env names are printable' },
      general: ['something else went wrong'],
    });
  });

  it.each<{ name: string; header: string | null; ms: number }>([
    { name: 'seconds', header: '3', ms: 3000 },
    { name: 'no header: the fallback', header: null, ms: 2000 },
    { name: 'zero: at least a second', header: '0', ms: 1000 },
    { name: 'an hour: at most a minute', header: '3600', ms: 60_000 },
    { name: 'an HTTP date 5 s ahead', header: new Date(NOW + 5000).toUTCString(), ms: 5000 },
    { name: 'nonsense: the fallback', header: 'soon', ms: 2000 },
  ])('waits as Retry-After says: $name', ({ header, ms }) => {
    expect(retryAfterMs(header, NOW)).toBe(ms);
  });

  it.each<{ warning: unknown; text: string }>([
    { warning: 'labelled but not suspended', text: 'labelled but not suspended' },
    { warning: { reason: 'InvalidSchedule', message: 'six fields' }, text: 'InvalidSchedule: six fields' },
    { warning: { message: 'only a message' }, text: 'only a message' },
  ])('shows warning $warning as "$text"', ({ warning, text }) => {
    expect(warningText(warning)).toBe(text);
  });

  it.each([
    ['Success', 'ok'],
    ['Failed', 'bad'],
    ['Running', 'busy'],
    ['Starting', 'busy'],
    ['Cancelled', 'plain'],
    [undefined, 'plain'],
  ] as const)('a %s run looks %s', (status, tone) => {
    expect(statusTone(status)).toBe(tone);
  });

  it('formats instants in the zone asked for, and says how far they are', () => {
    expect(formatInstant('2026-12-01T01:30:00Z', 'Europe/Amsterdam')).toContain('02:30');
    expect(formatInstant(null)).toBe('—');
    expect(relative('2026-12-01T12:05:00Z', NOW)).toBe('in 5 min');
    expect(relative('2026-12-01T09:00:00Z', NOW)).toBe('3 h ago');
  });

  it.each([
    ['2026-12-02T02:30:00+01:00', 'Wed 2 Dec 2026, 02:30 (+01:00)'],
    ['2026-03-29T03:00:00+02:00', 'Sun 29 Mar 2026, 03:00 (+02:00)'],
    ['2026-12-02T01:30:00Z', 'Wed 2 Dec 2026, 01:30 (UTC)'],
    ['not a time', 'not a time'],
  ])('shows the wall-clock time %s as "%s", whatever the browser\'s zone', (local, text) => {
    expect(readableLocal(local)).toBe(text);
  });
});
