// A small typed reader over a raw YAML mapping: each accessor validates one
// key and throws ConfigError naming it (e.g. "registry.storage.root").
export class ConfigError extends Error {
  readonly key: string;
  constructor(key: string, problem: string) {
    super(`${key}: ${problem}`);
    this.name = 'ConfigError';
    this.key = key;
  }
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

export class Reader {
  constructor(
    private readonly raw: Record<string, unknown>,
    private readonly path: string,
  ) {}

  private key(k: string): string {
    return `${this.path}.${k}`;
  }

  fail(k: string, problem: string): never {
    throw new ConfigError(this.key(k), problem);
  }

  /** Reject keys outside `allowed` (catches typos). */
  only(allowed: string[]): void {
    for (const k of Object.keys(this.raw)) {
      if (!allowed.includes(k)) this.fail(k, `unknown key (known here: ${allowed.join(', ')})`);
    }
  }

  /** The keys present (for mappings whose keys are names, e.g. namespaces.mirrors). */
  keys(): string[] {
    return Object.keys(this.raw);
  }

  child(k: string): Reader {
    const v = this.raw[k];
    if (v === undefined || v === null) return new Reader({}, this.key(k));
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(k, 'must be a mapping');
    return new Reader(v as Record<string, unknown>, this.key(k));
  }

  list(k: string): Reader[] {
    const v = this.raw[k];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.fail(k, 'must be a list');
    return v.map((item, i) => {
      if (typeof item !== 'object' || item === null || Array.isArray(item)) this.fail(`${k}[${i}]`, 'must be a mapping');
      return new Reader(item as Record<string, unknown>, `${this.key(k)}[${i}]`);
    });
  }

  optionalString(k: string): string | undefined {
    const v = this.raw[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'number') return String(v);
    if (typeof v !== 'string' || v.length === 0) this.fail(k, `must be a non-empty string (got ${show(v)})`);
    return v;
  }

  string(k: string, fallback?: string): string {
    const v = this.optionalString(k) ?? fallback;
    if (v === undefined) this.fail(k, 'is required');
    return v;
  }

  optionalInteger(k: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const v = this.raw[k];
    if (v === undefined || v === null) return undefined;
    const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      this.fail(k, `must be an integer between ${min} and ${max} (got ${show(v)})`);
    }
    return n;
  }

  integer(k: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    return this.optionalInteger(k, min, max) ?? fallback;
  }

  /**
   * A duration in seconds, returned in milliseconds: a number (decimals
   * allowed) or a string with a unit as Distribution writes them ("500ms",
   * "5s", "2m").
   */
  seconds(k: string, fallbackSeconds: number, minSeconds: number, maxSeconds: number): number {
    const v = this.raw[k];
    if (v === undefined || v === null) return Math.round(fallbackSeconds * 1000);
    const m = typeof v === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(v) : null;
    const scale = { ms: 0.001, s: 1, m: 60, h: 3600 } as const;
    const s = typeof v === 'number' ? v : m ? Number(m[1]) * scale[(m[2] ?? 's') as keyof typeof scale] : NaN;
    if (!Number.isFinite(s) || s < minSeconds || s > maxSeconds) {
      this.fail(
        k,
        `must be a duration between ${minSeconds} and ${maxSeconds} seconds: a number of seconds or e.g. "500ms", "5s", "2m" (got ${show(v)})`,
      );
    }
    return Math.round(s * 1000);
  }

  boolean(k: string, fallback: boolean): boolean {
    const v = this.raw[k];
    if (v === undefined || v === null) return fallback;
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === 'false') return v === 'true';
    this.fail(k, `must be true or false (got ${show(v)})`);
  }

  enumeration<T extends string>(k: string, values: readonly T[], fallback: T): T {
    const v = this.raw[k];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'string' || !values.includes(v as T)) this.fail(k, `must be one of ${values.join(', ')} (got ${show(v)})`);
    return v as T;
  }

  stringMap(k: string): Record<string, string> {
    const v = this.raw[k];
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string')) {
      this.fail(k, 'must be a mapping of strings');
    }
    return v as Record<string, string>;
  }

  /** One string or a list of strings (e.g. an HTTP header's values). */
  stringOrList(k: string): string[] {
    const v = this.raw[k];
    if (typeof v === 'string' || typeof v === 'number') return [String(v)];
    return this.stringList(k);
  }

  stringList(k: string): string[] {
    const v = this.raw[k];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) this.fail(k, 'must be a list of strings');
    return v as string[];
  }
}
