// The grace guarantee (run on every driver by prune.test.ts and
// prune-objectstores.test.ts): a blob a client was just told exists — HEAD or
// GET 200, a mount, a deduplicated upload — stays, with its link, so the
// manifest the client pushes next is never refused because a sweep ran in
// between. Objects are made to look two hours old (AgedDriver), so only the
// "recently used" markers can keep them; each race is played at its exact
// moment with a driver hook.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { usedBucket } from '../../src/registry/blob-use.js';
import { mountBlob, statBlob } from '../../src/registry/blobs.js';
import { layout } from '../../src/registry/layout.js';
import { deleteManifest, putManifest } from '../../src/registry/manifests.js';
import { OCI_MANIFEST } from '../../src/registry/media-types.js';
import type { Digest } from '../../src/registry/names.js';
import { prune } from '../../src/registry/prune/index.js';
import type { Scope } from '../../src/registry/scope.js';
import { uploadWhole } from '../../src/registry/uploads.js';
import {
  AgedDriver,
  HOUR,
  HookDriver,
  blobKey,
  has,
  keys,
  linkKey,
  pushBlob,
  pushImage,
  sha256,
  type DriverCase,
} from './prune-fixtures.js';

const GRACE = 60;

/** A manifest over `layer` (already in the repository, not uploaded again) and a fresh config. */
async function pushOver(s: Scope, repo: string, layer: Digest, layerSize: number): Promise<Digest> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', n: randomBytes(8).toString('hex') }));
  const cd = await pushBlob(s, repo, config);
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cd.text, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer.text, size: layerSize }],
    }),
  );
  await putManifest(s, repo, 'v2', body, OCI_MANIFEST);
  return sha256(body);
}

const isUnknown = (code: string) => (err: Error & { code?: string }) => err.code === code;

