// Which namespace (isolated registry) a request addresses: the `ns` query
// parameter containerd and CRI-O send to mirrors, then a configured Host map,
// then the default.
import { RegistryError } from './errors.js';
import type { MirrorSettings } from './mirror/settings.js';
import { validateNamespace } from './names.js';

export interface NamespaceRules {
  /** Namespace used when nothing else selects one. */
  default: string;
  /** Host header (without port, lower case) -> namespace. */
  hosts: Record<string, string>;
  /** Namespaces known from configuration. */
  known: string[];
  /** Whether an `ns` value that is not configured makes a namespace of its own (true) or is refused. */
  dynamic: boolean;
  /** Mirror namespaces (src/registry/mirror/): namespace -> its upstream. */
  mirrors?: Record<string, MirrorSettings>;
}

export function resolveNamespace(rules: NamespaceRules, host: string | undefined, nsParam: string | null): string {
  if (nsParam !== null) {
    const ns = validateNamespace(nsParam.toLowerCase());
    if (!rules.dynamic && !rules.known.includes(ns) && ns !== rules.default) {
      throw new RegistryError('NAME_UNKNOWN', 'namespace unknown to registry', { namespace: ns });
    }
    return ns;
  }
  if (host) {
    const name = host.toLowerCase().replace(/:\d+$/, '');
    const mapped = rules.hosts[name] ?? rules.hosts[host.toLowerCase()];
    if (mapped) return mapped;
  }
  return rules.default;
}
