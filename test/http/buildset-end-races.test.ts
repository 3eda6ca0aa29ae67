// Races around a buildset namespace's end (src/registry/buildsets/reap.ts,
// src/http/handlers/namespaces.ts), memory and filesystem drivers, a real
// server in-process, pushes over HTTP with the namespace's credential:
// - a name created again while a lagging prune still reaps the old namespace:
//   the new namespace's keys are the old one's names (the same image pushed
//   again), so that prune must never delete what the new one answered 201 for;
// - a DELETE racing an extend (PATCH): a 202 DELETE is never lost under the
//   extend's record write.
//   npm run build && node --test --test-concurrency=1 dist/test/http/buildset-end-races.test.js
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import type { WharfServer } from '../../src/http/server.js';
import { isLive } from '../../src/registry/buildsets/record.js';
import { BuildsetStore } from '../../src/registry/buildsets/store.js';
import { prune } from '../../src/registry/prune/index.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import { basic, oneLayerManifest, pushBlob } from '../helpers/auth.js';
import { ADMIN, call, deferred, sleep, withServer } from './buildset-race-server.js';
import { DRIVERS, HookDriver } from '../unit/prune-fixtures.js';

const NS = 'again-1';
const RECORD = `_buildsets/${NS}`;
// One CI build's image, pushed by both incarnations: the same bytes, so the same keys.
const CONFIG = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
const LAYER = Buffer.from('the one layer of the build, pushed twice');
const MANIFEST = oneLayerManifest(CONFIG, LAYER);

const hex = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Create the namespace; its credential, or the refusal's status. */
async function create(server: WharfServer): Promise<{ status: number; auth?: string }> {
  const r = await call(server, 'POST', '/admin/v1/namespaces', ADMIN, { name: NS, ttlSeconds: 3600 });
  if (r.status !== 201) return { status: r.status };
  const j = JSON.parse(r.body.toString());
  return { status: 201, auth: basic(j.credentials.username, j.credentials.password) };
}

