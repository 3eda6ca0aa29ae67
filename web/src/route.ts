// Pages are addressed by the URL fragment, so links work without any server
// routing and a reload stays on the page:
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
