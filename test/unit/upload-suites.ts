// Upload suites every driver must pass (run on fs and memory by
// uploads.test.ts, on Swift and S3 by objectstores/uploads-objectstores.test.ts):
// exactly the recorded bytes are published, whatever races, fails or dies
// around them.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { createHash as createResumable } from '../../src/digest/index.js';
import { layout } from '../../src/registry/layout.js';
import { parseDigest, type Digest } from '../../src/registry/names.js';
import { prune } from '../../src/registry/prune/index.js';
import { listQuarantine } from '../../src/registry/quarantine.js';
import type { Scope } from '../../src/registry/scope.js';
import { newPartName, parseUploadRecord } from '../../src/registry/upload-record.js';
import { appendChunk, cancelUpload, finishUpload, startUpload, uploadStatus, uploadWhole } from '../../src/registry/uploads.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import type { DriverCase } from './prune-fixtures.js';

const HOUR = 3600_000;
export const sha256 = (b: Buffer | string) => parseDigest(`sha256:${createHash('sha256').update(b).digest('hex')}`);
export const body = (...parts: Array<string | Buffer>) => Readable.from(parts.map((p) => Buffer.from(p)));

type Hooks = { [K in keyof StorageDriver]?: (...args: any[]) => Promise<void> | void };

/** `inner`, with `hooks[method](...args)` awaited before each call (to play a concurrent request at that moment). */
function hooked(inner: StorageDriver, hooks: Hooks): StorageDriver {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return async (...args: unknown[]) => {
        await hooks[prop as keyof StorageDriver]?.(...args);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** Every object key under `prefix`. */
export async function keys(driver: StorageDriver, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let startAfter: string | undefined;
  for (;;) {
    const page = await driver.list({ prefix, startAfter });
    out.push(...page.entries.filter((e) => !e.prefix).map((e) => e.key));
    if (!page.next) return out;
    startAfter = page.next;
  }
}

export async function blobBytes(driver: StorageDriver, d: Digest): Promise<Buffer | null> {
  return driver.get(layout.blob('default', d));
}

export function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  return assert.rejects(p, (err: Error & { code?: string }) => {
    assert.equal(err.code, code, `${err.name}: ${err.message}`);
    return true;
  });
}

/** Tests every driver must pass. */
export function uploadSuite(dc: DriverCase): void {
  describe(`uploads on ${dc.name}`, () => {
    const withStore = (name: string, fn: (s: Scope, driver: StorageDriver) => Promise<void>) =>
      it(name, async () => {
        const { driver, cleanup } = await dc.make();
        try {
          await fn({ driver, ns: 'default' }, driver);
        } finally {
          await cleanup();
          await driver.close?.();
        }
      });

    withStore('publishes exactly the chunks, in order, and removes the upload', async (s, driver) => {
      const { id } = await startUpload(s, 'r');
      await appendChunk(s, 'r', id, body('hello', ' '), { range: { start: 0, end: 5 }, length: 6 });
      await appendChunk(s, 'r', id, body('wor'), {});
      const info = await finishUpload(s, 'r', id, sha256('hello world'), body('ld'), {});
      assert.equal(info.size, 11);
      assert.equal((await blobBytes(driver, sha256('hello world')))!.toString(), 'hello world');
      assert.deepEqual(await keys(driver, layout.uploadDir('default', id)), [], 'nothing of the upload is left');
    });

    withStore('a chunk shorter than declared changes nothing, and the upload goes on', async (s, driver) => {
      const { id } = await startUpload(s, 'r');
      await appendChunk(s, 'r', id, body('abc'), {});
      const before = await keys(driver, layout.uploadDir('default', id));
      await rejectsWith(appendChunk(s, 'r', id, body('de'), { length: 5 }), 'SIZE_INVALID');
      assert.deepEqual(await keys(driver, layout.uploadDir('default', id)), before, 'the upload is as recorded');
      assert.equal((await uploadStatus(s, 'r', id)).offset, 3);
      await appendChunk(s, 'r', id, body('def'), { range: { start: 3, end: 5 } });
      const info = await finishUpload(s, 'r', id, sha256('abcdef'), null, {});
      assert.equal(info.size, 6);
      assert.equal((await blobBytes(driver, sha256('abcdef')))!.toString(), 'abcdef');
    });

    withStore('every record names exactly the bytes it hashed (parts add up, the state has hashed the offset)', async (s, driver) => {
      const { id } = await startUpload(s, 'r');
      const parts = [randomBytes(1000), randomBytes(1), randomBytes(70_000)];
      for (const p of parts) await appendChunk(s, 'r', id, body(p), {});
      const rec = parseUploadRecord((await driver.get(layout.uploadRecord('default', id)))!)!;
      assert.ok(rec, 'the stored record parses');
      const all = Buffer.concat(parts);
      assert.equal(rec.offset, all.length);
      const stored: Buffer[] = [];
      for (const p of rec.parts) stored.push((await driver.get(layout.uploadPart('default', id, p.name)))!);
      assert.ok(Buffer.concat(stored).equals(all), 'the named parts hold the bytes, in order');
      const h = createResumable('sha256');
      h.update(all);
      assert.equal(rec.hash.state, h.exportState(), 'the state is the hash of exactly those bytes');
    });

    withStore('a body that failed before it was read (client gone, bad chunked encoding) touches nothing', async (s, driver) => {
      const { id } = await startUpload(s, 'r');
      await appendChunk(s, 'r', id, body('abc'), {});
      const before = await keys(driver, layout.uploadDir('default', id));
      const dead = () => {
        const b = new Readable({ read() {} });
        b.destroy();
        return b;
      };
      await assert.rejects(appendChunk(s, 'r', id, dead(), {}), /ended early/);
      await assert.rejects(finishUpload(s, 'r', id, sha256('abc'), dead(), {}), /ended early/);
      await assert.rejects(uploadWhole(s, 'r', sha256('x'), dead(), {}), /ended early/);
      assert.deepEqual(await keys(driver, 'default/uploads/'), before, 'only the first upload, as it was');
      await finishUpload(s, 'r', id, sha256('abc'), null, {});
    });

    withStore('a body that fails half way leaves the upload as recorded; POST ?digest= leaves nothing', async (s, driver) => {
      const { id } = await startUpload(s, 'r');
      await appendChunk(s, 'r', id, body('abc'), {});
      const before = await keys(driver, layout.uploadDir('default', id));
      const failing = () =>
        new Readable({
          read() {
            this.push(randomBytes(100_000));
            setImmediate(() => this.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' })));
          },
        });
      await assert.rejects(appendChunk(s, 'r', id, failing(), {}), /aborted/);
      await assert.rejects(finishUpload(s, 'r', id, sha256('abc'), failing(), {}), /aborted/);
      await assert.rejects(uploadWhole(s, 'r', sha256('abc'), failing(), {}), /aborted/);
      assert.deepEqual(await keys(driver, 'default/uploads/'), before);
      await appendChunk(s, 'r', id, body('def'), { range: { start: 3, end: 5 } });
      await finishUpload(s, 'r', id, sha256('abcdef'), null, {});
      assert.equal((await blobBytes(driver, sha256('abcdef')))!.toString(), 'abcdef');
    });

    withStore('a chunk for an old offset gets RANGE_INVALID; a stale request cannot commit', async (s) => {
      const { id } = await startUpload(s, 'r');
      await appendChunk(s, 'r', id, body('abc'), { range: { start: 0, end: 2 } });
      await rejectsWith(appendChunk(s, 'r', id, body('abc'), { range: { start: 0, end: 2 } }), 'RANGE_INVALID');
    });

    withStore(
      'a deduplicated push checks the stored size: a wrong one is quarantined and the verified upload published',
      async (s, driver) => {
        const good = randomBytes(5000);
        const d = sha256(good);
        // Bytes of another size stored under the digest (damage, or an old bug).
        await driver.put(layout.blob('default', d), randomBytes(4000));
        const info = await uploadWhole(s, 'r', d, body(good), {});
        assert.equal(info.size, good.length);
        assert.ok((await blobBytes(driver, d))!.equals(good), 'the verified upload replaced them');
        const q = [];
        for await (const e of listQuarantine(s)) q.push(e);
        assert.equal(q.length, 1);
        assert.equal(q[0]!.digest, d.text);
        assert.equal(q[0]!.note?.reason, 'size mismatch');
        assert.equal(q[0]!.note?.by, 'upload');
        assert.equal(q[0]!.note?.size, 4000);
        // The chunked path checks too.
        const other = randomBytes(3000);
        const d2 = sha256(other);
        await driver.put(layout.blob('default', d2), Buffer.alloc(0));
        const { id } = await startUpload(s, 'r');
        await appendChunk(s, 'r', id, body(other.subarray(0, 1000)), {});
        await finishUpload(s, 'r', id, d2, body(other.subarray(1000)), {});
        assert.ok((await blobBytes(driver, d2))!.equals(other));
        // A stored blob of the right size is kept (deduplicated).
        const before = (await driver.stat(layout.blob('default', d)))!;
        await uploadWhole(s, 'r2', d, body(good), {});
        assert.equal((await driver.stat(layout.blob('default', d)))!.size, before.size);
      },
    );

    withStore('cancel removes everything under the upload, leftovers of other requests too', async (s, driver) => {
      const { id } = await startUpload(s, 'r');
      await appendChunk(s, 'r', id, body('abc'), {});
      // A chunk a losing or dead request left behind.
      await driver.put(layout.uploadPart('default', id, newPartName(3)), Buffer.from('stray'));
      await cancelUpload(s, 'r', id);
      assert.deepEqual(await keys(driver, layout.uploadDir('default', id)), []);
      await rejectsWith(uploadStatus(s, 'r', id), 'BLOB_UPLOAD_UNKNOWN');
    });

    withStore('a finish removes leftovers of other requests with the upload', async (s, driver) => {
      const { id } = await startUpload(s, 'r');
      await appendChunk(s, 'r', id, body('abc'), {});
      await driver.put(layout.uploadPart('default', id, newPartName(3)), Buffer.from('stray'));
      await finishUpload(s, 'r', id, sha256('abc'), null, {});
      assert.deepEqual(await keys(driver, layout.uploadDir('default', id)), []);
      assert.equal((await blobBytes(driver, sha256('abc')))!.toString(), 'abc');
    });

    withStore(
      'prune removes an old upload directory without a record (kept where blobs share their parts); a young one stays',
      async (s, driver) => {
        const { id } = await startUpload(s, 'r');
        await appendChunk(s, 'r', id, body('abc'), {});
        await driver.delete(layout.uploadRecord('default', id)); // e.g. a crash in the middle of a cancel
        const young = await prune(driver, { graceSeconds: 3600, uploadAgeSeconds: 3600 });
        assert.equal(young.kept.orphanUploadDirs, 1);
        assert.notDeepEqual(await keys(driver, layout.uploadDir('default', id)), []);
        const old = await prune(driver, { graceSeconds: 3600, uploadAgeSeconds: 3600, now: () => Date.now() + 2 * HOUR });
        if (driver.concatKeepsSources) {
          // Swift: the objects may be parts of a published blob; left alone, counted.
          assert.equal(old.kept.orphanUploadDirs, 1);
          assert.notDeepEqual(await keys(driver, layout.uploadDir('default', id)), []);
        } else {
          assert.deepEqual(
            old.items.uploads.map((u) => [u.id, u.reason]),
            [[id, 'no-record']],
          );
          assert.deepEqual(await keys(driver, layout.uploadDir('default', id)), []);
        }
      },
    );
  });
}

/**
 * Two writers of one range, the first paused right before it saves its
 * record until the second has finished: on main (chunk keys by offset) the
 * second overwrote the first's chunk object and the first's record — with
 * the first's hash state — won, so a PUT with the first's digest published
 * the second's bytes. Now each record names only its own writer's bytes.
 */
export function uploadRaceSuite(dc: DriverCase): void {
  describe(`racing writers of one range on ${dc.name}`, () => {
    it('whichever record is saved last, it names the bytes it hashed; the blob hashes to its name', async () => {
      const { driver: inner, cleanup } = await dc.make();
      try {
        const head = randomBytes(2000);
        const x = randomBytes(3000);
        const y = randomBytes(3000);
        let release: () => void = () => {};
        const paused = new Promise<void>((r) => (release = r));
        let firstAtSave: () => void = () => {};
        const atSave = new Promise<void>((r) => (firstAtSave = r));
        let armed = false;
        const driver = hooked(inner, {
          put: async (key: string) => {
            if (armed && key.endsWith('/record')) {
              armed = false;
              firstAtSave();
              await paused;
            }
          },
        });
        const s: Scope = { driver, ns: 'default' };
        const { id } = await startUpload(s, 'r');
        await appendChunk(s, 'r', id, body(head), {});
        const range = { start: head.length, end: head.length + x.length - 1 };
        armed = true;
        const first = appendChunk(s, 'r', id, body(x), { range }).then(
          () => 'ok',
          (e: Error & { code?: string }) => e.code,
        );
        await atSave;
        const second = await appendChunk(s, 'r', id, body(y), { range }).then(
          () => 'ok',
          (e: Error & { code?: string }) => e.code,
        );
        release();
        assert.equal(await first, 'ok');
        assert.ok(second === 'ok' || second === 'RANGE_INVALID', String(second));
        // The first record was saved last: it must name x, not y.
        const d = sha256(Buffer.concat([head, x]));
        await finishUpload(s, 'r', id, d, null, {});
        const got = await inner.get(layout.blob('default', d));
        assert.ok(got && sha256(got).text === d.text, 'the published blob hashes to its name');
        assert.deepEqual(await keys(inner, layout.uploadDir('default', id)), []);
      } finally {
        await cleanup();
        await inner.close?.();
      }
    });
  });
}
