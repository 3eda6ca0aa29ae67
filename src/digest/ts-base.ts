// Shared machinery of the TypeScript engines: buffering of partial blocks,
// length accounting, padding, state export, the busy/finished guards and the
// sliced async update. The algorithm files supply only the compression
// function and the initial H.
//
// H is kept as an Int32Array of big-endian 32-bit words: 8 for SHA-256 and
// 16 (hi, lo pairs) for SHA-512, so its big-endian bytes are H as the state
// format and the digest want them in both cases.
import type { HashAlgorithm, ResumableHash } from './hash.js';
import { encodeState, layoutOf, writeTotal, type Layout } from './state.js';

/** Compress the whole blocks in dv[off, end) into H. end - off is a multiple of the block size. */
export type CompressFn = (H: Int32Array, dv: DataView, off: number, end: number) => void;

/** Bytes hashed between event-loop turns by the TypeScript updateAsync. */
export const TS_ASYNC_SLICE = 1 << 20;

const TWO29 = 0x20000000;

export function checkData(data: unknown): asserts data is Uint8Array {
  if (!(data instanceof Uint8Array)) {
    throw new TypeError('hash update expects a Uint8Array (or Buffer)');
  }
}

export abstract class TsHash implements ResumableHash {
  abstract readonly algorithm: HashAlgorithm;
  protected readonly H: Int32Array;
  #buf: Uint8Array;
  #bufView: DataView;
  #bufLen = 0;
  #total = 0;
  #busy = false;
  #done = false;
  readonly #layout: Layout;
  readonly #compress: CompressFn;

  protected constructor(alg: HashAlgorithm, compress: CompressFn, iv: Int32Array, raw?: Uint8Array, total?: number) {
    this.#layout = layoutOf(alg);
    this.#compress = compress;
    this.#buf = new Uint8Array(this.#layout.block);
    this.#bufView = new DataView(this.#buf.buffer);
    this.H = new Int32Array(iv);
    if (raw !== undefined && total !== undefined) {
      // raw has been validated by decodeState (sizes and total/pending agree).
      const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      for (let i = 0; i < this.H.length; i++) this.H[i] = dv.getInt32(i * 4);
      this.#bufLen = raw.length - this.#layout.header;
      this.#buf.set(raw.subarray(this.#layout.header));
      this.#total = total;
    }
  }

  get length(): number {
    return this.#total;
  }

  #check(): void {
    if (this.#done) throw new Error(`${this.algorithm} hash used after digestHex()`);
    if (this.#busy) throw new Error(`${this.algorithm} hash is busy: an updateAsync() is in progress`);
  }

  update(data: Uint8Array): this {
    this.#check();
    checkData(data);
    this.#feed(data);
    return this;
  }

  async updateAsync(data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    this.#check();
    const pieces = data instanceof Uint8Array ? [data] : [...data];
    let size = 0;
    for (const piece of pieces) {
      checkData(piece);
      size += piece.length;
    }
    if (size <= TS_ASYNC_SLICE) {
      for (const piece of pieces) this.#feed(piece);
      return;
    }
    this.#busy = true;
    try {
      let first = true;
      for (const piece of pieces) {
        for (let pos = 0; pos < piece.length; pos += TS_ASYNC_SLICE) {
          if (!first) await new Promise<void>((resolve) => setImmediate(resolve));
          first = false;
          this.#feed(piece.subarray(pos, pos + TS_ASYNC_SLICE));
        }
      }
    } finally {
      this.#busy = false;
    }
  }

  #feed(data: Uint8Array): void {
    const block = this.#layout.block;
    const len = data.length;
    let pos = 0;
    this.#total += len;
    if (this.#bufLen > 0) {
      const take = Math.min(block - this.#bufLen, len);
      this.#buf.set(take === len ? data : data.subarray(0, take), this.#bufLen);
      this.#bufLen += take;
      pos = take;
      if (this.#bufLen < block) return;
      this.#compress(this.H, this.#bufView, 0, block);
      this.#bufLen = 0;
    }
    const rest = len - pos;
    const whole = rest - (rest % block);
    if (whole > 0) {
      // Whole blocks straight from the caller's memory, no copy.
      this.#compress(this.H, new DataView(data.buffer, data.byteOffset + pos, whole), 0, whole);
      pos += whole;
    }
    if (pos < len) {
      this.#buf.set(data.subarray(pos), 0);
      this.#bufLen = len - pos;
    }
  }

  exportState(): string {
    this.#check();
    const l = this.#layout;
    const raw = new Uint8Array(l.header + this.#bufLen);
    const dv = new DataView(raw.buffer);
    for (let i = 0; i < this.H.length; i++) dv.setInt32(i * 4, this.H[i]!);
    writeTotal(raw, l, this.#total);
    raw.set(this.#buf.subarray(0, this.#bufLen), l.header);
    return encodeState(this.algorithm, raw);
  }

  digestHex(): string {
    this.#check();
    this.#done = true;
    const block = this.#layout.block;
    const lenBytes = this.#layout.lenBytes;
    // Padding: 0x80, zeros, then the bit length big-endian in the last lenBytes.
    const n = this.#bufLen + 1 + lenBytes <= block ? block : 2 * block;
    const pad = new Uint8Array(n);
    pad.set(this.#buf.subarray(0, this.#bufLen));
    pad[this.#bufLen] = 0x80;
    const dv = new DataView(pad.buffer);
    const total = this.#total;
    dv.setUint32(n - 8, Math.floor(total / TWO29));
    dv.setUint32(n - 4, (total % TWO29) * 8);
    this.#compress(this.H, dv, 0, n);
    const out = Buffer.allocUnsafe(this.H.length * 4);
    for (let i = 0; i < this.H.length; i++) out.writeInt32BE(this.H[i]!, i * 4);
    this.H.fill(0);
    this.#buf.fill(0);
    return out.toString('hex');
  }
}
