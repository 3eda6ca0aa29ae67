// What the damage breaks: every manifest that names a bad blob (corrupt or
// missing) or is damaged itself, every index over such a manifest, and the
// tags pointing at them. A second walk over the repositories, done only when
// there is damage; memory grows with the damage, not with the store.
import { layout } from '../layout.js';
import { parseManifest } from '../manifest-parse.js';
import { MANIFEST_TYPES } from '../media-types.js';
import { parseLink } from '../prune/mark.js';
import { digestFromKey, repositories } from '../prune/walk.js';
import { listAll } from '../scope.js';
import { mapLimit } from '../../async/map-limit.js';
import { PARALLEL, digestOrNull, type NsCheck } from './context.js';
import type { Breakage } from './report.js';

/** At most this many broken manifests listed per finding. */
const MAX_BREAKS = 100;

/**
 * For each bad key — a blob digest, or "<repo>@<digest>" of a damaged
 * manifest — the manifests that no longer pull whole because of it.
 */
export async function findImpact(
  ctx: NsCheck,
  badBlobs: ReadonlySet<string>,
  badManifests: ReadonlySet<string>,
): Promise<Map<string, Breakage[]>> {
  const out = new Map<string, Breakage[]>();
  if (badBlobs.size === 0 && badManifests.size === 0) return out;
  for await (const repo of repositories(ctx.driver, ctx.ns)) {
    const hits = new Map<string, Set<string>>(); // manifest digest -> bad keys it depends on
    const indexes: Array<{ digest: string; children: string[] }> = [];
    const hit = (m: string, key: string) => {
      const set = hits.get(m) ?? new Set<string>();
      set.add(key);
      hits.set(m, set);
    };
    const digests: string[] = [];
    for await (const e of listAll(ctx.driver, layout.manifestLinks(ctx.ns, repo), { delimiter: '/' })) {
      const d = e.prefix ? null : digestFromKey(e.key);
      if (d && digestOrNull(d)) digests.push(d);
    }
    await mapLimit(digests, PARALLEL, async (text) => {
      if (badManifests.has(`${repo}@${text}`)) hit(text, `${repo}@${text}`);
      const d = digestOrNull(text)!;
      const [raw, body] = await Promise.all([ctx.driver.get(layout.manifestLink(ctx.ns, repo, d)), ctx.driver.get(layout.blob(ctx.ns, d))]);
      const link = raw ? parseLink(raw) : null;
      if (!link || !body || !MANIFEST_TYPES.includes(link.mediaType)) return;
      try {
        const p = parseManifest(body, link.mediaType);
        for (const b of p.blobs) if (badBlobs.has(b.digest.text)) hit(text, b.digest.text);
        if (p.manifests.length > 0) indexes.push({ digest: text, children: p.manifests.map((m) => m.digest.text) });
      } catch {
        /* reported by the repository check */
      }
    });
    // An index over a broken manifest is broken too (indexes of indexes: a few rounds).
    for (let round = 0; round < 4; round++) {
      let changed = false;
      for (const idx of indexes) {
        for (const c of idx.children) {
          for (const key of hits.get(c) ?? []) {
            const before = hits.get(idx.digest)?.size ?? 0;
            hit(idx.digest, key);
            if ((hits.get(idx.digest)?.size ?? 0) > before) changed = true;
          }
        }
      }
      if (!changed) break;
    }
    if (hits.size === 0) continue;
    const tagsOf = new Map<string, string[]>();
    const prefix = layout.tags(ctx.ns, repo);
    const tagKeys: string[] = [];
    for await (const e of listAll(ctx.driver, prefix, { delimiter: '/' })) if (!e.prefix) tagKeys.push(e.key);
    await mapLimit(tagKeys, PARALLEL, async (key) => {
      const raw = await ctx.driver.get(key);
      try {
        const target = String((JSON.parse(raw?.toString('utf8') ?? '') as { digest?: unknown }).digest);
        if (hits.has(target)) tagsOf.set(target, [...(tagsOf.get(target) ?? []), key.slice(prefix.length)]);
      } catch {
        /* reported by the repository check */
      }
    });
    for (const [m, keys] of hits) {
      for (const key of keys) {
        const list = out.get(key) ?? [];
        if (list.length < MAX_BREAKS) list.push({ repository: repo, manifest: m, tags: (tagsOf.get(m) ?? []).sort() });
        out.set(key, list);
      }
    }
  }
  return out;
}
