// Turns the storage section of the config into a driver. Object-store drivers
// are imported only when configured, so the default start stays light.
import { resolve } from 'node:path';
import type { StorageConfig } from '../config/config.js';
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
      return new SwiftDriver({
        authUrl: cfg.authUrl,
        username: cfg.username,
        password: cfg.password,
        container: cfg.container,
        authVersion: cfg.authVersion,
        projectName: cfg.projectName,
        projectId: cfg.projectId,
        projectDomainName: cfg.projectDomainName,
        projectDomainId: cfg.projectDomainId,
        userDomainName: cfg.userDomainName,
        userDomainId: cfg.userDomainId,
        region: cfg.region,
        interface: cfg.interface,
        cloud: cfg.cloud,
        tempUrlKey: cfg.tempUrlKey,
        timeoutMs: cfg.timeoutMs,
        onRetry: hooks.onRetry,
      });
    }
    case 's3': {
      const { S3Driver } = await import('../storage/s3.js');
      return new S3Driver({
        endpoint: cfg.endpoint,
        region: cfg.region,
        bucket: cfg.bucket,
        accessKey: cfg.accessKey,
        secretKey: cfg.secretKey,
        forcePathStyle: cfg.forcePathStyle,
        timeoutMs: cfg.timeoutMs,
        onRetry: hooks.onRetry,
      });
    }
  }
}
