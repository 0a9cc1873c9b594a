import { describe, expect, it } from 'vitest';

import { type RunSnapshot, snapshotOf } from '../../src/core/run.js';
import { LastLooks } from '../../src/runs/poll-changes.js';

const ref = { runId: 'report-abc12', cluster: 'local', namespace: 'batch', source: { kind: 'Job' as const, name: 'report' } };
const at = (s: number) => new Date(Date.UTC(2026, 11, 7, 4, 0, s));
const look = (fields: Partial<RunSnapshot> & Pick<RunSnapshot, 'status'>, s: number) => snapshotOf(ref, { reason: 'Observed', message: '', ...fields }, at(s));

describe('LastLooks', () => {
  it('keeps the first look, each change and the verdict, not a look that saw what the last one did', () => {
    const looks = new LastLooks();
    const seen = [
      look({ status: 'Starting' }, 0),
      look({ status: 'Starting' }, 2), // only observedAt moved
      look({ status: 'Running', pods: { active: 1, ready: 0, succeeded: 0, failed: 0 } }, 4),
      look({ status: 'Running', pods: { active: 1, ready: 1, succeeded: 0, failed: 0 } }, 6),
      look({ status: 'Running', pods: { active: 1, ready: 1, succeeded: 0, failed: 0 } }, 8),
      look({ status: 'Success', reason: 'Complete' }, 10),
    ].map((snapshot) => looks.changed(ref.runId, snapshot));
    expect(seen).toEqual([true, false, true, true, false, true]);
    // The verdict ends its polling: nothing is kept of the run.
    expect(looks.size).toBe(0);
  });

  it('tells runs apart and forgets the runs that changed least recently first', () => {
    const looks = new LastLooks(2);
    const running = (runId: string) => ({ ...look({ status: 'Running' }, 0), runId });
    expect(looks.changed('a', running('a'))).toBe(true);
    expect(looks.changed('b', running('b'))).toBe(true);
    expect(looks.changed('a', running('a'))).toBe(false);
    expect(looks.changed('c', running('c'))).toBe(true);
    expect(looks.size).toBe(2);
    // 'a' changed least recently: forgotten, so its next look counts as a first one.
    expect(looks.changed('a', running('a'))).toBe(true);
    expect(looks.changed('c', running('c'))).toBe(false);
  });
});
