// Blob uploads. Each chunk is stored as it arrives and the upload record —
// its parts, offset and the saved hash state (upload-record.ts) — is written
// back after every chunk, so the next chunk (or the final PUT) can be handled
// by any process. No process re-reads an upload to learn its digest, except
// when the client finishes with an algorithm other than the one hashed.
//
// Integrity by construction (docs/uploads.md has the whole argument):
//   - A request writes only objects no one else can write: a new chunk
//     object under a unique name (object stores, memory), or the upload's
//     file after claiming it by an atomic rename (filesystem, upload-claim.ts).
//   - It commits only if the record is still the one it loaded (else 416, or
//     404 when the upload is gone), and only after its writes are closed.
//   - A record therefore names only closed, immutable bytes, and its hash
//     state is the hash of exactly those bytes; the final PUT checks the
//     client's digest against it, then publishes exactly those bytes.
//   - Every failure undoes what the request did: a claimed file goes back
//     under its recorded name, cut to the recorded size; new objects go.
import { Readable } from 'node:stream';
import { createHash, type HashAlgorithm } from '../digest/index.js';
import type { ObjectInfo } from '../storage/driver.js';
import { isNotFound, StorageUnavailableError } from '../storage/errors.js';
import { linkBlob, reuseBlob, type BlobInfo } from './blobs.js';
import { RegistryError } from './errors.js';
import { layout } from './layout.js';
import type { Digest } from './names.js';
import { quarantineBlob } from './quarantine.js';
import { listAll, type Scope } from './scope.js';
import { claimFile, releaseClaim, type Claim } from './upload-claim.js';
import { bodyGone, endedEarly, feed, HashingCounter } from './upload-body.js';
import {
  assertUnchanged,
  bootAfterWrite,
  createUpload,
  loadUpload,
  needsReadBack,
  newPartName,
  partKey,
  saveRecord,
  UploadMovedOn,
  type LoadedUpload,
  type UploadPart,
} from './upload-record.js';

export { UPLOAD_RECORD_VERSION, parseUploadRecord, type UploadRecord } from './upload-record.js';

export interface UploadStatus {
  id: string;
  offset: number;
}

/** What the client declared about a chunk. */
export interface ChunkHeaders {
  /** Parsed Content-Range start/end (inclusive), when sent. */
  range?: { start: number; end: number };
  /** Content-Length, when sent. */
  length?: number;
}

export async function startUpload(s: Scope, repo: string): Promise<UploadStatus> {
  const { rec } = await createUpload(s, repo);
  return { id: rec.id, offset: 0 };
}

export async function uploadStatus(s: Scope, repo: string, id: string): Promise<UploadStatus> {
  const { rec } = await loadUpload(s, repo, id);
  return { id, offset: rec.offset };
}

function checkChunkHeaders(offset: number, h: ChunkHeaders): void {
  if (h.range) {
    if (h.range.start !== offset) {
      throw new RegistryError('RANGE_INVALID', 'chunk out of order', { offset, start: h.range.start });
    }
    if (h.length !== undefined && h.range.end - h.range.start + 1 !== h.length) {
      throw new RegistryError('BLOB_UPLOAD_INVALID', 'Content-Range does not match Content-Length', {
        range: `${h.range.start}-${h.range.end}`,
        length: h.length,
      });
    }
  }
}

/**
 * The bytes one request works on: the upload's parts as the record names
 * them, with whatever this request writes or publishes under names of its
 * own. Private to the request until it commits.
 */
interface Working {
  loaded: LoadedUpload;
  /** The upload grows one file (filesystem): appended to, published by a hard link. */
  appending: boolean;
  parts: UploadPart[];
  /** The upload's file, claimed (appending, once the upload has bytes). */
  claim?: Claim;
  /** Objects this request created. */
  created: string[];
}

