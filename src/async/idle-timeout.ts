// An idle timeout for a streamed body that counts only the time this side
// waits for the source: it restarts on every chunk and stops while the
// consumer is not reading, so a slow consumer never passes for a stalled
// source. The storage drivers watch backend answers with it, the mirror's
// upstream client the upstream's.
import { Readable, finished } from 'node:stream';

/**
 * A deadline that can be pushed back while work makes progress. Its signal
 * aborts with `reason()` when `ms` pass without a `touch()`; `clear()` stops
 * it until the next `touch()`.
 */
export class IdleTimer {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly ms: number,
    private readonly reason: () => Error,
  ) {
    this.touch();
  }
  get signal(): AbortSignal {
    return this.controller.signal;
  }
  get expired(): boolean {
    return this.controller.signal.aborted;
  }
  touch(): void {
    if (this.controller.signal.aborted) return;
    if (this.timer) this.timer.refresh();
    else {
      this.timer = setTimeout(() => this.controller.abort(this.reason()), this.ms);
      this.timer.unref();
    }
  }
  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * Pass `source` through, with `timer` running only while this side waits for
 * the source. When the timer expires, or the source fails or closes before
 * its end, the returned stream is destroyed with `failure(reason)` (the
 * timer's reason once it has expired) and the source with it; destroying
 * the returned stream destroys the source.
 */
export function watchIdle(source: Readable, timer: IdleTimer, failure: (reason: unknown) => Error): Readable {
  let finishedHere = false;
  const out = new Readable({
    highWaterMark: 1 << 20,
    read() {
      if (finishedHere) return;
      timer.touch(); // waiting for the source again
      source.resume();
    },
    destroy(err, cb) {
      finishedHere = true;
      cleanup();
      if (!source.destroyed) source.destroy();
      cb(err);
    },
  });
  const fail = (err: unknown) => {
    if (finishedHere) return;
    finishedHere = true;
    cleanup();
    out.destroy(failure(timer.expired ? timer.signal.reason : err));
  };
  const onAbort = () => fail(timer.signal.reason);
  const onData = (chunk: Buffer) => {
    if (!out.push(chunk)) {
      source.pause();
      timer.clear(); // the consumer is behind: not the source's time
    } else {
      timer.touch();
    }
  };
  const onEnd = () => {
    if (finishedHere) return;
    finishedHere = true;
    cleanup();
    out.push(null);
  };
  // An error, or a close before the end (ERR_STREAM_PREMATURE_CLOSE).
  const stopWatching = finished(source, { writable: false }, (err) => {
    if (err) fail(err);
  });
  const cleanup = () => {
    timer.clear();
    timer.signal.removeEventListener('abort', onAbort);
    source.off('data', onData);
    source.off('end', onEnd);
    stopWatching();
  };
  timer.signal.addEventListener('abort', onAbort, { once: true });
  source.on('error', fail); // stays: a late error must not go unhandled
  source.on('data', onData);
  source.on('end', onEnd);
  source.pause();
  return out;
}
