/**
 * Which page to show, from the URL alone (no router library):
 *   /view?vm=<vmId>#token=<token>   the full-window viewer (also ?token=, and ?api=<controller URL>)
 *   /                               the operator console
 * The token is read from the fragment first, which browsers never send to servers.
 */

export type Route =
  | { page: 'viewer'; vmId: string; token: string; baseUrl: string }
  | { page: 'viewer-error'; message: string }
  | { page: 'console'; baseUrl: string };

export function parseRoute(location: { pathname: string; search: string; hash: string; origin: string }): Route {
  const query = new URLSearchParams(location.search);
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
  const baseUrl = query.get('api') || location.origin;
  if (/\/view\/?$/.test(location.pathname)) {
    const vmId = query.get('vm') ?? fragment.get('vm');
    const token = fragment.get('token') ?? query.get('token');
    if (!vmId) return { page: 'viewer-error', message: 'The link has no VM id (?vm=…).' };
    if (!token) return { page: 'viewer-error', message: 'The link has no viewer token (#token=…).' };
    return { page: 'viewer', vmId, token, baseUrl };
  }
  return { page: 'console', baseUrl };
}
