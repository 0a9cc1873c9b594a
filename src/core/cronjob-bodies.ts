import * as z from 'zod';

import { ENV_NAME } from './clone.js';
import { BadRequestError } from './errors.js';
import { lazySchema } from './lazy-schema.js';
import { DNS_LABEL, DNS_SUBDOMAIN, MAX_CRONJOB_NAME } from './naming.js';
import { MAX_PRESET_DAY, PRESETS, WEEKDAYS } from './presets.js';

/**
 * The bodies of the CronJob management routes. Unknown properties are refused (a typo such as "scedule" must
 * not be a CronJob that runs on some other schedule), and every message names the field it is about.
 */

/** RFC 9110 token: what a header name may be. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Keys of a Secret's data. */
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
/** The API server's limit for int32 fields. */
const INT32_MAX = 2_147_483_647;
/** Headers that carry credentials: they belong in a Secret (keySecretRef), never in the manifest. */
const CREDENTIAL_HEADERS = new Set(['x-functions-key', 'authorization', 'proxy-authorization', 'cookie']);

export const CONCURRENCY_POLICIES = ['Allow', 'Forbid', 'Replace'] as const;
export const RESTART_POLICIES = ['OnFailure', 'Never'] as const;
export const SCHEDULERS = ['cluster', 'app'] as const;
export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type Scheduler = (typeof SCHEDULERS)[number];

/** An error for a whole object that is not one; other issues (unknown keys) keep zod's own message. */
const notAnObject = (message: string) => ({ error: (issue: { code: string }) => (issue.code === 'invalid_type' ? message : undefined) });

const objectName = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .max(253, `${what} has at most 253 characters`)
    .regex(DNS_SUBDOMAIN, `${what} must be a Kubernetes name: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit`);

// The schemas below are built on the first CronJob body parsed or the first API document (core/lazy-schema.ts),
// not at every function's start; pieces shared by create and update are built once, as before.
const cronJobName = lazySchema(() =>
  z
    .string({ error: 'name is required: the CronJob name, e.g. "nightly-report"' })
    .max(MAX_CRONJOB_NAME, `name has at most ${MAX_CRONJOB_NAME} characters (the cluster appends "-<minutes>" for each run's Job)`)
    .regex(
      DNS_LABEL,
      "name must be lower-case letters, digits and '-', starting and ending with a letter or digit (no dots: each run's Job name becomes a label value)",
    ),
);

const count = (what: string, min = 0) =>
  z.number({ error: `${what} must be a whole number` }).int(`${what} must be a whole number`).min(min, `${what} must be at least ${min}`).max(INT32_MAX, `${what} is too large`);

const stringList = (what: string) => z.array(z.string({ error: `${what} must be an array of strings` }), { error: `${what} must be an array of strings, e.g. ["sh","-c","echo hello"]` });

const envName = lazySchema(() => z.string().regex(ENV_NAME, "env names are printable ASCII characters other than '=', as Kubernetes 1.34 accepts them"));
const envValue = lazySchema(() =>
  z.union([z.string(), z.number().refine(Number.isFinite), z.boolean()], { error: 'env values must be strings, numbers or booleans' }).transform(String),
);

const schedule = lazySchema(() => z.string({ error: 'schedule must be a string, e.g. "30 2 * * *"' }).min(1, 'schedule must not be empty'));
const timeZone = lazySchema(() => z.string({ error: 'timeZone must be an IANA time zone name, e.g. "Europe/Amsterdam"' }).min(1, 'timeZone must not be empty'));

/** Fields that shape the schedule and the runs, common to create and update. */
const policies = lazySchema(() => ({
  timeZone: timeZone().optional(),
  concurrencyPolicy: z.enum(CONCURRENCY_POLICIES, { error: `concurrencyPolicy must be one of ${CONCURRENCY_POLICIES.join(', ')}` }).optional(),
  startingDeadlineSeconds: count('startingDeadlineSeconds').optional(),
  successfulJobsHistoryLimit: count('successfulJobsHistoryLimit').optional(),
  failedJobsHistoryLimit: count('failedJobsHistoryLimit').optional(),
  ttlSecondsAfterFinished: count('ttlSecondsAfterFinished').optional(),
  backoffLimit: count('backoffLimit').optional(),
  activeDeadlineSeconds: count('activeDeadlineSeconds', 1).optional(),
  restartPolicy: z.enum(RESTART_POLICIES, { error: `restartPolicy must be ${RESTART_POLICIES.join(' or ')} (a Job's pods cannot restart Always)` }).optional(),
  scheduler: z.enum(SCHEDULERS, { error: `scheduler must be "cluster" (the cluster's CronJob controller) or "app" (this app's scheduler)` }).optional(),
  suspend: z.boolean({ error: 'suspend must be true or false' }).optional(),
}));

