import type { V1Container, V1CronJob, V1Deployment, V1PodSpec } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import type { HttpCall } from '../../src/core/cronjob-bodies.js';
import { cronJobFromDeployment, type CronJobSettings, curlArgs, httpCallCronJob } from '../../src/core/cronjob-spec.js';
import { BadRequestError } from '../../src/core/errors.js';
import { HTTP_CALL_ANNOTATION, SCHEDULER_LABEL, SOURCE_DEPLOYMENT_ANNOTATION } from '../../src/core/labels.js';

const settings: CronJobSettings = { name: 'nightly-report', namespace: 'batch', schedule: '30 2 * * *' };

/** A web Deployment as the API server hands it back, with every field the mapping decides about. */
function deployment(): V1Deployment {
  const main: V1Container = {
    name: 'web',
    image: 'registry.example.com/shop/web:4.2',
    imagePullPolicy: 'IfNotPresent',
    command: ['node', 'server.js'],
    args: ['--port', '8080'],
    workingDir: '/app',
    env: [{ name: 'MODE', value: 'serve' }, { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }],
    envFrom: [{ configMapRef: { name: 'shop-config' } }],
    resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '512Mi' } },
    volumeMounts: [{ name: 'cache', mountPath: '/cache' }],
    volumeDevices: [{ name: 'raw', devicePath: '/dev/xvda' }],
    securityContext: { runAsNonRoot: true, readOnlyRootFilesystem: true },
    terminationMessagePath: '/tmp/msg',
    terminationMessagePolicy: 'FallbackToLogsOnError',
    ports: [{ containerPort: 8080, name: 'http' }],
    livenessProbe: { httpGet: { path: '/live', port: 8080 } },
    readinessProbe: { httpGet: { path: '/ready', port: 8080 } },
    startupProbe: { httpGet: { path: '/started', port: 8080 } },
    lifecycle: { preStop: { exec: { command: ['sleep', '15'] } } },
    stdin: true,
    tty: true,
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'shop-web', namespace: 'batch', uid: 'd-uid', resourceVersion: '77', labels: { app: 'shop' } },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'shop', component: 'web' }, matchExpressions: [{ key: 'track', operator: 'In', values: ['stable'] }] },
      template: {
        metadata: {
          labels: { app: 'shop', component: 'web', track: 'stable', team: 'checkout' },
          annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-11-20T10:00:00Z', 'prometheus.io/scrape': 'true' },
        },
        spec: {
          initContainers: [
            { name: 'migrate', image: 'registry.example.com/shop/migrate:4.2', readinessProbe: { exec: { command: ['true'] } }, ports: [{ containerPort: 9000 }] },
            { name: 'proxy', image: 'registry.example.com/proxy:1', restartPolicy: 'Always' },
          ],
          containers: [main, { name: 'log-shipper', image: 'registry.example.com/fluent-bit:3' }],
          volumes: [{ name: 'cache', emptyDir: {} }],
          serviceAccountName: 'shop',
          automountServiceAccountToken: false,
          imagePullSecrets: [{ name: 'registry' }],
          nodeSelector: { pool: 'general' },
          tolerations: [{ key: 'spot', operator: 'Exists', effect: 'NoSchedule' }],
          affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['1'] }] }] } } },
          securityContext: { runAsUser: 1000, fsGroup: 2000 },
          priorityClassName: 'batch-low',
          runtimeClassName: 'kata',
          dnsPolicy: 'ClusterFirst',
          dnsConfig: { options: [{ name: 'ndots', value: '2' }] },
          hostAliases: [{ ip: '127.0.0.1', hostnames: ['local.shop'] }],
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 45,
          restartPolicy: 'Always',
          topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'shop' } } }],
          readinessGates: [{ conditionType: 'example.com/ready' }],
          hostNetwork: true,
          nodeName: 'node-7',
        },
      },
    },
  };
}

function mapped(overrides: Parameters<typeof cronJobFromDeployment>[2] = {}, s: CronJobSettings = settings): V1CronJob {
  return cronJobFromDeployment(deployment(), s, overrides);
}
function podSpec(cronJob: V1CronJob): V1PodSpec {
  const spec = cronJob.spec.jobTemplate.spec?.template.spec;
  if (!spec) throw new Error('no pod spec');
  return spec;
}
function container(cronJob: V1CronJob): V1Container {
  const first = podSpec(cronJob).containers[0];
  if (!first) throw new Error('no container');
  return first;
}

