// The prune safety suite (run on every driver by prune.test.ts and
// prune-objectstores.test.ts): every race a push can
// run into is played at the exact moment (a driver hook), and the image must
// come out whole. Also: stale uploads (including crashed finishes whose
// chunks are the parts of a published blob), and trash left by a dead run.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { linkBlob } from '../../src/registry/blobs.js';
import { layout } from '../../src/registry/layout.js';
import { deleteManifest, getManifest, putManifest } from '../../src/registry/manifests.js';
import { parseDigest, type Digest } from '../../src/registry/names.js';
import { prune } from '../../src/registry/prune/index.js';
import type { Scope } from '../../src/registry/scope.js';
import { listTags, readTag, setTag } from '../../src/registry/tags.js';
import { appendChunk, startUpload } from '../../src/registry/uploads.js';
import { newPartName, parseUploadRecord } from '../../src/registry/upload-record.js';
import {
  HOUR,
  HookDriver,
  blobKey,
  has,
  keys,
  later,
  linkKey,
  manifestKey,
  pushBlob,
  pushImage,
  pushIndex,
  setPushed,
  sha256,
  type Image,
  type DriverCase,
} from './prune-fixtures.js';

/** A clock 2 s ahead (some stores round listed modification times up to the next second). */
const SOON = later(2000);

/** Every blob and manifest of an image is there and has the right digest. */
async function assertWhole(s: Scope, repo: string, img: Image): Promise<void> {
  const m = await getManifest(s, repo, img.digest.text);
  assert.equal(sha256(m.body).text, img.digest.text);
  for (const d of [img.config, ...img.layers]) {
    assert.ok(await has(s.driver, linkKey(s, repo, d)), `link ${d.text} missing`);
    const body = await s.driver.get(blobKey(s, d));
    assert.ok(body, `blob ${d.text} missing`);
    assert.equal(sha256(body).text, d.text);
  }
}

