import { PassThrough } from 'node:stream';

import type {
  AppsV1Api,
  BatchV1Api,
  ConfigurationOptions,
  CoreV1Api,
  CoreV1Event,
  KubeConfig,
  RequestContext,
  ResponseContext,
  V1CronJob,
  V1Deployment,
  V1Job,
  V1Pod,
} from '@kubernetes/client-node';

import { retryAfterMs } from '../core/backoff.js';
import type { JsonPatchOp } from '../core/cronjob-update.js';
import { AppError, ensureError, isNotFound, isUnauthorized, KubeApiError } from '../core/errors.js';
import { load, type Loaded, loadedAlready } from './lazy.js';

/** client-node, loaded by the first gateway call (src/clients/lazy.ts). */
type ClientNode = Loaded<'@kubernetes/client-node'>;
import { kubeRequestOf } from '../core/kube-request.js';
import { ATTRIBUTES } from '../core/telemetry-names.js';
import { instruments } from './telemetry.js';

export interface Page<T> {
  items: T[];
  /** Pass back to get the next page; undefined on the last page. */
  continueToken: string | undefined;
}

export interface ListOptions {
  labelSelector?: string | undefined;
  limit?: number | undefined;
  continueToken?: string | undefined;
}

export interface PodLogOptions {
  container: string;
  previous?: boolean;
  limitBytes?: number;
  tailLines?: number;
}

export interface PodLogStreamOptions {
  container: string;
  previous?: boolean | undefined;
  /** Keep the request open and pass on lines as the container writes them. */
  follow?: boolean | undefined;
  /** Each line prefixed with the kubelet's RFC 3339 timestamp and a space. */
  timestamps?: boolean | undefined;
  /** RFC 3339: lines from this instant on (the kubelet gets it at whole seconds). */
  sinceTime?: string | undefined;
}

/** A log read as it comes: its bytes, and a way to stop reading (the iteration then ends). */
export interface PodLogStream {
  chunks: AsyncIterable<Uint8Array>;
  close(): void;
}

/**
 * The Kubernetes operations the app uses, in one namespace-scoped surface. Errors are KubeApiError, or the
 * connection source's CredentialError when no credentials could be had.
 */
export interface KubeGateway {
  readJob(namespace: string, name: string): Promise<V1Job | null>;
  readCronJob(namespace: string, name: string): Promise<V1CronJob | null>;
  createJob(namespace: string, job: V1Job): Promise<V1Job>;
  /** Deletes with propagationPolicy Background (pods go too). False when there was nothing to delete. */
  deleteJob(namespace: string, name: string): Promise<boolean>;
  listJobs(namespace: string, options?: ListOptions): Promise<Page<V1Job>>;
  listCronJobs(namespace: string, options?: ListOptions): Promise<Page<V1CronJob>>;
  listPods(namespace: string, labelSelector: string): Promise<V1Pod[]>;
  /** Events about one object, by name. */
  listEvents(namespace: string, involvedObjectName: string): Promise<CoreV1Event[]>;
  readPodLog(namespace: string, pod: string, options: PodLogOptions): Promise<string>;
  /** A container's log as a stream (with `follow`, for as long as the container runs or until closed). */
  streamPodLog(namespace: string, pod: string, options: PodLogStreamOptions): Promise<PodLogStream>;
  // CronJob management. `dryRun` asks the API server to validate, default and admit without storing anything.
  readDeployment(namespace: string, name: string): Promise<V1Deployment | null>;
  listDeployments(namespace: string, options?: ListOptions): Promise<Page<V1Deployment>>;
  createCronJob(namespace: string, cronJob: V1CronJob, options?: WriteOptions): Promise<V1CronJob>;
  /** A JSON patch (RFC 6902); one that sets metadata.resourceVersion fails with 409 when the CronJob changed since. */
  patchCronJob(namespace: string, name: string, patch: JsonPatchOp[], options?: WriteOptions): Promise<V1CronJob>;
  /** Deletes with propagationPolicy Background (its Jobs and their pods go too). False when there was nothing to delete. */
  /** False when there is none; with `resourceVersion`, a CronJob changed since that version is a 409, not deleted. */
  deleteCronJob(namespace: string, name: string, preconditions?: { resourceVersion?: string | undefined }): Promise<boolean>;
  /** CronJobs of every namespace, for clusters whose allow-list is `*`. */
  listCronJobsInAllNamespaces(options?: ListOptions): Promise<Page<V1CronJob>>;
  /**
   * Merge-patch a CronJob's annotations (null removes one), only while it is still at `resourceVersion`: a
   * KubeApiError 409 Conflict when someone else changed it first.
   */
  patchCronJobAnnotations(namespace: string, name: string, resourceVersion: string, annotations: Record<string, string | null>): Promise<V1CronJob>;
  /** Create a core/v1 Event (409 AlreadyExists when one of that name exists). */
  createEvent(namespace: string, event: CoreV1Event): Promise<CoreV1Event>;
  /** One page of the pods that match a label selector (the batched observe lists many runs' pods at once). */
  listPodsPage(namespace: string, options: ListOptions): Promise<Page<V1Pod>>;
  /** One page of a namespace's events (the batched observe reads them once for all runs that need them). */
  listNamespaceEvents(namespace: string, options: ListOptions): Promise<Page<CoreV1Event>>;
}

