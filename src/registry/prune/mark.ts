// The reference walk: what a repository holds (manifest links, tags) and what
// each manifest references. References are followed through every manifest
// kind parseManifest knows: OCI image manifests and indexes, Docker schema2
// manifests and manifest lists (config, layers, child manifests, subject).
//
// Manifest bodies are read, parsed and dropped: only digests are kept.
import { mapLimit } from '../../async/map-limit.js';
import { layout } from '../layout.js';
import { parseManifest } from '../manifest-parse.js';
import type { ManifestLink } from '../manifests.js';
import { MANIFEST_TYPES, isIndexType } from '../media-types.js';
import { parseDigest } from '../names.js';
import { listAll } from '../scope.js';
import { errorText, problem, type NsContext } from './context.js';
import { digestFromKey } from './walk.js';

export const PARALLEL = 16;

export interface ManifestInfo {
  digest: string;
  /** Push time (ms) from the link metadata. */
  pushed: number;
  /** Modification time of the link object (ms), as listed. */
  modified: number;
  size: number;
  mediaType: string;
  subject?: string;
  /** Child manifests, for indexes. */
  children?: string[];
  /** Set when the manifest's references cannot be known (corrupt or unknown): it is kept. */
  corrupt?: string;
}

export interface TagInfo {
  tag: string;
  digest: string;
  pushed: number;
  modified: number;
  /** The tag object as read, to detect a change before deleting it. */
  raw: string;
}

export interface RepoModel {
  repo: string;
  manifests: Map<string, ManifestInfo>;
  tags: TagInfo[];
}

export interface References {
  blobs: string[];
  children: string[];
  subject?: string;
}

/** A manifest link's metadata, or null when it is not readable as one. */
export function parseLink(raw: Buffer): ManifestLink | null {
  try {
    const l = JSON.parse(raw.toString('utf8')) as ManifestLink;
    if (typeof l !== 'object' || l === null || typeof l.mediaType !== 'string' || typeof l.pushed !== 'number') return null;
    if (l.subject !== undefined) parseDigest(l.subject);
    return l;
  } catch {
    return null;
  }
}

/** What a stored manifest references. Throws (with a reason) when it is missing, corrupt or of an unknown type. */
export async function manifestRefs(ctx: NsContext, digest: string, mediaType: string): Promise<References> {
  if (!MANIFEST_TYPES.includes(mediaType)) throw new Error(`unknown manifest media type ${mediaType}`);
  const body = await ctx.driver.get(layout.blob(ctx.ns, parseDigest(digest)));
  if (!body) throw new Error('manifest body missing from blob storage');
  const parsed = parseManifest(body, mediaType);
  return {
    blobs: parsed.blobs.map((b) => b.digest.text),
    children: parsed.manifests.map((m) => m.digest.text),
    subject: parsed.subject?.digest.text,
  };
}

/** Read one manifest link (and an index's children) into a ManifestInfo. */
export async function readManifestInfo(ctx: NsContext, repo: string, digest: string, modified: number): Promise<ManifestInfo | null> {
  const raw = await ctx.driver.get(layout.manifestLink(ctx.ns, repo, parseDigest(digest)));
  if (!raw) return null; // deleted meanwhile
  const link = parseLink(raw);
  if (!link)
    return { digest, pushed: modified, modified, size: raw.length, mediaType: '?', corrupt: 'manifest link metadata is not readable' };
  const info: ManifestInfo = {
    digest,
    pushed: link.pushed,
    modified,
    size: typeof link.size === 'number' ? link.size : 0,
    mediaType: link.mediaType,
    ...(link.subject ? { subject: link.subject } : {}),
  };
  if (!MANIFEST_TYPES.includes(link.mediaType)) {
    info.corrupt = `unknown manifest media type ${link.mediaType}`;
  } else if (isIndexType(link.mediaType)) {
    try {
      info.children = (await manifestRefs(ctx, digest, link.mediaType)).children;
    } catch (err) {
      info.corrupt = errorText(err);
    }
  }
  return info;
}

/** Every manifest link and tag of a repository, with index children. */
export async function loadRepo(ctx: NsContext, repo: string): Promise<RepoModel> {
  const manifests = new Map<string, ManifestInfo>();
  const prefix = layout.manifestLinks(ctx.ns, repo);
  let page: Array<{ digest: string; modified: number }> = [];
  const flush = async () => {
    await mapLimit(page, PARALLEL, async ({ digest, modified }) => {
      const info = await readManifestInfo(ctx, repo, digest, modified);
      if (!info) return;
      if (info.corrupt) problem(ctx, digest, `manifest kept: ${info.corrupt}`, repo);
      manifests.set(digest, info);
    });
    page = [];
  };
  for await (const e of listAll(ctx.driver, prefix, { delimiter: '/' })) {
    if (e.prefix) continue;
    const digest = digestFromKey(e.key);
    if (!digest) continue;
    try {
      parseDigest(digest);
    } catch {
      continue;
    }
    page.push({ digest, modified: e.modified?.getTime() ?? ctx.now() });
    if (page.length >= 1000) await flush();
  }
  await flush();
  return { repo, manifests, tags: await loadTags(ctx, repo) };
}

/** Tags with their targets. An unreadable tag object is reported and left alone. */
export async function loadTags(ctx: NsContext, repo: string, changedSince?: Map<string, number>): Promise<TagInfo[]> {
  const prefix = layout.tags(ctx.ns, repo);
  const keys: Array<{ tag: string; modified: number }> = [];
  for await (const e of listAll(ctx.driver, prefix, { delimiter: '/' })) {
    if (e.prefix) continue;
    const tag = e.key.slice(prefix.length);
    const modified = e.modified?.getTime() ?? ctx.now();
    // For a rescan: only tags that are new or rewritten since the first look.
    if (changedSince && changedSince.get(tag) === modified) continue;
    keys.push({ tag, modified });
  }
  const tags: TagInfo[] = [];
  await mapLimit(keys, PARALLEL, async ({ tag, modified }) => {
    const raw = await ctx.driver.get(prefix + tag);
    if (!raw) return;
    const text = raw.toString('utf8');
    try {
      const rec = JSON.parse(text) as { digest: string; pushed: number };
      parseDigest(rec.digest);
      tags.push({ tag, digest: rec.digest, pushed: typeof rec.pushed === 'number' ? rec.pushed : modified, modified, raw: text });
    } catch {
      if (!changedSince) problem(ctx, prefix + tag, 'tag object is not readable; left alone', repo);
    }
  });
  return tags;
}
