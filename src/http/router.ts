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

const BASE = 'http://wharf.invalid';

/**
 * The request target as a URL whose path is exactly what the client sent.
 * WHATWG URL parsing resolves dot segments — "/v2/a/../b/manifests/x" would
 * address repository "b" — so a "." or ".." segment (also as %2e) is escaped
 * first and then fails the name, reference or upload id check like any other
 * invalid character. A target starting with "//" stays a path, not a host.
 */
export function parseTarget(target: string): URL {
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(target); // absolute-form (proxy style)
  if (absolute) return parseTarget(target.slice(absolute[0].length) || '/');
  if (!target.startsWith('/')) return new URL(target, BASE);
  const cut = target.search(/[?#]/);
  const path = cut === -1 ? target : target.slice(0, cut);
  // URL parsing also reads '\' as '/' (and would then resolve "a\..\b").
  const kept = path.replace(/\\/g, '%5C').replace(/(?<=\/)(?:\.|%2e){1,2}(?=\/|$)/gi, (seg) => seg.replace(/\.|%2e/gi, '%252E'));
  return new URL(BASE + kept + (cut === -1 ? '' : target.slice(cut)));
}

const ROUTE_RE =
  /^\/v2\/(.+?)\/(tags\/list|manifests\/([^/]+)|blobs\/uploads\/?|blobs\/uploads\/([^/]+)|blobs\/([^/]+)|referrers\/([^/]+))$/;

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
