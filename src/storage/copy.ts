// Copying one object to another key: the driver's own server-side copy when
// it has one (driver.ts, `copy`), else the bytes streamed through this
// process (read + put). Promotion between namespaces (src/registry/promote.ts)
// copies blobs this way.
import type { ObjectInfo, StorageDriver } from './driver.js';

export async function copyObject(driver: StorageDriver, from: string, to: string): Promise<ObjectInfo> {
  if (driver.copy) return driver.copy(from, to);
  // read() rejects with NotFoundError for a missing source; put is atomic, so a
  // failed stream leaves nothing at `to`.
  return driver.put(to, await driver.read(from));
}
