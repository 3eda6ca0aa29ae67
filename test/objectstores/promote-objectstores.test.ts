// Promotion (src/registry/promote.ts) on Swift and S3 (the Swift all-in-one):
// the blobs are copied by the store — the driver never reads a config or layer
// body, nor writes one — and the promoted image stays whole once the source
// namespace is gone (on Swift: the copy shares no segment with the source).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { layout } from '../../src/registry/layout.js';
import { getManifest } from '../../src/registry/manifests.js';
import { promote } from '../../src/registry/promote.js';
import type { Scope } from '../../src/registry/scope.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import { blobKey, keys, OBJECT_STORES, pushImage, sha256 } from '../unit/prune-fixtures.js';

/** The driver, recording which keys were read (get/read) and written (put) and what was copied. */
function watched(inner: StorageDriver) {
  const reads: string[] = [];
  const puts: string[] = [];
  const copies: string[] = [];
  const driver: StorageDriver = Object.create(inner) as StorageDriver;
  Object.assign(driver, {
    get: (key: string) => {
      reads.push(key);
      return inner.get(key);
    },
    read: (key: string, range?: Parameters<StorageDriver['read']>[1]) => {
      reads.push(key);
      return inner.read(key, range);
    },
    put: (key: string, body: Uint8Array | Readable, o?: Parameters<StorageDriver['put']>[2]) => {
      puts.push(key);
      return inner.put(key, body, o);
    },
    copy: (from: string, to: string) => {
      copies.push(from);
      return inner.copy!(from, to);
    },
  });
  return { driver, reads, puts, copies };
}

for (const dc of OBJECT_STORES) {
  describe(`promotion on ${dc.name}`, () => {
    test('server-side: no blob body through the driver; the promoted image outlives its source', async () => {
      const { driver: inner, cleanup } = await dc.make();
      try {
        assert.equal(typeof inner.copy, 'function', `${dc.name} has a server-side copy`);
        const w = watched(inner);
        const src: Scope = { driver: w.driver, ns: 'bs-os', graceSeconds: 3600 };
        const dst: Scope = { driver: w.driver, ns: 'intermediate', graceSeconds: 3600 };
        // A 6 MiB layer: an SLO on Swift, a multipart object on S3.
        const big = randomBytes(6 * 1024 * 1024 + 3);
        const img = await pushImage(src, 'app', 'v1', { layers: [big, randomBytes(2000)] });
        const blobs = [img.config, ...img.layers];
        w.reads.length = 0;
        w.puts.length = 0;
        const r = await promote(src, { repo: 'app', reference: 'v1' }, dst, { repo: 'app', tag: 'v1' });
        assert.equal(r.copied.blobs, 3);
        assert.deepEqual(w.copies.sort(), blobs.map((d) => blobKey(src, d)).sort());
        for (const d of blobs) {
          for (const ns of [src.ns, dst.ns]) {
            const key = layout.blob(ns, d);
            assert.ok(!w.reads.includes(key), `the driver read ${key}`);
            assert.ok(!w.puts.includes(key), `the driver wrote ${key}`);
          }
        }
        // The source namespace goes (prune of an ended buildset): the target keeps everything.
        for (const key of await keys(inner, 'bs-os/')) await inner.delete(key);
        assert.deepEqual(await keys(inner, 'bs-os/'), []);
        assert.equal((await getManifest(dst, 'app', 'v1')).digest.text, img.digest.text);
        for (const d of blobs) {
          const chunks: Buffer[] = [];
          for await (const c of await inner.read(blobKey(dst, d))) chunks.push(c as Buffer);
          assert.equal(sha256(Buffer.concat(chunks)).text, d.text, `${d.text} in the target`);
        }
      } finally {
        await cleanup();
      }
    });
  });
}