const presetFields = lazySchema(() => ({
  preset: z.enum(PRESETS, { error: `preset must be one of ${PRESETS.join(', ')}` }).optional(),
  at: z.string({ error: 'at must be a string: "HH:MM", or ":MM" for hourly' }).optional(),
  weekday: z.enum(WEEKDAYS, { error: `weekday must be one of ${WEEKDAYS.join(', ')}` }).optional(),
  day: z.number({ error: `day must be a whole number from 1 to ${MAX_PRESET_DAY}` }).optional(),
}));

function absoluteHttpUrl(value: string, ctx: z.RefinementCtx): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not an absolute URL; write it whole, e.g. "https://my-app.azurewebsites.net/api/report"` });
    return;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    ctx.addIssue({ code: 'custom', message: `must be an http or https URL, not ${url.protocol}` });
  }
  if (url.username !== '' || url.password !== '') {
    ctx.addIssue({ code: 'custom', message: 'must not carry a user or password: they would be written into the CronJob; use keySecretRef' });
  }
  if (url.searchParams.has('code')) {
    ctx.addIssue({ code: 'custom', message: 'must not carry a function key (?code=): it would be written into the CronJob; put the key in a Secret and name it in keySecretRef' });
  }
}

export const httpCallSchema = lazySchema(() =>
  z.strictObject(
    {
      url: z.string({ error: 'httpCall.url is required: the absolute URL to call' }).superRefine(absoluteHttpUrl),
      method: z.enum(HTTP_METHODS, { error: `httpCall.method is required, one of ${HTTP_METHODS.join(', ')}` }),
      /** A string is sent as it is; anything else as JSON. */
      body: z.unknown().optional(),
      headers: z
        .record(
          z.string().regex(HEADER_NAME, 'header names are letters, digits and !#$%&\'*+-.^_`|~ (no spaces or colons)').refine(
            (name) => !CREDENTIAL_HEADERS.has(name.toLowerCase()),
            'this header carries a credential and would be written into the CronJob; put the function key in a Secret and name it in keySecretRef',
          ).refine(
            // A shared front end (App Service, an ingress) routes by Host: another one would reach a site the URL does not name.
            (name) => name.toLowerCase() !== 'host',
            "the Host header is the URL's host: write the host into httpCall.url, which is checked against HTTP_CALL_ALLOWED_URLS",
          ),
          z.string({ error: 'header values must be strings' }).refine((v) => !/[\r\n\0]/.test(v), 'header values must not contain line breaks'),
        )
        .optional(),
      keySecretRef: z
        .strictObject(
          {
            name: objectName('httpCall.keySecretRef.name'),
            key: z.string({ error: 'httpCall.keySecretRef.key must be a string' }).max(253).regex(SECRET_KEY, "httpCall.keySecretRef.key is a key of the Secret's data: letters, digits, '-', '_' and '.'"),
          },
          notAnObject('httpCall.keySecretRef must be {"name": <Secret>, "key": <key in it>}'),
        )
        .optional(),
      timeoutSeconds: count('httpCall.timeoutSeconds', 1).max(3600, 'httpCall.timeoutSeconds is at most 3600').optional(),
      retries: count('httpCall.retries').max(10, 'httpCall.retries is at most 10').optional(),
    },
    notAnObject('httpCall must be an object: {"url", "method", "body"?, "headers"?, "keySecretRef"?}'),
  ),
);
export type HttpCall = z.infer<ReturnType<typeof httpCallSchema>>;

