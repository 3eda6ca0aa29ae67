// A pull-based view of a body stream, for drivers that cut a stream into
// parts (Swift segments, S3 multipart parts): take the next chunk, push back
// what a part did not use, fill a part of a given size, ask whether the
// body is used up.
import type { Readable } from 'node:stream';

export class ChunkSource {
  private readonly it: AsyncIterator<unknown>;
  private readonly stream: Readable;
  private pushedBack: Buffer | undefined;
  /** The stream has ended (nothing pushed back may remain, though). */
  done = false;
  /** The stream's error, once it failed (a fault of the caller's body, not of the backend). */
  error: unknown;

  constructor(stream: Readable) {
    this.stream = stream;
    this.it = stream[Symbol.asyncIterator]();
  }

  /** The next non-empty chunk, or undefined at the end. Rejects with the stream's error. */
  async next(): Promise<Buffer | undefined> {
    if (this.pushedBack) {
      const b = this.pushedBack;
      this.pushedBack = undefined;
      return b;
    }
    for (;;) {
      let r: IteratorResult<unknown>;
      try {
        r = await this.it.next();
      } catch (err) {
        this.error ??= err;
        throw err;
      }
      if (r.done) {
        this.done = true;
        return undefined;
      }
      const v = r.value;
      const b = Buffer.isBuffer(v) ? v : typeof v === 'string' ? Buffer.from(v) : Buffer.from(v as Uint8Array);
      if (b.length > 0) return b;
    }
  }

  /** Give back the unused rest of the last chunk: the next `next()` returns it. */
  unshift(b: Buffer): void {
    if (b.length > 0) this.pushedBack = b;
  }

  /** Up to `limit` bytes (starting with `first`) into one buffer. */
  async take(limit: number, first: Buffer[]): Promise<Buffer> {
    const out: Buffer[] = [];
    let n = 0;
    for (;;) {
      const chunk = first.length ? first.shift()! : await this.next();
      if (!chunk) break;
      if (n + chunk.length > limit) {
        this.unshift(chunk.subarray(limit - n));
        out.push(chunk.subarray(0, limit - n));
        n = limit;
        break;
      }
      out.push(chunk);
      n += chunk.length;
      if (n >= limit) break;
    }
    return Buffer.concat(out, n);
  }

  /** Copy the next `size` bytes (fewer at the end of the body) into one new buffer. */
  async fill(size: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(size);
    let n = 0;
    while (n < size) {
      const chunk = await this.next();
      if (!chunk) break;
      const take = Math.min(chunk.length, size - n);
      chunk.copy(buf, n, 0, take);
      n += take;
      if (take < chunk.length) this.unshift(chunk.subarray(take));
    }
    return n === size ? buf : buf.subarray(0, n);
  }

  /** Is the body used up? (Reads ahead one chunk to know, and pushes it back.) */
  async atEnd(): Promise<boolean> {
    if (this.pushedBack) return false;
    if (this.done) return true;
    const chunk = await this.next();
    if (!chunk) return true;
    this.unshift(chunk);
    return false;
  }

  close(): void {
    if (!this.stream.destroyed && !this.stream.readableEnded) this.stream.destroy();
  }
}
