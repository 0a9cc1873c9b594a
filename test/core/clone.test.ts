import type { V1CronJob, V1EnvVar, V1Job } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import {
  cloneJob,
  ENV_LIMITS,
  fallbackJob,
  isSameRun,
  jobFromCronJob,
  overlayEnv,
  parseEnvOverrides,
  type RunIdentity,
  scheduledJobFromCronJob,
  withDeadline,
} from '../../src/core/clone.js';
import type { FallbackPolicy } from '../../src/core/consent.js';
import { BadRequestError } from '../../src/core/errors.js';
import { expandReferences } from '../../src/core/expansion.js';

const t0 = new Date('2026-11-23T10:00:00Z');

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

const jobIdentity: RunIdentity = {
  runId: 'nightly-abcdefghij',
  namespace: 'batch',
  sourceKind: 'Job',
  sourceName: 'nightly',
  requestHash: 'hash-1',
};

const cronIdentity: RunIdentity = { ...jobIdentity, runId: 'report-abcdefghij', sourceKind: 'CronJob', sourceName: 'report' };

/** A Job as the API server hands it back: the author's fields plus everything the server set. */
function sourceJob(): V1Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: 'nightly',
      namespace: 'batch',
      uid: '11111111-2222-3333-4444-555555555555',
      resourceVersion: '4711',
      creationTimestamp: t0,
      generation: 3,
      deletionTimestamp: new Date('2026-11-23T11:00:00Z'),
      managedFields: [{ manager: 'kubectl', operation: 'Update', apiVersion: 'batch/v1' }],
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'owner', uid: 'owner-uid', controller: true }],
      labels: {
        team: 'finance',
        'controller-uid': '11111111-2222-3333-4444-555555555555',
        'batch.kubernetes.io/controller-uid': '11111111-2222-3333-4444-555555555555',
        'job-name': 'nightly',
        'batch.kubernetes.io/job-name': 'nightly',
      },
      annotations: { 'finance.example.com/owner': 'ops', [LAST_APPLIED]: '{"kind":"Job"}' },
    },
    spec: {
      selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': '11111111-2222-3333-4444-555555555555' } },
      manualSelector: false,
      suspend: true,
      activeDeadlineSeconds: 3600,
      backoffLimit: 4,
      ttlSecondsAfterFinished: 86400,
      completions: 3,
      parallelism: 2,
      podFailurePolicy: { rules: [{ action: 'FailJob', onExitCodes: { operator: 'In', values: [42] } }] },
      template: {
        metadata: {
          labels: {
            app: 'nightly',
            'controller-uid': '11111111-2222-3333-4444-555555555555',
            'batch.kubernetes.io/controller-uid': '11111111-2222-3333-4444-555555555555',
            'job-name': 'nightly',
            'batch.kubernetes.io/job-name': 'nightly',
          },
          annotations: { 'prometheus.io/scrape': 'false' },
        },
        spec: {
          restartPolicy: 'Never',
          nodeSelector: { 'kubernetes.io/os': 'linux', agentpool: 'batch' },
          tolerations: [{ key: 'sku', operator: 'Equal', value: 'batch', effect: 'NoSchedule' }],
          volumes: [{ name: 'secrets', secret: { secretName: 'nightly-secrets' } }],
          initContainers: [{ name: 'migrate', image: 'registry.example.com/migrate:1', env: [{ name: 'BATCH_DATE', value: 'init' }] }],
          containers: [
            {
              name: 'main',
              image: 'registry.example.com/nightly:1',
              resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { memory: '2Gi' } },
              volumeMounts: [{ name: 'secrets', mountPath: '/secrets', readOnly: true }],
              env: [
                { name: 'BATCH_DATE', value: 'today' },
                { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
                { name: 'MODE', value: 'full' },
              ],
            },
            { name: 'sidecar', image: 'registry.example.com/sidecar:1', env: [{ name: 'BATCH_DATE', value: 'sidecar' }] },
          ],
        },
      },
    },
    status: { active: 1, startTime: t0, conditions: [{ type: 'Complete', status: 'True' }] },
  };
}

