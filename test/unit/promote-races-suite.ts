// Promotion racing other writers of the source and the target (memory and
// filesystem drivers; the filesystem's copy is a hard link): a source blob
// deleted (or pruned) while the blobs are copied, two promotions of one image
// into one tag at once with a push of the same layer into the target. Each
// ends with a whole image under the tag, or an error and no tag: never a tag
// pointing at something missing, never a blob that does not hash to its name.
// Run on memory and fs by promote-races.test.ts, on Swift and S3 (server-side
// copies) by test/objectstores/promote-races.test.ts.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { isRegistryError } from '../../src/registry/errors.js';
import { deleteManifest, getManifest } from '../../src/registry/manifests.js';
import { promote } from '../../src/registry/promote.js';
import { prune } from '../../src/registry/prune/index.js';
import type { Scope } from '../../src/registry/scope.js';
import { readTag } from '../../src/registry/tags.js';
import {
  type DriverCase,
  HookDriver,
  blobKey,
  has,
  keys,
  later,
  linkKey,
  pushBlob,
  pushImage,
  sha256,
  type Image,
} from './prune-fixtures.js';

const SRC = 'bs-race';
const DST = 'released';

/** Every blob of the store hashes to its name. */
async function blobsHashToTheirNames(s: Scope): Promise<number> {
  let n = 0;
  for (const key of await keys(s.driver, `${s.ns}/blobs/`)) {
    const m = /\/blobs\/sha256\/(?:[0-9a-f]{2}\/)?([0-9a-f]{64})(?:\/data)?$/.exec(key);
    if (!m) continue;
    const body = await s.driver.get(key);
    assert.ok(body, key);
    assert.equal(sha256(body).text, `sha256:${m[1]}`, `${key} holds other bytes`);
    n++;
  }
  return n;
}

/** The tag names a whole image (manifest, links, blobs hashing to their names), or there is no tag. */
async function wholeOrUntagged(s: Scope, repo: string, tag: string, img: Image): Promise<'whole' | 'untagged'> {
  const t = await readTag(s, repo, tag);
  if (!t) return 'untagged';
  assert.equal(t.digest, img.digest.text);
  const m = await getManifest(s, repo, tag);
  assert.equal(sha256(m.body).text, img.digest.text);
  for (const d of [img.config, ...img.layers]) {
    assert.ok(await has(s.driver, linkKey(s, repo, d)), `${s.ns}: link ${d.text} missing under a tag`);
    const body = await s.driver.get(blobKey(s, d));
    assert.ok(body, `${s.ns}: blob ${d.text} missing under a tag`);
    assert.equal(sha256(body).text, d.text);
  }
  return 'whole';
}

export function promoteRaceTests(dc: DriverCase): void {
  describe(`promotion races on ${dc.name}`, () => {
    // One store for the suite (a Swift container or S3 bucket costs seconds to make and empty),
    // namespaces of their own for each test.
    let store: Awaited<ReturnType<DriverCase['make']>> | undefined;
    let n = 0;
    before(async () => {
      store = await dc.make();
    });
    after(() => store?.cleanup());
    const withStore = (name: string, fn: (driver: HookDriver, src: Scope, dst: Scope) => Promise<void>) =>
      test(name, async () => {
        const driver = new HookDriver(store!.driver);
        n++;
        await fn(driver, { driver, ns: `${SRC}-${n}`, graceSeconds: 0 }, { driver, ns: `${DST}-${n}`, graceSeconds: 3600 });
      });

    withStore('a source blob deleted while the blobs are copied: BLOB_UNKNOWN and no tag in the target', async (driver, src, dst) => {
      const img = await pushImage(src, 'app', 'v1', { layers: [randomBytes(3000), randomBytes(5000)] });
      const victim = blobKey(src, img.layers[1]!);
      driver.before.copy = async (from) => {
        if (from === victim) await driver.inner.delete(victim);
      };
      let failed: unknown;
      await promote(src, { repo: 'app', reference: 'v1' }, dst, { repo: 'app', tag: 'v1' }).catch((e: unknown) => (failed = e));
      assert.ok(isRegistryError(failed) && failed.code === 'BLOB_UNKNOWN', String(failed));
      assert.equal(await wholeOrUntagged(dst, 'app', 'v1', img), 'untagged');
      await blobsHashToTheirNames(dst);
      await blobsHashToTheirNames(src);
    });

    withStore(
      'a prune of the source (its manifest deleted, grace 0) while the blobs are copied: whole or untagged',
      async (driver, src, dst) => {
        const img = await pushImage(src, 'app', 'v1', { layers: [randomBytes(3000), randomBytes(5000)] });
        let report: Awaited<ReturnType<typeof prune>> | undefined;
        driver.before.copy = async () => {
          if (report) return;
          report = { removed: { blobs: { objects: -1 } } } as never; // once
          await deleteManifest(src, 'app', img.digest.text);
          report = await prune(driver, { graceSeconds: 0, namespaces: [src.ns], now: later(2000) });
        };
        await promote(src, { repo: 'app', reference: 'v1' }, dst, { repo: 'app', tag: 'v1' }).catch((e: unknown) => {
          assert.ok(isRegistryError(e) && e.code === 'BLOB_UNKNOWN', String(e));
        });
        assert.ok(report && report.removed.blobs.objects > 0, `the prune removed the source's blobs: ${JSON.stringify(report?.removed)}`);
        await wholeOrUntagged(dst, 'app', 'v1', img);
        await blobsHashToTheirNames(dst);
        await blobsHashToTheirNames(src);
      },
    );

    withStore(
      'two promotions into one tag at once, and a push of the same layer to the target: both succeed, one whole image',
      async (_driver, src, dst) => {
        const layer = randomBytes(20_000);
        const img = await pushImage(src, 'app', 'v1', { layers: [layer, randomBytes(700)] });
        const [a, b] = await Promise.all([
          promote(src, { repo: 'app', reference: 'v1' }, dst, { repo: 'app', tag: 'rel' }),
          promote(src, { repo: 'app', reference: img.digest.text }, dst, { repo: 'app', tag: 'rel' }),
          pushBlob(dst, 'app', layer),
        ]);
        assert.equal(a.digest.text, img.digest.text);
        assert.equal(b.digest.text, img.digest.text);
        assert.equal(await wholeOrUntagged(dst, 'app', 'rel', img), 'whole');
        assert.ok((await blobsHashToTheirNames(dst)) >= 3);
        assert.equal(await wholeOrUntagged(src, 'app', 'v1', img), 'whole');
      },
    );
  });
}
