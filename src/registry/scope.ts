// A namespace's view of storage: every registry operation takes one. A
// namespace is a whole isolated registry (blobs, repositories, uploads).
import type { StorageDriver } from '../storage/driver.js';

export interface Scope {
  readonly driver: StorageDriver;
  /** Namespace name: the first component of every key the scope touches. */
  readonly ns: string;
  /**
   * Opaque to the registry: what the caller wants handed back to observers
   * of work done under this scope (the HTTP layer puts its request here, so a
   * mirror fill's event names the request that caused it).
   */
  readonly origin?: unknown;
  /**
   * The prune grace period (whole seconds) this deployment promises
   * (`registry.prune.grace`): a blob a client was told exists stays at least
   * this long (src/registry/blob-use.ts). Default 3600; 0: no promise.
   */
  readonly graceSeconds?: number;
}

/**
 * Walk all entries under a prefix, page by page (bounded memory per page).
 * `limit`: entries per listing (default the driver's maximum), for a caller
 * that knows it stops early — a driver may do work per listed entry.
 */
export async function* listAll(
  driver: StorageDriver,
  prefix: string,
  options: { delimiter?: string; startAfter?: string; limit?: number } = {},
) {
  let startAfter = options.startAfter;
  for (;;) {
    const page = await driver.list({ prefix, delimiter: options.delimiter, startAfter, limit: options.limit });
    for (const e of page.entries) yield e;
    if (!page.next || page.entries.length === 0) return;
    startAfter = page.next;
  }
}
