// What every page may need: the namespaces answer (which namespace this
// address selects, who is logged in, what each namespace is), and how a
// namespace is reached by pull clients.
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { NamespacesAnswer } from './api.js';

export interface AppState {
  info?: NamespacesAnswer;
  /** Fetch the namespaces answer again (after a login or logout). */
  refresh(): void;
  /** Announce a message to screen readers (and show it). */
  announce(text: string): void;
}

export const AppContext = createContext<AppState>({ refresh: () => undefined, announce: () => undefined });

export function useApp(): AppState {
  return useContext(AppContext);
}

/**
 * The address pull clients use for repositories of `ns`: this host for the
 * namespace it selects, a host mapped to the namespace, or this host plus
 * the mirror's name as a path prefix. null when the namespace is reached
 * only with `?ns=` (containerd's mirror parameter).
 */
export function pullAddress(info: NamespacesAnswer | undefined, ns: string): string | null {
  const here = location.host;
  if (!info || info.current === ns) return here;
  const entry = info.namespaces.find((n) => n.name === ns);
  if (entry?.hosts.length) return entry.hosts[0]! + (location.port ? `:${location.port}` : '');
  // A mirror's name as a path prefix works where the address selects the default namespace.
  const hereIsDefault = info.namespaces.find((n) => n.name === info.current)?.default ?? false;
  if (entry?.mirror && hereIsDefault) return `${here}/${ns}`;
  return null;
}
