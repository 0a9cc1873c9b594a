import type { V1Job, V1ObjectMeta } from '@kubernetes/client-node';

import { type BlobStore, BlobStoreError } from '../clients/blob.js';
import type { KubeGateway } from '../clients/kube.js';
import { compareRuns, cronJobOwner, entryFromMarker, mergeRunPage, namespaceRunsPrefix, type RunCursor, type RunEntry, type RunPage } from '../core/archive.js';
import { type ManagedKind, notRunnable } from '../core/consent.js';
import { BadRequestError } from '../core/errors.js';
import { MANAGED_SELECTOR, NOT_MANAGED_SELECTOR } from '../core/labels.js';
import { allJobs, liveEntry } from './archive.js';

/**
 * Blob listing pages read at most for one page of a namespace's runs: a filter that matches few runs (one status,
 * an Entra caller's own runs) answers a shorter page with a continue token instead of reading the whole archive.
 */
export const MAX_ARCHIVE_PAGES = 4;
/** Markers per blob listing page: enough that a filtered page usually fills from one or two. */
const ARCHIVE_PAGE = 500;

export interface NamespaceRunsQuery {
  cluster: string;
  namespace: string;
  cursor: RunCursor | null;
  limit: number;
  now: Date;
  /** SOURCES_OPT_IN: a source without `runnable: "true"` is kept out. */
  sourcesOptIn: boolean;
  /** The runs the caller asked for and may see (a status filter, the caller's own runs). */
  keep: (entry: RunEntry) => boolean;
}

async function allCronJobMeta(gateway: KubeGateway, namespace: string): Promise<Map<string, V1ObjectMeta | undefined>> {
  const found = new Map<string, V1ObjectMeta | undefined>();
  let continueToken: string | undefined;
  do {
    const page = await gateway.listCronJobs(namespace, { limit: 500, continueToken });
    for (const c of page.items) found.set(c.metadata?.name ?? '', c.metadata);
    continueToken = page.continueToken;
  } while (continueToken);
  return found;
}

/**
 * Which sources are kept out of the app today (`runnable: "false"`, or not opted in under SOURCES_OPT_IN): their
 * runs are left out of the listing, whoever started them, as a kept-out CronJob's runs route refuses all of them.
 * A source that is gone keeps its runs listed (its archived runs are the namespace's, as on that route). Source Jobs
 * come from the list of the namespace's other Jobs the listing reads anyway; CronJobs are read with one list, and
 * only once a run of one is to be shown: never one read per run.
 */
class KeptOutSources {
  private readonly lists = new Map<ManagedKind, Map<string, V1ObjectMeta | undefined>>();

  constructor(
    private readonly gateway: KubeGateway,
    private readonly namespace: string,
    private readonly optIn: boolean,
    jobs: readonly V1Job[],
  ) {
    this.lists.set('Job', new Map(jobs.map((j) => [j.metadata?.name ?? '', j.metadata] as const)));
  }

  /** Reads the CronJobs when the entries name one and they were not read yet. */
  async load(entries: readonly RunEntry[]): Promise<void> {
    if (this.lists.has('CronJob') || !entries.some((e) => e.source?.kind === 'CronJob')) return;
    this.lists.set('CronJob', await allCronJobMeta(this.gateway, this.namespace));
  }

  keptOut(entry: RunEntry): boolean {
    const source = entry.source;
    if (!source || (source.kind !== 'Job' && source.kind !== 'CronJob')) return false;
    const list = this.lists.get(source.kind);
    // Not loaded means load() was not given this entry: a caller's mistake, answered closed.
    if (!list) return true;
    if (!list.has(source.name)) return false;
    return notRunnable(source.kind, source.name, list.get(source.name), this.optIn) !== undefined;
  }
}

/**
 * A listing page of the namespace index. A marker Blob Storage refuses (400) can only have come from a continue
 * token made by hand, since the app hands out the service's own: the caller's mistake, not the archive's fault.
 */
async function listFrom(store: BlobStore, prefix: string, limit: number, marker: string | null) {
  try {
    return await store.list(prefix, { limit, continueToken: marker ?? undefined });
  } catch (err) {
    if (marker !== null && err instanceof BlobStoreError && err.code === 400) {
      throw new BadRequestError('continue is not a token this route gave out; pass the "continue" value of the previous page as it is');
    }
    throw err;
  }
}

/**
 * A namespace's runs, newest first, a page at a time: live Jobs (the app's, by its label, and the CronJob
 * controller's among the namespace's other Jobs: two label-selected lists, every page of each) merged with the
 * archive's namespace index (core/archive.ts namespaceRunsPrefix), read from the cursor's marker on for at most
 * MAX_ARCHIVE_PAGES listing pages. What the API server is asked per request does not grow with the number of runs
 * shown: those two lists, and one of CronJobs when a CronJob's run is among them.
 */
export async function listNamespaceRuns(gateway: KubeGateway, store: BlobStore | null, query: NamespaceRunsQuery): Promise<RunPage> {
  const { cluster, namespace, cursor, limit, now } = query;
  const [appJobs, otherJobs] = await Promise.all([allJobs(gateway, namespace, MANAGED_SELECTOR), allJobs(gateway, namespace, NOT_MANAGED_SELECTOR)]);
  // The other Jobs are source Jobs (for their consent) and the cluster's runs of CronJobs (live runs too).
  const live = [...appJobs, ...otherJobs.filter((job) => cronJobOwner(job))].map((job) => liveEntry(job, cluster, namespace, now));
  const sources = new KeptOutSources(gateway, namespace, query.sourcesOptIn, otherJobs);
  await sources.load(live);

  const archived: { entry: RunEntry; marker: string | null }[] = [];
  let exhausted = store === null;
  let marker = cursor?.marker ?? null;
  if (store) {
    let wanted = limit;
    for (let pages = 1; ; pages++) {
      const page = await listFrom(store, namespaceRunsPrefix(cluster, namespace), Math.max(limit, ARCHIVE_PAGE), marker);
      const read = page.items.flatMap((blob) => {
        const entry = entryFromMarker(blob.name, blob.metadata);
        return entry ? [entry] : [];
      });
      await sources.load(read);
      for (const entry of read) {
        archived.push({ entry, marker });
        if ((!cursor || compareRuns(entry, cursor) > 0) && query.keep(entry) && !sources.keptOut(entry)) wanted--;
      }
      if (!page.continueToken) {
        exhausted = true;
        break;
      }
      marker = page.continueToken;
      if (wanted <= 0 || pages >= MAX_ARCHIVE_PAGES) break;
    }
  }
  return mergeRunPage(live, { entries: archived, exhausted, next: exhausted ? null : marker }, cursor, limit, (entry) => query.keep(entry) && !sources.keptOut(entry));
}
