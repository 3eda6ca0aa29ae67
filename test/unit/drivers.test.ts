// Runs the shared driver suite against the memory and filesystem drivers, plus
// filesystem-only checks (key mapping, temp files, directory pruning); the
// suite has the append tests.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, promises as fsp, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { FilesystemDriver, TMP_DIR } from '../../src/storage/fs.js';
import { MemoryDriver, compareKeys } from '../../src/storage/memory.js';
import { runDriverSuite } from './driver-suite.js';

runDriverSuite(
  'memory',
  async () => {
    const driver = new MemoryDriver();
    return {
      driver,
      async cleanup() {
        // The suite must clean up after itself.
        assert.equal(driver.size, 0, 'the driver suite left objects behind');
      },
    };
  },
  { checkMemory: false },
);

// Twice: reads and stats with synchronous calls (the default) and through the threadpool.
for (const synchronousReads of [true, false]) {
  runDriverSuite(synchronousReads ? 'filesystem' : 'filesystem, reads through the threadpool', async () => {
    const root = mkdtempSync(join(tmpdir(), 'wharf-fs-suite-'));
    const driver = new FilesystemDriver({ root, synchronousReads });
    return {
      driver,
      async cleanup() {
        try {
          // Nothing left: no objects, no empty directories, no temp files.
          assert.deepEqual(readdirSync(root), [TMP_DIR], 'objects or directories left behind');
          assert.deepEqual(readdirSync(join(root, TMP_DIR)), [], 'temp files left behind');
        } finally {
          rmSync(root, { recursive: true, force: true });
        }
      },
    };
  });
}

