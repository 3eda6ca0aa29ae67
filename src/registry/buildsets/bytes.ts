// Bytes a namespace holds in the store: every object under `<ns>/` (blobs,
// uploads in progress, links). Buildset namespaces are small and short-lived,
// so a listing per push request is the price of a cap that is exact on every
// replica at once (no counter to keep in agreement).
import type { StorageDriver } from '../../storage/driver.js';
import { listAll } from '../scope.js';

export async function namespaceBytes(driver: StorageDriver, ns: string): Promise<{ bytes: number; objects: number }> {
  let bytes = 0;
  let objects = 0;
  for await (const e of listAll(driver, `${ns}/`)) {
    if (e.prefix) continue;
    bytes += e.size ?? 0;
    objects++;
  }
  return { bytes, objects };
}
