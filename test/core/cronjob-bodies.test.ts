import { describe, expect, it } from 'vitest';

import { createCronJobSchema, parseBody, updateCronJobSchema } from '../../src/core/cronjob-bodies.js';
import { BadRequestError } from '../../src/core/errors.js';

const base = { name: 'nightly', fromDeployment: 'web', schedule: '30 2 * * *' };

function refusal(schema: ReturnType<typeof createCronJobSchema> | ReturnType<typeof updateCronJobSchema>, body: unknown): string {
  try {
    parseBody(schema, body);
  } catch (err) {
    if (err instanceof BadRequestError) return err.message;
    throw err;
  }
  throw new Error('the body was accepted');
}

describe('the create body', () => {
  it('accepts a minimal body and stringifies env values', () => {
    expect(parseBody(createCronJobSchema(), { ...base, env: { DAY: 'yesterday', LIMIT: 5, DRY: false } })).toEqual({
      ...base,
      env: { DAY: 'yesterday', LIMIT: '5', DRY: 'false' },
    });
  });

  it('accepts a preset and an httpCall', () => {
    expect(parseBody(createCronJobSchema(), { name: 'call', httpCall: { url: 'https://x.example/api/a', method: 'POST' }, preset: 'weekly', weekday: 'friday', at: '06:00' })).toMatchObject({
      preset: 'weekly',
      weekday: 'friday',
    });
  });

  it.each([
    { name: 'no body', body: undefined, says: 'the request body must be a JSON object describing the CronJob' },
    { name: 'an array', body: [base], says: 'the request body must be a JSON object' },
    { name: 'no name', body: { fromDeployment: 'web', schedule: '* * * * *' }, says: 'name is required' },
    { name: 'a name with dots', body: { ...base, name: 'nightly.report' }, says: "name must be lower-case letters, digits and '-'" },
    { name: 'a name with capitals', body: { ...base, name: 'Nightly' }, says: 'name must be lower-case' },
    { name: 'a 53-character name', body: { ...base, name: 'a'.repeat(53) }, says: 'name has at most 52 characters' },
    { name: 'a misspelt field', body: { ...base, scedule: '* * * * *' }, says: 'unknown field "scedule" (check its spelling)' },
    { name: 'neither a Deployment nor an httpCall', body: { name: 'x', schedule: '* * * * *' }, says: 'fromDeployment: send exactly one of fromDeployment' },
    { name: 'both a Deployment and an httpCall', body: { ...base, httpCall: { url: 'https://x.example/', method: 'GET' } }, says: 'send exactly one of fromDeployment' },
    { name: 'neither schedule nor preset', body: { name: 'x', fromDeployment: 'web' }, says: 'schedule: send exactly one of schedule' },
    { name: 'both schedule and preset', body: { ...base, preset: 'daily' }, says: 'send exactly one of schedule' },
    { name: 'at without a preset', body: { ...base, at: '02:30' }, says: 'at goes with a preset' },
    { name: 'an unknown preset', body: { name: 'x', fromDeployment: 'web', preset: 'yearly' }, says: 'preset must be one of hourly, daily, weekly, monthly' },
    { name: 'an unknown weekday', body: { name: 'x', fromDeployment: 'web', preset: 'weekly', weekday: 'mon' }, says: 'weekday must be one of sunday, monday' },
    { name: 'a command that is a string', body: { ...base, command: 'echo hi' }, says: 'command must be an array of strings' },
    { name: 'an env name with "="', body: { ...base, env: { 'A=B': 'x' } }, says: "env.A=B: env names are printable ASCII characters other than '='" },
    { name: 'an env value that is an object', body: { ...base, env: { DAY: { d: 1 } } }, says: 'env.DAY: env values must be strings, numbers or booleans' },
    { name: 'a null env value', body: { ...base, env: { DAY: null } }, says: 'env.DAY: env values must be strings' },
    { name: 'a lower-case concurrency policy', body: { ...base, concurrencyPolicy: 'forbid' }, says: 'concurrencyPolicy must be one of Allow, Forbid, Replace' },
    { name: 'restartPolicy Always', body: { ...base, restartPolicy: 'Always' }, says: 'restartPolicy must be OnFailure or Never' },
    { name: 'an unknown scheduler', body: { ...base, scheduler: 'cron' }, says: 'scheduler must be "cluster"' },
    { name: 'a negative backoffLimit', body: { ...base, backoffLimit: -1 }, says: 'backoffLimit must be at least 0' },
    { name: 'a zero activeDeadlineSeconds', body: { ...base, activeDeadlineSeconds: 0 }, says: 'activeDeadlineSeconds must be at least 1' },
    { name: 'a fractional startingDeadlineSeconds', body: { ...base, startingDeadlineSeconds: 1.5 }, says: 'startingDeadlineSeconds must be a whole number' },
    { name: 'a history limit as a string', body: { ...base, successfulJobsHistoryLimit: '3' }, says: 'successfulJobsHistoryLimit must be a whole number' },
    { name: 'suspend false for the app scheduler', body: { ...base, scheduler: 'app', suspend: false }, says: 'suspend: a CronJob the app schedules stays suspended' },
    { name: 'a container on an httpCall', body: { name: 'x', httpCall: { url: 'https://x.example/', method: 'GET' }, schedule: '* * * * *', container: 'web' }, says: 'container applies to a CronJob made from a Deployment' },
    { name: 'a bad Deployment name', body: { ...base, fromDeployment: 'Web_1' }, says: 'fromDeployment must be a Kubernetes name' },
  ])('refuses $name, naming the field', ({ body, says }) => {
    expect(refusal(createCronJobSchema(), body)).toContain(says);
  });

  it('lists every problem at once', () => {
    expect(refusal(createCronJobSchema(), { ...base, backoffLimit: -1, restartPolicy: 'Always' })).toBe(
      'backoffLimit must be at least 0; restartPolicy must be OnFailure or Never (a Job\'s pods cannot restart Always)',
    );
  });
});

