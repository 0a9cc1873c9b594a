import type { V1Container, V1CronJob, V1EnvVar, V1Job, V1ObjectMeta, V1OwnerReference } from '@kubernetes/client-node';

import type { FallbackPolicy } from './consent.js';
import { BadRequestError } from './errors.js';
import { escapeReferences } from './expansion.js';
import {
  ATTEMPT_ANNOTATION,
  CALLER_ANNOTATION,
  CRONJOB_INSTANTIATE_ANNOTATION,
  CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION,
  FALLBACK_POD_LABEL,
  JOB_CONTROLLER_TEMPLATE_LABELS,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  REQUEST_HASH_ANNOTATION,
  RUN_ID_LABEL,
  SOURCE_KIND_LABEL,
  SOURCE_NAME_LABEL,
  STARTED_BY_ANNOTATION,
} from './labels.js';
import { labelValue, runIdBase, type SourceKind } from './naming.js';
import { callerTag, type StartedBy } from './run.js';

/** Env overrides as the run will see them: every value a string. */
export type EnvOverrides = Readonly<Record<string, string>>;

export interface FallbackSpec {
  image: string;
  command?: string[] | undefined;
  args?: string[] | undefined;
}

export interface RunIdentity {
  runId: string;
  /** The Job's name when it is a retry of the run (core/retry.ts attemptJobName); absent: the run id. */
  jobName?: string | undefined;
  /** Which attempt of the run the Job is, from 2 on (ATTEMPT_ANNOTATION); absent for the first. */
  attempt?: number | undefined;
  namespace: string;
  sourceKind: SourceKind;
  sourceName: string;
  requestHash: string;
  startedBy?: string | undefined;
  /** The caller a run started over HTTP answers to; absent for the scheduler's runs, which answer to no caller. */
  caller?: StartedBy | undefined;
}

/**
 * Env names as the API server accepts them: Kubernetes 1.34 validates them with `IsRelaxedEnvVarName`
 * (RelaxedEnvironmentVariableValidation is GA and locked on): one or more printable ASCII characters (space to
 * `~`) other than `=`. So `1BAD` and `BATCH DATE` are valid names, as discovery lists them.
 */
export const ENV_NAME = /^[\x20-\x3c\x3e-\x7e]+$/;

/**
 * Bounds of a run's env overrides. They end up in the Job (one etcd request, at most 1.5 MiB by default, with the
 * source's own spec), in the orchestration's input, and in the container's environment, where Linux refuses to
 * exec a program when one `NAME=value` string is over MAX_ARG_STRLEN (128 KiB).
 */
export const ENV_LIMITS = {
  /** Overrides per run. */
  count: 2000,
  /** Characters of one name (printable ASCII, so also bytes). */
  nameLength: 256,
  /** UTF-8 bytes of one `NAME=value` string, with its terminating NUL: the kernel's MAX_ARG_STRLEN. */
  entryBytes: 128 * 1024,
} as const;

/**
 * The env overrides of a request body: a flat JSON object. Numbers and booleans are stringified (Polysync
 * sends typed parameters); objects, arrays and null have no env form, so they are refused, not guessed at.
 */
export function parseEnvOverrides(body: unknown): Record<string, string> {
  if (body === undefined) return {};
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new BadRequestError('the request body must be a JSON object of environment variables, e.g. {"BATCH_DATE":"2026-11-23"}');
  }
  const given = Object.entries(body);
  if (given.length > ENV_LIMITS.count) {
    throw new BadRequestError(`the body has ${given.length} environment variables; a run takes at most ${ENV_LIMITS.count}`);
  }
  const entries = given.map(([name, value]): [string, string] => {
    if (!ENV_NAME.test(name)) {
      throw new BadRequestError(
        `${JSON.stringify(name)} is not a valid environment variable name: use one or more printable ASCII characters other than '=' (as Kubernetes 1.34 accepts them)`,
      );
    }
    if (name.length > ENV_LIMITS.nameLength) {
      throw new BadRequestError(`environment variable name "${name.slice(0, 40)}..." has ${name.length} characters; at most ${ENV_LIMITS.nameLength}`);
    }
    const text = envValue(name, value);
    const bytes = Buffer.byteLength(name) + 1 + Buffer.byteLength(text) + 1;
    if (bytes > ENV_LIMITS.entryBytes) {
      throw new BadRequestError(
        `environment variable "${name}" is ${bytes} bytes as NAME=value; at most ${ENV_LIMITS.entryBytes} (131072, Linux's limit for one environment string), put larger data in a ConfigMap or volume`,
      );
    }
    return [name, text];
  });
  // fromEntries defines own properties, so even a name like __proto__ is kept as an override.
  return Object.fromEntries(entries);
}

function envValue(name: string, value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : typeof value;
  throw new BadRequestError(`environment variable "${name}" is ${kind}; values must be strings, numbers or booleans (send JSON as a string)`);
}

