// Streaming a request body into storage while hashing and counting it.
import { Transform, type Readable, type Writable } from 'node:stream';
import type { ResumableHash } from '../digest/index.js';
import { BIG_BODY_BYTES, loopLagging, watchLag } from './upload-yield.js';

/** Bytes gathered before one hash step runs on the thread pool. */
const HASH_BATCH = 1 << 20;

/**
 * Feeds every byte that passes to the hash, and counts them. Bytes go on to
 * storage at once; hashing runs on libuv's pool in 1 MiB batches (when the
 * engine can), at most one batch behind, so a big upload does not hold the
 * event loop that small requests need. `_flush` waits for the last batch.
 */
export class HashingCounter extends Transform {
  bytes = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private hashing: Promise<void> = Promise.resolve();
  constructor(readonly hash: ResumableHash) {
    super({ highWaterMark: 1 << 20 });
  }

  /** Queue the gathered bytes for hashing; resolves when the previous batch is done. */
  private step(): Promise<void> {
    // The chunks themselves, not a copy: the native engine hashes the list in one job.
    const batch = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    const previous = this.hashing;
    this.hashing = previous.then(() => this.hash.updateAsync!(batch));
    this.hashing.catch(() => undefined); // awaited in _flush or by the next step
    return previous;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null, data?: Buffer) => void) {
    this.bytes += chunk.length;
    if (!this.hash.updateAsync) {
      this.hash.update(chunk);
      done(null, chunk);
      return;
    }
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes < HASH_BATCH) {
      done(null, chunk);
      return;
    }
    this.step().then(() => done(null, chunk), done);
  }

  override _flush(done: (err?: Error | null) => void) {
    if (this.pendingBytes > 0) void this.step();
    this.hashing.then(() => done(), done);
  }

  /** Wait until no hash step runs any more (after a failure), so the hash is not busy. */
  settled(): Promise<void> {
    return this.hashing.then(
      () => undefined,
      () => undefined,
    );
  }
}

/** The error for a body that ended before it was complete. */
export function endedEarly(): Error {
  return Object.assign(new Error('request body ended early (client went away)'), { code: 'ECONNRESET' });
}

/** True when a body failed or was cut off: reading it can only fail. */
export function bodyGone(body: Readable | null): boolean {
  return body?.destroyed === true && !body.readableEnded;
}

/**
 * Pipe a request body into `dst`. Unlike stream.pipeline, a failure on the
 * storage side leaves the body alone (only unpiped): destroying a request
 * destroys its socket, and the client would get a reset instead of the
 * 503 (or 4xx) it is owed; the http layer drains or closes it after answering.
 * A failure of the body (client gone, malformed chunked encoding) destroys
 * `dst`, so the storage write it feeds fails at once and releases its file
 * (issue 10: such writes used to wait for data forever, holding the file
 * descriptor until garbage collection).
 */
export function feed(src: Readable, dst: Writable): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    // A body that failed before anyone read it (Node parses ahead: a bad
    // chunk in the first packet aborts the request before the handler runs)
    // emits nothing more: waiting for its events would hang this request,
    // and the file or connection it holds, forever.
    if (bodyGone(src)) {
      dst.destroy();
      reject(endedEarly());
      return;
    }
    const done = (err?: Error) => {
      stopYielding(src);
      src.off('error', failed);
      src.off('close', closed);
      dst.off('error', done);
      dst.off('finish', finished);
      dst.off('close', dstClosed);
      if (err) {
        src.unpipe(dst);
        reject(err);
      } else resolve();
    };
    const failed = (err: Error) => {
      done(err);
      // Without an error: the writer sees a premature close (no 'error' event
      // that a driver might not listen for).
      dst.destroy();
    };
    const finished = () => done();
    const closed = () => {
      if (!src.readableEnded) failed(endedEarly());
    };
    // The storage side gave up without an error event (a driver that stops
    // reading destroys its source plainly): nothing will be fed any more.
    const dstClosed = () => done(Object.assign(new Error('the storage write stopped'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    src.on('error', failed);
    src.on('close', closed);
    dst.on('error', done);
    dst.on('finish', finished);
    dst.on('close', dstClosed);
    yieldWhenLagging(src, dst);
    src.pipe(dst);
  });
}

const yielding = new WeakMap<Readable, { onData: (chunk: Buffer) => void; unwatch: () => void }>();

/**
 * Once a body is big (upload-yield.ts), pause it for one turn of the event
 * loop whenever the loop lags, so that small requests go first. It resumes
 * only if the writer does not want it paused (pipe's own backpressure).
 */
function yieldWhenLagging(src: Readable, dst: Writable): void {
  let seen = 0;
  let unwatch = (): void => undefined;
  const onData = (chunk: Buffer): void => {
    seen += chunk.length;
    if (seen < BIG_BODY_BYTES) return;
    if (seen - chunk.length < BIG_BODY_BYTES) {
      unwatch = watchLag();
      entry.unwatch = unwatch;
    }
    if (!loopLagging() || src.isPaused()) return;
    src.pause();
    setImmediate(() => {
      if (!src.destroyed && !dst.writableNeedDrain) src.resume();
    });
  };
  const entry = { onData, unwatch };
  yielding.set(src, entry);
  src.on('data', onData);
}

function stopYielding(src: Readable): void {
  const entry = yielding.get(src);
  if (!entry) return;
  yielding.delete(src);
  src.off('data', entry.onData);
  entry.unwatch();
}
