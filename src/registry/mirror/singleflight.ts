// Concurrent requests for the same thing share one piece of work: the first
// caller (the leader) runs it, later callers wait for its result. In-process
// only: each replica fetches a given object from upstream at most once at a
// time.
export class SingleFlight {
  private readonly inflight = new Map<string, Promise<unknown>>();

  /**
   * Run `work` unless a call with the same key is in flight; then join it.
   * `leader` is true for the caller whose `work` runs.
   */
  run<T>(key: string, work: () => Promise<T>): { leader: boolean; result: Promise<T> } {
    const running = this.inflight.get(key) as Promise<T> | undefined;
    if (running) return { leader: false, result: running };
    const result = (async () => {
      try {
        return await work();
      } finally {
        this.inflight.delete(key);
      }
    })();
    this.inflight.set(key, result);
    // A leader that nobody awaits must not become an unhandled rejection.
    result.catch(() => undefined);
    return { leader: true, result };
  }

  /** Number of flights in progress (for tests and diagnostics). */
  get size(): number {
    return this.inflight.size;
  }
}
