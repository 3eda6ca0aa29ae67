// Throttling of failed logins per user name + client address: after
// `maxFailures` failures within `window`, further attempts (right or wrong)
// get 429 TOOMANYREQUESTS with Retry-After until the oldest counted failure
// leaves the window. Attempts still being checked count too, so a burst of
// parallel guesses cannot get past the limit. State is per process (bounded).
export interface ThrottleOptions {
  maxFailures: number;
  windowMs: number;
  /** Most (user, address) pairs remembered; the least recently used go first. */
  maxEntries?: number;
  now?: () => number;
}

interface Entry {
  failures: number[];
  inFlight: number;
}

export type Attempt = { ok: true; done(success: boolean): void } | { ok: false; retryAfterSeconds: number };

export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly max: number;
  private readonly windowMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(opts: ThrottleOptions) {
    this.max = opts.maxFailures;
    this.windowMs = opts.windowMs;
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  private static key(user: string, address: string): string {
    // Bounded key size: a long made-up user name costs no more memory than a short one.
    return `${address}\u0000${user.length > 256 ? user.slice(0, 256) : user}`;
  }

  /** Start a login attempt; call done(success) when the password has been checked. */
  attempt(user: string, address: string): Attempt {
    const key = LoginThrottle.key(user, address);
    const now = this.now();
    let e = this.entries.get(key);
    if (e) {
      e.failures = e.failures.filter((t) => now - t < this.windowMs);
      this.entries.delete(key); // re-insert: most recently used last
    } else {
      e = { failures: [], inFlight: 0 };
    }
    this.entries.set(key, e);
    this.evict();
    if (e.failures.length + e.inFlight >= this.max) {
      const oldest = e.failures.length >= this.max ? e.failures[e.failures.length - this.max]! : undefined;
      const waitMs = oldest !== undefined ? oldest + this.windowMs - now : 1000;
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
    }
    e.inFlight++;
    const entry = e;
    let finished = false;
    return {
      ok: true,
      done: (success: boolean) => {
        if (finished) return;
        finished = true;
        entry.inFlight--;
        if (success) entry.failures = [];
        else entry.failures.push(this.now());
        if (entry.failures.length === 0 && entry.inFlight === 0) this.entries.delete(key);
      },
    };
  }

  private evict(): void {
    if (this.entries.size <= this.maxEntries) return;
    for (const [k, e] of this.entries) {
      if (this.entries.size <= this.maxEntries) break;
      if (e.inFlight === 0) this.entries.delete(k);
    }
  }

  /** Number of remembered (user, address) pairs (for tests). */
  get size(): number {
    return this.entries.size;
  }
}
