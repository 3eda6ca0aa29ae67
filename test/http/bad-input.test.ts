// Bad input against a listening `wharf serve` (filesystem storage): every
// client mistake gets the spec's error code and status in an OCI error body,
// nothing is written to storage, no response carries a 500 or a stack trace
// (checked on every response by the client), and the server keeps serving.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';
import {
  assertErrorBody,
  descriptor,
  diffSnapshots,
  digestOf,
  exactRequest,
  expectError,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_LAYER,
  OCI_MANIFEST,
  DOCKER_MANIFEST,
  OciClient,
  parseRawResponse,
  randomBlob,
  randomDigest,
  rawExchange,
  snapshotFiles,
  type PushedImage,
} from '../helpers/oci-client.js';

let wharf: WharfProcess;
let c: OciClient;
// A valid image to refer to.
let img: PushedImage;
const REPO = 'bad/input';

before(async () => {
  wharf = await startWharf();
  c = new OciClient(wharf.url);
  img = await c.pushImage(REPO, 'good');
});

after(async () => {
  const out = wharf.output();
  await wharf.cleanup();
  assert.doesNotMatch(out, /request failed/, `server logged internal failures:\n${out}`);
});

/** GET /v2/ still works. */
async function alive(): Promise<void> {
  const r = await c.request('GET', '/v2/');
  assert.equal(r.status, 200, 'server keeps serving');
}

/**
 * Run `fn` and check that storage is exactly as before (waiting up to 3 s for
 * asynchronous clean-up, e.g. after an aborted connection), and that the server is alive.
 */
async function noWrite(what: string, fn: () => Promise<void>): Promise<void> {
  const before = snapshotFiles(wharf.dataDir);
  await fn();
  let diff: string[] = [];
  for (let i = 0; i < 30; i++) {
    diff = diffSnapshots(before, snapshotFiles(wharf.dataDir));
    if (diff.length === 0) break;
    await sleep(100);
  }
  assert.deepEqual(diff, [], `${what}: storage changed`);
  await alive();
}

/** A request whose path is sent exactly as written (no client-side normalisation). */
async function exact(method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string) {
  const r = await exactRequest(wharf.port, method, path, { headers, body });
  return { ...r, header: (n: string) => r.headers[n.toLowerCase()] ?? null };
}

function expectRawError(r: { status: number; text: string }, status: number, code: string, what: string) {
  assert.equal(r.status, status, `${what}: ${r.text.slice(0, 300)}`);
  const errors = assertErrorBody(r.text, what);
  assert.equal(errors[0]!.code, code, what);
}

