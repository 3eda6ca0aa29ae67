// A page of a repository's tags with what each points at (digest, media
// type, total size, platforms) and when it was pushed, sorted by name or by
// push time. By name, a page costs one listing plus a few reads per tag; by
// push time every tag key is listed once (the listing carries each tag
// object's write time), then only the page's tags are read. Mirror
// namespaces add the upstream tags they have cached answers for, marked as
// such; a tag pushed to the namespace shadows the upstream's.
import { mapLimit } from '../async/map-limit.js';
import { summarizeManifest } from './describe.js';
import type { ManifestSummary, TagRow } from './described.js';
import { layout } from './layout.js';
import { readCachedTag } from './mirror/tag-cache.js';
import { parseDigest } from './names.js';
import { listAll, type Scope } from './scope.js';
import { readTag } from './tags.js';

export type TagSort = 'name' | 'pushed';

export interface TagPage {
  tags: TagRow[];
  /** Pass as `after` for the next page; absent on the last page. */
  next?: string;
}

interface Key {
  name: string;
  modified: number;
  source: TagRow['source'];
}

async function listKeys(
  s: Scope,
  prefix: string,
  source: Key['source'],
  startAfter?: string,
  limit?: number,
): Promise<{ keys: Key[]; more: boolean }> {
  const keys: Key[] = [];
  for await (const e of listAll(s.driver, prefix, {
    delimiter: '/',
    startAfter: startAfter === undefined ? undefined : prefix + startAfter,
  })) {
    if (e.prefix) continue;
    if (limit !== undefined && keys.length >= limit) return { keys, more: true };
    keys.push({ name: e.key.slice(prefix.length), modified: e.modified?.getTime() ?? 0, source });
  }
  return { keys, more: false };
}

/** Cursor for push-time order: "<ms>.<name>" of the last row shown. */
function pushedCursor(k: Key): string {
  return `${k.modified}.${k.name}`;
}

function byPushed(a: Key, b: Key): number {
  return b.modified - a.modified || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

function parsePushedCursor(text: string): Key {
  const dot = text.indexOf('.');
  const ms = Number(text.slice(0, dot));
  return { modified: dot > 0 && Number.isFinite(ms) ? ms : Number.MAX_SAFE_INTEGER, name: text.slice(dot + 1), source: 'pushed' };
}

/** Reads of one page run this many at a time. */
const PARALLEL = 8;

async function row(s: Scope, repo: string, k: Key, summaries: Map<string, Promise<ManifestSummary | null>>): Promise<TagRow | null> {
  const rec =
    k.source === 'pushed'
      ? await readTag(s, repo, k.name)
      : await readCachedTag(s, repo, k.name).then((c) => c && { digest: c.digest, pushed: c.fetched });
  if (!rec) return null; // removed meanwhile, or unreadable
  let summary = summaries.get(rec.digest);
  if (!summary) {
    summary = summarizeManifest(s, repo, parseDigest(rec.digest));
    summaries.set(rec.digest, summary);
  }
  const manifest = await summary;
  return { name: k.name, digest: rec.digest, pushed: rec.pushed, source: k.source, ...(manifest ? { manifest } : {}) };
}

export async function tagRows(
  s: Scope,
  repo: string,
  options: { limit: number; after?: string; sort: TagSort; mirror?: boolean },
): Promise<TagPage> {
  const { limit, after, sort } = options;
  let page: Key[];
  let more: boolean;
  if (sort === 'name' && !options.mirror) {
    ({ keys: page, more } = await listKeys(s, layout.tags(s.ns, repo), 'pushed', after, limit));
  } else {
    const own = (await listKeys(s, layout.tags(s.ns, repo), 'pushed')).keys;
    const names = new Set(own.map((k) => k.name));
    const upstream = options.mirror
      ? (await listKeys(s, layout.mirrorTags(s.ns, repo), 'upstream')).keys.filter((k) => !names.has(k.name))
      : [];
    const all = [...own, ...upstream];
    let start = 0;
    if (sort === 'name') {
      all.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      if (after !== undefined) start = all.findIndex((k) => k.name > after);
    } else {
      all.sort(byPushed);
      // The first tag after the cursor's place in the order (the cursor's own tag may have moved since).
      if (after !== undefined) {
        const cursor = parsePushedCursor(after);
        start = all.findIndex((k) => byPushed(k, cursor) > 0);
      }
    }
    if (start < 0) start = all.length;
    page = all.slice(start, start + limit);
    more = start + limit < all.length;
  }
  const summaries = new Map<string, Promise<ManifestSummary | null>>();
  const rows = await mapLimit(page, PARALLEL, (k) => row(s, repo, k, summaries));
  const last = page[page.length - 1];
  return {
    tags: rows.filter((r): r is TagRow => r !== null),
    ...(more && last ? { next: sort === 'name' ? last.name : pushedCursor(last) } : {}),
  };
}
