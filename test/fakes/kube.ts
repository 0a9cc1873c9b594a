import type { CoreV1Event, V1CronJob, V1Deployment, V1Job, V1Pod } from '@kubernetes/client-node';

import type { KubeGateway, ListOptions, Page, PodLogOptions, PodLogStream, PodLogStreamOptions, WriteOptions } from '../../src/clients/kube.js';
import type { JsonPatchOp } from '../../src/core/cronjob-update.js';
import { KubeApiError } from '../../src/core/errors.js';
import { timestampKey } from '../../src/core/follow.js';

/** Equality selectors (`k=v`, `k!=v`) and set selectors (`k in (a,b)`), comma-separated: all the app uses. */
function matches(labels: Record<string, string> | undefined, selector: string | undefined): boolean {
  if (!selector) return true;
  return (selector.match(/[^,(]+\([^)]*\)|[^,]+/g) ?? []).every((term) => {
    const set = /^\s*(\S+)\s+in\s+\(([^)]*)\)\s*$/.exec(term);
    if (set) return set[2]?.split(',').map((v) => v.trim()).includes(labels?.[set[1] ?? ''] ?? '\u0000') ?? false;
    const negated = term.includes('!=');
    const [key = '', value = ''] = term.split(negated ? '!=' : '=');
    const actual = labels?.[key.trim()];
    return negated ? actual !== value.trim() : actual === value.trim();
  });
}

function page<T extends { metadata?: { name?: string } }>(items: T[], options: ListOptions): Page<T> {
  const sorted = [...items].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  const start = options.continueToken ? Number(options.continueToken) : 0;
  const end = options.limit ? start + options.limit : sorted.length;
  return { items: structuredClone(sorted.slice(start, end)), continueToken: end < sorted.length ? String(end) : undefined };
}

/**
 * An in-memory KubeGateway for handler and activity tests. It keeps objects by namespace/name, answers
 * AlreadyExists and NotFound like the API server, and can be told to fail the next call of an operation.
 * Kubernetes' own behaviour (controllers, conditions) is tested against the real control plane, not here.
 */
export class FakeKube implements KubeGateway {
  readonly jobs = new Map<string, V1Job>();
  readonly cronJobs = new Map<string, V1CronJob>();
  readonly pods: V1Pod[] = [];
  readonly events: CoreV1Event[] = [];
  readonly calls: string[] = [];
  /** Container logs by `<namespace>/<pod>/<container>` (and `/previous` for the instance before a restart). */
  readonly logs = new Map<string, string>();
  private readonly failures = new Map<string, KubeApiError[]>();

  private key(namespace: string, name: string): string {
    return `${namespace}/${name}`;
  }

  addJob(job: V1Job): this {
    this.jobs.set(this.key(job.metadata?.namespace ?? '', job.metadata?.name ?? ''), structuredClone(job));
    return this;
  }

  addCronJob(cronJob: V1CronJob): this {
    this.cronJobs.set(this.key(cronJob.metadata?.namespace ?? '', cronJob.metadata?.name ?? ''), structuredClone(cronJob));
    return this;
  }

  /** The next call of `operation` fails with an HTTP `code` (0: no answer), with the server's Retry-After if given. */
  failNext(operation: keyof KubeGateway, code: number, reason?: string, retryAfterMs?: number): this {
    const list = this.failures.get(operation) ?? [];
    list.push(new KubeApiError(operation, code, reason, `injected ${code}`, { retryAfterMs }));
    this.failures.set(operation, list);
    return this;
  }

  private enter(operation: keyof KubeGateway, detail: string): void {
    this.calls.push(`${operation} ${detail}`);
    const failure = this.failures.get(operation)?.shift();
    if (failure) throw failure;
  }

  readJob(namespace: string, name: string): Promise<V1Job | null> {
    this.enter('readJob', `${namespace}/${name}`);
    const job = this.jobs.get(this.key(namespace, name));
    return Promise.resolve(job ? structuredClone(job) : null);
  }

  readCronJob(namespace: string, name: string): Promise<V1CronJob | null> {
    this.enter('readCronJob', `${namespace}/${name}`);
    const cronJob = this.cronJobs.get(this.key(namespace, name));
    return Promise.resolve(cronJob ? structuredClone(cronJob) : null);
  }

