import type { V1Container, V1CronJob, V1Deployment, V1EnvVar, V1JobSpec, V1LabelSelector, V1PodSpec, V1PodTemplateSpec } from '@kubernetes/client-node';

import { overlayEnv } from './clone.js';
import { CONSENT_ANNOTATIONS } from './consent.js';
import type { CreateCronJobBody, HttpCall, Scheduler } from './cronjob-bodies.js';
import { BadRequestError } from './errors.js';
import { HTTP_CALL_ANNOTATION, SCHEDULER_APP, SCHEDULER_LABEL, SOURCE_DEPLOYMENT_ANNOTATION } from './labels.js';

/** The env var of the curl container that holds the function key, from the Secret. */
export const FUNCTION_KEY_ENV = 'FUNCTION_KEY';
export const HTTP_CALL_CONTAINER = 'http-call';
export const DEFAULT_HTTP_TIMEOUT_SECONDS = 60;
export const DEFAULT_HTTP_RETRIES = 3;

/**
 * Container fields a batch run keeps. Everything else is left out: probes (a Job's pod is not a server, a
 * failing liveness probe would kill a healthy batch run), ports (nothing connects to a batch pod), lifecycle
 * hooks (a preStop drain or postStart warm-up is about serving traffic), stdin/tty.
 */
const CONTAINER_FIELDS = [
  'name',
  'image',
  'imagePullPolicy',
  'command',
  'args',
  'workingDir',
  'env',
  'envFrom',
  'resources',
  'volumeMounts',
  'volumeDevices',
  'securityContext',
  'terminationMessagePath',
  'terminationMessagePolicy',
] as const satisfies readonly (keyof V1Container)[];

/**
 * Pod fields a batch run keeps: what the app needs to run (identity, secrets, volumes, placement, security).
 * Left out: restartPolicy (a Job's is OnFailure or Never), topologySpreadConstraints and readinessGates (they
 * are about the Deployment's replicas and Services), host networking and a fixed nodeName.
 */
const POD_FIELDS = [
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
] as const satisfies readonly (keyof V1PodSpec)[];

/** Pod-template annotations that describe the Deployment's rollouts, not the workload. */
const ROLLOUT_ANNOTATIONS = ['kubectl.kubernetes.io/restartedAt', 'deployment.kubernetes.io/revision'];

/** The CronJob settings of a create body, with the schedule already resolved from a preset if need be. */
export interface CronJobSettings {
  name: string;
  namespace: string;
  schedule: string;
  timeZone?: string | undefined;
  concurrencyPolicy?: 'Allow' | 'Forbid' | 'Replace' | undefined;
  startingDeadlineSeconds?: number | undefined;
  successfulJobsHistoryLimit?: number | undefined;
  failedJobsHistoryLimit?: number | undefined;
  ttlSecondsAfterFinished?: number | undefined;
  backoffLimit?: number | undefined;
  activeDeadlineSeconds?: number | undefined;
  restartPolicy?: 'OnFailure' | 'Never' | undefined;
  scheduler?: Scheduler | undefined;
  suspend?: boolean | undefined;
}

/**
 * `defaultDeadlineSeconds` (JOB_ACTIVE_DEADLINE_SECONDS) is the Jobs' activeDeadlineSeconds when the body sets
 * none: a Job the cluster fires from the CronJob ends like every Job the app creates.
 */
export function settingsOf(body: CreateCronJobBody, namespace: string, schedule: string, defaultDeadlineSeconds: number): CronJobSettings {
  return {
    name: body.name,
    namespace,
    schedule,
    timeZone: body.timeZone,
    concurrencyPolicy: body.concurrencyPolicy,
    startingDeadlineSeconds: body.startingDeadlineSeconds,
    successfulJobsHistoryLimit: body.successfulJobsHistoryLimit,
    failedJobsHistoryLimit: body.failedJobsHistoryLimit,
    ttlSecondsAfterFinished: body.ttlSecondsAfterFinished,
    backoffLimit: body.backoffLimit,
    activeDeadlineSeconds: body.activeDeadlineSeconds ?? defaultDeadlineSeconds,
    restartPolicy: body.restartPolicy,
    scheduler: body.scheduler,
    suspend: body.suspend,
  };
}

function pick<T extends object, K extends keyof T>(source: T, keys: readonly K[]): Pick<T, K> {
  const out: Partial<Pick<T, K>> = {};
  for (const key of keys) if (source[key] !== undefined) out[key] = structuredClone(source[key]);
  return out as Pick<T, K>;
}

