// Blob uploads. Each chunk is stored as it arrives and the upload record —
// chunk list, offset and the saved hash state — is written back to storage
// after every chunk, so the next chunk (or the final PUT) can be handled by
// any process. No process ever re-reads an upload to learn its digest, except
// when the client finishes with an algorithm other than the one hashed.
import { randomUUID } from 'node:crypto';
import { Readable, Transform, type Writable } from 'node:stream';
import { createHash, restoreHash, type HashAlgorithm, type ResumableHash } from '../digest/index.js';
import { blobExists, linkBlob, type BlobInfo } from './blobs.js';
import { RegistryError } from './errors.js';
import { layout } from './layout.js';
import { validateUploadId, type Digest } from './names.js';
import type { Scope } from './scope.js';

export const UPLOAD_RECORD_VERSION = 1;

export interface UploadRecord {
  v: number;
  id: string;
  repo: string;
  /** ms since epoch */
  started: number;
  updated: number;
  /** Bytes received so far. */
  offset: number;
  /** Start offsets of the stored chunks, in order (each chunk's key derives from it). */
  chunks: number[];
  hash: { algorithm: HashAlgorithm; state: string };
}

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

const DEFAULT_ALGORITHM: HashAlgorithm = 'sha256';

function unknownUpload(id: string): RegistryError {
  return new RegistryError('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', { uuid: id });
}

/** A record with its hash state restored (once per request). */
interface Loaded {
  rec: UploadRecord;
  hash: ResumableHash;
}

async function loadRecord(s: Scope, repo: string, id: string): Promise<Loaded> {
  validateUploadId(id);
  const raw = await s.driver.get(layout.uploadRecord(s.ns, id));
  if (!raw) throw unknownUpload(id);
  let rec: UploadRecord;
  try {
    rec = JSON.parse(raw.toString('utf8')) as UploadRecord;
  } catch {
    throw unknownUpload(id);
  }
  // An upload belongs to one repository: its id is no capability elsewhere.
  if (rec?.v !== UPLOAD_RECORD_VERSION || rec.id !== id || rec.repo !== repo) throw unknownUpload(id);
  if (!Number.isSafeInteger(rec.offset) || !Array.isArray(rec.chunks) || typeof rec.hash?.state !== 'string') {
    throw new RegistryError('BLOB_UPLOAD_INVALID', 'upload record is damaged; start the upload again', { uuid: id });
  }
  try {
    return { rec, hash: restoreHash(rec.hash.algorithm, rec.hash.state) };
  } catch {
    throw new RegistryError('BLOB_UPLOAD_INVALID', 'upload record is damaged; start the upload again', { uuid: id });
  }
}

async function saveRecord(s: Scope, rec: UploadRecord): Promise<void> {
  rec.updated = Date.now();
  // Not fsynced: a record survives a process crash; after a power loss the
  // client's final digest check catches any lost chunk. The blob is made
  // durable once, when concat publishes it.
  await s.driver.put(layout.uploadRecord(s.ns, rec.id), Buffer.from(JSON.stringify(rec)), { durable: false });
}

async function createRecord(s: Scope, repo: string): Promise<Loaded> {
  const now = Date.now();
  const hash = createHash(DEFAULT_ALGORITHM);
  const rec: UploadRecord = {
    v: UPLOAD_RECORD_VERSION,
    id: randomUUID(),
    repo,
    started: now,
    updated: now,
    offset: 0,
    chunks: [],
    hash: { algorithm: DEFAULT_ALGORITHM, state: hash.exportState() },
  };
  await saveRecord(s, rec);
  return { rec, hash };
}

export async function startUpload(s: Scope, repo: string): Promise<UploadStatus> {
  const { rec } = await createRecord(s, repo);
  return { id: rec.id, offset: 0 };
}

export async function uploadStatus(s: Scope, repo: string, id: string): Promise<UploadStatus> {
  const { rec } = await loadRecord(s, repo, id);
  return { id, offset: rec.offset };
}

/** Bytes gathered before one hash step runs on the thread pool. */
const HASH_BATCH = 1 << 20;

/**
 * Feeds every byte that passes to the hash, and counts them. Bytes go on to
 * storage at once; hashing runs on libuv's pool in 1 MiB batches (when the
 * engine can), at most one batch behind, so a big upload does not hold the
 * event loop that small requests need. `_flush` waits for the last batch.
 */
class HashingCounter extends Transform {
  bytes = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private hashing: Promise<void> = Promise.resolve();
  constructor(private readonly hash: ResumableHash) {
    super({ highWaterMark: 1 << 20 });
  }

