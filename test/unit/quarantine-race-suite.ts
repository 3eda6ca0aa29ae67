// Two pushes of one blob over a stored copy of the wrong size (a torn write,
// a bad disk): each push looks at the stored blob, finds its size wrong, and
// sends it to the quarantine before publishing its own verified bytes. When
// one push finished (201) between the other's look and its quarantine, the
// late quarantine must not take the first push's verified blob away: that
// push's manifest, pushed next, must find it. Memory (record + concat) and
// filesystem (putChecked, straight to the key) drivers by
// quarantine-race.test.ts, Swift and S3 (concatenated uploads, server-side
// copies; on Swift the quarantine's copy is a one-source concat) by
// test/objectstores/quarantine-race.test.ts; promotion goes through
// the same quarantine call.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { layout } from '../../src/registry/layout.js';
import { putManifest } from '../../src/registry/manifests.js';
import { listQuarantine } from '../../src/registry/quarantine.js';
import type { Scope } from '../../src/registry/scope.js';
import { uploadWhole } from '../../src/registry/uploads.js';
import type { ObjectInfo, StorageDriver } from '../../src/storage/driver.js';
import { type DriverCase, HookDriver, blobKey, sha256 } from './prune-fixtures.js';

/** HookDriver with the inner driver's straight-to-key put (the filesystem's), so uploads take that path. */
class StraightHookDriver extends HookDriver {
  putChecked?: (key: string, body: Readable, check: (info: ObjectInfo) => Promise<boolean>) => Promise<ObjectInfo | null>;
  after: { move?: (from: string) => Promise<void>; copy?: (from: string) => Promise<void> } = {};
  constructor(inner: StorageDriver) {
    super(inner);
    if (inner.putChecked) this.putChecked = (key, body, check) => inner.putChecked!(key, body, check);
  }
  override async move(from: string, to: string) {
    await super.move(from, to);
    await this.after.move?.(from);
  }
  override async copy(from: string, to: string) {
    const info = await super.copy(from, to);
    await this.after.copy?.(from);
    return info;
  }
  // Quarantine by copy on Swift (concatKeepsSources) is a concat of the one source: held like a copy.
  override async concat(to: string, sources: string[]) {
    if (sources.length !== 1) return super.concat(to, sources);
    await this.before.copy?.(sources[0]!, to);
    const info = await super.concat(to, sources);
    await this.after.copy?.(sources[0]!);
    return info;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function quarantineRaceTests(dc: DriverCase): void {
  describe(`quarantine racing a push of the same blob on ${dc.name}`, () => {
    test('a late quarantine never takes away a blob another push published and answered 201 for', async () => {
      const { driver: inner, cleanup } = await dc.make();
      try {
        const driver = new StraightHookDriver(inner);
        const s: Scope = { driver, ns: 'default', graceSeconds: 3600 };
        const layer = randomBytes(5000);
        const d = sha256(layer);
        const key = blobKey(s, d);
        await inner.put(key, layer.subarray(0, 3000)); // the torn copy
        const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
        const dc1 = sha256(config);
        await uploadWhole(s, 'app', dc1, Readable.from([config]), {});

        // Push B looks at the torn copy and is held at its quarantine step; push A runs whole meanwhile.
        let held = false;
        let releaseB!: () => void;
        const bHeld = new Promise<void>((r) => {
          releaseB = r;
        });
        let aDone = false;
        const hold = async (from: string) => {
          if (from !== key || held) return;
          held = true;
          const a = uploadWhole(s, 'app', d, Readable.from([layer]), {});
          await a;
          aDone = true;
          await bHeld;
        };
        driver.before.move = hold;
        driver.before.copy = hold;
        // Right after B's quarantine step: A's image must be whole (A answered 201 for its layer).
        let manifestAfter: unknown = 'not tried';
        const check = async (from: string) => {
          if (from !== key || !aDone || manifestAfter !== 'not tried') return;
          const doc = {
            schemaVersion: 2,
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: dc1.text, size: config.length },
            layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: d.text, size: layer.length }],
          };
          manifestAfter = await putManifest(s, 'app', 'v1', Buffer.from(JSON.stringify(doc)), doc.mediaType).then(
            () => 'pushed',
            (e: unknown) => e,
          );
        };
        driver.after.move = check;
        driver.after.copy = check;
        const b = uploadWhole(s, 'app', d, Readable.from([layer]), {});
        while (!aDone) await sleep(5);
        releaseB();
        await b;
        assert.ok(held, 'push B reached its quarantine step');
        assert.equal(
          manifestAfter,
          'pushed',
          `the image push after A's 201 (its layer taken away by B's quarantine): ${String(manifestAfter)}`,
        );
        const stored = await inner.get(key);
        assert.ok(stored && sha256(stored).text === d.text, 'the blob hashes to its name');
        const q = [];
        for await (const e of listQuarantine(s)) q.push(e);
        assert.equal(q.length, 1, 'the torn copy, once, in the quarantine');
        const torn = await inner.get(q[0]!.key);
        assert.equal(torn?.length, 3000, 'what is quarantined is the torn copy');
        assert.deepEqual(
          (await inner.list({ prefix: layout.quarantine('default') })).entries.filter((e) => e.key.endsWith('.json')).length,
          1,
          'one note',
        );
      } finally {
        await cleanup();
      }
    });
  });
}
