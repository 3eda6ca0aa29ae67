// Who may do what: users' zuul-registry `access` (read = pull, write = pull,
// push, delete, everywhere), `access:` rules per namespace and repository glob
// for users or groups, and anonymous pulls when `anonymous-read` is on.
import type { AccessRule, Action, Config, UserConfig } from '../../config/config.js';
import { namespaceOfUser } from '../../registry/buildsets/record.js';

/** The caller as the rules see it: a configured user, or anonymous (name null). */
export interface Subject {
  name: string | null;
  groups: readonly string[];
}

export const ANONYMOUS: Subject = { name: null, groups: [] };

/** `*` matches any characters (including `/`), `?` one character; everything else is literal. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (const ch of glob) {
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += ch.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

interface CompiledRule {
  ns: RegExp;
  repo: RegExp;
  users: Set<string>;
  groups: Set<string>;
  actions: Action[];
}

const BASE: Record<UserConfig['access'], Action[]> = { read: ['pull'], write: ['pull', 'push', 'delete'], none: [] };

export class AccessPolicy {
  private readonly users: Map<string, UserConfig>;
  private readonly rules: CompiledRule[];
  readonly anonymousRead: boolean;

  constructor(
    users: readonly UserConfig[],
    rules: readonly AccessRule[],
    anonymousRead: boolean,
    /** registry.buildsets.path-prefix: a buildset's credential also holds `<prefix>/<its name>/…` (http/buildset-target.ts). */
    private readonly buildsetPathPrefix?: string,
  ) {
    this.users = new Map(users.map((u) => [u.name, u]));
    this.rules = rules.map((r) => ({
      ns: globToRegExp(r.namespace),
      repo: globToRegExp(r.repository),
      users: new Set(r.users),
      groups: new Set(r.groups),
      actions: r.actions,
    }));
    this.anonymousRead = anonymousRead;
  }

  static fromConfig(config: Config): AccessPolicy {
    return new AccessPolicy(config.users, config.auth.rules, config.anonymousRead, config.buildsets?.pathPrefix);
  }

  /** The subject for a user name (a name no longer configured has no rights). */
  subject(name: string | null): Subject {
    if (name === null) return ANONYMOUS;
    return { name, groups: this.users.get(name)?.groups ?? [] };
  }

  /** A configured user, or a buildset namespace's user (whether that namespace still answers is asked elsewhere). */
  isUser(name: string): boolean {
    return this.users.has(name) || namespaceOfUser(name) !== null;
  }

  /** Everything `s` may do on repository `repo` of namespace `ns`. */
  allowed(s: Subject, ns: string, repo: string): Set<Action> {
    const out = new Set<Action>();
    if (s.name === null) {
      if (this.anonymousRead) out.add('pull');
      return out;
    }
    // A buildset namespace's credential: everything in its namespace, nothing anywhere else. Reached
    // by the path prefix, its repositories are `<prefix>/<name>/…` of the namespace the host selects.
    const own = namespaceOfUser(s.name);
    if (own !== null) {
      const byPath = this.buildsetPathPrefix !== undefined && repo.startsWith(`${this.buildsetPathPrefix}/${own}/`);
      return own === ns || byPath ? new Set(['pull', 'push', 'delete']) : out;
    }
    const user = this.users.get(s.name);
    if (!user) return out;
    for (const a of BASE[user.access]) out.add(a);
    for (const r of this.rules) {
      if (out.size === 3) break;
      const who = r.users.has(user.name) || r.users.has('*') || user.groups.some((g) => r.groups.has(g));
      if (who && r.ns.test(ns) && r.repo.test(repo)) for (const a of r.actions) out.add(a);
    }
    return out;
  }

  can(s: Subject, ns: string, repo: string, action: Action): boolean {
    return this.allowed(s, ns, repo).has(action);
  }

  /** Whether some rule (or the user's `access`) lets `s` pull some repository of namespace `ns`. */
  mayPullIn(s: Subject, ns: string): boolean {
    if (s.name === null) return this.anonymousRead;
    const user = this.users.get(s.name);
    if (!user) return false;
    if (BASE[user.access].includes('pull')) return true;
    return this.rules.some(
      (r) =>
        r.actions.includes('pull') &&
        r.ns.test(ns) &&
        (r.users.has(user.name) || r.users.has('*') || user.groups.some((g) => r.groups.has(g))),
    );
  }

  /**
   * The catalog endpoint (its content is then filtered to what `s` may pull). A buildset
   * namespace's credential may ask too: it is shown its own namespace's repositories only.
   */
  canCatalog(s: Subject): boolean {
    return s.name === null ? this.anonymousRead : this.users.has(s.name) || namespaceOfUser(s.name) !== null;
  }
}
