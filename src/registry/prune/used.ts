// Prune's side of the "recently used" markers (src/registry/blob-use.ts):
// which blobs a client was recently told exist. Such a blob stays, and so do
// the repositories' links to it, until its marker's bucket expires.
//
// At the start of a namespace the markers of live buckets are loaded into a
// compact set (8 bytes a digest) and expired buckets are deleted. That set
// spares most candidates; the check that makes the rule hold is `usedNow`,
// run AFTER candidates were moved into the trash (a reader writes its marker
// before its last existence check).
import { NotFoundError } from '../../storage/errors.js';
import { mapLimit } from '../../async/map-limit.js';
import { bucketProtectsUntil } from '../blob-use.js';
import { layout } from '../layout.js';
import { parseDigest } from '../names.js';
import { listAll } from '../scope.js';
import { problem, errorText, type NsContext } from './context.js';

const PARALLEL = 16;

/** Marker buckets of the namespace: live ones (still protecting) and expired ones. */
async function buckets(ctx: NsContext): Promise<{ live: string[]; expired: string[] }> {
  const root = layout.used(ctx.ns);
  const live: string[] = [];
  const expired: string[] = [];
  const now = ctx.now();
  for await (const e of listAll(ctx.driver, root, { delimiter: '/' })) {
    if (!e.prefix) continue;
    const name = e.key.slice(root.length, -1);
    const until = bucketProtectsUntil(name);
    if (until === null) continue; // not a bucket: left alone (fsck reports it)
    (now < until ? live : expired).push(name);
  }
  return { live, expired };
}

/** Load the live markers into `ctx.used`; delete expired buckets (not in a dry run). */
export async function loadUsed(ctx: NsContext): Promise<void> {
  const { live, expired } = await buckets(ctx);
  for (const b of live) {
    const prefix = layout.usedBucket(ctx.ns, b);
    for await (const e of listAll(ctx.driver, prefix)) {
      if (e.prefix) continue;
      const [alg, hex, ...rest] = e.key.slice(prefix.length).split('/');
      if (alg && hex && rest.length === 0) ctx.used.add(`${alg}:${hex}`);
    }
  }
  if (ctx.settings.dryRun) return;
  for (const b of expired) {
    const prefix = layout.usedBucket(ctx.ns, b);
    // Page by page from the start: each page is deleted before the next is listed.
    for (;;) {
      const page = await ctx.driver.list({ prefix });
      const objects = page.entries.filter((e) => !e.prefix).map((e) => e.key);
      if (objects.length === 0) break;
      let failed = false;
      await mapLimit(objects, PARALLEL, async (k) => {
        await ctx.driver.delete(k).catch((err: unknown) => {
          if (err instanceof NotFoundError) return;
          failed = true;
          problem(ctx, k, `expired use marker not deleted: ${errorText(err)}`);
        });
      });
      ctx.report.removed.markers += objects.length;
      if (failed) break;
    }
  }
}

/**
 * Which of `digests` carry a marker of a live bucket now (stat, not the set
 * loaded at the start). Called after the objects were moved into the trash.
 */
export async function usedNow(ctx: NsContext, digests: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  if (digests.length === 0) return out;
  const { live } = await buckets(ctx);
  if (live.length === 0) return out;
  await mapLimit(digests, PARALLEL, async (text) => {
    const d = parseDigest(text);
    for (const b of live) {
      if (await ctx.driver.stat(layout.usedMarker(ctx.ns, b, d))) {
        out.add(text);
        return;
      }
    }
  });
  return out;
}
