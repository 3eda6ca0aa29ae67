// The blob sweep: blob data (layers, configs, manifest bodies) that no kept
// manifest references, no repository links and no client was recently told
// exists goes, once it is older than twice the grace period.
//
// A blob is not deleted outright: it is moved into this run's trash
// (trash.ts). Then, in this order: the "recently used" markers are looked at
// again (a reader writes its marker before its last existence check, so either
// the marker is seen here and the blob goes back, or the reader saw it gone),
// and every repository of the namespace is listed again; a blob that a link or
// manifest written meanwhile needs is moved back, the rest is deleted. A push
// links its blobs before it pushes its manifest, and putManifest checks the
// blobs once more after writing the manifest (taking back from the trash what
// it finds there), so either the push sees the blob missing and fails (the
// client uploads it again), or this rescan sees its link and puts the blob back.
import { NotFoundError } from '../../storage/errors.js';
import { mapLimit } from '../../async/map-limit.js';
import { layout } from '../layout.js';
import { parseDigest, type Digest } from '../names.js';
import { listAll } from '../scope.js';
import { errorText, isRecent, problem, type NsContext } from './context.js';
import { PARALLEL, manifestRefs, readManifestInfo } from './mark.js';
import { moveIfThere } from './trash.js';
import { usedNow } from './used.js';
import { digestFromKey, repositories } from './walk.js';

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
    await mapLimit(fresh, PARALLEL, async ({ digest, modified }) => {
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
  const { report, driver, ns, trash } = ctx;
  const dry = ctx.settings.dryRun;
  const sweep = ctx.markComplete;
  if (!sweep) report.sweepSkipped.push(ns);
  const trashed = new Map<string, number>(); // digest -> size

  let scanned = 0;
  const candidates: string[] = []; // digest texts
  /** Move the candidates into the trash (each checked once more), then decide them. */
  const trashCandidates = async () => {
    if (candidates.length === 0) return;
    await trash.open();
    await mapLimit(candidates, PARALLEL, async (text) => {
      const d = parseDigest(text);
      const key = layout.blob(ns, d);
      try {
        const st = await driver.stat(key);
        if (!st) return;
        if (isRecent(ctx, st.modified.getTime())) {
          report.changedBeforeDelete++;
          report.kept.blobs.objects++;
          report.kept.blobs.bytes += st.size;
          return;
        }
        try {
          await driver.move(key, trash.blob(d));
        } catch (err) {
          // A move may fail after its object arrived: then it is decided like the others.
          if (err instanceof NotFoundError || !(await driver.stat(trash.blob(d)).catch(() => null))) throw err;
        }
        trashed.set(d.text, st.size);
      } catch (err) {
        if (!(err instanceof NotFoundError)) problem(ctx, key, `blob delete failed: ${errorText(err)}`);
      }
    });
    candidates.length = 0;
    await finishBatch();
  };
  /** Move one trashed blob back (unless it was uploaded or taken back meanwhile). */
  const putBack = async (d: Digest) => {
    const t = trash.blob(d);
    if (await driver.stat(layout.blob(ns, d))) await driver.delete(t);
    else await moveIfThere(driver, t, layout.blob(ns, d));
  };
  const finishBatch = async () => {
    if (trashed.size === 0) return;
    ctx.progress('blobs', scanned);
    // First the markers: a client told meanwhile that a blob exists gets it back at once.
    let used: Set<string>;
    try {
      used = await usedNow(ctx, [...trashed.keys()]);
    } catch (err) {
      problem(ctx, layout.used(ns), `use markers not readable, trashed blobs put back: ${errorText(err)}`);
      used = new Set(trashed.keys());
    }
    await mapLimit([...used], PARALLEL, async (text) => {
      const size = trashed.get(text)!;
      trashed.delete(text);
      try {
        await putBack(parseDigest(text));
        report.restored.blobs++;
        report.kept.blobs.objects++;
        report.kept.blobs.bytes += size;
        report.kept.usedBlobs++;
      } catch (err) {
        problem(ctx, trash.blob(parseDigest(text)), `trash restore failed: ${errorText(err)}`);
      }
    });
    let needed: Set<string>;
    try {
      needed = await neededNow(ctx, trashed);
    } catch (err) {
      // Without a complete rescan nothing in the trash may go: put it all back.
      problem(ctx, layout.trashRun(ns, trash.run), `rescan failed, trashed blobs put back: ${errorText(err)}`);
      needed = new Set(trashed.keys());
    }
    await mapLimit([...trashed], PARALLEL, async ([text, size]) => {
      const d = parseDigest(text);
      const t = trash.blob(d);
      try {
        if (needed.has(text)) {
          await putBack(d);
          report.restored.blobs++;
          report.kept.blobs.objects++;
          report.kept.blobs.bytes += size;
        } else if (await driver.delete(t)) {
          report.removed.blobs.objects++;
          report.removed.blobs.bytes += size;
        } else {
          // A manifest push took it back from the trash (manifests.ts).
          report.restored.blobs++;
          report.kept.blobs.objects++;
          report.kept.blobs.bytes += size;
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
        const referenced = ctx.referenced.has(d.text);
        if (!sweep || referenced || isRecent(ctx, e.modified?.getTime()) || ctx.used.has(d.text)) {
          report.kept.blobs.objects++;
          report.kept.blobs.bytes += size;
          if (sweep && !referenced) {
            if (ctx.used.has(d.text)) report.kept.usedBlobs++;
            else report.kept.youngBlobs++;
          }
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
    await mapLimit([...trashed.keys()], PARALLEL, async (text) => {
      await putBack(parseDigest(text)).catch(() => undefined);
    });
    throw err;
  }
  ctx.progress('blobs', scanned);
}
