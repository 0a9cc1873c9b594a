import type { V1ObjectMeta } from '@kubernetes/client-node';

import type { BlobStore } from '../clients/blob.js';
import type { KubeGateway } from '../clients/kube.js';
import { compareRuns, entryFromMarker, mergeRunPage, namespaceRunsPrefix, type RunCursor, type RunEntry, type RunPage } from '../core/archive.js';
import { type ManagedKind, notRunnable } from '../core/consent.js';
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
 * A source that is gone keeps its runs listed (its archived runs are the namespace's, as on that route). Each kind
 * is read with one list of the namespace (the source Jobs by the label the app's runs lack), and only once a run of
 * that kind is to be shown: never one read per run.
 */
class KeptOutSources {
  private readonly lists = new Map<ManagedKind, Map<string, V1ObjectMeta | undefined>>();

  constructor(
    private readonly gateway: KubeGateway,
    private readonly namespace: string,
    private readonly optIn: boolean,
  ) {}

  /** Reads the lists the entries' source kinds need and has not read yet. */
  async load(entries: readonly RunEntry[]): Promise<void> {
    for (const kind of ['Job', 'CronJob'] as const) {
      if (this.lists.has(kind) || !entries.some((e) => e.source?.kind === kind)) continue;
      const list =
        kind === 'CronJob'
          ? await allCronJobMeta(this.gateway, this.namespace)
          : new Map((await allJobs(this.gateway, this.namespace, NOT_MANAGED_SELECTOR)).map((j) => [j.metadata?.name ?? '', j.metadata] as const));
      this.lists.set(kind, list);
    }
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
 * A namespace's runs, newest first, a page at a time: the app's live Jobs (one label-selected list, every page of
 * it) merged with the archive's namespace index (core/archive.ts namespaceRunsPrefix), read from the cursor's
 * marker on for at most MAX_ARCHIVE_PAGES listing pages. What the API server is asked per request does not grow with
 * the number of runs shown: one list of the app's Jobs, and at most one of source Jobs and one of CronJobs.
 */
export async function listNamespaceRuns(gateway: KubeGateway, store: BlobStore | null, query: NamespaceRunsQuery): Promise<RunPage> {
  const { cluster, namespace, cursor, limit, now } = query;
  const live = (await allJobs(gateway, namespace, MANAGED_SELECTOR)).map((job) => liveEntry(job, cluster, namespace, now));
  const sources = new KeptOutSources(gateway, namespace, query.sourcesOptIn);
  await sources.load(live);

  const archived: { entry: RunEntry; marker: string | null }[] = [];
  let exhausted = store === null;
  let marker = cursor?.marker ?? null;
  if (store) {
    let wanted = limit;
    for (let pages = 1; ; pages++) {
      const page = await store.list(namespaceRunsPrefix(cluster, namespace), { limit: Math.max(limit, ARCHIVE_PAGE), continueToken: marker ?? undefined });
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