describe('filesystem driver specifics', () => {
  let root: string;
  let d: FilesystemDriver;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'wharf-fs-'));
    d = new FilesystemDriver({ root });
  });
  after(async () => {
    await d.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('reads the same bytes on both sides of the synchronous-read limit (256 KiB), whole and in ranges, in both modes', async () => {
    const synchronous = new FilesystemDriver({ root, synchronousReads: true });
    const threadpool = new FilesystemDriver({ root, synchronousReads: false });
    const limit = 256 * 1024;
    const drain = async (r: Readable) => {
      const parts: Buffer[] = [];
      for await (const c of r) parts.push(c as Buffer);
      return Buffer.concat(parts);
    };
    for (const size of [0, 1, limit - 1, limit, limit + 1, 3 * limit + 7]) {
      const body = Buffer.alloc(size);
      for (let i = 0; i < size; i++) body[i] = (i * 31 + size) & 0xff;
      await d.put(`sync-limit/${size}`, body);
      for (const drv of [synchronous, threadpool]) {
        assert.ok((await drv.get(`sync-limit/${size}`))!.equals(body), `get ${size}`);
        assert.ok((await drain(await drv.read(`sync-limit/${size}`))).equals(body), `read ${size}`);
        assert.equal((await drv.stat(`sync-limit/${size}`))!.size, size);
        if (size > 2) {
          const start = Math.floor(size / 3);
          for (const end of [start, size - 2, undefined]) {
            const got = await drain(await drv.read(`sync-limit/${size}`, { start, end }));
            assert.ok(got.equals(body.subarray(start, end === undefined ? size : end + 1)), `range ${size} ${start}-${end}`);
          }
        }
      }
    }
    // A "directory" is no object: null from stat and get, NotFound from read, in both modes.
    for (const drv of [synchronous, threadpool]) {
      assert.equal(await drv.stat('sync-limit'), null);
      assert.equal(await drv.get('sync-limit'), null);
      await assert.rejects(drv.read('sync-limit'), /not found/i);
      assert.equal(await drv.stat('sync-limit/missing'), null);
      assert.equal(await drv.get('sync-limit/missing'), null);
      await assert.rejects(drv.read('sync-limit/missing'), /not found/i);
      assert.equal(await drv.get('sync-limit/0/below-a-file'), null, 'ENOTDIR is missing too');
    }
    await threadpool.close();
    await synchronous.close();
    for (const size of [0, 1, limit - 1, limit, limit + 1, 3 * limit + 7]) await d.delete(`sync-limit/${size}`);
  });

  it('copy is a hard link: no bytes written, one inode, the source unchanged', async () => {
    const data = Buffer.alloc(3 * 1024 * 1024 + 5, 7);
    await d.put('c/src', data);
    const before = await fsp.stat(join(root, 'c/src'));
    const info = await d.copy('c/src', 'other/c/dst');
    assert.equal(info.size, data.length);
    const [a, b] = await Promise.all([fsp.stat(join(root, 'c/src')), fsp.stat(join(root, 'other/c/dst'))]);
    assert.equal(b.ino, a.ino, 'the copy is not the same inode');
    assert.equal(a.nlink, 2);
    assert.equal(a.mtimeMs, before.mtimeMs);
    assert.deepEqual(readdirSync(join(root, TMP_DIR)), []);
    // Deleting one name leaves the other.
    assert.equal(await d.delete('c/src'), true);
    assert.ok((await d.get('other/c/dst'))!.equals(data));
    assert.equal((await fsp.stat(join(root, 'other/c/dst'))).nlink, 1);
    await d.delete('other/c/dst');
  });

  it('rejects malformed keys with a plain Error', async () => {
    const bad = ['', '/abs', 'a//b', 'a/', 'a/../b', '..', '../x', 'a/./b', '.', 'a\0b', `${TMP_DIR}/x`, TMP_DIR];
    for (const key of bad) {
      await assert.rejects(d.put(key, Buffer.from('x')), /invalid storage key/, JSON.stringify(key));
      await assert.rejects(d.stat(key), /invalid storage key/, JSON.stringify(key));
      await assert.rejects(d.get(key), /invalid storage key/);
      await assert.rejects(d.read(key), /invalid storage key/);
      await assert.rejects(d.delete(key), /invalid storage key/);
    }
    await assert.rejects(d.move('ok', '../escape'), /invalid storage key/);
    await assert.rejects(d.concat('ok', ['a/../../etc/passwd']), /invalid storage key/);
    await assert.rejects(d.list({ prefix: '../' }), /invalid storage prefix/);
    await assert.rejects(d.list({ prefix: '/x' }), /invalid storage prefix/);
    assert.ok(!existsSync(join(root, '..', 'escape')));
  });

  it('maps keys to files under the root', async () => {
    await d.put('ns/blobs/sha256/ab/data', Buffer.from('blob'));
    assert.equal(await fsp.readFile(join(root, 'ns/blobs/sha256/ab/data'), 'utf8'), 'blob');
    assert.equal(await d.delete('ns/blobs/sha256/ab/data'), true);
    // Empty parents are pruned up to (not including) the root.
    assert.deepEqual(readdirSync(root), [TMP_DIR]);
  });

  it('never lists the temp directory, and cleans temp files after failures', async () => {
    await d.put('visible', Buffer.from('x'));
    await fsp.writeFile(join(root, TMP_DIR, 'stray'), 'x');
    assert.deepEqual(
      (await d.list({ prefix: '', delimiter: '/' })).entries.map((e) => e.key),
      ['visible'],
    );
    assert.deepEqual(
      (await d.list({ prefix: '' })).entries.map((e) => e.key),
      ['visible'],
    );
    assert.deepEqual((await d.list({ prefix: '_' })).entries, []);
    assert.deepEqual((await d.list({ prefix: `${TMP_DIR}/`, delimiter: '/' })).entries, []);
    await fsp.rm(join(root, TMP_DIR, 'stray'));

    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(1000));
        setTimeout(() => this.destroy(new Error('boom')), 1);
      },
    });
    await assert.rejects(d.put('failed', failing), /boom/);
    await assert.rejects(d.concat('failed', ['visible', 'missing']));
    // Object/directory collision: the publish fails, the temp file goes.
    await assert.rejects(d.put('visible/child', Buffer.from('x')));
    assert.deepEqual(readdirSync(join(root, TMP_DIR)), []);
    assert.equal(await d.delete('visible'), true);
  });

  it('sweeps temp files by age (mtime and ctime), leaving fresh ones', async () => {
    const tmp = join(root, TMP_DIR);
    await fsp.writeFile(join(tmp, 'old'), 'x');
    await fsp.writeFile(join(tmp, 'fresh'), 'x');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await fsp.utimes(join(tmp, 'old'), twoHoursAgo, twoHoursAgo);
    // utimes sets ctime to now, so the sweep sees 'old' as fresh: check the API with a
    // negative age instead, and the startup sweep leaves fresh files alone.
    const d2 = new FilesystemDriver({ root });
    await d2.close(); // waits for the startup sweep
    assert.deepEqual(readdirSync(tmp).sort(), ['fresh', 'old']);
    assert.equal(await d2.sweepTemp(3600_000), 0);
    assert.equal(await d2.sweepTemp(-1000), 2);
    assert.deepEqual(readdirSync(tmp), []);
  });

  it('single-part concat publishes without copying, with a fresh mtime', async () => {
    await d.put('up/0', Buffer.from('one part'));
    const old = new Date(Date.now() - 3600_000);
    await fsp.utimes(join(root, 'up/0'), old, old);
    const info = await d.concat('blob/data', ['up/0']);
    assert.ok(Date.now() - info.modified.getTime() < 60_000);
    assert.ok(Date.now() - (await d.stat('blob/data'))!.modified.getTime() < 60_000);
    const [a, b] = await Promise.all([fsp.stat(join(root, 'up/0')), fsp.stat(join(root, 'blob/data'))]);
    assert.equal(a.ino, b.ino, 'expected a hard link');
    await d.deleteConcatSources('blob/data', ['up/0']);
    assert.ok(!existsSync(join(root, 'up')), 'source and its empty directory are gone');
    assert.equal((await d.get('blob/data'))!.toString(), 'one part');
    await d.delete('blob/data');
  });

  it('puts racing with deletes that prune the same directories', async () => {
    // Each delete may remove the directory chain a concurrent put is about to use.
    for (let round = 0; round < 30; round++) {
      const ops: Promise<unknown>[] = [];
      for (let i = 0; i < 8; i++) {
        const key = `race/a/b/c/${round}-${i}`;
        ops.push(d.put(key, Buffer.from(key)).then(() => d.delete(key)));
        ops.push(d.put(`race/a/b/keep-${i}`, Buffer.from('k')).then(() => d.delete(`race/a/b/keep-${i}`)));
      }
      await Promise.all(ops);
    }
    const keys = Array.from({ length: 20 }, (_, i) => `race/x/${i % 4}/y/${i}`);
    await Promise.all(keys.map((k, i) => (i % 2 ? d.put(k, Buffer.from(k)) : d.put(k, Buffer.from(k)).then(() => d.delete(k)))));
    const left = (await d.list({ prefix: 'race/' })).entries.map((e) => e.key);
    assert.deepEqual(left, keys.filter((_, i) => i % 2).sort(compareKeys));
    await Promise.all(left.map((k) => d.delete(k)));
    assert.deepEqual(readdirSync(root), [TMP_DIR]);
  });

  it('large-directory listing snapshots notice changes', async () => {
    const dir = 'big/';
    const n = 1100;
    const keys = Array.from({ length: n }, (_, i) => `${dir}${String(i).padStart(5, '0')}`);
    await Promise.all(keys.map((k) => fsp.mkdir(join(root, 'big'), { recursive: true }).then(() => fsp.writeFile(join(root, k), ''))));
    // Make the directory "quiet" so that a snapshot is taken.
    const past = new Date(Date.now() - 60_000);
    await fsp.utimes(join(root, 'big'), past, past);
    const p1 = await d.list({ prefix: dir, delimiter: '/', limit: 500 });
    assert.equal(p1.entries.length, 500);
    // Changes behind this driver's back (another replica): only the directory mtime tells.
    await fsp.writeFile(join(root, `${dir}00000a`), 'new');
    await fsp.unlink(join(root, keys[700]!));
    const all = (await d.list({ prefix: dir, delimiter: '/', startAfter: `${dir}00000`, limit: 1000 })).entries.map((e) => e.key);
    assert.equal(all[0], `${dir}00000a`);
    assert.ok(!all.includes(keys[700]!));
    await fsp.rm(join(root, 'big'), { recursive: true });
  });

  it('fsync can be turned off', async () => {
    const d2 = new FilesystemDriver({ root, fsync: false });
    await d2.put('nofsync/k', Buffer.from('x'));
    assert.equal((await d2.get('nofsync/k'))!.toString(), 'x');
    await d2.delete('nofsync/k');
    await d2.close();
  });
});

describe('compareKeys', () => {
  it('orders like UTF-8 bytes', () => {
    const words = ['', 'a', 'a/', 'a-', 'a/b', 'ab', '\u00e9', '\uff21', '\u{1f600}', '\u{1f600}a', '\ud7ff', '\ue000', 'z'];
    for (const x of words) {
      for (const y of words) {
        const want = Math.sign(Buffer.compare(Buffer.from(x), Buffer.from(y)));
        assert.equal(Math.sign(compareKeys(x, y)), want, `${JSON.stringify(x)} vs ${JSON.stringify(y)}`);
      }
    }
  });
});