describe('invalid repository names', () => {
  const bad = [
    '..',
    'a/../b',
    '../b',
    'a/..',
    'a/./b',
    '.',
    '%2e%2e/b',
    'a/%2E%2E/b',
    'Upper',
    'a/Upper/b',
    'a//b',
    '/a',
    'a/',
    'a'.repeat(256),
    `${'a'.repeat(100)}/${'b'.repeat(100)}/${'c'.repeat(60)}`,
    '_catalog',
    'a/_blobs',
    'a/_tags',
    'a/_manifests/x',
    'a/_referrers',
    '-a',
    'a-',
    'a..b',
    'a___b',
    'a%2Fb',
    'a%20b',
    'a%00b',
    '%C3%A4',
  ];

  it('every endpoint answers 400 NAME_INVALID and writes nothing', async () => {
    // Make "b" a repository where the image could be pushed, so that a name
    // like a/../b resolving to b would show.
    for (const d of [img.config.digest, ...img.layers.map((l) => l.digest)]) {
      const m = await c.request('POST', '/v2/b/blobs/uploads/', { query: { mount: d, from: REPO } });
      assert.equal(m.status, 201);
    }
    await noWrite('invalid names', async () => {
      const d = img.config.digest;
      for (const name of bad) {
        const cases: Array<[string, string, Record<string, string>, Buffer | undefined]> = [
          ['GET', `/v2/${name}/manifests/good`, {}, undefined],
          ['HEAD', `/v2/${name}/manifests/good`, {}, undefined],
          ['PUT', `/v2/${name}/manifests/evil`, { 'Content-Type': OCI_MANIFEST }, img.body],
          ['DELETE', `/v2/${name}/manifests/good`, {}, undefined],
          ['GET', `/v2/${name}/blobs/${d}`, {}, undefined],
          ['DELETE', `/v2/${name}/blobs/${d}`, {}, undefined],
          ['POST', `/v2/${name}/blobs/uploads/`, {}, undefined],
          ['POST', `/v2/${name}/blobs/uploads/?mount=${d}&from=${REPO}`, {}, undefined],
          ['POST', `/v2/${name}/blobs/uploads/?digest=${digestOf('x')}`, { 'Content-Type': 'application/octet-stream' }, Buffer.from('x')],
          ['GET', `/v2/${name}/tags/list`, {}, undefined],
          ['GET', `/v2/${name}/referrers/${img.digest}`, {}, undefined],
        ];
        for (const [method, path, headers, body] of cases) {
          const r = await exact(method, path, headers, body);
          const what = `${method} ${path.slice(0, 120)}`;
          if (method === 'HEAD') assert.equal(r.status, 400, what);
          else expectRawError(r, 400, 'NAME_INVALID', what);
        }
      }
      // `from` is validated too.
      const r = await c.request('POST', `/v2/${REPO}/blobs/uploads/`, { query: { mount: d, from: 'a/../b' } });
      expectError(r, 400, 'NAME_INVALID', 'mount from');
    });
    // Nothing leaked into the real repositories the bad names resolve to.
    expectError(await c.getManifest('b', 'evil'), 404, 'MANIFEST_UNKNOWN');
    assert.deepEqual((await c.tags(REPO)).json().tags, ['good']);
  });

  it('the longest valid name (255) and the allowed separators work', async () => {
    for (const name of ['a'.repeat(255), 'a__b/c.d/e-f/g--h', '0/1/2']) {
      const d = await c.pushBlob(name, Buffer.from('ok'));
      assert.equal((await c.headBlob(name, d)).status, 200, name);
    }
  });
});

describe('malformed digests and unknown algorithms', () => {
  const bad = [
    'sha256:xyz',
    `sha256:${'a'.repeat(63)}`,
    `sha256:${'a'.repeat(65)}`,
    `sha256:${'A'.repeat(64)}`,
    `sha512:${'a'.repeat(64)}`,
    `md5:${'a'.repeat(32)}`,
    `sha1:${'a'.repeat(40)}`,
    `constructor:${'a'.repeat(64)}`,
    `__proto__:${'a'.repeat(64)}`,
    'sha256',
    ':abc',
    `sha256:${'g'.repeat(64)}`,
  ];

  it('blob, mount, monolithic, referrers and manifest references: 400 DIGEST_INVALID, nothing written', async () => {
    await noWrite('malformed digests', async () => {
      for (const d of bad) {
        const q = d;
        expectError(await c.getBlob(REPO, q), 400, 'DIGEST_INVALID', `GET blob ${d}`);
        expectError(await c.deleteBlob(REPO, q), 400, 'DIGEST_INVALID', `DELETE blob ${d}`);
        expectError(
          await c.request('POST', `/v2/${REPO}/blobs/uploads/`, { query: { mount: d, from: REPO } }),
          400,
          'DIGEST_INVALID',
          `mount ${d}`,
        );
        expectError(await c.postMonolithic(REPO, Buffer.from('data'), d), 400, 'DIGEST_INVALID', `POST ?digest=${d}`);
        expectError(await c.referrers(REPO, q), 400, 'DIGEST_INVALID', `referrers ${d}`);
        if (d.includes(':')) {
          expectError(await c.getManifest(REPO, q), 400, 'DIGEST_INVALID', `GET manifest ${d}`);
          expectError(await c.putManifest(REPO, q, img.body, OCI_MANIFEST), 400, 'DIGEST_INVALID', `PUT manifest ${d}`);
        }
      }
    });
  });

  it('PUT ?digest= malformed or unknown algorithm: 400 DIGEST_INVALID, the upload is untouched', async () => {
    const data = randomBlob(100);
    const { location } = await c.startUpload(REPO);
    assert.equal((await c.patch(location, data)).status, 202);
    await noWrite('finish with bad digests', async () => {
      for (const d of [...bad, '']) {
        expectError(await c.finish(location, d), 400, 'DIGEST_INVALID', `PUT ?digest=${d}`);
      }
      expectError(await c.request('PUT', location), 400, 'DIGEST_INVALID', 'PUT without digest');
    });
    assert.equal((await c.uploadStatus(location)).header('range'), '0-99');
    assert.equal((await c.finish(location, digestOf(data))).status, 201);
  });
});

