// Quarantine by copy on Swift leaves no garbage segments: a push that finds a
// stored blob of the wrong size (a segmented SLO) keeps the bad bytes in the
// quarantine and publishes its verified bytes over the key. Every segment in
// the segments container must afterwards belong to some object — the bad
// object's segments go with its quarantined copy instead of staying behind,
// unreferenced, once the key is overwritten. Against the Swift all-in-one
// (scripts/swift/start.sh), segmented from 1 KiB.
//   npm run build && node --test --test-concurrency=1 dist/test/objectstores/quarantine-segments.test.js
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { listQuarantine, quarantineBlob } from '../../src/registry/quarantine.js';
import { listAll, type Scope } from '../../src/registry/scope.js';
import { uploadWhole } from '../../src/registry/uploads.js';
import type { SwiftDriver } from '../../src/storage/swift.js';
import { swiftParts } from '../helpers/swift-driver.js';
import { OBJECT_STORES, blobKey, sha256 } from '../unit/prune-fixtures.js';

const SWIFT = OBJECT_STORES.find((d) => d.name === 'swift')!;

/** Every object in the segments container ("/container/object"). */
async function storedSegments(d: SwiftDriver): Promise<Set<string>> {
  const { transport, containers } = swiftParts(d);
  const out = new Set<string>();
  let marker = '';
  for (;;) {
    const what = 'test list segments';
    const r = await transport.call(what, 'GET', {
      path: encodeURIComponent(containers.segments),
      query: { format: 'json', limit: '1000', marker },
      idempotent: true,
    });
    if (r.status === 404) return out;
    if (r.status >= 300) throw transport.fail(what, r);
    const rows = r.status === 204 || !r.body.length ? [] : (JSON.parse(r.body.toString('utf8')) as { name: string }[]);
    if (rows.length === 0) return out;
    for (const row of rows) out.add(`/${containers.segments}/${row.name}`);
    marker = rows[rows.length - 1]!.name;
  }
}

/** Segments some object (an SLO in the objects container, nested manifests included) uses. */
async function usedSegments(d: SwiftDriver): Promise<Set<string>> {
  const segments = (d as unknown as { segments: { usedBy(w: string, k: string): Promise<Set<string>> } }).segments;
  const used = new Set<string>();
  for await (const e of listAll(d, '')) {
    if (e.prefix) continue;
    for (const name of await segments.usedBy('test used segments', e.key)) used.add(name);
  }
  return used;
}

async function read(d: SwiftDriver, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await d.read(key)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('quarantine by copy on Swift', () => {
  test('a push over a stored blob of the wrong size leaves no segment that no object uses', async () => {
    const { driver, cleanup } = await SWIFT.make();
    const d = driver as SwiftDriver;
    try {
      const s: Scope = { driver, ns: 'default', graceSeconds: 3600 };
      const layer = randomBytes(5000);
      const digest = sha256(layer);
      const key = blobKey(s, digest);
      const torn = layer.subarray(0, 3000);
      await driver.put(key, torn); // a torn copy, stored as segments + SLO
      assert.ok((await usedSegments(d)).size > 0, 'the torn copy is segmented');

      await uploadWhole(s, 'app', digest, Readable.from([layer]), {});

      assert.deepEqual(await read(d, key), layer, 'the verified bytes are published at the key');
      const q = [];
      for await (const e of listQuarantine(s)) q.push(e);
      assert.equal(q.length, 1, 'the torn copy is in the quarantine');
      assert.deepEqual(await read(d, q[0]!.key), torn, 'the quarantine keeps the torn bytes');

      const used = await usedSegments(d);
      const orphans = [...(await storedSegments(d))].filter((name) => !used.has(name));
      assert.deepEqual(orphans, [], 'segments no object uses (garbage left by the overwrite)');

      // Deleting the quarantined copy (an operator's clean-up) leaves the published blob whole.
      await driver.delete(q[0]!.key);
      assert.deepEqual(await read(d, key), layer);
    } finally {
      await cleanup();
    }
  });

  test('a quarantine that finds other bytes than the wrong ones (published meanwhile) drops its copy and leaves the blob whole', async () => {
    const { driver, cleanup } = await SWIFT.make();
    const d = driver as SwiftDriver;
    try {
      const s: Scope = { driver, ns: 'default', graceSeconds: 3600 };
      const layer = randomBytes(5000);
      const digest = sha256(layer);
      const key = blobKey(s, digest);
      await uploadWhole(s, 'app', digest, Readable.from([layer]), {}); // the verified blob, segmented
      // A late quarantine of the torn copy it saw (3000 bytes) before that push replaced it.
      const q = await quarantineBlob(s, digest, { reason: 'size mismatch', by: 'upload', size: 3000 }, { replacing: true });
      assert.equal(q, null, 'not the bytes found wrong: nothing is quarantined');
      assert.deepEqual(await read(d, key), layer, 'the published blob keeps its segments');
      const left = [];
      for await (const e of listQuarantine(s)) left.push(e);
      assert.deepEqual(left, []);
      const used = await usedSegments(d);
      assert.deepEqual(
        [...(await storedSegments(d))].filter((name) => !used.has(name)),
        [],
        'no garbage segments',
      );
    } finally {
      await cleanup();
    }
  });
});
