// The filesystem driver's move under concurrency: moves out of one directory
// at once empty it, and a concurrent delete's clean-up removes it. A move
// whose rename was done must still resolve (it synced the source directory
// afterwards and failed with ENOENT, so prune believed a blob or link was
// not moved into its trash and never decided it). The same holds for the
// destination's new directories when another process moves the object on
// at once and removes them.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { once } from 'node:events';
import { join } from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { NotFoundError } from '../../src/storage/errors.js';
import { FilesystemDriver } from '../../src/storage/fs.js';

test('fs: concurrent moves emptying a directory all resolve, and every object arrives', async () => {
  const root = mkdtempSync(join(tmpdir(), 'wharf-fs-move-'));
  const d = new FilesystemDriver({ root, fsync: true, sweepTemp: false });
  try {
    const failures: string[] = [];
    for (let round = 0; round < 300; round++) {
      const keys = Array.from({ length: 6 }, (_, i) => `src/r${round}/k${i}`);
      await Promise.all(keys.map((k) => d.put(k, Buffer.from(k), { durable: false })));
      await Promise.all(
        keys.map((k, i) => d.move(k, `dst/r${round}/k${i}`).catch((err: Error) => void failures.push(`${k}: ${err.message}`))),
      );
      for (let i = 0; i < keys.length; i++) assert.ok(await d.stat(`dst/r${round}/k${i}`), `dst/r${round}/k${i} missing`);
    }
    assert.deepEqual(failures, []);
  } finally {
    await d.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('fs: two moves of one object to new directories: one wins, the loser leaves no directory behind', async () => {
  const root = mkdtempSync(join(tmpdir(), 'wharf-fs-move-'));
  const d = new FilesystemDriver({ root, fsync: true, sweepTemp: false });
  try {
    for (let round = 0; round < 100; round++) {
      await d.put(`src/k${round}`, Buffer.from('x'));
      const results = await Promise.all(
        ['a', 'b'].map((run) =>
          d.move(`src/k${round}`, `trash/${run}${round}/deep/k`).then(
            () => 'moved',
            (err: unknown) => (err instanceof NotFoundError ? 'not found' : String(err)),
          ),
        ),
      );
      assert.deepEqual(results.sort(), ['moved', 'not found']);
    }
    // Only the winners' directories exist: one per round.
    assert.equal(readdirSync(join(root, 'trash')).length, 100);
  } finally {
    await d.close();
    rmSync(root, { recursive: true, force: true });
  }
});

// Another process (a replica) takes an object out of its fresh directories
// the instant it lands and removes them: the move that put it there still
// resolves, because its rename is done (syncing a directory that is gone has
// nothing left to make durable). A worker thread with synchronous calls plays
// the other process: fast enough to win against the mover's directory syncs.
const TAKER = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const path = require('node:path');
parentPort.on('message', ({ dst, back, stop }) => {
  for (;;) {
    try { fs.renameSync(dst, back); break; } catch {}
  }
  for (let d = path.dirname(dst); d !== stop; d = path.dirname(d)) {
    try { fs.rmdirSync(d); } catch { break; }
  }
  parentPort.postMessage('taken');
});`;

test('fs: a move whose object another process moves on at once (removing its new directories) still resolves', async () => {
  const root = mkdtempSync(join(tmpdir(), 'wharf-fs-move-'));
  const d = new FilesystemDriver({ root, fsync: true, sweepTemp: false });
  const taker = new Worker(TAKER, { eval: true });
  try {
    const failures: string[] = [];
    for (let round = 0; round < 200; round++) {
      await d.put(`src/k${round}`, Buffer.from('x'), { durable: false });
      const taken = once(taker, 'message');
      taker.postMessage({ dst: join(root, `trash/r${round}/deep/k`), back: join(root, `back-k${round}`), stop: root });
      await d.move(`src/k${round}`, `trash/r${round}/deep/k`).catch((err: Error) => void failures.push(`round ${round}: ${err.message}`));
      await taken;
    }
    assert.deepEqual(failures, []);
  } finally {
    await taker.terminate();
    await d.close();
    rmSync(root, { recursive: true, force: true });
  }
});
