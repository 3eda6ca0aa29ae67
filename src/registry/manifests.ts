// Manifests: stored as content-addressed blobs, linked into a repository with
// their metadata, optionally tagged. Pushing checks that everything the
// manifest references is already in the repository.
import { createHash as nodeHash } from 'node:crypto';
import { createHash } from '../digest/index.js';
import { blobExists, isBlobLinked } from './blobs.js';
import { markRepo } from './catalog.js';
import { RegistryError } from './errors.js';
import { layout } from './layout.js';
import { parseManifest, type Descriptor } from './manifest-parse.js';
import { takeBackFromTrash } from './prune/trash.js';
import { isIndexType } from './media-types.js';
import { isDigestReference, parseDigest, validateTag, type Digest } from './names.js';
import { quarantineBlob } from './quarantine.js';
import { addReferrer, removeReferrer } from './referrers.js';
import type { Scope } from './scope.js';
import { readTag, resolveTag, setTag, untagDigest, type TagRecord } from './tags.js';

/** What a repository records about a manifest it holds. */
export interface ManifestLink {
  mediaType: string;
  size: number;
  /** ms since epoch */
  pushed: number;
  artifactType?: string;
  subject?: string;
  annotations?: Record<string, string>;
  /** 'upstream': a mirror namespace cached it from its upstream (pull-through); absent: pushed. */
  origin?: 'upstream';
}

export interface StoredManifest {
  digest: Digest;
  mediaType: string;
  body: Buffer;
}

function digestOf(body: Buffer, algorithm: Digest['algorithm']): Digest {
  // Node's one-shot hash is fastest for small bodies; sha512 goes through ours
  // only so every supported algorithm is handled in one place.
  const hex = algorithm === 'sha256' ? nodeHash('sha256').update(body).digest('hex') : createHash(algorithm).update(body).digestHex();
  return { algorithm, hex, text: `${algorithm}:${hex}` };
}

function unknownManifest(reference: string): RegistryError {
  return new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown', { reference });
}

export async function readManifestLink(s: Scope, repo: string, d: Digest): Promise<ManifestLink | null> {
  const raw = await s.driver.get(layout.manifestLink(s.ns, repo, d));
  if (!raw) return null;
  try {
    return JSON.parse(raw.toString('utf8')) as ManifestLink;
  } catch {
    return null;
  }
}

export async function resolveReference(s: Scope, repo: string, reference: string): Promise<Digest> {
  if (isDigestReference(reference)) return parseDigest(reference);
  validateTag(reference);
  return resolveTag(s, repo, reference);
}

/** Metadata of a manifest by tag or digest (for HEAD). */
export async function statManifest(s: Scope, repo: string, reference: string): Promise<{ digest: Digest; link: ManifestLink }> {
  const digest = await resolveReference(s, repo, reference);
  const link = await readManifestLink(s, repo, digest);
  if (!link) throw unknownManifest(reference);
  return { digest, link };
}

export async function getManifest(s: Scope, repo: string, reference: string): Promise<StoredManifest & { link: ManifestLink }> {
  const { digest, link } = await statManifest(s, repo, reference);
  let body = await s.driver.get(layout.blob(s.ns, digest));
  if (body && !hashesTo(body, digest)) {
    await quarantineDamagedManifest(s, digest, body);
    body = await s.driver.get(layout.blob(s.ns, digest)); // right bytes put back meanwhile, or none
    if (body && !hashesTo(body, digest)) body = null;
    if (!body) {
      throw new RegistryError(
        'MANIFEST_UNKNOWN',
        'the stored manifest did not match its digest and was moved to the quarantine; push it again',
        {
          reference,
          digest: digest.text,
        },
      );
    }
  }
  if (!body) throw unknownManifest(reference);
  return { digest, mediaType: link.mediaType, body, link };
}

const hashesTo = (body: Buffer, d: Digest) => digestOf(body, d.algorithm).hex === d.hex;

/**
 * A manifest is hashed on every read (a few kB: microseconds) so that stored
 * bytes that no longer hash to their name — a bad disk, a copy damaged outside
 * Wharf — are never served. They go to the quarantine (a push of the manifest
 * then stores it again: putManifest writes a blob that is not there). What was
 * moved is checked to be damaged: if right bytes were published meanwhile and
 * moved instead, they go back.
 */
