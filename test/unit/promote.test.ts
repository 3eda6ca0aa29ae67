// Promotion between namespaces (src/registry/promote.ts) on the memory and
// filesystem drivers: an image, an index of two images, an artifact with a
// subject (and referrers on request); on the filesystem, that no byte moved
// (the target blob is the source's inode); bad input and missing sources fail
// with their error before anything is written; and a prune running in the
// target at the worst moment loses nothing.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { layout } from '../../src/registry/layout.js';
import { getManifest } from '../../src/registry/manifests.js';
import { promote, type PromoteResult } from '../../src/registry/promote.js';
import { prune } from '../../src/registry/prune/index.js';
import { listQuarantine } from '../../src/registry/quarantine.js';
import { listReferrers } from '../../src/registry/referrers.js';
import { isRegistryError } from '../../src/registry/errors.js';
import type { Scope } from '../../src/registry/scope.js';
import { readTag } from '../../src/registry/tags.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import type { FilesystemDriver } from '../../src/storage/fs.js';
import {
  AgedDriver,
  DRIVERS,
  HOUR,
  HookDriver,
  blobKey,
  has,
  keys,
  later,
  linkKey,
  pushImage,
  pushIndex,
  sha256,
  type Image,
} from './prune-fixtures.js';

const SRC = 'bs-1234';
const DST = 'intermediate';

async function assertWhole(s: Scope, repo: string, img: Image): Promise<void> {
  const m = await getManifest(s, repo, img.digest.text);
  assert.equal(sha256(m.body).text, img.digest.text);
  for (const d of [img.config, ...img.layers]) {
    assert.ok(await has(s.driver, linkKey(s, repo, d)), `${s.ns}: link ${d.text} missing`);
    const body = await s.driver.get(blobKey(s, d));
    assert.ok(body, `${s.ns}: blob ${d.text} missing`);
    assert.equal(sha256(body).text, d.text);
  }
}

async function rejectsWithCode(p: Promise<unknown>, code: string, what: string): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    assert.ok(isRegistryError(err), `${what}: ${String(err)}`);
    assert.equal(err.code, code, `${what}: ${err.message}`);
    return err.detail;
  }
  assert.fail(`${what}: promotion succeeded`);
}