function sourceCronJob(): V1CronJob {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'report', namespace: 'batch', uid: 'cron-uid', resourceVersion: '99', labels: { cron: 'label' } },
    spec: {
      schedule: '0 2 * * *',
      suspend: true,
      jobTemplate: {
        metadata: { labels: { team: 'reports' }, annotations: { 'reports.example.com/kind': 'daily' } },
        spec: {
          backoffLimit: 2,
          template: {
            metadata: { labels: { app: 'report' } },
            spec: {
              restartPolicy: 'OnFailure',
              containers: [{ name: 'report', image: 'registry.example.com/report:7', env: [{ name: 'FORMAT', value: 'pdf' }] }],
            },
          },
        },
      },
    },
  };
}

describe('parseEnvOverrides, names that are special in JavaScript', () => {
  it('keeps an override named __proto__ as an ordinary variable', () => {
    const overrides = parseEnvOverrides(JSON.parse('{"__proto__":"x","A":"1"}'));
    expect(Object.keys(overrides)).toEqual(['__proto__', 'A']);
    expect(Object.getOwnPropertyDescriptor(overrides, '__proto__')?.value).toBe('x');
  });
});

describe('parseEnvOverrides', () => {
  it.each([
    { name: 'an undefined body is no overrides', body: undefined, expected: {} },
    { name: 'an empty object is no overrides', body: {}, expected: {} },
    { name: 'strings are kept as they are', body: { BATCH_DATE: '2026-11-23', EMPTY: '' }, expected: { BATCH_DATE: '2026-11-23', EMPTY: '' } },
    { name: 'numbers are stringified', body: { COUNT: 42, RATIO: 0.5, NEG: -3 }, expected: { COUNT: '42', RATIO: '0.5', NEG: '-3' } },
    { name: 'booleans are stringified', body: { DRY_RUN: true, VERBOSE: false }, expected: { DRY_RUN: 'true', VERBOSE: 'false' } },
    { name: 'names with dots, hyphens and a leading underscore are accepted', body: { 'a.b-c': 'x', _X1: 'y' }, expected: { 'a.b-c': 'x', _X1: 'y' } },
    // Kubernetes 1.34 accepts every printable ASCII name but '=' (RelaxedEnvironmentVariableValidation, GA).
    { name: 'a name starting with a digit is accepted', body: { '1BAD': 'x' }, expected: { '1BAD': 'x' } },
    { name: 'a name with spaces is accepted', body: { 'BATCH DATE': 'x', ' ': 'y' }, expected: { 'BATCH DATE': 'x', ' ': 'y' } },
    { name: 'a name of punctuation is accepted', body: { '$!~{}[]"\\:;': 'x', '.': 'y' }, expected: { '$!~{}[]"\\:;': 'x', '.': 'y' } },
  ])('$name', ({ body, expected }) => {
    expect(parseEnvOverrides(body)).toEqual(expected);
  });

  it.each([
    { name: 'null', value: null, kind: 'null' },
    { name: 'an object', value: { nested: 1 }, kind: 'an object' },
    { name: 'an array', value: ['a'], kind: 'an array' },
    { name: 'NaN', value: Number.NaN, kind: 'number' },
    { name: 'Infinity', value: Number.POSITIVE_INFINITY, kind: 'number' },
  ])('a value that is $name is a BadRequestError naming the variable', ({ value, kind }) => {
    const call = () => parseEnvOverrides({ OK: 'fine', REPORT_SPEC: value });
    expect(call).toThrow(BadRequestError);
    expect(call).toThrow(`environment variable "REPORT_SPEC" is ${kind}; values must be strings, numbers or booleans`);
  });

  it.each([
    { name: 'with "="', key: 'A=B' },
    { name: 'empty', key: '' },
    { name: 'with a tab', key: 'A\tB' },
    { name: 'with a newline', key: 'A\n' },
    { name: 'with DEL', key: 'A\u007f' },
    { name: 'with a letter outside ASCII', key: 'DATUM_É' },
  ])('an env name $name is a BadRequestError naming it', ({ key }) => {
    const call = () => parseEnvOverrides({ [key]: 'x' });
    expect(call).toThrow(BadRequestError);
    expect(call).toThrow(`${JSON.stringify(key)} is not a valid environment variable name`);
  });

  it.each([
    { name: 'as many variables as allowed', body: Object.fromEntries(Array.from({ length: ENV_LIMITS.count }, (_, i) => [`V${i}`, 'x'])) },
    { name: 'a name of the longest length', body: { ['N'.repeat(ENV_LIMITS.nameLength)]: 'x' } },
    // NAME=value plus the NUL: 1 + 1 + value + 1 bytes.
    { name: 'a NAME=value of exactly 128 KiB', body: { V: 'x'.repeat(ENV_LIMITS.entryBytes - 3) } },
  ])('accepts the bounds themselves: $name', ({ body }) => {
    expect(Object.keys(parseEnvOverrides(body))).toHaveLength(Object.keys(body).length);
  });

  it.each([
    {
      name: 'one variable too many',
      body: Object.fromEntries(Array.from({ length: ENV_LIMITS.count + 1 }, (_, i) => [`V${i}`, 'x'])),
      detail: `the body has ${ENV_LIMITS.count + 1} environment variables; a run takes at most ${ENV_LIMITS.count}`,
    },
    { name: 'a name one character too long', body: { ['N'.repeat(ENV_LIMITS.nameLength + 1)]: 'x' }, detail: `at most ${ENV_LIMITS.nameLength}` },
    { name: 'a NAME=value one byte over 128 KiB', body: { V: 'x'.repeat(ENV_LIMITS.entryBytes - 2) }, detail: 'environment variable "V" is 131073 bytes' },
    { name: 'a value over 128 KiB in UTF-8 though not in characters', body: { V: 'é'.repeat(ENV_LIMITS.entryBytes / 2) }, detail: 'environment variable "V" is' },
  ])('refuses past the bounds, naming the limit: $name', ({ body, detail }) => {
    const call = () => parseEnvOverrides(body);
    expect(call).toThrow(BadRequestError);
    expect(call).toThrow(detail);
  });

  it.each([
    { name: 'null', body: null },
    { name: 'an array', body: [{ A: '1' }] },
    { name: 'a string', body: 'A=1' },
    { name: 'a number', body: 42 },
  ])('a body that is $name is a BadRequestError', ({ body }) => {
    expect(() => parseEnvOverrides(body)).toThrow(BadRequestError);
    expect(() => parseEnvOverrides(body)).toThrow('the request body must be a JSON object of environment variables');
  });
});