describe('digest mismatch', () => {
  it('at PUT: 400 DIGEST_INVALID, nothing published, the upload is cleaned up', async () => {
    const data = randomBlob(5000);
    const wrong = digestOf(randomBlob(10));
    await noWrite('mismatch at PUT', async () => {
      const { location } = await c.startUpload(REPO);
      assert.equal((await c.patch(location, data.subarray(0, 2000))).status, 202);
      expectError(await c.finish(location, wrong, data.subarray(2000)), 400, 'DIGEST_INVALID');
    });
    expectError(await c.getBlob(REPO, wrong), 404, 'BLOB_UNKNOWN');
    expectError(await c.getBlob(REPO, digestOf(data)), 404, 'BLOB_UNKNOWN');
    // sha512 requested, sha256 hashed on the way in: the check still holds.
    await noWrite('sha512 mismatch at PUT', async () => {
      const { location } = await c.startUpload(REPO);
      assert.equal((await c.patch(location, data)).status, 202);
      expectError(await c.finish(location, digestOf(randomBlob(5), 'sha512')), 400, 'DIGEST_INVALID');
    });
  });

  it('at monolithic POST: 400 DIGEST_INVALID, nothing published or left behind', async () => {
    const data = randomBlob(3000);
    const wrong = digestOf(randomBlob(10));
    await noWrite('mismatch at POST', async () => {
      expectError(await c.postMonolithic(REPO, data, wrong), 400, 'DIGEST_INVALID');
    });
    expectError(await c.getBlob(REPO, wrong), 404, 'BLOB_UNKNOWN');
    expectError(await c.getBlob(REPO, digestOf(data)), 404, 'BLOB_UNKNOWN');
  });
});