async function quarantineDamagedManifest(s: Scope, d: Digest, body: Buffer): Promise<void> {
  const key = await quarantineBlob(s, d, {
    reason: 'digest mismatch',
    by: 'manifest read',
    size: body.length,
    detail: { actual: digestOf(body, d.algorithm).text },
  });
  if (!key) return;
  const moved = await s.driver.get(key);
  if (moved && hashesTo(moved, d)) {
    await s.driver.move(key, layout.blob(s.ns, d)).catch(() => undefined);
    await s.driver.delete(`${key}.json`).catch(() => false);
  }
}

async function checkReferences(s: Scope, repo: string, parsed: ReturnType<typeof parseManifest>): Promise<void> {
  const missing: string[] = [];
  await Promise.all([
    ...parsed.blobs.map(async ({ digest }) => {
      let [linked, exists] = await Promise.all([isBlobLinked(s, repo, digest), blobExists(s, digest)]);
      if ((!linked || !exists) && (await takeBackFromTrash(s, repo, digest, { link: !linked, blob: !exists }))) {
        // A prune had just moved it into its trash (it would have put it back itself).
        [linked, exists] = await Promise.all([isBlobLinked(s, repo, digest), blobExists(s, digest)]);
      }
      if (!linked || !exists) missing.push(digest.text);
    }),
    ...parsed.manifests.map(async ({ digest }) => {
      if (!(await readManifestLink(s, repo, digest))) missing.push(digest.text);
    }),
  ]);
  if (missing.length > 0) {
    throw new RegistryError('MANIFEST_BLOB_UNKNOWN', 'manifest references unknown blobs or manifests', {
      digests: missing.sort(),
    });
  }
}

export interface PutManifestResult {
  digest: Digest;
  /** The manifest's media type (from its body or Content-Type) and size: what a push event reports. */
  mediaType: string;
  size: number;
  /** Digest of the subject, when the manifest has one (OCI-Subject header). */
  subject?: Digest;
}

export async function putManifest(
  s: Scope,
  repo: string,
  reference: string,
  body: Buffer,
  contentType: string,
  /**
   * requireReferences: false stores a manifest whose blobs and children are not (yet) in the repository (mirror pull-through);
   * origin: 'upstream' records that it was cached from a mirror's upstream rather than pushed.
   */
  options: { requireReferences?: boolean; origin?: 'upstream' } = {},
): Promise<PutManifestResult> {
  const byDigest = isDigestReference(reference);
  const wanted = byDigest ? parseDigest(reference) : undefined;
  if (!byDigest) validateTag(reference);
  const parsed = parseManifest(body, contentType);
  const digest = digestOf(body, wanted?.algorithm ?? 'sha256');
  if (wanted && wanted.hex !== digest.hex) {
    throw new RegistryError('DIGEST_INVALID', 'manifest digest did not match the reference', {
      reference,
      actual: digest.text,
    });
  }
  if (options.requireReferences !== false) await checkReferences(s, repo, parsed);

  const blobKey = layout.blob(s.ns, digest);
  const [stored, existed] = await Promise.all([s.driver.stat(blobKey), s.driver.stat(layout.manifestLink(s.ns, repo, digest))]);
  if (stored?.size !== body.length) {
    if (stored) {
      // Bytes of another size under this digest cannot be this manifest: replaced, the old ones kept aside.
      await quarantineBlob(
        s,
        digest,
        { reason: 'size mismatch', by: 'manifest push', size: stored.size, detail: { expected: body.length } },
        { replacing: true },
      );
    }
    await s.driver.put(blobKey, body);
  }
  const link: ManifestLink = {
    mediaType: parsed.mediaType,
    size: body.length,
    pushed: Date.now(),
    ...(parsed.artifactType ? { artifactType: parsed.artifactType } : {}),
    ...(parsed.subject ? { subject: parsed.subject.digest.text } : {}),
    ...(parsed.annotations ? { annotations: parsed.annotations } : {}),
    ...(options.origin ? { origin: options.origin } : {}),
  };
  await s.driver.put(layout.manifestLink(s.ns, repo, digest), Buffer.from(JSON.stringify(link)));
  if (parsed.subject) {
    const desc: Descriptor = {
      mediaType: parsed.mediaType,
      digest: digest.text,
      size: body.length,
      ...(parsed.artifactType ? { artifactType: parsed.artifactType } : {}),
      ...(parsed.annotations ? { annotations: parsed.annotations } : {}),
    };
    await addReferrer(s, repo, parsed.subject.digest, digest, desc);
  }
  const tag = byDigest ? undefined : await setTag(s, repo, reference, digest);
  await markRepo(s, repo);
  await recheckAfterWrite(s, repo, digest, body, options.requireReferences === false ? undefined : parsed, {
    tag,
    link: existed ? undefined : link,
  });
  return { digest, mediaType: parsed.mediaType, size: body.length, subject: parsed.subject?.digest };
}