  createJob(namespace: string, job: V1Job): Promise<V1Job> {
    const name = job.metadata?.name ?? '';
    this.enter('createJob', `${namespace}/${name}`);
    if (this.jobs.has(this.key(namespace, name))) {
      return Promise.reject(new KubeApiError(`create Job ${namespace}/${name}`, 409, 'AlreadyExists', `jobs.batch "${name}" already exists`));
    }
    const stored: V1Job = { ...structuredClone(job), metadata: { ...job.metadata, namespace, uid: `uid-${name}`, creationTimestamp: new Date() } };
    this.jobs.set(this.key(namespace, name), stored);
    return Promise.resolve(structuredClone(stored));
  }

  deleteJob(namespace: string, name: string): Promise<boolean> {
    this.enter('deleteJob', `${namespace}/${name}`);
    return Promise.resolve(this.jobs.delete(this.key(namespace, name)));
  }

  listJobs(namespace: string, options: ListOptions = {}): Promise<Page<V1Job>> {
    this.enter('listJobs', namespace);
    const items = [...this.jobs.values()].filter((j) => j.metadata?.namespace === namespace && matches(j.metadata.labels, options.labelSelector));
    return Promise.resolve(page(items, options));
  }

  listCronJobs(namespace: string, options: ListOptions = {}): Promise<Page<V1CronJob>> {
    this.enter('listCronJobs', namespace);
    const items = [...this.cronJobs.values()].filter((c) => c.metadata?.namespace === namespace && matches(c.metadata.labels, options.labelSelector));
    return Promise.resolve(page(items, options));
  }

  listPods(namespace: string, labelSelector: string): Promise<V1Pod[]> {
    this.enter('listPods', `${namespace} ${labelSelector}`);
    return Promise.resolve(structuredClone(this.pods.filter((p) => p.metadata?.namespace === namespace && matches(p.metadata.labels, labelSelector))));
  }

  listEvents(namespace: string, involvedObjectName: string): Promise<CoreV1Event[]> {
    this.enter('listEvents', `${namespace}/${involvedObjectName}`);
    return Promise.resolve(structuredClone(this.events.filter((e) => e.metadata.namespace === namespace && e.involvedObject.name === involvedObjectName)));
  }

  readPodLog(namespace: string, pod: string, options: PodLogOptions): Promise<string> {
    this.enter('readPodLog', `${namespace}/${pod}/${options.container}`);
    let text = this.logs.get(`${namespace}/${pod}/${options.container}${options.previous ? '/previous' : ''}`) ?? '';
    // As the kubelet serves them: tailLines first, then limitBytes from the start of what is left.
    if (options.tailLines !== undefined) {
      const lines = text.split('\n');
      if (lines.at(-1) === '') lines.pop();
      text = lines.length === 0 ? '' : `${lines.slice(-options.tailLines).join('\n')}\n`;
    }
    if (options.limitBytes !== undefined) text = Buffer.from(text, 'utf8').subarray(0, options.limitBytes).toString('utf8');
    return Promise.resolve(text);
  }

  /**
   * Logs as a kubelet keeps them, each line with its timestamp, by the same keys as `logs`; `appendLog` adds a
   * line and wakes the streams that follow it.
   */
  readonly stampedLogs = new Map<string, { stamp: string; text: string }[]>();
  private readonly logWaiters = new Set<() => void>();
  /** Keys whose stream answers 400 as a kubelet does for a container not started. */
  readonly logsNotStarted = new Set<string>();
  readonly openStreams = new Set<string>();

  appendLog(key: string, stamp: string, text: string): void {
    const lines = this.stampedLogs.get(key) ?? [];
    lines.push({ stamp, text });
    this.stampedLogs.set(key, lines);
    for (const wake of [...this.logWaiters]) wake();
  }

