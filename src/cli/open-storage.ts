// Turns the storage section of the config into a driver. Object-store drivers
// are imported only when configured, so the default start stays light.
import { resolve } from 'node:path';
import type { StorageConfig } from '../config/storage.js';
import type { StorageDriver } from '../storage/driver.js';
import type { RetryHook } from '../storage/retry.js';

export interface StorageHooks {
  /** Told about each retried backend call (Swift, S3). */
  onRetry?: RetryHook;
}

export async function openStorage(cfg: StorageConfig, hooks: StorageHooks = {}): Promise<StorageDriver> {
  switch (cfg.driver) {
    case 'filesystem': {
      const { FilesystemDriver } = await import('../storage/fs.js');
      return new FilesystemDriver({ root: resolve(cfg.root) });
    }
    case 'memory': {
      const { MemoryDriver } = await import('../storage/memory.js');
      return new MemoryDriver();
    }
    case 'swift': {
      const { SwiftDriver } = await import('../storage/swift.js');
      return new SwiftDriver({ ...driverOptions(cfg), onRetry: hooks.onRetry });
    }
    case 's3': {
      const { S3Driver } = await import('../storage/s3.js');
      return new S3Driver({ ...driverOptions(cfg), onRetry: hooks.onRetry });
    }
  }
}

/** The driver's settings: the section without what the registry keeps for itself (the timeout stays: it is the driver's timeoutMs). */
function driverOptions<T extends StorageConfig>(cfg: T): Omit<T, 'driver' | 'expiration' | 'redirect'> {
  const { driver: _driver, expiration: _expiration, redirect: _redirect, ...options } = cfg;
  return options;
}