/** The suite, on one driver (run by prune*.test.ts). */
export function pruneSafetySuite(dc: DriverCase): void {
  describe(`prune safety on ${dc.name}`, () => {
    const withStore = (name: string, fn: (driver: HookDriver, s: Scope) => Promise<void>) =>
      test(name, async () => {
        const { driver: inner, cleanup } = await dc.make();
        const driver = new HookDriver(inner);
        try {
          // graceSeconds 0: no "recently used" markers (those are tested in prune-grace.ts).
          await fn(driver, { driver, ns: 'default', graceSeconds: 0 });
        } finally {
          await cleanup();
          await driver.close();
        }
      });

    withStore('a blob that gets a new link while it is being swept is put back', async (driver, s) => {
      const old = await pushImage(s, 'a', 'v1');
      await deleteManifest(s, 'a', old.digest.text);
      const layer = old.layers[0]!;
      let played = false;
      driver.before.move = async (from) => {
        if (played || from !== blobKey(s, layer)) return;
        played = true;
        // A push to "b" mounts the layer (its data existed) right now.
        await linkBlob(s, 'b', layer);
      };
      const r = await prune(driver, { graceSeconds: 0, now: SOON });
      assert.ok(played);
      assert.equal(r.restored.blobs, 1);
      assert.ok(await has(driver, blobKey(s, layer)));
      assert.ok(!(await has(driver, blobKey(s, old.config))));
      assert.deepEqual(await keys(driver, 'default/_trash/'), []);
    });

    withStore('a manifest pushed while its layer link is being removed gets the link back', async (driver, s) => {
      const shared = randomBytes(100);
      const a = await pushImage(s, 'app', 'v1', { layers: [shared] });
      await deleteManifest(s, 'app', a.digest.text);
      const layer = a.layers[0]!;
      let b: Image | undefined;
      // Prune moves the link into its trash (and would delete it from there).
      driver.before.move = async (key) => {
        if (b || key !== linkKey(s, 'app', layer)) return;
        // The client saw the layer (HEAD 200) and skipped its upload: only the manifest is pushed.
        b = await pushImage(s, 'app', 'v2', { layers: [shared] });
      };
      const r = await prune(driver, { graceSeconds: 0, now: SOON });
      assert.ok(b);
      assert.ok(r.restored.links >= 1, JSON.stringify(r.restored));
      await assertWhole(s, 'app', b);
      // The next run keeps it all.
      const r2 = await prune(driver, { graceSeconds: 0, now: SOON });
      assert.equal(r2.removed.blobs.objects, 0);
      await assertWhole(s, 'app', b);
    });

    withStore('an index pushed over an expiring child while it is being removed gets the child back', async (driver, s) => {
      const child = await pushImage(s, 'multi', undefined);
      await setPushed(s, 'multi', child.digest, 5 * HOUR);
      let pushed = false;
      driver.before.delete = async (key) => {
        if (pushed || key !== manifestKey(s, 'multi', child.digest)) return;
        pushed = true;
        await pushIndex(s, 'multi', 'latest', [child]);
      };
      const r = await prune(driver, { graceSeconds: 0, expirationSeconds: 3600, now: SOON });
      assert.ok(pushed);
      assert.equal(r.restored.manifests, 1);
      await assertWhole(s, 'multi', child);
      const idx = await getManifest(s, 'multi', 'latest');
      assert.equal(idx.mediaType, 'application/vnd.oci.image.index.v1+json');
    });

    withStore('a tag re-pointed between decision and delete is kept, with its manifest', async (driver, s) => {
      const a = await pushImage(s, 'app', 'old');
      const b = await pushImage(s, 'app', 'other');
      await setPushed(s, 'app', a.digest, 5 * HOUR);
      let reads = 0;
      driver.before.get = async (key) => {
        if (key !== layout.tag('default', 'app', 'old') || ++reads !== 2) return;
        await setTag(s, 'app', 'old', b.digest); // pushed again, elsewhere
      };
      const r = await prune(driver, { graceSeconds: 0, expirationSeconds: 3600, now: SOON });
      assert.ok(r.changedBeforeDelete >= 1);
      assert.equal((await readTag(s, 'app', 'old'))?.digest, b.digest.text);
      await assertWhole(s, 'app', b);
    });

    withStore('putManifest fails (and takes its tag back) when a blob vanishes under it', async (driver, s) => {
      const img = await pushImage(s, 'app', undefined);
      const layer = img.layers[0]!;
      driver.before.put = async (key) => {
        if (key.includes('/_manifests/')) await driver.inner.delete(blobKey(s, layer)); // a prune got there
      };
      const doc = JSON.parse(img.body.toString('utf8')) as { annotations?: Record<string, string> };
      doc.annotations = { again: '1' };
      await assert.rejects(
        putManifest(s, 'app', 'v1', Buffer.from(JSON.stringify(doc)), 'application/vnd.oci.image.manifest.v1+json'),
        (err: Error & { code?: string }) => err.code === 'MANIFEST_BLOB_UNKNOWN',
      );
      assert.deepEqual((await listTags(s, 'app')).tags, []);
    });

    withStore('stale uploads go, fresh ones and record-less directories stay; the dry run lists them', async (driver, s) => {
      const stale = await startUpload(s, 'app');
      await appendChunk(s, 'app', stale.id, Readable.from([randomBytes(1000)]), {});
      const fresh = await startUpload(s, 'app');
      const orphan = layout.uploadPart('default', '00000000-0000-4000-8000-000000000000', newPartName(0));
      await driver.put(orphan, randomBytes(10));
      const staleRecord = layout.uploadRecord('default', stale.id);
      const rec = JSON.parse((await driver.get(staleRecord))!.toString('utf8')) as { updated: number };
      rec.updated = Date.now() - 2 * HOUR;
      await driver.put(staleRecord, Buffer.from(JSON.stringify(rec)));
      const opts = { graceSeconds: 3600, uploadAgeSeconds: 3600, now: () => Date.now() + 30 * 60_000 };
      const dry = await prune(driver, { ...opts, dryRun: true });
      assert.deepEqual(
        dry.items.uploads.map((u) => [u.id, u.reason]),
        [[stale.id, 'stale']],
      );
      assert.ok(await has(driver, staleRecord));
      const r = await prune(driver, opts);
      assert.equal(r.removed.uploads.objects, 1);
      assert.ok(r.removed.uploads.bytes > 1000);
      assert.equal(r.kept.uploads.objects, 1);
      assert.equal(r.kept.orphanUploadDirs, 1);
      assert.deepEqual(await keys(driver, layout.uploadDir('default', stale.id)), []);
      assert.ok(await has(driver, layout.uploadRecord('default', fresh.id)));
      assert.ok(await has(driver, orphan));
    });

    for (const variant of ['recorded chunks', 'final chunk not in the record', 'finished as sha512'] as const) {
      withStore(`a crashed finish (${variant}): the blob stays whole, leftovers go through deleteConcatSources`, async (driver, s) => {
        driver.concatKeepsSources = true; // as on Swift: a plain delete of a source would break the blob
        const part1 = randomBytes(3000);
        const part2 = randomBytes(2000);
        const up = await startUpload(s, 'app');
        await appendChunk(s, 'app', up.id, Readable.from([part1]), {});
        const recorded = parseUploadRecord((await driver.get(layout.uploadRecord('default', up.id)))!)!;
        let parts = recorded.parts.map((p) => layout.uploadPart('default', up.id, p.name));
        let all = part1;
        if (variant !== 'recorded chunks') {
          // finishUpload stores the final chunk without writing the record.
          const last = layout.uploadPart('default', up.id, newPartName(part1.length));
          await driver.put(last, part2);
          parts = [...parts, last];
          all = Buffer.concat([part1, part2]);
        }
        const d: Digest =
          variant === 'finished as sha512' ? parseDigest(`sha512:${createHash('sha512').update(all).digest('hex')}`) : sha256(all);
        await driver.concat(blobKey(s, d), parts);
        await linkBlob(s, 'app', d);
        // ... and the process died here: record and chunks are left.
        driver.calls.length = 0;
        const r = await prune(driver, { graceSeconds: 3600, uploadAgeSeconds: 0 });
        assert.deepEqual(
          r.items.uploads.map((u) => u.reason),
          ['finished'],
        );
        const deletedChunks = driver.calls.filter((c) => c.op === 'delete' && c.key.includes('/uploads/') && !c.key.endsWith('/record'));
        assert.deepEqual(deletedChunks, [], 'chunks of a published blob must not be deleted plainly');
        assert.deepEqual(
          driver.calls
            .filter((c) => c.op === 'deleteConcatSources')
            .map((c) => c.key)
            .sort(),
          parts.sort(),
        );
        const body = await driver.get(blobKey(s, d));
        assert.ok(body?.equals(all));
        assert.deepEqual(await keys(driver, layout.uploadDir('default', up.id)), []);
      });
    }

    withStore('an abandoned upload on a backend that keeps concat sources: chunks deleted (nothing was published)', async (driver, s) => {
      driver.concatKeepsSources = true;
      const up = await startUpload(s, 'app');
      await appendChunk(s, 'app', up.id, Readable.from([randomBytes(500)]), {});
      const r = await prune(driver, { graceSeconds: 3600, uploadAgeSeconds: 0 });
      assert.deepEqual(
        r.items.uploads.map((u) => u.reason),
        ['stale'],
      );
      assert.deepEqual(await keys(driver, layout.uploadDir('default', up.id)), []);
      // Through deleteConcatSources (which keeps what a blob published meanwhile uses), never a plain delete.
      assert.deepEqual(
        driver.calls.filter((c) => c.op === 'delete' && !c.key.endsWith('/record')),
        [],
      );
    });

    withStore("trash left by a dead run is put back before the mark; a live run's trash is left alone", async (driver, s) => {
      const img = await pushImage(s, 'app', 'v1');
      const layer = img.layers[0]!;
      const deadRun = `${Date.now() - 2 * HOUR}-dead`;
      await driver.move(blobKey(s, layer), layout.trashBlob('default', deadRun, layer));
      const liveRun = `${Date.now()}-live`;
      const stray = randomBytes(20);
      const strayD = sha256(stray);
      await driver.put(layout.trashBlob('default', liveRun, strayD), stray);
      await driver.put(layout.trashAlive('default', liveRun), Buffer.from('1'));
      const r = await prune(driver, { graceSeconds: 0, now: SOON });
      assert.equal(r.restored.blobs, 1);
      await assertWhole(s, 'app', img);
      assert.ok(await has(driver, layout.trashBlob('default', liveRun, strayD)));
      assert.deepEqual(
        (await keys(driver, 'default/_trash/')).filter((k) => k.includes('dead')),
        [],
      );
    });

    withStore('a push into an emptied repository while its catalog entry is removed gets the entry back', async (driver, s) => {
      const old = await pushImage(s, 'app', 'v1');
      await deleteManifest(s, 'app', old.digest.text);
      let img: Image | undefined;
      driver.before.delete = async (key) => {
        if (img || key !== layout.catalogEntry('default', 'app')) return;
        img = await pushImage(s, 'app', 'v2'); // its catalog write found the entry still there
      };
      const r = await prune(driver, { graceSeconds: 0, now: SOON });
      assert.ok(img);
      assert.equal(r.restored.catalogEntries, 1);
      assert.ok(await has(driver, layout.catalogEntry('default', 'app')));
      await assertWhole(s, 'app', img);
    });

    withStore('a blob pushed during the run (young) is never swept, even without a link', async (driver, s) => {
      const bytes = randomBytes(30);
      const d = sha256(bytes);
      await driver.put(blobKey(s, d), bytes);
      const r = await prune(driver, { graceSeconds: 60 });
      assert.equal(r.kept.youngBlobs, 1);
      assert.ok(await has(driver, blobKey(s, d)));
      void pushBlob;
    });
  });
}
