// The filesystem driver's work per operation (issue 13 item 1 and 2): group
// commit of directory fsyncs, early writeback of big files, putChecked (a check before anything is
// published), big get() from one descriptor; and uploads whose body holds
// the whole blob going straight to the blob's key (no record, no part).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { layout } from '../../src/registry/layout.js';
import { appendChunk, finishUpload, startUpload, uploadStatus, uploadWhole } from '../../src/registry/uploads.js';
import type { PutOptions, StorageDriver } from '../../src/storage/driver.js';
import { FilesystemDriver } from '../../src/storage/fs.js';
import { MemoryDriver } from '../../src/storage/memory.js';
import { GroupSync } from '../../src/storage/fs-group-sync.js';
import { blobBytes, body, rejectsWith, sha256 } from './upload-suites.js';

const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function fsDriver(): { driver: FilesystemDriver; root: string } {
  const root = mkdtempSync(join(tmpdir(), 'wharf-fs-ops-'));
  roots.push(root);
  return { driver: new FilesystemDriver({ root }), root };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('group commit of directory fsyncs (GroupSync)', () => {
  it('a caller that arrives while a sync runs waits for one that starts after it; everyone queued shares it', async () => {
    const runs: { key: string; done: ReturnType<typeof deferred> }[] = [];
    const g = new GroupSync((key) => {
      const done = deferred();
      runs.push({ key, done });
      return done.promise;
    });
    let firstDone = false;
    const first = g.sync('d').then(() => (firstDone = true));
    assert.equal(runs.length, 1);
    // Three more arrive while the first runs: none may be served by it.
    const settled: number[] = [];
    const queued = [1, 2, 3].map((i) => g.sync('d').then(() => settled.push(i)));
    assert.equal(runs.length, 1, 'no second sync while one runs');
    runs[0]!.done.resolve();
    await first;
    assert.ok(firstDone);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(settled, [], 'the queued callers wait for a sync that started after them');
    assert.equal(runs.length, 2, 'one sync for all three queued callers');
    // A caller arriving while the second runs queues a third.
    const late = g.sync('d');
    runs[1]!.done.resolve();
    await Promise.all(queued);
    await new Promise((r) => setImmediate(r));
    assert.equal(runs.length, 3);
    runs[2]!.done.resolve();
    await late;
    assert.equal(g.started, 3);
    // Other keys are independent, and an idle key starts at once.
    const other = g.sync('e');
    assert.equal(runs.length, 4);
    assert.equal(runs[3]!.key, 'e');
    runs[3]!.done.resolve();
    await other;
  });

  it('a failed sync fails exactly the callers that waited for it', async () => {
    let n = 0;
    const g = new GroupSync(async () => {
      n++;
      await new Promise((r) => setTimeout(r, 5));
      if (n === 2) throw new Error('EIO');
    });
    const a = g.sync('d');
    const b = g.sync('d');
    const c = g.sync('d');
    await a;
    await assert.rejects(b, /EIO/);
    await assert.rejects(c, /EIO/);
    await g.sync('d'); // the next one runs afresh
    assert.equal(n, 3);
  });

  it('the filesystem driver: 32 concurrent durable puts into one directory share directory fsyncs, and every one is there', async () => {
    const { driver } = fsDriver();
    const before = driver.counters.dirSyncs;
    const keys = Array.from({ length: 32 }, (_, i) => `ns/blobs/sha256/${String(i).padStart(4, '0')}`);
    await driver.put(keys[0]!, Buffer.from('first')); // creates the directories
    const afterFirst = driver.counters.dirSyncs;
    await Promise.all(keys.slice(1).map((k) => driver.put(k, Buffer.from(k))));
    const syncs = driver.counters.dirSyncs - afterFirst;
    assert.ok(afterFirst > before);
    assert.ok(syncs < 31, `31 concurrent puts into one directory took ${syncs} directory fsyncs`);
    for (const k of keys.slice(1)) assert.equal((await driver.get(k))!.toString(), k);
  });
});

describe('big files', () => {
  it('a durable put of 150 MiB writes back early (once per 64 MiB at most) and stores every byte; a non-durable one does not', async () => {
    const { driver } = fsDriver();
    const piece = randomBytes(1 << 20);
    const gen = function* (): Generator<Buffer> {
      for (let i = 0; i < 150; i++) yield piece;
    };
    const info = await driver.put('ns/big', Readable.from(gen()));
    assert.equal(info.size, 150 << 20);
    // One per 64 MiB at most, and never two at once: a writeback still running at 128 MiB
    // (a slow disk, a loaded machine) delays the second one, possibly past the last byte.
    const early = driver.counters.writebacks;
    assert.ok(early >= 1 && early <= 2, `writebacks: ${early}`);
    const stream = await driver.read('ns/big', { start: (149 << 20) + 7, end: (149 << 20) + 106 });
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    assert.deepEqual(Buffer.concat(chunks), piece.subarray(7, 107));
    await driver.put('ns/big2', Readable.from(gen()), { durable: false });
    assert.equal(driver.counters.writebacks, early, 'nothing to make durable: no writeback');
  });

  it('appended upload data (published later, durably) is written back early too', async () => {
    const { driver } = fsDriver();
    const piece = randomBytes(1 << 20);
    const info = await driver.append!('ns/uploads/u/0', 0, Readable.from(Array.from({ length: 70 }, () => piece)));
    assert.equal(info.size, 70 << 20);
    assert.equal(driver.counters.writebacks, 1);
  });

  it("a complete append's tail is written back in the background: the handle closes once that is done, and a failed or empty append starts none", async () => {
    const { driver, root } = fsDriver();
    const file = join(root, 'ns/uploads/u/0');
    const openOnIt = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === file;
        } catch {
          return false;
        }
      }).length;
    const info = await driver.append!('ns/uploads/u/0', 0, Readable.from([randomBytes(3 << 20)]));
    assert.equal(info.size, 3 << 20);
    assert.equal(driver.counters.tailWritebacks, 1, 'one tail writeback, started when the append ended');
    assert.equal(driver.counters.writebacks, 0, 'below 64 MiB: no early writeback while writing');
    // Nothing appended: nothing to write back.
    await driver.append!('ns/uploads/u/0', 3 << 20, Readable.from([]));
    // A body that fails: the append is undone and writes nothing back.
    const broken = Readable.from(
      (async function* () {
        yield Buffer.alloc(1000);
        throw new Error('client gone');
      })(),
    );
    await assert.rejects(driver.append!('ns/uploads/u/0', 3 << 20, broken), /client gone/);
    assert.equal(driver.counters.tailWritebacks, 1);
    await driver.close(); // waits for the tail writeback, which then closes its handle
    assert.equal(openOnIt(), 0, 'no descriptor on the file is left open');
    // A driver that never syncs writes nothing back.
    const nosync = new FilesystemDriver({ root: mkdtempSync(join(tmpdir(), 'wharf-fs-ops-')), fsync: false });
    roots.push(nosync.root);
    await nosync.append!('ns/uploads/u/0', 0, Readable.from([Buffer.from('abc')]));
    assert.equal(nosync.counters.tailWritebacks, 0);
  });

  it('get() of an object over 256 KiB returns every byte (read from the descriptor it checked)', async () => {
    const { driver } = fsDriver();
    const bytes = randomBytes(300_001);
    await driver.put('ns/meta', bytes);
    assert.deepEqual(await driver.get('ns/meta'), bytes);
    assert.equal(await driver.get('ns'), null, 'a directory is no object');
  });
});

