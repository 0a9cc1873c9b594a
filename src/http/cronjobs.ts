import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { V1Container, V1CronJob, V1EnvVar } from '@kubernetes/client-node';

import type { KubeGateway } from '../clients/kube.js';
import { assertCommandConsent, assertEnvConsent, assertHttpCallAllowed, assertRunnable, type ConsentContainer, RUNNABLE_ANNOTATION } from '../core/consent.js';
import { createCronJobSchema, parseBody, type UpdateCronJobBody, updateCronJobSchema } from '../core/cronjob-bodies.js';
import { cronJobFromDeployment, httpCallCronJob, settingsOf } from '../core/cronjob-spec.js';
import { planCronJobUpdate } from '../core/cronjob-update.js';
import {
  cronJobDetail,
  cronJobWithoutEnvValues,
  detailWithoutEnvValues,
  jobsByCronJob,
  NEXT_RUNS,
  runsOf,
  schedulePreview,
  summarizeDeployment,
} from '../core/cronjob-view.js';
import { BadRequestError, NotFoundError, PreconditionRequiredError } from '../core/errors.js';
import { assertNamespace, assertObjectName, MAX_CRONJOB_NAME } from '../core/naming.js';
import { presetToCron } from '../core/presets.js';
import { parseSchedule } from '../core/schedule.js';
import { namespaceJobs } from '../runs/cronjob-runs.js';
import { services } from '../services.js';
import { noteAudit } from './audit.js';
import { authorizeTarget, type Caller, callerOf } from './caller.js';
import { listScope, pageSize, visibleJobs } from './discovery.js';
import { errorResponse, readJsonBody } from './problem.js';

interface Target {
  cluster: string;
  namespace: string;
  gateway: KubeGateway;
  caller: Caller;
}

/**
 * The route's namespace on the query's cluster, checked as the start routes check it: who the caller is (a
 * principal header nobody vouches for is refused), the app's allow-lists, then the caller's own CALLER_POLICIES
 * entry. All of it before the cluster is asked anything.
 */
function target(request: HttpRequest): Target {
  const { clusters, config } = services();
  const caller = callerOf(request, config.callers);
  const namespace = request.params.namespace ?? '';
  assertNamespace(namespace);
  const cluster = request.query.get('cluster') ?? clusters.defaultAlias;
  clusters.authorize(cluster, namespace);
  authorizeTarget(caller, config.callers, { cluster, namespace });
  return { cluster, namespace, gateway: clusters.gateway(cluster), caller };
}

/**
 * A CronJob kept out of the app (`runnable: "false"`, or not opted in under SOURCES_OPT_IN) is kept out of every
 * route that would act on it or read its runs, not only the run route: its owner's word covers edits, deletion,
 * its detail, its runs and their logs. Discovery still lists it, marked, so a caller sees why.
 */
async function readManageable(t: Target, name: string): Promise<V1CronJob> {
  const cronJob = await t.gateway.readCronJob(t.namespace, name);
  if (!cronJob) throw notFound(t.namespace, name, t.cluster);
  assertRunnable('CronJob', name, cronJob.metadata, services().config.runPolicy.sourcesOptIn);
  return cronJob;
}

/** What an answer may show of a manifest: its env values only where discovery shows them. */
function shownManifest(cronJob: V1CronJob): V1CronJob {
  const clean = withoutManagedFields(cronJob);
  return services().config.discoveryShowsEnvValues ? clean : cronJobWithoutEnvValues(clean);
}

function cronJobName(request: HttpRequest): string {
  const name = request.params.name ?? '';
  assertObjectName('CronJob', name, MAX_CRONJOB_NAME);
  return name;
}