function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** Label keys the Deployment's selector uses: on a batch pod they would make its Services send it traffic. */
function selectorKeys(selector: V1LabelSelector | undefined): Set<string> {
  return new Set([...Object.keys(selector?.matchLabels ?? {}), ...(selector?.matchExpressions ?? []).map((e) => e.key)]);
}

function without(record: Record<string, string> | undefined, drop: (key: string) => boolean): Record<string, string> | undefined {
  if (!record) return undefined;
  const kept = Object.fromEntries(Object.entries(record).filter(([key]) => !drop(key)));
  return Object.keys(kept).length > 0 ? kept : undefined;
}

function batchContainer(container: V1Container): V1Container {
  return pick(container, CONTAINER_FIELDS);
}

/** The CronJob around a pod template: schedule, policies, the Job's limits and where it came from. */
function wrap(settings: CronJobSettings, template: V1PodTemplateSpec, annotations: Record<string, string>, jobDefaults: Partial<V1JobSpec> = {}): V1CronJob {
  const scheduler = settings.scheduler ?? 'cluster';
  const jobSpec: V1JobSpec = defined({
    ...jobDefaults,
    ...defined({
      backoffLimit: settings.backoffLimit,
      activeDeadlineSeconds: settings.activeDeadlineSeconds,
      ttlSecondsAfterFinished: settings.ttlSecondsAfterFinished,
    }),
    template,
  });
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: {
      name: settings.name,
      namespace: settings.namespace,
      ...(scheduler === 'app' ? { labels: { [SCHEDULER_LABEL]: SCHEDULER_APP } } : {}),
      annotations,
    },
    spec: defined({
      schedule: settings.schedule,
      timeZone: settings.timeZone,
      concurrencyPolicy: settings.concurrencyPolicy ?? 'Forbid',
      startingDeadlineSeconds: settings.startingDeadlineSeconds,
      successfulJobsHistoryLimit: settings.successfulJobsHistoryLimit,
      failedJobsHistoryLimit: settings.failedJobsHistoryLimit,
      // The app's scheduler fires only suspended CronJobs, so the cluster never fires them too.
      suspend: scheduler === 'app' ? true : settings.suspend,
      jobTemplate: { spec: jobSpec },
    }),
  };
}

export interface ContainerOverrides {
  /** Which of the Deployment's containers to run; the first by default. */
  container?: string | undefined;
  command?: string[] | undefined;
  args?: string[] | undefined;
  env?: Readonly<Record<string, string>> | undefined;
}

/**
 * A CronJob that runs a Deployment's workload on a schedule. Only the chosen container runs (the others of a
 * Deployment are sidecars that never exit, so a Job with them would never finish); init containers stay,
 * with the same fields as the main one, since the app may need what they prepare. The Deployment's selector
 * labels are left off the pod, so its Services do not route requests to batch pods. The source Deployment is
 * recorded in an annotation.
 */
export function cronJobFromDeployment(deployment: V1Deployment, settings: CronJobSettings, overrides: ContainerOverrides = {}): V1CronJob {
  const deploymentName = deployment.metadata?.name ?? '';
  const podSpec = deployment.spec?.template.spec;
  const containers = podSpec?.containers ?? [];
  const chosen = overrides.container === undefined ? containers[0] : containers.find((c) => c.name === overrides.container);
  if (!podSpec || !chosen) {
    const names = containers.map((c) => `"${c.name}"`).join(', ');
    throw new BadRequestError(
      overrides.container === undefined
        ? `Deployment "${deploymentName}" has no containers to run`
        : `container: Deployment "${deploymentName}" has no container "${overrides.container}"; it has ${names}`,
    );
  }
  const main = batchContainer(chosen);
  // A new command is a new program: the Deployment's args were written for its own command (nginx's
  // `-g "daemon off;"`), so they go with it unless args are given too, as when a pod's command replaces an
  // image's ENTRYPOINT and its CMD is dropped.
  if (overrides.command) {
    main.command = [...overrides.command];
    delete main.args;
  }
  if (overrides.args) main.args = [...overrides.args];
  if (overrides.env && Object.keys(overrides.env).length > 0) main.env = overlayEnv(main.env, overrides.env);

  const spec: V1PodSpec = {
    ...pick(podSpec, POD_FIELDS),
    // The deprecated alias still names the account on old manifests.
    ...(podSpec.serviceAccountName === undefined && podSpec.serviceAccount !== undefined ? { serviceAccountName: podSpec.serviceAccount } : {}),
    ...(podSpec.initContainers?.length ? { initContainers: podSpec.initContainers.map((c) => ({ ...batchContainer(c), ...pick(c, ['restartPolicy']) })) } : {}),
    restartPolicy: settings.restartPolicy ?? 'OnFailure',
    containers: [main],
  };
  const keys = selectorKeys(deployment.spec?.selector);
  const templateMeta = deployment.spec?.template.metadata;
  const labels = without(templateMeta?.labels, (key) => keys.has(key));
  const annotations = without(templateMeta?.annotations, (key) => ROLLOUT_ANNOTATIONS.includes(key));
  const template: V1PodTemplateSpec = {
    ...(labels || annotations ? { metadata: defined({ labels, annotations }) } : {}),
    spec,
  };
  // The Deployment's consent goes with its workload, so later edits and runs of the CronJob ask the same.
  const consent = Object.fromEntries(CONSENT_ANNOTATIONS.flatMap((key) => {
    const value = deployment.metadata?.annotations?.[key];
    return value === undefined ? [] : [[key, value]];
  }));
  return wrap(settings, template, { ...consent, [SOURCE_DEPLOYMENT_ANNOTATION]: deploymentName });
}