describe('putChecked', () => {
  const tmpEntries = (root: string) => readdirSync(join(root, '_tmp'));

  it('publishes only what the check accepts, and leaves nothing behind otherwise', async () => {
    const { driver, root } = fsDriver();
    let seen = -1;
    const ok = await driver.putChecked('ns/a', Readable.from([Buffer.from('hello')]), async (info) => {
      seen = info.size;
      assert.equal(await driver.stat('ns/a'), null, 'nothing at the key while the check runs');
      return true;
    });
    assert.equal(seen, 5);
    assert.equal(ok!.size, 5);
    assert.equal((await driver.get('ns/a'))!.toString(), 'hello');
    assert.equal(await driver.putChecked('ns/b', Readable.from([Buffer.from('no')]), async () => false), null);
    await assert.rejects(
      driver.putChecked('ns/c', Readable.from([Buffer.from('bad')]), async () => {
        throw new Error('refused');
      }),
      /refused/,
    );
    assert.equal(await driver.stat('ns/b'), null);
    assert.equal(await driver.stat('ns/c'), null);
    assert.deepEqual(tmpEntries(root), []);
  });
});

/** A driver that records the keys written (put, append, putChecked), over the filesystem driver. */
function recording(inner: FilesystemDriver): { driver: StorageDriver; writes: string[] } {
  const writes: string[] = [];
  const driver = Object.create(inner) as StorageDriver;
  driver.put = (key: string, b: Uint8Array | Readable, o?: PutOptions) => {
    writes.push(`put ${key}`);
    return inner.put(key, b, o);
  };
  driver.append = (key: string, offset: number, b: Readable) => {
    writes.push(`append ${key}`);
    return inner.append(key, offset, b);
  };
  driver.putChecked = (key, b, check) => {
    writes.push(`putChecked ${key}`);
    return inner.putChecked(key, b, check);
  };
  return { driver, writes };
}