describe('overlayEnv', () => {
  const env: V1EnvVar[] = [
    { name: 'A', value: '1' },
    { name: 'SECRET', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
    { name: 'B', value: '2' },
  ];

  it.each<{ name: string; env: V1EnvVar[] | undefined; overrides: Record<string, string>; expected: V1EnvVar[] }>([
    {
      name: 'a given name replaces the entry in its position',
      env,
      overrides: { A: 'x' },
      expected: [{ name: 'A', value: 'x' }, env[1] as V1EnvVar, { name: 'B', value: '2' }],
    },
    {
      name: 'a valueFrom entry is replaced by a plain value',
      env,
      overrides: { SECRET: 'plain' },
      expected: [{ name: 'A', value: '1' }, { name: 'SECRET', value: 'plain' }, { name: 'B', value: '2' }],
    },
    {
      name: 'new names are appended in the order given',
      env,
      overrides: { Z: 'z', Y: 'y' },
      expected: [...env, { name: 'Z', value: 'z' }, { name: 'Y', value: 'y' }],
    },
    {
      name: 'replacements and additions together keep the order otherwise',
      env,
      overrides: { NEW: 'n', B: 'b' },
      expected: [{ name: 'A', value: '1' }, env[1] as V1EnvVar, { name: 'B', value: 'b' }, { name: 'NEW', value: 'n' }],
    },
    { name: 'no overrides leave the env as it was', env, overrides: {}, expected: env },
    { name: 'a container without env gets the overrides', env: undefined, overrides: { A: '1' }, expected: [{ name: 'A', value: '1' }] },
    { name: 'no env and no overrides is an empty list', env: undefined, overrides: {}, expected: [] },
  ])('$name', ({ env: given, overrides, expected }) => {
    expect(overlayEnv(given, overrides)).toEqual(expected);
  });

  it('the given env list is not mutated', () => {
    const given = structuredClone(env);
    overlayEnv(given, { A: 'x', SECRET: 's', C: 'c' });
    expect(given).toEqual(env);
  });

  // With duplicate names the kubelet uses the LAST entry; overriding only the first leaves the old value in force.
  it('an override wins over a name that appears twice in the source', () => {
    const result = overlayEnv(
      [
        { name: 'A', value: '1' },
        { name: 'B', value: '2' },
        { name: 'A', value: '3' },
      ],
      { A: 'x' },
    );
    expect(result.findLast((e) => e.name === 'A')?.value).toBe('x');
  });
});

/**
 * The environment a container gets from its env list, as the kubelet makes it (pkg/kubelet/kubelet_pods.go,
 * `makeEnvironmentVariables`: each plain value expanded with the variables declared before it; valueFrom values
 * resolved, here from `resolved`), using the port of Kubernetes' expand.go.
 */
function kubeletEnv(env: readonly V1EnvVar[], resolved: Record<string, string>): Record<string, string> {
  const seen: Record<string, string> = {};
  for (const entry of env) {
    seen[entry.name] = entry.value ? expandReferences(entry.value, (name) => seen[name]) : (resolved[entry.name] ?? '');
  }
  return seen;
}

describe('overlayEnv values are literal to the kubelet', () => {
  const source: V1EnvVar[] = [
    { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
    { name: 'GREETING', value: 'hello' },
  ];

  it.each([
    { name: 'a Secret reference', value: '$(DB_PASSWORD)', stored: '$$(DB_PASSWORD)' },
    { name: 'an escaped reference', value: '$$(DB_PASSWORD)', stored: '$$$$(DB_PASSWORD)' },
    { name: 'a shell variable', value: 'cost $5 ${HOME}', stored: 'cost $$5 $${HOME}' },
    { name: 'a trailing operator', value: 'x$', stored: 'x$$' },
    { name: 'no operator', value: 'plain', stored: 'plain' },
  ])('$name: stored as $stored, seen by the process as sent', ({ value, stored }) => {
    const env = overlayEnv(source, { GREETING: value });
    expect(env[1]).toEqual({ name: 'GREETING', value: stored });
    expect(kubeletEnv(env, { DB_PASSWORD: 's3cret' }).GREETING).toBe(value);
  });

  it('without the escape, the same value would have copied the Secret (the attack this prevents)', () => {
    const unescaped = [...source.slice(0, 1), { name: 'GREETING', value: '$(DB_PASSWORD)' }];
    expect(kubeletEnv(unescaped, { DB_PASSWORD: 's3cret' }).GREETING).toBe('s3cret');
  });

  it('an appended name is literal too', () => {
    const env = overlayEnv(source, { NEW: '$(DB_PASSWORD)' });
    expect(kubeletEnv(env, { DB_PASSWORD: 's3cret' }).NEW).toBe('$(DB_PASSWORD)');
  });

  it('a cloned Job and a fallback Job carry the escaped value', () => {
    const clone = cloneJob(sourceJob(), jobIdentity, { BATCH_DATE: '$(DB_PASSWORD)' });
    expect(clone.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === 'BATCH_DATE')?.value).toBe('$$(DB_PASSWORD)');
    const policy: FallbackPolicy = { images: [], resources: { requests: { cpu: '1', memory: '1Mi' }, limits: { cpu: '1', memory: '1Mi' } }, runAsUser: 1000 };
    const fallback = fallbackJob({ image: 'busybox:1.36' }, jobIdentity, { A: '$(B)' }, policy, 60);
    expect(fallback.spec?.template.spec?.containers[0]?.env).toEqual([{ name: 'A', value: '$$(B)' }]);
  });
});

describe('cloneJob', () => {
  const overrides = { BATCH_DATE: '2026-11-23', DB_PASSWORD: 'override', EXTRA: 'yes' };

  it("a retry's Job (core/retry.ts) has its attempt's name and annotation, and the run's id on it and its pods", () => {
    const source = sourceJob();
    source.metadata = { ...source.metadata, annotations: { ...source.metadata?.annotations, 'aks-job-runner.io/attempt': '9' } };
    const first = cloneJob(source, jobIdentity, {});
    expect(first.metadata?.name).toBe(jobIdentity.runId);
    // An author's own copy of the annotation never says which attempt a Job is.
    expect(first.metadata?.annotations).not.toHaveProperty(['aks-job-runner.io/attempt']);
    const second = cloneJob(source, { ...jobIdentity, jobName: `${jobIdentity.runId}-2`, attempt: 2 }, {});
    expect(second.metadata?.name).toBe(`${jobIdentity.runId}-2`);
    expect(second.metadata?.annotations?.['aks-job-runner.io/attempt']).toBe('2');
    expect(second.metadata?.labels?.['aks-job-runner.io/run-id']).toBe(jobIdentity.runId);
    expect(second.spec?.template.metadata?.labels?.['aks-job-runner.io/run-id']).toBe(jobIdentity.runId);
    // A replayed submit of the attempt meets its own Job: the same run.
    expect(isSameRun(second, jobIdentity)).toBe(true);
  });

  it('strips every server-set field of the source', () => {
    const clone = cloneJob(sourceJob(), jobIdentity, overrides);
    expect(clone.metadata).not.toHaveProperty('uid');
    expect(clone.metadata).not.toHaveProperty('resourceVersion');
    expect(clone.metadata).not.toHaveProperty('creationTimestamp');
    expect(clone.metadata).not.toHaveProperty('generation');
    expect(clone.metadata).not.toHaveProperty('managedFields');
    expect(clone.metadata).not.toHaveProperty('deletionTimestamp');
    expect(clone.metadata).not.toHaveProperty('ownerReferences');
    expect(clone).not.toHaveProperty('status');
    expect(clone.spec).not.toHaveProperty('selector');
    expect(clone.spec).not.toHaveProperty('manualSelector');
    expect(clone.spec).not.toHaveProperty('suspend');
    expect(clone.metadata?.annotations).not.toHaveProperty([LAST_APPLIED]);
  });

  it.each(['controller-uid', 'batch.kubernetes.io/controller-uid', 'job-name', 'batch.kubernetes.io/job-name'])(
    'strips the %s label from the template and the Job',
    (label) => {
      const clone = cloneJob(sourceJob(), jobIdentity, overrides);
      expect(clone.spec?.template.metadata?.labels).not.toHaveProperty([label]);
      expect(clone.metadata?.labels).not.toHaveProperty([label]);
    },
  );

  it('names the clone after the run in the run namespace', () => {
    const clone = cloneJob(sourceJob(), jobIdentity, overrides);
    expect(clone.apiVersion).toBe('batch/v1');
    expect(clone.kind).toBe('Job');
    expect(clone.metadata?.name).toBe('nightly-abcdefghij');
    expect(clone.metadata?.namespace).toBe('batch');
  });

  it('keeps every field the author wrote', () => {
    const source = sourceJob();
    const clone = cloneJob(source, jobIdentity, overrides);
    const spec = clone.spec;
    const podSpec = spec?.template.spec;
    const sourcePodSpec = source.spec?.template.spec;
    expect(spec?.activeDeadlineSeconds).toBe(3600);
    expect(spec?.backoffLimit).toBe(4);
    expect(spec?.ttlSecondsAfterFinished).toBe(86400);
    expect(spec?.completions).toBe(3);
    expect(spec?.parallelism).toBe(2);
    expect(spec?.podFailurePolicy).toEqual({ rules: [{ action: 'FailJob', onExitCodes: { operator: 'In', values: [42] } }] });
    expect(podSpec?.restartPolicy).toBe('Never');
    expect(podSpec?.volumes).toEqual([{ name: 'secrets', secret: { secretName: 'nightly-secrets' } }]);
    expect(podSpec?.tolerations).toEqual([{ key: 'sku', operator: 'Equal', value: 'batch', effect: 'NoSchedule' }]);
    expect(podSpec?.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux', agentpool: 'batch' });
    expect(podSpec?.initContainers).toEqual(sourcePodSpec?.initContainers);
    expect(podSpec?.containers[0]?.resources).toEqual({ requests: { cpu: '500m', memory: '1Gi' }, limits: { memory: '2Gi' } });
    expect(podSpec?.containers[0]?.volumeMounts).toEqual([{ name: 'secrets', mountPath: '/secrets', readOnly: true }]);
    expect(podSpec?.containers[0]?.image).toBe('registry.example.com/nightly:1');
    expect(podSpec?.containers[1]).toEqual(sourcePodSpec?.containers[1]);
    expect(spec?.template.metadata?.annotations).toEqual({ 'prometheus.io/scrape': 'false' });
  });

  it('overlays env on the first container only, keeping other valueFrom entries', () => {
    const source = sourceJob();
    const clone = cloneJob(source, jobIdentity, { BATCH_DATE: '2026-11-23', EXTRA: 'yes' });
    expect(clone.spec?.template.spec?.containers[0]?.env).toEqual([
      { name: 'BATCH_DATE', value: '2026-11-23' },
      { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
      { name: 'MODE', value: 'full' },
      { name: 'EXTRA', value: 'yes' },
    ]);
    expect(clone.spec?.template.spec?.containers[1]?.env).toEqual([{ name: 'BATCH_DATE', value: 'sidecar' }]);
    expect(clone.spec?.template.spec?.initContainers?.[0]?.env).toEqual([{ name: 'BATCH_DATE', value: 'init' }]);
  });

  it('without overrides the first container env is the source env', () => {
    const clone = cloneJob(sourceJob(), jobIdentity, {});
    expect(clone.spec?.template.spec?.containers[0]?.env).toEqual(sourceJob().spec?.template.spec?.containers[0]?.env);
  });

  it('carries the run labels and the request-hash annotation next to the authored ones', () => {
    const clone = cloneJob(sourceJob(), { ...jobIdentity, startedBy: 'invocation-1' }, overrides);
    expect(clone.metadata?.labels).toEqual({
      team: 'finance',
      'app.kubernetes.io/managed-by': 'aks-job-runner',
      'aks-job-runner.io/run-id': 'nightly-abcdefghij',
      'aks-job-runner.io/source-kind': 'Job',
      'aks-job-runner.io/source-name': 'nightly',
    });
    expect(clone.metadata?.annotations).toEqual({
      'finance.example.com/owner': 'ops',
      'aks-job-runner.io/request-hash': 'hash-1',
      'aks-job-runner.io/started-by': 'invocation-1',
    });
    expect(clone.spec?.template.metadata?.labels).toEqual({
      app: 'nightly',
      'app.kubernetes.io/managed-by': 'aks-job-runner',
      'aks-job-runner.io/run-id': 'nightly-abcdefghij',
    });
  });

  it('a source without template labels still gets the run labels on its pods', () => {
    const source = sourceJob();
    if (source.spec) source.spec.template.metadata = undefined;
    const clone = cloneJob(source, jobIdentity, {});
    expect(clone.spec?.template.metadata?.labels).toEqual({
      'app.kubernetes.io/managed-by': 'aks-job-runner',
      'aks-job-runner.io/run-id': 'nightly-abcdefghij',
    });
  });

  it('a run label the author also set is overwritten with the run value', () => {
    const source = sourceJob();
    if (source.metadata?.labels) source.metadata.labels['app.kubernetes.io/managed-by'] = 'helm';
    expect(cloneJob(source, jobIdentity, {}).metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('aks-job-runner');
  });

  it('does not mutate the source Job', () => {
    const source = sourceJob();
    cloneJob(source, jobIdentity, overrides);
    expect(source).toEqual(sourceJob());
  });

  it('a source without spec is a BadRequestError', () => {
    const source: V1Job = { metadata: { name: 'nightly' } };
    expect(() => cloneJob(source, jobIdentity, {})).toThrow(BadRequestError);
    expect(() => cloneJob(source, jobIdentity, {})).toThrow('Job "nightly" has no spec to clone');
  });

  it('a source without containers is a BadRequestError', () => {
    const source = sourceJob();
    if (source.spec?.template.spec) source.spec.template.spec.containers = [];
    expect(() => cloneJob(source, jobIdentity, {})).toThrow('Job "nightly" has no containers to run');
  });
});

describe('scheduledJobFromCronJob', () => {
  const scheduled = { ...cronIdentity, runId: 'report-29000000' };

  it('builds a scheduled run as the CronJob controller does: the template, the scheduled timestamp, no instantiate: manual', () => {
    const job = scheduledJobFromCronJob(sourceCronJob(), scheduled, '2026-11-23T11:00:00+01:00');
    expect(job.metadata).toEqual({
      name: 'report-29000000',
      namespace: 'batch',
      labels: {
        team: 'reports',
        'app.kubernetes.io/managed-by': 'aks-job-runner',
        'aks-job-runner.io/run-id': 'report-29000000',
        'aks-job-runner.io/source-kind': 'CronJob',
        'aks-job-runner.io/source-name': 'report',
      },
      annotations: {
        'reports.example.com/kind': 'daily',
        'batch.kubernetes.io/cronjob-scheduled-timestamp': '2026-11-23T11:00:00+01:00',
        'aks-job-runner.io/request-hash': 'hash-1',
      },
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'report', uid: 'cron-uid', controller: true }],
    });
    expect(job.spec).toEqual(jobFromCronJob(sourceCronJob(), scheduled, {}).spec);
  });
});

describe('jobFromCronJob', () => {
  it('builds a manual run of the template as kubectl create job --from=cronjob does', () => {
    const job = jobFromCronJob(sourceCronJob(), cronIdentity, { FORMAT: 'csv' });
    expect(job).toEqual({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name: 'report-abcdefghij',
        namespace: 'batch',
        labels: {
          team: 'reports',
          'app.kubernetes.io/managed-by': 'aks-job-runner',
          'aks-job-runner.io/run-id': 'report-abcdefghij',
          'aks-job-runner.io/source-kind': 'CronJob',
          'aks-job-runner.io/source-name': 'report',
        },
        annotations: {
          'reports.example.com/kind': 'daily',
          'cronjob.kubernetes.io/instantiate': 'manual',
          'aks-job-runner.io/request-hash': 'hash-1',
        },
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'report', uid: 'cron-uid', controller: true }],
      },
      spec: {
        backoffLimit: 2,
        template: {
          metadata: { labels: { app: 'report', 'app.kubernetes.io/managed-by': 'aks-job-runner', 'aks-job-runner.io/run-id': 'report-abcdefghij' } },
          spec: {
            restartPolicy: 'OnFailure',
            containers: [{ name: 'report', image: 'registry.example.com/report:7', env: [{ name: 'FORMAT', value: 'csv' }] }],
          },
        },
      },
    });
  });

  // As kubectl create job --from writes it: the CronJob controller counts the run, and no finalizers permission is needed.
  it('the ownerReference to the CronJob is a controller reference without blockOwnerDeletion', () => {
    const owner = jobFromCronJob(sourceCronJob(), cronIdentity, {}).metadata?.ownerReferences?.[0];
    expect(owner).toMatchObject({ apiVersion: 'batch/v1', kind: 'CronJob', name: 'report', uid: 'cron-uid', controller: true });
    expect(owner).not.toHaveProperty('blockOwnerDeletion');
  });

  it('a CronJob without uid gets no ownerReference', () => {
    const cron = sourceCronJob();
    if (cron.metadata) cron.metadata.uid = undefined;
    expect(jobFromCronJob(cron, cronIdentity, {}).metadata).not.toHaveProperty('ownerReferences');
  });

  it('the template labels written by the API server are stripped', () => {
    const cron = sourceCronJob();
    const template = cron.spec.jobTemplate.spec?.template;
    if (template?.metadata?.labels) template.metadata.labels['batch.kubernetes.io/controller-uid'] = 'x';
    const labels = jobFromCronJob(cron, cronIdentity, {}).spec?.template.metadata?.labels;
    expect(labels).not.toHaveProperty(['batch.kubernetes.io/controller-uid']);
  });

  it('does not mutate the CronJob', () => {
    const cron = sourceCronJob();
    jobFromCronJob(cron, cronIdentity, { FORMAT: 'csv', NEW: 'x' });
    expect(cron).toEqual(sourceCronJob());
  });

  it('a CronJob without a jobTemplate spec is a BadRequestError', () => {
    const cron = sourceCronJob();
    cron.spec.jobTemplate.spec = undefined;
    expect(() => jobFromCronJob(cron, cronIdentity, {})).toThrow(BadRequestError);
    expect(() => jobFromCronJob(cron, cronIdentity, {})).toThrow('CronJob "report" has no jobTemplate to run');
  });
});