  streamPodLog(namespace: string, pod: string, options: PodLogStreamOptions): Promise<PodLogStream> {
    const key = `${namespace}/${pod}/${options.container}${options.previous ? '/previous' : ''}`;
    this.enter('streamPodLog', `${key}${options.follow ? ' follow' : ''}${options.sinceTime ? ` since ${options.sinceTime}` : ''}`);
    if (this.logsNotStarted.has(key)) return Promise.reject(new KubeApiError(`read log of ${namespace}/${pod}`, 400, 'BadRequest', 'container is waiting to start'));
    const stamped = this.stampedLogs;
    const waiters = this.logWaiters;
    const open = this.openStreams;
    const state = { closed: false };
    const closed = () => state.closed;
    const since = options.sinceTime ? timestampKey(options.sinceTime) : '';
    const id = `${key}#${String(Math.random())}`;
    open.add(id);
    async function* chunks(): AsyncGenerator<Uint8Array> {
      let i = 0;
      try {
        while (!closed()) {
          const lines = stamped.get(key) ?? [];
          while (i < lines.length && !closed()) {
            const line = lines[i++];
            if (line && (since === '' || timestampKey(line.stamp) >= since)) yield Buffer.from(`${options.timestamps ? `${line.stamp} ` : ''}${line.text}\n`);
          }
          if (!options.follow || closed()) return;
          await new Promise<void>((resolve) => {
            const wake = () => {
              waiters.delete(wake);
              resolve();
            };
            waiters.add(wake);
          });
        }
      } finally {
        open.delete(id);
      }
    }
    return Promise.resolve({
      chunks: chunks(),
      close: () => {
        state.closed = true;
        for (const wake of [...waiters]) wake();
      },
    });
  }

  // CronJob management.
  readonly deployments = new Map<string, V1Deployment>();
  private resourceVersion = 1000;

  addDeployment(deployment: V1Deployment): this {
    this.deployments.set(this.key(deployment.metadata?.namespace ?? '', deployment.metadata?.name ?? ''), structuredClone(deployment));
    return this;
  }

  readDeployment(namespace: string, name: string): Promise<V1Deployment | null> {
    this.enter('readDeployment', `${namespace}/${name}`);
    const deployment = this.deployments.get(this.key(namespace, name));
    return Promise.resolve(deployment ? structuredClone(deployment) : null);
  }

  listDeployments(namespace: string, options: ListOptions = {}): Promise<Page<V1Deployment>> {
    this.enter('listDeployments', namespace);
    const items = [...this.deployments.values()].filter((d) => d.metadata?.namespace === namespace && matches(d.metadata.labels, options.labelSelector));
    return Promise.resolve(page(items, options));
  }

  /** Stores with a uid, a creation time and a resourceVersion, as the API server does; a dry run stores nothing. */
  createCronJob(namespace: string, cronJob: V1CronJob, options: WriteOptions = {}): Promise<V1CronJob> {
    const name = cronJob.metadata?.name ?? '';
    this.enter('createCronJob', `${namespace}/${name}${options.dryRun ? ' dryRun' : ''}`);
    if (this.cronJobs.has(this.key(namespace, name))) {
      return Promise.reject(new KubeApiError(`create CronJob ${namespace}/${name}`, 409, 'AlreadyExists', `cronjobs.batch "${name}" already exists`));
    }
    const stored: V1CronJob = {
      ...structuredClone(cronJob),
      metadata: { ...cronJob.metadata, namespace, uid: `uid-${name}`, creationTimestamp: new Date(), resourceVersion: String(++this.resourceVersion) },
    };
    if (!options.dryRun) this.cronJobs.set(this.key(namespace, name), stored);
    return Promise.resolve(structuredClone(stored));
  }

  /** RFC 6902 add/replace/remove on the stored object; a resourceVersion that is not the stored one is a 409. */
  patchCronJob(namespace: string, name: string, patch: JsonPatchOp[], options: WriteOptions = {}): Promise<V1CronJob> {
    this.enter('patchCronJob', `${namespace}/${name}${options.dryRun ? ' dryRun' : ''}`);
    const stored = this.cronJobs.get(this.key(namespace, name));
    if (!stored) return Promise.reject(new KubeApiError(`update CronJob ${namespace}/${name}`, 404, 'NotFound', `cronjobs.batch "${name}" not found`));
    const updated = structuredClone(stored) as unknown as Record<string, unknown>;
    for (const op of patch) {
      const keys = op.path.split('/').slice(1).map((k) => k.replaceAll('~1', '/').replaceAll('~0', '~'));
      const last = keys.pop() ?? '';
      let parent: Record<string, unknown> = updated;
      for (const key of keys) parent = parent[key] as Record<string, unknown>;
      if (op.op === 'remove') Reflect.deleteProperty(parent, last);
      else parent[last] = structuredClone(op.value);
    }
    const result = updated as unknown as V1CronJob;
    if (result.metadata?.resourceVersion !== stored.metadata?.resourceVersion) {
      return Promise.reject(
        new KubeApiError(`update CronJob ${namespace}/${name}`, 409, 'Conflict', 'the object has been modified; please apply your changes to the latest version and try again'),
      );
    }
    result.metadata = { ...result.metadata, resourceVersion: String(++this.resourceVersion) };
    if (!options.dryRun) this.cronJobs.set(this.key(namespace, name), result);
    return Promise.resolve(structuredClone(result));
  }

