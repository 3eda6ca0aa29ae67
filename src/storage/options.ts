// How a storage driver reads its own keys of `registry.storage`. The config
// reader (config/storage.ts) reads the keys every driver shares and hands
// the rest to the chosen driver's DriverOptions, so adding a driver option
// touches that driver's options module only. Such modules hold data and
// parsing, no driver code: the config reader imports them, never a driver.

/** What a driver's options are read with (config/reader.ts's Reader is one); problems go through `fail`, naming the key. */
export interface OptionReader {
  keys(): string[];
  fail(key: string, problem: string): never;
  optionalString(key: string): string | undefined;
  string(key: string, fallback?: string): string;
  boolean(key: string, fallback: boolean): boolean;
  optionalInteger(key: string, min?: number, max?: number): number | undefined;
  integer(key: string, fallback: number, min?: number, max?: number): number;
  enumeration<T extends string>(key: string, values: readonly T[], fallback: T): T;
}

/** One driver's keys of `registry.storage`, and how they become its settings `T`. */
export interface DriverOptions<T> {
  /** The keys this driver reads, besides the shared driver, expiration, redirect and timeout. */
  readonly keys: readonly string[];
  /** Whether the driver can hand out time-limited download URLs, which `redirect: true` needs. */
  readonly redirects: boolean;
  /** Read the keys (`redirect`: the shared key's value, for drivers that need more keys with it). */
  read(r: OptionReader, shared: { redirect: boolean }): T;
  /**
   * The settings under their keys, as `wharf check-config` prints them
   * (config/effective.ts); every secret goes through `secret`, which hides it.
   */
  show(settings: T, secret: (value: string | undefined) => unknown): Record<string, unknown>;
}

/** A driver without keys of its own (memory). */
export const NO_OPTIONS: DriverOptions<Record<string, never>> = {
  keys: [],
  redirects: false,
  read: () => ({}),
  show: () => ({}),
};
