// `registry.storage`: which driver, and the keys every driver shares
// (expiration, redirect, timeout). Each driver's own keys are read by its
// options module (storage/options.ts), so adding a driver option touches
// that module only; adding a driver, a row in DRIVERS and a case in
// cli/open-storage.ts.
import { type FilesystemConfig, filesystemOptions } from '../storage/fs-config.js';
import { type DriverOptions, NO_OPTIONS } from '../storage/options.js';
import { type S3Config, s3Options } from '../storage/s3/config.js';
import { type SwiftConfig, swiftOptions } from '../storage/swift/config.js';
import type { Reader } from './reader.js';

/** Settings of the registry itself, whichever the driver. */
export interface StorageShared {
  /** Seconds after which a pushed manifest expires (prune removes it); unset = never. */
  expiration?: number;
  /** Answer blob GETs with a redirect to a time-limited store URL (Swift/S3). */
  redirect: boolean;
  /** Timeout of one backend call, ms (the network drivers' timeoutMs). */
  timeoutMs: number;
}

export type FilesystemStorage = { driver: 'filesystem' } & FilesystemConfig;
export type MemoryStorage = { driver: 'memory' };
export type SwiftStorage = { driver: 'swift' } & SwiftConfig;
export type S3Storage = { driver: 's3' } & S3Config;
export type StorageConfig = (FilesystemStorage | MemoryStorage | SwiftStorage | S3Storage) & StorageShared;

const DRIVERS = {
  filesystem: filesystemOptions,
  memory: NO_OPTIONS,
  swift: swiftOptions,
  s3: s3Options,
} as const;
type DriverName = keyof typeof DRIVERS;
const DRIVER_NAMES = Object.keys(DRIVERS) as DriverName[];

export function readStorage(r: Reader): StorageConfig {
  const driver = r.enumeration('driver', DRIVER_NAMES, 'filesystem');
  const shared: StorageShared = {
    expiration: r.optionalInteger('expiration', 1),
    redirect: r.boolean('redirect', false),
    timeoutMs: r.integer('timeout', 30, 1, 3600) * 1000,
  };
  const options = DRIVERS[driver];
  r.only(['driver', ...options.keys, 'expiration', 'redirect', 'timeout']);
  if (shared.redirect && !options.redirects) {
    const can = DRIVER_NAMES.filter((n) => DRIVERS[n].redirects);
    r.fail('redirect', `only the ${can.join(' and ')} drivers can redirect blob downloads`);
  }
  return { driver, ...options.read(r, shared), ...shared } as StorageConfig;
}

/** The driver's own settings under their keys, secrets passed through `secret` (for config/effective.ts). */
export function showDriverKeys(s: StorageConfig, secret: (value: string | undefined) => unknown): Record<string, unknown> {
  // Each options module shows the settings its own read() produced.
  return (DRIVERS[s.driver] as DriverOptions<StorageConfig>).show(s, secret);
}
