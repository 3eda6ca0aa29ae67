// SHA-512 (FIPS 180-4) in plain TypeScript, without BigInt: every 64-bit word
// is a (hi, lo) pair of int32s. Additions sum the low halves as unsigned
// doubles (exact: at most 5 × 2^32 < 2^53) and carry (sum / 2^32) into the
// high half. Whole blocks are read straight from the input (no copy).
// State export/restore: see state.ts for the versioned format.
import type { HashAlgorithm } from './hash.js';
import { TsHash } from './ts-base.js';

// K[2i] = high 32 bits, K[2i+1] = low 32 bits.
// biome-ignore format: the constants in rows, as the standard prints them
const K = new Int32Array([
  0x428a2f98, 0xd728ae22, 0x71374491, 0x23ef65cd, 0xb5c0fbcf, 0xec4d3b2f, 0xe9b5dba5, 0x8189dbbc,
  0x3956c25b, 0xf348b538, 0x59f111f1, 0xb605d019, 0x923f82a4, 0xaf194f9b, 0xab1c5ed5, 0xda6d8118,
  0xd807aa98, 0xa3030242, 0x12835b01, 0x45706fbe, 0x243185be, 0x4ee4b28c, 0x550c7dc3, 0xd5ffb4e2,
  0x72be5d74, 0xf27b896f, 0x80deb1fe, 0x3b1696b1, 0x9bdc06a7, 0x25c71235, 0xc19bf174, 0xcf692694,
  0xe49b69c1, 0x9ef14ad2, 0xefbe4786, 0x384f25e3, 0x0fc19dc6, 0x8b8cd5b5, 0x240ca1cc, 0x77ac9c65,
  0x2de92c6f, 0x592b0275, 0x4a7484aa, 0x6ea6e483, 0x5cb0a9dc, 0xbd41fbd4, 0x76f988da, 0x831153b5,
  0x983e5152, 0xee66dfab, 0xa831c66d, 0x2db43210, 0xb00327c8, 0x98fb213f, 0xbf597fc7, 0xbeef0ee4,
  0xc6e00bf3, 0x3da88fc2, 0xd5a79147, 0x930aa725, 0x06ca6351, 0xe003826f, 0x14292967, 0x0a0e6e70,
  0x27b70a85, 0x46d22ffc, 0x2e1b2138, 0x5c26c926, 0x4d2c6dfc, 0x5ac42aed, 0x53380d13, 0x9d95b3df,
  0x650a7354, 0x8baf63de, 0x766a0abb, 0x3c77b2a8, 0x81c2c92e, 0x47edaee6, 0x92722c85, 0x1482353b,
  0xa2bfe8a1, 0x4cf10364, 0xa81a664b, 0xbc423001, 0xc24b8b70, 0xd0f89791, 0xc76c51a3, 0x0654be30,
  0xd192e819, 0xd6ef5218, 0xd6990624, 0x5565a910, 0xf40e3585, 0x5771202a, 0x106aa070, 0x32bbd1b8,
  0x19a4c116, 0xb8d2d0c8, 0x1e376c08, 0x5141ab53, 0x2748774c, 0xdf8eeb99, 0x34b0bcb5, 0xe19b48a8,
  0x391c0cb3, 0xc5c95a63, 0x4ed8aa4a, 0xe3418acb, 0x5b9cca4f, 0x7763e373, 0x682e6ff3, 0xd6b2b8a3,
  0x748f82ee, 0x5defb2fc, 0x78a5636f, 0x43172f60, 0x84c87814, 0xa1f0ab72, 0x8cc70208, 0x1a6439ec,
  0x90befffa, 0x23631e28, 0xa4506ceb, 0xde82bde9, 0xbef9a3f7, 0xb2c67915, 0xc67178f2, 0xe372532b,
  0xca273ece, 0xea26619c, 0xd186b8c7, 0x21c0c207, 0xeada7dd6, 0xcde0eb1e, 0xf57d4f7f, 0xee6ed178,
  0x06f067aa, 0x72176fba, 0x0a637dc5, 0xa2c898a6, 0x113f9804, 0xbef90dae, 0x1b710b35, 0x131c471b,
  0x28db77f5, 0x23047d84, 0x32caab7b, 0x40c72493, 0x3c9ebe0a, 0x15c9bebc, 0x431d67c4, 0x9c100d4c,
  0x4cc5d4be, 0xcb3e42b6, 0x597f299c, 0xfc657e2a, 0x5fcb6fab, 0x3ad6faec, 0x6c44198c, 0x4a475817,
]);

