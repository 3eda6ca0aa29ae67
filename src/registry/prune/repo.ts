// One repository's pass: remove the tags and manifests `decide` picked, the
// referrer entries of removed referrers, and the blob links no kept manifest
// needs; add everything that stays to the namespace's referenced set.
//
// Safety against pushes running meanwhile (see docs/prune.md):
//   - nothing younger than the grace period is removed;
//   - every object is read again right before its delete, and kept if it
//     changed (a re-pushed manifest, a re-pointed tag) or became young;
//   - blob links go through the run's trash: a link whose blob a client was
//     told exists meanwhile (a "used" marker, see blob-use.ts) is put back
//     at once;
//   - after the deletes, the repository is listed again: manifests and tags
//     written since the first look are read, and whatever they need that
//     this pass removed is put back (manifest links from the bytes read
//     before the delete; blob links are empty objects). putManifest checks
//     its references once more *after* writing the manifest (taking back
//     from the trash what it finds there), so a push either sees a removal
//     and fails, or its manifest is seen here.
import { layout } from '../layout.js';
import type { Descriptor } from '../manifest-parse.js';
import { parseDigest } from '../names.js';
import { listAll } from '../scope.js';
import { NotFoundError } from '../../storage/errors.js';
import { mapLimit } from '../../async/map-limit.js';
import { errorText, isRecent, isYoung, problem, type NsContext } from './context.js';
import { decide } from './expiry.js';
import { PARALLEL, loadRepo, loadTags, manifestRefs, parseLink, readManifestInfo, type ManifestInfo, type TagInfo } from './mark.js';
import { ruleFor } from './retention.js';
import { moveIfThere } from './trash.js';
import { usedNow } from './used.js';
import { digestFromKey } from './walk.js';

interface Removed {
  info: ManifestInfo;
  /** The link object as it was right before the delete: what a restore puts back. */
  raw: Buffer;
}

/**
 * Delete a tag unless it changed since it was read. "changed" carries the
 * digest the tag points at now (kept).
 */
async function deleteTagIfUnchanged(ctx: NsContext, repo: string, t: TagInfo): Promise<'deleted' | 'missing' | { changed: string }> {
  const key = layout.tag(ctx.ns, repo, t.tag);
  const raw = await ctx.driver.get(key);
  if (raw === null) return 'missing';
  const text = raw.toString('utf8');
  if (text !== t.raw) {
    ctx.report.changedBeforeDelete++;
    try {
      return { changed: String((JSON.parse(text) as { digest: string }).digest) };
    } catch {
      return { changed: t.digest };
    }
  }
  await ctx.driver.delete(key);
  return 'deleted';
}

/** Delete a manifest link (and its referrer entry) unless it was re-pushed. Returns what was removed, or null when kept. */
async function deleteManifestIfUnchanged(ctx: NsContext, repo: string, info: ManifestInfo): Promise<Removed | null> {
  const digest = parseDigest(info.digest);
  const key = layout.manifestLink(ctx.ns, repo, digest);
  const [raw, st] = await Promise.all([ctx.driver.get(key), ctx.driver.stat(key)]);
  if (raw === null) return null;
  const link = parseLink(raw);
  if (!link || link.pushed !== info.pushed || isYoung(ctx, Math.max(link.pushed, st?.modified.getTime() ?? Date.now()))) {
    ctx.report.changedBeforeDelete++;
    return null;
  }
  if (link.subject && (await ctx.driver.delete(layout.referrer(ctx.ns, repo, parseDigest(link.subject), digest)))) {
    ctx.report.removed.referrers++;
  }
  await ctx.driver.delete(key);
  return { info, raw };
}

/** The referrer descriptor putManifest writes, rebuilt from a link (for a restore). */
function referrerDescriptor(info: ManifestInfo, raw: Buffer): Descriptor {
  const link = parseLink(raw)!;
  return {
    mediaType: link.mediaType,
    digest: info.digest,
    size: link.size,
    ...(link.artifactType ? { artifactType: link.artifactType } : {}),
    ...(link.annotations ? { annotations: link.annotations } : {}),
  };
}