async function begin(s: Scope, loaded: LoadedUpload, body: Readable | null): Promise<Working> {
  // A body that already failed (client gone, malformed chunked encoding) touches nothing.
  if (bodyGone(body)) throw endedEarly();
  const appending = s.driver.append !== undefined && loaded.rec.parts.length <= 1;
  const w: Working = { loaded, appending, parts: [...loaded.rec.parts], created: [] };
  if (appending && loaded.rec.parts.length === 1) {
    w.claim = await claimFile(s, loaded, body);
    w.parts = [{ name: w.claim.to, size: w.claim.size }];
  }
  return w;
}

/**
 * Feed `body` through `counter` into the store's `write` (which reads the
 * counter) and return what the write returns. On failure, say what failed
 * first: the client's body, or else the store's own error (a full disk is a
 * 507), not the stream error it caused.
 */
async function pump<T>(body: Readable, counter: HashingCounter, write: Promise<T>): Promise<T> {
  const fed = feed(body, counter);
  try {
    const [, result] = await Promise.all([fed, write]);
    return result;
  } catch (err) {
    counter.destroy();
    const writeError: unknown = await write.then(
      () => undefined,
      (e: unknown) => e,
    );
    const bodyError: unknown = await fed.then(
      () => undefined,
      (e: unknown) => e,
    );
    await counter.settled();
    throw (bodyGone(body) ? bodyError : writeError) ?? err;
  }
}

/**
 * Store one chunk, feeding the upload's hash. Returns the bytes received.
 * On failure the caller undoes it (`abandon`); the in-memory hash is then spent.
 */
async function writeChunk(s: Scope, w: Working, body: Readable, h: ChunkHeaders): Promise<number> {
  const { rec, hash } = w.loaded;
  const counter = new HashingCounter(hash);
  let name: string;
  let write: Promise<ObjectInfo>;
  if (w.appending) {
    name = w.parts[0]?.name ?? newPartName(0);
    if (w.parts.length === 0) w.created.push(name);
    write = s.driver.append!(partKey(s, rec.id, name), rec.offset, counter);
  } else {
    name = newPartName(rec.offset);
    w.created.push(name);
    write = s.driver.put(partKey(s, rec.id, name), counter, { durable: false });
  }
  const stored = await pump(body, counter, write);
  const n = counter.bytes;
  const declared = h.range ? h.range.end - h.range.start + 1 : h.length;
  if (declared !== undefined && n !== declared) {
    throw new RegistryError('SIZE_INVALID', 'body length does not match the declared length', { declared, received: n });
  }
  // What the store holds must be what was counted (and hashed).
  const expected = w.appending ? rec.offset + n : n;
  if (stored.size !== expected) {
    throw new StorageUnavailableError(`stored ${stored.size} bytes where ${expected} were written (${stored.key})`);
  }
  if (n > 0) w.parts = w.appending ? [{ name, size: rec.offset + n }] : [...w.parts, { name, size: n }];
  return n;
}

/** What to undo after a failure. */
type Undo =
  /** Put the upload back as its record describes it (claimed file back, new objects gone). */
  | 'release'
  /** The record moved on: everything this request holds is named by nothing; remove it. */
  | 'discard'
  /** A record write may have happened after all (object stores): keep the new objects. */
  | 'keep';

async function abandon(s: Scope, w: Working, undo: Undo): Promise<void> {
  const id = w.loaded.rec.id;
  const { claim, created } = w;
  // Whatever happens next, this request holds nothing any more.
  w.claim = undefined;
  w.created = [];
  if (undo === 'keep') return;
  if (claim) {
    if (undo === 'release') await releaseClaim(s, id, claim).catch(() => undefined);
    else await s.driver.delete(partKey(s, id, claim.to)).catch(() => false);
  }
  await Promise.all(created.map((n) => s.driver.delete(partKey(s, id, n)).catch(() => false)));
}

/**
 * The error to answer and the undo, for an error thrown while the request
 * still only held private bytes. Its own objects vanishing means a cancel or
 * prune removed the upload under it: 404, as for any upload that is gone.
 */
function failure(err: unknown, id: string): { error: unknown; undo: Undo } {
  if (err instanceof UploadMovedOn) return { error: err, undo: 'discard' };
  if (isNotFound(err))
    return {
      error: new UploadMovedOn('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry (removed meanwhile)', { uuid: id }),
      undo: 'discard',
    };
  return { error: err, undo: 'release' };
}