/** Kubernetes expands `$(VAR)` in command and args; `$$` is its escape for a literal `$`. */
function literal(value: string): string {
  return value.replaceAll('$', '$$$$');
}

/** The request body as curl sends it, and the content type it implies when the caller set none. */
function bodyOf(call: HttpCall): { data: string; json: boolean } | undefined {
  if (call.body === undefined) return undefined;
  if (typeof call.body === 'string') return { data: call.body, json: false };
  return { data: JSON.stringify(call.body), json: true };
}

/**
 * The arguments of the curl run: fail on an HTTP error but print the answer's body (`--fail-with-body`), retry
 * what curl deems transient, bound each attempt, and end with a line giving the status and time, so the run's
 * result and the endpoint's answer are in its log. The function key comes from the container's environment
 * through curl's own variables (`--variable %VAR`, `--expand-header`), so it is in neither the manifest nor the
 * process's arguments. The URL is taken as it is (`--globoff`), one request to the address that was checked.
 */
export function curlArgs(call: HttpCall, hasKey: boolean): string[] {
  const timeout = call.timeoutSeconds ?? DEFAULT_HTTP_TIMEOUT_SECONDS;
  const args = [
    '--silent',
    '--show-error',
    '--fail-with-body',
    '--retry',
    String(call.retries ?? DEFAULT_HTTP_RETRIES),
    '--connect-timeout',
    String(Math.min(timeout, 30)),
    '--max-time',
    String(timeout),
    '--request',
    call.method,
    '--write-out',
    '\\nHTTP %{http_code} in %{time_total}s\\n',
  ];
  if (hasKey) args.push('--variable', `%${FUNCTION_KEY_ENV}`, '--expand-header', `x-functions-key: {{${FUNCTION_KEY_ENV}}}`);
  const headers = call.headers ?? {};
  for (const [name, value] of Object.entries(headers)) args.push('--header', literal(`${name}: ${value}`));
  const body = bodyOf(call);
  if (body) {
    const typed = Object.keys(headers).some((name) => name.toLowerCase() === 'content-type');
    if (body.json && !typed) args.push('--header', 'Content-Type: application/json');
    args.push('--data-raw', literal(body.data));
  }
  // Without --globoff curl would read [1-1000] or {a,b} in the URL as a list of URLs to call.
  args.push('--globoff', '--url', literal(call.url));
  return args;
}

/**
 * A CronJob whose one container calls an HTTP endpoint with curl (image pinned by a setting). The key is read
 * from a Secret through `valueFrom`. curl retries by itself, so the Job does not run it again by default
 * (backoffLimit 0): each Job retry would repeat every curl attempt. Its restart policy defaults to Never, so a
 * failed call's pod, and the answer in its log, stays for a look.
 */
export function httpCallCronJob(call: HttpCall, settings: CronJobSettings, image: string): V1CronJob {
  if (call.body !== undefined && call.method === 'GET') throw new BadRequestError('httpCall.body: a GET request carries no body; use POST or PUT');
  const env: V1EnvVar[] = call.keySecretRef
    ? [{ name: FUNCTION_KEY_ENV, valueFrom: { secretKeyRef: { name: call.keySecretRef.name, key: call.keySecretRef.key } } }]
    : [];
  const container: V1Container = {
    name: HTTP_CALL_CONTAINER,
    image,
    command: ['curl'],
    args: curlArgs(call, call.keySecretRef !== undefined),
    ...(env.length > 0 ? { env } : {}),
    resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 65534,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
  };
  const template: V1PodTemplateSpec = {
    spec: { restartPolicy: settings.restartPolicy ?? 'Never', automountServiceAccountToken: false, containers: [container] },
  };
  return wrap(settings, template, { [HTTP_CALL_ANNOTATION]: `${call.method} ${call.url}` }, { backoffLimit: 0 });
}
