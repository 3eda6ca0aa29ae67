// Serving storage-use figures without walking the store per page view: the
// summary stored by usage.ts is read with one stat (plus one read when it
// changed since this process last read it), and a new one is computed in the
// background when it is missing or older than the configured age — at most
// one computation per namespace at a time in this process. Replicas share
// the stored summary; one that finds a fresh summary written by another
// replica does not compute its own.
import type { Logger } from '../log/logger.js';
import type { StorageDriver } from '../storage/driver.js';
import { layout } from './layout.js';
import { computeUsage, parseUsage, writeUsage, type RepoUsage, type UsageSummary } from './usage.js';

interface Cached {
  /** Identity of the stored object this was read from. */
  modified: number;
  size: number;
  summary: UsageSummary;
  byRepo: Map<string, RepoUsage>;
}

export interface UsageView {
  /** The latest stored summary, or null when none was computed yet. */
  summary: UsageSummary | null;
  /** Usage of one repository from that summary (undefined when it is not in it). */
  repository(name: string): RepoUsage | undefined;
  /** True while this process computes a newer summary. */
  computing: boolean;
}

/** Summaries of this many namespaces stay in memory. */
const MAX_CACHED = 64;

export class UsageTracker {
  private readonly cache = new Map<string, Cached>();
  private readonly running = new Map<string, Promise<void>>();

  constructor(
    private readonly driver: StorageDriver,
    private readonly maxAgeMs: number,
    private readonly log?: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  private async load(ns: string): Promise<Cached | null> {
    const info = await this.driver.stat(layout.usageSummary(ns));
    if (!info) {
      this.cache.delete(ns);
      return null;
    }
    const held = this.cache.get(ns);
    const modified = info.modified.getTime();
    if (held && held.modified === modified && held.size === info.size) return held;
    const raw = await this.driver.get(layout.usageSummary(ns));
    const summary = raw ? parseUsage(raw, ns) : null;
    if (!summary) return null;
    const entry: Cached = { modified, size: info.size, summary, byRepo: new Map(summary.repositories.map((r) => [r.name, r])) };
    this.cache.delete(ns);
    this.cache.set(ns, entry);
    if (this.cache.size > MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
    return entry;
  }

  private stale(entry: Cached | null): boolean {
    return !entry || this.now() - entry.summary.computedAt >= this.maxAgeMs;
  }

  /** What is known about `ns` now; starts a new computation when the summary is missing or old. */
  async view(ns: string): Promise<UsageView> {
    const entry = await this.load(ns);
    if (this.stale(entry)) void this.refresh(ns);
    return {
      summary: entry?.summary ?? null,
      repository: (name) => entry?.byRepo.get(name),
      computing: this.running.has(ns),
    };
  }

  /** Compute and store a new summary of `ns` (joins one already running). Never rejects: failures are logged. */
  refresh(ns: string, options: { force?: boolean } = {}): Promise<void> {
    const running = this.running.get(ns);
    if (running) return running;
    const job = (async () => {
      try {
        // Another replica may have just written a fresh one.
        if (!options.force && !this.stale(await this.load(ns))) return;
        const summary = await computeUsage(this.driver, ns, this.now);
        await writeUsage(this.driver, summary);
        this.log?.debug('storage use computed', { namespace: ns, repositories: summary.repositories.length, ms: summary.tookMs });
      } catch (err) {
        this.log?.warn('storage use could not be computed', { namespace: ns, err: String(err) });
      } finally {
        this.running.delete(ns);
      }
    })();
    this.running.set(ns, job);
    return job;
  }

  /** Wait for the computations running now (shutdown, tests). */
  async idle(): Promise<void> {
    await Promise.all([...this.running.values()]);
  }
}
