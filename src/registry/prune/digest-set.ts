// The mark: a compact set of digests, 8 bytes each (plus free slots), in one
// typed array — not a Set of strings (~130 bytes each). A million blobs cost
// 16 MiB at most.
//
// Only the first 64 bits of each digest are kept (mixed with the algorithm).
// Two digests sharing them make `has` answer true for the other one too: the
// only effect is that garbage is kept, never that a referenced blob goes —
// and for random digests the chance is about n²/2⁶⁵ (2⁻²⁵ for a million).

const EMPTY = 0;

/** "alg:hex" -> two 32-bit words: the first 64 bits of the hex, mixed with the algorithm (null for a malformed digest). */
function keyOf(text: string): [number, number] | null {
  const colon = text.indexOf(':');
  if (colon < 0 || text.length < colon + 17) return null;
  const hi = Number.parseInt(text.slice(colon + 1, colon + 9), 16);
  const lo = Number.parseInt(text.slice(colon + 9, colon + 17), 16);
  if (!Number.isFinite(hi) || !Number.isFinite(lo)) return null;
  let alg = 0;
  for (let i = 0; i < colon; i++) alg = (Math.imul(alg, 31) + text.charCodeAt(i)) >>> 0;
  return [(hi ^ alg) >>> 0, lo >>> 0];
}

/** Open addressing, linear probing: the slot holding (hi, lo), or the free slot where it goes. */
function slotOf(hi: number, lo: number, table: Uint32Array): number {
  const mask = table.length / 2 - 1;
  let i = (Math.imul(lo ^ (hi >>> 7), 0x9e3779b1) >>> 0) & mask;
  for (;;) {
    const h = table[2 * i]!;
    const l = table[2 * i + 1]!;
    if ((h === EMPTY && l === EMPTY) || (h === hi && l === lo)) return i;
    i = (i + 1) & mask;
  }
}

export class DigestSet {
  private table = new Uint32Array(2 * 1024);
  private count = 0;
  /** The key (0, 0) cannot mark a slot as used; it is remembered here. */
  private hasZero = false;

  get size(): number {
    return this.count + (this.hasZero ? 1 : 0);
  }

  add(text: string): void {
    const k = keyOf(text);
    if (!k) return;
    const [hi, lo] = k;
    if (hi === 0 && lo === 0) {
      this.hasZero = true;
      return;
    }
    const i = slotOf(hi, lo, this.table);
    if (this.table[2 * i] === hi && this.table[2 * i + 1] === lo) return;
    this.table[2 * i] = hi;
    this.table[2 * i + 1] = lo;
    if (++this.count * 2 > this.table.length / 2) this.grow();
  }

  has(text: string): boolean {
    const k = keyOf(text);
    if (!k) return false;
    const [hi, lo] = k;
    if (hi === 0 && lo === 0) return this.hasZero;
    const i = slotOf(hi, lo, this.table);
    return this.table[2 * i] === hi && this.table[2 * i + 1] === lo;
  }

  private grow(): void {
    const old = this.table;
    const table = new Uint32Array(old.length * 2);
    for (let j = 0; j < old.length; j += 2) {
      const hi = old[j]!;
      const lo = old[j + 1]!;
      if (hi === EMPTY && lo === EMPTY) continue;
      const i = slotOf(hi, lo, table);
      table[2 * i] = hi;
      table[2 * i + 1] = lo;
    }
    this.table = table;
  }
}

/**
 * A DigestSet with a number per digest (fsck: the stored size of every blob):
 * 16 bytes a digest plus free slots, in two typed arrays. The same 64-bit
 * truncation applies: a lookup may answer for another digest sharing the
 * first 64 bits, so callers confirm anything they act on.
 */
export class DigestMap {
  private keys = new Uint32Array(2 * 1024);
  private values = new Float64Array(1024);
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** keyOf, with (0, 0) — the free-slot mark — moved to (0, 1) (it then shares that key). */
  private static key(text: string): [number, number] | null {
    const k = keyOf(text);
    return k && k[0] === 0 && k[1] === 0 ? [0, 1] : k;
  }

  set(text: string, value: number): void {
    const k = DigestMap.key(text);
    if (!k) return;
    const [hi, lo] = k;
    const i = slotOf(hi, lo, this.keys);
    if (!(this.keys[2 * i] === hi && this.keys[2 * i + 1] === lo)) {
      this.keys[2 * i] = hi;
      this.keys[2 * i + 1] = lo;
      this.count++;
    }
    this.values[i] = value;
    if (this.count * 2 > this.keys.length / 2) this.grow();
  }

  /** The number stored for `text`, or undefined. */
  get(text: string): number | undefined {
    const k = DigestMap.key(text);
    if (!k) return undefined;
    const i = slotOf(k[0], k[1], this.keys);
    return this.keys[2 * i] === k[0] && this.keys[2 * i + 1] === k[1] ? this.values[i] : undefined;
  }

  has(text: string): boolean {
    return this.get(text) !== undefined;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    this.keys = new Uint32Array(oldKeys.length * 2);
    this.values = new Float64Array(oldValues.length * 2);
    for (let j = 0; j < oldValues.length; j++) {
      const hi = oldKeys[2 * j]!;
      const lo = oldKeys[2 * j + 1]!;
      if (hi === 0 && lo === 0) continue;
      const i = slotOf(hi, lo, this.keys);
      this.keys[2 * i] = hi;
      this.keys[2 * i + 1] = lo;
      this.values[i] = oldValues[j]!;
    }
  }
}
