import { describe, expect, it, vi } from 'vitest';

import { BadRequestError } from '../../src/core/errors.js';
import {
  assertIdempotencyKey,
  assertNamespace,
  assertObjectName,
  INDEX_SUFFIX_ROOM,
  isRunId,
  keyedSuffix,
  labelValue,
  MAX_CRONJOB_NAME,
  MAX_RUN_ID,
  randomSuffix,
  runIdFor,
  type RunNameInput,
  scheduledRunName,
} from '../../src/core/naming.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const FRESH = 'abcdefghij';
const fresh = () => FRESH;

function input(overrides: Partial<RunNameInput> = {}): RunNameInput {
  return { cluster: 'dev', namespace: 'batch', sourceKind: 'Job', sourceName: 'nightly', ...overrides };
}

describe('runIdFor', () => {
  const cases: { name: string; sourceName: string; expected: string }[] = [
    { name: 'a one-character name is kept', sourceName: 'a', expected: `a-${FRESH}` },
    { name: 'a 41-character name is kept whole (41 + "-" + 10 = 52)', sourceName: 'b'.repeat(41), expected: `${'b'.repeat(41)}-${FRESH}` },
    { name: 'a 42-character name is cut to 41', sourceName: 'c'.repeat(42), expected: `${'c'.repeat(41)}-${FRESH}` },
    { name: 'a 63-character name is cut to 41', sourceName: 'd'.repeat(63), expected: `${'d'.repeat(41)}-${FRESH}` },
    {
      name: 'a 253-character dotted name has its dots replaced and is cut to 41',
      sourceName: `${'ab.'.repeat(84)}a`,
      expected: `${'ab-'.repeat(13)}ab-${FRESH}`,
    },
    { name: 'upper case is lowered', sourceName: 'NightlyReport', expected: `nightlyreport-${FRESH}` },
    { name: 'underscores become hyphens', sourceName: 'nightly_report_v2', expected: `nightly-report-v2-${FRESH}` },
    {
      name: 'a hyphen left at the cut is dropped so the label ends in an alphanumeric',
      sourceName: `${'e'.repeat(40)}_tail`,
      expected: `${'e'.repeat(40)}-${FRESH}`,
    },
    { name: 'a name with no usable character becomes "run"', sourceName: '___', expected: `run-${FRESH}` },
  ];

  it.each(cases)('$name', ({ sourceName, expected }) => {
    const id = runIdFor(input({ sourceName }), fresh);
    expect(id).toBe(expected);
    expect(id.length).toBeLessThanOrEqual(MAX_RUN_ID);
    expect(id).toMatch(DNS_LABEL);
  });

  // The API server's rule for Indexed Jobs (v1.34 ValidateJob): `<name>-<completions - 1>` must be a DNS label.
  const indexed: { name: string; length: number; completions: number }[] = [
    { name: 'a 51-character name with 10 completions', length: 51, completions: 10 },
    { name: 'a 55-character name with 3 completions', length: 55, completions: 3 },
    { name: 'a 61-character name with 2 completions', length: 61, completions: 2 },
    { name: 'a 63-character name with 100000 completions', length: 63, completions: 100_000 },
    { name: 'a 63-character name with the largest completions an int32 holds', length: 63, completions: 2 ** 31 - 1 },
    { name: 'a 253-character name with the largest completions', length: 253, completions: 2 ** 31 - 1 },
  ];

  it.each(indexed)('leaves room for the last pod hostname of an Indexed Job: $name', ({ length, completions }) => {
    for (const key of [undefined, 'order-42']) {
      const id = runIdFor(input({ sourceName: 'x'.repeat(length), idempotencyKey: key }), fresh);
      const lastHostname = `${id}-${completions - 1}`;
      expect(lastHostname.length).toBeLessThanOrEqual(63);
      expect(lastHostname).toMatch(DNS_LABEL);
    }
  });

  it('the room left is exactly the longest index suffix: "-2147483646"', () => {
    expect(INDEX_SUFFIX_ROOM).toBe('-2147483646'.length);
    expect(MAX_RUN_ID + INDEX_SUFFIX_ROOM).toBe(63);
  });

  it('without a key the injected fresh suffix is used, once per call', () => {
    const next = vi.fn<() => string>().mockReturnValueOnce('0000000001').mockReturnValueOnce('0000000002');
    expect(runIdFor(input(), next)).toBe('nightly-0000000001');
    expect(runIdFor(input(), next)).toBe('nightly-0000000002');
    expect(next).toHaveBeenCalledTimes(2);
  });

  it('with a key the fresh suffix is never asked for', () => {
    const next = vi.fn(fresh);
    runIdFor(input({ idempotencyKey: 'order-42' }), next);
    expect(next).not.toHaveBeenCalled();
  });

  it('the same (cluster, namespace, kind, name, key) always gives the same run id', () => {
    const keyed = input({ idempotencyKey: 'order-42' });
    expect(runIdFor(keyed)).toBe(runIdFor({ ...keyed }));
  });

  // Pinned: a change of the hash would give a retry after a deployment a new run id, i.e. a second Job.
  it('the keyed run id is stable across releases', () => {
    expect(runIdFor(input({ idempotencyKey: 'order-42' }))).toBe('nightly-5ggc0r4l84');
  });

  const variations: { name: string; change: Partial<RunNameInput> }[] = [
    { name: 'cluster', change: { cluster: 'prod' } },
    { name: 'namespace', change: { namespace: 'reports' } },
    { name: 'source kind', change: { sourceKind: 'CronJob' } },
    { name: 'source name', change: { sourceName: 'nightly2' } },
    { name: 'idempotency key', change: { idempotencyKey: 'order-43' } },
  ];

  it.each(variations)('a different $name gives a different keyed suffix', ({ change }) => {
    const keyed = { ...input(), idempotencyKey: 'order-42' };
    const changed = { ...keyed, ...change };
    expect(keyedSuffix(changed)).not.toBe(keyedSuffix(keyed));
  });

  it('two source names that map to the same base still get different keyed run ids', () => {
    const a = runIdFor(input({ sourceName: 'my.job', idempotencyKey: 'k' }));
    const b = runIdFor(input({ sourceName: 'my-job', idempotencyKey: 'k' }));
    expect(a.startsWith('my-job-')).toBe(true);
    expect(b.startsWith('my-job-')).toBe(true);
    expect(a).not.toBe(b);
  });

  it('a keyed suffix is 10 base-36 characters', () => {
    expect(keyedSuffix({ ...input(), idempotencyKey: 'order-42' })).toMatch(/^[a-z0-9]{10}$/);
  });

  it('a random suffix is 10 base-36 characters', () => {
    expect(randomSuffix()).toMatch(/^[a-z0-9]{10}$/);
  });

  const badKeys: { name: string; key: string }[] = [
    { name: 'empty', key: '' },
    { name: 'longer than 200 characters', key: 'k'.repeat(201) },
    { name: 'with a space', key: 'order 42' },
    { name: 'with a tab', key: 'order\t42' },
    { name: 'with non-ASCII characters', key: 'commande-42-é' },
  ];

  it.each(badKeys)('an idempotency key that is $name is a BadRequestError', ({ key }) => {
    expect(() => runIdFor(input({ idempotencyKey: key }), fresh)).toThrow(BadRequestError);
    expect(() => {
      assertIdempotencyKey(key);
    }).toThrow('the idempotency key must be 1 to 200 visible ASCII characters without spaces');
  });

  it.each([
    { name: 'exactly 200 characters', key: 'k'.repeat(200) },
    { name: 'a UUID', key: '6f1c2b1e-0f5e-4d0a-9a77-3c1d2e4f5a6b' },
    { name: 'punctuation', key: '!~#$%&()*+,./:;<=>?@[]^_{|}' },
  ])('an idempotency key of $name is accepted', ({ key }) => {
    expect(runIdFor(input({ idempotencyKey: key }))).toMatch(/^nightly-[a-z0-9]{10}$/);
  });
});

