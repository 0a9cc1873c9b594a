import { describe, expect, it } from 'vitest';
import type { z } from 'zod';

import {
  clusterAliasSchema,
  cronJobNameParamSchema,
  envOverridesSchema,
  idempotencyKeySchema,
  jobNameParamSchema,
  namespaceParamSchema,
  objectNameParamSchema,
  runIdParamSchema,
} from '../../src/api/schemas.js';
import { loadConfig } from '../../src/config.js';
import { parseEnvOverrides } from '../../src/core/clone.js';
import { assertIdempotencyKey, assertNamespace, assertObjectName, isDnsLabel, isRunId, MAX_CRONJOB_NAME } from '../../src/core/naming.js';

/**
 * The parameter schemas the document gives are the handlers' own checks written as JSON Schema: for each, a
 * table of values the schema and the check must agree on, so what a fuzzer generates from the document as valid
 * the handler takes, and what it generates as invalid the handler refuses.
 */
const NAMES = [
  '',
  'a',
  '0',
  'nightly',
  'a-b',
  'a--b',
  '-a',
  'a-',
  'A',
  'a.b',
  'a..b',
  '.a',
  'a_b',
  'a b',
  'a/b',
  'é',
  'x'.repeat(52),
  'x'.repeat(53),
  'x'.repeat(63),
  'x'.repeat(64),
  'x'.repeat(253),
  'x'.repeat(254),
  `${'x.'.repeat(126)}x`,
  'nightly-abcdefghij',
  'nightly-1234567',
  'a-12345678',
  'a--12345678',
  '-12345678',
  'report-29347200',
  'run-ABCDEFGH',
];

const accepts = (check: (value: string) => void) => (value: string) => {
  try {
    check(value);
    return true;
  } catch {
    return false;
  }
};

function disagreements(schema: z.ZodType, check: (value: string) => boolean, values: readonly string[]): string[] {
  return values.filter((value) => schema.safeParse(value).success !== check(value)).map((value) => JSON.stringify(value));
}

describe('path parameter schemas agree with the handlers', () => {
  it.each<{ name: string; schema: z.ZodType; check: (value: string) => boolean }>([
    { name: 'namespace: assertNamespace', schema: namespaceParamSchema, check: accepts(assertNamespace) },
    { name: 'Job or CronJob to run: assertObjectName', schema: objectNameParamSchema, check: accepts((v) => { assertObjectName('Job', v); }) },
    { name: 'CronJob to manage: assertObjectName with 52', schema: cronJobNameParamSchema, check: accepts((v) => { assertObjectName('CronJob', v, MAX_CRONJOB_NAME); }) },
    { name: 'run id of the status and cancel routes: isRunId', schema: runIdParamSchema, check: isRunId },
    { name: 'Job name of the logs route: isDnsLabel', schema: jobNameParamSchema, check: isDnsLabel },
  ])('$name', ({ schema, check }) => {
    expect(NAMES.filter((v) => check(v)).length).toBeGreaterThan(2);
    expect(disagreements(schema, check, NAMES)).toEqual([]);
  });
});

describe('query and header schemas agree with the handlers', () => {
  it('idempotency key: assertIdempotencyKey', () => {
    const keys = ['', 'k', 'order-42', 'a b', 'é', 'x'.repeat(200), 'x'.repeat(201), '!~', '\t'];
    expect(disagreements(idempotencyKeySchema, accepts(assertIdempotencyKey), keys)).toEqual([]);
  });

  it('cluster alias: what CLUSTERS takes as an alias', () => {
    const configAccepts = (alias: string) =>
      accepts(() => loadConfig({ CLUSTERS: JSON.stringify([{ alias, type: 'kubeconfig', kubeconfigPath: '/x', namespaces: ['batch'] }]) }))(alias);
    const aliases = ['dev', 'Prod_1', 'a.b-c', '-dev', '', 'x'.repeat(63), 'x'.repeat(64), 'a b', 'a/b'];
    expect(disagreements(clusterAliasSchema, configAccepts, aliases)).toEqual([]);
  });
});

describe('the run body schema agrees with parseEnvOverrides', () => {
  it.each<{ name: string; body: unknown }>([
    { name: 'strings', body: { DAY: 'monday' } },
    { name: 'numbers and booleans', body: { ROWS: 42, DRY: true } },
    { name: 'an empty object', body: {} },
    { name: 'a null value', body: { DAY: null } },
    { name: 'an object value', body: { DAY: { a: 1 } } },
    { name: 'an array value', body: { DAY: ['a'] } },
    { name: 'a name with =', body: { 'A=B': 'x' } },
    { name: 'a name with a line break', body: { 'A\nB': 'x' } },
    { name: 'a name of 256 characters', body: { ['N'.repeat(256)]: 'x' } },
    { name: 'a name of 257 characters', body: { ['N'.repeat(257)]: 'x' } },
    { name: 'an array', body: [] },
    { name: 'a string', body: 'DAY=monday' },
    { name: 'null', body: null },
  ])('$name', ({ body }) => {
    expect(envOverridesSchema.safeParse(body).success).toBe(accepts(() => parseEnvOverrides(body))(''));
  });
});