describe('fallbackJob', () => {
  const policy: FallbackPolicy = {
    images: [{ prefix: 'registry.example.com/', digest: false }],
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } },
    runAsUser: 65532,
  };
  const hardenedContainer = {
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } },
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
  };

  it('builds a hardened Job from image, command, args and the env overrides', () => {
    const job = fallbackJob(
      { image: 'registry.example.com/tool:3', command: ['/bin/tool'], args: ['--date', '2026-11-23'] },
      jobIdentity,
      { BATCH_DATE: '2026-11-23', COUNT: '3' },
      policy,
      3600,
    );
    expect(job).toEqual({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name: 'nightly-abcdefghij',
        namespace: 'batch',
        labels: {
          'app.kubernetes.io/managed-by': 'aks-job-runner',
          'aks-job-runner.io/run-id': 'nightly-abcdefghij',
          'aks-job-runner.io/source-kind': 'Job',
          'aks-job-runner.io/source-name': 'nightly',
        },
        annotations: { 'aks-job-runner.io/request-hash': 'hash-1' },
      },
      spec: {
        backoffLimit: 0,
        activeDeadlineSeconds: 3600,
        template: {
          // The fallback label is what infra/kubernetes/fallback-network-policy.yaml selects.
          metadata: { labels: { 'app.kubernetes.io/managed-by': 'aks-job-runner', 'aks-job-runner.io/run-id': 'nightly-abcdefghij', 'aks-job-runner.io/fallback': 'true' } },
          spec: {
            restartPolicy: 'Never',
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name: 'nightly',
                image: 'registry.example.com/tool:3',
                command: ['/bin/tool'],
                args: ['--date', '2026-11-23'],
                env: [
                  { name: 'BATCH_DATE', value: '2026-11-23' },
                  { name: 'COUNT', value: '3' },
                ],
                ...hardenedContainer,
              },
            ],
          },
        },
      },
    });
  });

  it('without command, args and overrides the container has a name, an image and the hardening', () => {
    const container = fallbackJob({ image: 'busybox:1.36' }, jobIdentity, {}, policy, 3600).spec?.template.spec?.containers[0];
    expect(container).toEqual({ name: 'nightly', image: 'busybox:1.36', ...hardenedContainer });
  });

  it('the container name is a DNS label even for a dotted upper-case source name', () => {
    const container = fallbackJob({ image: 'busybox:1.36' }, { ...jobIdentity, sourceName: 'Team.Nightly_Report' }, {}, policy, 3600).spec?.template.spec
      ?.containers[0];
    expect(container?.name).toBe('team-nightly-report');
  });
});

