// Swift concat of many small sources (a blob pushed in many small PATCH
// chunks): runs of small plain sources become segments of >= 4 MiB, because
// Swift's SLO middleware serves segments under 1 MiB at one per second after
// the tenth (rate_limit_after_segment = 10, rate_limit_segments_per_sec = 1,
// rate_limit_under_size = 1 MiB by default). Before, 30 chunks of 64 KiB took
// ~20 s to read back.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { SwiftDriver } from '../../src/storage/swift.js';
import { ensureSwift, swiftToken, uniqueName, type SwiftEnv } from '../helpers/swift.js';
import { destroySwiftContainers } from '../helpers/swift-driver.js';
import { readAll, sha } from '../helpers/bytes.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('swift concat of many small sources', { timeout: 120_000 }, () => {
  let env: SwiftEnv;
  let d: SwiftDriver;
  let container: string;

  before(async () => {
    env = await ensureSwift();
    container = uniqueName('wharf-swift-concat');
    d = new SwiftDriver({ authUrl: env.authUrl, username: env.user, password: env.key, container });
  });
  after(async () => {
    if (d) await destroySwiftContainers(d);
  });

  /** The published object's SLO segment sizes (raw manifest). */
  async function segmentSizes(key: string): Promise<number[]> {
    const { token, storageUrl } = await swiftToken(env);
    const r = await fetch(`${storageUrl}/${container}/${key.split('/').map(encodeURIComponent).join('/')}?multipart-manifest=get`, {
      headers: { 'X-Auth-Token': token },
    });
    assert.equal(r.status, 200);
    return ((await r.json()) as { bytes: number }[]).map((s) => s.bytes);
  }

  it('30 chunks of 64 KiB: at most one small segment; read back fast and whole', async () => {
    const parts = Array.from({ length: 30 }, () => randomBytes(64 * KiB + 3));
    await Promise.all(parts.map((p, i) => d.put(`up/a/${i}`, p)));
    const keys = parts.map((_, i) => `up/a/${i}`);
    const info = await d.concat('blob/a', keys);
    const whole = Buffer.concat(parts);
    assert.equal(info.size, whole.length);
    const sizes = await segmentSizes('blob/a');
    assert.equal(
      sizes.reduce((a, b) => a + b, 0),
      whole.length,
    );
    assert.ok(sizes.filter((s) => s < MiB).length <= 1, `at most one small segment: ${sizes}`);
    const t = Date.now();
    assert.equal(sha(await readAll(await d.read('blob/a'))), sha(whole));
    assert.ok(Date.now() - t < 8_000, `read in ${Date.now() - t} ms (Swift rate-limits small segments)`);
    await d.deleteConcatSources('blob/a', keys);
    for (const k of keys) assert.equal(await d.stat(k), null, `${k} deleted`);
    assert.equal(sha((await d.get('blob/a'))!), sha(whole), 'still whole after the sources are gone');
  });

  it('mixed: small runs, a large (segmented) source, empty sources; order kept, ranges right', async () => {
    const sizes = [100 * KiB, 5, 0, 300 * KiB, 3 * MiB, 200 * KiB, 0, 64 * KiB, 1, 2 * MiB, 700 * KiB];
    const parts = sizes.map((n) => randomBytes(n));
    for (let i = 0; i < parts.length; i++) {
      // the 2 and 3 MiB sources are streamed: stored as segments + SLO manifest
      await d.put(`up/b/${i}`, parts[i]!.length >= MiB ? Readable.from([parts[i]!]) : parts[i]!);
    }
    const keys = parts.map((_, i) => `up/b/${i}`);
    await d.concat('blob/b', keys);
    const whole = Buffer.concat(parts);
    assert.equal(sha((await d.get('blob/b'))!), sha(whole));
    const at = 400 * KiB - 7;
    assert.ok((await readAll(await d.read('blob/b', { start: at, end: at + 3 * MiB }))).equals(whole.subarray(at, at + 3 * MiB + 1)));
    await d.deleteConcatSources('blob/b', keys);
    assert.equal(sha((await d.get('blob/b'))!), sha(whole), 'whole after deleteConcatSources');
  });

  it('a missing source is NotFoundError, nothing published', async () => {
    await d.put('up/c/0', randomBytes(10));
    await d.put('up/c/2', randomBytes(10));
    await assert.rejects(d.concat('blob/c', ['up/c/0', 'up/c/1', 'up/c/2']), { name: 'NotFoundError' });
    assert.equal(await d.stat('blob/c'), null);
  });
});
