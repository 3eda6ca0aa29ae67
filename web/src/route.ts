// Pages are addressed by the URL fragment, so links work without any server
// routing and a reload stays on the page. A namespace's repositories are also
// addressed by path, /ui/r/<ns> (no fragment): the server renders that page's
// first rows into the HTML (src/http/ui/first-page.ts). A fragment, when
// there is one, names the page (links inside the app are fragments):
//   #/                              namespaces
//   #/<ns>                          repositories of a namespace
//   #/<ns>/<repository>             a repository: its tags
//   #/<ns>/<repository>/-/<ref>     a manifest, by tag or digest
//   #/login                         the login form
// "-" can never be a repository name component, so it separates the name
// (which contains "/") from the reference.
// (No Preact here: the inline boot script of index.html uses it too.)
export type Route =
  | { page: 'namespaces' }
  | { page: 'login'; back?: string }
  | { page: 'repositories'; ns: string }
  | { page: 'repository'; ns: string; repo: string }
  | { page: 'manifest'; ns: string; repo: string; reference: string };

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The path that names a namespace's repository list (the server renders its first page). */
export const LIST_PATH = '/ui/r/';

/** The page a location names: its fragment, else its path (/ui/r/<ns>), else the namespaces. */
export function routeOf(pathname: string, hash: string): Route {
  if (hash.replace(/^#/, '') !== '' || !pathname.startsWith(LIST_PATH)) return parseRoute(hash);
  const ns = pathname.slice(LIST_PATH.length).replace(/\/$/, '');
  return ns === '' || ns.includes('/') ? parseRoute(hash) : { page: 'repositories', ns: decode(ns) };
}

/** The current page as a fragment (what a login link comes back to). */
export function hereHash(): string {
  if (location.hash.replace(/^#/, '') !== '') return location.hash;
  const route = routeOf(location.pathname, location.hash);
  return route.page === 'repositories' ? href.repositories(route.ns) : '';
}

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#\/?/, '');
  if (path === '') return { page: 'namespaces' };
  if (path === 'login' || path.startsWith('login?')) {
    const back = new URLSearchParams(path.slice(6)).get('back') ?? undefined;
    return { page: 'login', back };
  }
  const slash = path.indexOf('/');
  if (slash < 0) return { page: 'repositories', ns: decode(path) };
  const ns = decode(path.slice(0, slash));
  const rest = path.slice(slash + 1);
  const sep = rest.indexOf('/-/');
  if (sep < 0) return { page: 'repository', ns, repo: decode(rest.replace(/\/+$/, '')) };
  return { page: 'manifest', ns, repo: decode(rest.slice(0, sep)), reference: decode(rest.slice(sep + 3)) };
}

const enc = (s: string) => encodeURIComponent(s).replace(/%2F/g, '/').replace(/%3A/g, ':');

export const href = {
  namespaces: () => '#/',
  login: (back?: string) => (back ? `#/login?back=${encodeURIComponent(back)}` : '#/login'),
  repositories: (ns: string) => `#/${enc(ns)}`,
  repository: (ns: string, repo: string) => `#/${enc(ns)}/${enc(repo)}`,
  manifest: (ns: string, repo: string, reference: string) => `#/${enc(ns)}/${enc(repo)}/-/${enc(reference)}`,
};
