// The S3 driver against the S3 API of a real Swift all-in-one (s3api; started
// by the project's scripts/swift/start.sh through test/helpers/swift.ts): the
// shared driver suite (backend faults included), then S3-specific behaviour —
// concat planning and coalescing of parts below the 5 MiB minimum, bucket
// auto-create, presigned GETs, DeleteObjects' Content-MD5.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { MIN_PART, S3Driver, planConcat, type PlannedPart, type S3Config } from '../../src/storage/s3.js';
import { ensureSwift, uniqueName, type SwiftEnv } from '../helpers/swift.js';
import { destroyS3Bucket, s3Parts } from '../helpers/s3-driver.js';
import { readAll, sha } from '../helpers/bytes.js';
import { sharedStoreDriver, teardowns } from '../helpers/objectstores.js';
import { runDriverSuite } from '../unit/driver-suite.js';

const MiB = 1 << 20;

function driverFor(env: SwiftEnv, extra: Partial<S3Config> = {}): S3Driver {
  return new S3Driver({
    endpoint: env.s3Endpoint,
    region: env.s3Region,
    bucket: uniqueName('wharf-s3'),
    accessKey: env.s3AccessKey,
    secretKey: env.s3SecretKey,
    forcePathStyle: true,
    ...extra,
  });
}

runDriverSuite('s3', sharedStoreDriver(driverFor, destroyS3Bucket), {
  faults: {
    backend: async () => (await ensureSwift()).s3Endpoint,
    // The same bucket and keys, another endpoint (requests are signed where they are made: nothing to log in to).
    twin: async (of, origin, retry) => new S3Driver({ ...s3Parts(of as S3Driver).cfg, ...retry, endpoint: origin }),
  },
});

/** Check a plan: order and coverage of every byte, part-size rules. */
function checkPlan(sizes: number[], parts: PlannedPart[], minPart: number, maxCopy: number): void {
  const total = sizes.reduce((a, b) => a + b, 0);
  let pos = { source: 0, offset: 0 };
  const advance = (p: { source: number; start: number; end: number }) => {
    while (pos.source < sizes.length && pos.offset === sizes[pos.source]) pos = { source: pos.source + 1, offset: 0 };
    assert.deepEqual([p.source, p.start], [pos.source, pos.offset], 'pieces must follow each other without gaps');
    assert.ok(p.end >= p.start && p.end < sizes[p.source]!);
    pos = { source: p.source, offset: p.end + 1 };
  };
  let sum = 0;
  parts.forEach((part, i) => {
    const last = i === parts.length - 1;
    if (!last) assert.ok(part.size >= minPart, `part ${i} of ${part.size} bytes is below the minimum`);
    if (part.kind === 'copy') {
      assert.ok(part.size <= maxCopy);
      assert.equal(part.size, part.piece.end - part.piece.start + 1);
      advance(part.piece);
    } else {
      assert.equal(
        part.size,
        part.pieces.reduce((n, p) => n + p.end - p.start + 1, 0),
      );
      part.pieces.forEach(advance);
    }
    sum += part.size;
  });
  assert.equal(sum, total);
}

