// Filesystem storage driver (the embedded default).
//
// A key maps to the file <root>/<key>; '/' in keys are directories. Writes go
// to a temp file in <root>/_tmp (same filesystem), are fsynced, and are
// renamed into place, followed by an fsync of the parent directory: a put or
// concat that resolved survives kill -9 and power loss, and readers only ever
// see whole objects (a reader that opened the old file keeps reading it).
// A put with `durable: false` skips both fsyncs (still atomic, and safe
// against a process crash); concat and move always sync. Deletes are not
// synced (a delete lost to a power cut only brings back an object).
//
// A full filesystem (ENOSPC, or EDQUOT for a quota) makes a write fail with
// StorageFullError, after the write has removed what it had begun (temp
// file, appended tail): the http layer answers 507, and the same write
// succeeds once space is freed.
//
// Limits of the mapping (Wharf's storage layout never needs these):
// - An object and a "directory" cannot share a name: keys "a/b" and "a/b/c"
//   cannot both exist (the second put fails with ENOTDIR / the first with EISDIR).
// - The top-level segment `_tmp` is reserved.
// - Each key segment is a file name, so at most 255 bytes (NAME_MAX).
import {
  closeSync,
  constants as fsc,
  createReadStream,
  fstatSync,
  openSync,
  promises as fsp,
  read as readCb,
  readSync,
  type Stats,
  statSync,
} from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { mapLimit } from '../async/map-limit.js';
import { bootId } from './boot-id.js';
import { GroupSync } from './fs-group-sync.js';
import type { ByteRange, ListEntry, ListOptions, ListPage, ObjectInfo, PutOptions, StorageDriver } from './driver.js';
import { InvalidKeyError, NotFoundError, StorageFullError } from './errors.js';
import { checkKey, checkPrefix, compareKeys, listLimit, resolveRange } from './keys.js';

/** Stream buffer size: 1 MiB is ~2x faster than Node's 64 KiB default. */
const CHUNK = 1 << 20;
/** Temp directory under the root (reserved top-level key segment). */
export const TMP_DIR = '_tmp';
/** Temp files untouched for this long are leftovers of a crash and are swept. */
const TMP_MAX_AGE_MS = 60 * 60 * 1000;
/** Directories with more entries than this keep a sorted listing snapshot for paging. */
const DIR_CACHE_MIN_ENTRIES = 1000;
const DIR_CACHE_MAX_DIRS = 8;
/** A snapshot is trusted only if the directory was unchanged for this long before it was read (timestamp granularity). */
const DIR_CACHE_QUIET_NS = 1_000_000_000n;
/** Bounded parallelism for stat/unlink fan-out. */
const PARALLEL = 16;
/**
 * With `synchronousReads` (the default), reads of at most this many bytes
 * (and every stat) use synchronous calls on the event loop. Through
 * fs/promises each call is a threadpool round trip: 13–60 µs of main-thread
 * CPU to submit and settle, plus a wait behind the pool's big writes and hash
 * jobs; the synchronous call costs 2–10 µs on a local filesystem with the
 * pages cached. `npm run bench -- --against sync-reads --only conc` at load
 * 4–7: 1,649 against 920 req/s, server CPU per request 0.39 against 0.74 ms.
 * On a slow or network filesystem each call blocks the loop instead, and on a
 * CPU-starved machine (load 11–13 on 2 cores) a process with one busy thread
 * gets a smaller share than one with a busy pool (0.47× there):
 * WHARF_SYNC_READS=off goes back to the pool.
 */
const SYNC_READ_MAX = 256 * 1024;
/**
 * Early writeback: while a file that will be made durable is written, a
 * datasync starts every this many bytes (one at a time, in the pool), so the
 * final sync finds most pages already clean instead of writing the whole
 * file at the end (PROFILE.md row 1: 0.5 s per GiB of serial sync after the
 * last byte arrived).
 */
const WRITEBACK_EVERY = 64 << 20;
/**
 * Temp names: a random prefix per process and a counter. Unique between
 * processes sharing the root (64 random bits) and within one (the counter),
 * without drawing random bytes for every write.
 */
const TEMP_PREFIX = randomBytes(8).toString('hex');
let tempCounter = 0;

export interface FilesystemDriverOptions {
  /** Storage root directory (created if missing). */
  root: string;
  /**
   * fsync files and directories when publishing (default true). Turning it off
   * trades durability on power loss for latency; atomicity is unaffected.
   */
  fsync?: boolean;
  /** Remove stale temp files (older than an hour) at startup (default true). */
  sweepTemp?: boolean;
  /**
   * stat and reads up to 256 KiB with synchronous calls (default true, unless
   * the environment says WHARF_SYNC_READS=off): see SYNC_READ_MAX.
   */
  synchronousReads?: boolean;
  /** The host's boot id for `volatileEpoch` (tests stand in for a reboot with another). */
  bootId?: string;
}

