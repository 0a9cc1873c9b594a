import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';
import { AdmissionregistrationV1Api, AppsV1Api, type V1CronJob, type V1Deployment } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { loadConfig } from '../../src/config.js';
import { ALLOW_COMMAND_ANNOTATION, ALLOW_ENV_ANNOTATION, HTTP_CALL_KEY_SECRET_PREFIX } from '../../src/core/consent.js';
import { SCHEDULER_LABEL, SOURCE_DEPLOYMENT_ANNOTATION } from '../../src/core/labels.js';
import { createCronJob } from '../../src/functions/createCronJob.js';
import { deleteCronJob } from '../../src/functions/deleteCronJob.js';
import { getCronJob } from '../../src/functions/getCronJob.js';
import { listCronJobs } from '../../src/functions/listCronJobs.js';
import { listDeployments } from '../../src/functions/listDeployments.js';
import { updateCronJob } from '../../src/functions/updateCronJob.js';
import { createServices, setServices } from '../../src/services.js';
import { fails, type PodFate, succeeds } from '../../testenv/fates.js';
import { adminKube, useNamespace, waitFor } from './helpers.js';

/** CronJob management against the real control plane: its validation, defaults, 409s and CronJob controller. */
const ns = useNamespace('cronjobs');
const kube = adminKube();
const apps = kube.kc.makeApiClient(AppsV1Api);
const admission = kube.kc.makeApiClient(AdmissionregistrationV1Api);
const context = () => new InvocationContext({ functionName: 'it', invocationId: 'inv-it', logHandler: () => undefined });
const BASE = 'http://127.0.0.1:7071/api';

/** A body sent as it is, not as JSON. */
class Raw {
  constructor(readonly text: string) {}
}
const RAW = (text: string) => new Raw(text);

type Handler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

async function call(
  handler: Handler,
  method: string,
  path: string,
  params: Record<string, string>,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Record<string, string> }> {
  const request = new HttpRequest({
    method,
    url: `${BASE}/${path}`,
    params,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: { string: body instanceof Raw ? body.text : JSON.stringify(body) } }),
  });
  const response = await handler(request, context());
  return {
    status: response.status ?? 200,
    body: (response.jsonBody ?? {}) as Record<string, unknown>,
    headers: (response.headers ?? {}) as Record<string, string>,
  };
}

const create = (body: unknown, query = '') => call(createCronJob, 'POST', `cronjobs/${ns()}${query}`, { namespace: ns() }, body);
const getOne = (name: string) => call(getCronJob, 'GET', `cronjobs/${ns()}/${name}`, { namespace: ns(), name });
const patch = (name: string, body: unknown, headers: Record<string, string> = {}) =>
  call(updateCronJob, 'PATCH', `cronjobs/${ns()}/${name}`, { namespace: ns(), name }, body, headers);
const remove = (name: string) => call(deleteCronJob, 'DELETE', `cronjobs/${ns()}/${name}`, { namespace: ns(), name });

/** A web Deployment as a team would write it: probes, ports, selector labels, a Secret-backed env var. */
function deployment(name: string, fate: PodFate, annotations?: Record<string, string>): V1Deployment {
  return {
    metadata: { name, namespace: ns(), ...(annotations ? { annotations } : {}) },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, tier: 'batch-capable', ...fate.labels }, annotations: fate.annotations },
        spec: {
          serviceAccountName: 'default',
          containers: [
            {
              name: 'web',
              image: 'busybox:1.36',
              command: ['sh', '-c', 'httpd -f'],
              env: [{ name: 'MODE', value: 'serve' }],
              ports: [{ containerPort: 8080 }],
              readinessProbe: { httpGet: { path: '/healthz', port: 8080 } },
              livenessProbe: { httpGet: { path: '/healthz', port: 8080 } },
              resources: { requests: { cpu: '50m', memory: '32Mi' } },
            },
          ],
        },
      },
    },
  };
}

async function cronJobExists(name: string): Promise<boolean> {
  return kube.batch.readNamespacedCronJob({ name, namespace: ns() }).then(
    () => true,
    () => false,
  );
}