describe('the httpCall of a create body', () => {
  const withCall = (httpCall: unknown) => ({ name: 'call', httpCall, schedule: '* * * * *' });
  it.each([
    { name: 'a relative URL', call: { url: '/api/report', method: 'POST' }, says: 'httpCall.url: "/api/report" is not an absolute URL' },
    { name: 'an ftp URL', call: { url: 'ftp://x.example/a', method: 'POST' }, says: 'httpCall.url: must be an http or https URL, not ftp:' },
    { name: 'a URL with a password', call: { url: 'https://u:p@x.example/a', method: 'POST' }, says: 'httpCall.url: must not carry a user or password' },
    { name: 'a URL with a function key', call: { url: 'https://x.example/a?code=abc', method: 'POST' }, says: 'must not carry a function key (?code=)' },
    { name: 'no method', call: { url: 'https://x.example/a' }, says: 'httpCall.method is required, one of GET, POST, PUT, PATCH, DELETE' },
    { name: 'an unknown method', call: { url: 'https://x.example/a', method: 'FETCH' }, says: 'httpCall.method is required, one of' },
    { name: 'a header name with a space', call: { url: 'https://x.example/a', method: 'POST', headers: { 'X Source': 'a' } }, says: 'httpCall.headers.X Source: header names are' },
    { name: 'a header value with a line break', call: { url: 'https://x.example/a', method: 'POST', headers: { 'X-A': 'a\r\nX-B: b' } }, says: 'httpCall.headers.X-A: header values must not contain line breaks' },
    { name: 'the function key as a header', call: { url: 'https://x.example/a', method: 'POST', headers: { 'x-functions-key': 'abc' } }, says: 'put the function key in a Secret and name it in keySecretRef' },
    { name: 'an Authorization header', call: { url: 'https://x.example/a', method: 'POST', headers: { Authorization: 'Bearer x' } }, says: 'this header carries a credential' },
    { name: 'a Host header', call: { url: 'https://x.example/a', method: 'POST', headers: { host: 'internal.example' } }, says: 'the Host header is the URL\'s host' },
    { name: 'a keySecretRef without a key', call: { url: 'https://x.example/a', method: 'POST', keySecretRef: { name: 'keys' } }, says: 'httpCall.keySecretRef.key must be a string' },
    { name: 'a keySecretRef that is a string', call: { url: 'https://x.example/a', method: 'POST', keySecretRef: 'keys' }, says: 'httpCall.keySecretRef must be {"name": <Secret>, "key": <key in it>}' },
    { name: 'a time-out over an hour', call: { url: 'https://x.example/a', method: 'POST', timeoutSeconds: 7200 }, says: 'httpCall.timeoutSeconds is at most 3600' },
    { name: 'an unknown field', call: { url: 'https://x.example/a', method: 'POST', retry: 3 }, says: 'httpCall: unknown field "retry"' },
  ])('refuses $name', ({ call, says }) => {
    expect(refusal(createCronJobSchema(), withCall(call))).toContain(says);
  });
});

describe('the update body', () => {
  it('takes null to remove a setting or an env variable', () => {
    expect(parseBody(updateCronJobSchema(), { timeZone: null, activeDeadlineSeconds: null, command: null, env: { OLD: null, NEW: 1 } })).toEqual({
      timeZone: null,
      activeDeadlineSeconds: null,
      command: null,
      env: { OLD: null, NEW: '1' },
    });
  });

  it.each([
    { name: 'a number as resourceVersion', body: { resourceVersion: 12 }, says: 'resourceVersion must be the string GET answered with' },
    { name: 'suspend as a string', body: { suspend: 'yes' }, says: 'suspend must be true or false' },
    { name: 'both schedule and preset', body: { schedule: '* * * * *', preset: 'daily' }, says: 'schedule: send schedule or preset, not both' },
    { name: 'a weekday without a preset', body: { weekday: 'monday' }, says: 'weekday goes with a preset' },
    { name: 'the app scheduler unsuspended', body: { scheduler: 'app', suspend: false }, says: 'a CronJob the app schedules stays suspended' },
    { name: 'a misspelt field', body: { suspended: true }, says: 'unknown field "suspended"' },
    { name: 'a body that is not an object', body: 'suspend', says: 'the request body must be a JSON object of the settings to change' },
  ])('refuses $name, naming the field', ({ body, says }) => {
    expect(refusal(updateCronJobSchema(), body)).toContain(says);
  });
});