function dryRunOf(request: HttpRequest): boolean {
  const raw = request.query.get('dryRun');
  if (raw === null || raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  throw new BadRequestError(`dryRun must be true or false, got "${raw}"`);
}

/** The URL of one CronJob (GET, PATCH, DELETE), on the request's own origin and cluster. */
function cronJobUrl(request: HttpRequest, namespace: string, name: string, cluster: string): string {
  const url = new URL(`/api/cronjobs/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`, new URL(request.url).origin);
  url.searchParams.set('cluster', cluster);
  return url.toString();
}

/** A resourceVersion as an entity tag: `If-Match` takes it back. */
function etag(resourceVersion: string | undefined): Record<string, string> {
  return resourceVersion ? { ETag: `"${resourceVersion}"` } : {};
}

/** The API server's field-ownership bookkeeping: noise in an answer meant to be read. */
function withoutManagedFields(cronJob: V1CronJob): V1CronJob {
  if (!cronJob.metadata?.managedFields) return cronJob;
  const metadata = { ...cronJob.metadata };
  delete metadata.managedFields;
  return { ...cronJob, metadata };
}

function notFound(namespace: string, name: string, cluster: string): NotFoundError {
  return new NotFoundError(`CronJob "${name}" does not exist in namespace "${namespace}" on cluster "${cluster}"; GET /api/cronjobs?namespace=${namespace} lists them`);
}

/**
 * The detail as this caller may see it: runs another caller started left out (their ids, statuses and the
 * active list alike), and env values only where discovery shows them.
 */
async function detailOf(t: Target, cronJob: V1CronJob): Promise<ReturnType<typeof cronJobDetail>> {
  const { config, now } = services();
  const { shown, hidden } = visibleJobs(await namespaceJobs(t.gateway, t.namespace), t.caller);
  const at = now();
  const detail = cronJobDetail(cronJob, runsOf(cronJob, jobsByCronJob(shown), t.cluster, config.grace, at), t.cluster, at);
  const own = { ...detail, activeRuns: detail.activeRuns.filter((name) => !hidden.has(name)) };
  return config.discoveryShowsEnvValues ? own : detailWithoutEnvValues(own);
}

/**
 * POST /api/cronjobs/{namespace}: a CronJob from a Deployment's pod template, or one that calls an HTTP
 * endpoint. Everything the API server would refuse for its name, schedule or zone is refused here first, with
 * the field named; the create is then one call, so a refusal by the API server (admission, quota, a name
 * taken) leaves nothing behind. `?dryRun=true` answers what the API server would store, storing nothing.
 */
export async function createCronJobFrom(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const { config, now } = services();
    const t = target(request);
    const dryRun = dryRunOf(request);
    const body = parseBody(createCronJobSchema(), await readJsonBody(request));
    const schedule = body.preset === undefined ? (body.schedule ?? '') : presetToCron({ preset: body.preset, at: body.at, weekday: body.weekday, day: body.day });
    const preview = schedulePreview(schedule, body.timeZone, now(), NEXT_RUNS);
    const settings = settingsOf(body, t.namespace, schedule, config.runPolicy.jobActiveDeadlineSeconds);

    let manifest: V1CronJob;
    if (body.httpCall) {
      const url = assertHttpCallAllowed(config.httpCallAllowedUrls, body.httpCall);
      manifest = httpCallCronJob({ ...body.httpCall, url }, settings, config.httpCallImage);
      // Everything it runs is the operator's (the image, an allowed URL, a Secret named for it): under
      // SOURCES_OPT_IN it is opted in, so whoever made it can still run, edit and delete it.
      manifest.metadata = { ...manifest.metadata, annotations: { ...manifest.metadata?.annotations, [RUNNABLE_ANNOTATION]: 'true' } };
    } else {
      const from = body.fromDeployment ?? '';
      const deployment = await t.gateway.readDeployment(t.namespace, from);
      if (!deployment) {
        throw new NotFoundError(
          `fromDeployment: Deployment "${from}" does not exist in namespace "${t.namespace}"; GET /api/deployments?namespace=${t.namespace} lists them`,
        );
      }
      assertRunnable('Deployment', from, deployment.metadata, config.runPolicy.sourcesOptIn);
      manifest = cronJobFromDeployment(deployment, settings, { container: body.container, command: body.command, args: body.args, env: body.env });
      // A Deployment is a source like a Job: what its container runs and is given changes only as its owner allows.
      const main = manifest.spec.jobTemplate.spec?.template.spec?.containers[0];
      const chosen = deployment.spec?.template.spec?.containers.find((c) => c.name === main?.name);
      assertCommandConsent('Deployment', from, deployment.metadata, overridden(body));
      assertEnvConsent('Deployment', from, deployment.metadata, authoredContainer(chosen?.env, main, body), body.env ?? {});
    }

    const created = await t.gateway.createCronJob(t.namespace, manifest, { dryRun });
    const url = cronJobUrl(request, t.namespace, body.name, t.cluster);
    context.log(`CronJob ${t.namespace}/${body.name} on ${t.cluster}: ${dryRun ? 'dry run' : 'created'} (${schedule})`);
    return {
      status: dryRun ? 200 : 201,
      headers: dryRun ? {} : { Location: url, ...etag(created.metadata?.resourceVersion) },
      jsonBody: { dryRun, url, preview, cronJob: shownManifest(created) },
    };
  } catch (err) {
    return errorResponse(err, context);
  }
}

