// Loader and wrapper for the native addon (native/, built by
// scripts/build-native.mjs during `npm install`). loadNative() returns null
// when the addon is absent, fails to load, or fails its self-test; the
// TypeScript engine then serves. The addon keeps each hash's live state in a
// small Buffer laid out exactly like the raw exported state (see state.ts),
// so one update is one JS→C call and an export is a copy of a prefix.
import { createHash as nodeCreateHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HashAlgorithm, ResumableHash } from './hash.js';
import { SHA256_IV } from './sha256-ts.js';
import { SHA512_IV } from './sha512-ts.js';
import { decodeState, encodeState, layoutOf, type Layout } from './state.js';
import { checkData } from './ts-base.js';

/** The addon's exports (native/src/sha.c). */
export interface NativeAddon {
  /** The CPU has SHA-NI and the addon was compiled with it. */
  readonly shaNiAvailable: boolean;
  /** Use SHA-NI for SHA-256 when available (default on); returns whether it is now in use. */
  setShaNi(on: boolean): boolean;
  /** Feed data into a state buffer (104 bytes: sha256, 208 bytes: sha512). */
  update(state: Uint8Array, data: Uint8Array): void;
  /** Same, on the libuv threadpool. Neither buffer may be touched until it settles. */
  /** `data`: one buffer, or an array of them hashed in order in one threadpool job. */
  updateAsync(state: Uint8Array, data: Uint8Array | readonly Uint8Array[]): Promise<void>;
  /** Digest of a state buffer (the buffer is left unchanged). */
  digest(state: Uint8Array): Buffer;
}

export const ADDON_FILE = join('native', 'build', 'Release', 'wharf_sha.node');

/** Below this size updateAsync hashes synchronously: a threadpool trip costs more. */
export const NATIVE_ASYNC_MIN = 64 * 1024;

let loaded: NativeAddon | null | undefined;
let loadError: string | null = null;

/** Why the addon is not in use (null when it is, or before loadNative() ran). */
export function nativeLoadError(): string | null {
  return loadError;
}

/** Path of the built hash addon (see findBuiltAddon). */
export function addonPath(): string | null {
  return findBuiltAddon(ADDON_FILE);
}

/** Path of a built addon file: searched upwards from this module (src/ or dist/src/). */
export function findBuiltAddon(file: string): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, file);
    if (existsSync(p)) return p;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return null;
}

/** Load the addon once; null if it is not usable (see nativeLoadError()). */
export function loadNative(): NativeAddon | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  const path = addonPath();
  if (path === null) {
    loadError = `native addon not built (${ADDON_FILE} not found)`;
    return null;
  }
  let addon: NativeAddon;
  try {
    addon = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (err) {
    loadError = `native addon failed to load: ${(err as Error).message}`;
    return null;
  }
  // Self-test against node:crypto (partial blocks, whole blocks, odd
  // splits) before trusting it with uploads.
  try {
    const data = Buffer.alloc(1000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 7) & 0xff;
    for (const alg of ['sha256', 'sha512'] as const) {
      const s = freshState(alg);
      addon.update(s, data.subarray(0, 3));
      addon.update(s, data.subarray(3, 300));
      addon.update(s, data.subarray(300));
      if (addon.digest(s).toString('hex') !== nodeCreateHash(alg).update(data).digest('hex')) {
        loadError = `native addon failed its ${alg} self-test`;
        return null;
      }
    }
  } catch (err) {
    loadError = `native addon failed its self-test: ${(err as Error).message}`;
    return null;
  }
  loaded = addon;
  loadError = null;
  return addon;
}

function freshState(alg: HashAlgorithm): Buffer {
  const l = layoutOf(alg);
  const iv = alg === 'sha256' ? SHA256_IV : SHA512_IV;
  const s = Buffer.alloc(l.full);
  for (let i = 0; i < iv.length; i++) s.writeInt32BE(iv[i]!, i * 4);
  return s;
}

export class NativeHash implements ResumableHash {
  readonly algorithm: HashAlgorithm;
  readonly #addon: NativeAddon;
  readonly #layout: Layout;
  readonly #state: Buffer;
  #busy = false;
  #done = false;
  #broken = false;

  constructor(addon: NativeAddon, alg: HashAlgorithm, raw?: Uint8Array, total?: number) {
    this.#addon = addon;
    this.algorithm = alg;
    this.#layout = layoutOf(alg);
    if (raw !== undefined && total !== undefined) {
      // raw was validated by decodeState: its total field says `total`.
      this.#state = Buffer.alloc(this.#layout.full);
      this.#state.set(raw);
    } else {
      this.#state = freshState(alg);
    }
  }

  /** Read from the state buffer itself (the C side keeps it), so it can never disagree with the state. */
  get length(): number {
    const end = this.#layout.header;
    return this.#state.readUInt32BE(end - 8) * 4294967296 + this.#state.readUInt32BE(end - 4);
  }

  #check(): void {
    if (this.#done) throw new Error(`${this.algorithm} hash used after digestHex()`);
    if (this.#broken) throw new Error(`${this.algorithm} hash state lost: an updateAsync() failed`);
    if (this.#busy) throw new Error(`${this.algorithm} hash is busy: an updateAsync() is in progress`);
  }

  update(data: Uint8Array): this {
    this.#check();
    checkData(data);
    this.#addon.update(this.#state, data);
    return this;
  }

  async updateAsync(data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    this.#check();
    let size: number;
    if (data instanceof Uint8Array) {
      checkData(data);
      size = data.length;
    } else {
      data = [...data]; // the addon holds this copy of the list until the job is done
      size = 0;
      for (const piece of data) {
        checkData(piece);
        size += piece.length;
      }
    }
    if (size < NATIVE_ASYNC_MIN) {
      if (data instanceof Uint8Array) this.#addon.update(this.#state, data);
      else for (const piece of data) this.#addon.update(this.#state, piece);
      return;
    }
    this.#busy = true;
    try {
      await this.#addon.updateAsync(this.#state, data);
    } catch (err) {
      this.#broken = true; // the work may or may not have run: the state is unknown
      throw err;
    } finally {
      this.#busy = false;
    }
  }

  exportState(): string {
    this.#check();
    const l = this.#layout;
    return encodeState(this.algorithm, this.#state.subarray(0, l.header + (this.length % l.block)));
  }

  digestHex(): string {
    this.#check();
    this.#done = true;
    return this.#addon.digest(this.#state).toString('hex');
  }
}

export function createNativeHash(addon: NativeAddon, alg: HashAlgorithm): NativeHash {
  return new NativeHash(addon, alg);
}

export function restoreNativeHash(addon: NativeAddon, alg: HashAlgorithm, state: string): NativeHash {
  const { raw, total } = decodeState(alg, state);
  return new NativeHash(addon, alg, raw, total);
}