export async function appendChunk(s: Scope, repo: string, id: string, body: Readable, headers: ChunkHeaders): Promise<UploadStatus> {
  const loaded = await loadUpload(s, repo, id);
  const { rec, hash } = loaded;
  checkChunkHeaders(rec.offset, headers);
  const w = await begin(s, loaded, body);
  let saving = false;
  try {
    const n = await writeChunk(s, w, body, headers);
    if (n === 0) {
      await abandon(s, w, 'release');
      return { id, offset: rec.offset };
    }
    await assertUnchanged(s, loaded);
    saving = true;
    const boot = bootAfterWrite(rec, s.driver.volatileEpoch);
    await saveRecord(s, { ...rec, parts: w.parts, offset: rec.offset + n, hash: { ...rec.hash, state: hash.exportState() }, boot });
    return { id, offset: rec.offset + n };
  } catch (err) {
    // A failed record write on the filesystem changed nothing (an atomic
    // rename that did not happen); on an object store it may have landed.
    if (saving) {
      await abandon(s, w, s.driver.append ? 'release' : 'keep');
      throw err;
    }
    const { error, undo } = failure(err, id);
    await abandon(s, w, undo);
    throw error;
  }
}

/**
 * A finish that publishes nothing: the upload is removed (unless another
 * request changed it meanwhile — then that one's error is thrown). `hex`: the
 * digest the working bytes do have, whose blob they may be the parts of.
 */
async function discardUnpublished(s: Scope, w: Working, algorithm: HashAlgorithm, hex: string): Promise<void> {
  await assertUnchanged(s, w.loaded);
  await abandon(s, w, 'discard');
  await removeUploadObjects(s, w.loaded.rec.id, blobKeyOf(s, algorithm, hex), true);
}

/** Digest of the working bytes with `algorithm` (the hash fed on the way in, or a read-back). */
async function digestOfWork(s: Scope, w: Working, algorithm: HashAlgorithm): Promise<string> {
  if (algorithm === w.loaded.rec.hash.algorithm) return w.loaded.hash.digestHex();
  // The client chose another algorithm than the one hashed on the way in: read it back once.
  return readBackDigest(s, w, algorithm);
}

/** Digest of the working bytes as the store holds them now. */
async function readBackDigest(s: Scope, w: Working, algorithm: HashAlgorithm): Promise<string> {
  const hash = createHash(algorithm);
  for (const p of w.parts) {
    for await (const piece of await s.driver.read(partKey(s, w.loaded.rec.id, p.name))) hash.update(piece as Buffer);
  }
  return hash.digestHex();
}

/**
 * A claimed file without a last chunk: it must hold exactly the recorded
 * bytes (a version 1 upload's file may carry a stray tail past them).
 */
async function checkClaimedSize(s: Scope, w: Working): Promise<void> {
  const { rec } = w.loaded;
  const key = partKey(s, rec.id, w.claim!.to);
  const st = await s.driver.stat(key);
  if (st && st.size > rec.offset) await s.driver.append!(key, rec.offset, Readable.from([]));
  else if (!st || st.size < rec.offset) {
    throw new RegistryError('BLOB_UPLOAD_INVALID', "the upload's stored data is incomplete; start the upload again", { uuid: rec.id });
  }
}

/**
 * Start the repository link of a blob that is verified and about to be
 * published (or reused). The link is a durable put of its own (data sync,
 * rename, directory sync); started here it overlaps the blob's publish
 * instead of following it, and the caller awaits both before it answers
 * 201. Started only after reuseBlob noted the use of an existing blob, as
 * before: a prune that trashes the link meanwhile sees the marker and puts it
 * back (blob-use.ts). A crash or a failed publish can leave the link without
 * the blob, but never behind a 201: HEAD then says 404 (statBlob looks at
 * both), and the client, which proved it holds these bytes, pushes again.
 */
