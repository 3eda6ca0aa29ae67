// Promotion: a manifest and everything it references (config and layers, an
// index's child manifests recursively, optionally its referrers) copied from
// a repository of one namespace into a repository of another (or the same)
// namespace under a tag — e.g. what a CI buildset built, published to a
// long-lived namespace. Both namespaces live in one store.
//
// Blobs are per namespace, so each one the target lacks is copied there by the
// store (copyObject: a hard link, CopyObject, a Swift server-side copy), not
// through this process. The order keeps the usual promises:
//   1. plan (reads only): every manifest and blob is looked up in the source
//      (blobs by their link, their data and the size their descriptor gives);
//      anything missing or wrong fails here with a 4xx, before any write;
//   2. blobs: a "recently used" marker in the target first, for the
//      manifests' bodies too (blob-use.ts: a prune running in the target that
//      moves the new blob or link into its trash puts it back), then the copy
//      unless an equal-sized blob is there (a different size is quarantined
//      and replaced, as an upload does; docs/uploads.md), then the target
//      repository's link;
//   3. manifests, children before parents, through putManifest — the same
//      checks as a push (references present, taken back from a prune's trash,
//      checked again after the writes) — and the root last, with the tag.
// A promotion that fails half way leaves at most untagged content (prune's to
// collect), never a tag pointing at missing content. A prune that removed a
// blob between steps 2 and 3 (possible only with markers off, grace 0) makes
// the manifest step fail with MANIFEST_BLOB_UNKNOWN: the blobs are then
// copied again, a few times.
import { mapLimit } from '../async/map-limit.js';
import { copyObject } from '../storage/copy.js';
import { NotFoundError } from '../storage/errors.js';
import { markUsed } from './blob-use.js';
import { blobExists, linkBlob } from './blobs.js';
import { repoExists } from './catalog.js';
import { isRegistryError, RegistryError } from './errors.js';
import { layout } from './layout.js';
import { parseManifest } from './manifest-parse.js';
import { getManifest, putManifest, resolveReference, type PutManifestResult } from './manifests.js';
import { parseDigest, validateRepoName, validateTag, type Digest } from './names.js';
import { quarantineBlob } from './quarantine.js';
import { listReferrers } from './referrers.js';
import type { Scope } from './scope.js';

export interface PromoteSource {
  repo: string;
  /** Tag or digest. */
  reference: string;
}

export interface PromoteTarget {
  repo: string;
  tag: string;
}

export interface PromoteOptions {
  /** Also promote the manifests that refer to each promoted one (OCI referrers: signatures, SBOMs), recursively. */
  referrers?: boolean;
  /** Told about each manifest written in the target (the HTTP layer sends push events). */
  onManifest?: (m: PutManifestResult & { tag?: string }) => void;
  /**
   * Asked after the plan, before any write, with what the promotion would add
   * to the target namespace (blobs it lacks, manifest bodies included); throws
   * to refuse — e.g. a buildset namespace's byte cap (registry.buildsets.max-bytes).
   */
  admit?: (incoming: { blobs: number; bytes: number }) => Promise<void>;
}

export interface PromoteResult {
  digest: Digest;
  mediaType: string;
  size: number;
  /** Blobs the store copied into the target namespace (no bytes through Wharf where the store can copy). */
  copied: { blobs: number; bytes: number };
  /** Blobs the target namespace already held (not copied again). */
  reused: { blobs: number; bytes: number };
  /** What the target repository now links: blobs, manifests (the root included), referrers among them. */
  linked: { blobs: number; manifests: number; referrers: number };
}

/** A manifest to write in the target: its body as stored, in an order that puts children first. */
interface PlannedManifest {
  digest: Digest;
  mediaType: string;
  body: Buffer;
  referrer: boolean;
}

interface Plan {
  root: PlannedManifest;
  /** Children and referrers, each before anything that needs it; the root not included. */
  others: PlannedManifest[];
  blobs: Map<string, { digest: Digest; size: number }>;
}

/** More manifests than this in one promotion is refused (an index of indexes of… is not a use case). */
export const MAX_PROMOTED_MANIFESTS = 10_000;
const PARALLEL = 4;

function manifestUnknown(repo: string, reference: string): RegistryError {
  return new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown to the source repository', { repository: repo, reference });
}