export async function pruneRepo(ctx: NsContext, repo: string): Promise<number> {
  const { report, settings } = ctx;
  const dry = settings.dryRun;
  const model = await loadRepo(ctx, repo);
  const rule = ruleFor(settings.rules, ctx.ns, repo);
  const d = decide(model, { now: ctx.now(), graceMs: settings.graceMs, expirationMs: settings.expirationMs, rule });
  const tagsByName = new Map(model.tags.map((t) => [t.tag, t]));

  // Spare a manifest after all (a tag kept at the last moment): it, its
  // children and its referrers stay.
  const spare = (digest: string) => {
    if (!d.removeManifests.delete(digest)) return;
    for (const c of model.manifests.get(digest)?.children ?? []) spare(c);
    for (const m of model.manifests.values()) if (m.subject === digest) spare(m.digest);
  };

  // 1. Tags (before manifests: a tag never points at a missing manifest).
  const removeTags = [...d.removeTags].sort(([a], [b]) => (a < b ? -1 : 1));
  const keptTargets: string[] = [];
  await mapLimit(removeTags, PARALLEL, async ([tag, reason]) => {
    const t = tagsByName.get(tag)!;
    if (!dry) {
      try {
        const r = await deleteTagIfUnchanged(ctx, repo, t);
        if (r === 'missing') return;
        if (r !== 'deleted') {
          keptTargets.push(r.changed);
          report.kept.tags++;
          return;
        }
      } catch (err) {
        problem(ctx, layout.tag(ctx.ns, repo, tag), `delete failed: ${errorText(err)}`, repo);
        keptTargets.push(t.digest);
        report.kept.tags++;
        return;
      }
    }
    report.removed.tags++;
    report.items.tags.push({ namespace: ctx.ns, repository: repo, tag, digest: t.digest, reason });
  });
  report.kept.tags += model.tags.length - removeTags.length;
  for (const k of keptTargets) spare(k);

  // 2. Manifests.
  const removed = new Map<string, Removed>();
  const gone = new Set<string>(); // removed (or, in a dry run, to be removed)
  await mapLimit([...d.removeManifests], PARALLEL, async ([digest, reason]) => {
    const info = model.manifests.get(digest)!;
    if (!dry) {
      try {
        const r = await deleteManifestIfUnchanged(ctx, repo, info);
        if (!r) return;
        removed.set(digest, r);
      } catch (err) {
        problem(ctx, digest, `manifest delete failed: ${errorText(err)}`, repo);
        return;
      }
    }
    gone.add(digest);
    report.removed.manifests.objects++;
    report.removed.manifests.bytes += info.size;
    report.items.manifests.push({
      namespace: ctx.ns,
      repository: repo,
      digest,
      mediaType: info.mediaType,
      pushed: new Date(info.pushed).toISOString(),
      reason,
    });
  });

  // 3. Referrer entries whose referrer is gone.
  await sweepReferrerEntries(ctx, repo, model.manifests, gone);

  // 4. What the remaining manifests reference (the mark).
  const repoRefs = new Set<string>();
  let linksConservative = d.conservative;
  const remaining = [...model.manifests.values()].filter((m) => !gone.has(m.digest));
  await mapLimit(remaining, PARALLEL, async (m) => {
    ctx.referenced.add(m.digest);
    report.kept.manifests.objects++;
    report.kept.manifests.bytes += m.size;
    if (m.corrupt !== undefined) return;
    if (m.children) {
      for (const c of m.children) ctx.referenced.add(c);
      return;
    }
    try {
      for (const b of (await manifestRefs(ctx, m.digest, m.mediaType)).blobs) {
        repoRefs.add(b);
        ctx.referenced.add(b);
      }
    } catch (err) {
      problem(ctx, m.digest, `manifest kept, references unknown: ${errorText(err)}`, repo);
      linksConservative = true;
    }
  });

  // 5. Blob links no remaining manifest needs and no client recently used
  // (collected first, then moved into the trash: changing a directory while
  // paging through it costs some backends dearly).
  const unlinked: string[] = []; // in the trash now
  const candidates: string[] = []; // digest texts
  const unlink = async () => {
    if (candidates.length === 0) return;
    await ctx.trash.open();
    const moved: string[] = [];
    await mapLimit(candidates, PARALLEL, async (digest) => {
      let key = digest;
      try {
        const d = parseDigest(digest);
        key = layout.repoBlobLink(ctx.ns, repo, d);
        const st = await ctx.driver.stat(key);
        if (!st) return;
        if (isRecent(ctx, st.modified.getTime())) {
          report.changedBeforeDelete++;
          ctx.referenced.add(digest);
          report.kept.links++;
          return;
        }
        await ctx.driver.move(key, ctx.trash.link(repo, d));
        moved.push(digest);
      } catch (err) {
        if (err instanceof NotFoundError) return;
        // A move may fail after its object arrived: then it is decided like the others.
        if (await ctx.driver.stat(ctx.trash.link(repo, parseDigest(digest))).catch(() => null)) {
          moved.push(digest);
          return;
        }
        problem(ctx, key, `link delete failed: ${errorText(err)}`, repo);
        ctx.referenced.add(digest);
      }
    });
    candidates.length = 0;
    // A client told meanwhile that the blob exists (a marker written before its
    // last look, see blob-use.ts) gets the link back at once.
    let used: Set<string>;
    try {
      used = await usedNow(ctx, moved);
    } catch (err) {
      problem(ctx, layout.used(ctx.ns), `use markers not readable, links put back: ${errorText(err)}`, repo);
      used = new Set(moved);
    }
    await mapLimit(moved, PARALLEL, async (digest) => {
      if (!used.has(digest)) {
        unlinked.push(digest);
        return;
      }
      ctx.referenced.add(digest);
      report.kept.links++;
      report.restored.links++;
      await putLinkBack(ctx, repo, digest).catch((err: unknown) =>
        problem(ctx, digest, `restoring a recently used blob link failed: ${errorText(err)}`, repo),
      );
    });
  };
  for await (const e of listAll(ctx.driver, layout.repoBlobLinks(ctx.ns, repo), { delimiter: '/' })) {
    if (e.prefix) continue;
    const digest = digestFromKey(e.key);
    if (!digest || linksConservative || repoRefs.has(digest) || isRecent(ctx, e.modified?.getTime()) || ctx.used.has(digest)) {
      if (digest) ctx.referenced.add(digest);
      report.kept.links++;
      continue;
    }
    if (dry) report.removed.links++;
    else candidates.push(digest);
    if (candidates.length >= 50_000) await unlink();
  }
  await unlink();

  // 6. Whatever a concurrent push wrote meanwhile gets back what it needs; the
  // other trashed links go.
  if (!dry && (removed.size > 0 || unlinked.length > 0)) await rescanRepo(ctx, repo, model, removed, unlinked);
  return model.manifests.size;
}

