// "Recently used" markers: a client that was just told a blob exists (HEAD or
// GET 200, a mount, a deduplicated upload) skips uploading it and may push a
// manifest naming it up to a grace period later. A marker in the store makes
// prune keep that blob — its data and every repository's link to it — for at
// least that long, whichever replica answered (no shared memory).
//
// Markers live in time buckets, `<ns>/_used/<W>-<b>/<alg>/<hex>`, where W is
// the grace period in seconds and b = floor(now / W). A marker in bucket b is
// written before (b+1)·W and promises protection until (b+2)·W (plus a clock
// slack). A reader writes one only when the current bucket has none, so a
// blob read all day costs one small write per grace period; and only when the
// blob or its link is older than the grace (prune keeps younger ones for twice
// the grace by their own times). Markers are never rewritten, so prune deletes
// expired buckets without racing a writer.
//
// Order matters: the marker is written BEFORE the reader's final existence
// check, and prune looks for markers AFTER moving a blob or link into its
// trash (src/registry/prune/used.ts). Either prune sees the marker and puts the
// object back, or the reader sees the object gone and answers 404 (the client
// uploads it).
import type { ObjectInfo } from '../storage/driver.js';
import { layout } from './layout.js';
import type { Digest } from './names.js';
import type { Scope } from './scope.js';

/** `registry.prune.grace` when nothing else is configured. */
export const DEFAULT_GRACE_SECONDS = 3600;
/** Clock difference between replicas and prune processes that markers tolerate. */
export const USED_SLACK_MS = 2000;

/** The grace period (whole seconds) a scope's readers promise; 0 turns markers off. */
export function graceSecondsOf(s: Scope): number {
  return s.graceSeconds ?? DEFAULT_GRACE_SECONDS;
}

/** Name of the bucket `now` falls in for a grace of `graceSeconds`. */
export function usedBucket(graceSeconds: number, now: number): string {
  return `${graceSeconds}-${Math.floor(now / (graceSeconds * 1000))}`;
}

/** Until when (ms) a bucket's markers protect their blobs, or null for a name that is not a bucket. */
export function bucketProtectsUntil(name: string): number | null {
  const m = /^(\d{1,9})-(\d{1,15})$/.exec(name);
  if (!m) return null;
  const w = Number(m[1]) * 1000;
  if (w <= 0) return null;
  return (Number(m[2]) + 2) * w + USED_SLACK_MS;
}

/**
 * Write the marker of the current bucket for `d` unless it is there.
 * Resolves to true when it wrote one.
 */
export async function markUsed(s: Scope, d: Digest, now = Date.now()): Promise<boolean> {
  const grace = graceSecondsOf(s);
  if (grace <= 0) return false;
  const key = layout.usedMarker(s.ns, usedBucket(grace, now), d);
  if (await s.driver.stat(key)) return false;
  await s.driver.put(key, Buffer.alloc(0), { durable: false });
  return true;
}

/**
 * A client is about to be told that `d` exists; `seen` are the objects that
 * say so (the blob's data, the repository's link), as just stat'ed. When any
 * is older than the grace period, make sure a marker covers the next grace
 * period. Resolves to true when a marker was written: the caller must then
 * check once more that the objects exist (see the order above).
 */
export async function noteBlobUse(s: Scope, d: Digest, seen: ObjectInfo[], now = Date.now()): Promise<boolean> {
  const grace = graceSecondsOf(s);
  if (grace <= 0) return false;
  if (seen.every((o) => now - o.modified.getTime() < grace * 1000)) return false;
  return markUsed(s, d, now);
}
