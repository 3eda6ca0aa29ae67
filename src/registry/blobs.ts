// Blobs: content-addressed bytes shared by a namespace, readable only through
// repositories that link them (pushed or mounted there).
//
// Every answer that tells a client a blob exists (HEAD/GET, a mount, a
// deduplicated upload) first notes the use (blob-use.ts), so that a manifest
// pushed within the grace period never finds the blob swept by prune.
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { ByteRange } from '../storage/driver.js';
import { NotFoundError } from '../storage/errors.js';
import { markUsed, noteBlobUse } from './blob-use.js';
import { RegistryError } from './errors.js';
import { layout } from './layout.js';
import type { Digest } from './names.js';
import type { Scope } from './scope.js';

export interface BlobInfo {
  digest: Digest;
  size: number;
}

function unknown(d: Digest): RegistryError {
  return new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry', { digest: d.text });
}

/**
 * Size of a blob as seen through a repository; BLOB_UNKNOWN when not linked or
 * missing. The client may skip uploading it now: the use is noted first.
 */
export async function statBlob(s: Scope, repo: string, d: Digest): Promise<BlobInfo> {
  const look = () => Promise.all([s.driver.stat(layout.repoBlobLink(s.ns, repo, d)), s.driver.stat(layout.blob(s.ns, d))]);
  let [link, data] = await look();
  if (!link || !data) throw unknown(d);
  if (await noteBlobUse(s, d, [link, data])) {
    // A marker was just written: look again (a prune may have moved either away before it).
    [link, data] = await look();
    if (!link || !data) throw unknown(d);
  }
  return { digest: d, size: data.size };
}

/**
 * For an upload that finishes as `d`: the stored blob when there is one (the
 * upload is then deduplicated against it), else null (the caller publishes
 * the upload: fresh bytes and a fresh link need no marker). For a stored blob
 * the use is noted and the blob looked at again: the client is told it exists,
 * and the link the caller writes next may replace an old one a prune is about
 * to move into its trash.
 */
export async function reuseBlob(s: Scope, d: Digest): Promise<BlobInfo | null> {
  if (!(await blobExists(s, d))) return null;
  await markUsed(s, d);
  return blobExists(s, d);
}

/** Stream a blob (or a range of it). Call statBlob first for the access check and size. */
export async function readBlob(s: Scope, d: Digest, range?: ByteRange): Promise<Readable> {
  try {
    return await s.driver.read(layout.blob(s.ns, d), range);
  } catch (err) {
    if (err instanceof NotFoundError) throw unknown(d);
    throw err;
  }
}

/**
 * An open handle on a blob's file when the backend keeps blobs in files
 * (filesystem), else null. Call statBlob first for the access check and size.
 */
export async function openBlobFile(s: Scope, d: Digest): Promise<FileHandle | null> {
  if (!s.driver.openFile) return null;
  try {
    return await s.driver.openFile(layout.blob(s.ns, d));
  } catch (err) {
    if (err instanceof NotFoundError) throw unknown(d);
    throw err;
  }
}

/** Time-limited direct URL for a blob, when the backend supports it. */
export async function presignBlob(s: Scope, d: Digest, expiresSeconds: number): Promise<string | null> {
  if (!s.driver.presignGet) return null;
  return s.driver.presignGet(layout.blob(s.ns, d), expiresSeconds);
}

export async function blobExists(s: Scope, d: Digest): Promise<BlobInfo | null> {
  const info = await s.driver.stat(layout.blob(s.ns, d));
  return info ? { digest: d, size: info.size } : null;
}

export async function isBlobLinked(s: Scope, repo: string, d: Digest): Promise<boolean> {
  return (await s.driver.stat(layout.repoBlobLink(s.ns, repo, d))) !== null;
}

export async function linkBlob(s: Scope, repo: string, d: Digest): Promise<void> {
  await s.driver.put(layout.repoBlobLink(s.ns, repo, d), Buffer.alloc(0));
}

/** Remove a repository's link to a blob (the bytes go at the next sweep). */
export async function unlinkBlob(s: Scope, repo: string, d: Digest): Promise<void> {
  if (!(await s.driver.delete(layout.repoBlobLink(s.ns, repo, d)))) throw unknown(d);
}

/**
 * Cross-repository mount: link a blob into `repo`. With `from`, the blob must
 * be linked in that repository; without it, any blob of the namespace is
 * mounted (OCI 1.1 automatic content discovery). Returns null when the blob
 * cannot be mounted (the caller then starts a normal upload).
 */
export async function mountBlob(s: Scope, repo: string, d: Digest, from?: string): Promise<BlobInfo | null> {
  if (from !== undefined && !(await isBlobLinked(s, from, d))) return null;
  // Noted before the data is looked at (see blob-use.ts): a prune that moves
  // the data or the new link away afterwards sees the marker and puts it back.
  await markUsed(s, d);
  const info = await blobExists(s, d);
  if (!info) return null;
  await linkBlob(s, repo, d);
  return info;
}
