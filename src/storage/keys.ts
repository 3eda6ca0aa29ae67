// Key rules every driver shares: UTF-8 key order, key and prefix validation,
// listing limits, byte-range resolution and keys in URLs.
import type { ByteRange } from './driver.js';
import { MAX_LIST_LIMIT } from './driver.js';
import type { ObjectInfo } from './driver.js';
import { InvalidKeyError, NotFoundError, RangeNotSatisfiableError } from './errors.js';

/**
 * Compare two keys in UTF-8 byte order (the order of S3, Swift and
 * `Buffer.compare`) without encoding them. JavaScript's `<` compares UTF-16
 * code units, which differs from UTF-8 order only when one side is a
 * surrogate (a character above U+FFFF) and the other is U+E000..U+FFFF.
 */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        // Surrogates (D800..DFFF) encode code points above FFFF: move them above E000..FFFF.
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      }
      return x - y;
    }
  }
  return a.length - b.length;
}

/**
 * Throw an InvalidKeyError unless `key` is a well-formed object key: non-empty,
 * no leading '/', no empty, '.' or '..' segment (so no trailing '/'), no NUL.
 * The registry validates names before they become keys; this is a guard
 * against bugs (and path traversal in the filesystem driver).
 */
export function checkKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw new InvalidKeyError('invalid storage key: empty');
  if (key.includes('\0')) throw new InvalidKeyError(`invalid storage key (NUL): ${JSON.stringify(key)}`);
  for (const seg of key.split('/')) {
    if (seg === '' || seg === '.' || seg === '..') {
      throw new InvalidKeyError(`invalid storage key: ${JSON.stringify(key)}`);
    }
  }
}

/**
 * Like `checkKey` for a listing prefix: it may be empty and may end with '/'
 * or in the middle of a segment ("a/b/c" lists "a/b/c…" keys).
 */
export function checkPrefix(prefix: string): void {
  if (typeof prefix !== 'string') throw new InvalidKeyError('invalid storage prefix');
  if (prefix === '') return;
  if (prefix.includes('\0')) throw new InvalidKeyError(`invalid storage prefix (NUL): ${JSON.stringify(prefix)}`);
  const segs = prefix.split('/');
  segs.pop(); // the last part is a name prefix (possibly empty)
  for (const seg of segs) {
    if (seg === '' || seg === '.' || seg === '..') {
      throw new InvalidKeyError(`invalid storage prefix: ${JSON.stringify(prefix)}`);
    }
  }
}

/** `limit` clamped to 1..MAX_LIST_LIMIT (default MAX_LIST_LIMIT). */
export function listLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return MAX_LIST_LIMIT;
  return Math.max(1, Math.min(MAX_LIST_LIMIT, Math.floor(limit)));
}

/**
 * Throw a TypeError unless `range` is well formed: `start` a non-negative
 * safe integer, `end` a safe integer when set. For drivers that leave the
 * rest to the backend; an `end` before `start` is well formed, and not
 * satisfiable.
 */
export function checkByteRange(range: ByteRange): void {
  if (!Number.isSafeInteger(range.start) || range.start < 0 || (range.end !== undefined && !Number.isSafeInteger(range.end))) {
    throw new TypeError(`invalid byte range ${JSON.stringify(range)}`);
  }
}

/**
 * checkByteRange, and for a range whose end comes before its start (which S3
 * and Swift would answer with the whole object): 416 with the object's size,
 * or 404 when there is no object — asked of `stat` before any read is sent.
 */
export async function checkBackendRange(key: string, range: ByteRange, stat: (key: string) => Promise<ObjectInfo | null>): Promise<void> {
  checkByteRange(range);
  if (range.end !== undefined && range.end < range.start) {
    const info = await stat(key);
    if (!info) throw new NotFoundError(key);
    throw new RangeNotSatisfiableError(key, info.size);
  }
}

/**
 * Validate a byte range against an object size and return the inclusive
 * [start, end] to serve. `end` past the last byte is clamped (HTTP semantics);
 * `start` at or past the end (so any range of an empty object) is not
 * satisfiable.
 */
export function resolveRange(key: string, size: number, range: ByteRange): { start: number; end: number } {
  const { start } = range;
  let end = range.end ?? size - 1;
  if (!Number.isSafeInteger(start) || start < 0 || !Number.isSafeInteger(end) || end < start || start >= size) {
    throw new RangeNotSatisfiableError(key, size);
  }
  if (end > size - 1) end = size - 1;
  return { start, end };
}

/** A key as the path of a URL: each '/'-separated segment percent-encoded. */
export function encodeKeyPath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}
