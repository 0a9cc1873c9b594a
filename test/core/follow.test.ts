import { describe, expect, it } from 'vitest';

import {
  continueLine,
  decodeFollowCursor,
  encodeFollowCursor,
  FOLLOW_LINE_PREFIX,
  type FollowCursor,
  FollowFilter,
  HOST_HTTP_LIMIT_SECONDS,
  LineSplitter,
  MAX_FOLLOW_SEGMENT_SECONDS,
  sinceTimeOf,
  splitStamp,
  timestampKey,
} from '../../src/core/follow.js';

const start: FollowCursor = { p: 'nightly-abc12', c: 'main', r: 0, t: '', n: 0, l: 0 };

function feed(filter: FollowFilter, lines: string[]): string[] {
  return lines.flatMap((line) => {
    const text = filter.accept(splitStamp(line));
    return text === undefined ? [] : [text];
  });
}

describe('follow cursors', () => {
  it('round-trips through the since parameter', () => {
    const cursor = { ...start, r: 2, t: '2026-12-07T02:00:01.5Z', n: 3, l: 120 };
    expect(decodeFollowCursor(encodeFollowCursor(cursor))).toEqual(cursor);
    expect(continueLine(cursor)).toBe(`${FOLLOW_LINE_PREFIX}continue since=${encodeFollowCursor(cursor)}`);
    expect(continueLine(undefined)).toBe(`${FOLLOW_LINE_PREFIX}continue`);
  });

  it.each([
    { name: 'not base64url', raw: 'a b' },
    { name: 'not JSON', raw: Buffer.from('nope').toString('base64url') },
    { name: 'a pod name that is no DNS name', raw: encodeFollowCursor({ ...start, p: 'Evil/../x' }) },
    { name: 'a negative restart count', raw: encodeFollowCursor({ ...start, r: -1 }) },
    { name: 'a timestamp that is no RFC 3339', raw: encodeFollowCursor({ ...start, t: 'yesterday' }) },
    { name: 'an extra property', raw: Buffer.from(JSON.stringify({ ...start, x: 1 })).toString('base64url') },
    { name: 'far too long', raw: 'A'.repeat(3000) },
  ])('refuses $name with a 400 that says where cursors come from', ({ raw }) => {
    expect(() => decodeFollowCursor(raw)).toThrow(expect.objectContaining({ status: 400, message: expect.stringContaining('continue since=<cursor>') as unknown }));
  });

  it('a segment ends well before the host cuts the response', () => {
    expect(MAX_FOLLOW_SEGMENT_SECONDS).toBeLessThan(HOST_HTTP_LIMIT_SECONDS - 20);
  });
});

describe('kubelet timestamps', () => {
  it('sort as the instants do, however many fraction digits RFC 3339 Nano kept', () => {
    const stamps = ['2026-12-07T02:00:01Z', '2026-12-07T02:00:01.05Z', '2026-12-07T02:00:01.5Z', '2026-12-07T02:00:01.500000001Z', '2026-12-07T03:00:02.2+01:00'];
    expect(stamps.map(timestampKey)).toEqual([...stamps.map(timestampKey)].sort());
    expect(timestampKey('2026-12-07T03:00:01.2+01:00')).toBe(timestampKey('2026-12-07T02:00:01.200Z'));
  });

  it('sinceTime is the whole second a cursor falls in (the API server passes whole seconds to the kubelet)', () => {
    expect(sinceTimeOf('2026-12-07T02:00:01.987654321Z')).toBe('2026-12-07T02:00:01Z');
    expect(sinceTimeOf('')).toBeUndefined();
  });

  it('a line splits into its stamp and its text, spaces in the text kept', () => {
    expect(splitStamp('2026-12-07T02:00:01.5Z line  one ')).toEqual({ stamp: '2026-12-07T02:00:01.5Z', text: 'line  one ' });
    expect(splitStamp('no stamp here')).toEqual({ stamp: '', text: 'no stamp here' });
  });
});

describe('LineSplitter', () => {
  it('keeps a line and a UTF-8 character split across chunks whole', () => {
    const splitter = new LineSplitter();
    const bytes = Buffer.from('one\ntwo é\nthr', 'utf8');
    const cut = bytes.indexOf(0xa9); // the second byte of é
    expect(splitter.push(bytes.subarray(0, cut))).toEqual(['one']);
    expect(splitter.push(bytes.subarray(cut))).toEqual(['two é']);
    expect(splitter.end()).toEqual(['thr']);
  });
});

describe('FollowFilter', () => {
  const lines = ['2026-12-07T02:00:00.1Z a', '2026-12-07T02:00:01.5Z b', '2026-12-07T02:00:01.5Z c', '2026-12-07T02:00:01.5Z d', '2026-12-07T02:00:02Z e'];

  it('from the start sends every line and counts them', () => {
    const filter = new FollowFilter(start);
    expect(feed(filter, lines)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(filter.position).toMatchObject({ t: '2026-12-07T02:00:02Z', n: 1, l: 5 });
  });

  it('resumed within lines that share one timestamp, sends neither one twice nor one less', () => {
    const first = new FollowFilter(start);
    expect(feed(first, lines.slice(0, 3))).toEqual(['a', 'b', 'c']);
    expect(first.position).toMatchObject({ t: '2026-12-07T02:00:01.5Z', n: 2, l: 3 });
    // The API server hands back the whole second again: a at .1 is older, b and c were sent, d and e are new.
    const again = new FollowFilter(first.position);
    expect(feed(again, lines)).toEqual(['d', 'e']);
    expect(again.position).toMatchObject({ n: 1, l: 5 });
  });
});

describe('FollowFilter resumed mid-instant', () => {
  it('sends every new line of an instant it had sent one of, not only the first', () => {
    const filter = new FollowFilter({ ...start, t: '2026-12-07T02:00:02.5Z', n: 1, l: 4 });
    expect(feed(filter, ['2026-12-07T02:00:02.5Z four', '2026-12-07T02:00:02.5Z five', '2026-12-07T02:00:02.5Z six'])).toEqual(['five', 'six']);
    expect(filter.position).toMatchObject({ n: 3, l: 6 });
  });
});
