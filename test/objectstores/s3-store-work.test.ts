// How much store work the S3 driver does per operation, counted by a
// reverse proxy in front of the Swift all-in-one's S3 API
// (test/helpers/s3-counting-proxy.ts): the store is what limits Wharf on
// S3, so the calls an operation makes are part of its behaviour. Also: the
// hot calls (HEAD, GET, PUT, UploadPart) do not go through the AWS SDK.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { layout } from '../../src/registry/layout.js';
import { parseDigest } from '../../src/registry/names.js';
import type { Scope } from '../../src/registry/scope.js';
import { appendChunk, finishUpload, startUpload, uploadWhole } from '../../src/registry/uploads.js';
import { NotFoundError } from '../../src/storage/errors.js';
import { S3Driver } from '../../src/storage/s3.js';
import { destroyS3Bucket, s3Parts } from '../helpers/s3-driver.js';
import { readAll } from '../helpers/bytes.js';
import { startCountingProxy, type CountingProxy } from '../helpers/s3-counting-proxy.js';
import { ensureSwift, uniqueName, type SwiftEnv } from '../helpers/swift.js';

const MiB = 1 << 20;

function digestOf(b: Uint8Array) {
  return parseDigest(`sha256:${createHash('sha256').update(b).digest('hex')}`);
}

