/**
 * A Kubernetes API request as the API server names it (its audit log and apiserver_request_total): the verb
 * (get, list, watch, create, update, patch, delete, deletecollection) and the resource (jobs, pods, pods/log...),
 * from the HTTP method and the path, for the app's METRICS.kubeRequests.
 */
export function kubeRequestOf(method: string, url: string): { verb: string; resource: string } {
  let path: string;
  let watch = false;
  try {
    const parsed = new URL(url, 'http://api');
    path = parsed.pathname;
    watch = parsed.searchParams.get('watch') === 'true' || parsed.searchParams.get('watch') === '1';
  } catch {
    path = url;
  }
  // /api/v1/... or /apis/<group>/<version>/..., then namespaces/<ns>/ for namespaced resources.
  const parts = path.split('/').filter(Boolean);
  let rest = parts[0] === 'api' ? parts.slice(2) : parts[0] === 'apis' ? parts.slice(3) : parts;
  if (rest[0] === 'namespaces' && rest.length > 2) rest = rest.slice(2);
  const [resource = 'unknown', name, subresource] = rest;
  const named = name !== undefined;
  const verb = (() => {
    switch (method.toUpperCase()) {
      case 'GET':
        return watch ? 'watch' : named ? 'get' : 'list';
      case 'POST':
        return 'create';
      case 'PUT':
        return 'update';
      case 'PATCH':
        return 'patch';
      case 'DELETE':
        return named ? 'delete' : 'deletecollection';
      default:
        return method.toLowerCase();
    }
  })();
  return { verb, resource: subresource ? `${resource}/${subresource}` : resource };
}