/** Step 1: everything the promotion needs, read from the source; throws a RegistryError for anything missing. */
async function plan(src: Scope, from: PromoteSource, withReferrers: boolean): Promise<Plan> {
  if (!(await repoExists(src, from.repo))) {
    throw new RegistryError('NAME_UNKNOWN', 'repository name not known to the source namespace', {
      namespace: src.ns,
      repository: from.repo,
    });
  }
  let rootDigest: Digest;
  try {
    rootDigest = await resolveReference(src, from.repo, from.reference);
  } catch (err) {
    if (isRegistryError(err) && err.code === 'MANIFEST_UNKNOWN') throw manifestUnknown(from.repo, from.reference);
    throw err;
  }
  const seen = new Map<string, PlannedManifest>();
  const order: PlannedManifest[] = [];
  const blobs = new Map<string, { digest: Digest; size: number }>();
  const missing: string[] = [];

  // Through getManifest: bytes that no longer hash to their name are never copied (they are quarantined).
  const load = async (d: Digest, referrer: boolean): Promise<PlannedManifest> => {
    try {
      const m = await getManifest(src, from.repo, d.text);
      return { digest: d, mediaType: m.link.mediaType, body: m.body, referrer };
    } catch (err) {
      if (isRegistryError(err) && err.code === 'MANIFEST_UNKNOWN') throw manifestUnknown(from.repo, d.text);
      throw err;
    }
  };

  // Depth first, children before their parent (post-order): putManifest needs them linked.
  const visit = async (d: Digest, referrer: boolean): Promise<void> => {
    if (seen.has(d.text)) return;
    if (seen.size >= MAX_PROMOTED_MANIFESTS) {
      throw new RegistryError('DENIED', `a promotion copies at most ${MAX_PROMOTED_MANIFESTS} manifests`, { digest: rootDigest.text });
    }
    const m = await load(d, referrer);
    seen.set(d.text, m);
    const parsed = parseManifest(m.body, m.mediaType);
    for (const child of parsed.manifests) await visit(child.digest, false);
    for (const b of parsed.blobs) {
      const size = b.descriptor.size;
      const prev = blobs.get(b.digest.text);
      if (prev && prev.size !== size) missing.push(b.digest.text);
      blobs.set(b.digest.text, { digest: b.digest, size });
    }
    order.push(m);
    if (withReferrers) {
      for (const r of await listReferrers(src, from.repo, d)) {
        const rd = parseDigestSafe(r.digest);
        if (rd) await visit(rd, true);
      }
    }
  };
  await visit(rootDigest, false);

  // Every blob: linked in the source repository, stored, of the size its descriptor says.
  await mapLimit([...blobs.values()], PARALLEL * 4, async ({ digest, size }) => {
    const [link, data] = await Promise.all([
      src.driver.stat(layout.repoBlobLink(src.ns, from.repo, digest)),
      src.driver.stat(layout.blob(src.ns, digest)),
    ]);
    if (!link || !data || data.size !== size) missing.push(digest.text);
  });
  if (missing.length > 0) {
    throw new RegistryError('BLOB_UNKNOWN', 'the source repository lacks blobs the manifest references (or holds them with another size)', {
      repository: from.repo,
      digests: [...new Set(missing)].sort(),
    });
  }
  const root = seen.get(rootDigest.text)!;
  return { root, others: order.filter((m) => m !== root), blobs };
}

function parseDigestSafe(text: string): Digest | null {
  try {
    return parseDigest(text);
  } catch {
    return null;
  }
}

interface BlobOutcome {
  copied: boolean;
  size: number;
}