describe('declared and actual body lengths', () => {
  it('PATCH body shorter than Content-Length, client hangs up: no chunk, offset unchanged, server alive', async () => {
    const data = randomBlob(1000);
    const { location } = await c.startUpload(REPO);
    assert.equal((await c.patch(location, data.subarray(0, 100), { start: 0 })).status, 202);
    const path = new URL(location, wharf.url).pathname;
    await noWrite('short PATCH', async () => {
      for (const range of [true, false]) {
        const head =
          `PATCH ${path} HTTP/1.1\r\nHost: ${wharf.host}\r\nContent-Type: application/octet-stream\r\n` +
          `${range ? 'Content-Range: 100-999\r\n' : ''}Content-Length: 900\r\n\r\n`;
        await rawExchange(wharf.port, [head, data.subarray(100, 500)], { mode: 'abort', gapMs: 150 });
      }
    });
    assert.equal((await c.uploadStatus(location)).header('range'), '0-99');
    // The upload continues normally.
    assert.equal((await c.patch(location, data.subarray(100), { start: 100 })).status, 202);
    assert.equal((await c.finish(location, digestOf(data))).status, 201);
    assert.ok((await c.getBlob(REPO, digestOf(data))).body.equals(data));
  });

  it('monolithic POST and final PUT with a short body: no blob, no leftovers', async () => {
    const data = randomBlob(800);
    const d = digestOf(data);
    await noWrite('short POST', async () => {
      const head =
        `POST /v2/${REPO}/blobs/uploads/?digest=${d} HTTP/1.1\r\nHost: ${wharf.host}\r\n` +
        `Content-Type: application/octet-stream\r\nContent-Length: 800\r\n\r\n`;
      await rawExchange(wharf.port, [head, data.subarray(0, 300)], { mode: 'abort', gapMs: 150 });
    });
    expectError(await c.getBlob(REPO, d), 404, 'BLOB_UNKNOWN');

    const { location } = await c.startUpload(REPO);
    assert.equal((await c.patch(location, data.subarray(0, 400))).status, 202);
    const path = new URL(location, wharf.url).pathname;
    await noWrite('short final PUT', async () => {
      const head =
        `PUT ${path}?digest=${d} HTTP/1.1\r\nHost: ${wharf.host}\r\n` +
        `Content-Type: application/octet-stream\r\nContent-Length: 400\r\n\r\n`;
      await rawExchange(wharf.port, [head, data.subarray(400, 500)], { mode: 'abort', gapMs: 150 });
    });
    expectError(await c.getBlob(REPO, d), 404, 'BLOB_UNKNOWN');
    assert.equal((await c.uploadStatus(location)).header('range'), '0-399');
    assert.equal((await c.finish(location, d, data.subarray(400))).status, 201);
  });

  it('chunked body cut off before its last chunk: nothing stored', async () => {
    const { location } = await c.startUpload(REPO);
    const path = new URL(location, wharf.url).pathname;
    await noWrite('truncated chunked PATCH', async () => {
      const head = `PATCH ${path} HTTP/1.1\r\nHost: ${wharf.host}\r\nTransfer-Encoding: chunked\r\n\r\n`;
      await rawExchange(wharf.port, [head, '5\r\nhello\r\n', '100\r\nabc'], { mode: 'abort', gapMs: 150 });
    });
    assert.equal((await c.uploadStatus(location)).header('range'), '0-0');
  });

  it('Content-Range and Content-Length disagree: 400 BLOB_UPLOAD_INVALID, offset unchanged', async () => {
    const { location } = await c.startUpload(REPO);
    assert.equal((await c.patch(location, randomBlob(10), { start: 0 })).status, 202);
    await noWrite('range/length mismatch', async () => {
      // Declared range longer, then shorter, than the body.
      for (const [range, size] of [
        ['10-109', 50],
        ['10-19', 20],
      ] as const) {
        const r = await c.request('PATCH', location, {
          headers: { 'Content-Range': range, 'Content-Type': 'application/octet-stream' },
          body: randomBlob(size),
        });
        expectError(r, 400, 'BLOB_UPLOAD_INVALID', range);
      }
      // Malformed and inverted ranges.
      expectError(
        await c.request('PATCH', location, { headers: { 'Content-Range': 'bytes=abc' }, body: randomBlob(5) }),
        400,
        'BLOB_UPLOAD_INVALID',
        'malformed Content-Range',
      );
      expectError(
        await c.request('PATCH', location, { headers: { 'Content-Range': '19-10' }, body: randomBlob(5) }),
        416,
        'RANGE_INVALID',
        'inverted Content-Range',
      );
    });
    assert.equal((await c.uploadStatus(location)).header('range'), '0-9');
  });

  it('body longer than Content-Length: only the declared bytes are the body; the rest is the next request', async () => {
    const data = randomBlob(10);
    const { location } = await c.startUpload(REPO);
    const path = new URL(location, wharf.url).pathname;
    const head = `PATCH ${path} HTTP/1.1\r\nHost: ${wharf.host}\r\nContent-Length: 10\r\n\r\n`;
    // The surplus bytes are a well-formed request: both are answered in order.
    const next = `GET /v2/ HTTP/1.1\r\nHost: ${wharf.host}\r\nConnection: close\r\n\r\n`;
    // (No half-close: Node's server drops pending requests when the client ends its side.)
    const raw = await rawExchange(wharf.port, [head, Buffer.concat([data, Buffer.from(next)])], { halfClose: false });
    const first = parseRawResponse(raw);
    assert.equal(first.status, 202, raw.toString('latin1'));
    assert.equal(first.headers.range, '0-9');
    assert.equal(parseRawResponse(first.rest).status, 200);
    assert.equal((await c.uploadStatus(location)).header('range'), '0-9');

    // The surplus bytes are garbage: the connection ends with a bare 400 and
    // the garbage never becomes part of the upload.
    const more = randomBlob(10);
    const raw2 = await rawExchange(
      wharf.port,
      [
        `PATCH ${path} HTTP/1.1\r\nHost: ${wharf.host}\r\nContent-Range: 10-19\r\nContent-Length: 10\r\n\r\n`,
        Buffer.concat([more, Buffer.from('GARBAGE GARBAGE\r\n\r\n')]),
      ],
      { halfClose: false },
    );
    assert.match(raw2.toString('latin1'), /^HTTP\/1\.1 (202|400) /);
    assert.match(raw2.toString('latin1'), /HTTP\/1\.1 400 Bad Request/);
    // The PATCH itself was complete and well-formed, so the server may still
    // apply it after the connection is gone: wait for it (up to 3 s).
    let range = (await c.uploadStatus(location)).header('range');
    for (let i = 0; i < 30 && range !== '0-19'; i++) {
      await sleep(100);
      range = (await c.uploadStatus(location)).header('range');
    }
    assert.ok(range === '0-9' || range === '0-19', `offset after a garbled request: ${range}`);
    const all = range === '0-9' ? data : Buffer.concat([data, more]);
    assert.equal((await c.finish(location, digestOf(all))).status, 201);
    assert.ok((await c.getBlob(REPO, digestOf(all))).body.equals(all));
    await alive();
  });

  it('an error answered before a large body is read still reaches the client that is sending it', async () => {
    const data = randomBlob(3 * 1024 * 1024);
    const { location } = await c.startUpload(REPO);
    assert.equal((await c.patch(location, data.subarray(0, 10), { start: 0 })).status, 202);
    await noWrite('early errors', async () => {
      // Unknown upload, out-of-order chunk, invalid name: all refused before the body is read.
      expectError(await c.patch(`/v2/${REPO}/blobs/uploads/${randomUUID()}`, data), 404, 'BLOB_UPLOAD_UNKNOWN');
      const ooo = await c.patch(location, data, { start: 4096 });
      expectError(ooo, 416, 'RANGE_INVALID');
      assert.equal(ooo.header('range'), '0-9');
      expectError(await c.postMonolithic('Bad/Name', data), 400, 'NAME_INVALID');
      async function* streamed() {
        for (let i = 0; i < 3; i++) yield data.subarray(i * 1024 * 1024, (i + 1) * 1024 * 1024);
      }
      const r = await c.request('PATCH', location, { headers: { 'Content-Range': '4096-3149823' }, body: streamed() });
      expectError(r, 416, 'RANGE_INVALID', 'streamed out-of-order chunk');
    });
    assert.equal((await c.uploadStatus(location)).header('range'), '0-9');
  });

  it('an invalid Content-Length header is refused', async () => {
    const raw = await rawExchange(wharf.port, [
      `PATCH /v2/${REPO}/blobs/uploads/${randomUUID()} HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n`,
    ]);
    assert.equal(parseRawResponse(raw).status, 400);
    await alive();
  });
});