/** The CI run's push: two blobs and the manifest, each answered 201. */
async function pushBuild(server: WharfServer, auth: string): Promise<void> {
  await pushBlob(server.url, 'app', CONFIG, auth, NS);
  await pushBlob(server.url, 'app', LAYER, auth, NS);
  const r = await fetch(`${server.url}/v2/app/manifests/v1?ns=${NS}`, {
    method: 'PUT',
    headers: { authorization: auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    body: new Uint8Array(MANIFEST),
  });
  assert.equal(r.status, 201, await r.text());
}

/** What was answered 201 is served whole: the tag, the manifest, both blobs hashing to their names. */
async function servedWhole(server: WharfServer, auth: string, when: string): Promise<void> {
  const m = await call(server, 'GET', `/v2/app/manifests/v1?ns=${NS}`, auth);
  assert.equal(m.status, 200, `${when}: the tag v1 (${m.body.toString().slice(0, 200)})`);
  assert.equal(hex(m.body), hex(MANIFEST));
  for (const b of [CONFIG, LAYER]) {
    const r = await call(server, 'GET', `/v2/app/blobs/${hex(b)}?ns=${NS}`, auth);
    assert.equal(r.status, 200, `${when}: blob ${hex(b)}`);
    assert.equal(hex(r.body), hex(b));
  }
}

for (const dc of DRIVERS) {
  describe(`buildset end races on ${dc.name}`, () => {
    const withStore = (name: string, fn: (driver: StorageDriver) => Promise<void>) =>
      test(name, async () => {
        const { driver, cleanup } = await dc.make();
        try {
          await fn(driver);
        } finally {
          await cleanup();
        }
      });

    withStore('the name created again while a lagging prune reaps the old namespace: nothing answered 201 is deleted', async (inner) => {
      await withServer(inner, async (server) => {
        const first = await create(server);
        assert.equal(first.status, 201);
        await pushBuild(server, first.auth!);
        assert.equal((await call(server, 'DELETE', `/admin/v1/namespaces/${NS}`, ADMIN)).status, 202);

        // Prune A read the namespace as ended and listed its keys; it stalls before its first delete.
        const lagging = new HookDriver(inner);
        const stalled = deferred();
        const resume = deferred();
        let held = 0;
        lagging.before.delete = async (key) => {
          if (!key.startsWith(`${NS}/`)) return;
          held++;
          stalled.resolve();
          await resume.promise; // every delete of the old keys waits
        };
        const pruneA = prune(lagging, { graceSeconds: 0 });
        await Promise.race([stalled.promise, pruneA]);
        assert.ok(held > 0, 'prune A stalled in its deletes');

        // Prune B (another replica's schedule) reaps the namespace whole and removes its record.
        const b = await prune(inner, { graceSeconds: 0 });
        assert.deepEqual(
          b.endedNamespaces.map((e) => e.name),
          [NS],
        );
        assert.equal(await new BuildsetStore(inner).get(NS), null, 'prune B removed the record');

        // The CI run creates the name again and pushes the same build.
        const again = await create(server);
        if (again.status === 201) {
          await pushBuild(server, again.auth!);
          resume.resolve();
          await pruneA;
          await servedWhole(server, again.auth!, 'after prune A finished');
        } else {
          assert.equal(again.status, 409, 'refused while prune A may still delete the old keys');
          assert.equal(await new BuildsetStore(inner).get(NS), null, 'a refused create leaves no record');
          resume.resolve();
          await pruneA;
          const third = await create(server);
          assert.equal(third.status, 201, 'created once prune A has finished');
          await pushBuild(server, third.auth!);
          await servedWhole(server, third.auth!, 'after the create that followed prune A');
        }
        // And the next prune keeps the live namespace whole.
        await prune(inner, { graceSeconds: 0 });
        const live = await new BuildsetStore(inner).get(NS);
        assert.ok(live && isLive(live), 'the new namespace is live');
      });
    });

    withStore('a DELETE answered 202 while an extend writes the record: the namespace has ended, the extend is refused', async (inner) => {
      const driver = new HookDriver(inner);
      await withServer(driver, async (server) => {
        const made = await create(server);
        assert.equal(made.status, 201);
        await pushBuild(server, made.auth!);
        // The extend read the record live; its write waits until the DELETE has answered.
        const deleted = deferred<number>();
        let held = false;
        driver.before.put = async (key) => {
          if (key !== RECORD || held) return;
          held = true;
          await deleted.promise;
        };
        const extend = call(server, 'PATCH', `/admin/v1/namespaces/${NS}`, ADMIN, { ttlSeconds: 7200 });
        while (!held) await sleep(5);
        const del = await call(server, 'DELETE', `/admin/v1/namespaces/${NS}`, ADMIN);
        deleted.resolve(del.status);
        assert.equal(del.status, 202);
        const ext = await extend;
        driver.before = {};
        assert.equal(ext.status, 404, `the extend after the DELETE is refused with NAME_UNKNOWN (${ext.body.toString().slice(0, 200)})`);
        assert.equal(JSON.parse(ext.body.toString()).errors[0].code, 'NAME_UNKNOWN');
        const record = await new BuildsetStore(inner).get(NS);
        assert.ok(record && !isLive(record), 'the namespace has ended: the DELETE was not lost');
        const m = await call(server, 'GET', `/v2/app/manifests/v1?ns=${NS}`, made.auth!);
        assert.notEqual(m.status, 200, 'a deleted namespace answers nothing');
        const p = await prune(inner, { graceSeconds: 0 });
        assert.deepEqual(
          p.endedNamespaces.map((e) => e.name),
          [NS],
        );
        assert.equal(await new BuildsetStore(inner).get(NS), null);
      });
    });

    withStore('an extend answered 200 before a DELETE writes: the DELETE still ends the namespace', async (inner) => {
      const driver = new HookDriver(inner);
      await withServer(driver, async (server) => {
        const made = await create(server);
        assert.equal(made.status, 201);
        // The DELETE read the record live; its tombstone waits until the extend has answered.
        const extended = deferred<number>();
        let held = false;
        driver.before.put = async (key) => {
          if (key !== RECORD || held) return;
          held = true;
          await extended.promise;
        };
        const del = call(server, 'DELETE', `/admin/v1/namespaces/${NS}`, ADMIN);
        while (!held) await sleep(5);
        const ext = await call(server, 'PATCH', `/admin/v1/namespaces/${NS}`, ADMIN, { ttlSeconds: 7200 });
        extended.resolve(ext.status);
        assert.equal((await del).status, 202);
        driver.before = {};
        // The extend ran between the DELETE's read and its write: 200 (before the end) or 404, never a live namespace after a 202.
        assert.ok(ext.status === 200 || ext.status === 404, `extend: ${ext.status}`);
        const record = await new BuildsetStore(inner).get(NS);
        assert.ok(record && !isLive(record), 'the namespace has ended: the DELETE was not lost');
      });
    });
  });
}