describe('a body holding the whole blob goes straight to its key (filesystem)', () => {
  const uploadWrites = (writes: string[]) => writes.filter((w) => w.includes('/uploads/'));

  it('POST ?digest=: no upload record, no part; the blob is there, linked, and no upload directory is left', async () => {
    const { driver: fs, root } = fsDriver();
    const { driver, writes } = recording(fs);
    const s = { driver, ns: 'default' };
    const info = await uploadWhole(s, 'r', sha256('hello'), body('hello'), { length: 5 });
    assert.equal(info.size, 5);
    assert.deepEqual(uploadWrites(writes), [], 'no upload object written');
    assert.ok(writes.includes(`putChecked ${layout.blob('default', sha256('hello'))}`));
    assert.equal((await blobBytes(fs, sha256('hello')))!.toString(), 'hello');
    assert.ok(await fs.stat(layout.repoBlobLink('default', 'r', sha256('hello'))));
    assert.ok(!existsSync(join(root, 'default/uploads')) || readdirSync(join(root, 'default/uploads')).length === 0);
    // Again (a deduplicated push): the stored copy is kept.
    const again = await uploadWhole(s, 'r2', sha256('hello'), body('hello'), {});
    assert.equal(again.size, 5);
    assert.deepEqual(readdirSync(join(root, '_tmp')), []);
  });

  it('POST ?digest= with the wrong digest or length publishes nothing and leaves nothing', async () => {
    const { driver, root } = fsDriver();
    const s = { driver, ns: 'default' };
    await rejectsWith(uploadWhole(s, 'r', sha256('other'), body('hello'), {}), 'DIGEST_INVALID');
    await rejectsWith(uploadWhole(s, 'r', sha256('hello'), body('hello'), { length: 4 }), 'SIZE_INVALID');
    assert.equal(await blobBytes(driver, sha256('other')), null);
    assert.equal(await blobBytes(driver, sha256('hello')), null);
    assert.deepEqual(readdirSync(join(root, '_tmp')), []);
    assert.ok(!existsSync(join(root, 'default/uploads')));
  });

  it('a stored blob of the wrong size is quarantined and replaced by the verified upload', async () => {
    const { driver } = fsDriver();
    const s = { driver, ns: 'default' };
    await driver.put(layout.blob('default', sha256('hello')), Buffer.from('hell'));
    await uploadWhole(s, 'r', sha256('hello'), body('hello'), {});
    assert.equal((await blobBytes(driver, sha256('hello')))!.toString(), 'hello');
    const q = await driver.list({ prefix: layout.quarantine('default') });
    assert.ok(q.entries.length > 0, 'the old copy is in the quarantine');
  });

  it('POST then one PUT with the whole body: no part written, the record goes, the upload is unknown after', async () => {
    const { driver: fs } = fsDriver();
    const { driver, writes } = recording(fs);
    const s = { driver, ns: 'default' };
    const { id } = await startUpload(s, 'r');
    writes.length = 0;
    const info = await finishUpload(s, 'r', id, sha256('hello world'), body('hello world'), {});
    assert.equal(info.size, 11);
    assert.deepEqual(uploadWrites(writes), [], 'no part, no record written');
    assert.equal((await blobBytes(fs, sha256('hello world')))!.toString(), 'hello world');
    await rejectsWith(uploadStatus(s, 'r', id), 'BLOB_UPLOAD_UNKNOWN');
  });

  it('a PUT with the whole body and the wrong digest removes the upload, publishes nothing', async () => {
    const { driver } = fsDriver();
    const s = { driver, ns: 'default' };
    const { id } = await startUpload(s, 'r');
    await rejectsWith(finishUpload(s, 'r', id, sha256('other'), body('hello'), {}), 'DIGEST_INVALID');
    assert.equal(await blobBytes(driver, sha256('other')), null);
    await rejectsWith(uploadStatus(s, 'r', id), 'BLOB_UPLOAD_UNKNOWN');
  });

  it('a PUT whose upload another request changed meanwhile publishes nothing (416)', async () => {
    const { driver: fs } = fsDriver();
    const s0 = { driver: fs, ns: 'default' };
    const { id } = await startUpload(s0, 'r');
    // While the PUT's body streams, a PATCH commits a first chunk.
    const { appendChunk } = await import('../../src/registry/uploads.js');
    const gate = deferred();
    const slowBody = Readable.from(
      (async function* () {
        yield Buffer.from('hello ');
        await gate.promise;
        yield Buffer.from('world');
      })(),
    );
    const put = finishUpload(s0, 'r', id, sha256('hello world'), slowBody, {});
    await new Promise((r) => setTimeout(r, 20));
    await appendChunk(s0, 'r', id, body('abc'), {});
    gate.resolve();
    await rejectsWith(put, 'RANGE_INVALID');
    assert.equal(await blobBytes(fs, sha256('hello world')), null);
    assert.equal((await uploadStatus(s0, 'r', id)).offset, 3, "the PATCH's chunk stands");
  });
});