describe('manifests', () => {
  const put = (ref: string, body: string | Buffer | object, type?: string) => c.putManifest(REPO, ref, body, type);
  const base = () => JSON.parse(img.body.toString('utf8')) as Record<string, any>;

  it('malformed or invalid manifests: 400 MANIFEST_INVALID, nothing stored', async () => {
    const cases: Array<[string, string | Buffer | object, string | undefined]> = [
      ['not JSON', '{"schemaVersion": 2, ', OCI_MANIFEST],
      ['empty body', '', OCI_MANIFEST],
      ['JSON array', '[]', OCI_MANIFEST],
      ['JSON string', '"x"', OCI_MANIFEST],
      ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), OCI_MANIFEST],
      ['schemaVersion 1', { ...base(), schemaVersion: 1 }, OCI_MANIFEST],
      ['schemaVersion 3', { ...base(), schemaVersion: 3 }, OCI_MANIFEST],
      ['schemaVersion "2"', { ...base(), schemaVersion: '2' }, OCI_MANIFEST],
      ['schemaVersion missing', { ...base(), schemaVersion: undefined }, OCI_MANIFEST],
      ['Content-Type vs mediaType', base(), DOCKER_MANIFEST],
      ['index Content-Type on a manifest', base(), OCI_INDEX],
      ['unknown media type', { ...base(), mediaType: 'application/vnd.example.thing+json' }, 'application/vnd.example.thing+json'],
      ['schema1 Content-Type', base(), 'application/vnd.docker.distribution.manifest.v1+prettyjws'],
      ['mediaType not a string', { ...base(), mediaType: 7 }, undefined],
      ['layers not a list', { ...base(), layers: 'x' }, OCI_MANIFEST],
      ['config missing', { ...base(), config: undefined }, OCI_MANIFEST],
      ['descriptor digest malformed', { ...base(), config: { ...base().config, digest: 'sha256:nothex' } }, OCI_MANIFEST],
      ['descriptor digest md5', { ...base(), config: { ...base().config, digest: `md5:${'a'.repeat(32)}` } }, OCI_MANIFEST],
      ['descriptor size negative', { ...base(), config: { ...base().config, size: -1 } }, OCI_MANIFEST],
      ['descriptor size not a number', { ...base(), config: { ...base().config, size: '12' } }, OCI_MANIFEST],
      ['annotations not strings', { ...base(), annotations: { a: 1 } }, OCI_MANIFEST],
      ['index manifests not a list', { schemaVersion: 2, mediaType: OCI_INDEX, manifests: {} }, OCI_INDEX],
      ['subject on a Docker manifest', { ...base(), mediaType: DOCKER_MANIFEST, subject: img.descriptor }, DOCKER_MANIFEST],
    ];
    await noWrite('invalid manifests', async () => {
      for (const [what, body, type] of cases) {
        expectError(await put('badtag', body, type), 400, 'MANIFEST_INVALID', what);
      }
    });
    expectError(await c.getManifest(REPO, 'badtag'), 404, 'MANIFEST_UNKNOWN');
  });

  it('a manifest over the size limit: 413, with and without Content-Length', async () => {
    const huge = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);
    huge.write(img.body.toString('utf8'));
    await noWrite('oversized manifest', async () => {
      const r = await put('huge', huge, OCI_MANIFEST);
      assert.equal(r.status, 413, r.text);
      assertErrorBody(r.text);
      async function* pieces() {
        for (let i = 0; i < 5; i++) yield Buffer.alloc(1024 * 1024, 0x20);
      }
      const r2 = await c.request('PUT', `/v2/${REPO}/manifests/huge`, { headers: { 'Content-Type': OCI_MANIFEST }, body: pieces() });
      assert.equal(r2.status, 413, r2.text);
      assertErrorBody(r2.text);
    });
    expectError(await c.getManifest(REPO, 'huge'), 404, 'MANIFEST_UNKNOWN');
  });

  it('PUT by a digest that is not the body’s: 400 DIGEST_INVALID, nothing stored', async () => {
    const other = { ...base(), annotations: { x: 'y' } };
    const body = Buffer.from(JSON.stringify(other));
    await noWrite('digest reference mismatch', async () => {
      expectError(await put(randomDigest(), body, OCI_MANIFEST), 400, 'DIGEST_INVALID');
      // The body's own sha512 digest with its last hex digit changed (to one it is not: a fixed '0' was right 1 time in 16).
      const sha512 = digestOf(body, 'sha512');
      const wrong = sha512.slice(0, -1) + (sha512.endsWith('0') ? '1' : '0');
      expectError(await put(wrong, body, OCI_MANIFEST), 400, 'DIGEST_INVALID');
    });
    expectError(await c.getManifest(REPO, digestOf(body)), 404, 'MANIFEST_UNKNOWN');
  });

  it('invalid tags: 400 TAG_INVALID', async () => {
    const tags = ['-lead', '.lead', 'a'.repeat(129), 'a+b', 'a%20b', 'a%2Fb', 'tag!', 'ä'];
    await noWrite('invalid tags', async () => {
      for (const t of tags) {
        expectError(await put(t, img.body, OCI_MANIFEST), 400, 'TAG_INVALID', `PUT ${t}`);
        expectError(await c.getManifest(REPO, t), 400, 'TAG_INVALID', `GET ${t}`);
        expectError(await c.deleteManifest(REPO, t), 400, 'TAG_INVALID', `DELETE ${t}`);
      }
    });
    // The longest valid tag works.
    assert.equal((await put('a'.repeat(128), img.body, OCI_MANIFEST)).status, 201);
  });

  it('references to missing blobs: 400 MANIFEST_BLOB_UNKNOWN, nothing stored', async () => {
    const body = { ...base(), layers: [descriptor(OCI_LAYER, randomBlob(5))] };
    await noWrite('missing blobs', async () => {
      expectError(await put('missing', body, OCI_MANIFEST), 400, 'MANIFEST_BLOB_UNKNOWN');
      const cfg = { ...base(), config: descriptor(OCI_CONFIG, randomBlob(5)) };
      expectError(await put('missing', cfg, OCI_MANIFEST), 400, 'MANIFEST_BLOB_UNKNOWN');
    });
  });
});

