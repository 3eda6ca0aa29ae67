// Which buildset namespace (src/registry/buildsets/) a request addresses, and
// how it is authorized. The three ways clients already name a namespace:
//
//   ?ns=<name>                          any client that keeps the query
//   Host <name><suffix>                 registry.buildsets.hosts: "*.buildsets.example.com"
//   /v2/<path-prefix>/<name>/<repo>/..  registry.buildsets.path-prefix (default "ns"):
//                                       podman's registries.conf `location`, containerd's
//                                       hosts.toml host with override_path
//
// With the Host or the path prefix, a `?ns=` naming one of the namespace's
// mirror templates (what containerd adds for a mirror of docker.io) puts the
// repository under that template: `?ns=docker.io` + `library/app` is
// `docker.io/library/app` of the buildset, which shadows docker.io.
//
// Only requests that could name a buildset look one up (a `?ns=` outside the
// configuration, a matching Host, the path prefix), so configured namespaces
// pay nothing. The lookup is cached for reads and fresh for writes and token
// requests (directory.ts).
//
// Authorization follows what the client computes: with the path prefix the
// client believes it talks to repository `<path-prefix>/<name>/<repo>` of the
// namespace its host selects, asks that namespace's token endpoint for that
// name, and is checked the same way (a buildset's credential holds exactly
// the repositories under its own prefix: auth/access.ts).
import type { Config } from '../config/config.js';
import type { BuildsetDirectory } from '../registry/buildsets/directory.js';
import { BUILDSET_NAME_RE, type BuildsetRecord } from '../registry/buildsets/record.js';
import { RegistryError } from '../registry/errors.js';
import { resolveNamespace } from '../registry/namespaces.js';
import { route, type Route } from './router.js';

export interface BuildsetTarget {
  ns: string;
  record: BuildsetRecord;
  /** The route inside the namespace. */
  route: Route;
  /** `<path-prefix>/<name>` when reached by path: kept in Location and Link headers. */
  pathPrefix?: string;
  /** The namespace and route the caller is authorized for (as the client sees them). */
  authNs: string;
  authRoute: Route;
}

function unknown(name: string): RegistryError {
  return new RegistryError('NAME_UNKNOWN', 'namespace unknown to registry', { namespace: name.slice(0, 100) });
}

/** The buildset a Host names (`<name><suffix>`, port ignored), or null. */
export function buildsetOfHost(config: Config, host: string | undefined): string | null {
  const suffixes = config.buildsets?.hostSuffixes ?? [];
  if (!host || suffixes.length === 0) return null;
  const name = host.toLowerCase().replace(/:\d+$/, '');
  for (const s of suffixes) if (name.endsWith(s) && name.length > s.length) return name.slice(0, -s.length);
  return null;
}

function withRepo(r: Route, repo: string): Route {
  return 'repo' in r ? { ...r, repo } : r;
}

/**
 * The buildset target of a request, or null when it names none (then the
 * configured namespaces apply). Throws NAME_UNKNOWN for a buildset that does
 * not exist or has ended. May rewrite `url`'s `from` (a mount source named
 * with the path prefix) to the name inside the namespace.
 */
export async function selectBuildsetTarget(
  config: Config,
  directory: BuildsetDirectory,
  host: string | undefined,
  url: URL,
  fresh: boolean,
): Promise<BuildsetTarget | null> {
  const s = config.buildsets;
  if (!s) return null;
  const nsParam = url.searchParams.get('ns')?.toLowerCase() ?? null;
  const staticNs = (n: string) => config.namespaces.known.includes(n);
  const r = route(url.pathname);
  let name: string | null = null;
  let via: 'query' | 'host' | 'path';
  let inner: Route = r;
  let pathPrefix: string | undefined;
  const byHost = buildsetOfHost(config, host);
  if (nsParam !== null && !staticNs(nsParam)) {
    name = nsParam;
    via = 'query';
  } else if (byHost !== null) {
    name = byHost;
    via = 'host';
  } else if ('repo' in r && r.repo.startsWith(`${s.pathPrefix}/`)) {
    const rest = r.repo.slice(s.pathPrefix.length + 1);
    const slash = rest.indexOf('/');
    if (slash <= 0) throw unknown(rest);
    name = rest.slice(0, slash);
    pathPrefix = `${s.pathPrefix}/${name}`;
    inner = withRepo(r, rest.slice(slash + 1));
    via = 'path';
  } else {
    return null;
  }
  if (!BUILDSET_NAME_RE.test(name)) {
    if (via === 'query') return null; // not a buildset name: the configuration decides (dynamic namespaces)
    throw unknown(name);
  }
  const found = await directory.lookup(name, fresh);
  if (found.kind === 'none' && via === 'query') return null; // an ad hoc namespace (namespaces.dynamic), as before
  if (found.kind !== 'live') throw unknown(name);
  const record = found.record;
  if (via !== 'query' && nsParam !== null) {
    // containerd's ?ns=<upstream host> for a mirror: the buildset's shadow of that upstream.
    if (!record.mirrors.includes(nsParam)) throw unknown(nsParam);
    if ('repo' in inner) inner = withRepo(inner, `${nsParam}/${inner.repo}`);
  }
  if (via === 'path') {
    const from = url.searchParams.get('from');
    if (from !== null) {
      if (from.startsWith(`${pathPrefix}/`)) url.searchParams.set('from', from.slice(pathPrefix!.length + 1));
      else {
        // A mount from outside the namespace cannot be done: an ordinary upload.
        url.searchParams.delete('from');
        url.searchParams.delete('mount');
      }
    }
    // Authorized in the namespace the host selects, for the repository as the client named it.
    return { ns: name, record, route: inner, pathPrefix, authNs: resolveNamespace(config.namespaces, host, null), authRoute: r };
  }
  return { ns: name, record, route: inner, authNs: name, authRoute: via === 'host' ? r : inner };
}
