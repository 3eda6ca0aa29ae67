// Configuration of one mirror namespace (registry.namespaces.mirrors.<name>).
export interface MirrorSettings {
  /** Origin of the upstream registry, e.g. "https://registry-1.docker.io" (no trailing slash). */
  upstream: string;
  /** Credentials for the upstream (basic auth, or for its token service). */
  username?: string;
  password?: string;
  /** How long an upstream tag -> digest answer is trusted before it is asked again (ms); 0 = always ask. */
  tagTtlMs: number;
  /** Bound on each upstream exchange (ms): connect + response headers, and any silence in a body. */
  timeoutMs: number;
}

export const MIRROR_DEFAULTS = { tagTtlSeconds: 300, timeoutSeconds: 10 } as const;