describe('uploads that do not exist or are not yours', () => {
  it('unknown and malformed upload ids: 404 BLOB_UPLOAD_UNKNOWN for every method', async () => {
    const ids = [randomUUID(), 'not-a-uuid', 'record', '00000000-0000-0000-0000-000000000000', 'x'.repeat(300), '%2e%2e%2f'];
    await noWrite('unknown upload ids', async () => {
      for (const id of ids) {
        const loc = `/v2/${REPO}/blobs/uploads/${id}`;
        expectError(await c.uploadStatus(loc), 404, 'BLOB_UPLOAD_UNKNOWN', `GET ${id}`);
        expectError(await c.patch(loc, randomBlob(10)), 404, 'BLOB_UPLOAD_UNKNOWN', `PATCH ${id}`);
        expectError(await c.finish(loc, digestOf('x'), Buffer.from('x')), 404, 'BLOB_UPLOAD_UNKNOWN', `PUT ${id}`);
        expectError(await c.request('DELETE', loc), 404, 'BLOB_UPLOAD_UNKNOWN', `DELETE ${id}`);
      }
      for (const id of ['..', '.', '%2e%2e', '..%2f..']) {
        expectRawError(await exact('GET', `/v2/${REPO}/blobs/uploads/${id}`), 404, 'BLOB_UPLOAD_UNKNOWN', `id ${id}`);
      }
    });
  });

  it('an upload id used with another repository or namespace: 404 BLOB_UPLOAD_UNKNOWN, upload intact', async () => {
    const data = randomBlob(64);
    const { location, uuid } = await c.startUpload(REPO);
    assert.equal((await c.patch(location, data.subarray(0, 32))).status, 202);
    await noWrite('foreign upload id', async () => {
      for (const other of [`/v2/other/repo/blobs/uploads/${uuid}`, `/v2/${REPO}/blobs/uploads/${uuid}?ns=elsewhere`]) {
        expectError(await c.uploadStatus(other), 404, 'BLOB_UPLOAD_UNKNOWN', `GET ${other}`);
        expectError(await c.patch(other, data.subarray(32), { start: 32 }), 404, 'BLOB_UPLOAD_UNKNOWN', `PATCH ${other}`);
        expectError(await c.finish(other, digestOf(data), data.subarray(32)), 404, 'BLOB_UPLOAD_UNKNOWN', `PUT ${other}`);
        expectError(await c.request('DELETE', other), 404, 'BLOB_UPLOAD_UNKNOWN', `DELETE ${other}`);
      }
    });
    expectError(await c.getBlob('other/repo', digestOf(data)), 404, 'BLOB_UNKNOWN');
    assert.equal((await c.uploadStatus(location)).header('range'), '0-31');
    assert.equal((await c.finish(location, digestOf(data), data.subarray(32))).status, 201);
  });
});