/**
 * Online prune (src/registry/prune) removes unreferenced objects and then
 * looks for manifests written meanwhile, putting back what they need. This
 * check after the writes is the other half: either prune sees this manifest,
 * or this sees the removal and the push fails (MANIFEST_BLOB_UNKNOWN; the
 * client uploads again) instead of leaving a broken image. What this push
 * wrote (its tag; its link, when it was new) is taken back then.
 */
async function recheckAfterWrite(
  s: Scope,
  repo: string,
  digest: Digest,
  body: Buffer,
  /** The references to check again (undefined: only the manifest itself). */
  parsed: ReturnType<typeof parseManifest> | undefined,
  /** What this push wrote (and takes back on failure): its tag, and its link when it was new. */
  wrote: { tag?: { name: string; record: TagRecord }; link?: ManifestLink },
): Promise<void> {
  try {
    const [own, link] = await Promise.all([
      s.driver.stat(layout.blob(s.ns, digest)),
      s.driver.stat(layout.manifestLink(s.ns, repo, digest)),
      parsed ? checkReferences(s, repo, parsed) : undefined,
    ]);
    // The body was already stored (an old blob) and a sweep took it meanwhile: store it again.
    if (!own && link) await s.driver.put(layout.blob(s.ns, digest), body);
    if (!link) {
      throw new RegistryError('MANIFEST_BLOB_UNKNOWN', 'the manifest was removed while it was pushed; push it again', {
        digests: [digest.text],
      });
    }
  } catch (err) {
    const { tag, link } = wrote;
    if (tag) {
      const now = await readTag(s, repo, tag.name).catch(() => null);
      if (now && now.digest === tag.record.digest && now.pushed === tag.record.pushed) {
        await s.driver.delete(layout.tag(s.ns, repo, tag.name)).catch(() => false);
      }
    }
    if (link) {
      const now = await readManifestLink(s, repo, digest).catch(() => null);
      if (now && now.pushed === link.pushed) {
        if (link.subject) await removeReferrer(s, repo, parseDigest(link.subject), digest).catch(() => undefined);
        await s.driver.delete(layout.manifestLink(s.ns, repo, digest)).catch(() => false);
      }
    }
    throw err;
  }
}

/**
 * Delete by tag: only the tag goes. Delete by digest: the manifest leaves the
 * repository with every tag pointing at it and its referrer entry.
 */
export async function deleteManifest(s: Scope, repo: string, reference: string): Promise<void> {
  if (!isDigestReference(reference)) {
    validateTag(reference);
    await resolveTag(s, repo, reference); // MANIFEST_UNKNOWN when absent
    await s.driver.delete(layout.tag(s.ns, repo, reference));
    return;
  }
  const digest = parseDigest(reference);
  const link = await readManifestLink(s, repo, digest);
  if (!link) throw unknownManifest(reference);
  await untagDigest(s, repo, digest);
  if (link.subject) await removeReferrer(s, repo, parseDigest(link.subject), digest);
  await s.driver.delete(layout.manifestLink(s.ns, repo, digest));
}

/** For Accept negotiation: the children of an index, parsed from its body. */
export function indexChildren(m: StoredManifest): Descriptor[] {
  if (!isIndexType(m.mediaType)) return [];
  try {
    const doc = JSON.parse(m.body.toString('utf8')) as { manifests?: Descriptor[] };
    return Array.isArray(doc.manifests) ? doc.manifests : [];
  } catch {
    return [];
  }
}