  /** Queue the gathered bytes for hashing; resolves when the previous batch is done. */
  private step(): Promise<void> {
    const batch = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    const previous = this.hashing;
    this.hashing = previous.then(() => this.hash.updateAsync!(batch));
    this.hashing.catch(() => undefined); // awaited in _flush or by the next step
    return previous;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null, data?: Buffer) => void) {
    this.bytes += chunk.length;
    if (!this.hash.updateAsync) {
      this.hash.update(chunk);
      done(null, chunk);
      return;
    }
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes < HASH_BATCH) {
      done(null, chunk);
      return;
    }
    this.step().then(() => done(null, chunk), done);
  }

  override _flush(done: (err?: Error | null) => void) {
    if (this.pendingBytes > 0) void this.step();
    this.hashing.then(() => done(), done);
  }
}

/**
 * Pipe a request body into `dst`. Unlike stream.pipeline, a failure on the
 * storage side leaves the body alone (only unpiped): destroying a request
 * destroys its socket, and the client would get a reset instead of the
 * 503 (or 4xx) it is owed; the http layer drains or closes it after answering.
 */
function feed(src: Readable, dst: Writable): Promise<void> {
  // The client may have gone while the upload record was read: its 'close'
  // has passed and will not come again (waiting for it held the chunk's file
  // open for good). The caller destroys `dst` on the rejection.
  if (src.destroyed && !src.readableEnded) {
    return Promise.reject(Object.assign(new Error('request body ended early (client went away)'), { code: 'ECONNRESET' }));
  }
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      src.off('error', done);
      src.off('close', closed);
      dst.off('error', done);
      dst.off('finish', finished);
      if (err) {
        src.unpipe(dst);
        reject(err);
      } else resolve();
    };
    const finished = () => done();
    const closed = () => {
      if (!src.readableEnded) {
        dst.destroy(new Error('request body ended early (client went away)'));
        done(Object.assign(new Error('request body ended early (client went away)'), { code: 'ECONNRESET' }));
      }
    };
    src.on('error', done);
    src.on('close', closed);
    dst.on('error', done);
    dst.on('finish', finished);
    src.pipe(dst);
  });
}

