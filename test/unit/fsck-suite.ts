// The fsck suite (run on every driver by fsck.test.ts and
// fsck-objectstores.test.ts): each kind of damage is planted in a store
// filled through the registry's own push code, then fsck must find it, say
// what it breaks, repair it with --repair (or say why not), and a run after
// that must agree. Orphans are reported and left alone.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { usedBucket } from '../../src/registry/blob-use.js';
import { EXIT, exitCode, fsck, type Finding, type FindingKind, type FsckOptions, type FsckReport } from '../../src/registry/fsck/index.js';
import { layout } from '../../src/registry/layout.js';
import { getManifest, putManifest } from '../../src/registry/manifests.js';
import { OCI_MANIFEST } from '../../src/registry/media-types.js';
import { prune } from '../../src/registry/prune/index.js';
import { listQuarantine } from '../../src/registry/quarantine.js';
import type { Scope } from '../../src/registry/scope.js';
import { listTags } from '../../src/registry/tags.js';
import { appendChunk, startUpload, uploadWhole } from '../../src/registry/uploads.js';
import {
  HOUR,
  blobKey,
  has,
  keys,
  linkKey,
  manifestKey,
  pushImage,
  pushIndex,
  sha256,
  type DriverCase,
  type Image,
} from './prune-fixtures.js';

/** fsck as if two hours had passed: nothing is young any more. */
const LATER = () => Date.now() + 2 * HOUR;
const run = (s: Scope, o: FsckOptions = {}) => fsck(s.driver, { graceSeconds: 60, now: LATER, ...o });

const damage = (r: FsckReport) => r.findings.filter((f) => f.severity === 'damage');
const kinds = (fs: Finding[]) => fs.map((f) => f.kind).sort();
function one(r: FsckReport, kind: FindingKind): Finding {
  const all = r.findings.filter((f) => f.kind === kind);
  assert.equal(all.length, 1, `one ${kind} finding expected: ${JSON.stringify(r.findings, null, 1)}`);
  return all[0]!;
}

/** Flip one byte in the middle of an object. */
async function flipByte(s: Scope, key: string): Promise<void> {
  const b = (await s.driver.get(key))!;
  const i = b.length >> 1;
  b[i] = b[i]! ^ 0xff;
  await s.driver.put(key, b);
}

