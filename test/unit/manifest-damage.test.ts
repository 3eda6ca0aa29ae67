// Stored manifest bytes that no longer hash to their name (a bad disk, a copy
// damaged outside Wharf) are never served: a read hashes the manifest, sends
// damaged bytes to the quarantine and answers MANIFEST_UNKNOWN, and the next
// push of the manifest stores it again. A push that finds bytes of another
// size under the manifest's digest replaces them. Memory and filesystem drivers.
//   npm run build && node --test --test-concurrency=1 dist/test/unit/manifest-damage.test.js
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeManifest } from '../../src/registry/describe.js';
import { RegistryError } from '../../src/registry/errors.js';
import { getManifest, putManifest, readManifestLink } from '../../src/registry/manifests.js';
import { readTag } from '../../src/registry/tags.js';
import { promote } from '../../src/registry/promote.js';
import { listQuarantine } from '../../src/registry/quarantine.js';
import type { Scope } from '../../src/registry/scope.js';
import { DRIVERS, HookDriver, blobKey, pushImage } from './prune-fixtures.js';

/** The same bytes with one flipped: the size a check by size would pass. */
function flipped(b: Buffer): Buffer {
  const c = Buffer.from(b);
  c[c.length >> 1]! ^= 0x20;
  return c;
}

async function quarantined(s: Scope) {
  const out = [];
  for await (const e of listQuarantine(s)) out.push(e);
  return out;
}

const isUnknown = (err: unknown) => err instanceof RegistryError && err.code === 'MANIFEST_UNKNOWN';

for (const dc of DRIVERS) {
  describe(`a damaged stored manifest on ${dc.name}`, () => {
    test('a read never serves it: quarantined, MANIFEST_UNKNOWN, and a push stores it again', async () => {
      const { driver, cleanup } = await dc.make();
      try {
        const s: Scope = { driver, ns: 'default', graceSeconds: 3600 };
        const image = await pushImage(s, 'app', 'v1');
        await driver.put(blobKey(s, image.digest), flipped(image.body));

        for (const ref of ['v1', image.digest.text]) await assert.rejects(getManifest(s, 'app', ref), isUnknown, ref);
        const q = await quarantined(s);
        assert.equal(q.length, 1, 'one quarantine entry');
        assert.equal(q[0]!.digest, image.digest.text);
        assert.equal(q[0]!.note?.reason, 'digest mismatch');
        assert.equal(q[0]!.note?.by, 'manifest read');
        assert.deepEqual(await driver.get(q[0]!.key), flipped(image.body), 'the damaged bytes are kept aside');

        await putManifest(s, 'app', 'v1', image.body, 'application/vnd.oci.image.manifest.v1+json');
        const m = await getManifest(s, 'app', 'v1');
        assert.deepEqual(m.body, image.body);
        assert.equal(m.digest.text, image.digest.text);
      } finally {
        await cleanup();
      }
    });

    test('right bytes published between the read and the quarantine stay served', async () => {
      const { driver: inner, cleanup } = await dc.make();
      try {
        const driver = new HookDriver(inner);
        const s: Scope = { driver, ns: 'default', graceSeconds: 3600 };
        const image = await pushImage(s, 'app', 'v1');
        const key = blobKey(s, image.digest);
        await inner.put(key, flipped(image.body));
        // Another request (a push, an operator's restore) writes the right bytes just before the move.
        driver.before.move = async (from) => {
          if (from === key) await inner.put(key, image.body);
        };
        const m = await getManifest(s, 'app', 'v1');
        assert.deepEqual(m.body, image.body);
        assert.deepEqual(await inner.get(key), image.body, 'the right bytes are at the key');
        assert.deepEqual(await quarantined(s), [], 'nothing quarantined: the bytes moved were the right ones');
      } finally {
        await cleanup();
      }
    });

    test('a push over stored bytes of another size replaces them and keeps them aside', async () => {
      const { driver, cleanup } = await dc.make();
      try {
        const s: Scope = { driver, ns: 'default', graceSeconds: 3600 };
        const image = await pushImage(s, 'app', 'v1');
        const key = blobKey(s, image.digest);
        await driver.put(key, image.body.subarray(0, image.body.length - 7)); // a torn copy

        await putManifest(s, 'app', 'v2', image.body, 'application/vnd.oci.image.manifest.v1+json');
        assert.deepEqual(await driver.get(key), image.body);
        for (const ref of ['v1', 'v2', image.digest.text]) assert.deepEqual((await getManifest(s, 'app', ref)).body, image.body, ref);
        const q = await quarantined(s);
        assert.equal(q.length, 1);
        assert.equal(q[0]!.note?.reason, 'size mismatch');
        assert.equal(q[0]!.note?.by, 'manifest push');
      } finally {
        await cleanup();
      }
    });
    test('a promotion does not copy a damaged manifest into its target', async () => {
      const { driver, cleanup } = await dc.make();
      try {
        const src: Scope = { driver, ns: 'default', graceSeconds: 3600 };
        const dst: Scope = { driver, ns: 'release', graceSeconds: 3600 };
        const image = await pushImage(src, 'app', 'v1');
        await driver.put(blobKey(src, image.digest), flipped(image.body));
        await assert.rejects(promote(src, { repo: 'app', reference: 'v1' }, dst, { repo: 'app', tag: 'v1' }), isUnknown);
        assert.equal(await driver.get(blobKey(dst, image.digest)), null, 'no manifest bytes in the target');
        assert.equal(await readManifestLink(dst, 'app', image.digest), null);
        assert.equal(await readTag(dst, 'app', 'v1'), null);
        assert.equal((await quarantined(src)).length, 1, "the damaged bytes are in the source's quarantine");
      } finally {
        await cleanup();
      }
    });
    test("the UI's description never shows damaged manifest or config bytes", async () => {
      const { driver, cleanup } = await dc.make();
      try {
        const s: Scope = { driver, ns: 'default', graceSeconds: 3600 };
        const a = await pushImage(s, 'app', 'a');
        const b = await pushImage(s, 'app', 'b');
        assert.equal((await describeManifest(s, 'app', 'b')).image?.architecture, 'amd64');
        await driver.put(blobKey(s, a.digest), flipped(a.body));
        await assert.rejects(describeManifest(s, 'app', 'a'), isUnknown);
        const config = (await driver.get(blobKey(s, b.config)))!;
        await driver.put(blobKey(s, b.config), Buffer.from(config.toString('utf8').replace('amd64', 'arm64')));
        const d = await describeManifest(s, 'app', 'b');
        assert.equal(d.image, undefined, 'no details read from a config that does not match its digest');
        assert.equal(d.imageProblem, 'the stored config does not match its digest');
      } finally {
        await cleanup();
      }
    });
  });
}
