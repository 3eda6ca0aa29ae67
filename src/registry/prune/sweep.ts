// The blob sweep: blob data (layers, configs, manifest bodies) that no kept
// manifest references and no repository links goes, once it is older than
// the grace period.
//
// A blob is not deleted outright: it is moved into this run's trash
// (`<ns>/_trash/<run>/…`), then every repository of the namespace is listed
// again; a blob that a link or manifest written meanwhile needs is moved
// back, the rest is deleted. A push links its blobs before it pushes its
// manifest, and putManifest checks the blobs once more after writing the
// manifest, so either the push sees the blob missing and fails (the client
// uploads it again), or this rescan sees its link and puts the blob back.
//
// A run that dies between the move and the decision leaves its trash behind;
// its heartbeat object stops being refreshed, and the next run (after
// TRASH_STALE_MS) moves everything in it back before it marks.
import { randomBytes } from 'node:crypto';
import { NotFoundError } from '../../storage/errors.js';
import { layout } from '../layout.js';
import { parseDigest, type Digest } from '../names.js';
import { listAll } from '../scope.js';
import { errorText, forEachLimit, isYoung, problem, type NsContext } from './context.js';
import { PARALLEL, manifestRefs, readManifestInfo } from './mark.js';
import { digestFromKey, repositories } from './walk.js';

/** A trash directory whose heartbeat is older than this belongs to a dead run. */
export const TRASH_STALE_MS = 5 * 60_000;
const HEARTBEAT_MS = 30_000;
/** At most this many blobs in the trash at once (bounded memory; one rescan per batch). */
const BATCH = 50_000;
/** Clock slack when comparing storage timestamps with this run's start. */
const SLACK_MS = 5_000;

function blobDigest(alg: string, hex: string): Digest | null {
  try {
    return parseDigest(`${alg}:${hex}`);
  } catch {
    return null;
  }
}

/** Put back what a dead run left in its trash. */
export async function recoverTrash(ctx: NsContext): Promise<void> {
  const root = layout.trash(ctx.ns);
  for await (const r of listAll(ctx.driver, root, { delimiter: '/' })) {
    if (!r.prefix) continue;
    const run = r.key.slice(root.length, -1);
    const alive = await ctx.driver.stat(layout.trashAlive(ctx.ns, run));
    const started = Number(/^(\d+)-/.exec(run)?.[1] ?? 0);
    const last = Math.max(alive?.modified.getTime() ?? 0, started);
    if (ctx.now() - last < TRASH_STALE_MS) continue; // a live run's trash
    if (ctx.settings.dryRun) {
      problem(ctx, r.key, 'trash of an interrupted prune run: a real run puts it back');
      continue;
    }
    for await (const e of listAll(ctx.driver, r.key)) {
      if (e.prefix || e.key === layout.trashAlive(ctx.ns, run)) continue;
      const [alg, hex] = e.key.slice(r.key.length).split('/');
      const d = alg && hex ? blobDigest(alg, hex) : null;
      try {
        if (!d) await ctx.driver.delete(e.key);
        else if (await ctx.driver.stat(layout.blob(ctx.ns, d))) await ctx.driver.delete(e.key);
        else {
          await ctx.driver.move(e.key, layout.blob(ctx.ns, d));
          ctx.report.restored.blobs++;
        }
      } catch (err) {
        if (!(err instanceof NotFoundError)) problem(ctx, e.key, `trash recovery failed: ${errorText(err)}`);
      }
    }
    await ctx.driver.delete(layout.trashAlive(ctx.ns, run)).catch(() => false);
  }
}

/**
 * Which of `wanted` a repository links or a manifest references, listing
 * every repository of the namespace again (repositories created meanwhile
 * included). Manifests written since the run started are read.
 */
async function neededNow(ctx: NsContext, wanted: Map<string, number>): Promise<Set<string>> {
  const needed = new Set<string>();
  const since = ctx.runStart - SLACK_MS;
  for await (const repo of repositories(ctx.driver, ctx.ns)) {
    for await (const e of listAll(ctx.driver, layout.repoBlobLinks(ctx.ns, repo), { delimiter: '/' })) {
      const d = digestFromKey(e.key);
      if (d && wanted.has(d)) needed.add(d);
    }
    const fresh: Array<{ digest: string; modified: number }> = [];
    for await (const e of listAll(ctx.driver, layout.manifestLinks(ctx.ns, repo), { delimiter: '/' })) {
      const d = digestFromKey(e.key);
      if (!d) continue;
      if (wanted.has(d)) needed.add(d);
      const modified = e.modified?.getTime() ?? ctx.now();
      if (modified >= since) fresh.push({ digest: d, modified });
    }
    await forEachLimit(fresh, PARALLEL, async ({ digest, modified }) => {
      const info = await readManifestInfo(ctx, repo, digest, modified).catch(() => null);
      if (!info || info.corrupt !== undefined) return;
      for (const c of info.children ?? []) if (wanted.has(c)) needed.add(c);
      if (info.children) return;
      const refs = await manifestRefs(ctx, digest, info.mediaType).catch(() => null);
      for (const b of refs?.blobs ?? []) if (wanted.has(b)) needed.add(b);
    });
  }
  return needed;
}