describe('requests the API does not have', () => {
  it('Range out of bounds on a blob: 416 with Content-Range', async () => {
    const r = await c.getBlob(REPO, img.config.digest, `bytes=${img.config.size}-`);
    expectError(r, 416, 'RANGE_INVALID');
    assert.equal(r.header('content-range'), `bytes */${img.config.size}`);
  });

  it('unsupported methods: 405 UNSUPPORTED with Allow', async () => {
    const d = img.config.digest;
    const cases: Array<[string, string]> = [
      ['POST', '/v2/'],
      ['DELETE', '/v2/'],
      ['PUT', '/v2/_catalog'],
      ['POST', `/v2/${REPO}/tags/list`],
      ['DELETE', `/v2/${REPO}/tags/list`],
      ['PATCH', `/v2/${REPO}/manifests/good`],
      ['POST', `/v2/${REPO}/manifests/good`],
      ['PUT', `/v2/${REPO}/blobs/${d}`],
      ['POST', `/v2/${REPO}/blobs/${d}`],
      ['PATCH', `/v2/${REPO}/blobs/${d}`],
      ['GET', `/v2/${REPO}/blobs/uploads/`],
      ['PUT', `/v2/${REPO}/blobs/uploads/`],
      ['PATCH', `/v2/${REPO}/blobs/uploads/`],
      ['POST', `/v2/${REPO}/blobs/uploads/${randomUUID()}`],
      ['DELETE', `/v2/${REPO}/referrers/${img.digest}`],
      ['OPTIONS', '/v2/'],
    ];
    await noWrite('unsupported methods', async () => {
      for (const [method, path] of cases) {
        const r = await c.request(method, path, { body: method === 'GET' ? undefined : Buffer.from('{}') });
        expectError(r, 405, 'UNSUPPORTED', `${method} ${path}`);
        assert.ok(r.header('allow'), `${method} ${path}: Allow header`);
      }
    });
  });

  it('unknown paths: 404 with an error body', async () => {
    const paths = ['/', '/v1/', '/v2/x', '/v2/x/unknown', '/v2/x/blobs/', '/v2/x/manifests/', '/favicon.ico', '/v2/../etc/passwd', '/v2x/'];
    await noWrite('unknown paths', async () => {
      for (const p of paths) {
        const r = await exact('GET', p);
        assert.equal(r.status, 404, `${p}: ${r.text}`);
        assertErrorBody(r.text, p);
      }
    });
  });

  it('pagination with a bad n: 400 PAGINATION_NUMBER_INVALID', async () => {
    for (const n of ['abc', '-1', '1.5', '1e3', '99999999999999999999']) {
      expectError(await c.tags(REPO, { n }), 400, 'PAGINATION_NUMBER_INVALID', `tags n=${n}`);
      expectError(await c.catalog({ n }), 400, 'PAGINATION_NUMBER_INVALID', `catalog n=${n}`);
    }
  });

  it('an invalid namespace: 400 NAME_INVALID', async () => {
    for (const ns of ['a/b', '..', '-x', 'x'.repeat(300), 'a_b']) {
      expectError(await c.withNs(ns).catalog(), 400, 'NAME_INVALID', `ns=${ns}`);
    }
  });

  it('garbage on the wire and oversized headers: a bare 4xx, the server keeps serving', async () => {
    const garbage = parseRawResponse(await rawExchange(wharf.port, ['NOT HTTP AT ALL\r\n\r\n']));
    assert.equal(garbage.status, 400);
    const big = parseRawResponse(
      await rawExchange(wharf.port, [`GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`]),
    );
    assert.equal(big.status, 431);
    const bothFramings = parseRawResponse(
      await rawExchange(wharf.port, [
        `PATCH /v2/${REPO}/blobs/uploads/${randomUUID()} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
      ]),
    );
    assert.ok(bothFramings.status === 400 || bothFramings.status === 404, String(bothFramings.status));
    await alive();
  });
});