export const createCronJobSchema = lazySchema(() =>
  z
    .strictObject(
      {
        name: cronJobName(),
        fromDeployment: objectName('fromDeployment').optional(),
        httpCall: httpCallSchema().optional(),
        container: objectName('container').optional(),
        schedule: schedule().optional(),
        ...presetFields(),
        command: stringList('command').optional(),
        args: stringList('args').optional(),
        env: z.record(envName(), envValue(), notAnObject('env must be an object of name → value, e.g. {"REPORT_DAY": "yesterday"}')).optional(),
        ...policies(),
      },
      notAnObject('the request body must be a JSON object describing the CronJob, e.g. {"name": "nightly", "fromDeployment": "web", "preset": "daily", "at": "02:30"}'),
    )
    .superRefine((body, ctx) => {
      const issue = (path: string, message: string) => {
        ctx.addIssue({ code: 'custom', path: [path], message });
      };
      if ((body.fromDeployment === undefined) === (body.httpCall === undefined)) {
        issue('fromDeployment', 'send exactly one of fromDeployment (the Deployment to take the pod template from) or httpCall (an endpoint to call)');
      }
      if ((body.schedule === undefined) === (body.preset === undefined)) {
        issue('schedule', 'send exactly one of schedule (cron, e.g. "30 2 * * *") or preset (hourly, daily, weekly, monthly)');
      }
      for (const field of ['at', 'weekday', 'day'] as const) {
        if (body[field] !== undefined && body.preset === undefined) issue(field, `${field} goes with a preset, e.g. {"preset": "daily", "at": "02:30"}`);
      }
      if (body.httpCall !== undefined) {
        for (const field of ['container', 'command', 'args', 'env'] as const) {
          if (body[field] !== undefined) issue(field, `${field} applies to a CronJob made from a Deployment; an httpCall CronJob runs its own curl container`);
        }
      }
      if (body.scheduler === 'app' && body.suspend === false) {
        issue('suspend', 'a CronJob the app schedules stays suspended, so the cluster does not run it a second time; leave suspend out');
      }
    }),
);
export type CreateCronJobBody = z.infer<ReturnType<typeof createCronJobSchema>>;

/** null removes: an env entry, a time zone, a deadline, a command or args override. */
export const updateCronJobSchema = lazySchema(() =>
  z
    .strictObject(
      {
        resourceVersion: z.string({ error: 'resourceVersion must be the string GET answered with' }).min(1).optional(),
        schedule: schedule().optional(),
        ...presetFields(),
        ...policies(),
        timeZone: timeZone().nullable().optional(),
        startingDeadlineSeconds: policies().startingDeadlineSeconds.unwrap().nullable().optional(),
        ttlSecondsAfterFinished: policies().ttlSecondsAfterFinished.unwrap().nullable().optional(),
        activeDeadlineSeconds: policies().activeDeadlineSeconds.unwrap().nullable().optional(),
        container: objectName('container').optional(),
        command: stringList('command').nullable().optional(),
        args: stringList('args').nullable().optional(),
        env: z
          .record(envName(), envValue().nullable(), notAnObject('env must be an object of name → value (null removes the variable)'))
          .optional(),
      },
      notAnObject('the request body must be a JSON object of the settings to change, e.g. {"suspend": true, "resourceVersion": "12345"}'),
    )
    .superRefine((body, ctx) => {
      const issue = (path: string, message: string) => {
        ctx.addIssue({ code: 'custom', path: [path], message });
      };
      if (body.schedule !== undefined && body.preset !== undefined) issue('schedule', 'send schedule or preset, not both');
      for (const field of ['at', 'weekday', 'day'] as const) {
        if (body[field] !== undefined && body.preset === undefined) issue(field, `${field} goes with a preset, e.g. {"preset": "daily", "at": "02:30"}`);
      }
      if (body.scheduler === 'app' && body.suspend === false) {
        issue('suspend', 'a CronJob the app schedules stays suspended, so the cluster does not run it a second time; leave suspend out');
      }
    }),
);
export type UpdateCronJobBody = z.infer<ReturnType<typeof updateCronJobSchema>>;

/** Parse a body with a schema; a 400 listing every problem, each with the field it is about. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    let message = issue.message;
    // A record key's own message is nested inside zod's generic "invalid key".
    if (issue.code === 'invalid_key') message = issue.issues[0]?.message ?? message;
    if (issue.code === 'unrecognized_keys') {
      message = `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')} (check its spelling)`;
    }
    // Most messages here already start with their field; the others get it in front.
    return path === '' || message.startsWith(path) ? message : `${path}: ${message}`;
  });
  throw new BadRequestError(lines.join('; '));
}