export async function sweepBlobs(ctx: NsContext): Promise<void> {
  const { report, driver, ns } = ctx;
  const dry = ctx.settings.dryRun;
  const sweep = ctx.markComplete;
  if (!sweep) report.sweepSkipped.push(ns);
  const run = `${ctx.runStart}-${randomBytes(4).toString('hex')}`;
  const trashed = new Map<string, number>(); // digest -> size
  let heartbeat: NodeJS.Timeout | undefined;
  // The beat in flight, so the final cleanup can wait for it: a beat landing
  // after the heartbeat object is deleted would leave the run's trash behind.
  let beating: Promise<void> = Promise.resolve();
  const beat = () => {
    beating = driver.put(layout.trashAlive(ns, run), Buffer.from(String(Date.now()))).then(() => undefined);
    return beating;
  };

  let scanned = 0;
  const candidates: string[] = []; // digest texts
  /** Move the candidates into the trash (each checked once more), then decide them. */
  const trashCandidates = async () => {
    if (candidates.length === 0) return;
    if (!heartbeat) {
      await beat();
      heartbeat = setInterval(() => void beat().catch(() => undefined), HEARTBEAT_MS);
      heartbeat.unref();
    }
    await forEachLimit(candidates, PARALLEL, async (text) => {
      const d = parseDigest(text);
      const key = layout.blob(ns, d);
      try {
        const st = await driver.stat(key);
        if (!st) return;
        if (isYoung(ctx, st.modified.getTime())) {
          report.changedBeforeDelete++;
          report.kept.blobs.objects++;
          report.kept.blobs.bytes += st.size;
          return;
        }
        await driver.move(key, layout.trashBlob(ns, run, d));
        trashed.set(d.text, st.size);
      } catch (err) {
        if (!(err instanceof NotFoundError)) problem(ctx, key, `blob delete failed: ${errorText(err)}`);
      }
    });
    candidates.length = 0;
    await finishBatch();
  };
  const finishBatch = async () => {
    if (trashed.size === 0) return;
    ctx.progress('blobs', scanned);
    let needed: Set<string>;
    try {
      needed = await neededNow(ctx, trashed);
    } catch (err) {
      // Without a complete rescan nothing in the trash may go: put it all back.
      problem(ctx, layout.trashRun(ns, run), `rescan failed, trashed blobs put back: ${errorText(err)}`);
      needed = new Set(trashed.keys());
    }
    await forEachLimit([...trashed], PARALLEL, async ([text, size]) => {
      const d = parseDigest(text);
      const t = layout.trashBlob(ns, run, d);
      try {
        if (needed.has(text)) {
          if (await driver.stat(layout.blob(ns, d)))
            await driver.delete(t); // uploaded again meanwhile
          else await driver.move(t, layout.blob(ns, d));
          report.restored.blobs++;
          report.kept.blobs.objects++;
          report.kept.blobs.bytes += size;
        } else {
          await driver.delete(t);
          report.removed.blobs.objects++;
          report.removed.blobs.bytes += size;
        }
      } catch (err) {
        problem(ctx, t, `trash ${needed.has(text) ? 'restore' : 'delete'} failed: ${errorText(err)}`);
      }
    });
    trashed.clear();
  };

  try {
    for await (const a of listAll(driver, `${ns}/blobs/`, { delimiter: '/' })) {
      if (!a.prefix) continue;
      const alg = a.key.slice(`${ns}/blobs/`.length, -1);
      for await (const e of listAll(driver, a.key, { delimiter: '/' })) {
        if (e.prefix) continue;
        const d = blobDigest(alg, e.key.slice(a.key.length));
        if (!d) continue;
        const size = e.size ?? 0;
        if (++scanned % 1000 === 0) ctx.progress('blobs', scanned);
        if (!sweep || ctx.referenced.has(d.text) || isYoung(ctx, e.modified?.getTime())) {
          report.kept.blobs.objects++;
          report.kept.blobs.bytes += size;
          if (sweep && !ctx.referenced.has(d.text)) report.kept.youngBlobs++;
          continue;
        }
        if (dry) {
          report.removed.blobs.objects++;
          report.removed.blobs.bytes += size;
          continue;
        }
        // Collected, not moved yet: changing a directory while paging through it
        // makes some backends (fs) read it again for every page.
        candidates.push(d.text);
        if (candidates.length >= BATCH) await trashCandidates();
      }
    }
    await trashCandidates();
  } catch (err) {
    // Stopped half way (a listing failed): whatever is in the trash goes back now.
    await forEachLimit([...trashed.keys()], PARALLEL, async (text) => {
      const d = parseDigest(text);
      await driver.move(layout.trashBlob(ns, run, d), layout.blob(ns, d)).catch(() => undefined);
    });
    throw err;
  } finally {
    if (heartbeat) {
      clearInterval(heartbeat);
      await beating.catch(() => undefined);
      await driver.delete(layout.trashAlive(ns, run)).catch(() => false);
    }
  }
  ctx.progress('blobs', scanned);
}
