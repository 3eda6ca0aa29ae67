// Buildset namespaces in the metrics: how many there are (counted from the
// store at each scrape, so every replica shows the same), the limits, and
// what was created, deleted and refused here.
import { Counter, Gauge, type Registry } from 'prom-client';

export interface BuildsetsObserver {
  created(): void;
  deleted(): void;
  denied(reason: 'namespaces' | 'bytes' | 'ttl'): void;
}

export interface BuildsetsMetricsOptions {
  limits: { namespaces: number; bytesPerNamespace: number; ttlSeconds: number };
  /** Records in the store: live, and ended but not yet removed by prune. */
  count: () => Promise<{ live: number; ended: number }>;
}

export function buildsetMetrics(registry: Registry, o: BuildsetsMetricsOptions | undefined): BuildsetsObserver {
  const registers = [registry];
  const created = new Counter({
    name: 'wharf_buildset_namespaces_created_total',
    help: 'Buildset namespaces created through this process',
    registers,
  });
  const deleted = new Counter({
    name: 'wharf_buildset_namespaces_deleted_total',
    help: 'Buildset namespaces deleted through this process',
    registers,
  });
  const denied = new Counter({
    name: 'wharf_buildset_denied_total',
    help: 'Requests refused by a buildset limit (namespaces: count cap, bytes: per-namespace cap, ttl: TTL cap)',
    labelNames: ['reason'],
    registers,
  });
  if (o) {
    const limit = new Gauge({
      name: 'wharf_buildset_limit',
      help: 'Buildset limits (registry.buildsets): namespaces, bytes per namespace (0: none), TTL in seconds',
      labelNames: ['limit'],
      registers,
    });
    limit.set({ limit: 'namespaces' }, o.limits.namespaces);
    limit.set({ limit: 'bytes_per_namespace' }, o.limits.bytesPerNamespace);
    limit.set({ limit: 'ttl_seconds' }, o.limits.ttlSeconds);
    const count = o.count;
    new Gauge({
      name: 'wharf_buildset_namespaces',
      help: 'Buildset namespaces in the store: live, or ended and waiting for prune to remove their content',
      labelNames: ['state'],
      registers,
      async collect() {
        const c = await count();
        this.set({ state: 'live' }, c.live);
        this.set({ state: 'ended' }, c.ended);
      },
    });
  }
  return {
    created: () => created.inc(),
    deleted: () => deleted.inc(),
    denied: (reason) => denied.inc({ reason }),
  };
}
