// Ending a buildset namespace's content: once a namespace has been deleted or
// has expired for longer than the prune grace period, every object under
// `<name>/` goes, and then its record (the tombstone). Safe online: an ended
// namespace answers no request (its writes are refused from the moment it
// ended, on every replica), and what it shares with a parent or a mirror
// lives in those namespaces, never under its own prefix. A request that was
// already streaming an upload when the namespace ended has had the grace
// period to finish; anything it left is found by the next run (the tombstone
// stays until a run finds the prefix empty).
//
// An extend (PATCH) racing the reap: the extend read the record while it was
// live and writes the new expiry back, while prune read it just after it
// ended. The store has no conditional write, so each side writes first and
// reads the other's after (either prune sees the extension, or the extend
// sees the reap): prune writes a reap mark, then reads the record again and
// deletes only if it is still ended; the extend writes the record, then looks
// for the mark, and when it finds one ends the namespace again and refuses
// (never a 200 for a namespace whose content is going). Marks are kept a day,
// so an extend that stalled through a whole reap still finds its mark.
import { mapLimit } from '../../async/map-limit.js';
import type { StorageDriver } from '../../storage/driver.js';
import { listAll } from '../scope.js';
import { endedAt, isLive, type BuildsetRecord } from './record.js';
import { BuildsetStore } from './store.js';

/** Where reap marks are: outside every namespace (`_` is never one) and outside the records' prefix. */
export const REAP_MARKS_PREFIX = '_buildsets-reaping/';
/** How long a reap mark stays: longer than any extend request can stall. */
export const REAP_MARK_KEEP_MS = 24 * 3600_000;

/** The mark of a reap of this incarnation of the namespace (a name created again later is another). */
export function reapMarkKey(r: Pick<BuildsetRecord, 'name' | 'createdAt'>): string {
  return `${REAP_MARKS_PREFIX}${r.name}/${Date.parse(r.createdAt)}`;
}

/** True when a prune has begun to reap this incarnation: an extend that wrote the record must undo itself. */
export async function reapBegun(driver: StorageDriver, r: BuildsetRecord): Promise<boolean> {
  return (await driver.stat(reapMarkKey(r))) !== null;
}

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
export async function endedBuildsets(driver: StorageDriver, now: number): Promise<{ name: string; createdAt: string; endedAt: number }[]> {
  const store = new BuildsetStore(driver);
  const { names } = await store.names();
  const records = await store.records(names);
  return records.filter((r) => !isLive(r, now)).map((r) => ({ name: r.name, createdAt: r.createdAt, endedAt: endedAt(r) }));
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
    if (!o.dryRun) {
      // The mark first, then the record once more: an extend that wrote before this read is seen here,
      // one that writes after it finds the mark (see the top of this file).
      const mark = reapMarkKey(e);
      await driver.put(mark, Buffer.from(new Date().toISOString()));
      const current = await store.get(e.name);
      if (!current || isLive(current, Date.now()) || current.createdAt !== e.createdAt) {
        await driver.delete(mark);
        continue;
      }
    }
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
  if (!o.dryRun) await dropOldMarks(driver, o.now);
  return out;
}

async function dropOldMarks(driver: StorageDriver, now: number): Promise<void> {
  const old: string[] = [];
  for await (const x of listAll(driver, REAP_MARKS_PREFIX)) {
    if (!x.prefix && x.modified && now - x.modified.getTime() > REAP_MARK_KEEP_MS) old.push(x.key);
  }
  await mapLimit(old, 16, (k) => driver.delete(k));
}