/**
 * Overlay env on a container, keyed by name: a given name replaces the existing entry (also one that used
 * valueFrom), a new name is appended, the order is otherwise kept. A given value is literal: written with every
 * `$` doubled, so the kubelet's `$(NAME)` expansion gives the process the caller's text, never another
 * variable's value (`$(DB_PASSWORD)` would otherwise copy a Secret into a variable the caller reads back).
 */
export function overlayEnv(env: readonly V1EnvVar[] | undefined, overrides: EnvOverrides): V1EnvVar[] {
  const given = new Map(Object.entries(overrides).map(([name, value]) => [name, escapeReferences(value)]));
  const present = new Set<string>();
  // Every entry of a name is replaced: with a duplicate name the kubelet uses the last one, which must be ours.
  const result: V1EnvVar[] = (env ?? []).map((entry) => {
    const value = given.get(entry.name);
    if (value === undefined) return entry;
    present.add(entry.name);
    return { name: entry.name, value };
  });
  for (const [name, value] of given) if (!present.has(name)) result.push({ name, value });
  return result;
}

function runLabels(id: RunIdentity): Record<string, string> {
  return {
    [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
    [RUN_ID_LABEL]: id.runId,
    [SOURCE_KIND_LABEL]: id.sourceKind,
    [SOURCE_NAME_LABEL]: labelValue(id.sourceName),
  };
}

/** On the run's pods, so they can be told apart from the source's own. */
function podLabels(id: RunIdentity): Record<string, string> {
  return { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [RUN_ID_LABEL]: id.runId };
}

function runAnnotations(id: RunIdentity): Record<string, string> {
  return {
    [REQUEST_HASH_ANNOTATION]: id.requestHash,
    ...(id.startedBy ? { [STARTED_BY_ANNOTATION]: id.startedBy } : {}),
    ...(id.caller ? { [CALLER_ANNOTATION]: callerTag(id.caller) } : {}),
    ...(id.attempt !== undefined && id.attempt > 1 ? { [ATTEMPT_ANNOTATION]: String(id.attempt) } : {}),
  };
}

function withoutKeys(record: Record<string, string> | undefined, keys: readonly string[]): Record<string, string> | undefined {
  if (!record) return undefined;
  const copy = Object.fromEntries(Object.entries(record).filter(([key]) => !keys.includes(key)));
  return Object.keys(copy).length > 0 ? copy : undefined;
}

function deepCopy<T>(value: T): T {
  return structuredClone(value);
}

function applyOverrides(spec: NonNullable<V1Job['spec']>, overrides: EnvOverrides, fallbackWhat: string): void {
  const first: V1Container | undefined = spec.template.spec?.containers[0];
  if (!first) throw new BadRequestError(`${fallbackWhat} has no containers to run`);
  if (Object.keys(overrides).length > 0) first.env = overlayEnv(first.env, overrides);
}

/**
 * The run's Job spec from a Job's spec: everything the API server generated for the source is removed so
 * the create is accepted; everything the author wrote is kept. A source kept suspended as a template still
 * runs: `suspend` is cleared, since a suspended run would only ever report Cancelled.
 */
function runSpec(spec: NonNullable<V1Job['spec']>, id: RunIdentity, overrides: EnvOverrides, what: string): NonNullable<V1Job['spec']> {
  const copy = deepCopy(spec);
  delete copy.selector;
  delete copy.manualSelector;
  delete copy.suspend;
  const templateMeta: V1ObjectMeta = copy.template.metadata ?? {};
  const labels = withoutKeys(templateMeta.labels, JOB_CONTROLLER_TEMPLATE_LABELS) ?? {};
  templateMeta.labels = { ...labels, ...podLabels(id) };
  copy.template.metadata = templateMeta;
  applyOverrides(copy, overrides, what);
  return copy;
}

/** Only what a person wrote on the source's metadata survives: labels and annotations, never server fields. */
function authoredMetadata(meta: V1ObjectMeta | undefined): { labels: Record<string, string>; annotations: Record<string, string> } {
  return {
    labels: withoutKeys(meta?.labels, JOB_CONTROLLER_TEMPLATE_LABELS) ?? {},
    annotations: withoutKeys(meta?.annotations, ['kubectl.kubernetes.io/last-applied-configuration']) ?? {},
  };
}

/** The run's Job: its name, the author's labels and annotations with the run's own on top, and the spec. */
function runJob(
  id: RunIdentity,
  authored: { labels: Record<string, string>; annotations: Record<string, string> },
  spec: NonNullable<V1Job['spec']>,
  ownerReferences?: V1OwnerReference[],
): V1Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: id.jobName ?? id.runId,
      namespace: id.namespace,
      labels: { ...authored.labels, ...runLabels(id) },
      // Who the run answers to is the app's to say: a source's own copy of the annotation is never carried over.
      annotations: { ...withoutKeys(authored.annotations, [CALLER_ANNOTATION, ATTEMPT_ANNOTATION]), ...runAnnotations(id) },
      ...(ownerReferences ? { ownerReferences } : {}),
    },
    spec,
  };
}

