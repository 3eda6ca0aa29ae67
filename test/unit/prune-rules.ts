// The prune rules suite, run on every driver by prune.test.ts (memory, fs)
// and prune-objectstores.test.ts (Swift, S3): what goes and what stays —
// blobs, links, manifests of every kind, referrers, expiration, retention,
// untagged manifests, grace, corrupt manifests, namespaces, dry run.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { layout } from '../../src/registry/layout.js';
import { deleteManifest, getManifest } from '../../src/registry/manifests.js';
import { parseDigest } from '../../src/registry/names.js';
import { prune, summaryText, totals, type PruneOptions } from '../../src/registry/prune/index.js';
import { listReferrers } from '../../src/registry/referrers.js';
import type { Scope } from '../../src/registry/scope.js';
import { listTags } from '../../src/registry/tags.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import {
  HOUR,
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
  setTagPushed,
  type DriverCase,
} from './prune-fixtures.js';

// Grace 0, and a clock 2 s ahead: some stores (S3 on Swift) round listed
// modification times up to the next second.
const NOW: PruneOptions = { graceSeconds: 0, uploadAgeSeconds: 3600, now: later(2000) };

/** The suite, on one driver (run by prune*.test.ts). */
export function pruneRuleSuite(dc: DriverCase): void {
  describe(`prune rules on ${dc.name}`, () => {
    const withStore = (name: string, fn: (driver: StorageDriver, s: Scope) => Promise<void>) =>
      test(name, async () => {
        const { driver, cleanup } = await dc.make();
        try {
          // graceSeconds 0: a deployment that promises no grace writes no "recently used"
          // markers; these tests prune with grace 0 (markers: prune-grace.ts).
          await fn(driver, { driver, ns: 'default', graceSeconds: 0 });
        } finally {
          await cleanup();
          await driver.close?.();
        }
      });

    withStore('unreferenced blobs go, referenced ones stay; the dry run deletes nothing and says the same', async (driver, s) => {
      const img = await pushImage(s, 'app', 'v1');
      const stray = await pushBlob(s, 'app');
      const before = (await keys(driver, '')).sort();
      const dry = await prune(driver, { ...NOW, dryRun: true });
      assert.deepEqual((await keys(driver, '')).sort(), before, 'dry run changed storage');
      const real = await prune(driver, NOW);
      for (const r of [dry, real]) {
        assert.equal(r.removed.blobs.objects, 1);
        assert.equal(r.removed.blobs.bytes, 64);
        assert.equal(r.removed.links, 1);
        assert.equal(r.kept.manifests.objects, 1);
        assert.equal(r.kept.blobs.objects, 3); // manifest body, config, layer
      }
      assert.ok(!(await has(driver, blobKey(s, stray))));
      assert.ok(!(await has(driver, linkKey(s, 'app', stray))));
      for (const d of [img.digest, img.config, ...img.layers]) assert.ok(await has(driver, blobKey(s, d)));
      assert.equal((await getManifest(s, 'app', 'v1')).digest.text, img.digest.text);
      assert.deepEqual(await keys(driver, 'default/_trash/'), []);
      const t = totals(real);
      assert.equal(t.removed.bytes, 64);
      assert.match(summaryText(real), /removed: 2 objects/);
      assert.doesNotThrow(() => JSON.parse(JSON.stringify(real)));
    });

    withStore('a deleted image loses its unique blobs; layers another repository uses stay', async (driver, s) => {
      const shared = randomBytes(200);
      const a = await pushImage(s, 'a', 'v1', { layers: [shared, randomBytes(50)] });
      const b = await pushImage(s, 'b', 'v1', { layers: [shared] });
      await deleteManifest(s, 'a', a.digest.text);
      const r = await prune(driver, NOW);
      assert.equal(r.removed.blobs.objects, 3); // a's manifest body, config, unique layer
      assert.equal(r.removed.links, 3); // a's links: config, shared, unique
      assert.ok(await has(driver, blobKey(s, a.layers[0]!)), 'shared layer must stay');
      assert.ok(!(await has(driver, blobKey(s, a.layers[1]!))));
      assert.ok(!(await has(driver, blobKey(s, a.config))));
      assert.ok(!(await has(driver, blobKey(s, a.digest))));
      assert.ok(!(await has(driver, linkKey(s, 'a', a.layers[0]!))));
      for (const d of [b.digest, b.config, ...b.layers]) assert.ok(await has(driver, blobKey(s, d)));
    });

    for (const docker of [false, true]) {
      withStore(
        `${docker ? 'Docker manifest list' : 'OCI index'}: children of a kept index stay, even untagged and expired`,
        async (driver, s) => {
          const c1 = await pushImage(s, 'multi', undefined, { docker });
          const c2 = await pushImage(s, 'multi', undefined, { docker });
          const idx = await pushIndex(s, 'multi', 'latest', [c1, c2], docker);
          await setPushed(s, 'multi', c1.digest, 10 * HOUR);
          const rules = [{ namespace: '*', repository: '**', keepTags: [], deleteUntaggedAfter: 0 }];
          let r = await prune(driver, { ...NOW, retention: rules, expirationSeconds: 3600 });
          assert.equal(r.removed.manifests.objects, 0);
          assert.equal(r.removed.blobs.objects, 0);
          for (const c of [c1, c2]) assert.ok(await has(driver, manifestKey(s, 'multi', c.digest)));
          // Without the index, the untagged children go, with their blobs.
          await deleteManifest(s, 'multi', idx.text);
          r = await prune(driver, { ...NOW, retention: rules });
          assert.equal(r.removed.manifests.objects, 2);
          assert.deepEqual(
            r.items.manifests.map((m) => m.reason),
            ['untagged', 'untagged'],
          );
          assert.deepEqual(await keys(driver, 'default/blobs/'), []);
          assert.deepEqual(await keys(driver, layout.repoBlobLinks('default', 'multi')), []);
        },
      );
    }

    withStore('referrers: kept with their subject (and keep their blobs); gone with it', async (driver, s) => {
      const img = await pushImage(s, 'app', 'v1');
      const sig = await pushImage(s, 'app', undefined, { subject: img, artifactType: 'application/vnd.example.sig' });
      const sbom = await pushImage(s, 'app', undefined, { subject: sig, artifactType: 'application/vnd.example.sbom' });
      let r = await prune(driver, { ...NOW, retention: [{ namespace: '*', repository: '**', keepTags: [], deleteUntaggedAfter: 0 }] });
      assert.equal(r.removed.manifests.objects, 0);
      assert.equal(r.removed.blobs.objects, 0);
      assert.equal((await listReferrers(s, 'app', img.digest)).length, 1);
      // The subject goes (tag and manifest): its referrer chain goes too.
      await deleteManifest(s, 'app', img.digest.text);
      r = await prune(driver, NOW);
      assert.equal(r.removed.manifests.objects, 2);
      assert.deepEqual(r.items.manifests.map((m) => m.reason).sort(), ['subject missing', 'subject removed']);
      assert.ok(r.removed.referrers >= 1);
      for (const x of [sig, sbom]) {
        assert.ok(!(await has(driver, manifestKey(s, 'app', x.digest))));
        assert.ok(!(await has(driver, blobKey(s, x.config))));
      }
      assert.deepEqual(await keys(driver, layout.referrers('default', 'app')), []);
      assert.deepEqual(await keys(driver, 'default/blobs/'), []);
    });

    withStore('expiration by push time; tags of an expired manifest go; keep-tags patterns never expire', async (driver, s) => {
      const old = await pushImage(s, 'app', 'old');
      const rel = await pushImage(s, 'app', 'release-1');
      const fresh = await pushImage(s, 'app', 'fresh');
      await setPushed(s, 'app', old.digest, 3 * HOUR);
      await setPushed(s, 'app', rel.digest, 3 * HOUR);
      const rules = [{ namespace: '*', repository: 'app', keepTags: ['release-*'] }];
      const r = await prune(driver, { ...NOW, expirationSeconds: 7200, retention: rules });
      assert.deepEqual(
        r.items.manifests.map((m) => [m.digest, m.reason]),
        [[old.digest.text, 'expired']],
      );
      assert.deepEqual(
        r.items.tags.map((t) => [t.tag, t.reason]),
        [['old', 'manifest removed (expired)']],
      );
      assert.deepEqual((await listTags(s, 'app')).tags, ['fresh', 'release-1']);
      assert.ok(!(await has(driver, blobKey(s, old.config))));
      for (const d of [rel.config, fresh.config]) assert.ok(await has(driver, blobKey(s, d)));
    });

    withStore('retention keep-last: older surplus tags go with the manifests they leave untagged', async (driver, s) => {
      const imgs = [];
      for (let i = 0; i < 5; i++) {
        imgs.push(await pushImage(s, 'ci/build', `b${i}`));
        await setTagPushed(s, 'ci/build', `b${i}`, (10 - i) * 60_000);
      }
      // b0 also tagged "stable" (kept by pattern): its manifest stays though b0 goes.
      await pushImage(s, 'ci/build', 'other'); // in the counted set as the newest
      const { putManifest } = await import('../../src/registry/manifests.js');
      await putManifest(s, 'ci/build', 'stable', imgs[0]!.body, 'application/vnd.oci.image.manifest.v1+json');
      await setTagPushed(s, 'ci/build', 'b0', 10 * 60_000);
      const rules = [
        { namespace: '*', repository: 'ci/**', keepLast: 2, keepTags: ['stable'] },
        { namespace: '*', repository: '**', keepLast: 0, keepTags: [] },
      ];
      const r = await prune(driver, { ...NOW, retention: rules });
      assert.deepEqual(r.items.tags.map((t) => t.tag).sort(), ['b0', 'b1', 'b2', 'b3']);
      assert.deepEqual((await listTags(s, 'ci/build')).tags.sort(), ['b4', 'other', 'stable']);
      assert.deepEqual(r.items.manifests.map((m) => m.digest).sort(), [imgs[1]!, imgs[2]!, imgs[3]!].map((i) => i.digest.text).sort());
      assert.ok(r.items.manifests.every((m) => m.reason === 'retention: every tag removed'));
      assert.ok(await has(driver, manifestKey(s, 'ci/build', imgs[0]!.digest)));
    });

    withStore('untagged manifests go after the configured delay, younger ones stay', async (driver, s) => {
      const oldU = await pushImage(s, 'app', undefined);
      const newU = await pushImage(s, 'app', undefined);
      const tagged = await pushImage(s, 'app', 'v1');
      await setPushed(s, 'app', oldU.digest, 2 * HOUR);
      await setPushed(s, 'app', tagged.digest, 2 * HOUR);
      const rules = [{ namespace: 'default', repository: 'app', keepTags: [], deleteUntaggedAfter: 3600 }];
      const r = await prune(driver, { ...NOW, retention: rules });
      assert.deepEqual(
        r.items.manifests.map((m) => [m.digest, m.reason]),
        [[oldU.digest.text, 'untagged']],
      );
      assert.ok(await has(driver, manifestKey(s, 'app', newU.digest)));
      assert.ok(await has(driver, manifestKey(s, 'app', tagged.digest)));
      // Without a rule, untagged manifests stay.
      await setPushed(s, 'app', newU.digest, 2 * HOUR);
      assert.equal((await prune(driver, NOW)).removed.manifests.objects, 0);
    });

    withStore('nothing younger than the grace period goes', async (driver, s) => {
      const img = await pushImage(s, 'app', 'v1');
      const stray = await pushBlob(s, 'app');
      await deleteManifest(s, 'app', img.digest.text);
      const r = await prune(driver, { graceSeconds: 3600, expirationSeconds: 0 });
      assert.equal(totals(r).removed.objects, 0);
      // The manifest body has no link; the other three are kept by their young links.
      assert.equal(r.kept.youngBlobs, 1);
      assert.equal(r.kept.links, 3);
      assert.ok(await has(driver, blobKey(s, stray)));
      // Past twice the grace it is all garbage (blobs and links are kept for 2 × grace by
      // their own times; exactly 2 h is the boundary, and S3's whole-second times can
      // round a just-written object's time up past it).
      const r2 = await prune(driver, { graceSeconds: 3600, now: later(3 * HOUR) });
      assert.equal(r2.removed.blobs.objects, 4);
      assert.equal(r2.removed.links, 3);
      assert.deepEqual(await keys(driver, 'default/blobs/'), []);
    });

    withStore('a corrupt or unknown manifest is reported and kept, with its repository links; the run goes on', async (driver, s) => {
      const bad = await pushImage(s, 'bad', 'v1');
      const stray = await pushBlob(s, 'bad');
      await driver.put(blobKey(s, bad.digest), Buffer.from('{not json')); // corrupt body
      const unk = await pushImage(s, 'weird', 'v1');
      await driver.put(manifestKey(s, 'weird', unk.digest), Buffer.from('garbage')); // corrupt link
      const good = await pushImage(s, 'good', 'v1');
      const goodStray = await pushBlob(s, 'good');
      const r = await prune(driver, NOW);
      assert.ok(
        r.problems.some((p) => p.repository === 'bad' && p.object === bad.digest.text),
        JSON.stringify(r.problems),
      );
      assert.ok(r.problems.some((p) => p.repository === 'weird'));
      assert.ok(await has(driver, manifestKey(s, 'bad', bad.digest)));
      assert.ok(await has(driver, linkKey(s, 'bad', stray)));
      assert.ok(await has(driver, blobKey(s, stray)));
      assert.ok(await has(driver, blobKey(s, unk.config)));
      assert.ok(!(await has(driver, blobKey(s, goodStray))), 'other repositories are still pruned');
      assert.ok(await has(driver, blobKey(s, good.config)));
    });

    withStore('dangling tags and referrer entries go', async (driver, s) => {
      const img = await pushImage(s, 'app', 'v1');
      await driver.put(
        layout.tag('default', 'app', 'ghost'),
        Buffer.from(JSON.stringify({ digest: `sha256:${'a'.repeat(64)}`, pushed: 1 })),
      );
      const ghost = parseDigest(`sha256:${'b'.repeat(64)}`);
      await driver.put(layout.referrer('default', 'app', img.digest, ghost), Buffer.from('{}'));
      const r = await prune(driver, NOW);
      assert.deepEqual(
        r.items.tags.map((t) => [t.tag, t.reason]),
        [['ghost', 'dangling: manifest not in repository']],
      );
      assert.equal(r.removed.referrers, 1);
      assert.deepEqual((await listTags(s, 'app')).tags, ['v1']);
    });

    withStore('namespaces are independent', async (driver) => {
      const one: Scope = { driver, ns: 'one', graceSeconds: 0 };
      const two: Scope = { driver, ns: 'two.example', graceSeconds: 0 };
      const bytes = randomBytes(300);
      const img = await pushImage(one, 'app', 'v1', { layers: [bytes] });
      const d = await pushBlob(two, 'other', bytes); // same digest, unreferenced in "two"
      assert.equal(d.text, img.layers[0]!.text);
      const r = await prune(driver, NOW);
      assert.deepEqual(r.namespaces, ['one', 'two.example']);
      assert.ok(await has(driver, blobKey(one, d)));
      assert.ok(!(await has(driver, blobKey(two, d))));
      const only = await prune(driver, { ...NOW, namespaces: ['one'], dryRun: true });
      assert.deepEqual(only.namespaces, ['one']);
    });

    withStore('a repository left with nothing loses its catalog entry; nested and kept ones stay', async (driver, s) => {
      const gone = await pushImage(s, 'a', 'v1');
      await pushImage(s, 'a/b', 'v1'); // nested: "a" holds nothing of its own once v1 goes
      const kept = await pushImage(s, 'keep', 'v1');
      await deleteManifest(s, 'a', gone.digest.text);
      const catalog = async () =>
        (await keys(driver, layout.catalog('default'))).map((k) => layout.repoFromCatalogKey('default', k)).sort();
      assert.deepEqual(await catalog(), ['a', 'a/b', 'keep']);
      const dry = await prune(driver, { ...NOW, dryRun: true });
      assert.equal(dry.removed.catalogEntries, 0, 'the dry run cannot know: the links it would remove are still there');
      const r = await prune(driver, NOW);
      assert.equal(r.removed.catalogEntries, 1);
      assert.deepEqual(await catalog(), ['a/b', 'keep']);
      assert.equal((await getManifest(s, 'keep', 'v1')).digest.text, kept.digest.text);
      const young = await pushImage(s, 'young', 'v1');
      await deleteManifest(s, 'young', young.digest.text);
      await prune(driver, { ...NOW, graceSeconds: 3600, now: undefined });
      assert.ok((await catalog()).includes('young'), 'an entry younger than the grace stays');
    });

    withStore('nested repositories, and repositories with links only (a push in progress), are found', async (driver, s) => {
      const img = await pushImage(s, 'a', 'v1');
      const nested = await pushImage(s, 'a/b/c', 'v1');
      const inflight = await pushBlob(s, 'new/repo'); // no manifest, no catalog entry yet
      const r = await prune(driver, { graceSeconds: 3600 });
      assert.equal(r.repositories, 3);
      assert.equal(r.kept.manifests.objects, 2);
      for (const d of [img.config, nested.config, inflight]) assert.ok(await has(driver, blobKey(s, d)));
    });
  });
}