function startLink(s: Scope, repo: string, digest: Digest): Promise<void> {
  const linked = linkBlob(s, repo, digest);
  linked.catch(() => undefined); // awaited by the caller; not unhandled meanwhile
  return linked;
}

/**
 * Put the verified bytes at the blob's name (atomically: a failure publishes
 * nothing) and start its link into `repo` alongside (startLink). When the
 * blob already exists (an earlier push) it is kept if its stored size is
 * right — `published` is null; otherwise it is moved to the quarantine and
 * the verified upload takes its place. The caller awaits `linked` before its
 * 201, outside its undo of the upload: a link that fails after the publish
 * must not give back or delete bytes the blob now uses. When the publish
 * fails, the link has settled before this throws.
 */
async function publishBlob(
  s: Scope,
  repo: string,
  digest: Digest,
  keys: string[],
  size: number,
): Promise<{ published: ObjectInfo | null; linked: Promise<void> }> {
  const blobKey = layout.blob(s.ns, digest);
  // A deduplicated upload notes the use: prune keeps the blob for the grace period.
  const existing = await reuseBlob(s, digest);
  const linked = startLink(s, repo, digest);
  try {
    if (existing && existing.size === size) return { published: null, linked };
    if (existing) {
      await quarantineBlob(
        s,
        digest,
        { reason: 'size mismatch', by: 'upload', size: existing.size, detail: { expected: size } },
        { replacing: true },
      );
    }
    const published = await (keys.length === 0 ? s.driver.put(blobKey, Buffer.alloc(0)) : s.driver.concat(blobKey, keys));
    return { published, linked };
  } catch (err) {
    await linked.catch(() => undefined);
    throw err;
  }
}

/**
 * Remove every object of an upload. `blobKey`: the blob these objects may be
 * the parts of — on a backend whose published blobs keep using their sources
 * (Swift), they go through deleteConcatSources, which keeps what that blob
 * uses. `recordFirst`: make every request still working on the upload fail
 * at its commit (cancel, a failed finish); otherwise the record goes last,
 * so that a crash half way leaves an upload prune can still recognise.
 */
async function removeUploadObjects(s: Scope, id: string, blobKey: string, recordFirst: boolean): Promise<void> {
  const recordKey = layout.uploadRecord(s.ns, id);
  if (recordFirst) await s.driver.delete(recordKey);
  const objects: string[] = [];
  for await (const e of listAll(s.driver, layout.uploadDir(s.ns, id), { delimiter: '/' })) {
    if (!e.prefix && e.key !== recordKey) objects.push(e.key);
  }
  if (objects.length > 0) await s.driver.deleteConcatSources(blobKey, objects);
  if (!recordFirst) await s.driver.delete(recordKey);
}

function blobKeyOf(s: Scope, algorithm: HashAlgorithm, hex: string): string {
  return layout.blob(s.ns, { algorithm, hex, text: `${algorithm}:${hex}` });
}

export async function cancelUpload(s: Scope, repo: string, id: string): Promise<void> {
  const { rec, hash } = await loadUpload(s, repo, id);
  // The blob a bodiless finish racing this cancel would publish from these parts.
  await removeUploadObjects(s, id, blobKeyOf(s, rec.hash.algorithm, hash.digestHex()), true);
}

/**
 * Finish an upload: append the last (maybe empty) chunk, verify the digest,
 * publish the blob atomically, link it into the repository, and remove the
 * upload. On a digest mismatch nothing is published and the upload is removed.
 */
export async function finishUpload(
  s: Scope,
  repo: string,
  id: string,
  digest: Digest,
  body: Readable | null,
  headers: ChunkHeaders,
): Promise<BlobInfo> {
  const loaded = await loadUpload(s, repo, id);
  if (body) checkChunkHeaders(loaded.rec.offset, headers);
  return finishLoaded(s, repo, loaded, digest, body, headers);
}