describe('isRunId', () => {
  it.each([
    { value: `nightly-${FRESH}`, expected: true },
    { value: `a-${FRESH}`, expected: true },
    { value: scheduledRunName('a', new Date('2026-11-23T10:00:00Z')), expected: true },
    { value: FRESH, expected: false },
    { value: 'x'.repeat(64), expected: false },
    { value: `Nightly-${FRESH}`, expected: false },
  ])('"$value" is a run id: $expected', ({ value, expected }) => {
    expect(isRunId(value)).toBe(expected);
  });
});

describe('assertObjectName', () => {
  it.each([
    { name: 'a simple name', value: 'nightly' },
    { name: 'one character', value: 'a' },
    { name: 'dots and hyphens', value: 'team.nightly-report' },
    { name: 'a leading digit', value: '0nightly' },
    { name: '253 characters', value: 'a'.repeat(253) },
  ])('accepts $name', ({ value }) => {
    expect(() => {
      assertObjectName('Job', value);
    }).not.toThrow();
  });

  it.each([
    { name: 'an empty name', value: '' },
    { name: 'upper case', value: 'Nightly' },
    { name: 'a leading hyphen', value: '-nightly' },
    { name: 'a trailing hyphen', value: 'nightly-' },
    { name: 'a leading dot', value: '.nightly' },
    { name: 'two dots in a row', value: 'team..nightly' },
    { name: 'an underscore', value: 'nightly_report' },
    { name: 'a space', value: 'nightly report' },
    { name: '254 characters', value: 'a'.repeat(254) },
  ])('rejects $name with a BadRequestError naming the object', ({ value }) => {
    expect(() => {
      assertObjectName('Job', value);
    }).toThrow(BadRequestError);
    expect(() => {
      assertObjectName('Job', value);
    }).toThrow(`Job "${value}" is not a valid Kubernetes name`);
  });

  it('honours a smaller maximum, as for CronJob names', () => {
    expect(() => {
      assertObjectName('CronJob', 'c'.repeat(MAX_CRONJOB_NAME), MAX_CRONJOB_NAME);
    }).not.toThrow();
    expect(() => {
      assertObjectName('CronJob', 'c'.repeat(MAX_CRONJOB_NAME + 1), MAX_CRONJOB_NAME);
    }).toThrow('at most 52 characters');
  });
});

