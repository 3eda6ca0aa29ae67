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
//
// A DELETE racing an extend works the same way: the DELETE writes an end mark
// before its tombstone, the extend looks for it after its write, so a
// tombstone is never overwritten by a live record (the DELETE wins).
//
// The name created again while a lagging prune still reaps the old one: the
// new namespace's keys are the old one's names (content-addressed), so that
// prune would delete what the new one answered 201 for. Each reap keeps a run
// mark while it deletes, written again before every batch, and reads the
// record after writing it (stopping when it is not the incarnation it read);
// a create writes the record, then looks for a fresh run mark of the name and
// refuses (409) while one is there. Either the reap sees the new record and
// stops, or the create sees the reap and undoes itself.
import { randomBytes } from 'node:crypto';
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

/** The mark a DELETE of this incarnation writes before its tombstone. */
export function deleteMarkKey(r: Pick<BuildsetRecord, 'name' | 'createdAt'>): string {
  return `${reapMarkKey(r)}.deleted`;
}

/** True when a prune has begun to reap this incarnation, or a DELETE has ended it: an extend that wrote the record must undo itself. */
export async function reapBegun(driver: StorageDriver, r: BuildsetRecord): Promise<boolean> {
  const [reaping, deleted] = await Promise.all([driver.stat(reapMarkKey(r)), driver.stat(deleteMarkKey(r))]);
  return reaping !== null || deleted !== null;
}

/** A reap run's mark while it deletes a namespace's content (one per run: two prunes may reap the same name). */
function runMarkKey(name: string): string {
  return `${REAP_MARKS_PREFIX}${name}/run-${randomBytes(6).toString('hex')}`;
}

/** A run mark not written again for this long belongs to a prune that stopped (it writes one before every batch). */
export const RUN_MARK_FRESH_MS = 10 * 60_000;
/** Keys a reap deletes between two checks of the record. */
const REAP_BATCH = 256;

/** True while a prune may still be deleting the content of an earlier incarnation of `name`: a create must not answer 201. */
export async function reapRunning(driver: StorageDriver, name: string, now = Date.now()): Promise<boolean> {
  for await (const x of listAll(driver, `${REAP_MARKS_PREFIX}${name}/`)) {
    if (x.prefix || !x.key.slice(REAP_MARKS_PREFIX.length + name.length + 1).startsWith('run-')) continue;
    if (!x.modified || now - x.modified.getTime() < RUN_MARK_FRESH_MS) return true;
  }
  return false;
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
  const out: ReapedNamespace[] = [];
  for (const e of await endedBuildsets(driver, o.now)) {
    if (e.endedAt + o.graceMs > o.now || o.protect?.includes(e.name)) continue;
    const reaped = o.dryRun ? await countNamespace(driver, e.name) : await reapOne(driver, e);
    if (reaped) out.push(reaped);
  }
  if (!o.dryRun) await dropOldMarks(driver, o.now);
  return out;
}

async function countNamespace(driver: StorageDriver, name: string): Promise<ReapedNamespace> {
  const reaped: ReapedNamespace = { name, objects: 0, bytes: 0, recordRemoved: false };
  for await (const x of listAll(driver, `${name}/`)) {
    if (x.prefix) continue;
    reaped.objects++;
    reaped.bytes += x.size ?? 0;
  }
  return reaped;
}

/** Reap one ended namespace; null when it turned out not to be reapable (extended, or another incarnation). */
async function reapOne(driver: StorageDriver, e: { name: string; createdAt: string }): Promise<ReapedNamespace | null> {
  const store = new BuildsetStore(driver);
  /** Still the ended incarnation this run read (not extended, not removed and created again). */
  const stillEnded = async () => {
    const current = await store.get(e.name);
    return current !== null && !isLive(current, Date.now()) && current.createdAt === e.createdAt;
  };
  // The mark first, then the record once more: an extend that wrote before this read is seen here,
  // one that writes after it finds the mark (see the top of this file).
  const mark = reapMarkKey(e);
  const run = runMarkKey(e.name);
  const stamp = () => Buffer.from(new Date().toISOString());
  await driver.put(mark, stamp());
  await driver.put(run, stamp());
  try {
    if (!(await stillEnded())) {
      await driver.delete(mark);
      return null;
    }
    const keys: { key: string; size: number }[] = [];
    for await (const x of listAll(driver, `${e.name}/`)) if (!x.prefix) keys.push({ key: x.key, size: x.size ?? 0 });
    const reaped: ReapedNamespace = { name: e.name, objects: 0, bytes: 0, recordRemoved: false };
    for (let i = 0; i < keys.length; i += REAP_BATCH) {
      // The run mark again, then the record: a create of the name either sees a fresh mark or is seen here
      // (also after a listing that took longer than RUN_MARK_FRESH_MS).
      await driver.put(run, stamp());
      if (!(await stillEnded())) return reaped;
      const batch = keys.slice(i, i + REAP_BATCH);
      await mapLimit(batch, 16, (k) => driver.delete(k.key));
      reaped.objects += batch.length;
      reaped.bytes += batch.reduce((n, k) => n + k.size, 0);
    }
    // Re-read: a record extended meanwhile (PATCH) is live again and keeps its record.
    if (await stillEnded()) {
      const left = await driver.list({ prefix: `${e.name}/`, limit: 1 });
      if (left.entries.length === 0) {
        await store.remove(e.name);
        reaped.recordRemoved = true;
      }
    }
    return reaped;
  } finally {
    await driver.delete(run);
  }
}

async function dropOldMarks(driver: StorageDriver, now: number): Promise<void> {
  const old: string[] = [];
  for await (const x of listAll(driver, REAP_MARKS_PREFIX)) {
    if (!x.prefix && x.modified && now - x.modified.getTime() > REAP_MARK_KEEP_MS) old.push(x.key);
  }
  await mapLimit(old, 16, (k) => driver.delete(k));
}
