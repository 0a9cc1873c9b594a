import { describe, expect, it } from 'vitest';

import { addRow, envProblems, type EnvRow, overridesOf, resetRow, rowsOf, setRow } from '../../console/src/logic/env.js';

describe('console env editing', () => {
  const rows = rowsOf({ MODE: 'full', LIMIT: '10', HIDDEN: null }, ['TOKEN']);

  it('starts from the declared variables, values shown, hidden and Secret ones blank', () => {
    expect(rows).toEqual([
      { name: 'MODE', value: 'full', original: 'full' },
      { name: 'LIMIT', value: '10', original: '10' },
      { name: 'HIDDEN', value: '', original: null },
      { name: 'TOKEN', value: '', original: null },
    ]);
  });

  it.each<{ name: string; rows: EnvRow[]; overrides: Record<string, string> }>([
    { name: 'nothing changed sends nothing', rows, overrides: {} },
    { name: 'a changed value is sent', rows: setRow(rows, 0, { value: 'quick' }), overrides: { MODE: 'quick' } },
    { name: 'a value changed back is not sent', rows: setRow(setRow(rows, 0, { value: 'x' }), 0, { value: 'full' }), overrides: {} },
    { name: 'a declared value emptied is sent as empty', rows: setRow(rows, 1, { value: '' }), overrides: { LIMIT: '' } },
    { name: 'a hidden value given is sent', rows: setRow(rows, 3, { value: 's3cret' }), overrides: { TOKEN: 's3cret' } },
    { name: 'an added row is sent, its name trimmed', rows: setRow(addRow(rows), 4, { name: ' EXTRA ', value: '1' }), overrides: { EXTRA: '1' } },
    { name: 'an added row without a name is not sent', rows: addRow(rows), overrides: {} },
    { name: 'a reset row is not sent', rows: resetRow(setRow(rows, 0, { value: 'quick' }), 0), overrides: {} },
  ])('$name', ({ rows: r, overrides }) => {
    expect(overridesOf(r)).toEqual(overrides);
  });

  it('removes an added row on reset, keeps declared ones', () => {
    const more = setRow(addRow(rows), 4, { name: 'EXTRA', value: '1' });
    expect(resetRow(more, 4)).toEqual(rows);
    expect(resetRow(rows, 0)).toHaveLength(rows.length);
  });

  it.each<{ name: string; rows: EnvRow[]; problems: [number, RegExp][] }>([
    { name: 'declared rows are fine', rows, problems: [] },
    { name: "a name with '=' is refused", rows: setRow(addRow(rows), 4, { name: 'A=B', value: '1' }), problems: [[4, /not an env name/]] },
    { name: 'a name given twice is refused at the second', rows: setRow(addRow(rows), 4, { name: 'MODE', value: 'x' }), problems: [[4, /twice/]] },
    { name: 'a value without a name asks for one', rows: setRow(addRow(rows), 4, { value: 'x' }), problems: [[4, /name/]] },
    { name: 'an empty added row is no problem', rows: addRow(rows), problems: [] },
  ])('$name', ({ rows: r, problems }) => {
    const found = envProblems(r);
    expect([...found.keys()]).toEqual(problems.map(([i]) => i));
    for (const [i, message] of problems) expect(found.get(i)).toMatch(message);
  });
});