export function pruneGraceSuite(dc: DriverCase): void {
  describe(`prune grace guarantee on ${dc.name}`, () => {
    const withStore = (name: string, fn: (driver: HookDriver, s: Scope) => Promise<void>) =>
      test(name, async () => {
        const { driver: inner, cleanup } = await dc.make();
        const driver = new HookDriver(new AgedDriver(inner, 2 * HOUR));
        try {
          await fn(driver, { driver, ns: 'default', graceSeconds: GRACE });
        } finally {
          await cleanup();
          await driver.close();
        }
      });
    const opts = { graceSeconds: GRACE };
    /** An image pushed to `app` and deleted: its layer is garbage (linked in `app` only). */
    const garbageLayer = async (s: Scope) => {
      const bytes = randomBytes(300);
      const img = await pushImage(s, 'app', 'v1', { layers: [bytes] });
      await deleteManifest(s, 'app', img.digest.text);
      // The uploads noted their use; those markers are from a past period here.
      for (const k of await keys(s.driver, layout.used('default'))) await s.driver.delete(k);
      return { layer: img.layers[0]!, bytes };
    };
    const markers = async (s: Scope) => (await keys(s.driver, layout.used('default'))).length;

    withStore('control: an old unreferenced layer nobody used goes, link and data', async (driver, s) => {
      const { layer } = await garbageLayer(s);
      const r = await prune(driver, opts);
      assert.ok(!(await has(driver, linkKey(s, 'app', layer))));
      assert.ok(!(await has(driver, blobKey(s, layer))));
      assert.ok(r.removed.blobs.objects >= 1);
      await assert.rejects(pushOver(s, 'app', layer, 300), isUnknown('MANIFEST_BLOB_UNKNOWN'));
    });

    withStore('HEAD/GET: the layer a client saw stays, its manifest push succeeds; one marker per grace period', async (driver, s) => {
      const { layer } = await garbageLayer(s);
      await statBlob(s, 'app', layer); // HEAD 200: the client skips the upload
      assert.equal(await markers(s), 1);
      await statBlob(s, 'app', layer);
      assert.equal(await markers(s), 1, 'a second read in the same period writes nothing');
      const r = await prune(driver, opts);
      assert.ok(await has(driver, linkKey(s, 'app', layer)));
      assert.ok(await has(driver, blobKey(s, layer)));
      assert.equal(r.removed.blobs.objects, 2, "the deleted image's config and manifest body go");
      await pushOver(s, 'app', layer, 300);
    });

    withStore('mount: the mounted layer stays in the new repository', async (driver, s) => {
      const { layer } = await garbageLayer(s);
      assert.ok(await mountBlob(s, 'b', layer, 'app'));
      await prune(driver, opts);
      await pushOver(s, 'b', layer, 300);
    });

    withStore('deduplicated upload: the stored blob stays', async (driver, s) => {
      const { layer, bytes } = await garbageLayer(s);
      await uploadWhole(s, 'c', layer, Readable.from([bytes]), {});
      await prune(driver, opts);
      await pushOver(s, 'c', layer, 300);
    });

    withStore('a HEAD right before prune moves the link into its trash: the link is put back', async (driver, s) => {
      const { layer } = await garbageLayer(s);
      let played = false;
      driver.before.move = async (from) => {
        if (played || from !== linkKey(s, 'app', layer)) return;
        played = true;
        await statBlob(s, 'app', layer); // a failure here fails the prune run's move, and the test below
      };
      await prune(driver, opts);
      assert.ok(played);
      assert.ok(await has(driver, linkKey(s, 'app', layer)));
      assert.ok(await has(driver, blobKey(s, layer)));
      await pushOver(s, 'app', layer, 300);
      assert.deepEqual(await keys(driver, layout.trash('default')), []);
    });

    withStore('a mount right before the sweep moves the data, its manifest right after: both succeed', async (driver, s) => {
      const { layer } = await garbageLayer(s);
      let mounted = false;
      let pushed = false;
      let result = '';
      driver.before.move = async (from) => {
        if (mounted || from !== blobKey(s, layer)) return;
        mounted = true;
        // The link pass is over (app's link is gone); any blob of the namespace may be mounted.
        assert.ok(await mountBlob(s, 'm', layer));
      };
      driver.before.list = async (prefix) => {
        // The data is in the trash; prune is about to look for markers: the manifest arrives first.
        if (!mounted || pushed || prefix !== layout.used('default')) return;
        pushed = true;
        result = await pushOver(s, 'm', layer, 300).then(
          () => 'pushed',
          (err: Error) => err.message,
        );
      };
      await prune(driver, opts);
      assert.ok(mounted && pushed);
      assert.equal(result, 'pushed');
      assert.ok(await has(driver, blobKey(s, layer)));
      assert.deepEqual(await keys(driver, layout.trash('default')), []);
    });

    withStore(
      'a manifest pushed between the move into the trash and the move back succeeds (taken back from the trash)',
      async (driver, s) => {
        const { layer } = await garbageLayer(s);
        let moved = false;
        let pushed = false;
        let result = '';
        driver.before.move = async (from) => {
          if (from === linkKey(s, 'app', layer) && !moved) {
            moved = true;
            await statBlob(s, 'app', layer); // HEAD 200 (marker written), then prune moves the link
          }
        };
        driver.before.list = async (prefix) => {
          // Prune looks for markers after the move: the manifest arrives first.
          if (!moved || pushed || prefix !== layout.used('default')) return;
          pushed = true;
          result = await pushOver(s, 'app', layer, 300).then(
            () => 'pushed',
            (err: Error) => err.message,
          );
        };
        await prune(driver, opts);
        assert.ok(pushed);
        assert.equal(result, 'pushed');
        assert.ok(await has(driver, linkKey(s, 'app', layer)));
        assert.ok(await has(driver, blobKey(s, layer)));
        assert.deepEqual(await keys(driver, layout.trash('default')), []);
      },
    );

    withStore('a HEAD whose marker comes after prune looked for it answers 404 (the client uploads)', async (driver, s) => {
      const { layer } = await garbageLayer(s);
      const bucket = usedBucket(GRACE, Date.now());
      let raced = false;
      driver.before.put = async (key) => {
        if (raced || key !== layout.usedMarker('default', bucket, layer)) return;
        raced = true;
        // Between the HEAD's first look and its marker, a prune moved the link
        // into its trash and found no marker.
        await driver.inner.move(linkKey(s, 'app', layer), layout.trashLink('default', 'run', 'app', layer));
      };
      await assert.rejects(statBlob(s, 'app', layer), isUnknown('BLOB_UNKNOWN'));
      assert.ok(raced);
    });

    withStore('an upload rewriting a link prune is about to move: the link is put back', async (driver, s) => {
      const { layer, bytes } = await garbageLayer(s);
      let played = false;
      driver.before.move = async (from) => {
        if (played || from !== linkKey(s, 'app', layer)) return;
        played = true;
        // Prune looked at the old link; the same layer is pushed to `app` again right now.
        await uploadWhole(s, 'app', layer, Readable.from([bytes]), {});
      };
      await prune(driver, opts);
      assert.ok(played);
      assert.ok(await has(driver, linkKey(s, 'app', layer)));
      await pushOver(s, 'app', layer, 300);
    });

    withStore('expired marker buckets are deleted; live ones and foreign directories stay', async (driver) => {
      const d = sha256(randomBytes(10));
      const old = `${GRACE}-${Math.floor(Date.now() / (GRACE * 1000)) - 5}`;
      const live = usedBucket(GRACE, Date.now());
      await driver.put(layout.usedMarker('default', old, d), Buffer.alloc(0));
      await driver.put(layout.usedMarker('default', live, d), Buffer.alloc(0));
      await driver.put('default/_used/not-a-bucket/x', Buffer.alloc(0));
      const dry = await prune(driver, { ...opts, dryRun: true });
      assert.equal(dry.removed.markers, 0);
      assert.ok(await has(driver, layout.usedMarker('default', old, d)));
      const r = await prune(driver, opts);
      assert.equal(r.removed.markers, 1);
      assert.ok(!(await has(driver, layout.usedMarker('default', old, d))));
      assert.ok(await has(driver, layout.usedMarker('default', live, d)));
      assert.ok(await has(driver, 'default/_used/not-a-bucket/x'));
    });

    withStore('links in the trash of a dead run are put back', async (driver, s) => {
      const img = await pushImage(s, 'app', 'v1');
      const layer = img.layers[0]!;
      const dead = `${Date.now() - 2 * HOUR}-dead`;
      await driver.move(linkKey(s, 'app', layer), layout.trashLink('default', dead, 'app', layer));
      const r = await prune(driver, opts);
      assert.equal(r.restored.links, 1);
      assert.ok(await has(driver, linkKey(s, 'app', layer)));
      assert.deepEqual(await keys(driver, layout.trash('default')), []);
    });
  });
}