export interface WriteOptions {
  dryRun?: boolean | undefined;
}

/** The V1Status reason inside an ApiException body, which client-node may hand over as a raw string. */
function statusReason(body: unknown): { reason: string | undefined; message: string | undefined } {
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return { reason: undefined, message: body.slice(0, 500) };
    }
  }
  if (parsed !== null && typeof parsed === 'object') {
    const status = parsed as { reason?: unknown; message?: unknown };
    return {
      reason: typeof status.reason === 'string' ? status.reason : undefined,
      message: typeof status.message === 'string' ? status.message : undefined,
    };
  }
  return { reason: undefined, message: undefined };
}

/** Our own errors about credentials (CredentialError) pass through the gateway as they are. */
function isCredentialFailure(err: unknown): boolean {
  return err instanceof AppError && !(err instanceof KubeApiError);
}

/** The one place client-node's errors become ours. */
export function toKubeApiError(operation: string, err: unknown): KubeApiError {
  if (err instanceof KubeApiError) return err;
  // Before client-node is loaded nothing can have thrown its ApiException.
  const ApiException = loadedAlready('@kubernetes/client-node')?.ApiException;
  if (ApiException && err instanceof ApiException) {
    const { reason, message } = statusReason(err.body);
    const retryAfter = retryAfterMs(err.headers['retry-after'], new Date());
    return new KubeApiError(operation, err.code, reason, message ?? err.message, { cause: err, retryAfterMs: retryAfter });
  }
  const error = ensureError(err);
  // No HTTP answer at all: time-outs, refused or reset connections, DNS. All worth a retry.
  return new KubeApiError(operation, 0, error.name === 'TimeoutError' || error.name === 'AbortError' ? 'Timeout' : undefined, error.message, {
    cause: err,
  });
}

export interface ConnectionSource {
  /** The cluster's KubeConfig, with credentials fresh enough for the next call. */
  kubeConfig(): Promise<KubeConfig>;
  /**
   * After a 401: drop cached credentials and fetch new ones. True only when they differ from those refused,
   * so a retry is worth it; sending the same credential again would just be refused again.
   */
  refresh(): Promise<boolean>;
}

/** The API clients of one set of credentials, and the connection pool their requests share. */
interface Clients {
  k8s: ClientNode;
  kc: KubeConfig;
  batch: BatchV1Api;
  core: CoreV1Api;
  apps: AppsV1Api;
  dispatcher: ReturnType<RequestContext['getDispatcher']>;
}

/**
 * KubeGateway on @kubernetes/client-node, with a time-out per call and one retry after a 401 when fresh
 * credentials differ from the refused ones. A failure to get credentials at all is the source's own error
 * (CredentialError, which says what to fix), never "no answer from the API server".
 */
export class ClientNodeGateway implements KubeGateway {
  private clients: Clients | undefined;

  constructor(
    private readonly source: ConnectionSource,
    private readonly timeoutMs: number,
    /** Keep one keep-alive connection pool per credentials; false only for the bench's comparison. */
    private readonly reuseConnections = true,
    /** The cluster's alias, on the app's Kubernetes request metrics. */
    private readonly cluster = '',
  ) {}