  deleteCronJob(namespace: string, name: string, preconditions: { resourceVersion?: string | undefined } = {}): Promise<boolean> {
    this.enter('deleteCronJob', `${namespace}/${name}`);
    const current = this.cronJobs.get(this.key(namespace, name));
    if (current && preconditions.resourceVersion !== undefined && current.metadata?.resourceVersion !== preconditions.resourceVersion) {
      return Promise.reject(new KubeApiError('deleteCronJob', 409, 'Conflict', `the object has been modified; precondition resourceVersion ${preconditions.resourceVersion} failed`));
    }
    return Promise.resolve(this.cronJobs.delete(this.key(namespace, name)));
  }

  listCronJobsInAllNamespaces(options: ListOptions = {}): Promise<Page<V1CronJob>> {
    this.enter('listCronJobsInAllNamespaces', '*');
    return Promise.resolve(page([...this.cronJobs.values()].filter((c) => matches(c.metadata?.labels, options.labelSelector)), options));
  }

  /** resourceVersion as the API server keeps it: compared on patch, moved on by every change. */
  patchCronJobAnnotations(namespace: string, name: string, resourceVersion: string, annotations: Record<string, string | null>): Promise<V1CronJob> {
    this.enter('patchCronJobAnnotations', `${namespace}/${name}`);
    const stored = this.cronJobs.get(this.key(namespace, name));
    if (!stored) return Promise.reject(new KubeApiError(`patch CronJob ${namespace}/${name}`, 404, 'NotFound', `cronjobs.batch "${name}" not found`));
    const current = stored.metadata?.resourceVersion ?? '1';
    if (current !== resourceVersion) {
      return Promise.reject(
        new KubeApiError(`patch CronJob ${namespace}/${name}`, 409, 'Conflict', 'the object has been modified; please apply your changes to the latest version and try again'),
      );
    }
    const merged = Object.fromEntries(
      Object.entries({ ...stored.metadata?.annotations, ...annotations }).filter((entry): entry is [string, string] => entry[1] !== null),
    );
    stored.metadata = { ...stored.metadata, annotations: merged, resourceVersion: String(Number(current) + 1) };
    return Promise.resolve(structuredClone(stored));
  }

  createEvent(namespace: string, event: CoreV1Event): Promise<CoreV1Event> {
    const name = event.metadata.name ?? '';
    this.enter('createEvent', `${namespace}/${name}`);
    if (this.events.some((e) => e.metadata.namespace === namespace && e.metadata.name === name)) {
      return Promise.reject(new KubeApiError(`create Event in ${namespace}`, 409, 'AlreadyExists', `events "${name}" already exists`));
    }
    const stored: CoreV1Event = { ...structuredClone(event), metadata: { ...event.metadata, namespace } };
    this.events.push(stored);
    return Promise.resolve(structuredClone(stored));
  }

  listPodsPage(namespace: string, options: ListOptions): Promise<Page<V1Pod>> {
    this.enter('listPodsPage', `${namespace} ${options.labelSelector ?? ''}`);
    return Promise.resolve(page(this.pods.filter((p) => p.metadata?.namespace === namespace && matches(p.metadata.labels, options.labelSelector)), options));
  }

  listNamespaceEvents(namespace: string, options: ListOptions): Promise<Page<CoreV1Event>> {
    this.enter('listNamespaceEvents', namespace);
    return Promise.resolve(page(this.events.filter((e) => e.metadata.namespace === namespace), options));
  }
}
