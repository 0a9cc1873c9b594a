import { describe, expect, it } from 'vitest';

import { COMPONENT_SCHEMAS } from '../../src/api/routes.js';
import { createCronJobSchema, parseBody, updateCronJobSchema } from '../../src/core/cronjob-bodies.js';

/**
 * The cross-field rules the CronJob bodies' superRefine checks, as the document states them in JSON Schema,
 * against parseBody itself: for bodies whose fields are each valid, the document's rules hold exactly when
 * parseBody takes the body. (The rules the document leaves to the 400, such as httpCall with container, are
 * not in these tables.)
 */
type Body = Record<string, unknown>;

/** The JSON Schema keywords the constraints use, evaluated on an object's keys. */
function satisfies(body: Body, schema: Record<string, unknown>): boolean {
  const has = (key: string) => Object.hasOwn(body, key);
  const required = schema.required as string[] | undefined;
  if (required && !required.every(has)) return false;
  const allOf = schema.allOf as Record<string, unknown>[] | undefined;
  if (allOf && !allOf.every((s) => satisfies(body, s))) return false;
  const oneOf = schema.oneOf as Record<string, unknown>[] | undefined;
  if (oneOf && oneOf.filter((s) => satisfies(body, s)).length !== 1) return false;
  const not = schema.not as Record<string, unknown> | undefined;
  if (not && satisfies(body, not)) return false;
  const dependent = schema.dependentRequired as Record<string, string[]> | undefined;
  if (dependent && !Object.entries(dependent).every(([key, needs]) => !has(key) || needs.every(has))) return false;
  return true;
}

const accepts = (parse: () => unknown) => {
  try {
    parse();
    return true;
  } catch {
    return false;
  }
};

const httpCall = { url: 'https://x.example/api/report', method: 'POST' };

describe('the create body: the document rules against parseBody', () => {
  it.each<{ name: string; body: Body }>([
    { name: 'from a Deployment, on a schedule', body: { name: 'r', fromDeployment: 'web', schedule: '@daily' } },
    { name: 'an HTTP call, on a preset', body: { name: 'r', httpCall, preset: 'hourly' } },
    { name: 'a preset with its time', body: { name: 'r', fromDeployment: 'web', preset: 'daily', at: '02:30' } },
    { name: 'a weekly preset with its day', body: { name: 'r', fromDeployment: 'web', preset: 'weekly', weekday: 'monday' } },
    { name: 'both sources', body: { name: 'r', fromDeployment: 'web', httpCall, schedule: '@daily' } },
    { name: 'no source', body: { name: 'r', schedule: '@daily' } },
    { name: 'both a schedule and a preset', body: { name: 'r', fromDeployment: 'web', schedule: '@daily', preset: 'daily' } },
    { name: 'no schedule at all', body: { name: 'r', fromDeployment: 'web' } },
    { name: 'a time without a preset', body: { name: 'r', fromDeployment: 'web', schedule: '@daily', at: '02:30' } },
    { name: 'a weekday without a preset', body: { name: 'r', fromDeployment: 'web', schedule: '@daily', weekday: 'monday' } },
    { name: 'a day without a preset', body: { name: 'r', fromDeployment: 'web', schedule: '@daily', day: 3 } },
  ])('$name', ({ body }) => {
    expect(satisfies(body, COMPONENT_SCHEMAS.CreateCronJob.constraints)).toBe(accepts(() => parseBody(createCronJobSchema(), body)));
  });
});

describe('the update body: the document rules against parseBody', () => {
  it.each<{ name: string; body: Body }>([
    { name: 'nothing', body: {} },
    { name: 'a schedule', body: { schedule: '@hourly' } },
    { name: 'a preset with its time', body: { preset: 'daily', at: '04:00' } },
    { name: 'both a schedule and a preset', body: { schedule: '@hourly', preset: 'daily' } },
    { name: 'a time without a preset', body: { at: '04:00' } },
    { name: 'a weekday without a preset', body: { weekday: 'friday' } },
  ])('$name', ({ body }) => {
    expect(satisfies(body, COMPONENT_SCHEMAS.UpdateCronJob.constraints)).toBe(accepts(() => parseBody(updateCronJobSchema(), body)));
  });
});