for (const dc of DRIVERS) {
  describe(`promotion on ${dc.name}`, () => {
    const withStore = (name: string, fn: (driver: HookDriver, src: Scope, dst: Scope, inner: StorageDriver) => Promise<void>) =>
      test(name, async () => {
        const { driver: inner, cleanup } = await dc.make();
        const driver = new HookDriver(inner);
        try {
          await fn(driver, { driver, ns: SRC, graceSeconds: 3600 }, { driver, ns: DST, graceSeconds: 3600 }, inner);
        } finally {
          await cleanup();
        }
      });

    withStore('an image: its blobs copied once and linked, the tag written last, the source unchanged', async (driver, src, dst) => {
      const layers = [randomBytes(1000), randomBytes(2000)];
      const img = await pushImage(src, 'app', 'latest', { layers });
      const before = await keys(driver, `${SRC}/`);
      const puts: string[] = [];
      driver.before.put = (key) => void puts.push(key);
      const r = await promote(src, { repo: 'app', reference: 'latest' }, dst, { repo: 'team/app', tag: 'change-42' });
      driver.before.put = undefined;
      const configSize = (await driver.stat(blobKey(src, img.config)))!.size;
      assert.equal(r.digest.text, img.digest.text);
      assert.equal(r.size, img.body.length);
      assert.deepEqual(r.copied, { blobs: 3, bytes: 3000 + configSize });
      assert.deepEqual(r.reused, { blobs: 0, bytes: 0 });
      assert.deepEqual(r.linked, { blobs: 3, manifests: 1, referrers: 0 });
      assert.equal(driver.calls.filter((c) => c.op === 'copy').length, 3);
      await assertWhole(dst, 'team/app', img);
      assert.equal((await readTag(dst, 'team/app', 'change-42'))?.digest, img.digest.text);
      assert.equal((await getManifest(dst, 'team/app', 'change-42')).digest.text, img.digest.text);
      // The tag is the last thing of the repository written.
      const repoWrites = puts.filter((k) => k.startsWith(`${DST}/repos/`));
      assert.equal(repoWrites.at(-1), layout.tag(DST, 'team/app', 'change-42'), repoWrites.join('\n'));
      assert.deepEqual(await keys(driver, `${SRC}/`), before);
      await assertWhole(src, 'app', img);

      // Again, elsewhere in the target: nothing to copy.
      const again = await promote(src, { repo: 'app', reference: img.digest.text }, dst, { repo: 'other', tag: 'v1' });
      assert.deepEqual(again.copied, { blobs: 0, bytes: 0 });
      assert.deepEqual(again.reused, { blobs: 3, bytes: 3000 + configSize });
      assert.equal(driver.calls.filter((c) => c.op === 'copy').length, 3);
      await assertWhole(dst, 'other', img);
    });

    if (dc.name === 'fs') {
      withStore('no byte moves: a promoted blob is the source blob (one inode, two links)', async (_driver, src, dst, inner) => {
        const root = (inner as FilesystemDriver).root;
        const img = await pushImage(src, 'app', 'v1', { layers: [randomBytes(3 << 20)] });
        const file = (ns: string) => join(root, layout.blob(ns, img.layers[0]!));
        const before = statSync(file(SRC));
        assert.equal(before.nlink, 1);
        await promote(src, { repo: 'app', reference: 'v1' }, dst, { repo: 'app', tag: 'v1' });
        const [a, b] = [statSync(file(SRC)), statSync(file(DST))];
        assert.equal(b.ino, a.ino);
        assert.equal(a.nlink, 2);
        assert.equal(b.size, 3 << 20);
        await assertWhole(dst, 'app', img);
      });
    }

    withStore('an index of two images: children first, then the index under the tag', async (driver, src, dst) => {
      const a = await pushImage(src, 'multi', undefined, { layers: [randomBytes(500)] });
      const b = await pushImage(src, 'multi', undefined, { layers: [randomBytes(600), randomBytes(700)] });
      const idx = await pushIndex(src, 'multi', 'latest', [a, b]);
      const r = await promote(src, { repo: 'multi', reference: 'latest' }, dst, { repo: 'multi', tag: 'release' });
      assert.equal(r.digest.text, idx.text);
      assert.equal(r.mediaType, 'application/vnd.oci.image.index.v1+json');
      assert.deepEqual(r.linked, { blobs: 5, manifests: 3, referrers: 0 });
      assert.equal(r.copied.blobs, 5);
      await assertWhole(dst, 'multi', a);
      await assertWhole(dst, 'multi', b);
      const got = await getManifest(dst, 'multi', 'release');
      assert.equal(got.digest.text, idx.text);
      assert.equal(await readTag(dst, 'multi', 'latest'), null, 'only the asked tag is written');
      assert.equal(driver.calls.filter((c) => c.op === 'copy').length, 5);
    });

    withStore('an artifact with a subject; the subject with its referrers on request', async (_driver, src, dst) => {
      const img = await pushImage(src, 'app', 'v1');
      const sig = await pushImage(src, 'app', undefined, { subject: img, artifactType: 'application/vnd.example.signature' });
      // The artifact alone, by digest: its subject's referrers list in the target names it.
      const r1 = await promote(src, { repo: 'app', reference: sig.digest.text }, dst, { repo: 'sigs', tag: 'sig-1' });
      assert.deepEqual(r1.linked, { blobs: 2, manifests: 1, referrers: 0 });
      await assertWhole(dst, 'sigs', sig);
      assert.deepEqual(
        (await listReferrers(dst, 'sigs', img.digest)).map((d) => d.digest),
        [sig.digest.text],
      );
      // The image without referrers, then with them.
      await promote(src, { repo: 'app', reference: 'v1' }, dst, { repo: 'plain', tag: 'v1' });
      assert.deepEqual(await listReferrers(dst, 'plain', img.digest), []);
      const r2 = await promote(src, { repo: 'app', reference: 'v1' }, dst, { repo: 'signed', tag: 'v1' }, { referrers: true });
      assert.deepEqual(r2.linked, { blobs: 4, manifests: 2, referrers: 1 });
      await assertWhole(dst, 'signed', img);
      await assertWhole(dst, 'signed', sig);
      const refs = await listReferrers(dst, 'signed', img.digest);
      assert.deepEqual(
        refs.map((d) => [d.digest, d.artifactType]),
        [[sig.digest.text, 'application/vnd.example.signature']],
      );
      assert.equal((await getManifest(dst, 'signed', 'v1')).digest.text, img.digest.text);
    });

    withStore('bad names and missing sources: their error, and nothing written in the target', async (driver, src, dst) => {
      const img = await pushImage(src, 'app', 'v1', { layers: [randomBytes(100), randomBytes(200)] });
      const a = await pushImage(src, 'multi', undefined);
      const b = await pushImage(src, 'multi', undefined);
      await pushIndex(src, 'multi', 'latest', [a, b]);
      const to = { repo: 'app', tag: 'v1' };
      await rejectsWithCode(promote(src, { repo: 'nope', reference: 'v1' }, dst, to), 'NAME_UNKNOWN', 'unknown repository');
      await rejectsWithCode(promote(src, { repo: 'app', reference: 'v2' }, dst, to), 'MANIFEST_UNKNOWN', 'unknown tag');
      await rejectsWithCode(
        promote(src, { repo: 'app', reference: `sha256:${'0'.repeat(64)}` }, dst, to),
        'MANIFEST_UNKNOWN',
        'unknown digest',
      );
      await rejectsWithCode(promote(src, { repo: 'App', reference: 'v1' }, dst, to), 'NAME_INVALID', 'bad source name');
      await rejectsWithCode(
        promote(src, { repo: 'app', reference: 'v1' }, dst, { repo: 'a//b', tag: 'v1' }),
        'NAME_INVALID',
        'bad target name',
      );
      await rejectsWithCode(promote(src, { repo: 'app', reference: 'v1' }, dst, { repo: 'app', tag: '-v1' }), 'TAG_INVALID', 'bad tag');
      await rejectsWithCode(promote(src, { repo: 'app', reference: '../x' }, dst, to), 'TAG_INVALID', 'bad reference');
      // A layer whose data is gone, then one whose link is gone: the digests are named.
      await driver.inner.delete(blobKey(src, img.layers[1]!));
      assert.deepEqual(await rejectsWithCode(promote(src, { repo: 'app', reference: 'v1' }, dst, to), 'BLOB_UNKNOWN', 'missing data'), {
        repository: 'app',
        digests: [img.layers[1]!.text],
      });
      await driver.inner.delete(linkKey(src, 'app', img.layers[0]!));
      const detail = (await rejectsWithCode(promote(src, { repo: 'app', reference: 'v1' }, dst, to), 'BLOB_UNKNOWN', 'missing link')) as {
        digests: string[];
      };
      assert.deepEqual(detail.digests, [img.layers[0]!.text, img.layers[1]!.text].sort());
      // An index whose second child left the repository.
      await driver.inner.delete(layout.manifestLink(SRC, 'multi', b.digest));
      await rejectsWithCode(promote(src, { repo: 'multi', reference: 'latest' }, dst, to), 'MANIFEST_UNKNOWN', 'missing child');
      assert.deepEqual(await keys(driver, `${DST}/`), [], 'a failed promotion wrote into the target');
      assert.equal(driver.calls.filter((c) => c.op === 'copy').length, 0);
    });

    withStore('a target blob of another size is quarantined and replaced by the source', async (driver, src, dst) => {
      const img = await pushImage(src, 'app', 'v1', { layers: [randomBytes(4000)] });
      const layer = img.layers[0]!;
      await driver.put(blobKey(dst, layer), Buffer.from('truncated'));
      const r = await promote(src, { repo: 'app', reference: 'v1' }, dst, { repo: 'app', tag: 'v1' });
      assert.equal(r.copied.blobs, 2);
      await assertWhole(dst, 'app', img);
      const q = [];
      for await (const e of listQuarantine(dst)) q.push(e);
      assert.equal(q.length, 1);
      assert.equal(q[0]!.digest, layer.text);
      assert.equal(q[0]!.note?.by, 'promote');
    });

    test('a prune in the target while the manifests are written keeps the copied blobs (recently-used markers)', async () => {
      const { driver: inner, cleanup } = await dc.make();
      // Everything looks 5 h old: the copied blobs and links are prune candidates by age.
      const driver = new HookDriver(new AgedDriver(inner, 5 * HOUR));
      try {
        const src: Scope = { driver, ns: SRC, graceSeconds: 3600 };
        const dst: Scope = { driver, ns: DST, graceSeconds: 3600 };
        const img = await pushImage(src, 'app', 'v1', { layers: [randomBytes(100), randomBytes(200)] });
        let report: Awaited<ReturnType<typeof prune>> | undefined;
        driver.before.put = async (key) => {
          if (report || !key.startsWith(`${DST}/repos/app/_manifests/`)) return;
          report = await prune(driver, { graceSeconds: 3600, namespaces: [DST] });
        };
        const r: PromoteResult = await promote(src, { repo: 'app', reference: 'v1' }, dst, { repo: 'app', tag: 'v1' });
        assert.ok(report, 'the prune ran');
        assert.equal(report.removed.blobs.objects, 0, JSON.stringify(report.removed));
        // Nothing was lost and copied again.
        assert.equal(driver.calls.filter((c) => c.op === 'copy').length, 3);
        assert.equal(r.copied.blobs, 3);
        await assertWhole(dst, 'app', img);
        const after = await prune(driver, { graceSeconds: 3600, namespaces: [DST] });
        assert.equal(after.removed.blobs.objects, 0);
        await assertWhole(dst, 'app', img);
        assert.equal((await readTag(dst, 'app', 'v1'))?.digest, img.digest.text);
      } finally {
        await cleanup();
      }
    });

    withStore(
      'a prune that sweeps the copied blobs (markers off) costs a second copy, never a broken image',
      async (driver, src0, dst0) => {
        const src = { ...src0, graceSeconds: 0 };
        const dst = { ...dst0, graceSeconds: 0 };
        const img = await pushImage(src, 'app', 'v1', { layers: [randomBytes(100), randomBytes(200)] });
        let report: Awaited<ReturnType<typeof prune>> | undefined;
        driver.before.put = async (key) => {
          if (report || !key.startsWith(`${DST}/repos/app/_manifests/`)) return;
          report = await prune(driver, { graceSeconds: 0, namespaces: [DST], now: later(2000) });
        };
        await promote(src, { repo: 'app', reference: 'v1' }, dst, { repo: 'app', tag: 'v1' });
        assert.ok(report);
        // The three copies and the manifest's body (putManifest's own check after its writes stores it again).
        assert.equal(report.removed.blobs.objects, 4, 'the prune swept the copies (the race was played)');
        assert.equal(driver.calls.filter((c) => c.op === 'copy').length, 6);
        await assertWhole(dst, 'app', img);
        assert.equal((await readTag(dst, 'app', 'v1'))?.digest, img.digest.text);
        const after = await prune(driver, { graceSeconds: 0, namespaces: [DST], now: later(2000) });
        assert.equal(after.removed.blobs.objects, 0);
        await assertWhole(dst, 'app', img);
      },
    );
  });
}
