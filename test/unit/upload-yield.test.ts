// Fairness during a big upload (src/registry/upload-yield.ts): a big body is
// paused for a turn while the event loop lags, and still arrives whole and in
// order; a small body is never paused.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { PassThrough, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { feed } from '../../src/registry/upload-body.js';
import { BIG_BODY_BYTES } from '../../src/registry/upload-yield.js';

/**
 * Push `bytes` into a PassThrough in 64 KiB pieces, one per timer tick (as a socket
 * delivers them over time): the body then spans several of lagLoop's busy stretches,
 * however fast the machine — all in one stretch's gap, it could end before the lag
 * probe ever saw one.
 */
function socketLike(bytes: Buffer): PassThrough {
  const src = new PassThrough();
  let off = 0;
  const next = (): void => {
    if (off >= bytes.length) {
      src.end();
      return;
    }
    src.write(bytes.subarray(off, off + 65536));
    off += 65536;
    setTimeout(next, 1);
  };
  setTimeout(next, 1);
  return src;
}

function sink(): { dst: Writable; digest: () => string } {
  const h = createHash('sha256');
  // Never full: every pause of the body is the loop's, not backpressure.
  const dst = new Writable({
    highWaterMark: 1 << 30,
    write(chunk: Buffer, _enc, cb) {
      h.update(chunk);
      cb();
    },
  });
  return { dst, digest: () => h.digest('hex') };
}

/** Keep the event loop busy: 12 ms of synchronous work every 15 ms. */
function lagLoop(): () => void {
  const t = setInterval(() => {
    const end = performance.now() + 12;
    while (performance.now() < end);
  }, 15);
  return () => clearInterval(t);
}

describe('big bodies yield to a lagging event loop', () => {
  it('a big body is paused while the loop lags, and arrives whole and in order', async () => {
    const bytes = randomBytes(6 * BIG_BODY_BYTES);
    const src = socketLike(bytes);
    let pauses = 0;
    let ended = false;
    src.on('end', () => (ended = true));
    // The unpipe at the end pauses too: count only pauses while bytes flow.
    src.on('pause', () => {
      if (!ended) pauses++;
    });
    const { dst, digest } = sink();
    const stop = lagLoop();
    try {
      await feed(src, dst);
    } finally {
      stop();
    }
    assert.equal(digest(), createHash('sha256').update(bytes).digest('hex'));
    assert.ok(pauses > 0, 'paused at least once');
  });

  it('a small body is never paused for the loop', async () => {
    const bytes = randomBytes(BIG_BODY_BYTES - 1);
    const src = socketLike(bytes);
    let pauses = 0;
    let ended = false;
    src.on('end', () => (ended = true));
    // The unpipe at the end pauses too: count only pauses while bytes flow.
    src.on('pause', () => {
      if (!ended) pauses++;
    });
    const { dst, digest } = sink();
    const stop = lagLoop();
    try {
      await feed(src, dst);
    } finally {
      stop();
    }
    assert.equal(digest(), createHash('sha256').update(bytes).digest('hex'));
    assert.equal(pauses, 0);
  });
});
