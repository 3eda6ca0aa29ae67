// A buildset namespace extended (PATCH /admin/v1/namespaces/<name>) at the
// moment prune reaps it with grace 0 (src/registry/buildsets/reap.ts): the
// extend read the record while it was live, prune read it just after it
// ended. Whatever the order of the writes, the admin never gets 200 for a
// namespace whose content is gone: either the extend wins (200, the image is
// whole and served) or it is refused (404) and the namespace has ended.
// Memory and filesystem drivers, a real server in-process; the driver's hooks
// hold the extend's record write at the chosen instant of the reap.
//   npm run build && node --test --test-concurrency=1 dist/test/http/buildset-reap-race.test.js
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { WharfServer } from '../../src/http/server.js';
import { BuildsetStore } from '../../src/registry/buildsets/store.js';
import { isLive } from '../../src/registry/buildsets/record.js';
import { prune } from '../../src/registry/prune/index.js';
import { basic } from '../helpers/auth.js';
import { ADMIN, call, deferred, sleep, withServer } from './buildset-race-server.js';
import { DRIVERS, HookDriver, pushImage, sha256, type Image } from '../unit/prune-fixtures.js';

const NS = 'race-1';
const RECORD = `_buildsets/${NS}`;

/** The image is served whole through the namespace (manifest and every blob, hashing to their names). */
async function servedWhole(server: WharfServer, auth: string, img: Image): Promise<void> {
  const m = await call(server, 'GET', `/v2/app/manifests/v1?ns=${NS}`, auth);
  assert.equal(m.status, 200, `manifest after a 200 extend: ${m.body.toString().slice(0, 200)}`);
  assert.equal(sha256(m.body).text, img.digest.text);
  for (const d of [img.config, ...img.layers]) {
    const b = await call(server, 'GET', `/v2/app/blobs/${d.text}?ns=${NS}`, auth);
    assert.equal(b.status, 200, `blob ${d.text} after a 200 extend`);
    assert.equal(sha256(b.body).text, d.text);
  }
}

/**
 * Create the namespace (TTL 1 s), push an image into it, then extend it with
 * its record write held until `whileHeld` (run once the TTL has passed) returns.
 */
async function extendDuringReap(
  driver: HookDriver,
  server: WharfServer,
  whileHeld: (extendAnswered: Promise<number>) => Promise<void>,
): Promise<{ status: number; img: Image; auth: string }> {
  const created = await call(server, 'POST', '/admin/v1/namespaces', ADMIN, { name: NS, ttlSeconds: 1 });
  assert.equal(created.status, 201, created.body.toString());
  const j = JSON.parse(created.body.toString());
  const auth = basic(j.credentials.username, j.credentials.password);
  const expiresAt = Date.parse(j.expiresAt);
  const img = await pushImage({ driver, ns: NS, graceSeconds: 0 }, 'app', 'v1', {
    layers: [Buffer.from('layer one'), Buffer.from('layer two')],
  });
  const answered = deferred<number>();
  let held = false;
  driver.before.put = async (key) => {
    if (key !== RECORD || held) return;
    held = true; // the extend's write: the record was read while live
    await sleep(Math.max(0, expiresAt - Date.now()) + 20);
    await whileHeld(answered.promise);
  };
  const extended = call(server, 'PATCH', `/admin/v1/namespaces/${NS}`, ADMIN, { ttlSeconds: 3600 });
  const status = (await extended).status;
  answered.resolve(status);
  assert.ok(held, 'the extend wrote the record');
  return { status, img, auth };
}

async function afterwards(driver: HookDriver, server: WharfServer, r: { status: number; img: Image; auth: string }): Promise<void> {
  driver.before = {};
  const record = await new BuildsetStore(driver.inner).get(NS);
  if (r.status === 200) {
    assert.ok(record && isLive(record), 'a 200 extend leaves a live namespace');
    await servedWhole(server, r.auth, r.img);
  } else {
    assert.equal(r.status, 404, `the extend is refused with NAME_UNKNOWN (got ${r.status})`);
    assert.ok(!record || !isLive(record), 'a refused extend leaves the namespace ended');
    const m = await call(server, 'GET', `/v2/app/manifests/v1?ns=${NS}`, r.auth);
    assert.notEqual(m.status, 200, 'an ended namespace answers nothing');
  }
  // The next prune removes whatever an ended namespace left; a live one keeps everything.
  await prune(driver.inner, { graceSeconds: 0 });
  if (r.status === 200) await servedWhole(server, r.auth, r.img);
  else assert.equal(await new BuildsetStore(driver.inner).get(NS), null, 'the ended namespace is gone after the next prune');
}

for (const dc of DRIVERS) {
  describe(`buildset extend racing the reap on ${dc.name} (grace 0)`, () => {
    const withStore = (name: string, fn: (driver: HookDriver) => Promise<void>) =>
      test(name, async () => {
        const { driver: inner, cleanup } = await dc.make();
        try {
          await fn(new HookDriver(inner));
        } finally {
          await cleanup();
        }
      });

    withStore('the extend writes while prune deletes the content: 200 with the image whole, or 404 and ended', async (driver) => {
      await withServer(driver, async (server) => {
        let pruning: Promise<unknown> | undefined;
        let first = true;
        const r = await extendDuringReap(driver, server, async (answered) => {
          const deleting = deferred();
          driver.before.delete = async (key) => {
            if (!first || !key.startsWith(`${NS}/`)) return;
            first = false;
            deleting.resolve();
            await Promise.race([answered, sleep(5000)]); // the extend answers before the content goes
          };
          pruning = prune(driver, { graceSeconds: 0 });
          await Promise.race([deleting.promise, pruning]);
        });
        await pruning;
        assert.equal(first, false, 'prune was deleting the content when the extend wrote');
        await afterwards(driver, server, r);
      });
    });

    withStore('the extend writes after a whole reap (the record removed): 404, never a live empty namespace', async (driver) => {
      await withServer(driver, async (server) => {
        const r = await extendDuringReap(driver, server, async () => {
          const report = await prune(driver, { graceSeconds: 0 });
          assert.deepEqual(
            report.endedNamespaces.map((e) => e.name),
            [NS],
          );
        });
        assert.equal(r.status, 404, 'the content is gone: the extend must not revive the namespace');
        await afterwards(driver, server, r);
      });
    });

    withStore('an extend written before the reap reads the record wins: prune keeps the namespace', async (driver) => {
      await withServer(driver, async (server) => {
        const r = await extendDuringReap(driver, server, async () => undefined);
        assert.equal(r.status, 200);
        const report = await prune(driver, { graceSeconds: 0 });
        assert.deepEqual(report.endedNamespaces, []);
        await afterwards(driver, server, r);
      });
    });
  });
}
