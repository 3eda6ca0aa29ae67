// The storage-driver contract: a tiny object-store API. Everything Wharf keeps
// lives behind it, and the registry layer never knows which backend it talks to.
// Keys are '/'-separated strings without a leading '/', e.g. "default/blobs/sha256/ab/…/data".
//
// Every driver must pass the shared suite in test/unit/driver-suite.ts.
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';

/** One entry of a listing: an object, or (with a delimiter) a common prefix. */
export interface ListEntry {
  /** Full key of the object, or the common prefix ending with the delimiter. */
  key: string;
  /** True when this entry is a common prefix (a "directory"), not an object. */
  prefix: boolean;
  /** Object size in bytes (objects only). */
  size?: number;
  /** Last-modified time (objects only). */
  modified?: Date;
}

export interface ListOptions {
  /** Only keys starting with this string. */
  prefix: string;
  /** Group keys by the next occurrence of this string after the prefix (usually '/'). */
  delimiter?: string;
  /** Return only entries whose key sorts strictly after this marker. */
  startAfter?: string;
  /** At most this many entries (default and maximum: 1000). */
  limit?: number;
}

export interface ListPage {
  /** Objects and common prefixes together, sorted by key (UTF-8 byte order). */
  entries: ListEntry[];
  /** Set when more entries may follow: pass it as `startAfter` to get the next page. */
  next?: string;
}

export interface PutOptions {
  /**
   * false: the object need not reach stable storage before put resolves
   * (it must still be atomic and survive a crash of the process, just not a
   * power loss). Used for upload chunks and records, which are made durable
   * once, when the blob is published by concat. Object stores ignore it.
   * Default true.
   */
  durable?: boolean;
}

export interface ObjectInfo {
  key: string;
  size: number;
  modified: Date;
}

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive; omitted means to the end. */
  end?: number;
}

export interface StorageDriver {
  /** Short backend name for logs: "filesystem", "memory", "swift", "s3". */
  readonly name: string;

  /** One level of keys under a prefix, sorted, paged by a start-after marker. */
  list(options: ListOptions): Promise<ListPage>;

  /** Size and time of an object, or null when it does not exist. */
  stat(key: string): Promise<ObjectInfo | null>;

  /**
   * Store an object from bytes or a stream. Atomic: readers see the old object
   * (or none) until the new one is complete; a failed or aborted put leaves
   * nothing at `key`. Returns the stored size.
   */
  put(key: string, body: Uint8Array | Readable, options?: PutOptions): Promise<ObjectInfo>;

  /**
   * Optional (filesystem): a durable put that calls `check` once the bytes
   * are stored privately, before anything appears at `key`; `check` false (or
   * a throw) publishes nothing and leaves nothing behind, and gives null.
   * Lets an upload whose digest is known only after its last byte go
   * straight to its blob key (src/registry/uploads.ts).
   */
  putChecked?(key: string, body: Readable, check: (info: ObjectInfo) => Promise<boolean>): Promise<ObjectInfo | null>;

  /**
   * Set when writes with `durable: false` and `append`s can be lost to a
   * power loss on this host while the record naming them survives (the
   * filesystem with fsync): an id of the host's current boot. Bytes an upload
   * stored under another boot, or on another host, are read back and hashed
   * again before they are published (src/registry/uploads.ts). Unset when
   * every acknowledged write is durable (object stores) or nothing survives
   * a restart (memory).
   */
  readonly volatileEpoch?: string;

  /** Whole object as bytes (for small metadata objects), or null when missing. */
  get(key: string): Promise<Buffer | null>;

  /**
   * Stream an object, optionally a byte range of it. Rejects with
   * NotFoundError when missing, RangeNotSatisfiableError for a range outside
   * the object.
   */
  read(key: string, range?: ByteRange): Promise<Readable>;

  /**
   * Optional, filesystem only: an open read-only handle on the object's file,
   * pinning this version of it (a later overwrite or delete does not change
   * what it reads); the caller closes it. Rejects with NotFoundError when
   * missing. Lets the HTTP layer send a blob with sendfile(2).
   */
  openFile?(key: string): Promise<FileHandle>;

  /**
   * Optional, for upload data only: write `body` into `key` from byte
   * `offset`, first cutting the object to `offset` bytes (so a failed or
   * repeated append leaves no stray tail); offset 0 creates or empties it.
   * Not atomic and not durable (concat publishes durably). Rejects with
   * NotFoundError when offset > 0 and the object is missing or shorter.
   * Backends that can append cheaply (filesystem) offer it so that finishing
   * a chunked upload needs no copy; the others store one object per chunk.
   * A driver that offers append must also make `move` an atomic rename that
   * fails with NotFoundError when `from` is gone, even between processes:
   * the upload logic gives each request sole ownership of an upload's file
   * by moving it to a name of its own (src/registry/upload-claim.ts).
   */
  append?(key: string, offset: number, body: Readable): Promise<ObjectInfo>;

  /** Delete an object; resolves to false when it did not exist. */
  delete(key: string): Promise<boolean>;

  /**
   * Rename an object (replacing `to`). Rejects with NotFoundError when `from`
   * is missing. `durable: false` as for put (upload data only).
   */
  move(from: string, to: string, options?: PutOptions): Promise<void>;

  /**
   * Optional: a copy of the object `from` at `to` (replacing `to`), made by the
   * backend without the bytes passing through this process where it can:
   * filesystem a hard link (one inode: `to` shares `from`'s data and times;
   * a copy where links are impossible), S3 CopyObject (UploadPartCopy above
   * 5 GiB), Swift a server-side COPY (an SLO's segments are copied segment by
   * segment on the server: `delete` of an SLO removes its segments, so two
   * objects must never share them), memory by reference. Atomic like put;
   * `from` stays. Rejects with NotFoundError when `from` is missing. Callers
   * go through copyObject (copy.ts), which falls back to read + put.
   */
  copy?(from: string, to: string): Promise<ObjectInfo>;

  /**
   * Publish the concatenation of `sources` (in order) at `to`, atomically and
   * durably (even when the sources were put with `durable: false`). The
   * sources stay in place (the caller deletes them when it is done; some
   * backends, e.g. Swift SLO, keep referring to them until then — callers must
   * delete sources only via `deleteConcatSources`). Rejects with NotFoundError
   * when a source is missing.
   */
  concat(to: string, sources: string[]): Promise<ObjectInfo>;

  /**
   * Remove the sources of a finished concat. Backends that keep the
   * published object pointing at its parts (Swift SLO) keep what they need.
   */
  deleteConcatSources(to: string, sources: string[]): Promise<void>;

  /**
   * True when an object published by `concat` keeps using the stored data of
   * its sources until `deleteConcatSources` runs (Swift: the SLO shares the
   * sources' segments), so a plain `delete` of a source could destroy data
   * the published object needs. Cleanup of leftover sources (prune of a
   * crashed upload) then goes through `deleteConcatSources`. Unset: false.
   */
  readonly concatKeepsSources?: boolean;

  /** A time-limited URL a client may GET the object from directly, or null when not supported/configured. */
  presignGet?(key: string, expiresSeconds: number): Promise<string | null>;

  /** Release sockets/handles. */
  close?(): Promise<void>;
}

export const MAX_LIST_LIMIT = 1000;
