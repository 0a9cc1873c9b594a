/**
 * The console's pages live in the URL's fragment (#/cronjobs?cluster=dev&namespace=batch), so the one HTML file
 * serves them all, a reload keeps the page, and links can be shared (they never carry the key).
 */
export type Route =
  | { page: 'cronjobs' }
  | { page: 'create' }
  | { page: 'cronjob'; name: string }
  | { page: 'jobs' }
  /** A namespace's runs, optionally of some statuses only (`status=Failed` in the fragment's query). */
  | { page: 'runs'; status: string | null }
  | { page: 'run'; runId: string };

export interface Location {
  route: Route;
  cluster: string | null;
  namespace: string | null;
}

const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
/** A status filter as the runs route takes it; anything else in a link is dropped, not sent. */
const STATUS_FILTER = /^(Starting|Running|Success|Failed|Cancelled|Unknown)(,(Starting|Running|Success|Failed|Cancelled|Unknown))*$/;

export function parseHash(hash: string): Location {
  const text = hash.replace(/^#/, '');
  const [path = '', query = ''] = text.split('?', 2);
  const params = new URLSearchParams(query);
  const parts = path.split('/').filter((p) => p !== '').map((p) => decodeURIComponent(p));
  const scope = { cluster: params.get('cluster') || null, namespace: params.get('namespace') || null };
  const [first, second] = parts;
  let route: Route = { page: 'cronjobs' };
  if (first === 'new') route = { page: 'create' };
  else if (first === 'jobs') route = { page: 'jobs' };
  else if (first === 'cronjobs' && second !== undefined && NAME.test(second)) route = { page: 'cronjob', name: second };
  else if (first === 'runs' && second !== undefined && NAME.test(second)) route = { page: 'run', runId: second };
  else if (first === 'runs' && second === undefined) {
    const status = params.get('status');
    route = { page: 'runs', status: status !== null && STATUS_FILTER.test(status) ? status : null };
  }
  return { route, ...scope };
}

export function hashOf(location: Location): string {
  const { route } = location;
  const path =
    route.page === 'create'
      ? '/new'
      : route.page === 'jobs'
        ? '/jobs'
        : route.page === 'cronjob'
          ? `/cronjobs/${encodeURIComponent(route.name)}`
          : route.page === 'run'
            ? `/runs/${encodeURIComponent(route.runId)}`
            : route.page === 'runs'
              ? '/runs'
              : '/cronjobs';
  const params = new URLSearchParams();
  if (location.cluster) params.set('cluster', location.cluster);
  if (location.namespace) params.set('namespace', location.namespace);
  if (route.page === 'runs' && route.status) params.set('status', route.status);
  const query = params.toString();
  return `#${path}${query ? `?${query}` : ''}`;
}