  private async api(): Promise<Clients> {
    const [k8s, kc] = await Promise.all([load('@kubernetes/client-node'), this.source.kubeConfig()]);
    if (this.clients?.kc !== kc) {
      // New credentials (a refreshed token, a rotated kubeconfig): the old pool finishes what it carries and closes.
      void this.clients?.dispatcher?.close().catch(() => undefined);
      this.clients = {
        k8s,
        kc,
        batch: kc.makeApiClient(k8s.BatchV1Api),
        core: kc.makeApiClient(k8s.CoreV1Api),
        apps: kc.makeApiClient(k8s.AppsV1Api),
        dispatcher: undefined,
      };
    }
    return this.clients;
  }

  /**
   * Per-call options: an abort signal so no call hangs longer than the configured time-out, and the
   * connection pool of these credentials. client-node 2 makes a new undici Agent (with the kubeconfig's CA,
   * client certificate and key) for every request, so each request would open its own TLS connection; the
   * first agent is kept with the credentials and later requests go through it instead.
   */
  private options(clients: Clients): ConfigurationOptions {
    const timeoutMs = this.timeoutMs;
    const reuse = this.reuseConnections;
    const { Observable } = clients.k8s;
    const cluster = this.cluster;
    /** This call's request (one per options object: each call makes its own). */
    let request: { verb: string; resource: string } | undefined;
    return {
      middleware: [
        {
          pre: (context: RequestContext) => {
            request = kubeRequestOf(context.getHttpMethod(), context.getUrl());
            context.setSignal(AbortSignal.timeout(timeoutMs));
            const made = context.getDispatcher();
            if (reuse && made) {
              if (clients.dispatcher) context.setDispatcher(clients.dispatcher);
              else clients.dispatcher = made;
            }
            return new Observable(Promise.resolve(context));
          },
          post: (context: ResponseContext) => {
            // Every answered request is counted here, the one place the app talks to the API server; 429 is
            // throttled (API Priority and Fairness, or max-requests-inflight).
            const status = context.httpStatusCode;
            instruments().kubeRequests.add(1, {
              [ATTRIBUTES.cluster]: cluster,
              [ATTRIBUTES.verb]: request?.verb ?? 'unknown',
              [ATTRIBUTES.resource]: request?.resource ?? 'unknown',
              [ATTRIBUTES.statusCode]: status,
              [ATTRIBUTES.throttled]: status === 429,
            });
            return new Observable(Promise.resolve(context));
          },
        },
      ],
      middlewareMergeStrategy: 'append',
    };
  }

  private async call<T>(
    operation: string,
    fn: (apis: { batch: BatchV1Api; core: CoreV1Api; apps: AppsV1Api; k8s: ClientNode }, options: ConfigurationOptions) => Promise<T>,
  ): Promise<T> {
    try {
      const clients = await this.api();
      return await fn(clients, this.options(clients));
    } catch (err) {
      if (isCredentialFailure(err)) throw err;
      const error = toKubeApiError(operation, err);
      if (!isUnauthorized(error)) throw error;
      // Expired or rotated credentials: try exactly once more, and only with credentials that changed.
      if (!(await this.source.refresh())) throw error;
      try {
        const clients = await this.api();
        return await fn(clients, this.options(clients));
      } catch (retryErr) {
        if (isCredentialFailure(retryErr)) throw retryErr;
        throw toKubeApiError(operation, retryErr);
      }
    }
  }

