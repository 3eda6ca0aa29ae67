// Ending a buildset namespace's content: once a namespace has been deleted or
// has expired for longer than the prune grace period, every object under
// `<name>/` goes, and then its record (the tombstone). Safe online: an ended
// namespace answers no request (its writes are refused from the moment it
// ended, on every replica), and what it shares with a parent or a mirror
// lives in those namespaces, never under its own prefix. A request that was
// already streaming an upload when the namespace ended has had the grace
// period to finish; anything it left is found by the next run (the tombstone
// stays until a run finds the prefix empty).
import { mapLimit } from '../../async/map-limit.js';
import type { StorageDriver } from '../../storage/driver.js';
import { listAll } from '../scope.js';
import { endedAt, isLive } from './record.js';
import { BuildsetStore } from './store.js';

export interface ReapedNamespace {
  name: string;
  objects: number;
  bytes: number;
  /** The record went too (nothing was left under the prefix). */
  recordRemoved: boolean;
}

export interface ReapOptions {
  graceMs: number;
  now: number;
  dryRun: boolean;
  /** Configured namespaces: never removed, whatever a record says. */
  protect?: readonly string[];
}

/** Names of buildset namespaces that are ended (deleted or expired), reapable or not. */
export async function endedBuildsets(driver: StorageDriver, now: number): Promise<{ name: string; endedAt: number }[]> {
  const store = new BuildsetStore(driver);
  const { names } = await store.names();
  const records = await store.records(names);
  return records.filter((r) => !isLive(r, now)).map((r) => ({ name: r.name, endedAt: endedAt(r) }));
}

/** Records in the store, live and ended (the metrics' count). */
export async function countBuildsets(driver: StorageDriver, now = Date.now()): Promise<{ live: number; ended: number }> {
  const store = new BuildsetStore(driver);
  const records = await store.records((await store.names()).names);
  const live = records.filter((r) => isLive(r, now)).length;
  return { live, ended: records.length - live };
}

/** Remove the content (then the record) of every buildset namespace ended longer than the grace period ago. */
export async function reapEnded(driver: StorageDriver, o: ReapOptions): Promise<ReapedNamespace[]> {
  const store = new BuildsetStore(driver);
  const out: ReapedNamespace[] = [];
  for (const e of await endedBuildsets(driver, o.now)) {
    if (e.endedAt + o.graceMs > o.now || o.protect?.includes(e.name)) continue;
    const keys: { key: string; size: number }[] = [];
    for await (const x of listAll(driver, `${e.name}/`)) if (!x.prefix) keys.push({ key: x.key, size: x.size ?? 0 });
    const reaped: ReapedNamespace = {
      name: e.name,
      objects: keys.length,
      bytes: keys.reduce((n, k) => n + k.size, 0),
      recordRemoved: false,
    };
    if (!o.dryRun) {
      await mapLimit(keys, 16, (k) => driver.delete(k.key));
      // Re-read: a record extended meanwhile (PATCH) is live again and keeps its record.
      const again = await store.get(e.name);
      if (again && !isLive(again, Date.now())) {
        const left = await driver.list({ prefix: `${e.name}/`, limit: 1 });
        if (left.entries.length === 0) {
          await store.remove(e.name);
          reaped.recordRemoved = true;
        }
      }
    }
    out.push(reaped);
  }
  return out;
}