async function pullsWhole(s: Scope, repo: string, img: Image): Promise<boolean> {
  try {
    const m = await getManifest(s, repo, img.digest.text);
    if (sha256(m.body).text !== img.digest.text) return false;
    for (const d of [img.config, ...img.layers]) {
      const b = await s.driver.get(blobKey(s, d));
      if (!b || sha256(b).text !== d.text || !(await has(s.driver, linkKey(s, repo, d)))) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * The suite on one driver. `storeOnly`: only the tests whose outcome depends
 * on the driver (listing, reads, moves into the quarantine and the trash,
 * replaced and deleted objects, upload parts); the pure logic runs on memory
 * and fs (object stores are slow to fill).
 */
export function fsckSuite(dc: DriverCase, storeOnly = false): void {
  describe(`fsck on ${dc.name}`, () => {
    const logic = (name: string, fn: (s: Scope) => Promise<void>) => {
      if (!storeOnly) withStore(name, fn);
    };
    const withStore = (name: string, fn: (s: Scope) => Promise<void>) =>
      test(name, async () => {
        const { driver, cleanup } = await dc.make();
        try {
          // graceSeconds 0: no "recently used" markers (those are looked at in their own test).
          await fn({ driver, ns: 'default', graceSeconds: 0 });
        } finally {
          await cleanup();
          await driver.close?.();
        }
      });

    /** Two repositories, an index, a referrer, tags: a small healthy store. */
    const fill = async (s: Scope) => {
      const shared = randomBytes(2000);
      const a = await pushImage(s, 'app', 'v1', { layers: [shared, randomBytes(3000)] });
      const b = await pushImage(s, 'app', 'v2', { layers: [shared] });
      const c = await pushImage(s, 'other/lib', 'latest', { layers: [randomBytes(500)] });
      const idx = await pushIndex(s, 'app', 'multi', [a, b]);
      const sig = await pushImage(s, 'app', undefined, { subject: a, artifactType: 'application/vnd.example.sig' });
      return { shared: sha256(shared), a, b, c, idx, sig };
    };

    withStore('a healthy store is clean, in structure and deep mode', async (s) => {
      const { a } = await fill(s);
      for (const deep of [false, true]) {
        const r = await run(s, { deep });
        assert.deepEqual(r.findings, [], JSON.stringify(r.findings, null, 1));
        assert.equal(exitCode(r), EXIT.clean);
        assert.equal(r.scanned.repositories, 2);
        assert.equal(r.scanned.manifests, 5);
        assert.equal(r.scanned.tags, 4);
        assert.ok(r.scanned.blobs >= 12);
        if (deep) assert.equal(r.scanned.hashedBlobs, r.scanned.blobs);
        else assert.equal(r.scanned.hashedBlobs, 0);
      }
      assert.ok(await pullsWhole(s, 'app', a));
    });

    withStore('a flipped byte: --deep finds it with what it breaks, --repair quarantines it, a push heals', async (s) => {
      const { shared, a, b, idx } = await fill(s);
      const bytes = (await s.driver.get(blobKey(s, shared)))!;
      await flipByte(s, blobKey(s, shared));
      const quick = await run(s);
      assert.deepEqual(damage(quick), [], 'same size: only --deep reads the bytes');

      const r = await run(s, { deep: true });
      const f = one(r, 'blob-corrupt');
      assert.equal(f.digest, shared.text);
      assert.match(f.problem, /bytes hash to sha256:[0-9a-f]{64}, not to their name/);
      const broken = f.breaks!.map((x) => `${x.repository}@${x.manifest}:${x.tags.join(',')}`).sort();
      assert.deepEqual(broken, [`app@${a.digest.text}:v1`, `app@${b.digest.text}:v2`, `app@${idx.text}:multi`].sort());
      assert.equal(exitCode(r), EXIT.found);
      assert.equal(r.counts.remaining, 1);

      const fixed = await run(s, { deep: true, repair: true });
      const g = one(fixed, 'blob-corrupt');
      assert.equal(g.repaired, true);
      assert.match(g.repair!, /moved to the quarantine/);
      assert.ok(!(await has(s.driver, blobKey(s, shared))), 'never served again');
      // The images still need the blob: damage left until a push brings it back.
      assert.equal(exitCode(fixed), EXIT.found | EXIT.repaired);
      const q = [];
      for await (const e of listQuarantine(s)) q.push(e);
      assert.deepEqual(
        q.map((e) => [e.digest, e.note?.by, e.note?.reason]),
        [[shared.text, 'fsck', 'digest mismatch']],
      );

      const after = await run(s, { deep: true });
      assert.deepEqual(kinds(damage(after)), ['blob-missing', 'link-dangling']);
      assert.equal(after.quarantine.length, 1, 'fsck lists the quarantine');
      assert.equal(one(after, 'blob-missing').breaks!.length, 3);

      // The client pushes again: HEAD says 404, the layer is uploaded.
      await uploadWhole(s, 'app', shared, Readable.from([bytes]), {});
      const healed = await run(s, { deep: true });
      assert.deepEqual(damage(healed), []);
      assert.equal(exitCode(healed), EXIT.clean);
      assert.ok(await pullsWhole(s, 'app', a));
      // Prune never sweeps the quarantine.
      await prune(s.driver, { graceSeconds: 0, now: LATER });
      assert.equal((await keys(s.driver, layout.quarantine('default'))).length, 2, 'bytes and note kept');
    });

    withStore('a truncated blob: found without --deep (size differs from the manifest), quarantined by --repair', async (s) => {
      const { c } = await fill(s);
      const layer = c.layers[0]!;
      const bytes = (await s.driver.get(blobKey(s, layer)))!;
      await s.driver.put(blobKey(s, layer), bytes.subarray(0, 100));
      const r = await run(s);
      const f = one(r, 'blob-corrupt');
      assert.match(f.problem, /100 bytes stored, 500 declared: truncated/);
      assert.deepEqual(f.breaks, [{ repository: 'other/lib', manifest: c.digest.text, tags: ['latest'] }]);
      assert.equal(r.scanned.hashedBlobs, 1, 'only the suspect was read');
      const fixed = await run(s, { repair: true });
      assert.equal(one(fixed, 'blob-corrupt').repaired, true);
      const q = [];
      for await (const e of listQuarantine(s)) q.push(e);
      assert.equal(q[0]!.note?.reason, 'truncated');
    });

    withStore('a missing blob: found with what it breaks; the dangling link goes; the manifest waits for a push', async (s) => {
      const { a } = await fill(s);
      const layer = a.layers[1]!; // only in app:v1 (and the index over it)
      await s.driver.delete(blobKey(s, layer));
      const r = await run(s);
      assert.deepEqual(kinds(damage(r)), ['blob-missing', 'link-dangling']);
      assert.equal(one(r, 'blob-missing').breaks!.length, 2);
      const fixed = await run(s, { repair: true });
      assert.equal(one(fixed, 'link-dangling').repaired, true);
      const m = one(fixed, 'blob-missing');
      assert.equal(m.repaired, false);
      assert.match(m.repair!, /push the image again/);
      assert.equal(exitCode(fixed), EXIT.found | EXIT.repaired);
      assert.ok(!(await has(s.driver, linkKey(s, 'app', layer))));
      const again = await run(s);
      assert.deepEqual(kinds(damage(again)), ['blob-missing']);
    });

    logic('a manifest naming a blob that never arrived: found, and what it breaks', async (s) => {
      await fill(s);
      const ghost = sha256(randomBytes(64));
      const config = sha256(Buffer.from('{}'));
      await s.driver.put(blobKey(s, config), Buffer.from('{}'));
      await s.driver.put(linkKey(s, 'app', config), Buffer.alloc(0));
      const body = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.text, size: 2 },
          layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: ghost.text, size: 64 }],
        }),
      );
      const md = sha256(body);
      await s.driver.put(blobKey(s, md), body);
      await s.driver.put(
        manifestKey(s, 'app', md),
        Buffer.from(JSON.stringify({ mediaType: OCI_MANIFEST, size: body.length, pushed: Date.now() })),
      );
      await s.driver.put(layout.tag('default', 'app', 'ghost'), Buffer.from(JSON.stringify({ digest: md.text, pushed: Date.now() })));
      const r = await run(s, { repair: true });
      const f = one(r, 'blob-missing');
      assert.equal(f.digest, ghost.text);
      assert.deepEqual(f.breaks, [{ repository: 'app', manifest: md.text, tags: ['ghost'] }]);
      assert.equal(f.repaired, false);
      assert.equal(exitCode(r), EXIT.found);
    });

    logic('a dangling tag and a dangling link are found and removed', async (s) => {
      await fill(s);
      const nowhere = sha256(randomBytes(10));
      await s.driver.put(layout.tag('default', 'app', 'lost'), Buffer.from(JSON.stringify({ digest: nowhere.text, pushed: Date.now() })));
      await s.driver.put(linkKey(s, 'other/lib', nowhere), Buffer.alloc(0));
      const r = await run(s);
      assert.deepEqual(kinds(damage(r)), ['link-dangling', 'tag-dangling']);
      assert.match(one(r, 'tag-dangling').problem, /tag lost points at manifest sha256:/);
      const fixed = await run(s, { repair: true });
      assert.ok(
        damage(fixed).every((f) => f.repaired),
        JSON.stringify(fixed.findings),
      );
      assert.equal(exitCode(fixed), EXIT.repaired);
      assert.deepEqual((await listTags(s, 'app')).tags, ['multi', 'v1', 'v2']);
      assert.ok(!(await has(s.driver, linkKey(s, 'other/lib', nowhere))));
      assert.equal(exitCode(await run(s)), EXIT.clean);
    });

    withStore('an unreadable upload record is found and the upload removed; a readable one is left alone', async (s) => {
      await fill(s);
      const bad = await startUpload(s, 'app');
      await appendChunk(s, 'app', bad.id, Readable.from([randomBytes(700)]), {});
      await s.driver.put(layout.uploadRecord('default', bad.id), Buffer.from('{"v":1,"hash":'));
      const good = await startUpload(s, 'app');
      await appendChunk(s, 'app', good.id, Readable.from([randomBytes(700)]), {});
      const r = await run(s);
      const f = one(r, 'upload-record-unreadable');
      assert.equal(f.object, layout.uploadRecord('default', bad.id));
      const fixed = await run(s, { repair: true });
      assert.equal(one(fixed, 'upload-record-unreadable').repaired, true);
      assert.ok(!(await has(s.driver, layout.uploadRecord('default', bad.id))));
      if (!s.driver.concatKeepsSources) assert.deepEqual(await keys(s.driver, layout.uploadDir('default', bad.id)), []);
      assert.ok(await has(s.driver, layout.uploadRecord('default', good.id)));
      assert.equal(exitCode(await run(s)), EXIT.clean);
    });

    logic('manifests: body gone, link unreadable (rebuilt), body not parsing, index child gone', async (s) => {
      const { a, b, c, idx } = await fill(s);
      await s.driver.delete(blobKey(s, c.digest)); // other/lib:latest
      const bLink = (await s.driver.get(manifestKey(s, 'app', b.digest)))!;
      await s.driver.put(manifestKey(s, 'app', b.digest), Buffer.from('not json'));
      const r = await run(s);
      assert.deepEqual(one(r, 'manifest-body-missing').breaks, [{ repository: 'other/lib', manifest: c.digest.text, tags: ['latest'] }]);
      const unreadable = one(r, 'manifest-link-unreadable');
      assert.equal(unreadable.digest, b.digest.text);
      const breaks = unreadable.breaks!.map((x) => x.manifest).sort();
      assert.deepEqual(breaks, [b.digest.text, idx.text].sort(), 'the index over it breaks too');
      const fixed = await run(s, { repair: true });
      assert.equal(one(fixed, 'manifest-link-unreadable').repaired, true);
      assert.equal(one(fixed, 'manifest-body-missing').repaired, false);
      const rebuilt = JSON.parse((await s.driver.get(manifestKey(s, 'app', b.digest)))!.toString('utf8'));
      assert.equal(rebuilt.mediaType, JSON.parse(bLink.toString('utf8')).mediaType);
      assert.ok(await pullsWhole(s, 'app', b));

      // An index whose child went, and a link whose body does not parse as its type.
      await s.driver.delete(manifestKey(s, 'app', a.digest));
      await s.driver.put(
        manifestKey(s, 'other/lib', c.digest),
        Buffer.from(JSON.stringify({ mediaType: 'application/vnd.oci.image.index.v1+json', size: 10, pushed: 1 })),
      );
      await s.driver.put(blobKey(s, c.digest), c.body);
      const r2 = await run(s);
      assert.equal(one(r2, 'manifest-child-missing').digest, idx.text);
      assert.match(one(r2, 'manifest-invalid').problem, /does not parse/);
      assert.ok(kinds(damage(r2)).includes('tag-dangling'), 'app:v1 points at the manifest removed');
    });

    logic('referrers entries, repository links and catalog entries: missing ones written, dangling ones removed', async (s) => {
      const { a, sig, c } = await fill(s);
      const entry = layout.referrer('default', 'app', a.digest, sig.digest);
      await s.driver.delete(entry);
      const stranger = sha256(randomBytes(10));
      await s.driver.put(layout.referrer('default', 'app', a.digest, stranger), Buffer.from('{}'));
      await s.driver.delete(linkKey(s, 'other/lib', c.layers[0]!));
      await s.driver.delete(layout.catalogEntry('default', 'other/lib'));
      const r = await run(s);
      assert.deepEqual(kinds(damage(r)), ['blob-unlinked', 'catalog-missing', 'referrer-dangling', 'referrer-missing']);
      const fixed = await run(s, { repair: true });
      assert.ok(
        damage(fixed).every((f) => f.repaired),
        JSON.stringify(fixed.findings, null, 1),
      );
      assert.equal(exitCode(fixed), EXIT.repaired);
      assert.ok(await has(s.driver, entry));
      assert.ok(!(await has(s.driver, layout.referrer('default', 'app', a.digest, stranger))));
      assert.ok(await pullsWhole(s, 'other/lib', c));
      assert.ok(await has(s.driver, layout.catalogEntry('default', 'other/lib')));
      assert.equal(exitCode(await run(s)), EXIT.clean);
    });

    withStore('orphans are reported, not repaired, and do not change the exit status', async (s) => {
      await fill(s);
      const stray = randomBytes(100);
      await s.driver.put(blobKey(s, sha256(stray)), stray); // no link, no manifest
      await s.driver.put('default/blobs/sha256/not-a-digest', Buffer.from('x'));
      await s.driver.put(layout.uploadPart('default', '00000000-0000-4000-8000-000000000000', '0000000000000000'), randomBytes(30));
      await s.driver.put(layout.catalogEntry('default', 'gone/repo'), Buffer.alloc(0));
      const dead = `${Date.now() - 2 * HOUR}-dead`;
      await s.driver.put(layout.trashBlob('default', dead, sha256(stray)), stray);
      const r = await run(s, { repair: true });
      assert.deepEqual(damage(r), []);
      assert.deepEqual(kinds(r.findings), [
        'blob-unreferenced',
        'catalog-stale',
        'stray-object',
        'trash-interrupted',
        'upload-without-record',
      ]);
      assert.ok(r.findings.every((f) => f.repair === undefined));
      assert.equal(r.counts.orphans, 5);
      assert.ok(r.counts.orphanBytes >= 100 + 1 + 30 + 100);
      assert.equal(exitCode(r), EXIT.clean);
      assert.ok(await has(s.driver, blobKey(s, sha256(stray))), 'left to prune');
    });

    withStore('online: what a prune run holds in its trash, and young objects, are not damage', async (s) => {
      const { a } = await fill(s);
      const layer = a.layers[1]!;
      const live = `${Date.now()}-live`;
      await s.driver.put(layout.trashAlive('default', live), Buffer.from('1'));
      await s.driver.move(blobKey(s, layer), layout.trashBlob('default', live, layer));
      const r = await fsck(s.driver, { graceSeconds: 60 });
      assert.deepEqual(damage(r), [], JSON.stringify(r.findings, null, 1));
      // A blob a client was just told exists is not an orphan either.
      const used = randomBytes(50);
      await s.driver.put(blobKey(s, sha256(used)), used);
      await s.driver.put(layout.usedMarker('default', usedBucket(3600, Date.now()), sha256(used)), Buffer.alloc(0));
      const r2 = await fsck(s.driver, { graceSeconds: 60, now: () => Date.now() + 5 * 60_000 });
      assert.ok(!r2.findings.some((f) => f.digest === sha256(used).text), JSON.stringify(r2.findings, null, 1));
      // The interrupted run's trash goes back: with --repair, the missing layer is taken back.
      await s.driver.delete(layout.trashAlive('default', live));
      const fixed = await run(s, { repair: true });
      const m = one(fixed, 'blob-missing');
      assert.equal(m.repaired, true, m.repair);
      assert.deepEqual(m.breaks, []);
      assert.ok(await pullsWhole(s, 'app', a));
    });

    logic('a mirror namespace: cached manifests whose blobs were never fetched are not damage', async (s) => {
      const m: Scope = { driver: s.driver, ns: 'docker.io', graceSeconds: 0 };
      const layer = sha256(randomBytes(100));
      const body = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: layer.text, size: 100 },
          layers: [],
        }),
      );
      await putManifest(m, 'library/busybox', sha256(body).text, body, OCI_MANIFEST, { requireReferences: false });
      const r = await run(s, { mirrors: ['docker.io'] });
      assert.deepEqual(damage(r), [], JSON.stringify(r.findings, null, 1));
      const unknown = await run(s);
      assert.deepEqual(kinds(damage(unknown)), ['blob-missing'], 'without the configuration it looks like damage');
      await s.driver.put(layout.mirrorTag('docker.io', 'library/busybox', 'latest'), Buffer.from('{}'));
      const byDir = await run(s);
      assert.deepEqual(damage(byDir), [], 'recognised by its _mirror/ directory');
    });
  });
}
