// Tags: one small object per tag (tag -> manifest digest), so a tag update is
// one write and never a read-modify-write race between replicas.
import { NotFoundError } from '../storage/errors.js';
import { RegistryError } from './errors.js';
import { layout } from './layout.js';
import { parseDigest, type Digest } from './names.js';
import { listAll, type Scope } from './scope.js';

export interface TagRecord {
  digest: string;
  /** ms since epoch */
  pushed: number;
}

export async function readTag(s: Scope, repo: string, tag: string): Promise<TagRecord | null> {
  const raw = await s.driver.get(layout.tag(s.ns, repo, tag));
  if (!raw) return null;
  try {
    const rec = JSON.parse(raw.toString('utf8')) as TagRecord;
    parseDigest(rec.digest);
    return rec;
  } catch {
    return null; // a corrupt tag object reads as absent, never as a 500
  }
}

export async function resolveTag(s: Scope, repo: string, tag: string): Promise<Digest> {
  const rec = await readTag(s, repo, tag);
  if (!rec) throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown', { tag });
  return parseDigest(rec.digest);
}

/** Point a tag at a manifest; returns what was written. */
export async function setTag(s: Scope, repo: string, tag: string, digest: Digest): Promise<{ name: string; record: TagRecord }> {
  const rec: TagRecord = { digest: digest.text, pushed: Date.now() };
  await s.driver.put(layout.tag(s.ns, repo, tag), Buffer.from(JSON.stringify(rec)));
  return { name: tag, record: rec };
}

export async function deleteTag(s: Scope, repo: string, tag: string): Promise<void> {
  if (!(await s.driver.delete(layout.tag(s.ns, repo, tag)))) {
    throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown', { tag });
  }
}

/** Tags in lexical order, after `last`, at most `limit` (all when undefined). */
export async function listTags(
  s: Scope,
  repo: string,
  options: { limit?: number; last?: string } = {},
): Promise<{ tags: string[]; more: boolean }> {
  const prefix = layout.tags(s.ns, repo);
  const tags: string[] = [];
  const startAfter = options.last !== undefined ? prefix + options.last : undefined;
  for await (const e of listAll(s.driver, prefix, { delimiter: '/', startAfter })) {
    if (e.prefix) continue;
    if (options.limit !== undefined && tags.length >= options.limit) return { tags, more: true };
    tags.push(e.key.slice(prefix.length));
  }
  return { tags, more: false };
}

/** Remove every tag of `repo` that points at `digest`. */
export async function untagDigest(s: Scope, repo: string, digest: Digest): Promise<void> {
  const { tags } = await listTags(s, repo);
  await Promise.all(
    tags.map(async (t) => {
      const rec = await readTag(s, repo, t);
      if (rec?.digest === digest.text) {
        await s.driver.delete(layout.tag(s.ns, repo, t)).catch((err) => {
          if (!(err instanceof NotFoundError)) throw err;
        });
      }
    }),
  );
}
