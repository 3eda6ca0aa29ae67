// Small statistics helpers for the benchmark.

export function median(xs: readonly number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

/** Nearest-rank percentile (p in 0..100) of unsorted samples. */
export function percentile(xs: Float64Array | readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const v = Float64Array.from(xs).sort();
  const rank = Math.min(v.length, Math.max(1, Math.ceil((p / 100) * v.length)));
  return v[rank - 1]!;
}

/** A growable list of latency samples (ms). */
export class Samples {
  private buf = new Float64Array(1 << 14);
  length = 0;
  push(x: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = x;
  }
  values(): Float64Array {
    return this.buf.subarray(0, this.length);
  }
  percentile(p: number): number {
    return percentile(this.values(), p);
  }
}

export const MB = 1e6;
export const MiB = 1 << 20;
export const GiB = 1 << 30;

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