/** Step 2 for one blob: marker, copy (unless the target holds it whole), link. */
async function promoteBlob(src: Scope, dst: Scope, repo: string, digest: Digest, size: number): Promise<BlobOutcome> {
  const target = layout.blob(dst.ns, digest);
  await markUsed(dst, digest);
  let copied = false;
  const held = await blobExists(dst, digest);
  if (!held || held.size !== size) {
    if (held) {
      const note = { reason: 'size mismatch', by: 'promote', size: held.size, detail: { expected: size } };
      await quarantineBlob(dst, digest, note, { replacing: true });
    }
    let info;
    try {
      info = await copyObject(dst.driver, layout.blob(src.ns, digest), target);
    } catch (err) {
      if (err instanceof NotFoundError) {
        throw new RegistryError('BLOB_UNKNOWN', 'a source blob was removed during the promotion', { digest: digest.text });
      }
      throw err;
    }
    const stored = await dst.driver.stat(target);
    if (info.size !== size || stored?.size !== size) {
      // Never leave a blob that does not match its name: the copy goes to the quarantine.
      await quarantineBlob(dst, digest, {
        reason: 'size mismatch',
        by: 'promote',
        size: stored?.size ?? info.size,
        detail: { expected: size },
      });
      throw new RegistryError('UNAVAILABLE', 'the store reported another size for a copied blob; retry', { digest: digest.text });
    }
    copied = true;
  }
  await linkBlob(dst, repo, digest);
  return { copied, size };
}

/** What the plan would add to the target: blobs (and manifest bodies) it does not hold whole. */
async function incomingTo(dst: Scope, p: Plan): Promise<{ blobs: number; bytes: number }> {
  const wanted = [...p.blobs.values()];
  for (const m of [p.root, ...p.others]) wanted.push({ digest: m.digest, size: m.body.length });
  const lacking = await mapLimit(wanted, PARALLEL * 4, async ({ digest, size }) => {
    const held = await blobExists(dst, digest);
    return held && held.size === size ? 0 : size;
  });
  const sizes = lacking.filter((n) => n > 0);
  return { blobs: sizes.length, bytes: sizes.reduce((a, n) => a + n, 0) };
}

/**
 * Copy `from` (in `src`'s namespace) to `to` (in `dst`'s namespace) under
 * `to.tag`. `src` and `dst` must use one store (one driver). Throws a
 * RegistryError for bad names (NAME_INVALID, TAG_INVALID), a missing source
 * (NAME_UNKNOWN, MANIFEST_UNKNOWN, BLOB_UNKNOWN) — nothing written then.
 */
export async function promote(
  src: Scope,
  from: PromoteSource,
  dst: Scope,
  to: PromoteTarget,
  options: PromoteOptions = {},
): Promise<PromoteResult> {
  validateRepoName(from.repo);
  validateRepoName(to.repo);
  validateTag(to.tag);
  const p = await plan(src, from, options.referrers ?? false);
  const blobs = [...p.blobs.values()];
  if (options.admit) await options.admit(await incomingTo(dst, p));
  const result: PromoteResult = {
    digest: p.root.digest,
    mediaType: p.root.mediaType,
    size: p.root.body.length,
    copied: { blobs: 0, bytes: 0 },
    reused: { blobs: 0, bytes: 0 },
    linked: { blobs: blobs.length, manifests: p.others.length + 1, referrers: p.others.filter((m) => m.referrer).length },
  };
  const copied = new Set<string>();
  for (let attempt = 1; ; attempt++) {
    const outcomes = await mapLimit(blobs, PARALLEL, ({ digest, size }) => promoteBlob(src, dst, to.repo, digest, size));
    outcomes.forEach((o, i) => {
      if (o.copied) copied.add(blobs[i]!.digest.text);
    });
    // The manifests' own bodies are blobs of the target too: marked like the others.
    await mapLimit([p.root, ...p.others], PARALLEL, (m) => markUsed(dst, m.digest));
    try {
      // (Not `onManifest?.(await putManifest(…))`: an absent callback would skip the write.)
      for (const m of p.others) {
        const put = await putManifest(dst, to.repo, m.digest.text, m.body, m.mediaType);
        options.onManifest?.(put);
      }
      const root = await putManifest(dst, to.repo, to.tag, p.root.body, p.root.mediaType);
      options.onManifest?.({ ...root, tag: to.tag });
      break;
    } catch (err) {
      // Only a prune sweeping between the blob step and the manifests (markers off) gets here: copy again.
      if (!isRegistryError(err) || err.code !== 'MANIFEST_BLOB_UNKNOWN' || attempt >= 3) throw err;
    }
  }
  for (const b of blobs) {
    const into = copied.has(b.digest.text) ? result.copied : result.reused;
    into.blobs++;
    into.bytes += b.size;
  }
  return result;
}