function checkChunkHeaders(rec: UploadRecord, h: ChunkHeaders): void {
  if (h.range) {
    if (h.range.start !== rec.offset) {
      throw new RegistryError('RANGE_INVALID', 'chunk out of order', { offset: rec.offset, start: h.range.start });
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
 * Store one chunk, feeding `hash`, and (when `save`) write the record back.
 * The stored record is untouched if the chunk fails (the in-memory hash is
 * then spent: the request fails with it).
 */
async function appendToRecord(s: Scope, { rec, hash }: Loaded, body: Readable, h: ChunkHeaders, save: boolean): Promise<void> {
  checkChunkHeaders(rec, h);
  const counter = new HashingCounter(hash);
  // Where the driver can append (filesystem), the whole upload grows in one
  // object — the chunk at offset 0 — so finishing needs no copy. Otherwise
  // each chunk is an object of its own, concatenated at the end.
  const append = s.driver.append && (rec.chunks.length === 0 || (rec.chunks.length === 1 && rec.chunks[0] === 0));
  const start = append ? 0 : rec.offset;
  const key = layout.uploadChunk(s.ns, rec.id, start);
  const write = append ? s.driver.append!(key, rec.offset, counter) : s.driver.put(key, counter, { durable: false });
  // Bytes that are not recorded are never read: a later append cuts them
  // off; a separate chunk object (or an appended object nothing was recorded
  // in yet) is removed.
  const discard = () => (append && rec.offset > 0 ? Promise.resolve(false) : s.driver.delete(key).catch(() => false));
  await Promise.all([feed(body, counter), write]).catch(async (err) => {
    counter.destroy();
    await write.catch(() => undefined);
    await discard();
    throw err;
  });
  const declared = h.range ? h.range.end - h.range.start + 1 : h.length;
  if (declared !== undefined && counter.bytes !== declared) {
    await discard();
    throw new RegistryError('SIZE_INVALID', 'body length does not match the declared length', {
      declared,
      received: counter.bytes,
    });
  }
  if (counter.bytes === 0) {
    await discard();
    return;
  }
  if (!(append && rec.chunks.length === 1)) rec.chunks.push(start);
  rec.offset += counter.bytes;
  if (save) {
    rec.hash.state = hash.exportState();
    await saveRecord(s, rec);
  }
}

/**
 * An appended upload's object may hold a stray tail past the recorded offset
 * (a chunk cut short by a crash); cut it before the data is read or published.
 */
async function trimToRecord(s: Scope, rec: UploadRecord): Promise<void> {
  if (!s.driver.append || rec.chunks.length !== 1 || rec.chunks[0] !== 0) return;
  const key = layout.uploadChunk(s.ns, rec.id, 0);
  const st = await s.driver.stat(key);
  if (st && st.size !== rec.offset) await s.driver.append(key, rec.offset, Readable.from([]));
}

export async function appendChunk(s: Scope, repo: string, id: string, body: Readable, headers: ChunkHeaders): Promise<UploadStatus> {
  const loaded = await loadRecord(s, repo, id);
  await appendToRecord(s, loaded, body, headers, true);
  return { id, offset: loaded.rec.offset };
}

async function deleteUploadObjects(s: Scope, rec: UploadRecord): Promise<void> {
  // Chunks first, the record last: an upload directory without a record is
  // either finished (its chunks may be parts of a published object) or gone.
  await Promise.all(rec.chunks.map((o) => s.driver.delete(layout.uploadChunk(s.ns, rec.id, o))));
  await s.driver.delete(layout.uploadRecord(s.ns, rec.id));
}

export async function cancelUpload(s: Scope, repo: string, id: string): Promise<void> {
  const { rec } = await loadRecord(s, repo, id);
  await deleteUploadObjects(s, rec);
}

async function digestOfUpload(s: Scope, rec: UploadRecord, algorithm: HashAlgorithm, fed: ResumableHash): Promise<string> {
  if (algorithm === rec.hash.algorithm) return fed.digestHex();
  // The client chose another algorithm than the one hashed on the way in: read it back once.
  const hash = createHash(algorithm);
  for (const o of rec.chunks) {
    const stream = await s.driver.read(layout.uploadChunk(s.ns, rec.id, o));
    for await (const piece of stream) hash.update(piece as Buffer);
  }
  return hash.digestHex();
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
  return finishLoaded(s, repo, await loadRecord(s, repo, id), digest, body, headers);
}

async function finishLoaded(
  s: Scope,
  repo: string,
  loaded: Loaded,
  digest: Digest,
  body: Readable | null,
  headers: ChunkHeaders,
): Promise<BlobInfo> {
  const { rec, hash } = loaded;
  // The last chunk's record write is skipped: the upload ends here either way.
  const before = rec.offset;
  if (body) await appendToRecord(s, loaded, body, headers, false);
  // A chunk appended just now ends exactly at the offset; otherwise check.
  if (rec.offset === before) await trimToRecord(s, rec);
  const actual = await digestOfUpload(s, rec, digest.algorithm, hash);
  if (actual !== digest.hex) {
    await deleteUploadObjects(s, rec);
    throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', {
      digest: digest.text,
      actual: `${digest.algorithm}:${actual}`,
    });
  }
  const blobKey = layout.blob(s.ns, digest);
  const chunkKeys = rec.chunks.map((o) => layout.uploadChunk(s.ns, rec.id, o));
  const existing = await blobExists(s, digest);
  if (existing) {
    // Already stored by an earlier push: keep the published copy.
    await Promise.all(chunkKeys.map((k) => s.driver.delete(k)));
  } else if (chunkKeys.length === 0) {
    await s.driver.put(blobKey, Buffer.alloc(0));
  } else {
    await s.driver.concat(blobKey, chunkKeys);
    await s.driver.deleteConcatSources(blobKey, chunkKeys);
  }
  await linkBlob(s, repo, digest);
  await s.driver.delete(layout.uploadRecord(s.ns, rec.id));
  return { digest, size: rec.offset };
}

/** Monolithic upload (POST with ?digest=): a one-chunk upload finished at once. */
export async function uploadWhole(s: Scope, repo: string, digest: Digest, body: Readable, headers: ChunkHeaders): Promise<BlobInfo> {
  // The record is written so that prune can clean up after a crash; it is
  // not read back: this request holds it.
  const loaded = await createRecord(s, repo);
  try {
    return await finishLoaded(s, repo, loaded, digest, body, headers);
  } catch (err) {
    // The client never learnt this upload's id: leave no record or chunk behind
    // (a short body, a length mismatch, a storage fault).
    await deleteUploadObjects(s, loaded.rec).catch(() => undefined);
    throw err;
  }
}