const KEY_SECRET = `${HTTP_CALL_KEY_SECRET_PREFIX}fn-key`;

const policyName = () => `refuse-${ns()}`;

beforeAll(async () => {
  setServices(
    createServices(
      loadConfig({
        CLUSTERS: JSON.stringify([{ alias: 'local', type: 'kubeconfig', kubeconfigPath: inject('kubeconfigPath'), namespaces: [ns()] }]),
        HTTP_CALL_ALLOWED_URLS: 'https://reports.example.net/api/',
      }),
    ),
  );
  await apps.createNamespacedDeployment({ namespace: ns(), body: deployment('web', succeeds({ runFor: '1s' }), { [ALLOW_COMMAND_ANNOTATION]: 'true', [ALLOW_ENV_ANNOTATION]: 'EXTRA' }) });
  await apps.createNamespacedDeployment({ namespace: ns(), body: deployment('flaky', fails({ runFor: '1s' })) });
  await apps.createNamespacedDeployment({ namespace: ns(), body: deployment('slow', succeeds({ runFor: '1h' })) });
});

afterAll(async () => {
  await admission.deleteValidatingAdmissionPolicyBinding({ name: policyName() }).catch(() => undefined);
  await admission.deleteValidatingAdmissionPolicy({ name: policyName() }).catch(() => undefined);
});

