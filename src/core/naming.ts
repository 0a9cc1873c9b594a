import { createHash, randomBytes } from 'node:crypto';

import { BadRequestError } from './errors.js';

/** Kubernetes names that end up in a label value (the Job name does, as `job-name`) must be DNS labels. */
export const MAX_JOB_NAME = 63;
/** Length of the suffix after the `-`. Same budget as the CronJob controller's 11 characters. */
export const SUFFIX_LENGTH = 10;
/** A CronJob's name leaves room for `-<unix minutes>`; the API server enforces the same limit. */
export const MAX_CRONJOB_NAME = 52;
/**
 * Room an Indexed Job needs after its name. The API server refuses an Indexed Job unless
 * `<name>-<completions - 1>` is a DNS label (v1.34 pkg/apis/batch/validation ValidateJob), because that is
 * the hostname of its last pod. `completions` is an int32, so the longest index is 2147483646: `-` and 10
 * digits. Leaving that room in every run id keeps the id a function of the request alone (an idempotency key
 * gives the same id whatever the source's completion mode) and lets every Indexed Job run.
 */
export const INDEX_SUFFIX_ROOM = 1 + String(2 ** 31 - 2).length;
/** The longest run id the app makes: 52 characters. */
export const MAX_RUN_ID = MAX_JOB_NAME - INDEX_SUFFIX_ROOM;
export const MAX_IDEMPOTENCY_KEY = 200;

export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export type SourceKind = 'Job' | 'CronJob';

export interface RunNameInput {
  cluster: string;
  namespace: string;
  sourceKind: SourceKind;
  sourceName: string;
  /** The caller's key (Idempotency-Key header or runId query). Same key, same run. */
  idempotencyKey?: string | undefined;
  /**
   * Who the caller is (src/http/caller.ts callerScope), so one caller's key never names another caller's run:
   * nobody can guess or take a run id another caller will ask for.
   */
  callerScope?: string | undefined;
}

export function isDnsLabel(value: string): boolean {
  return value.length <= 63 && DNS_LABEL.test(value);
}

/** Names of Jobs, CronJobs and namespaces as the API server accepts them in a path. */
export function assertObjectName(what: string, value: string, max = 253): void {
  if (value.length === 0 || value.length > max || !DNS_SUBDOMAIN.test(value)) {
    throw new BadRequestError(
      `${what} "${value}" is not a valid Kubernetes name: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most ${max} characters`,
    );
  }
}

export function assertNamespace(value: string): void {
  if (!isDnsLabel(value)) {
    throw new BadRequestError(
      `namespace "${value}" is not a valid namespace name: lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters`,
    );
  }
}

export function assertIdempotencyKey(key: string): void {
  if (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY || !/^[\x21-\x7e]+$/.test(key)) {
    throw new BadRequestError(
      `the idempotency key must be 1 to ${MAX_IDEMPOTENCY_KEY} visible ASCII characters without spaces`,
    );
  }
}

/** The leading part of a run id: the source name made a DNS label and cut to leave room for the suffix. */
export function runIdBase(sourceName: string): string {
  const base = sourceName
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, MAX_RUN_ID - SUFFIX_LENGTH - 1)
    .replace(/^-+|-+$/g, '');
  return base === '' ? 'run' : base;
}

function base36(bytes: Buffer, length: number): string {
  let out = '';
  for (const byte of bytes) {
    out += (byte % 36).toString(36);
    if (out.length === length) break;
  }
  return out;
}

/** A fresh suffix: 10 base-36 characters, about 51 bits. */
export function randomSuffix(): string {
  return base36(randomBytes(SUFFIX_LENGTH), SUFFIX_LENGTH);
}

/** Deterministic suffix for a keyed run: every field that tells two runs apart goes into the hash. */
export function keyedSuffix(input: RunNameInput & { idempotencyKey: string }): string {
  const digest = createHash('sha256')
    .update([input.cluster, input.namespace, input.sourceKind, input.sourceName, input.idempotencyKey, ...(input.callerScope ? [input.callerScope] : [])].join('\n'))
    .digest();
  return base36(digest, SUFFIX_LENGTH);
}

/**
 * The run id: the Job's name and the orchestration's instance id. With an idempotency key the same request
 * always gets the same id, so a retry meets the existing run instead of starting a second Job.
 */
export function runIdFor(input: RunNameInput, fresh: () => string = randomSuffix): string {
  const key = input.idempotencyKey;
  if (key !== undefined) assertIdempotencyKey(key);
  const suffix = key === undefined ? fresh() : keyedSuffix({ ...input, idempotencyKey: key });
  return `${runIdBase(input.sourceName)}-${suffix}`;
}

/**
 * Is this a run id this app could have made? Guards routes that take a run id from the path. A run id is
 * `<base>-<suffix>`: 10 characters of hash or randomness, or the 8 digits of a scheduled run's unix minutes.
 */
export function isRunId(value: string): boolean {
  return isDnsLabel(value) && /^.+-[a-z0-9]{8,}$/.test(value);
}

/** Name of a scheduled run, as the CronJob controller names it: `<cronjob>-<unix minutes of the due time>`. */
export function scheduledRunName(cronJobName: string, scheduledTime: Date): string {
  return `${cronJobName}-${Math.floor(scheduledTime.getTime() / 60_000)}`;
}

/** A value usable as a label value (at most 63, alphanumeric at both ends). */
export function labelValue(value: string): string {
  return value
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}
