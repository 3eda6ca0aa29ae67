// Docker token scopes: "repository:NAME:pull,push,delete", "registry:catalog:*".
// A scope parameter may hold several scopes separated by spaces (the OAuth2
// form does this); `scope` may also be repeated.
import type { Action } from '../../config/config.js';
import { ACTIONS } from '../../config/config.js';
import { validateRepoName } from '../../registry/names.js';

export type ScopeAction = Action | '*';

/** One requested or granted access (also the shape of the JWT `access` claim). */
export interface ResourceScope {
  type: 'repository' | 'registry';
  name: string;
  actions: string[];
}

/** At most this many scopes are looked at per request (bounds token size and work). */
export const MAX_SCOPES = 32;

function validRepo(name: string): boolean {
  try {
    validateRepoName(name);
    return true;
  } catch {
    return false;
  }
}

/** Parse one scope; null when malformed or of a kind Wharf does not know. */
export function parseScope(text: string): ResourceScope | null {
  const first = text.indexOf(':');
  const last = text.lastIndexOf(':');
  if (first <= 0 || last === first) return null;
  // "repository(plugin)" has a resource class: the class does not change access.
  const type = text.slice(0, first).replace(/\([a-z0-9]+\)$/i, '');
  const name = text.slice(first + 1, last);
  const actions = [
    ...new Set(
      text
        .slice(last + 1)
        .split(',')
        .map((a) => a.trim())
        .filter((a) => a !== ''),
    ),
  ];
  if (type === 'repository') {
    if (!validRepo(name)) return null;
    const known = actions.filter((a) => a === '*' || (ACTIONS as readonly string[]).includes(a));
    return { type, name, actions: known };
  }
  if (type === 'registry' && name === 'catalog') {
    return { type, name, actions: actions.filter((a) => a === '*') };
  }
  return null;
}

/** All scopes from `scope` parameters (repeated, or space-separated), merged per resource. */
export function parseScopes(values: string[]): ResourceScope[] {
  const out = new Map<string, ResourceScope>();
  for (const v of values) {
    for (const text of v.split(' ')) {
      if (text === '') continue;
      const s = parseScope(text);
      if (!s) continue;
      const key = `${s.type}:${s.name}`;
      const prev = out.get(key);
      if (prev) prev.actions = [...new Set([...prev.actions, ...s.actions])];
      else if (out.size < MAX_SCOPES) out.set(key, s);
    }
  }
  return [...out.values()];
}

export function formatScope(s: ResourceScope): string {
  return `${s.type}:${s.name}:${s.actions.join(',')}`;
}

/** Expand "*" to every action. */
export function expandActions(actions: readonly string[]): Action[] {
  if (actions.includes('*')) return [...ACTIONS];
  return ACTIONS.filter((a) => actions.includes(a));
}
