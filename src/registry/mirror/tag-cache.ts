// What the upstream said a tag points at, and when it said so. Kept in
// storage under the namespace (layout.mirrorTag), so every replica shares it,
// apart from the repository's own tags: a tag pushed to the namespace
// (layout.tag) always wins, and a cached upstream answer never becomes one.
import { layout } from '../layout.js';
import { parseDigest } from '../names.js';
import { listAll, type Scope } from '../scope.js';

export interface CachedTag {
  /** Manifest digest upstream gave for the tag. */
  digest: string;
  /** ms since epoch when the upstream was last asked. */
  fetched: number;
}

export async function readCachedTag(s: Scope, repo: string, tag: string): Promise<CachedTag | null> {
  const raw = await s.driver.get(layout.mirrorTag(s.ns, repo, tag));
  if (!raw) return null;
  try {
    const rec = JSON.parse(raw.toString('utf8')) as CachedTag;
    parseDigest(rec.digest);
    if (!Number.isFinite(rec.fetched)) return null;
    return rec;
  } catch {
    return null; // a damaged entry reads as absent: the upstream is asked again
  }
}

export async function writeCachedTag(s: Scope, repo: string, tag: string, rec: CachedTag): Promise<void> {
  // A cache entry: losing it to a power cut only costs one upstream request.
  await s.driver.put(layout.mirrorTag(s.ns, repo, tag), Buffer.from(JSON.stringify(rec)), { durable: false });
}

export async function deleteCachedTag(s: Scope, repo: string, tag: string): Promise<void> {
  await s.driver.delete(layout.mirrorTag(s.ns, repo, tag));
}

export function isFresh(rec: CachedTag, ttlMs: number, now = Date.now()): boolean {
  return now - rec.fetched < ttlMs;
}

/** Tags with a cached upstream answer (what the tag list shows while the upstream is down). */
export async function listCachedTags(s: Scope, repo: string): Promise<string[]> {
  const prefix = layout.mirrorTags(s.ns, repo);
  const tags: string[] = [];
  for await (const e of listAll(s.driver, prefix, { delimiter: '/' })) {
    if (!e.prefix) tags.push(e.key.slice(prefix.length));
  }
  return tags;
}