  private async orNull<T>(promise: Promise<T>): Promise<T | null> {
    try {
      return await promise;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  readJob(namespace: string, name: string): Promise<V1Job | null> {
    return this.orNull(this.call(`read Job ${namespace}/${name}`, ({ batch }, o) => batch.readNamespacedJob({ namespace, name }, o)));
  }

  readCronJob(namespace: string, name: string): Promise<V1CronJob | null> {
    return this.orNull(this.call(`read CronJob ${namespace}/${name}`, ({ batch }, o) => batch.readNamespacedCronJob({ namespace, name }, o)));
  }

  createJob(namespace: string, job: V1Job): Promise<V1Job> {
    return this.call(`create Job ${namespace}/${job.metadata?.name ?? ''}`, ({ batch }, o) => batch.createNamespacedJob({ namespace, body: job }, o));
  }

  async deleteJob(namespace: string, name: string): Promise<boolean> {
    const deleted = await this.orNull(
      this.call(`delete Job ${namespace}/${name}`, ({ batch }, o) =>
        batch.deleteNamespacedJob({ namespace, name, propagationPolicy: 'Background' }, o),
      ),
    );
    return deleted !== null;
  }

  async listJobs(namespace: string, options: ListOptions = {}): Promise<Page<V1Job>> {
    const list = await this.call(`list Jobs in ${namespace}`, ({ batch }, o) =>
      batch.listNamespacedJob({ namespace, labelSelector: options.labelSelector, limit: options.limit, _continue: options.continueToken }, o),
    );
    return { items: list.items, continueToken: list.metadata?._continue || undefined };
  }

  async listCronJobs(namespace: string, options: ListOptions = {}): Promise<Page<V1CronJob>> {
    const list = await this.call(`list CronJobs in ${namespace}`, ({ batch }, o) =>
      batch.listNamespacedCronJob({ namespace, labelSelector: options.labelSelector, limit: options.limit, _continue: options.continueToken }, o),
    );
    return { items: list.items, continueToken: list.metadata?._continue || undefined };
  }

  async listPods(namespace: string, labelSelector: string): Promise<V1Pod[]> {
    const list = await this.call(`list Pods in ${namespace}`, ({ core }, o) => core.listNamespacedPod({ namespace, labelSelector }, o));
    return list.items;
  }

  async listEvents(namespace: string, involvedObjectName: string): Promise<CoreV1Event[]> {
    const list = await this.call(`list Events of ${namespace}/${involvedObjectName}`, ({ core }, o) =>
      core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${involvedObjectName}` }, o),
    );
    return list.items;
  }

  readPodLog(namespace: string, pod: string, options: PodLogOptions): Promise<string> {
    return this.call(`read log of ${namespace}/${pod}`, ({ core }, o) =>
      core.readNamespacedPodLog(
        {
          namespace,
          name: pod,
          container: options.container,
          previous: options.previous,
          limitBytes: options.limitBytes,
          tailLines: options.tailLines,
        },
        o,
      ),
    );
  }

  /**
   * client-node's Log class (a fetch of the pod's log subresource whose body is piped into a writable), so the
   * bytes come as the kubelet flushes them rather than as one string at the end as readNamespacedPodLog gives
   * them. The class pipes without passing errors on, so a broken connection would leave the reader waiting: the
   * pass-through is ended when the pipe lets go of it or its source fails, for whatever reason.
   */
  async streamPodLog(namespace: string, pod: string, options: PodLogStreamOptions): Promise<PodLogStream> {
    const operation = `read log of ${namespace}/${pod}`;
    const open = async (): Promise<PodLogStream> => {
      const kc = await this.source.kubeConfig();
      const through = new PassThrough();
      const finish = () => {
        if (!through.writableEnded) through.end();
      };
      through.on('unpipe', finish);
      // The class gives its own stream (the fetch body as a Node Readable) no error listener: aborting the request,
      // or a connection cut, would make it throw out of the process. The source comes with the 'pipe' event.
      through.on('pipe', (source: NodeJS.ReadableStream) => {
        source.on('error', finish);
      });
      const { Log } = await load('@kubernetes/client-node');
      const opening = new Log(kc).log(namespace, pod, options.container, through, {
        follow: options.follow ?? false,
        previous: options.previous ?? false,
        timestamps: options.timestamps ?? false,
        ...(options.sinceTime ? { sinceTime: options.sinceTime } : {}),
      });
      // The class gives no way to stop a request before its answer comes: one that never answers is given up on,
      // and aborted if its answer comes after all.
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(new KubeApiError(operation, 0, 'Timeout', `no answer in ${String(this.timeoutMs)} ms`));
        }, this.timeoutMs);
      });
      try {
        const controller = await Promise.race([opening, timeout]);
        return {
          chunks: through,
          close: () => {
            controller.abort();
            finish();
          },
        };
      } catch (err) {
        void opening.then((late) => {
          late.abort();
        }, () => undefined);
        finish();
        throw err;
      } finally {
        clearTimeout(timer);
      }
    };
    try {
      return await open();
    } catch (err) {
      if (isCredentialFailure(err)) throw err;
      const error = toKubeApiError(operation, err);
      if (!isUnauthorized(error) || !(await this.source.refresh())) throw error;
      try {
        return await open();
      } catch (retryErr) {
        if (isCredentialFailure(retryErr)) throw retryErr;
        throw toKubeApiError(operation, retryErr);
      }
    }
  }

  readDeployment(namespace: string, name: string): Promise<V1Deployment | null> {
    return this.orNull(this.call(`read Deployment ${namespace}/${name}`, ({ apps }, o) => apps.readNamespacedDeployment({ namespace, name }, o)));
  }

  async listDeployments(namespace: string, options: ListOptions = {}): Promise<Page<V1Deployment>> {
    const list = await this.call(`list Deployments in ${namespace}`, ({ apps }, o) =>
      apps.listNamespacedDeployment({ namespace, labelSelector: options.labelSelector, limit: options.limit, _continue: options.continueToken }, o),
    );
    return { items: list.items, continueToken: list.metadata?._continue || undefined };
  }

  createCronJob(namespace: string, cronJob: V1CronJob, options: WriteOptions = {}): Promise<V1CronJob> {
    return this.call(`create CronJob ${namespace}/${cronJob.metadata?.name ?? ''}`, ({ batch }, o) =>
      batch.createNamespacedCronJob({ namespace, body: cronJob, dryRun: options.dryRun ? 'All' : undefined }, o),
    );
  }

  patchCronJob(namespace: string, name: string, patch: JsonPatchOp[], options: WriteOptions = {}): Promise<V1CronJob> {
    return this.call(`update CronJob ${namespace}/${name}`, ({ batch, k8s }, o) =>
      batch.patchNamespacedCronJob(
        { namespace, name, body: patch, dryRun: options.dryRun ? 'All' : undefined },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch, o),
      ),
    );
  }

  async deleteCronJob(namespace: string, name: string, preconditions: { resourceVersion?: string | undefined } = {}): Promise<boolean> {
    const body = preconditions.resourceVersion ? { preconditions: { resourceVersion: preconditions.resourceVersion } } : undefined;
    const deleted = await this.orNull(
      this.call(`delete CronJob ${namespace}/${name}`, ({ batch }, o) =>
        batch.deleteNamespacedCronJob({ namespace, name, propagationPolicy: 'Background', ...(body ? { body } : {}) }, o),
      ),
    );
    return deleted !== null;
  }

  async listCronJobsInAllNamespaces(options: ListOptions = {}): Promise<Page<V1CronJob>> {
    const list = await this.call('list CronJobs in all namespaces', ({ batch }, o) =>
      batch.listCronJobForAllNamespaces({ labelSelector: options.labelSelector, limit: options.limit, _continue: options.continueToken }, o),
    );
    return { items: list.items, continueToken: list.metadata?._continue || undefined };
  }

  patchCronJobAnnotations(namespace: string, name: string, resourceVersion: string, annotations: Record<string, string | null>): Promise<V1CronJob> {
    // A merge patch that names the resourceVersion is refused with 409 Conflict once the object has moved on.
    const body = { metadata: { resourceVersion, annotations } };
    return this.call(`patch CronJob ${namespace}/${name}`, ({ batch, k8s }, o) =>
      batch.patchNamespacedCronJob({ namespace, name, body }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch, o)),
    );
  }

  createEvent(namespace: string, event: CoreV1Event): Promise<CoreV1Event> {
    return this.call(`create Event in ${namespace}`, ({ core }, o) => core.createNamespacedEvent({ namespace, body: event }, o));
  }

  async listPodsPage(namespace: string, options: ListOptions): Promise<Page<V1Pod>> {
    const list = await this.call(`list Pods in ${namespace}`, ({ core }, o) =>
      core.listNamespacedPod({ namespace, labelSelector: options.labelSelector, limit: options.limit, _continue: options.continueToken }, o),
    );
    return { items: list.items, continueToken: list.metadata?._continue || undefined };
  }

  async listNamespaceEvents(namespace: string, options: ListOptions): Promise<Page<CoreV1Event>> {
    const list = await this.call(`list Events in ${namespace}`, ({ core }, o) =>
      core.listNamespacedEvent({ namespace, labelSelector: options.labelSelector, limit: options.limit, _continue: options.continueToken }, o),
    );
    return { items: list.items, continueToken: list.metadata?._continue || undefined };
  }
}
