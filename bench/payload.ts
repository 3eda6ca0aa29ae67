// Benchmark data: a random 1 MiB buffer repeated up to the wanted size, so
// the client generates gigabytes without cost. The digest is computed by the
// bench with node:crypto, incrementally over exactly the chunks it will send,
// before the timed part; pulls are verified byte for byte against the pattern.
import { createHash, randomBytes } from 'node:crypto';
import { MiB } from './stats.js';

export const SEED_BYTES = MiB;

export class Payload {
  readonly digest: string;

  constructor(
    readonly size: number,
    readonly seed: Buffer = randomBytes(SEED_BYTES),
    digest?: string,
  ) {
    if (digest === undefined) {
      const h = createHash('sha256');
      for (const c of this.chunks()) h.update(c);
      digest = `sha256:${h.digest('hex')}`;
    }
    this.digest = digest;
  }

  /** The bytes [start, end) in pieces of at most `max` bytes (views of the seed, no copies). */
  *chunks(start = 0, end = this.size, max = SEED_BYTES): Generator<Buffer> {
    let pos = start;
    while (pos < end) {
      const off = pos % this.seed.length;
      const n = Math.min(max, end - pos, this.seed.length - off);
      yield this.seed.subarray(off, off + n);
      pos += n;
    }
  }

  /** An async iterable body for [start, end) (what undici streams). */
  body(start = 0, end = this.size): AsyncIterable<Buffer> {
    const it = this.chunks(start, end);
    return {
      [Symbol.asyncIterator]: () => ({
        next: async () => it.next() as IteratorResult<Buffer>,
      }),
    };
  }

  /** Checks received bytes against the pattern; `done()` throws if anything differed or is missing. */
  verifier(): { update(chunk: Uint8Array): void; done(): void } {
    let pos = 0;
    let bad = -1;
    const seed = this.seed;
    return {
      update: (chunk: Uint8Array) => {
        let i = 0;
        while (i < chunk.length) {
          const off = pos % seed.length;
          const n = Math.min(chunk.length - i, seed.length - off);
          if (bad < 0 && Buffer.compare(chunk.subarray(i, i + n), seed.subarray(off, off + n)) !== 0) bad = pos;
          i += n;
          pos += n;
        }
      },
      done: () => {
        if (bad >= 0) throw new Error(`pulled content differs from what was pushed near byte ${bad}`);
        if (pos !== this.size) throw new Error(`pulled ${pos} bytes, expected ${this.size}`);
      },
    };
  }
}

/** A small blob held in memory, with its digest. */
export interface SmallBlob {
  data: Buffer;
  digest: string;
}

export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function smallBlob(data: Buffer): SmallBlob {
  return { data, digest: sha256(data) };
}

/** Random size in [min, max]. */
export function randomSize(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min + 1));
}