/** Move a trashed link back (or, when the link exists again, drop the trashed copy). */
async function putLinkBack(ctx: NsContext, repo: string, digest: string): Promise<void> {
  const d = parseDigest(digest);
  const link = layout.repoBlobLink(ctx.ns, repo, d);
  const t = ctx.trash.link(repo, d);
  if (await ctx.driver.stat(link)) await ctx.driver.delete(t);
  else await moveIfThere(ctx.driver, t, link);
}

async function sweepReferrerEntries(ctx: NsContext, repo: string, manifests: Map<string, ManifestInfo>, gone: Set<string>): Promise<void> {
  const root = layout.referrers(ctx.ns, repo);
  for await (const s of listAll(ctx.driver, root, { delimiter: '/' })) {
    if (!s.prefix) continue;
    for await (const e of listAll(ctx.driver, s.key, { delimiter: '/' })) {
      if (e.prefix) continue;
      const digest = digestFromKey(e.key);
      if (!digest) continue;
      if (gone.has(digest) || manifests.has(digest) || isYoung(ctx, e.modified?.getTime())) continue;
      if (ctx.settings.dryRun) {
        ctx.report.removed.referrers++;
        continue;
      }
      try {
        // A dangling entry: its manifest is not in the repository (checked again now).
        if (await ctx.driver.stat(layout.manifestLink(ctx.ns, repo, parseDigest(digest)))) continue;
        if (await ctx.driver.delete(e.key)) ctx.report.removed.referrers++;
      } catch (err) {
        problem(ctx, e.key, `referrer entry delete failed: ${errorText(err)}`, repo);
      }
    }
  }
  if (ctx.settings.dryRun) {
    // Entries that would go together with their manifests.
    for (const d of gone) if (manifests.get(d)?.subject) ctx.report.removed.referrers++;
  }
}

