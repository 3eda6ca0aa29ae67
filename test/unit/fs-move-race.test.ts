// The filesystem driver's move under concurrency: moves out of one directory
// at once empty it, and a concurrent delete's clean-up removes it. A move
// whose rename was done must still resolve (it synced the source directory
// afterwards and failed with ENOENT, so prune believed a blob or link was
// not moved into its trash and never decided it).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
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
