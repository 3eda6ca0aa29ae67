// A cross-repository mount (POST ?mount=&from=) racing a DELETE of the blob
// in the source repository and a prune: the mount checked the source link and
// the data, and writes its own link only after the source link is gone and
// prune has swept. With a grace period the mount's use marker (blob-use.ts)
// makes prune keep the data, so a mount that answers 201 always leaves the
// blob there. (With `grace: 0` markers are off and nothing is protected by
// design: docs/prune.md, rule 1.) The filesystem driver (the test waits out
// twice the grace, so one driver keeps it cheap).
//   npm run build && node --test --test-concurrency=1 dist/test/unit/mount-prune-race.test.js
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { blobExists, isBlobLinked, mountBlob, unlinkBlob } from '../../src/registry/blobs.js';
import { layout } from '../../src/registry/layout.js';
import { prune } from '../../src/registry/prune/index.js';
import type { Scope } from '../../src/registry/scope.js';
import { DRIVERS, HookDriver, pushBlob } from './prune-fixtures.js';

const GRACE = 1;

for (const dc of DRIVERS.filter((x) => x.name === 'fs')) {
  test(`a mount answered while the source's link is deleted and prune sweeps keeps the blob (${dc.name}, grace ${GRACE} s)`, async () => {
    const { driver: inner, cleanup } = await dc.make();
    try {
      const s: Scope = { driver: inner, ns: 'default', graceSeconds: GRACE };
      const d = await pushBlob(s, 'src');
      await new Promise((r) => setTimeout(r, GRACE * 2000 + 50)); // older than twice the grace: only a marker keeps it
      const driver = new HookDriver(inner);
      let raced = false;
      driver.before.put = async (key) => {
        if (raced || key !== layout.repoBlobLink('default', 'dst', d)) return;
        raced = true; // the mount looked at the source link and the data; now the source goes, and prune runs
        await unlinkBlob(s, 'src', d);
        await prune(inner, { graceSeconds: GRACE });
      };
      const mounted = await mountBlob({ driver, ns: 'default', graceSeconds: GRACE }, 'dst', d, 'src');
      assert.ok(raced, 'the mount wrote its link after the unlink and the prune');
      assert.ok(mounted, 'the mount answered 201');
      assert.ok(await blobExists(s, d), 'the mounted blob is still there');
      assert.ok(await isBlobLinked(s, 'dst', d));
    } finally {
      await cleanup();
    }
  });
}