async function finishLoaded(
  s: Scope,
  repo: string,
  loaded: LoadedUpload,
  digest: Digest,
  body: Readable | null,
  headers: ChunkHeaders,
): Promise<BlobInfo> {
  const { rec } = loaded;
  if (body && rec.offset === 0 && rec.parts.length === 0 && s.driver.putChecked) {
    // The whole blob in this one request: straight to its key (see putStraight).
    return finishStraight(s, repo, loaded, digest, body, headers);
  }
  const w = await begin(s, loaded, body);
  let size = rec.offset;
  let published: ObjectInfo | null;
  let linked: Promise<void>;
  let publishing = false;
  try {
    if (body) {
      size += await writeChunk(s, w, body, headers);
    } else if (w.claim) {
      await checkClaimedSize(s, w);
    }
    const actual = await digestOfWork(s, w, digest.algorithm);
    if (actual !== digest.hex) {
      await discardUnpublished(s, w, digest.algorithm, actual);
      throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', {
        digest: digest.text,
        actual: `${digest.algorithm}:${actual}`,
      });
    }
    // Stored under another boot: a power loss since may have garbled them (see needsReadBack).
    // (With another algorithm than the record's, digestOfWork has read them back already.)
    if (needsReadBack(rec, s.driver.volatileEpoch) && digest.algorithm === rec.hash.algorithm) {
      const stored = await readBackDigest(s, w, digest.algorithm);
      if (stored !== digest.hex) {
        await discardUnpublished(s, w, digest.algorithm, stored);
        throw new RegistryError(
          'BLOB_UPLOAD_INVALID',
          "the upload's stored data was damaged since it was received; start the upload again",
          {
            uuid: rec.id,
          },
        );
      }
    }
    await assertUnchanged(s, loaded);
    publishing = true;
    ({ published, linked } = await publishBlob(
      s,
      repo,
      digest,
      w.parts.map((p) => partKey(s, rec.id, p.name)),
      size,
    ));
  } catch (err) {
    const { error, undo } = failure(err, rec.id);
    if (publishing && w.claim) {
      // A publish can fail after it happened (a directory fsync after the
      // rename): the claimed file may now be the blob's own (a hard link).
      // Given back cut to the recorded size, it would cut the blob in place;
      // it goes with the upload instead (the client starts the blob again).
      await abandon(s, w, 'discard');
      await removeUploadObjects(s, rec.id, layout.blob(s.ns, digest), true).catch(() => undefined);
      throw error;
    }
    await abandon(s, w, undo);
    throw error;
  }
  // From here the working bytes are published (on the filesystem, the very
  // file, hard-linked): they are never given back to the upload.
  try {
    await checkPublished(s, digest, published, size);
  } finally {
    await linked.catch(() => undefined);
  }
  await linked;
  await removeUploadObjects(s, rec.id, layout.blob(s.ns, digest), false);
  return { digest, size };
}

/** The store published something else than it was given: never serve it. */
async function checkPublished(s: Scope, digest: Digest, published: ObjectInfo | null, size: number): Promise<void> {
  if (!published || published.size === size) return;
  await quarantineBlob(s, digest, {
    reason: 'size mismatch after publishing',
    by: 'upload',
    size: published.size,
    detail: { expected: size },
  });
  throw new StorageUnavailableError(`published ${published.size} bytes where ${size} were uploaded (${published.key})`);
}

/**
 * A blob whose every byte comes in one request (POST ?digest= with a body,
 * or a PUT with the whole body on an upload that stored nothing), on a store
 * that can check before publishing (filesystem `putChecked`): the body goes
 * to a private temp file while it is hashed and counted, and once the last
 * byte is in — before anything appears at the blob's key — the size, the
 * declared length and the digest are checked and `beforePublish` runs (the
 * PUT's record check). No part, no record write, no link or concatenation.
 * The rule holds as for any upload: the bytes published are exactly the bytes
 * hashed (no one else can name the temp file, and it is closed before the
 * check), and a failure publishes nothing. An existing blob is handled as in
 * publishBlob: kept when its size is right (null), else quarantined first;
 * and as there, the repository link is written alongside the publish (its
 * syncs overlap the blob's), once the bytes are verified.
 * A crash leaves only a temp file, which the driver sweeps at its next start.
 */
