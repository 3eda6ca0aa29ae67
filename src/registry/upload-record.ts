// The upload record: what an upload has stored so far, written back to
// storage after every chunk so that any process can take the next one.
//
//   {"v":2, "id", "repo", "started", "updated",
//    "offset": <bytes received>,
//    "parts": [{"name": "<start, 16 digits>-<random>", "size": <bytes>}, ...],
//    "hash": {"algorithm": "sha256", "state": "<exported hash state>"},
//    "boot": "<the host boot its parts were stored under>"}   (filesystem)
//
// The rule every upload operation keeps (see docs/uploads.md):
//   a record only names immutable bytes that no one can still write, and it
//   is self-consistent: its hash state is the hash of exactly the bytes its
//   parts hold, in order, and offset = sum of the part sizes = bytes hashed.
// Part names are unique per request (a random suffix), so two requests never
// write one object; which of two racing records is stored then does not
// matter for integrity — each names only its own writer's bytes.
//
// This is the one parser of upload records (uploads, prune and fsck use it).
// Version 1 records (before unique part names: "chunks" = start offsets,
// each chunk at its zero-padded offset) are still read.
import { randomBytes, randomUUID } from 'node:crypto';
import { HASH_ALGORITHMS, createHash, restoreHash, type HashAlgorithm, type ResumableHash } from '../digest/index.js';
import { decodeState } from '../digest/state.js';
import { RegistryError } from './errors.js';
import { layout } from './layout.js';
import { validateUploadId } from './names.js';
import type { Scope } from './scope.js';

export const UPLOAD_RECORD_VERSION = 2;

/** One stored object of an upload, by its name inside the upload's directory. */
export interface UploadPart {
  name: string;
  size: number;
}

export interface UploadRecord {
  v: typeof UPLOAD_RECORD_VERSION;
  id: string;
  repo: string;
  /** ms since epoch */
  started: number;
  updated: number;
  /** Bytes received so far (= the sum of the part sizes = the bytes hashed). */
  offset: number;
  /** The upload's bytes, in order. */
  parts: UploadPart[];
  hash: { algorithm: HashAlgorithm; state: string };
  /**
   * The store's volatileEpoch (host boot) all of the parts were stored under,
   * or MIXED_BOOT; absent when the store has none (or an older Wharf wrote it).
   */
  boot?: string;
}

/** `boot` of a record whose parts were stored under more than one boot. */
export const MIXED_BOOT = 'mixed';

/** `boot` once more bytes were stored under `epoch` (the store's volatileEpoch). */
export function bootAfterWrite(rec: UploadRecord, epoch: string | undefined): string | undefined {
  if (epoch === undefined) return undefined;
  return rec.offset === 0 || rec.boot === epoch ? epoch : MIXED_BOOT;
}

/**
 * Whether an upload's stored bytes must be read back and hashed before they
 * are published: the store does not sync them as they come (`epoch` set) and
 * some were stored under another boot, when a power loss may have lost or
 * garbled them while the record (and its hash state) survived.
 */
export function needsReadBack(rec: UploadRecord, epoch: string | undefined): boolean {
  return epoch !== undefined && rec.offset > 0 && rec.boot !== epoch;
}

/** A record as one request loaded it: the stored bytes (to notice any change) and the restored hash. */
export interface LoadedUpload {
  rec: UploadRecord;
  raw: Buffer;
  hash: ResumableHash;
}

const DEFAULT_ALGORITHM: HashAlgorithm = 'sha256';
const OFFSET_DIGITS = 16;
/** A part name: start offset, and (version 2) a random suffix. */
const PART_NAME = /^\d{16}(?:-[0-9a-f]{12})?$/;

/** A fresh, unique name for upload bytes that start at `start`. */
export function newPartName(start: number): string {
  return `${String(start).padStart(OFFSET_DIGITS, '0')}-${randomBytes(6).toString('hex')}`;
}

/** The start offset a part name carries, or null for a name that is no part (e.g. "record"). */
export function partStart(name: string): number | null {
  return PART_NAME.test(name) ? Number(name.slice(0, OFFSET_DIGITS)) : null;
}

export function partKey(s: Scope, id: string, name: string): string {
  return layout.uploadPart(s.ns, id, name);
}

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** Parts of a version 1 record: chunks named by their zero-padded start offset. */
function partsFromV1(chunks: unknown, offset: number): UploadPart[] | null {
  if (!Array.isArray(chunks) || !chunks.every(isCount)) return null;
  const parts: UploadPart[] = [];
  for (let i = 0; i < chunks.length; i++) {
    const start = chunks[i] as number;
    const end = i + 1 < chunks.length ? (chunks[i + 1] as number) : offset;
    if (end <= start) return null;
    parts.push({ name: String(start).padStart(OFFSET_DIGITS, '0'), size: end - start });
  }
  return parts;
}

/**
 * Parse and check a stored record: well-formed, and self-consistent (parts
 * add up to the offset, the hash state has hashed exactly that many bytes).
 * Null for anything else. A version 1 record comes back as version 2.
 */
