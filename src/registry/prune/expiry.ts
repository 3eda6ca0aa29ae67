// Which manifests and tags of a repository go: expiration (by push time),
// retention rules, untagged manifests, referrers whose subject goes. A pure
// function of the repository's state and the clock, so the dry run shows
// exactly what a real run decides.
//
//   - Nothing younger than the grace period goes (manifest or tag), and a
//     manifest a young tag points at stays.
//   - Tags: retention's keep-last removes the oldest surplus tags; tags of a
//     manifest that goes, and tags pointing at no manifest, go too.
//   - Roots (kept for their own sake): manifests with a kept tag, untagged
//     manifests unless an untagged delay has passed — except expired ones,
//     and except those whose every tag was removed by retention. A manifest
//     matched by a keep-tags pattern never expires.
//   - Children of a kept index are kept (even if expired: an index is never
//     broken). A referrer (a manifest with a subject) is kept exactly when its
//     subject is kept and it is not expired itself.
//   - A corrupt or unknown manifest is kept; its references are unknown, so
//     nothing else in the repository is removed (tags may still go).
import type { ManifestInfo, RepoModel, TagInfo } from './mark.js';
import { isKeptTag, tagsBeyondKeepLast, type CompiledRule } from './retention.js';

export interface DecideOptions {
  now: number;
  graceMs: number;
  expirationMs?: number;
  rule?: CompiledRule;
}

export interface Decision {
  /** tag -> reason */
  removeTags: Map<string, string>;
  /** digest -> reason */
  removeManifests: Map<string, string>;
  kept: Set<string>;
  /** A manifest with unknown references is kept: remove no manifest and keep every blob link. */
  conservative: boolean;
}

export function decide(model: RepoModel, o: DecideOptions): Decision {
  const { now, graceMs, rule } = o;
  const young = (ms: number) => now - ms < graceMs;
  const manifestYoung = (m: ManifestInfo) => young(Math.max(m.pushed, m.modified));
  const tagYoung = (t: TagInfo) => young(Math.max(t.pushed, t.modified));
  const { manifests } = model;

  const removeTags = new Map<string, string>();
  for (const t of tagsBeyondKeepLast(rule, model.tags)) {
    if (!tagYoung(t)) removeTags.set(t.tag, `retention: beyond keep-last ${rule!.rule.keepLast}`);
  }
  const conservative = [...manifests.values()].some((m) => m.corrupt !== undefined);

  // Manifests protected by a keep-tags pattern or by a young tag; tag counts.
  const protectedByPattern = new Set<string>();
  const youngTagged = new Set<string>();
  const keptTagged = new Set<string>();
  const taggedAtAll = new Set<string>();
  for (const t of model.tags) {
    taggedAtAll.add(t.digest);
    if (isKeptTag(rule, t.tag)) protectedByPattern.add(t.digest);
    if (tagYoung(t)) youngTagged.add(t.digest);
    if (!removeTags.has(t.tag)) keptTagged.add(t.digest);
  }
  const expired = (m: ManifestInfo) =>
    o.expirationMs !== undefined && now - m.pushed >= o.expirationMs && !protectedByPattern.has(m.digest);
  const untaggedMs = rule?.rule.deleteUntaggedAfter !== undefined ? rule.rule.deleteUntaggedAfter * 1000 : undefined;

  const reasons = new Map<string, string>();
  const kept = new Set<string>();
  const referrersOf = new Map<string, string[]>();
  const queue: string[] = [];
  const keep = (d: string) => {
    if (!kept.has(d)) {
      kept.add(d);
      queue.push(d);
    }
  };
  for (const m of manifests.values()) {
    if (m.subject !== undefined) {
      const list = referrersOf.get(m.subject);
      if (list) list.push(m.digest);
      else referrersOf.set(m.subject, [m.digest]);
    }
    if (conservative || m.corrupt !== undefined || manifestYoung(m) || youngTagged.has(m.digest)) keep(m.digest);
    else if (expired(m)) reasons.set(m.digest, 'expired');
    else if (m.subject !== undefined) reasons.set(m.digest, 'subject removed');
    else if (keptTagged.has(m.digest)) keep(m.digest);
    else if (taggedAtAll.has(m.digest)) reasons.set(m.digest, 'retention: every tag removed');
    else if (untaggedMs !== undefined && now - m.pushed >= untaggedMs) reasons.set(m.digest, 'untagged');
    else keep(m.digest);
  }
  while (queue.length > 0) {
    const d = queue.pop()!;
    for (const c of manifests.get(d)?.children ?? []) if (manifests.has(c)) keep(c);
    for (const r of referrersOf.get(d) ?? []) if (!expired(manifests.get(r)!)) keep(r);
  }

  const removeManifests = new Map<string, string>();
  for (const m of manifests.values()) {
    if (kept.has(m.digest)) continue;
    let reason = reasons.get(m.digest) ?? 'unreachable';
    if (reason === 'subject removed' && !manifests.has(m.subject!)) reason = 'subject missing';
    removeManifests.set(m.digest, reason);
  }
  for (const t of model.tags) {
    if (removeTags.has(t.tag)) continue;
    if (removeManifests.has(t.digest)) removeTags.set(t.tag, `manifest removed (${removeManifests.get(t.digest)})`);
    else if (!manifests.has(t.digest) && !tagYoung(t)) removeTags.set(t.tag, 'dangling: manifest not in repository');
  }
  return { removeTags, removeManifests, kept, conservative };
}