/** GET /api/cronjobs/{namespace}/{name}: settings, status, the next runs and the latest, with its resourceVersion as ETag. */
export async function getCronJobDetail(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const t = target(request);
    const name = cronJobName(request);
    const cronJob = await readManageable(t, name);
    return { status: 200, headers: etag(cronJob.metadata?.resourceVersion), jsonBody: await detailOf(t, cronJob) };
  } catch (err) {
    return errorResponse(err, context);
  }
}

/**
 * The container an env override is checked against: the env it declares, and the command and args its author
 * wrote that stay. A command or args the body writes is the caller's own (allowed by allow-command), so `$(NAME)`
 * in it is not a reference the author made to a value the caller may not choose.
 */
function authoredContainer(
  env: V1EnvVar[] | undefined,
  container: Pick<V1Container, 'command' | 'args'> | undefined,
  body: { command?: unknown; args?: unknown },
): ConsentContainer {
  return { env, command: body.command === undefined ? container?.command : undefined, args: body.args === undefined ? container?.args : undefined };
}

/** The command and args a body replaces (null, which removes an override, replaces too). */
function overridden(body: { command?: unknown; args?: unknown }): string[] {
  return (['command', 'args'] as const).filter((field) => body[field] !== undefined);
}

/**
 * An update of what a CronJob's container runs asks the CronJob's own consent, as a run of it does: the
 * annotations the app copied from its Deployment, or that its owner put on a CronJob made by hand. A removed env
 * entry is checked like a set one, since removing a Secret reference changes what the run is given as much.
 */
function assertContainerConsent(current: V1CronJob, body: UpdateCronJobBody): void {
  if (body.command === undefined && body.args === undefined && body.env === undefined) return;
  const name = current.metadata?.name ?? '';
  const containers = current.spec.jobTemplate.spec?.template.spec?.containers ?? [];
  const chosen = body.container === undefined ? containers[0] : containers.find((c) => c.name === body.container);
  assertCommandConsent('CronJob', name, current.metadata, overridden(body));
  const env = Object.fromEntries(Object.entries(body.env ?? {}).map(([key, value]) => [key, value ?? '']));
  assertEnvConsent('CronJob', name, current.metadata, authoredContainer(chosen?.env, chosen, body), env);
}