describe('s3 store work per operation', () => {
  let env: SwiftEnv;
  let proxy: CountingProxy;
  const drivers: S3Driver[] = [];
  before(async () => {
    env = await ensureSwift();
    proxy = await startCountingProxy(env.s3Endpoint);
  });
  after(async () => {
    for (const d of drivers) {
      await destroyS3Bucket(d);
      await d.close();
    }
    await proxy.close();
  });
  async function driver(): Promise<S3Driver> {
    const d = new S3Driver({
      endpoint: proxy.endpoint,
      region: env.s3Region,
      bucket: uniqueName('wharf-s3work'),
      accessKey: env.s3AccessKey,
      secretKey: env.s3SecretKey,
      forcePathStyle: true,
    });
    drivers.push(d);
    await d.put('ready', Buffer.alloc(0)); // the bucket exists from here on
    return d;
  }
  /** The store calls `fn` makes. */
  async function count(fn: () => Promise<unknown>): Promise<string[]> {
    const from = proxy.calls.length;
    await fn();
    return proxy.ops(from);
  }

  it('HEAD, GET, PUT, UploadPart, DELETE and ListObjectsV2 do not go through the AWS SDK', async () => {
    const d = await driver();
    const commands: string[] = [];
    s3Parts(d).client.middlewareStack.add(
      (next, context) => async (args) => {
        commands.push((context as { commandName?: string }).commandName ?? '?');
        return next(args);
      },
      { step: 'initialize', name: 'testCountCommands' },
    );
    const big = randomBytes(11 * MiB + 3);
    await d.put('a/small', Buffer.from('hello'));
    await d.put('a/big', Readable.from([big]));
    assert.equal((await d.stat('a/small'))!.size, 5);
    assert.equal((await d.get('a/small'))!.toString(), 'hello');
    assert.ok((await readAll(await d.read('a/big'))).equals(big));
    assert.ok((await readAll(await d.read('a/big', { start: 5, end: 9 }))).equals(big.subarray(5, 10)));
    await d.put('a/x&<y>', Buffer.from('z'));
    assert.deepEqual(
      (await d.list({ prefix: 'a/', delimiter: '/' })).entries.map((e) => [e.key, e.size]),
      [
        ['a/big', big.length],
        ['a/small', 5],
        ['a/x&<y>', 1],
      ],
    );
    assert.deepEqual(
      (await d.list({ prefix: '', delimiter: '/' })).entries.map((e) => e.key),
      ['a/', 'ready'],
    );
    const page = await d.list({ prefix: 'a/', limit: 1, startAfter: 'a/big' });
    assert.deepEqual([page.entries.map((e) => e.key), page.next], [['a/small'], 'a/small']);
    assert.equal(await d.delete('a/x&<y>'), true);
    assert.equal(await d.delete('a/x&<y>'), false);
    // Only the multipart bookkeeping of the big put is left to the SDK.
    assert.deepEqual(commands, ['CreateMultipartUploadCommand', 'CompleteMultipartUploadCommand']);
  });

  it('a body up to 10 MiB is one PutObject; a longer one a multipart upload of 5 MiB parts', async () => {
    const d = await driver();
    assert.deepEqual(await count(() => d.put('c/8', Readable.from([randomBytes(8 * MiB)]))), ['PUT']);
    assert.deepEqual(await count(() => d.put('c/10', Readable.from([randomBytes(10 * MiB)]))), ['PUT']);
    const big = randomBytes(21 * MiB);
    assert.deepEqual(await count(() => d.put('c/21', Readable.from([big]))), [
      'POST?uploads',
      ...Array(5).fill('PUT?partNumber,uploadId'),
      'POST?uploadId',
    ]);
    assert.ok((await readAll(await d.read('c/21'))).equals(big));
  });

  it('copy is done by the server: HeadObject + CopyObject, no byte through the driver', async () => {
    const d = await driver();
    const small = randomBytes(1000);
    const large = randomBytes(12 * MiB + 7);
    await d.put('a/blobs/small', small);
    await d.put('a/blobs/large', Readable.from([large])); // multipart
    const from = proxy.calls.length;
    assert.equal((await d.copy('a/blobs/small', 'b/blobs/small')).size, small.length);
    assert.equal((await d.copy('a/blobs/large', 'b/blobs/large')).size, large.length);
    assert.deepEqual(proxy.ops(from), ['HEAD', 'PUT+COPY', 'HEAD', 'PUT+COPY']);
    assert.equal(
      proxy.calls.slice(from).reduce((n, c) => n + c.sent, 0),
      0,
    );
    assert.ok((await d.get('b/blobs/small'))!.equals(small));
    assert.ok((await readAll(await d.read('b/blobs/large'))).equals(large));
    await assert.rejects(d.copy('a/blobs/missing', 'b/blobs/missing'), NotFoundError);
  });

  it('concat of one source below the part minimum is a server-side copy (no download and upload again)', async () => {
    const d = await driver();
    const part = randomBytes(1 * MiB + 5);
    await d.put('up/part', part);
    const from = proxy.calls.length;
    assert.equal((await d.concat('blob', ['up/part'])).size, part.length);
    assert.deepEqual(proxy.ops(from), ['HEAD', 'PUT+COPY']);
    assert.equal(
      proxy.calls.slice(from).reduce((n, c) => n + c.sent, 0),
      0,
      'no byte of the object passed through the driver',
    );
    assert.ok((await d.get('blob'))!.equals(part));
  });

  it('putChecked: nothing at the key until the check passes; false or a throw publishes nothing', async () => {
    const d = await driver();
    const big = randomBytes(12 * MiB + 1);
    const seen: number[] = [];
    const published = await d.putChecked('k/big', Readable.from([big]), async (info) => {
      seen.push(info.size);
      assert.equal(await d.stat('k/big'), null, 'not visible before the check');
      return true;
    });
    assert.equal(published!.size, big.length);
    assert.deepEqual(seen, [big.length]);
    assert.ok((await readAll(await d.read('k/big'))).equals(big));

    for (const body of [randomBytes(100), big]) {
      assert.equal(await d.putChecked('k/no', Readable.from([body]), async () => false), null);
      await assert.rejects(
        d.putChecked('k/throw', Readable.from([body]), async () => {
          throw new Error('bad digest');
        }),
        /bad digest/,
      );
    }
    assert.equal(await d.stat('k/no'), null);
    assert.equal(await d.stat('k/throw'), null);
    // The aborted multipart uploads are gone too.
    const uploads = await s3Parts(d).client.send(
      new (await import('@aws-sdk/client-s3')).ListMultipartUploadsCommand({ Bucket: d.bucket }),
    );
    assert.deepEqual(uploads.Uploads ?? [], []);
  });

  it('a small push (POST, PUT with the body) writes the blob once, with no part object or copy', async () => {
    const d = await driver();
    const s: Scope = { driver: d, ns: 'default' };
    const data = randomBytes(16 * 1024);
    const digest = digestOf(data);
    const { id } = await startUpload(s, 'r');
    const from = proxy.calls.length;
    const ops = await count(() => finishUpload(s, 'r', id, digest, Readable.from([data]), { length: data.length }));
    assert.ok(!ops.some((o) => o.includes('COPY') || o.startsWith('POST')), ops.join(' '));
    const written = proxy.calls.slice(from).filter((c) => c.op.startsWith('PUT'));
    assert.ok(!written.some((c) => c.path.includes('/uploads/')), 'no part object');
    const blobPuts = proxy.calls.filter((c) => c.op === 'PUT' && c.path.endsWith(layout.blob('default', digest)));
    assert.equal(blobPuts.length, 1);
    assert.equal(blobPuts[0]!.sent, data.length);
    // The upload left nothing behind.
    assert.deepEqual(
      (await d.list({ prefix: 'default/uploads/' })).entries.map((e) => e.key),
      [],
    );
    // And POST ?digest= (uploadWhole) the same, without a record.
    const other = randomBytes(20_000);
    const ops2 = await count(() => uploadWhole(s, 'r', digestOf(other), Readable.from([other]), { length: other.length }));
    assert.ok(!ops2.some((o) => o.includes('COPY') || o.startsWith('GET') || o.startsWith('POST')), ops2.join(' '));
    assert.ok((await d.get(layout.blob('default', digestOf(other))))?.equals(other));
  });

  it('a one-PATCH push of 12 MiB: the bytes go up once and are copied once on the server', async () => {
    const d = await driver();
    const s: Scope = { driver: d, ns: 'default' };
    const data = randomBytes(12 * MiB);
    const from = proxy.calls.length;
    const { id } = await startUpload(s, 'r');
    await appendChunk(s, 'r', id, Readable.from([data]), {});
    await finishUpload(s, 'r', id, digestOf(data), null, {});
    const calls = proxy.calls.slice(from);
    assert.equal(calls.filter((c) => c.op.includes('COPY')).length, 1);
    const sent = calls.reduce((n, c) => n + c.sent, 0);
    assert.ok(sent >= data.length && sent < data.length + 64 * 1024, `sent ${sent}`);
    assert.equal(
      calls.filter((c) => c.op.startsWith('GET') && !c.op.includes('list')).reduce((n, c) => n + c.received, 0) < 64 * 1024,
      true,
    );
  });
});