/**
 * List the repository again after the deletes. Manifests and tags that are new
 * or rewritten since the first look are read; manifest links and blob links
 * this pass removed and they need are put back.
 */
async function rescanRepo(
  ctx: NsContext,
  repo: string,
  model: { manifests: Map<string, ManifestInfo>; tags: TagInfo[] },
  removed: Map<string, Removed>,
  unlinked: string[],
): Promise<void> {
  const neededManifests: string[] = [];
  const neededBlobs = new Set<string>();
  let restoreAllLinks = false;

  const fresh: Array<{ digest: string; modified: number }> = [];
  for await (const e of listAll(ctx.driver, layout.manifestLinks(ctx.ns, repo), { delimiter: '/' })) {
    if (e.prefix) continue;
    const digest = digestFromKey(e.key);
    if (!digest) continue;
    const modified = e.modified?.getTime() ?? ctx.now();
    const before = model.manifests.get(digest);
    if (before && before.modified === modified && !removed.has(digest)) continue;
    fresh.push({ digest, modified });
  }
  await mapLimit(fresh, PARALLEL, async ({ digest, modified }) => {
    const info = await readManifestInfo(ctx, repo, digest, modified).catch(() => null);
    if (!info) return;
    ctx.referenced.add(digest);
    if (info.corrupt !== undefined) {
      restoreAllLinks = true;
      return;
    }
    for (const c of info.children ?? []) {
      neededManifests.push(c);
      ctx.referenced.add(c);
    }
    if (!info.children) {
      try {
        for (const b of (await manifestRefs(ctx, digest, info.mediaType)).blobs) neededBlobs.add(b);
      } catch {
        restoreAllLinks = true;
      }
    }
  });
  const before = new Map(model.tags.map((t) => [t.tag, t.modified]));
  for (const t of await loadTags(ctx, repo, before)) neededManifests.push(t.digest);

  // Put back removed manifests that are needed, with their children and blobs.
  const seen = new Set<string>();
  while (neededManifests.length > 0) {
    const digest = neededManifests.pop()!;
    if (seen.has(digest)) continue;
    seen.add(digest);
    const r = removed.get(digest);
    if (!r) continue;
    const d = parseDigest(digest);
    try {
      if (!(await ctx.driver.stat(layout.manifestLink(ctx.ns, repo, d)))) {
        await ctx.driver.put(layout.manifestLink(ctx.ns, repo, d), r.raw);
        if (r.info.subject) {
          const desc = referrerDescriptor(r.info, r.raw);
          await ctx.driver.put(layout.referrer(ctx.ns, repo, parseDigest(r.info.subject), d), Buffer.from(JSON.stringify(desc)));
        }
        ctx.report.restored.manifests++;
      }
      ctx.referenced.add(digest);
      for (const c of r.info.children ?? []) {
        neededManifests.push(c);
        ctx.referenced.add(c);
      }
      if (!r.info.children) for (const b of (await manifestRefs(ctx, digest, r.info.mediaType)).blobs) neededBlobs.add(b);
    } catch (err) {
      problem(ctx, digest, `restoring a manifest a concurrent push needs failed: ${errorText(err)}`, repo);
      restoreAllLinks = true;
    }
  }

  for (const b of neededBlobs) ctx.referenced.add(b);
  await mapLimit(unlinked, PARALLEL, async (digest) => {
    const d = parseDigest(digest);
    try {
      if (restoreAllLinks || neededBlobs.has(digest)) {
        // A fresh link (young): it stays for the grace period.
        await ctx.driver.put(layout.repoBlobLink(ctx.ns, repo, d), Buffer.alloc(0));
        await ctx.driver.delete(ctx.trash.link(repo, d));
        ctx.referenced.add(digest);
        ctx.report.restored.links++;
      } else if (await ctx.driver.delete(ctx.trash.link(repo, d))) {
        ctx.report.removed.links++;
      } else {
        // A manifest push took it back from the trash meanwhile (manifests.ts).
        ctx.referenced.add(digest);
        ctx.report.restored.links++;
      }
    } catch (err) {
      ctx.referenced.add(digest);
      problem(ctx, digest, `deciding a trashed blob link failed (left in the trash; a later run puts it back): ${errorText(err)}`, repo);
    }
  });
}
