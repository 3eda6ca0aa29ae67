// Maps a request path to an API route. Repository names contain '/', so the
// route is recognised from the end of the path; the name is validated here.
import { validateRepoName } from '../registry/names.js';

export type Route =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'tags'; repo: string }
  | { kind: 'manifest'; repo: string; reference: string }
  | { kind: 'uploads'; repo: string }
  | { kind: 'upload'; repo: string; id: string }
  | { kind: 'blob'; repo: string; digest: string }
  | { kind: 'referrers'; repo: string; digest: string }
  | { kind: 'unknown' };

const ROUTE_RE = /^\/v2\/(.+?)\/(tags\/list|manifests\/([^/]+)|blobs\/uploads\/?|blobs\/uploads\/([^/]+)|blobs\/([^/]+)|referrers\/([^/]+))$/;

export function route(pathname: string): Route {
  if (pathname === '/v2/' || pathname === '/v2') return { kind: 'base' };
  if (pathname === '/v2/_catalog') return { kind: 'catalog' };
  const m = ROUTE_RE.exec(pathname);
  if (!m) return { kind: 'unknown' };
  const repo = validateRepoName(m[1]!);
  const rest = m[2]!;
  if (rest === 'tags/list') return { kind: 'tags', repo };
  if (m[3] !== undefined) return { kind: 'manifest', repo, reference: m[3] };
  if (m[4] !== undefined) return { kind: 'upload', repo, id: m[4] };
  if (rest.startsWith('blobs/uploads')) return { kind: 'uploads', repo };
  if (m[5] !== undefined) return { kind: 'blob', repo, digest: m[5] };
  return { kind: 'referrers', repo, digest: m[6]! };
}