/** The default of `synchronousReads`: on, unless WHARF_SYNC_READS says off. */
function synchronousReadsByDefault(): boolean {
  return !/^(0|off|false|no)$/i.test(process.env.WHARF_SYNC_READS ?? '');
}

interface DirEntry {
  /** Name, plus '/' for a directory: sorting these sorts the full keys. */
  sortKey: string;
  dir: boolean;
}

interface DirSnapshot {
  ino: bigint;
  mtimeNs: bigint;
  entries: DirEntry[];
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/** ENOSPC or EDQUOT: no space (or quota) left. */
function isFull(err: unknown): boolean {
  const c = errno(err);
  return c === 'ENOSPC' || c === 'EDQUOT';
}

/** Rethrow a full-filesystem error as StorageFullError, anything else as it is. */
function rethrowFull(err: unknown): never {
  if (isFull(err)) throw new StorageFullError(`filesystem full (${errno(err)})`, { cause: err });
  throw err;
}

/** Errors that mean "no object at this path". */
/** The bytes of an open object that `range` asks for (all without one); end < start: none. A directory is no object. */
function spanOf(key: string, st: Stats, range?: ByteRange): { start: number; end: number } {
  if (!st.isFile()) throw new NotFoundError(key);
  return range ? resolveRange(key, st.size, range) : { start: 0, end: st.size - 1 };
}

/** `length` bytes at `position` of an open file (fewer only if the file is shorter). */
function readFullySync(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/** `length` bytes at `position` of an open file through the pool (fewer only if the file is shorter). */
async function readFullyAsync(fd: number, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = await new Promise<number>((resolve, reject) =>
      readCb(fd, buf, got, length - got, position + got, (err, bytes) => (err ? reject(err) : resolve(bytes))),
    );
    if (n === 0) break;
    got += n;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/**
 * The whole file, opened and fstat'ed with synchronous calls: read at once
 * when it is at most SYNC_READ_MAX bytes, else read from the same descriptor
 * through the pool (not opened again); null for a directory. Missing files
 * throw as fs does.
 */
async function readWholeSyncOpen(file: string): Promise<Buffer | null> {
  const fd = openSync(file, 'r');
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return null;
    if (st.size <= SYNC_READ_MAX) return readFullySync(fd, 0, st.size);
    return await readFullyAsync(fd, 0, st.size);
  } finally {
    closeSync(fd);
  }
}

function isMissing(err: unknown): boolean {
  const c = errno(err);
  return c === 'ENOENT' || c === 'ENOTDIR';
}

async function writeAll(fh: FileHandle, buf: Buffer, length: number, position: number): Promise<void> {
  let off = 0;
  while (off < length) {
    const { bytesWritten } = await fh.write(buf, off, length - off, position + off);
    off += bytesWritten;
  }
}

/**
 * A Writable over a FileHandle we keep owning (fs.WriteStream with
 * autoClose:false holds a reference that makes FileHandle.close() wait
 * forever). Writes go out in pieces of at least 1 MiB: socket chunks (64 KiB)
 * are held, and taken as written, until that much is gathered, then written
 * together as one writev while the next ones wait in the stream's buffer.
 * Each write is a trip to the thread pool (a queue, a wake-up, a completion
 * on the loop); one writing each chunk as it came went out at ~490 KiB on
 * average. Held bytes are only ever taken while no write is in flight, and
 * the write that includes them (or _final's) reports its failure, so a
 * failed write still fails the append.
 */
class FileSink extends Writable {
  private unsynced = 0;
  private writeback: Promise<void> | null = null;
  private held: Buffer[] = [];
  private heldBytes = 0;

  /** `onWriteback`: with it, early writeback (see WRITEBACK_EVERY); it is told of each one started. */
  constructor(
    private readonly fh: FileHandle,
    private pos = 0,
    private readonly onWriteback?: () => void,
  ) {
    super({ highWaterMark: CHUNK, decodeStrings: true });
  }

  /** After `n` more bytes written: start a datasync when enough piled up and none is running. */
  private wrote(n: number): void {
    this.pos += n;
    if (!this.onWriteback) return;
    this.unsynced += n;
    if (this.unsynced < WRITEBACK_EVERY || this.writeback) return;
    this.unsynced = 0;
    this.onWriteback();
    // Its failure is not this write's: the final sync (or its absence) decides durability.
    this.writeback = this.fh.datasync().then(
      () => {
        this.writeback = null;
      },
      () => {
        this.writeback = null;
      },
    );
  }

  /** Hold `bufs` (calling back at once) while less than CHUNK is gathered; otherwise write all that is held. */
  private take(bufs: Buffer[], cb: (err?: Error | null) => void): void {
    for (const b of bufs) {
      this.held.push(b);
      this.heldBytes += b.length;
    }
    if (this.heldBytes < CHUNK) {
      cb();
      return;
    }
    this.flushHeld().then(() => cb(), cb);
  }

  /** Write what is held (one writev), at the current position. */
  private async flushHeld(): Promise<void> {
    const bufs = this.held;
    const total = this.heldBytes;
    this.held = [];
    this.heldBytes = 0;
    if (total === 0) return;
    if (bufs.length === 1) {
      await writeAll(this.fh, bufs[0]!, total, this.pos);
    } else {
      const { bytesWritten } = await this.fh.writev(bufs, this.pos);
      if (bytesWritten < total) {
        // Short write (rare on regular files): finish the rest plainly.
        const rest = Buffer.concat(bufs).subarray(bytesWritten);
        await writeAll(this.fh, rest, rest.length, this.pos + bytesWritten);
      }
    }
    this.wrote(total);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.take([chunk], cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this.take(
      chunks.map((c) => c.chunk),
      cb,
    );
  }

  // The held tail is written here; the handle is closed after the sink: no writeback may still be using it.
  override _final(cb: (err?: Error | null) => void): void {
    this.flushHeld().then(
      () => {
        if (this.writeback) void this.writeback.then(() => cb());
        else cb();
      },
      (err: Error) => {
        if (this.writeback) void this.writeback.then(() => cb(err));
        else cb(err);
      },
    );
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.held = [];
    this.heldBytes = 0;
    if (this.writeback) void this.writeback.then(() => cb(err));
    else cb(err);
  }
}

export class FilesystemDriver implements StorageDriver {
  readonly name = 'filesystem';
  readonly root: string;
  /** Upload chunks and records are not synced: a power loss may lose them (see StorageDriver). */
  readonly volatileEpoch?: string;
  private readonly tmpDir: string;
  private readonly fsync: boolean;
  private readonly syncReads: boolean;
  private readonly ready: Promise<void>;
  private sweeping: Promise<unknown> = Promise.resolve();
  private readonly dirCache = new Map<string, DirSnapshot>();
  private readonly dirSyncs = new GroupSync((dir) => this.syncDirNow(dir));
  private writebacks = 0;
  private tailWritebacks = 0;
  /** Tail writebacks still holding their descriptor (close() waits for them). */
  private readonly tailsRunning = new Set<Promise<void>>();
  private dirFsyncs = 0;

  constructor(options: FilesystemDriverOptions) {
    this.root = path.resolve(options.root);
    this.tmpDir = path.join(this.root, TMP_DIR);
    this.fsync = options.fsync ?? true;
    // Without fsync nothing is promised across a power loss, published blobs included.
    if (this.fsync) this.volatileEpoch = options.bootId ?? bootId();
    this.syncReads = options.synchronousReads ?? synchronousReadsByDefault();
    this.ready = fsp.mkdir(this.tmpDir, { recursive: true }).then(() => {
      if (options.sweepTemp ?? true) this.sweeping = this.sweepTemp().catch(() => 0);
    });
    this.ready.catch(() => {}); // surfaced by the first write that awaits it
  }

  /** Remove temp files not modified for `maxAgeMs` (leftovers of crashed writers). Returns how many. */
  async sweepTemp(maxAgeMs = TMP_MAX_AGE_MS): Promise<number> {
    let names: string[];
    try {
      names = await fsp.readdir(this.tmpDir);
    } catch (err) {
      if (isMissing(err)) return 0;
      throw err;
    }
    const cutoff = Date.now() - maxAgeMs;
    const removed = await mapLimit(names, PARALLEL, async (name) => {
      const p = path.join(this.tmpDir, name);
      try {
        const st = await fsp.lstat(p);
        // ctime too: a fresh hard link (single-part concat) keeps the part's old mtime for a moment.
        if (Math.max(st.mtimeMs, st.ctimeMs) >= cutoff) return 0;
        await fsp.rm(p, { recursive: true, force: true });
        return 1;
      } catch {
        return 0;
      }
    });
    return removed.reduce<number>((a, b) => a + b, 0);
  }

  async close(): Promise<void> {
    await this.ready.catch(() => {});
    await this.sweeping;
    await this.writebacksDone();
  }

  /** Resolves once no tail writeback (see writeBackTail) still holds a descriptor. */
  async writebacksDone(): Promise<void> {
    while (this.tailsRunning.size > 0) await Promise.all(this.tailsRunning);
  }

  // ---- keys and paths ----

  private path(key: string): string {
    checkKey(key);
    if (key === TMP_DIR || key.startsWith(TMP_DIR + '/')) {
      throw new InvalidKeyError(`invalid storage key (reserved): ${JSON.stringify(key)}`);
    }
    return this.root + '/' + key;
  }

  private async tempFile(): Promise<string> {
    await this.ready;
    return `${this.tmpDir}/${TEMP_PREFIX}-${(tempCounter++).toString(36)}`;
  }

  // ---- reads ----

  async stat(key: string): Promise<ObjectInfo | null> {
    const file = this.path(key);
    try {
      const st = this.syncReads ? statSync(file, { throwIfNoEntry: false }) : await fsp.stat(file);
      if (!st) return null;
      return st.isFile() ? { key, size: st.size, modified: st.mtime } : null;
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async get(key: string): Promise<Buffer | null> {
    const file = this.path(key);
    try {
      if (this.syncReads) return await readWholeSyncOpen(file);
      return await fsp.readFile(file);
    } catch (err) {
      if (isMissing(err) || errno(err) === 'EISDIR') return null;
      throw err;
    }
  }

  async openFile(key: string): Promise<FileHandle> {
    let fh: FileHandle;
    try {
      fh = await fsp.open(this.path(key), 'r');
    } catch (err) {
      if (isMissing(err)) throw new NotFoundError(key);
      throw err;
    }
    return fh;
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    const file = this.path(key);
    if (this.syncReads) return this.readSync(key, file, range);
    let fh: FileHandle;
    try {
      fh = await fsp.open(file, 'r');
    } catch (err) {
      if (isMissing(err)) throw new NotFoundError(key);
      throw err;
    }
    // The open handle pins this version of the object: a concurrent overwrite
    // (rename) or delete does not change what this stream returns.
    let start: number;
    let end: number;
    try {
      ({ start, end } = spanOf(key, await fh.stat(), range));
    } catch (err) {
      await fh.close().catch(() => {});
      throw err;
    }
    if (end < start) {
      await fh.close();
      return Readable.from([], { objectMode: false });
    }
    return createReadStream(file, { fd: fh, start, end, highWaterMark: CHUNK, autoClose: true });
  }

  /** read() with synchronous open and fstat, and one synchronous read when the range is small. */
  private readSync(key: string, file: string, range?: ByteRange): Readable {
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch (err) {
      if (isMissing(err)) throw new NotFoundError(key);
      throw err;
    }
    // The open descriptor pins this version of the object, as in read().
    let start: number;
    let end: number;
    try {
      ({ start, end } = spanOf(key, fstatSync(fd), range));
      if (end < start) {
        closeSync(fd);
        return Readable.from([], { objectMode: false });
      }
      if (end - start + 1 <= SYNC_READ_MAX) {
        const buf = readFullySync(fd, start, end - start + 1);
        closeSync(fd);
        return Readable.from([buf], { objectMode: false });
      }
    } catch (err) {
      try {
        closeSync(fd);
      } catch {
        /* already closed */
      }
      throw err;
    }
    return createReadStream(file, { fd, start, end, highWaterMark: CHUNK, autoClose: true });
  }

  // ---- writes ----

  put(key: string, body: Uint8Array | Readable, options?: PutOptions): Promise<ObjectInfo> {
    return this.putFile(key, body, options).then((info) => info!, rethrowFull);
  }

  /**
   * A durable put that asks `check` before the object appears at `key`: the
   * bytes are written to a private temp file first, `check` sees their size
   * (the caller has hashed them on the way in) and decides. false (or a
   * throw) publishes nothing and removes the temp file; then null.
   */
  putChecked(key: string, body: Readable, check: (info: ObjectInfo) => Promise<boolean>): Promise<ObjectInfo | null> {
    return this.putFile(key, body, undefined, check).catch(rethrowFull);
  }

  private async putFile(
    key: string,
    body: Uint8Array | Readable,
    options?: PutOptions,
    check?: (info: ObjectInfo) => Promise<boolean>,
  ): Promise<ObjectInfo | null> {
    const file = this.path(key);
    // durable:false (upload chunks, records): atomic and crash-safe, no fsync;
    // concat makes the data durable when the blob is published.
    const sync = this.fsync && (options?.durable ?? true);
    const tmp = await this.tempFile();
    let size = 0;
    let modified = new Date(0);
    let publish = true;
    try {
      const fh = await fsp.open(tmp, 'wx', 0o644).catch(async (err: unknown) => {
        if (errno(err) !== 'ENOENT') throw err;
        await fsp.mkdir(this.tmpDir, { recursive: true }); // someone removed _tmp
        return fsp.open(tmp, 'wx', 0o644);
      });
      try {
        if (body instanceof Uint8Array) {
          await writeAll(fh, Buffer.from(body.buffer, body.byteOffset, body.byteLength), body.byteLength, 0);
        } else {
          await pipeline(body, new FileSink(fh, 0, sync ? this.countWriteback : undefined));
        }
        const st = await fh.stat();
        size = st.size;
        modified = st.mtime;
        if (check && !(await check({ key, size, modified }))) publish = false;
        else if (sync) await fh.datasync();
      } finally {
        await fh.close();
      }
      if (!publish) {
        await fsp.rm(tmp, { force: true });
        return null;
      }
      await this.publish(tmp, file, sync);
    } catch (err) {
      await fsp.rm(tmp, { force: true }).catch(() => {});
      throw err;
    }
    return { key, size, modified };
  }

  /**
   * Append for upload data (see StorageDriver.append): one growing file per
   * upload, so finishing it is a hard link, not a copy of every chunk. The
   * file is cut to `offset` first, so a chunk that failed half way (or a
   * crash mid-chunk) leaves no stray tail. Not fsynced: concat makes the
   * data durable when the blob is published.
   */
  append(key: string, offset: number, body: Readable): Promise<ObjectInfo> {
    return this.appendFile(key, offset, body).catch(rethrowFull);
  }

  private async appendFile(key: string, offset: number, body: Readable): Promise<ObjectInfo> {
    const file = this.path(key);
    const open = async (): Promise<FileHandle> => {
      if (offset > 0) {
        return fsp.open(file, 'r+').catch((err: unknown) => {
          if (isMissing(err)) throw new NotFoundError(key);
          throw err;
        });
      }
      for (let attempt = 0; ; attempt++) {
        try {
          return await fsp.open(file, 'w', 0o644);
        } catch (err) {
          if (!isMissing(err) || attempt >= 20) throw err;
          // A racing delete may remove the fresh directory again: go round.
          await fsp.mkdir(path.dirname(file), { recursive: true }).catch((e: unknown) => {
            if (isFull(e)) throw e;
          });
        }
      }
    };
    const fh = await open();
    let handedOver = false;
    try {
      const st = await fh.stat();
      if (st.size < offset) throw new NotFoundError(key);
      if (st.size > offset) await fh.truncate(offset);
      try {
        // Appended data is made durable when it is published: write it back early.
        await pipeline(body, new FileSink(fh, offset, this.fsync ? this.countWriteback : undefined));
      } catch (err) {
        // Leave the object as it was before this append.
        await fh.truncate(offset).catch(() => undefined);
        throw err;
      }
      const end = await fh.stat();
      this.dirCache.delete(path.dirname(file));
      if (this.fsync && end.size > offset) {
        this.writeBackTail(fh);
        handedOver = true;
      }
      return { key, size: end.size, modified: end.mtime };
    } finally {
      if (!handedOver) await fh.close();
    }
  }

  /**
   * Tail writeback: once an append is complete, write its pages back in the
   * background (then close the handle), without making the append wait. The
   * publish of the upload (a PUT, usually the client's next request, or a
   * later chunk's) then syncs a file whose pages are mostly clean, instead of
   * writing the whole chunk while the client waits for its 201: the write-out
   * overlaps the client's round trip and the other layers' bodies. Durability
   * still rests on the publish's own sync alone; this one's errors are
   * ignored. It holds the descriptor for the few milliseconds the write-out
   * takes (a rename, truncate or unlink of the file meanwhile is harmless).
   */
  private writeBackTail(fh: FileHandle): void {
    this.tailWritebacks++;
    const done = fh
      .datasync()
      .catch(() => undefined)
      .then(() => fh.close())
      .catch(() => undefined)
      .then(() => {
        this.tailsRunning.delete(done);
      });
    this.tailsRunning.add(done);
  }

  async delete(key: string): Promise<boolean> {
    const file = this.path(key);
    try {
      await fsp.unlink(file);
    } catch (err) {
      const c = errno(err);
      // EISDIR (Linux) / EPERM (POSIX) when the key names a "directory": no such object.
      if (isMissing(err) || c === 'EISDIR' || c === 'EPERM') return false;
      throw err;
    }
    await this.pruneDirs(path.dirname(file));
    return true;
  }

  move(from: string, to: string, options?: PutOptions): Promise<void> {
    return this.moveFile(from, to, options).catch(rethrowFull);
  }

  private async moveFile(from: string, to: string, options?: PutOptions): Promise<void> {
    const src = this.path(from);
    const dst = this.path(to);
    // durable:false (upload data changing hands): an atomic rename, no directory fsync.
    const sync = this.fsync && (options?.durable ?? true);
    const st = await fsp.lstat(src).catch((err: unknown) => {
      if (isMissing(err)) return null;
      throw err;
    });
    // A directory is not an object (and renaming one would move a subtree).
    if (!st?.isFile()) throw new NotFoundError(from);
    if (src === dst) return;
    await this.publish(src, dst, sync, from).catch(async (err: unknown) => {
      // Another mover took `from` first: drop the directories made for `to`.
      if (err instanceof NotFoundError) await this.pruneDirs(path.dirname(dst));
      throw err;
    });
    // A rename within one directory leaves it no emptier.
    if (path.dirname(src) === path.dirname(dst)) return;
    // The rename is done: a source directory emptied and removed meanwhile
    // (a concurrent delete's pruneDirs) has no entry left to sync.
    if (sync) await this.syncDirIfThere(path.dirname(src));
    await this.pruneDirs(path.dirname(src));
  }

  copy(from: string, to: string): Promise<ObjectInfo> {
    return this.copyFile(from, to).catch(rethrowFull);
  }

  /**
   * A hard link published by rename (no data written: `to` is the same inode
   * as `from`, so it shares its data, size and times), or where the
   * filesystem cannot link (another device under the root, EPERM, EMLINK) a
   * kernel copy (reflink where supported). Synced like a put.
   */
  private async copyFile(from: string, to: string): Promise<ObjectInfo> {
    const src = this.path(from);
    const dst = this.path(to);
    const st = await fsp.stat(src).catch((err: unknown) => {
      if (isMissing(err)) return null;
      throw err;
    });
    if (!st?.isFile()) throw new NotFoundError(from);
    if (src === dst) return { key: to, size: st.size, modified: st.mtime };
    const tmp = await this.tempFile();
    try {
      if (!(await this.tryLink(src, tmp))) {
        await fsp.copyFile(src, tmp, fsc.COPYFILE_EXCL | fsc.COPYFILE_FICLONE);
        if (this.fsync) {
          const fh = await fsp.open(tmp, 'r+');
          try {
            await fh.datasync();
          } finally {
            await fh.close();
          }
        }
      }
      const info = await fsp.stat(tmp);
      await this.publish(tmp, dst, this.fsync);
      return { key: to, size: info.size, modified: info.mtime };
    } catch (err) {
      await fsp.rm(tmp, { force: true }).catch(() => {});
      if (isMissing(err) && !(err instanceof NotFoundError)) {
        // The source vanished between the stat and the link or copy.
        const gone = await fsp.stat(src).then(
          () => false,
          () => true,
        );
        if (gone) throw new NotFoundError(from);
      }
      throw err;
    }
  }

  concat(to: string, sources: string[]): Promise<ObjectInfo> {
    return this.concatFiles(to, sources).catch(rethrowFull);
  }

  private async concatFiles(to: string, sources: string[]): Promise<ObjectInfo> {
    const dst = this.path(to);
    const srcs = sources.map((s) => this.path(s));
    // Every source must exist before anything is built or published.
    const stats = await mapLimit(srcs, PARALLEL, (s) =>
      fsp.stat(s).catch((err: unknown) => {
        if (isMissing(err)) return null;
        throw err;
      }),
    );
    stats.forEach((st, i) => {
      if (!st?.isFile()) throw new NotFoundError(sources[i]!);
    });
    if (srcs.length === 0) return (await this.putFile(to, new Uint8Array(0)))!;

    const tmp = await this.tempFile();
    try {
      let size: number;
      let modified: Date;
      if (srcs.length === 1 && (await this.tryLink(srcs[0]!, tmp))) {
        // One part (a monolithic upload): publish a hard link, no copy at all. The
        // source stays in place until deleteConcatSources unlinks its name. Give
        // the published object a fresh mtime (GC grace periods look at it), and
        // make the data durable (the part was likely put with durable:false).
        modified = new Date();
        const fh = await fsp.open(tmp, 'r+');
        try {
          await fh.utimes(modified, modified);
          if (this.fsync) await fh.sync();
        } finally {
          await fh.close();
        }
        size = stats[0]!.size;
      } else {
        ({ size, modified } = await this.buildConcat(tmp, srcs, sources));
      }
      await this.publish(tmp, dst, this.fsync);
      return { key: to, size, modified };
    } catch (err) {
      await fsp.rm(tmp, { force: true }).catch(() => {});
      if (isMissing(err) && !(err instanceof NotFoundError)) {
        // A source vanished while being copied.
        const gone = await mapLimit(srcs, PARALLEL, (s) =>
          fsp.stat(s).then(
            () => false,
            () => true,
          ),
        );
        const i = gone.indexOf(true);
        if (i >= 0) throw new NotFoundError(sources[i]!);
      }
      throw err;
    }
  }

  async deleteConcatSources(to: string, sources: string[]): Promise<void> {
    this.path(to);
    await mapLimit(sources, PARALLEL, (s) => this.delete(s));
  }

  /** Hard-link `src` at `tmp`; false when the filesystem can't (then the caller copies). */
  private async tryLink(src: string, tmp: string): Promise<boolean> {
    try {
      await fsp.link(src, tmp);
      return true;
    } catch (err) {
      if (isMissing(err) || isFull(err)) throw err;
      return false; // EXDEV, EPERM, ENOTSUP, EMLINK, ...
    }
  }

  /**
   * Write the concatenation of `srcs` to the new file `tmp`: the first part is
   * copied by the kernel (copy_file_range/sendfile, or a reflink where the
   * filesystem supports it), the rest are appended with two 1 MiB buffers so
   * a read and a write are always in flight together.
   */
  private async buildConcat(tmp: string, srcs: string[], keys: string[]): Promise<{ size: number; modified: Date }> {
    await fsp.copyFile(srcs[0]!, tmp, fsc.COPYFILE_EXCL | fsc.COPYFILE_FICLONE);
    const out = await fsp.open(tmp, 'r+');
    try {
      let pos = (await out.stat()).size;
      if (srcs.length > 1) {
        const bufs = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)] as const;
        for (let i = 1; i < srcs.length; i++) {
          let fh: FileHandle;
          try {
            fh = await fsp.open(srcs[i]!, 'r');
          } catch (err) {
            if (isMissing(err)) throw new NotFoundError(keys[i]!);
            throw err;
          }
          try {
            let readPos = 0;
            let cur = 0;
            let r = await fh.read(bufs[cur], 0, CHUNK, readPos);
            while (r.bytesRead > 0) {
              const n = r.bytesRead;
              readPos += n;
              const [, next] = await Promise.all([writeAll(out, bufs[cur], n, pos), fh.read(bufs[cur ^ 1]!, 0, CHUNK, readPos)]);
              pos += n;
              cur ^= 1;
              r = next;
            }
          } finally {
            await fh.close();
          }
        }
      }
      if (this.fsync) await out.datasync();
      const st = await out.stat();
      return { size: st.size, modified: st.mtime };
    } finally {
      await out.close();
    }
  }

  /**
   * rename(src, dst), creating dst's directories as needed, then (with
   * `sync`) fsync the directories whose entries changed. Retries when a concurrent delete
   * removes a just-created (empty) parent directory. `srcKey` (for move)
   * turns a vanished source into NotFoundError.
   */
  private async publish(src: string, dst: string, sync: boolean, srcKey?: string): Promise<void> {
    const parent = path.dirname(dst);
    let created: string | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        await fsp.rename(src, dst);
        break;
      } catch (err) {
        if (errno(err) !== 'ENOENT' || attempt >= 20) throw err;
        if (srcKey !== undefined) {
          const exists = await fsp.lstat(src).then(
            () => true,
            () => false,
          );
          if (!exists) throw new NotFoundError(srcKey);
        }
      }
      try {
        const made = await fsp.mkdir(parent, { recursive: true });
        if (made !== undefined && (created === undefined || made.length < created.length)) created = made;
      } catch (err) {
        // ENOENT, or ENOTDIR from Node's recursive mkdir when a racing prune
        // removes a directory between its mkdir and its check: go round again.
        if (!isMissing(err)) throw err;
      }
    }
    this.dirCache.delete(parent);
    if (!sync) return;
    // The new entry in `parent`, and each directory entry mkdir created.
    // mkdir created `created` .. `parent`; each of those is a new entry in its parent.
    const dirs = [parent];
    if (created !== undefined) {
      const top = path.dirname(created);
      for (let d = parent; d !== top && d.length > this.root.length; ) {
        d = path.dirname(d);
        dirs.push(d);
      }
    }
    // The rename is done. A directory gone by now was emptied by another
    // writer (a replica that moved the object on, and removed the directories
    // it left empty): nothing of ours is left in it to make durable.
    await Promise.all(dirs.map((d) => this.syncDirIfThere(d)));
  }

  private async syncDirIfThere(dir: string): Promise<void> {
    await this.syncDir(dir).catch((err: unknown) => {
      if (!isMissing(err)) throw err;
    });
  }

  /** fsync a directory, shared with concurrent callers (fs-group-sync.ts). */
  private syncDir(dir: string): Promise<void> {
    return this.dirSyncs.sync(dir);
  }

  private readonly countWriteback = (): void => {
    this.writebacks++;
  };

  /** Work counted for tests and profiles: directory fsyncs, early writebacks and tail writebacks (of appends) started. */
  get counters(): { dirSyncs: number; writebacks: number; tailWritebacks: number } {
    return { dirSyncs: this.dirFsyncs, writebacks: this.writebacks, tailWritebacks: this.tailWritebacks };
  }

  private async syncDirNow(dir: string): Promise<void> {
    this.dirFsyncs++;
    const fh = await fsp.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  /** Remove empty directories from `dir` up to (not including) the root; stops at the first non-empty one. */
  private async pruneDirs(dir: string): Promise<void> {
    while (dir.length > this.root.length && dir.startsWith(this.root + '/')) {
      try {
        await fsp.rmdir(dir);
      } catch {
        return; // ENOTEMPTY, or a concurrent prune/put got there first
      }
      this.dirCache.delete(dir);
      dir = path.dirname(dir);
    }
  }

  // ---- listing ----

  async list(options: ListOptions): Promise<ListPage> {
    const prefix = options.prefix ?? '';
    checkPrefix(prefix);
    const limit = listLimit(options.limit);
    const { delimiter, startAfter } = options;
    const cut = prefix.lastIndexOf('/') + 1;
    const dirKey = prefix.slice(0, cut);
    const namePart = prefix.slice(cut);
    if (dirKey === TMP_DIR + '/' || dirKey.startsWith(TMP_DIR + '/')) return { entries: [] };

    // Up to limit+1 candidates: the extra one only tells whether more follow.
    const found: ListEntry[] = [];
    if (delimiter === '/') {
      // One directory holds exactly one level.
      const entries = await this.readDirSorted(dirKey);
      let i = this.firstIndex(entries, dirKey, namePart, startAfter, false);
      for (; i < entries.length && found.length <= limit; i++) {
        const e = entries[i]!;
        if (!e.sortKey.startsWith(namePart)) break;
        found.push({ key: dirKey + e.sortKey, prefix: e.dir });
      }
    } else {
      // Recursive walk in key order; group by any other delimiter on the fly.
      let lastGroup: string | undefined;
      for await (const key of this.walk(dirKey, namePart, startAfter)) {
        if (delimiter) {
          const j = key.indexOf(delimiter, prefix.length);
          if (j >= 0) {
            const group = key.slice(0, j + delimiter.length);
            if (group !== lastGroup && (startAfter === undefined || compareKeys(group, startAfter) > 0)) {
              found.push({ key: group, prefix: true });
            }
            lastGroup = group;
            if (found.length > limit) break;
            continue;
          }
        }
        found.push({ key, prefix: false });
        if (found.length > limit) break;
      }
    }

    const truncated = found.length > limit;
    if (truncated) found.length = limit;
    // Sizes and times of the objects on this page (dropping any deleted meanwhile).
    const entries = (
      await mapLimit(found, PARALLEL, async (e): Promise<ListEntry | null> => {
        if (e.prefix) return e;
        try {
          const st = await fsp.stat(this.root + '/' + e.key);
          return st.isFile() ? { key: e.key, prefix: false, size: st.size, modified: st.mtime } : null;
        } catch (err) {
          if (isMissing(err)) return null;
          throw err;
        }
      })
    ).filter((e): e is ListEntry => e !== null);
    return truncated ? { entries, next: found[limit - 1]!.key } : { entries };
  }

  /**
   * Index of the first entry of a sorted directory listing (keys `dirKey` +
   * sortKey) that starts with `namePart` and sorts after `startAfter`. With
   * `descend`, a directory whose key is a prefix of `startAfter` counts too
   * (it may hold keys after the marker).
   */
  private firstIndex(entries: DirEntry[], dirKey: string, namePart: string, startAfter: string | undefined, descend: boolean): number {
    const bound = (target: string, strict: boolean): number => {
      let lo = 0;
      let hi = entries.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const c = compareKeys(dirKey + entries[mid]!.sortKey, target);
        if (c < 0 || (strict && c === 0)) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    let i = bound(dirKey + namePart, false);
    if (startAfter !== undefined) {
      let j = bound(startAfter, true);
      if (descend && j > 0) {
        const prev = entries[j - 1]!;
        if (prev.dir && startAfter.startsWith(dirKey + prev.sortKey)) j--;
      }
      if (j > i) i = j;
    }
    return i;
  }

  /** Object keys under dirKey (names starting with namePart), after startAfter, in key order. */
  private async *walk(dirKey: string, namePart: string, startAfter: string | undefined): AsyncGenerator<string> {
    const entries = await this.readDirSorted(dirKey);
    for (let i = this.firstIndex(entries, dirKey, namePart, startAfter, true); i < entries.length; i++) {
      const e = entries[i]!;
      if (!e.sortKey.startsWith(namePart)) break;
      const key = dirKey + e.sortKey;
      if (e.dir) yield* this.walk(key, '', startAfter);
      else if (startAfter === undefined || compareKeys(key, startAfter) > 0) yield key;
    }
  }

  /**
   * The directory's files and subdirectories, sorted so that their keys are
   * in UTF-8 byte order (a subdirectory sorts as "name/"). Missing → [].
   * Large directories keep a snapshot for paging, reused while the
   * directory's inode and mtime are unchanged; a snapshot is taken only of a
   * directory that was already quiet before the read began, so a later change
   * always moves the mtime past the cached one despite coarse timestamps.
   */
  private async readDirSorted(dirKey: string): Promise<DirEntry[]> {
    const dir = dirKey === '' ? this.root : this.root + '/' + dirKey.slice(0, -1);
    let st: import('node:fs').BigIntStats;
    try {
      st = await fsp.stat(dir, { bigint: true });
    } catch (err) {
      if (isMissing(err)) return [];
      throw err;
    }
    if (!st.isDirectory()) return [];
    const cached = this.dirCache.get(dir);
    if (cached && cached.ino === st.ino && cached.mtimeNs === st.mtimeNs) {
      this.dirCache.delete(dir); // LRU: move to the end
      this.dirCache.set(dir, cached);
      return cached.entries;
    }
    const startNs = BigInt(Date.now()) * 1_000_000n;
    let dirents: import('node:fs').Dirent[];
    try {
      dirents = await fsp.readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return [];
      throw err;
    }
    const entries: DirEntry[] = [];
    for (const d of dirents) {
      if (dirKey === '' && d.name === TMP_DIR) continue;
      if (d.isDirectory()) entries.push({ sortKey: d.name + '/', dir: true });
      else if (d.isFile()) entries.push({ sortKey: d.name, dir: false });
    }
    entries.sort((a, b) => compareKeys(a.sortKey, b.sortKey));
    if (entries.length > DIR_CACHE_MIN_ENTRIES && st.mtimeNs + DIR_CACHE_QUIET_NS < startNs) {
      this.dirCache.set(dir, { ino: st.ino, mtimeNs: st.mtimeNs, entries });
      if (this.dirCache.size > DIR_CACHE_MAX_DIRS) this.dirCache.delete(this.dirCache.keys().next().value!);
    }
    return entries;
  }
}
