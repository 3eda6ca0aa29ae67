// What the auth modules share: the settings, the users, the token signer and
// the access policy, built once at start.
import type { Config } from '../../config/config.js';
import type { Logger } from '../../log/logger.js';
import { AccessPolicy, type Subject } from './access.js';
import { expandActions, type ResourceScope } from './scopes.js';
import { TokenService } from './tokens.js';
import { UserStore } from './users.js';
import type { BuildsetDirectory } from '../../registry/buildsets/directory.js';
import { BUILDSET_NAME_RE } from '../../registry/buildsets/record.js';

/** Told about failed and throttled logins (the metrics count them). */
export interface AuthObserver {
  failedLogin(): void;
  throttled(): void;
}

export interface AuthCore {
  config: Config;
  log: Logger;
  observer?: AuthObserver;
  users: UserStore;
  tokens: TokenService;
  policy: AccessPolicy;
  /** Buildset namespaces (their users, and whether a token's namespace still answers). */
  buildsets?: BuildsetDirectory;
}

export async function createAuthCore(
  config: Config,
  log: Logger,
  observer?: AuthObserver,
  buildsets?: BuildsetDirectory,
): Promise<AuthCore> {
  const users = await UserStore.create(config, log, buildsets);
  const tokens = new TokenService(config, log);
  return { config, log, observer, users, tokens, policy: AccessPolicy.fromConfig(config), buildsets };
}

/**
 * Whether a request (or a token scope) names a buildset namespace: by the path prefix (`repo`
 * under `<prefix>/`), or by its name (a record exists, live or ended). Anonymous callers reach
 * nothing there, whatever `anonymous-read` says.
 */
export async function namesBuildset(core: AuthCore, ns: string, repo: string | null): Promise<boolean> {
  const { config, buildsets } = core;
  if (!config.buildsets || !buildsets) return false;
  if (repo?.startsWith(`${config.buildsets.pathPrefix}/`)) return true;
  if (ns === config.namespaces.default || config.namespaces.known.includes(ns) || !BUILDSET_NAME_RE.test(ns)) return false;
  return (await buildsets.lookup(ns, false)).kind !== 'none';
}

/** The part of each requested scope that `s` may have in namespace `ns` (empty grants are left out). */
export function grant(core: AuthCore, s: Subject, ns: string, requested: ResourceScope[]): ResourceScope[] {
  const out: ResourceScope[] = [];
  for (const r of requested) {
    if (r.type === 'registry') {
      if (r.name === 'catalog' && r.actions.includes('*') && core.policy.canCatalog(s))
        out.push({ type: 'registry', name: 'catalog', actions: ['*'] });
      continue;
    }
    const allowed = core.policy.allowed(s, ns, r.name);
    const actions = expandActions(r.actions).filter((a) => allowed.has(a));
    if (actions.length > 0) out.push({ type: 'repository', name: r.name, actions });
  }
  return out;
}