/** Clone a Job: the source's spec and authored metadata under the run's name and labels. */
export function cloneJob(source: V1Job, id: RunIdentity, overrides: EnvOverrides): V1Job {
  if (!source.spec) throw new BadRequestError(`Job "${source.metadata?.name ?? ''}" has no spec to clone`);
  return runJob(id, authoredMetadata(source.metadata), runSpec(source.spec, id, overrides, `Job "${id.sourceName}"`));
}

/**
 * A run of a CronJob's template: the template's labels and annotations, the given annotations on top, and the
 * ownerReference kubectl writes (`controller: true`, no `blockOwnerDeletion`, which would need the
 * cronjobs/finalizers permission). Being the controller reference, the run is garbage-collected with its
 * CronJob and counted by the CronJob controller (active list, history limits) like a kubectl-made run. The
 * CronJob itself is never modified.
 */
function cronJobRun(cronJob: V1CronJob, id: RunIdentity, overrides: EnvOverrides, annotations: Record<string, string>): V1Job {
  const template = cronJob.spec.jobTemplate;
  if (!template.spec) throw new BadRequestError(`CronJob "${cronJob.metadata?.name ?? ''}" has no jobTemplate to run`);
  const authored = authoredMetadata(template.metadata);
  const uid = cronJob.metadata?.uid;
  const owner = uid ? [{ apiVersion: 'batch/v1', kind: 'CronJob', name: cronJob.metadata?.name ?? id.sourceName, uid, controller: true }] : undefined;
  return runJob(
    id,
    { labels: authored.labels, annotations: { ...authored.annotations, ...annotations } },
    runSpec(template.spec, id, overrides, `CronJob "${id.sourceName}"`),
    owner,
  );
}

/** A run of a CronJob's template now, as `kubectl create job --from=cronjob/...` makes it (`instantiate: manual`). */
export function jobFromCronJob(cronJob: V1CronJob, id: RunIdentity, overrides: EnvOverrides): V1Job {
  return cronJobRun(cronJob, id, overrides, { [CRONJOB_INSTANTIATE_ANNOTATION]: 'manual' });
}

/**
 * A scheduled run of a CronJob, as the CronJob controller makes it: no `instantiate: manual`, and the
 * scheduled time in `batch.kubernetes.io/cronjob-scheduled-timestamp` (RFC 3339 in the CronJob's zone, as the
 * controller writes it).
 */
export function scheduledJobFromCronJob(cronJob: V1CronJob, id: RunIdentity, scheduledTimestamp: string): V1Job {
  return cronJobRun(cronJob, id, {}, { [CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION]: scheduledTimestamp });
}

/**
 * The Job for a source that does not exist, from the caller's image, command and args, hardened because nobody
 * who owns the namespace wrote it: no service-account token, no service links, requests and limits from the
 * settings, a non-root user, no privilege escalation, no capabilities, the runtime's default seccomp profile,
 * and a deadline. A pod that needs more is a Job its owner writes, then run by name.
 */
export function fallbackJob(fallback: FallbackSpec, id: RunIdentity, overrides: EnvOverrides, policy: FallbackPolicy, deadlineSeconds: number): V1Job {
  const env = overlayEnv([], overrides);
  const seccompProfile = { type: 'RuntimeDefault' };
  return runJob(
    id,
    { labels: {}, annotations: {} },
    {
      backoffLimit: 0,
      activeDeadlineSeconds: deadlineSeconds,
      template: {
        metadata: { labels: { ...podLabels(id), [FALLBACK_POD_LABEL]: 'true' } },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: { runAsNonRoot: true, runAsUser: policy.runAsUser, runAsGroup: policy.runAsUser, seccompProfile },
          containers: [
            {
              name: runIdBase(id.sourceName),
              image: fallback.image,
              ...(fallback.command ? { command: [...fallback.command] } : {}),
              ...(fallback.args ? { args: [...fallback.args] } : {}),
              ...(env.length > 0 ? { env } : {}),
              resources: { requests: { ...policy.resources.requests }, limits: { ...policy.resources.limits } },
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true, seccompProfile },
            },
          ],
        },
      },
    },
  );
}

/** Every Job the app creates ends: the source's own activeDeadlineSeconds, else the operator's default. */
export function withDeadline(job: V1Job, deadlineSeconds: number): V1Job {
  if (job.spec && job.spec.activeDeadlineSeconds === undefined) job.spec.activeDeadlineSeconds = deadlineSeconds;
  return job;
}

/** Is this existing Job the run we meant to create (a replayed submit), or some other object? */
export function isSameRun(existing: V1Job, id: RunIdentity): boolean {
  const labels = existing.metadata?.labels ?? {};
  return (
    labels[MANAGED_BY_LABEL] === MANAGED_BY_VALUE &&
    labels[RUN_ID_LABEL] === id.runId &&
    labels[SOURCE_KIND_LABEL] === id.sourceKind &&
    existing.metadata?.annotations?.[REQUEST_HASH_ANNOTATION] === id.requestHash
  );
}