async function putStraight(
  s: Scope,
  repo: string,
  digest: Digest,
  body: Readable,
  headers: ChunkHeaders,
  beforePublish: () => Promise<void>,
): Promise<{ published: ObjectInfo | null; size: number }> {
  if (bodyGone(body)) throw endedEarly();
  checkChunkHeaders(0, headers);
  const counter = new HashingCounter(createHash(digest.algorithm));
  const hash = counter.hash;
  let linked: Promise<void> | undefined;
  const check = async (stored: ObjectInfo): Promise<boolean> => {
    const n = counter.bytes;
    const declared = headers.range ? headers.range.end - headers.range.start + 1 : headers.length;
    if (declared !== undefined && n !== declared) {
      throw new RegistryError('SIZE_INVALID', 'body length does not match the declared length', { declared, received: n });
    }
    if (stored.size !== n) throw new StorageUnavailableError(`stored ${stored.size} bytes where ${n} were written (${stored.key})`);
    const actual = hash.digestHex();
    if (actual !== digest.hex) {
      throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', {
        digest: digest.text,
        actual: `${digest.algorithm}:${actual}`,
      });
    }
    await beforePublish();
    const existing = await reuseBlob(s, digest);
    linked = startLink(s, repo, digest);
    if (existing && existing.size === n) return false;
    if (existing) {
      await quarantineBlob(
        s,
        digest,
        { reason: 'size mismatch', by: 'upload', size: existing.size, detail: { expected: n } },
        { replacing: true },
      );
    }
    return true;
  };
  const write = s.driver.putChecked!(layout.blob(s.ns, digest), counter, check);
  let published: ObjectInfo | null;
  try {
    published = await pump(body, counter, write);
  } finally {
    // A link started by check is never still running once this returns or throws.
    await linked?.catch(() => undefined);
  }
  await linked;
  const size = counter.bytes;
  await checkPublished(s, digest, published, size);
  return { published, size };
}

/** finishLoaded for an upload that stored nothing, with the whole blob in the PUT's body. */
async function finishStraight(
  s: Scope,
  repo: string,
  loaded: LoadedUpload,
  digest: Digest,
  body: Readable,
  headers: ChunkHeaders,
): Promise<BlobInfo> {
  const { rec } = loaded;
  let size: number;
  try {
    // Publish only if no other request on this upload committed meanwhile.
    ({ size } = await putStraight(s, repo, digest, body, headers, () => assertUnchanged(s, loaded)));
  } catch (err) {
    if (err instanceof RegistryError && err.code === 'DIGEST_INVALID') {
      // As for any upload: nothing published, the upload is removed (unless another request changed it).
      await assertUnchanged(s, loaded);
      await removeUploadObjects(s, rec.id, layout.blob(s.ns, digest), true);
    }
    throw err;
  }
  // Record first: this request wrote no part, so the directory is then usually
  // gone already (the driver removes what a delete empties) and the listing
  // finds nothing; anything a racing request left is removed as usual, and a
  // crash in between leaves objects without a record, which prune removes by age.
  await removeUploadObjects(s, rec.id, layout.blob(s.ns, digest), true);
  return { digest, size };
}

/** Monolithic upload (POST with ?digest=): a one-chunk upload finished at once. */
export async function uploadWhole(s: Scope, repo: string, digest: Digest, body: Readable, headers: ChunkHeaders): Promise<BlobInfo> {
  if (s.driver.putChecked) {
    // No record at all: the client never learns an upload id, and a crash leaves only a temp file.
    const { size } = await putStraight(s, repo, digest, body, headers, async () => undefined);
    return { digest, size };
  }
  // The record is written so that prune can clean up after a crash; it is
  // not read back: this request holds it.
  const loaded = await createUpload(s, repo);
  try {
    return await finishLoaded(s, repo, loaded, digest, body, headers);
  } catch (err) {
    // The client never learnt this upload's id: leave no record or part behind
    // (a short or broken body, a length mismatch, a storage fault, a full disk).
    await removeUploadObjects(s, loaded.rec.id, layout.blob(s.ns, digest), true).catch(() => undefined);
    throw err;
  }
}
