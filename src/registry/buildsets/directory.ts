// Which buildset namespaces exist, for the request path. Every request that
// names a namespace not in the configuration asks here, so lookups are cached
// — but only as far as replicas sharing nothing but the store can allow:
//
// - only live records are cached, for CACHE_MS; a namespace created on
//   another replica is never hidden by a cached "no such namespace";
// - expiry is computed from the record's expiresAt at every lookup, cached or
//   not, so it takes effect at the same instant on every replica;
// - writes, logins and token requests ask with `fresh` (one storage read):
//   a DELETE on any replica refuses them at once; reads (GET/HEAD) may see a
//   deleted namespace for at most CACHE_MS on the other replicas.
import { isLive, type BuildsetRecord } from './record.js';
import type { BuildsetStore } from './store.js';

export const CACHE_MS = 2000;
const CACHE_MAX = 10_000;

export type Lookup = { kind: 'live'; record: BuildsetRecord } | { kind: 'ended'; record: BuildsetRecord } | { kind: 'none' };

export class BuildsetDirectory {
  private readonly cache = new Map<string, { record: BuildsetRecord; until: number }>();

  constructor(
    readonly store: BuildsetStore,
    private readonly now: () => number = Date.now,
  ) {}

  async lookup(name: string, fresh: boolean): Promise<Lookup> {
    const now = this.now();
    const hit = this.cache.get(name);
    if (hit && !fresh && hit.until > now) {
      return isLive(hit.record, now) ? { kind: 'live', record: hit.record } : { kind: 'ended', record: hit.record };
    }
    const record = await this.store.get(name);
    if (!record) {
      this.cache.delete(name);
      return { kind: 'none' };
    }
    if (!isLive(record, now)) {
      this.cache.delete(name);
      return { kind: 'ended', record };
    }
    this.remember(record);
    return { kind: 'live', record };
  }

  /** A record this process just wrote (or ended: dropped from the cache). */
  remember(record: BuildsetRecord): void {
    if (!isLive(record, this.now())) {
      this.cache.delete(name(record));
      return;
    }
    if (this.cache.size >= CACHE_MAX) {
      const now = this.now();
      for (const [k, v] of this.cache) if (v.until <= now || this.cache.size >= CACHE_MAX) this.cache.delete(k);
    }
    this.cache.set(record.name, { record, until: this.now() + CACHE_MS });
  }
}

function name(r: BuildsetRecord): string {
  return r.name;
}