describe('assertNamespace', () => {
  it.each([
    { name: 'a simple name', value: 'batch' },
    { name: 'a hyphenated name', value: 'kube-system' },
    { name: '63 characters', value: 'n'.repeat(63) },
  ])('accepts $name', ({ value }) => {
    expect(() => {
      assertNamespace(value);
    }).not.toThrow();
  });

  it.each([
    { name: 'an empty name', value: '' },
    { name: '64 characters', value: 'n'.repeat(64) },
    { name: 'a dot (a subdomain, not a label)', value: 'team.batch' },
    { name: 'upper case', value: 'Batch' },
    { name: 'a leading hyphen', value: '-batch' },
    { name: 'an underscore', value: 'batch_jobs' },
  ])('rejects $name with a BadRequestError', ({ value }) => {
    expect(() => {
      assertNamespace(value);
    }).toThrow(BadRequestError);
    expect(() => {
      assertNamespace(value);
    }).toThrow(`namespace "${value}" is not a valid namespace name`);
  });
});

describe('scheduledRunName', () => {
  it.each([
    { name: 'the top of an hour', at: '2026-11-23T10:00:00Z', expected: 'every-minute-29923800' },
    { name: 'the instant the CronJob controller named every-minute-29923598', at: '2026-11-23T06:38:00Z', expected: 'every-minute-29923598' },
    { name: 'seconds within the minute are dropped', at: '2026-11-23T10:00:59.999Z', expected: 'every-minute-29923800' },
  ])('names a run at $name <cronjob>-<unix minutes>', ({ at, expected }) => {
    expect(scheduledRunName('every-minute', new Date(at))).toBe(expected);
  });

  it('a 52-character CronJob name still gives a DNS label', () => {
    const name = scheduledRunName('c'.repeat(MAX_CRONJOB_NAME), new Date('2026-11-23T10:00:00Z'));
    expect(name).toBe(`${'c'.repeat(52)}-29923800`);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(DNS_LABEL);
  });
});

describe('labelValue', () => {
  it.each([
    { name: 'a valid value is kept', value: 'Nightly_Report.v2', expected: 'Nightly_Report.v2' },
    { name: 'spaces and other characters become hyphens', value: 'nightly report/v2', expected: 'nightly-report-v2' },
    { name: 'non-alphanumeric ends are trimmed', value: '-_.nightly!', expected: 'nightly' },
    { name: 'a long value is cut to 63', value: 'v'.repeat(70), expected: 'v'.repeat(63) },
    { name: 'a cut that ends in a dot is trimmed', value: `${'v'.repeat(62)}.tail`, expected: 'v'.repeat(62) },
    { name: 'an empty value stays empty', value: '', expected: '' },
  ])('$name', ({ value, expected }) => {
    expect(labelValue(value)).toBe(expected);
  });
});