/**
 * A driver whose repository-link puts wait for `gate` (over `inner`), with a
 * log of when they start (and whether the blob is there yet) and end, and of
 * when a concat (the chunked upload's publish) starts.
 */
function gatedLinks(inner: StorageDriver, gate: Promise<void>): { driver: StorageDriver; log: string[] } {
  const log: string[] = [];
  const driver = Object.create(inner) as StorageDriver;
  driver.put = async (key: string, b: Uint8Array | Readable, o?: PutOptions) => {
    const m = /^default\/repos\/[^_]+\/_blobs\/(sha256):([0-9a-f]+)$/.exec(key);
    if (!m) return inner.put(key, b, o);
    // The filesystem's stat is synchronous: it sees the blob as it is when the link starts.
    const there =
      inner instanceof FilesystemDriver ? statSync(inner.root + `/default/blobs/${m[1]}/${m[2]}`, { throwIfNoEntry: false }) : null;
    log.push(`link start${there ? ' (blob already there)' : ''}`);
    await gate;
    const info = await inner.put(key, b, o);
    log.push('link done');
    return info;
  };
  driver.concat = (to: string, sources: string[]) => {
    log.push('publish start');
    return inner.concat(to, sources);
  };
  return { driver, log };
}

describe('the repository link is written alongside the publish, and the 201 waits for both', () => {
  const tick = () => new Promise((r) => setTimeout(r, 20));
  const waitFor = async (driver: StorageDriver, key: string) => {
    for (let i = 0; i < 150 && !(await driver.stat(key)); i++) await tick();
    return (await driver.stat(key)) !== null;
  };

  for (const [name, make] of [
    ['filesystem (the upload file, hard-linked)', () => fsDriver().driver],
    ['memory (chunk objects, concat)', () => new MemoryDriver()],
  ] as const) {
    it(`${name}: POST, PATCH, PUT — the blob is published while its link is still being written`, async () => {
      const gate = deferred();
      const { driver, log } = gatedLinks(make(), gate.promise);
      const s = { driver, ns: 'default' };
      const d = sha256('layer bytes');
      const { id } = await startUpload(s, 'r');
      await appendChunk(s, 'r', id, body('layer bytes'), {});
      let finished = false;
      const put = finishUpload(s, 'r', id, d, null, {}).then((i) => {
        finished = true;
        return i;
      });
      assert.ok(await waitFor(driver, layout.blob('default', d)), 'the blob is published before its link is done');
      assert.deepEqual(log, ['link start', 'publish start']);
      assert.equal(finished, false, 'no 201 before the link is written');
      gate.resolve();
      assert.equal((await put).size, 11);
      assert.deepEqual(log, ['link start', 'publish start', 'link done']);
      assert.ok(await driver.stat(layout.repoBlobLink('default', 'r', d)));
    });
  }

  it('filesystem, POST ?digest= and POST + PUT with the body: the link starts before the blob appears, the 201 waits for it', async () => {
    for (const how of ['POST ?digest=', 'POST + PUT'] as const) {
      const gate = deferred();
      const { driver, log } = gatedLinks(fsDriver().driver, gate.promise);
      const s = { driver, ns: 'default' };
      const d = sha256(how);
      let finished = false;
      const done =
        how === 'POST ?digest='
          ? uploadWhole(s, 'r', d, body(how), {})
          : startUpload(s, 'r').then(({ id }) => finishUpload(s, 'r', id, d, body(how), {}));
      void done.then(() => (finished = true));
      assert.ok(await waitFor(driver, layout.blob('default', d)), `${how}: the blob is published before its link is done`);
      assert.deepEqual(log, ['link start'], `${how}: the link started before the blob was there`);
      assert.equal(finished, false, `${how}: no 201 before the link is written`);
      gate.resolve();
      await done;
      assert.ok(await driver.stat(layout.repoBlobLink('default', 'r', d)));
    }
  });

  it('a link that fails after the publish leaves the blob whole: no object the blob was made from is deleted (Swift keeps using them)', async () => {
    const mem = new MemoryDriver();
    const driver = Object.create(mem) as StorageDriver;
    const sources: string[] = [];
    const deleted: string[] = [];
    driver.put = (key: string, b: Uint8Array | Readable, o?: PutOptions) =>
      key.includes('/_blobs/') ? Promise.reject(new Error('link write failed')) : mem.put(key, b, o);
    driver.concat = (to: string, from: string[]) => {
      sources.push(...from);
      return mem.concat(to, from);
    };
    driver.delete = (key: string) => {
      deleted.push(key);
      return mem.delete(key);
    };
    const s = { driver, ns: 'default' };
    const { id } = await startUpload(s, 'r');
    await appendChunk(s, 'r', id, body('first '), {});
    // The last chunk comes with the PUT: an object this request created, then published from.
    await assert.rejects(finishUpload(s, 'r', id, sha256('first last'), body('last'), {}), /link write failed/);
    assert.equal(sources.length, 2, 'published from both chunks');
    assert.deepEqual(
      deleted.filter((k) => sources.includes(k)),
      [],
      'no source of the published blob deleted',
    );
    assert.equal((await blobBytes(mem, sha256('first last')))!.toString(), 'first last');
  });

  it('a link that cannot be written fails the request (no 201)', async () => {
    const { driver: fs } = fsDriver();
    const driver = Object.create(fs) as StorageDriver;
    driver.put = (key: string, b: Uint8Array | Readable, o?: PutOptions) =>
      key.includes('/_blobs/') ? Promise.reject(new Error('link write failed')) : fs.put(key, b, o);
    const s = { driver, ns: 'default' };
    await assert.rejects(uploadWhole(s, 'r', sha256('x'), body('x'), {}), /link write failed/);
    const { id } = await startUpload(s, 'r');
    await appendChunk(s, 'r', id, body('y'), {});
    await assert.rejects(finishUpload(s, 'r', id, sha256('y'), null, {}), /link write failed/);
    assert.equal(await fs.stat(layout.repoBlobLink('default', 'r', sha256('y'))), null);
  });
});