describe('s3 concat planning (planConcat)', () => {
  it('coalesces small sources into parts of the minimum size; the last may be small', () => {
    const sizes = Array.from({ length: 40 }, (_, i) => 100 + i * 7);
    const parts = planConcat(sizes, 1000, 1e9);
    checkPlan(sizes, parts, 1000, 1e9);
    assert.ok(parts.every((p) => p.kind === 'upload'));
  });

  it('copies large sources on the server, and borrows a head from one after a small run', () => {
    const sizes = [10, 5000, 0, 3, 2500, 999, 1000, 12_345, 7];
    const parts = planConcat(sizes, 1000, 4000);
    checkPlan(sizes, parts, 1000, 4000);
    assert.ok(parts.some((p) => p.kind === 'copy'));
    // 5000 after a run of 10: 990 bytes are downloaded, the other 4010 copied in
    // pieces of <= 4000 that leave no piece below the minimum.
    assert.equal(parts[0]!.kind, 'upload');
    assert.deepEqual((parts[0] as { pieces: unknown[] }).pieces, [
      { source: 0, start: 0, end: 9 },
      { source: 1, start: 0, end: 989 },
    ]);
    assert.deepEqual(parts[1], { kind: 'copy', piece: { source: 1, start: 990, end: 3999 }, size: 3010 });
    assert.deepEqual(parts[2], { kind: 'copy', piece: { source: 1, start: 4000, end: 4999 }, size: 1000 });
    // 999 before the 1000-byte source: it borrows the tail of the previous copy part.
    const borrow = parts.find((p) => p.kind === 'upload' && p.pieces.some((x) => x.source === 5));
    assert.deepEqual(borrow, {
      kind: 'upload',
      pieces: [
        { source: 4, start: 2499, end: 2499 },
        { source: 5, start: 0, end: 998 },
      ],
      size: 1000,
    });
    // Copied bytes: everything but what had to be coalesced.
    const copied = parts.filter((p) => p.kind === 'copy').reduce((n, p) => n + p.size, 0);
    assert.equal(copied, 5000 - 990 + 2500 - 997 - 1 + 1000 + 12_345);
  });

  it('random mixes always obey the rules', () => {
    for (let round = 0; round < 300; round++) {
      const n = 1 + Math.floor(Math.random() * 30);
      const sizes = Array.from({ length: n }, () => {
        const r = Math.random();
        return r < 0.2 ? 0 : r < 0.6 ? Math.floor(Math.random() * 1000) : Math.floor(Math.random() * 20_000);
      });
      checkPlan(sizes, planConcat(sizes, 1000, 7000), 1000, 7000);
    }
    assert.deepEqual(planConcat([]), []);
    assert.deepEqual(planConcat([0, 0]), []);
  });
});