/** Initial H as big-endian int32 words (exported for the native engine's fresh state). */
// biome-ignore format: the constants in rows, as the standard prints them
export const SHA512_IV: Int32Array = new Int32Array([
  0x6a09e667, 0xf3bcc908, 0xbb67ae85, 0x84caa73b, 0x3c6ef372, 0xfe94f82b, 0xa54ff53a, 0x5f1d36f1,
  0x510e527f, 0xade682d1, 0x9b05688c, 0x2b3e6c1f, 0x1f83d9ab, 0xfb41bd6b, 0x5be0cd19, 0x137e2179,
]);

const TWO32 = 4294967296;

// Message schedule scratch (80 words as hi/lo pairs), shared: compress() is synchronous.
const W = new Int32Array(160);

// biome-ignore format: the rounds keep the standard's grouping of words per line
function compress(H: Int32Array, dv: DataView, off: number, end: number): void {
  let ah = H[0]! | 0, al = H[1]! | 0, bh = H[2]! | 0, bl = H[3]! | 0;
  let ch = H[4]! | 0, cl = H[5]! | 0, dh = H[6]! | 0, dl = H[7]! | 0;
  let eh = H[8]! | 0, el = H[9]! | 0, fh = H[10]! | 0, fl = H[11]! | 0;
  let gh = H[12]! | 0, gl = H[13]! | 0, hh = H[14]! | 0, hl = H[15]! | 0;
  for (; off < end; off += 128) {
    for (let i = 0; i < 32; i++) W[i] = dv.getInt32(off + 4 * i);
    for (let i = 32; i < 160; i += 2) {
      // sigma0(W[t-15]) = rotr1 ^ rotr8 ^ shr7
      const xh = W[i - 30]!, xl = W[i - 29]!;
      const s0h = ((xh >>> 1) | (xl << 31)) ^ ((xh >>> 8) | (xl << 24)) ^ (xh >>> 7);
      const s0l = ((xl >>> 1) | (xh << 31)) ^ ((xl >>> 8) | (xh << 24)) ^ ((xl >>> 7) | (xh << 25));
      // sigma1(W[t-2]) = rotr19 ^ rotr61 ^ shr6
      const yh = W[i - 4]!, yl = W[i - 3]!;
      const s1h = ((yh >>> 19) | (yl << 13)) ^ ((yl >>> 29) | (yh << 3)) ^ (yh >>> 6);
      const s1l = ((yl >>> 19) | (yh << 13)) ^ ((yh >>> 29) | (yl << 3)) ^ ((yl >>> 6) | (yh << 26));
      // W[t] = sigma1 + W[t-7] + sigma0 + W[t-16]
      const lo = (s0l >>> 0) + (s1l >>> 0) + (W[i - 13]! >>> 0) + (W[i - 31]! >>> 0);
      W[i] = (s0h + s1h + W[i - 14]! + W[i - 32]! + ((lo / TWO32) | 0)) | 0;
      W[i + 1] = lo | 0;
    }
    const oah = ah, oal = al, obh = bh, obl = bl, och = ch, ocl = cl, odh = dh, odl = dl;
    const oeh = eh, oel = el, ofh = fh, ofl = fl, ogh = gh, ogl = gl, ohh = hh, ohl = hl;
    for (let i = 0; i < 160; i += 2) {
      // T1 = h + Sigma1(e) + Ch(e, f, g) + K[t] + W[t];  Sigma1 = rotr14 ^ rotr18 ^ rotr41
      const S1h = ((eh >>> 14) | (el << 18)) ^ ((eh >>> 18) | (el << 14)) ^ ((el >>> 9) | (eh << 23));
      const S1l = ((el >>> 14) | (eh << 18)) ^ ((el >>> 18) | (eh << 14)) ^ ((eh >>> 9) | (el << 23));
      const chh = (eh & fh) ^ (~eh & gh);
      const chl = (el & fl) ^ (~el & gl);
      const t1s = (hl >>> 0) + (S1l >>> 0) + (chl >>> 0) + (K[i + 1]! >>> 0) + (W[i + 1]! >>> 0);
      const t1h = (hh + S1h + chh + K[i]! + W[i]! + ((t1s / TWO32) | 0)) | 0;
      const t1l = t1s | 0;
      // T2 = Sigma0(a) + Maj(a, b, c);  Sigma0 = rotr28 ^ rotr34 ^ rotr39
      const S0h = ((ah >>> 28) | (al << 4)) ^ ((al >>> 2) | (ah << 30)) ^ ((al >>> 7) | (ah << 25));
      const S0l = ((al >>> 28) | (ah << 4)) ^ ((ah >>> 2) | (al << 30)) ^ ((ah >>> 7) | (al << 25));
      const mjh = (ah & bh) ^ (ah & ch) ^ (bh & ch);
      const mjl = (al & bl) ^ (al & cl) ^ (bl & cl);
      const t2s = (S0l >>> 0) + (mjl >>> 0);
      const t2h = (S0h + mjh + ((t2s / TWO32) | 0)) | 0;
      const t2l = t2s | 0;
      hh = gh; hl = gl;
      gh = fh; gl = fl;
      fh = eh; fl = el;
      const es = (dl >>> 0) + (t1l >>> 0);
      eh = (dh + t1h + ((es / TWO32) | 0)) | 0;
      el = es | 0;
      dh = ch; dl = cl;
      ch = bh; cl = bl;
      bh = ah; bl = al;
      const as = (t1l >>> 0) + (t2l >>> 0);
      ah = (t1h + t2h + ((as / TWO32) | 0)) | 0;
      al = as | 0;
    }
    let s: number;
    s = (oal >>> 0) + (al >>> 0); ah = (oah + ah + ((s / TWO32) | 0)) | 0; al = s | 0;
    s = (obl >>> 0) + (bl >>> 0); bh = (obh + bh + ((s / TWO32) | 0)) | 0; bl = s | 0;
    s = (ocl >>> 0) + (cl >>> 0); ch = (och + ch + ((s / TWO32) | 0)) | 0; cl = s | 0;
    s = (odl >>> 0) + (dl >>> 0); dh = (odh + dh + ((s / TWO32) | 0)) | 0; dl = s | 0;
    s = (oel >>> 0) + (el >>> 0); eh = (oeh + eh + ((s / TWO32) | 0)) | 0; el = s | 0;
    s = (ofl >>> 0) + (fl >>> 0); fh = (ofh + fh + ((s / TWO32) | 0)) | 0; fl = s | 0;
    s = (ogl >>> 0) + (gl >>> 0); gh = (ogh + gh + ((s / TWO32) | 0)) | 0; gl = s | 0;
    s = (ohl >>> 0) + (hl >>> 0); hh = (ohh + hh + ((s / TWO32) | 0)) | 0; hl = s | 0;
  }
  H[0] = ah; H[1] = al; H[2] = bh; H[3] = bl;
  H[4] = ch; H[5] = cl; H[6] = dh; H[7] = dl;
  H[8] = eh; H[9] = el; H[10] = fh; H[11] = fl;
  H[12] = gh; H[13] = gl; H[14] = hh; H[15] = hl;
}

export class Sha512Ts extends TsHash {
  readonly algorithm: HashAlgorithm = 'sha512';

  /** A fresh hash, or one resuming from raw state already validated by decodeState(). */
  constructor(raw?: Uint8Array, total?: number) {
    super('sha512', compress, SHA512_IV, raw, total);
  }
}
