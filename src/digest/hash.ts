// Resumable hashing: a hash whose internal state can be exported after any
// chunk and restored later, in another process, to continue. Node's crypto
// cannot export state, so Wharf brings its own (native addon or TypeScript).
export type HashAlgorithm = 'sha256' | 'sha512';

export const HASH_ALGORITHMS: readonly HashAlgorithm[] = ['sha256', 'sha512'];

export interface ResumableHash {
  readonly algorithm: HashAlgorithm;
  /** Total bytes fed so far (including bytes fed before an export/restore). */
  readonly length: number;
  /** Feed bytes. */
  update(data: Uint8Array): this;
  /**
   * Feed bytes without stalling the event loop (native: libuv threadpool;
   * TypeScript: ~1 MiB slices with setImmediate between). Until the promise
   * settles the hash is busy (any other call throws) and `data` must not be
   * modified. An array is hashed in order as if concatenated (a batch of
   * socket chunks needs no copy); the array must not change either.
   */
  updateAsync?(data: Uint8Array | readonly Uint8Array[]): Promise<void>;
  /** Versioned, self-describing state as a string (safe to store in JSON). */
  exportState(): string;
  /** Lower-case hex digest of everything fed. The hash must not be used afterwards. */
  digestHex(): string;
}