describe('cronJobFromDeployment: the container that runs', () => {
  const source = deployment().spec?.template.spec?.containers[0] as V1Container;
  it.each(
    (['name', 'image', 'imagePullPolicy', 'command', 'args', 'workingDir', 'env', 'envFrom', 'resources', 'volumeMounts', 'volumeDevices', 'securityContext', 'terminationMessagePath', 'terminationMessagePolicy'] as const).map((field) => ({ field })),
  )('copies $field', ({ field }) => {
    expect(container(mapped())[field]).toEqual(source[field]);
  });

  it.each(
    (['ports', 'livenessProbe', 'readinessProbe', 'startupProbe', 'lifecycle', 'stdin', 'tty'] as const).map((field) => ({ field })),
  )('leaves out $field', ({ field }) => {
    expect(source[field]).toBeDefined();
    expect(container(mapped())).not.toHaveProperty(field);
  });

  it('runs only the chosen container: the first by default, not the sidecars beside it', () => {
    expect(podSpec(mapped()).containers.map((c) => c.name)).toEqual(['web']);
    expect(podSpec(mapped({ container: 'log-shipper' })).containers.map((c) => c.name)).toEqual(['log-shipper']);
  });

  it('refuses a container the Deployment does not have, naming the ones it has', () => {
    expect(() => mapped({ container: 'worker' })).toThrow(BadRequestError);
    expect(() => mapped({ container: 'worker' })).toThrow('container: Deployment "shop-web" has no container "worker"; it has "web", "log-shipper"');
  });

  interface CommandCase {
    name: string;
    overrides: { command?: string[]; args?: string[] };
    command: string[] | undefined;
    args: string[] | undefined;
  }
  // The Deployment runs `node server.js --port 8080`.
  it.each<CommandCase>([
    { name: 'no override keeps the Deployment’s command and args', overrides: {}, command: ['node', 'server.js'], args: ['--port', '8080'] },
    { name: 'command and args both replace', overrides: { command: ['node', 'report.js'], args: ['--day', 'yesterday'] }, command: ['node', 'report.js'], args: ['--day', 'yesterday'] },
    { name: 'a command alone drops the Deployment’s args (they were written for its command)', overrides: { command: ['node', 'report.js'] }, command: ['node', 'report.js'], args: undefined },
    { name: 'a command with empty args runs the command bare', overrides: { command: ['node', 'report.js'], args: [] }, command: ['node', 'report.js'], args: [] },
    { name: 'args alone keep the Deployment’s command', overrides: { args: ['--once'] }, command: ['node', 'server.js'], args: ['--once'] },
  ])('$name', ({ overrides, command, args }) => {
    const c = container(mapped(overrides));
    expect(c.command).toEqual(command);
    expect(c.args).toEqual(args);
    if (args === undefined) expect(c).not.toHaveProperty('args');
  });

  it('overlays env overrides by name, keeping order, appending new names and keeping secret references', () => {
    expect(container(mapped({ env: { MODE: 'report', REPORT_DAY: 'yesterday' } })).env).toEqual([
      { name: 'MODE', value: 'report' },
      { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
      { name: 'REPORT_DAY', value: 'yesterday' },
    ]);
  });

  it('does not change the Deployment it was given', () => {
    const source = deployment();
    cronJobFromDeployment(source, settings, { command: ['x'], env: { MODE: 'y' } });
    expect(source).toEqual(deployment());
  });

  it('keeps init containers (sidecars too) without their probes and ports', () => {
    expect(podSpec(mapped()).initContainers).toEqual([
      { name: 'migrate', image: 'registry.example.com/shop/migrate:4.2' },
      { name: 'proxy', image: 'registry.example.com/proxy:1', restartPolicy: 'Always' },
    ]);
  });

  it('refuses a Deployment without containers', () => {
    const empty = deployment();
    if (empty.spec?.template.spec) empty.spec.template.spec.containers = [];
    expect(() => cronJobFromDeployment(empty, settings)).toThrow('Deployment "shop-web" has no containers to run');
  });
});

describe('cronJobFromDeployment: the pod', () => {
  const source = deployment().spec?.template.spec as V1PodSpec;
  it.each(
    ([
      'volumes',
      'serviceAccountName',
      'automountServiceAccountToken',
      'imagePullSecrets',
      'nodeSelector',
      'tolerations',
      'affinity',
      'securityContext',
      'priorityClassName',
      'runtimeClassName',
      'dnsPolicy',
      'dnsConfig',
      'hostAliases',
      'enableServiceLinks',
      'terminationGracePeriodSeconds',
    ] as const).map((field) => ({ field })),
  )('copies $field', ({ field }) => {
    expect(podSpec(mapped())[field]).toEqual(source[field]);
  });

  it.each((['topologySpreadConstraints', 'readinessGates', 'hostNetwork', 'nodeName'] as const).map((field) => ({ field })))('leaves out $field', ({ field }) => {
    expect(source[field]).toBeDefined();
    expect(podSpec(mapped())).not.toHaveProperty(field);
  });

  it('takes the service account from the deprecated serviceAccount field of old manifests', () => {
    const old = deployment();
    const spec = old.spec?.template.spec as V1PodSpec;
    delete spec.serviceAccountName;
    spec.serviceAccount = 'legacy';
    expect(podSpec(cronJobFromDeployment(old, settings)).serviceAccountName).toBe('legacy');
  });

  it.each([
    { name: 'restarts OnFailure by default, not Always as a Deployment', given: undefined, expected: 'OnFailure' },
    { name: 'restarts Never when asked', given: 'Never' as const, expected: 'Never' },
  ])('$name', ({ given, expected }) => {
    expect(podSpec(mapped({}, { ...settings, restartPolicy: given })).restartPolicy).toBe(expected);
  });

  it("leaves the Deployment's selector labels off the pod (its Services would send it traffic) and keeps the others", () => {
    expect(mapped().spec.jobTemplate.spec?.template.metadata?.labels).toEqual({ team: 'checkout' });
  });

  it('keeps pod annotations but not the rollout ones', () => {
    expect(mapped().spec.jobTemplate.spec?.template.metadata?.annotations).toEqual({ 'prometheus.io/scrape': 'true' });
  });
});

describe('cronJobFromDeployment: the CronJob', () => {
  it('records the source Deployment in an annotation and takes none of its own metadata', () => {
    const cronJob = mapped();
    expect(cronJob.metadata).toEqual({ name: 'nightly-report', namespace: 'batch', annotations: { [SOURCE_DEPLOYMENT_ANNOTATION]: 'shop-web' } });
  });

  it('is Forbid by default and leaves every other policy to the API server', () => {
    const cronJob = mapped();
    expect(cronJob.spec).toEqual({ schedule: '30 2 * * *', concurrencyPolicy: 'Forbid', jobTemplate: cronJob.spec.jobTemplate });
    expect(Object.keys(cronJob.spec.jobTemplate.spec ?? {})).toEqual(['template']);
  });

  it('carries every setting it is given to its place', () => {
    const cronJob = mapped(
      {},
      {
        ...settings,
        timeZone: 'Europe/Amsterdam',
        concurrencyPolicy: 'Replace',
        startingDeadlineSeconds: 300,
        successfulJobsHistoryLimit: 5,
        failedJobsHistoryLimit: 2,
        suspend: true,
        backoffLimit: 2,
        activeDeadlineSeconds: 3600,
        ttlSecondsAfterFinished: 86400,
      },
    );
    expect(cronJob.spec).toMatchObject({
      schedule: '30 2 * * *',
      timeZone: 'Europe/Amsterdam',
      concurrencyPolicy: 'Replace',
      startingDeadlineSeconds: 300,
      successfulJobsHistoryLimit: 5,
      failedJobsHistoryLimit: 2,
      suspend: true,
      jobTemplate: { spec: { backoffLimit: 2, activeDeadlineSeconds: 3600, ttlSecondsAfterFinished: 86400 } },
    });
  });

  it('handed to the app scheduler at creation: labelled and suspended, so the cluster does not fire it too', () => {
    const cronJob = mapped({}, { ...settings, scheduler: 'app' });
    expect(cronJob.metadata?.labels).toEqual({ [SCHEDULER_LABEL]: 'app' });
    expect(cronJob.spec.suspend).toBe(true);
  });
});

describe('httpCallCronJob', () => {
  const call: HttpCall = {
    url: 'https://jobs.example.net/api/jobs/batch/report/runs',
    method: 'POST',
    body: { REPORT_DAY: 'yesterday' },
    headers: { 'X-Source': 'nightly' },
    keySecretRef: { name: 'fn-keys', key: 'default' },
  };
  const cronJob = httpCallCronJob(call, settings, 'curlimages/curl:8.11.1');
  const c = cronJob.spec.jobTemplate.spec?.template.spec?.containers[0] as V1Container;

  it('runs one curl container of the configured image', () => {
    expect(cronJob.spec.jobTemplate.spec?.template.spec?.containers).toHaveLength(1);
    expect(c).toMatchObject({ name: 'http-call', image: 'curlimages/curl:8.11.1', command: ['curl'] });
  });

  it('reads the function key from the Secret through valueFrom, and the key is nowhere in the manifest', () => {
    expect(c.env).toEqual([{ name: 'FUNCTION_KEY', valueFrom: { secretKeyRef: { name: 'fn-keys', key: 'default' } } }]);
    expect(c.args).toEqual(expect.arrayContaining(['--variable', '%FUNCTION_KEY', '--expand-header', 'x-functions-key: {{FUNCTION_KEY}}']));
  });

  it('fails on an HTTP error but logs the answer, retries, bounds the time, and logs the status line', () => {
    expect(c.args?.slice(0, 13)).toEqual([
      '--silent',
      '--show-error',
      '--fail-with-body',
      '--retry',
      '3',
      '--connect-timeout',
      '30',
      '--max-time',
      '60',
      '--request',
      'POST',
      '--write-out',
      '\\nHTTP %{http_code} in %{time_total}s\\n',
    ]);
  });

  it('sends the headers, a JSON body with its content type, and the URL last, as it is: curl does not expand [] or {} in it into more requests', () => {
    expect(c.args?.slice(17)).toEqual([
      '--header',
      'X-Source: nightly',
      '--header',
      'Content-Type: application/json',
      '--data-raw',
      '{"REPORT_DAY":"yesterday"}',
      '--globoff',
      '--url',
      'https://jobs.example.net/api/jobs/batch/report/runs',
    ]);
  });

  it('records the call in an annotation and does not rerun curl through the Job (curl retries)', () => {
    expect(cronJob.metadata?.annotations).toEqual({ [HTTP_CALL_ANNOTATION]: 'POST https://jobs.example.net/api/jobs/batch/report/runs' });
    expect(cronJob.spec.jobTemplate.spec?.backoffLimit).toBe(0);
    expect(cronJob.spec.jobTemplate.spec?.template.spec?.restartPolicy).toBe('Never');
  });

  it('runs unprivileged, without a service account token', () => {
    expect(c.securityContext).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(cronJob.spec.jobTemplate.spec?.template.spec?.automountServiceAccountToken).toBe(false);
  });

  it.each([
    { name: 'a string body as it is, with the caller’s content type', call: { url: 'https://x.example/a', method: 'PUT' as const, body: 'a=1', headers: { 'content-type': 'text/plain' } }, tail: ['--header', 'content-type: text/plain', '--data-raw', 'a=1', '--globoff', '--url', 'https://x.example/a'] },
    { name: 'no key options without keySecretRef', call: { url: 'https://x.example/a', method: 'GET' as const }, tail: ['--globoff', '--url', 'https://x.example/a'] },
    { name: "a literal $( escaped from Kubernetes' $(VAR) expansion", call: { url: 'https://x.example/a?q=$(HOME)', method: 'POST' as const, body: '$(SECRET)' }, tail: ['--data-raw', '$$(SECRET)', '--globoff', '--url', 'https://x.example/a?q=$$(HOME)'] },
  ])('$name', ({ call: given, tail }) => {
    const args = curlArgs(given, false);
    expect(args.slice(args.length - tail.length)).toEqual(tail);
    expect(args).not.toContain('--variable');
  });

  it('honours the call’s own time-out and retries', () => {
    const args = curlArgs({ url: 'https://x.example/a', method: 'POST', timeoutSeconds: 10, retries: 0 }, false);
    expect(args.slice(3, 9)).toEqual(['--retry', '0', '--connect-timeout', '10', '--max-time', '10']);
  });

  it('refuses a GET with a body', () => {
    expect(() => httpCallCronJob({ url: 'https://x.example/a', method: 'GET', body: 'x' }, settings, 'curl')).toThrow('httpCall.body: a GET request carries no body');
  });
});