describe('s3 driver specifics', () => {
  let env: SwiftEnv;
  const cleanups = teardowns();
  before(async () => {
    env = await ensureSwift();
  });
  after(() => cleanups.run());
  function track(d: S3Driver): S3Driver {
    cleanups.add(async () => {
      await destroyS3Bucket(d);
      await d.close();
    });
    return d;
  }

  it('rejects malformed keys before any request', async () => {
    const d = new S3Driver({
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      bucket: 'b',
      accessKey: 'a',
      secretKey: 's',
      retries: 0,
    });
    for (const key of ['', 'a/../b', './a', 'a//b', 'a/', '..', 'a\0b']) {
      await assert.rejects(d.put(key, Buffer.from('x')), /invalid storage key/, JSON.stringify(key));
      await assert.rejects(d.stat(key), /invalid storage key/, JSON.stringify(key));
    }
    await assert.rejects(d.list({ prefix: 'a/../' }), /invalid storage prefix/);
    await d.close();
  });

  it('creates the bucket at the first write', async () => {
    const d = track(driverFor(env));
    const status = async () => (await fetch(`${env.s3Endpoint}/${d.bucket}`, { method: 'HEAD' })).status;
    // Reads of a missing bucket are plain misses.
    assert.equal(await d.stat('x'), null);
    assert.equal(await d.get('x'), null);
    assert.deepEqual((await d.list({ prefix: '' })).entries, []);
    assert.notEqual(await status(), 200);
    await d.put('k', Buffer.from('v'));
    assert.equal((await d.get('k'))!.toString(), 'v');
    // gone behind the driver's back: created again by the next write
    await destroyS3Bucket(d);
    await d.put('k2', Buffer.from('v2'));
    assert.equal((await d.get('k2'))!.toString(), 'v2');
  });

  it('concat of many small (< 5 MiB) chunks', async () => {
    const d = track(driverFor(env));
    const chunks = Array.from({ length: 40 }, (_, i) => randomBytes(300 * 1024 + i));
    const keys = chunks.map((_, i) => `up/${String(i).padStart(3, '0')}`);
    for (let i = 0; i < chunks.length; i += 8) await Promise.all(keys.slice(i, i + 8).map((k, j) => d.put(k, chunks[i + j]!)));
    const whole = Buffer.concat(chunks);
    const info = await d.concat('blob', keys);
    assert.equal(info.size, whole.length);
    assert.equal(sha((await d.get('blob'))!), sha(whole));
    const at = 5 * MiB - 3;
    assert.ok((await readAll(await d.read('blob', { start: at, end: at + 9 }))).equals(whole.subarray(at, at + 10)));
    await d.deleteConcatSources('blob', keys);
    assert.deepEqual((await d.list({ prefix: 'up/' })).entries, []);
    assert.equal(sha((await d.get('blob'))!), sha(whole));
  });

  it('concat of a mix of small and >= 5 MiB parts (server-side part copies)', async () => {
    const d = track(driverFor(env));
    const sizes = [1000, 6 * MiB, 100, 0, 5 * MiB, 3 * MiB, 12 * MiB + 1, 10, MIN_PART];
    const plan = planConcat(sizes);
    assert.ok(plan.filter((p) => p.kind === 'copy').length >= 2, 'some parts are copied on the server');
    assert.ok(plan.some((p) => p.kind === 'upload'));
    const parts = sizes.map((n) => randomBytes(n));
    const keys = parts.map((_, i) => `mix/${i}`);
    await Promise.all(parts.map((b, i) => d.put(keys[i]!, Readable.from([b]))));
    const whole = Buffer.concat(parts);
    const info = await d.concat('blob', keys);
    assert.equal(info.size, whole.length);
    assert.equal((await d.stat('blob'))!.size, whole.length);
    assert.equal(sha(await readAll(await d.read('blob'))), sha(whole));
    // A single large source: a plain server-side copy.
    assert.equal((await d.concat('single', ['mix/6'])).size, 12 * MiB + 1);
    assert.equal(sha((await d.get('single'))!), sha(parts[6]!));
  });

  it('presigned GET URLs work with plain fetch', async () => {
    const d = track(driverFor(env));
    const data = randomBytes(70_000);
    await d.put('dir/sha256:abc', data);
    const url = (await d.presignGet('dir/sha256:abc', 60))!;
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(data));
    const ranged = await fetch(url, { headers: { Range: 'bytes=5-9' } });
    assert.equal(ranged.status, 206);
    assert.ok(Buffer.from(await ranged.arrayBuffer()).equals(data.subarray(5, 10)));
    const tampered = url.replace(/X-Amz-Signature=([0-9a-f])/, (_, c: string) => `X-Amz-Signature=${c === '0' ? '1' : '0'}`);
    assert.equal((await fetch(tampered)).status, 403);
  });

  it('DeleteObjects carries Content-MD5 (stores such as Swift 2.30 require it)', async () => {
    let seen: { url?: string; headers?: IncomingHttpHeaders; body?: Buffer } = {};
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen = { url: req.url, headers: req.headers, body: Buffer.concat(chunks) };
        res.writeHead(200, { 'Content-Type': 'application/xml' });
        res.end('<?xml version="1.0" encoding="UTF-8"?><DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></DeleteResult>');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      const d = new S3Driver({
        endpoint: `http://127.0.0.1:${port}`,
        region: 'us-east-1',
        bucket: 'b',
        accessKey: 'a',
        secretKey: 's',
        retries: 0,
      });
      await d.deleteConcatSources('blob', ['up/0', 'up/1']);
      await d.close();
      assert.match(seen.url ?? '', /^\/b\/?\?delete/);
      const md5 = createHash('md5').update(seen.body!).digest('base64');
      assert.equal(seen.headers!['content-md5'], md5);
      assert.match(seen.body!.toString(), /<Key>up\/0<\/Key>/);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
