// In-memory storage driver, for tests. It is also the reference for listing
// semantics: a sorted key array (UTF-8 byte order) plus a map of immutable
// objects, so every operation is trivially atomic.
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ByteRange, ListEntry, ListOptions, ListPage, ObjectInfo, PutOptions, StorageDriver } from './driver.js';
import { NotFoundError } from './errors.js';
import { checkKey, checkPrefix, compareKeys, listLimit, resolveRange } from './keys.js';

export { compareKeys } from './keys.js';

interface MemObject {
  data: Buffer;
  modified: Date;
}

export class MemoryDriver implements StorageDriver {
  readonly name = 'memory';
  /** All keys, sorted by compareKeys. */
  private readonly keys: string[] = [];
  private readonly objects = new Map<string, MemObject>();

  /** Number of stored objects (for tests). */
  get size(): number {
    return this.objects.size;
  }

  async list(options: ListOptions): Promise<ListPage> {
    const prefix = options.prefix ?? '';
    checkPrefix(prefix);
    const { delimiter, startAfter } = options;
    const limit = listLimit(options.limit);
    const keys = this.keys;
    let i = this.lowerBound(prefix);
    if (startAfter !== undefined && compareKeys(startAfter, prefix) >= 0) {
      i = Math.max(i, this.upperBound(startAfter));
      // A group whose prefix sorts before startAfter may still hold keys after
      // it; such a group is itself not "after" the marker, so it is skipped below.
    }
    const entries: ListEntry[] = [];
    while (i < keys.length && entries.length <= limit) {
      const key = keys[i]!;
      if (!key.startsWith(prefix)) break;
      if (delimiter) {
        const j = key.indexOf(delimiter, prefix.length);
        if (j >= 0) {
          const group = key.slice(0, j + delimiter.length);
          if (startAfter === undefined || compareKeys(group, startAfter) > 0) {
            entries.push({ key: group, prefix: true });
          }
          i = this.endOfPrefix(group, i);
          continue;
        }
      }
      const obj = this.objects.get(key)!;
      entries.push({ key, prefix: false, size: obj.data.length, modified: obj.modified });
      i++;
    }
    if (entries.length > limit) {
      entries.length = limit;
      return { entries, next: entries[limit - 1]!.key };
    }
    return { entries };
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    checkKey(key);
    const obj = this.objects.get(key);
    return obj ? { key, size: obj.data.length, modified: obj.modified } : null;
  }

  async put(key: string, body: Uint8Array | Readable, _options?: PutOptions): Promise<ObjectInfo> {
    checkKey(key);
    let data: Buffer;
    if (body instanceof Uint8Array) {
      data = Buffer.from(body); // a copy: the caller may reuse its buffer
    } else {
      const chunks: Buffer[] = [];
      // pipeline (unlike for-await) rejects when the body is destroyed
      // without an error, e.g. an aborted HTTP request.
      await pipeline(
        body,
        new Writable({
          write(chunk: Buffer, _enc, cb) {
            chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
            cb();
          },
        }),
      );
      data = Buffer.concat(chunks);
    }
    return this.publish(key, data);
  }

  async get(key: string): Promise<Buffer | null> {
    checkKey(key);
    const obj = this.objects.get(key);
    return obj ? Buffer.from(obj.data) : null;
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    checkKey(key);
    const obj = this.objects.get(key);
    if (!obj) throw new NotFoundError(key);
    let data = obj.data;
    if (range) {
      const { start, end } = resolveRange(key, data.length, range);
      data = data.subarray(start, end + 1);
    }
    // Stored objects are never mutated, so a view is safe; 1 MiB chunks like the fs driver.
    const chunks: Buffer[] = [];
    for (let off = 0; off < data.length; off += 1 << 20) chunks.push(data.subarray(off, off + (1 << 20)));
    return Readable.from(chunks, { objectMode: false });
  }

  async delete(key: string): Promise<boolean> {
    checkKey(key);
    if (!this.objects.has(key)) return false;
    this.objects.delete(key);
    this.keys.splice(this.lowerBound(key), 1);
    return true;
  }

  async move(from: string, to: string, _options?: PutOptions): Promise<void> {
    checkKey(from);
    checkKey(to);
    const obj = this.objects.get(from);
    if (!obj) throw new NotFoundError(from);
    if (from === to) return;
    this.publish(to, obj.data, obj.modified);
    await this.delete(from);
  }

  /** By reference: stored objects are never mutated, so both keys may share one buffer. */
  async copy(from: string, to: string): Promise<ObjectInfo> {
    checkKey(from);
    checkKey(to);
    const obj = this.objects.get(from);
    if (!obj) throw new NotFoundError(from);
    if (from === to) return { key: to, size: obj.data.length, modified: obj.modified };
    return this.publish(to, obj.data);
  }

  async concat(to: string, sources: string[]): Promise<ObjectInfo> {
    checkKey(to);
    const parts: Buffer[] = [];
    for (const src of sources) {
      checkKey(src);
      const obj = this.objects.get(src);
      if (!obj) throw new NotFoundError(src);
      parts.push(obj.data);
    }
    return this.publish(to, Buffer.concat(parts));
  }

  async deleteConcatSources(to: string, sources: string[]): Promise<void> {
    checkKey(to);
    for (const src of sources) await this.delete(src);
  }

  private publish(key: string, data: Buffer, modified = new Date()): ObjectInfo {
    if (!this.objects.has(key)) this.keys.splice(this.lowerBound(key), 0, key);
    this.objects.set(key, { data, modified });
    return { key, size: data.length, modified };
  }

  /** First index whose key is >= k. */
  private lowerBound(k: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(this.keys[mid]!, k) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First index whose key is > k. */
  private upperBound(k: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(this.keys[mid]!, k) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First index at or after `from` whose key does not start with `p` (keys with a prefix are contiguous). */
  private endOfPrefix(p: string, from: number): number {
    let lo = from;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const k = this.keys[mid]!;
      if (k.startsWith(p) || compareKeys(k, p) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
