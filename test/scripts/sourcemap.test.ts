import { describe, expect, it } from 'vitest';

import { decodeMappings, decodeVlq, encodeMappings, encodeVlq, keepSources, type SourceMap } from '../../scripts/sourcemap.js';

describe('base64 VLQ', () => {
  it.each([
    { values: [0], text: 'A' },
    { values: [1], text: 'C' },
    { values: [-1], text: 'D' },
    { values: [15], text: 'e' },
    { values: [16], text: 'gB' },
    { values: [-16], text: 'hB' },
    { values: [123456789], text: 'qxmvrH' },
    { values: [0, 0, 16, 1], text: 'AAgBC' },
  ])('$values is $text', ({ values, text }) => {
    expect(encodeVlq(values)).toBe(text);
    expect(decodeVlq(text)).toEqual(values);
  });

  it('refuses a number cut short and a character outside the alphabet', () => {
    expect(() => decodeVlq('g')).toThrow(/cut short/);
    expect(() => decodeVlq('A*')).toThrow(/not a base64 VLQ digit/);
  });
});

describe('mappings', () => {
  it('decode to absolute positions and encode back to the same text', () => {
    // Two lines: three segments (one with a name), an empty line, then one unmapped and one mapped segment.
    const text = 'AAAA,IAAIA,MACA;;A,EAAE';
    const lines = decodeMappings(text);
    expect(lines).toEqual([[[0, 0, 0, 0], [4, 0, 0, 4, 0], [10, 0, 1, 4]], [], [[0], [2, 0, 1, 6]]]);
    expect(encodeMappings(lines)).toBe(text);
  });
});

describe('keeping the app\'s sources only', () => {
  const map: SourceMap = {
    version: 3,
    sources: ['../node_modules/dep/index.js', '../src/app.ts'],
    names: ['depFn', 'appFn'],
    sourcesContent: ['dep', 'app'],
    mappings: encodeMappings([
      // dependency code, then app code, then dependency code again on one generated line (a minified bundle)
      [[0, 0, 0, 0, 0], [100, 1, 5, 2, 1], [140, 1, 6, 0], [200, 0, 9, 0]],
      [[0, 1, 7, 0]],
    ]),
  };
  const kept = keepSources(map, (source) => !source.includes('node_modules/'));

  it('drops the dependency, its names and every source text', () => {
    expect(kept.sources).toEqual(['../src/app.ts']);
    expect(kept.names).toEqual(['appFn']);
    expect(kept).not.toHaveProperty('sourcesContent');
  });

  it('keeps the app\'s segments where they were, and ends them where dependency code begins', () => {
    expect(decodeMappings(kept.mappings)).toEqual([
      // Nothing before column 100 is mapped; from 200 on the code is unmapped again, not the app's line 6.
      [[100, 0, 5, 2, 0], [140, 0, 6, 0], [200]],
      [[0, 0, 7, 0]],
    ]);
  });
});