/** `If-Match: "123"` (or W/"123", or 123) and body `resourceVersion` are the same thing; both at once must agree. */
function resourceVersionOf(request: HttpRequest, fromBody: string | undefined): string {
  const header = request.headers.get('If-Match')?.trim();
  const fromHeader = header === undefined ? undefined : header.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
  // An empty If-Match (or `""`) names no version; taken as absent, it would let the body's version stand for a
  // header the caller meant to send, so it is refused as the API document says (minLength 1).
  if (fromHeader === '') throw new BadRequestError('the If-Match header is empty: send the ETag of GET /api/cronjobs/{namespace}/{name} (its resourceVersion, quoted), or leave the header out');
  if (fromHeader === '*') throw new BadRequestError('If-Match: * does not say which version was read; send the ETag (or resourceVersion) of GET');
  if (fromHeader !== undefined && fromBody !== undefined && fromHeader !== fromBody) {
    throw new BadRequestError(`the If-Match header ("${fromHeader}") and the body's resourceVersion ("${fromBody}") differ; send one of them`);
  }
  const version = fromHeader ?? fromBody;
  if (!version) {
    throw new PreconditionRequiredError(
      'an update needs the version it was made from, so it cannot overwrite a change made meanwhile: send the ETag of GET /api/cronjobs/{namespace}/{name} as If-Match, or its resourceVersion in the body',
    );
  }
  return version;
}

/**
 * PATCH /api/cronjobs/{namespace}/{name}: change the schedule, zone, suspension, scheduler, command, env,
 * policies or limits. The resulting schedule and zone are validated before anything is sent; the patch carries
 * the caller's resourceVersion, so a CronJob changed since it was read is a 409 from the API server.
 */
export async function updateCronJobFrom(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const t = target(request);
    const name = cronJobName(request);
    const dryRun = dryRunOf(request);
    const body = parseBody(updateCronJobSchema(), await readJsonBody(request));
    const resourceVersion = resourceVersionOf(request, body.resourceVersion);
    const current = await readManageable(t, name);
    const plan = planCronJobUpdate(current, body, resourceVersion, services().config.runPolicy.jobActiveDeadlineSeconds);
    assertContainerConsent(current, body);
    parseSchedule(plan.schedule, plan.timeZone);
    if (body.scheduler !== undefined && plan.changed.includes('scheduler')) noteAudit(request, body.scheduler === 'app' ? 'handOver' : 'handBack');
    const updated = await t.gateway.patchCronJob(t.namespace, name, plan.ops, { dryRun });
    context.log(`CronJob ${t.namespace}/${name} on ${t.cluster}: ${dryRun ? 'dry run of ' : ''}update of ${plan.changed.join(', ')}`);
    return { status: 200, headers: dryRun ? {} : etag(updated.metadata?.resourceVersion), jsonBody: { dryRun, changed: plan.changed, ...(await detailOf(t, updated)) } };
  } catch (err) {
    return errorResponse(err, context);
  }
}

/** DELETE /api/cronjobs/{namespace}/{name}: with propagation Background, its Jobs and their pods go too. */
export async function deleteCronJobFrom(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const t = target(request);
    const name = cronJobName(request);
    const current = await readManageable(t, name);
    // The version judged manageable is the one deleted: an owner's runnable "false" added meanwhile is a 409.
    if (!(await t.gateway.deleteCronJob(t.namespace, name, { resourceVersion: current.metadata?.resourceVersion }))) throw notFound(t.namespace, name, t.cluster);
    context.log(`CronJob ${t.namespace}/${name} on ${t.cluster}: deleted`);
    return { status: 204 };
  } catch (err) {
    return errorResponse(err, context);
  }
}

/** GET /api/deployments?namespace=&cluster=&limit=&continue=: Deployments a CronJob can be made from. */
export async function listDeploymentsPage(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const { clusters } = services();
    const { cluster, namespace } = listScope(request);
    const page = await clusters.gateway(cluster).listDeployments(namespace, { limit: pageSize(request), continueToken: request.query.get('continue') ?? undefined });
    const optIn = services().config.runPolicy.sourcesOptIn;
    return { status: 200, jsonBody: { items: page.items.map((d) => summarizeDeployment(d, cluster, optIn)), continue: page.continueToken ?? null } };
  } catch (err) {
    return errorResponse(err, context);
  }
}