describe('CronJob management on a real control plane', () => {
  it('lists the Deployments a CronJob can be made from, with their containers and env names', async () => {
    const response = await call(listDeployments, 'GET', `deployments?namespace=${ns()}`, {});
    expect(response.status).toBe(200);
    const items = response.body.items as { name: string; containers: unknown[] }[];
    expect(items.map((i) => i.name).sort()).toEqual(['flaky', 'slow', 'web']);
    expect(items.find((i) => i.name === 'web')?.containers).toEqual([{ name: 'web', image: 'busybox:1.36', env: ['MODE'], referencedEnv: [], commandEnv: [] }]);
  });

  it('a dry run answers the manifest as the API server would store it, and stores nothing', async () => {
    const response = await create({ name: 'dry', fromDeployment: 'web', preset: 'daily', at: '02:30', timeZone: 'Europe/Amsterdam' }, '?dryRun=true');
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    const manifest = response.body.cronJob as V1CronJob;
    // Defaults only the API server fills in: proof the dry run went through it.
    expect(manifest.spec.successfulJobsHistoryLimit).toBe(3);
    expect(manifest.spec.jobTemplate.spec?.template.spec?.containers[0]?.terminationMessagePath).toBe('/dev/termination-log');
    expect(manifest.spec).toMatchObject({ schedule: '30 2 * * *', timeZone: 'Europe/Amsterdam', concurrencyPolicy: 'Forbid' });
    expect(manifest.spec.jobTemplate.spec?.template.spec?.containers[0]?.readinessProbe).toBeUndefined();
    expect((response.body.preview as { description: string }).description).toContain('02:30');
    expect(manifest.metadata?.managedFields).toBeUndefined();
    expect(await cronJobExists('dry')).toBe(false);
  });

  it('creates from a Deployment; the cluster runs it on schedule and its runs show with the right result', async () => {
    const ok = await create({ name: 'every-minute', fromDeployment: 'web', schedule: '* * * * *', command: ['sh', '-c', 'echo batch'], restartPolicy: 'Never', backoffLimit: 0 });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    const bad = await create({ name: 'every-minute-fails', fromDeployment: 'flaky', schedule: '* * * * *', restartPolicy: 'Never', backoffLimit: 0 });
    expect(bad.status, JSON.stringify(bad.body)).toBe(201);
    const stored = await kube.batch.readNamespacedCronJob({ name: 'every-minute', namespace: ns() });
    expect(stored.metadata?.annotations?.[SOURCE_DEPLOYMENT_ANNOTATION]).toBe('web');
    expect(stored.spec.jobTemplate.spec?.template.metadata?.labels).toEqual({ tier: 'batch-capable' });

    const finished = async (name: string) =>
      waitFor(
        `a finished run of ${name}`,
        async () => {
          const detail = (await getOne(name)).body as { latestRuns: { status: string }[] };
          const run = detail.latestRuns[0];
          return run && run.status !== 'Running' && run.status !== 'Starting' ? detail : undefined;
        },
        90_000,
        1000,
      );
    expect((await create({ name: 'every-minute-slow', fromDeployment: 'slow', schedule: '* * * * *' })).status).toBe(201);
    const active = waitFor(
      'an active run of every-minute-slow',
      async () => {
        const detail = (await getOne('every-minute-slow')).body as { activeRuns: string[]; latestRuns: { runId: string; status: string }[] };
        return detail.activeRuns.length > 0 ? detail : undefined;
      },
      90_000,
      1000,
    );
    const [succeeded, failed, running] = await Promise.all([finished('every-minute'), finished('every-minute-fails'), active]);
    expect(running.latestRuns[0]).toMatchObject({ runId: running.activeRuns[0], status: 'Running' });
    expect(succeeded.latestRuns[0]).toMatchObject({ status: 'Success', trigger: 'cluster' });
    expect(failed.latestRuns[0]).toMatchObject({ status: 'Failed', reason: 'BackoffLimitExceeded', trigger: 'cluster' });
    expect((succeeded as unknown as { preview: { nextRuns: unknown[] } }).preview.nextRuns).toHaveLength(5);

    const listing = await call(listCronJobs, 'GET', `cronjobs?namespace=${ns()}`, {});
    const items = listing.body.items as { name: string; lastRun: { result: string; runId: string } | null; activeRuns: string[] }[];
    expect(items.find((i) => i.name === 'every-minute')?.lastRun).toMatchObject({ result: 'Success' });
    expect(items.find((i) => i.name === 'every-minute-fails')?.lastRun).toMatchObject({ result: 'Failed' });
    expect(items.find((i) => i.name === 'every-minute-slow')).toMatchObject({ activeRuns: running.activeRuns, lastRun: { result: 'Running' } });
    await remove('every-minute-slow');

    // Deleting it takes its Jobs along (propagation Background).
    const runs = await kube.batch.listNamespacedJob({ namespace: ns() });
    const owned = runs.items.filter((j) => j.metadata?.ownerReferences?.some((o) => o.name === 'every-minute'));
    expect(owned.length).toBeGreaterThan(0);
    expect((await remove('every-minute')).status).toBe(204);
    await remove('every-minute-fails');
    await waitFor('its Jobs to be gone', async () => {
      const left = await kube.batch.listNamespacedJob({ namespace: ns() });
      return !left.items.some((j) => owned.some((o) => o.metadata?.name === j.metadata?.name));
    });
  });

  it('an update with a stale resourceVersion is a 409 and changes nothing', async () => {
    expect((await create({ name: 'stale', fromDeployment: 'web', schedule: '0 3 * * *', suspend: true })).status).toBe(201);
    const read = await getOne('stale');
    const version = read.body.resourceVersion as string;
    expect(read.headers.ETag).toBe(`"${version}"`);
    const first = await patch('stale', { schedule: '0 4 * * *' }, { 'If-Match': read.headers.ETag ?? '' });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const second = await patch('stale', { schedule: '0 5 * * *', resourceVersion: version });
    expect(second.status, JSON.stringify(second.body)).toBe(409);
    expect(second.body.detail).toContain('modified');
    expect((await kube.batch.readNamespacedCronJob({ name: 'stale', namespace: ns() })).spec.schedule).toBe('0 4 * * *');

    // A dry run of an update answers the CronJob as it would be and leaves it as it is.
    const dry = await call(updateCronJob, 'PATCH', `cronjobs/${ns()}/stale?dryRun=true`, { namespace: ns(), name: 'stale' }, {
      schedule: '0 6 * * *',
      resourceVersion: first.body.resourceVersion,
    });
    expect(dry.status, JSON.stringify(dry.body)).toBe(200);
    expect(dry.body).toMatchObject({ dryRun: true, settings: { schedule: '0 6 * * *' } });
    expect((await kube.batch.readNamespacedCronJob({ name: 'stale', namespace: ns() })).spec.schedule).toBe('0 4 * * *');
  });

  it('updates command and env of the container, and hands the CronJob over to the app and back', async () => {
    expect((await create({ name: 'handover', fromDeployment: 'web', preset: 'hourly', at: ':15' })).status).toBe(201);
    let version = (await getOne('handover')).body.resourceVersion as string;
    const edited = await patch('handover', { resourceVersion: version, command: ['sh', '-c', 'echo report'], env: { MODE: 'report', EXTRA: 1 } });
    expect(edited.status, JSON.stringify(edited.body)).toBe(200);
    let stored = await kube.batch.readNamespacedCronJob({ name: 'handover', namespace: ns() });
    expect(stored.spec.jobTemplate.spec?.template.spec?.containers[0]).toMatchObject({
      command: ['sh', '-c', 'echo report'],
      env: [{ name: 'MODE', value: 'report' }, { name: 'EXTRA', value: '1' }],
    });

    version = edited.body.resourceVersion as string;
    const toApp = await patch('handover', { resourceVersion: version, scheduler: 'app' });
    expect(toApp.status, JSON.stringify(toApp.body)).toBe(200);
    expect(toApp.body).toMatchObject({ scheduler: 'app', settings: { suspend: true } });
    stored = await kube.batch.readNamespacedCronJob({ name: 'handover', namespace: ns() });
    expect(stored.metadata?.labels?.[SCHEDULER_LABEL]).toBe('app');
    expect(stored.spec.suspend).toBe(true);

    const back = await patch('handover', { resourceVersion: toApp.body.resourceVersion, scheduler: 'cluster' });
    expect(back.status, JSON.stringify(back.body)).toBe(200);
    stored = await kube.batch.readNamespacedCronJob({ name: 'handover', namespace: ns() });
    expect(stored.metadata?.labels?.[SCHEDULER_LABEL]).toBeUndefined();
    expect(stored.spec.suspend).toBe(false);
  });

  it('creates an httpCall CronJob whose key comes from a Secret and is nowhere in the manifest', async () => {
    const response = await create({
      name: 'call-report',
      httpCall: { url: 'https://reports.example.net/api/jobs/batch/report/runs', method: 'POST', body: { day: 'yesterday' }, keySecretRef: { name: KEY_SECRET, key: 'default' } },
      preset: 'daily',
      at: '06:00',
    });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    const container = (await kube.batch.readNamespacedCronJob({ name: 'call-report', namespace: ns() })).spec.jobTemplate.spec?.template.spec?.containers[0];
    expect(container?.env).toEqual([{ name: 'FUNCTION_KEY', valueFrom: { secretKeyRef: { name: KEY_SECRET, key: 'default' } } }]);
    expect(container?.args).toContain('--fail-with-body');
  });

  const badInput: [string, number, () => ReturnType<typeof call>, string][] = [
    ['a body that is not JSON', 400, () => create(RAW('{"name": ')), 'not valid JSON'],
    ['a missing name', 400, () => create({ fromDeployment: 'web', schedule: '* * * * *' }), 'name is required'],
    ['a name over 52 characters', 400, () => create({ name: 'x'.repeat(53), fromDeployment: 'web', schedule: '* * * * *' }), 'at most 52'],
    ['an invalid schedule', 400, () => create({ name: 'bad', fromDeployment: 'web', schedule: '61 * * * *' }), 'schedule'],
    ['an unknown time zone', 400, () => create({ name: 'bad', fromDeployment: 'web', schedule: '* * * * *', timeZone: 'Mars/Olympus' }), 'Mars/Olympus'],
    ['TZ= in the schedule', 400, () => create({ name: 'bad', fromDeployment: 'web', schedule: 'TZ=UTC * * * * *' }), 'timeZone'],
    ['a missing Deployment', 404, () => create({ name: 'bad', fromDeployment: 'nope', schedule: '* * * * *' }), 'GET /api/deployments'],
    ['a name already taken', 409, () => create({ name: 'stale', fromDeployment: 'web', schedule: '* * * * *' }), 'already exists'],
    ['an unknown container', 400, () => create({ name: 'bad', fromDeployment: 'web', container: 'nope', schedule: '* * * * *' }), 'has no container "nope"'],
    ['an httpCall to a relative URL', 400, () => create({ name: 'bad', httpCall: { url: '/api/x', method: 'POST' }, schedule: '* * * * *' }), 'httpCall.url'],
    ['a command override the Deployment has not consented to', 403, () => create({ name: 'bad', fromDeployment: 'flaky', schedule: '* * * * *', command: ['sh'] }), ALLOW_COMMAND_ANNOTATION],
    ['an httpCall to a URL not allowed', 403, () => create({ name: 'bad', httpCall: { url: 'https://kubernetes.default.svc/api/v1/secrets', method: 'GET' }, schedule: '* * * * *' }), 'HTTP_CALL_ALLOWED_URLS'],
    [
      'an httpCall sending any Secret',
      403,
      () => create({ name: 'bad', httpCall: { url: 'https://reports.example.net/api/x', method: 'POST', keySecretRef: { name: 'db', key: 'password' } }, schedule: '* * * * *' }),
      HTTP_CALL_KEY_SECRET_PREFIX,
    ],
    ['a dryRun that is not a boolean', 400, () => create({ name: 'bad', fromDeployment: 'web', schedule: '* * * * *' }, '?dryRun=yes'), 'dryRun'],
    ['an unknown CronJob', 404, () => getOne('nope'), 'GET /api/cronjobs?namespace='],
    ['an update without a resourceVersion', 428, () => patch('stale', { suspend: true }), 'If-Match'],
    ['an update of an unknown field', 400, () => patch('stale', { resourceVersion: '1', scedule: '* * * * *' }), 'scedule'],
    ['an update to an invalid schedule', 400, () => patch('stale', { resourceVersion: '1', schedule: '* * *' }), 'schedule'],
    ['an update of an unknown CronJob', 404, () => patch('nope', { resourceVersion: '1', suspend: true }), 'does not exist'],
    ['a delete of an unknown CronJob', 404, () => remove('nope'), 'does not exist'],
  ];
  it.each(badInput)('answers %s with an actionable %i', async (_name, status, send, detail) => {
    const response = await send();
    expect(response.status, JSON.stringify(response.body)).toBe(status);
    expect(response.body.detail).toContain(detail);
  });

  it('answers 403 for a namespace the app may not touch', async () => {
    const response = await call(listDeployments, 'GET', 'deployments?namespace=kube-system', {});
    expect(response.status).toBe(403);
    expect(response.body.detail).toContain('CLUSTERS');
  });

  it('a create the API server refuses passes its message through and leaves nothing behind', async () => {
    await admission.createValidatingAdmissionPolicy({
      body: {
        metadata: { name: policyName() },
        spec: {
          failurePolicy: 'Fail',
          matchConstraints: { resourceRules: [{ apiGroups: ['batch'], apiVersions: ['v1'], operations: ['CREATE'], resources: ['cronjobs'] }] },
          validations: [{ expression: "!object.metadata.name.startsWith('refused-')", message: 'the test policy refuses CronJobs named refused-*' }],
        },
      },
    });
    await admission.createValidatingAdmissionPolicyBinding({
      body: {
        metadata: { name: policyName() },
        spec: {
          policyName: policyName(),
          validationActions: ['Deny'],
          matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns() } } },
        },
      },
    });
    // The API server picks a new policy up within a few seconds.
    const refused = await waitFor('the policy to refuse', async () => {
      const response = await create({ name: 'refused-one', fromDeployment: 'web', schedule: '* * * * *' }, '?dryRun=true');
      return response.status === 200 ? undefined : response;
    });
    expect(refused.status).toBe(422);
    expect(refused.body.detail).toContain('the test policy refuses');
    const real = await create({ name: 'refused-two', fromDeployment: 'web', schedule: '* * * * *' });
    expect(real.status).toBe(422);
    expect(await cronJobExists('refused-two')).toBe(false);
    const all = await kube.batch.listNamespacedCronJob({ namespace: ns() });
    expect(all.items.map((c) => c.metadata?.name).filter((n) => n?.startsWith('refused'))).toEqual([]);
  });
});
