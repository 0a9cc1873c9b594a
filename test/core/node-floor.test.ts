import { describe, expect, it } from 'vitest';

import { atLeast, NODE_FLOOR, nodeFloorProblem } from '../../src/core/node-floor.js';

describe('the Node.js floor', () => {
  it.each([
    { name: 'the floor itself', version: NODE_FLOOR, ok: true },
    { name: 'with the v of process.version', version: `v${NODE_FLOOR}`, ok: true },
    { name: 'a later patch', version: '22.19.1', ok: true },
    { name: 'a later minor', version: '22.23.3', ok: true },
    { name: 'a later major', version: '24.0.0', ok: true },
    { name: 'a later major with a smaller minor', version: '23.1.0', ok: true },
    { name: 'the release undici cannot even load on', version: '22.12.0', ok: false },
    { name: 'the first with zlib zstd, still under undici\'s engines', version: '22.15.0', ok: false },
    { name: 'the patch just before', version: '22.18.9', ok: false },
    { name: 'an older major with a larger minor', version: '20.99.0', ok: false },
    { name: 'not a version', version: 'x', ok: false },
  ])('$name ($version): $ok', ({ version, ok }) => {
    expect(atLeast(version)).toBe(ok);
    expect(nodeFloorProblem(version) === undefined).toBe(ok);
  });

  it('says which release is needed, which one runs, and what to do', () => {
    const problem = nodeFloorProblem('v22.12.0') ?? '';
    expect(problem).toContain(`needs Node.js ${NODE_FLOOR} or later, but this worker runs Node.js 22.12.0`);
    expect(problem).toMatch(/restart the app once the platform offers a newer 22\.x/);
  });
});