describe('withDeadline', () => {
  it('gives a Job without activeDeadlineSeconds the default one', () => {
    const source = sourceJob();
    if (source.spec) delete source.spec.activeDeadlineSeconds;
    expect(withDeadline(cloneJob(source, jobIdentity, {}), 86_400).spec?.activeDeadlineSeconds).toBe(86_400);
  });

  it("keeps the source's own activeDeadlineSeconds", () => {
    const source = sourceJob();
    if (source.spec) source.spec.activeDeadlineSeconds = 600;
    expect(withDeadline(cloneJob(source, jobIdentity, {}), 86_400).spec?.activeDeadlineSeconds).toBe(600);
  });
});

describe('isSameRun', () => {
  const created = () => cloneJob(sourceJob(), jobIdentity, {});

  it.each<{ name: string; existing: () => V1Job; expected: boolean }>([
    { name: 'the Job this run created', existing: created, expected: true },
    {
      name: 'a Job of another run id',
      existing: () => cloneJob(sourceJob(), { ...jobIdentity, runId: 'nightly-0000000000' }, {}),
      expected: false,
    },
    { name: 'a Job of another source kind', existing: () => cloneJob(sourceJob(), { ...jobIdentity, sourceKind: 'CronJob' }, {}), expected: false },
    { name: 'a Job with another request hash', existing: () => cloneJob(sourceJob(), { ...jobIdentity, requestHash: 'hash-2' }, {}), expected: false },
    {
      name: 'a Job not managed by this app',
      existing: () => {
        const job = created();
        if (job.metadata?.labels) job.metadata.labels['app.kubernetes.io/managed-by'] = 'helm';
        return job;
      },
      expected: false,
    },
    { name: 'a Job without labels or annotations', existing: () => ({ metadata: { name: 'nightly-abcdefghij' } }), expected: false },
  ])('$name is the same run: $expected', ({ existing, expected }) => {
    expect(isSameRun(existing(), jobIdentity)).toBe(expected);
  });
});
