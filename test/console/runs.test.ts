import { describe, expect, it } from 'vitest';

import { formatDuration, startedByText,STATUS_FILTERS } from '../../console/src/logic/runs.js';
import { runStatusFilterSchema } from '../../src/api/schemas.js';

describe("the runs page's words", () => {
  it.each([
    [null, '—'],
    [-1, '—'],
    [0, '0 s'],
    [45, '45 s'],
    [60, '1 min'],
    [200, '3 min 20 s'],
    [3600, '1 h'],
    [7500, '2 h 5 min'],
    [86_400, '1 d'],
    [273_600, '3 d 4 h'],
  ] as const)('a duration of %s seconds reads "%s"', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });

  it.each([
    ['http', { kind: 'key' }, 'on request, function key'],
    ['http', { kind: 'entra', appId: 'app-1', objectId: 'obj-1' }, 'on request, app app-1'],
    ['http', { kind: 'unknown' }, 'on request, caller unknown'],
    ['schedule', null, 'app scheduler'],
    ['cluster', null, 'CronJob controller'],
    ['manual', null, 'kubectl'],
  ] as const)('a run started by %s (%j) reads "%s"', (trigger, starter, text) => {
    expect(startedByText(trigger, starter)).toBe(text);
  });

  it('offers exactly the statuses the route takes, each one a filter it accepts', () => {
    expect([...STATUS_FILTERS].sort()).toEqual(['Cancelled', 'Failed', 'Running', 'Starting', 'Success', 'Unknown']);
    for (const status of STATUS_FILTERS) expect(runStatusFilterSchema.safeParse(status).success).toBe(true);
  });
});