export function parseUploadRecord(raw: Buffer | string): UploadRecord | null {
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof r !== 'object' || r === null) return null;
  const { id, repo, started, updated, offset, hash } = r as Partial<UploadRecord>;
  const v: unknown = r.v;
  if (typeof id !== 'string' || typeof repo !== 'string' || !isCount(started) || !isCount(updated) || !isCount(offset)) return null;
  if (typeof hash !== 'object' || hash === null || !HASH_ALGORITHMS.includes(hash.algorithm) || typeof hash.state !== 'string') {
    return null;
  }
  let parts: UploadPart[] | null;
  if (v === 1) parts = partsFromV1((r as { chunks?: unknown }).chunks, offset);
  else if (v === UPLOAD_RECORD_VERSION && Array.isArray(r.parts)) {
    parts = (r.parts as unknown[]).every(
      (p) =>
        typeof p === 'object' &&
        p !== null &&
        typeof (p as UploadPart).name === 'string' &&
        PART_NAME.test((p as UploadPart).name) &&
        isCount((p as UploadPart).size) &&
        (p as UploadPart).size > 0,
    )
      ? (r.parts as UploadPart[]).map((p) => ({ name: p.name, size: p.size }))
      : null;
  } else parts = null;
  if (!parts || parts.reduce((n, p) => n + p.size, 0) !== offset) return null;
  try {
    if (decodeState(hash.algorithm, hash.state).total !== offset) return null;
  } catch {
    return null;
  }
  const rec: UploadRecord = {
    v: UPLOAD_RECORD_VERSION,
    id,
    repo,
    started,
    updated,
    offset,
    parts,
    hash: { algorithm: hash.algorithm, state: hash.state },
  };
  // Anything but a string is as good as none: the bytes are read back.
  if (typeof r.boot === 'string') rec.boot = r.boot;
  return rec;
}

export function unknownUpload(id: string): RegistryError {
  return new RegistryError('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', { uuid: id });
}

function damaged(id: string): RegistryError {
  return new RegistryError('BLOB_UPLOAD_INVALID', 'upload record is damaged; start the upload again', { uuid: id });
}

/** The stored record's bytes, or null when there is none. */
export function readRecordRaw(s: Scope, id: string): Promise<Buffer | null> {
  return s.driver.get(layout.uploadRecord(s.ns, id));
}

/** Load an upload of `repo` with its hash state restored (once per request). */
export async function loadUpload(s: Scope, repo: string, id: string): Promise<LoadedUpload> {
  validateUploadId(id);
  const raw = await readRecordRaw(s, id);
  if (!raw) throw unknownUpload(id);
  const rec = parseUploadRecord(raw);
  if (!rec) throw damaged(id);
  // An upload belongs to one repository: its id is no capability elsewhere.
  if (rec.id !== id || rec.repo !== repo) throw unknownUpload(id);
  let hash: ResumableHash;
  try {
    hash = restoreHash(rec.hash.algorithm, rec.hash.state);
  } catch {
    throw damaged(id);
  }
  return { rec, raw, hash };
}

/** Write the record back; returns the bytes stored. */
export async function saveRecord(s: Scope, rec: UploadRecord): Promise<Buffer> {
  rec.updated = Date.now();
  const raw = Buffer.from(JSON.stringify(rec));
  // Not fsynced: a record survives a process crash; the blob is made durable
  // once, when concat publishes it (see docs/uploads.md on power loss).
  await s.driver.put(layout.uploadRecord(s.ns, rec.id), raw, { durable: false });
  return raw;
}

/** A new, empty upload of `repo`, stored. */
export async function createUpload(s: Scope, repo: string): Promise<LoadedUpload> {
  const now = Date.now();
  const hash = createHash(DEFAULT_ALGORITHM);
  const rec: UploadRecord = {
    v: UPLOAD_RECORD_VERSION,
    id: randomUUID(),
    repo,
    started: now,
    updated: now,
    offset: 0,
    parts: [],
    hash: { algorithm: DEFAULT_ALGORITHM, state: hash.exportState() },
  };
  const raw = await saveRecord(s, rec);
  return { rec, raw, hash };
}

/**
 * A request's upload moved on since it loaded the record: another request
 * stored a chunk first (416 RANGE_INVALID; the http layer adds the real
 * offset), or the upload was finished or cancelled (404 BLOB_UPLOAD_UNKNOWN).
 * What the request wrote is then named by nothing and is removed.
 */
export class UploadMovedOn extends RegistryError {
  override name = 'UploadMovedOn';
}

export function movedOn(id: string, current: Buffer | null): UploadMovedOn {
  if (current === null)
    return new UploadMovedOn('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry (finished or cancelled meanwhile)', { uuid: id });
  const now = parseUploadRecord(current);
  return new UploadMovedOn('RANGE_INVALID', 'another request changed the upload first; ask for its state and resend from there', {
    uuid: id,
    ...(now ? { offset: now.offset } : {}),
  });
}

/**
 * Throw unless the stored record is still the one this request loaded.
 * Called right before a request commits (saves the record, or publishes),
 * so that of two requests racing on one upload the later one is refused.
 */
export async function assertUnchanged(s: Scope, loaded: LoadedUpload): Promise<void> {
  const current = await readRecordRaw(s, loaded.rec.id);
  if (current === null || !current.equals(loaded.raw)) throw movedOn(loaded.rec.id, current);
}
