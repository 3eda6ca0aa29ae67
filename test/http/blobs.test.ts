// HTTP API against a listening `wharf serve` (filesystem storage): the base
// endpoint, blob reads with ranges, every upload flavour (monolithic, chunked,
// streamed, mount), upload status and cancel, sha512, and blob deletion.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startWharf, stopCheckingLog, type WharfProcess } from '../helpers/wharf.js';
import { digestOf, expectError, OciClient, randomBlob, randomDigest } from '../helpers/oci-client.js';

let wharf: WharfProcess;
let c: OciClient;

before(async () => {
  wharf = await startWharf();
  c = new OciClient(wharf.url);
});

after(() => stopCheckingLog(wharf));

describe('base endpoint', () => {
  it('GET /v2/ answers 200 {} with the API version header', async () => {
    const r = await c.request('GET', '/v2/');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), {});
    assert.equal(r.header('docker-distribution-api-version'), 'registry/2.0');
    const h = await c.request('HEAD', '/v2/');
    assert.equal(h.status, 200);
    assert.equal(h.body.length, 0);
  });
});

describe('blob reads', () => {
  const repo = 'reads/blob';
  const data = randomBlob(1000);
  let digest: string;
  before(async () => {
    digest = await c.pushBlob(repo, data);
  });

  it('HEAD gives size, digest and no body', async () => {
    const r = await c.headBlob(repo, digest);
    assert.equal(r.status, 200);
    assert.equal(r.header('content-length'), '1000');
    assert.equal(r.header('docker-content-digest'), digest);
    assert.equal(r.body.length, 0);
  });

  it('GET gives the bytes', async () => {
    const r = await c.getBlob(repo, digest);
    assert.equal(r.status, 200);
    assert.equal(r.header('content-type'), 'application/octet-stream');
    assert.equal(r.header('docker-content-digest'), digest);
    assert.equal(r.header('content-length'), '1000');
    assert.ok(r.body.equals(data));
  });

  it('Range: first-last, open end, suffix, end clipped to the size', async () => {
    const cases: Array<[string, number, number]> = [
      ['bytes=10-19', 10, 19],
      ['bytes=990-', 990, 999],
      ['bytes=-5', 995, 999],
      ['bytes=-5000', 0, 999],
      ['bytes=900-5000', 900, 999],
      ['bytes=0-0', 0, 0],
    ];
    for (const [range, start, end] of cases) {
      const r = await c.getBlob(repo, digest, range);
      assert.equal(r.status, 206, range);
      assert.equal(r.header('content-range'), `bytes ${start}-${end}/1000`, range);
      assert.equal(r.header('content-length'), String(end - start + 1), range);
      assert.ok(r.body.equals(data.subarray(start, end + 1)), range);
    }
  });

  it('Range out of bounds is 416 with Content-Range: bytes */size', async () => {
    for (const range of ['bytes=1000-', 'bytes=5000-6000', 'bytes=-0', 'bytes=20-10', 'bytes=abc', 'items=0-1']) {
      const r = await c.getBlob(repo, digest, range);
      expectError(r, 416, 'RANGE_INVALID', range);
      assert.equal(r.header('content-range'), 'bytes */1000', range);
    }
  });

  it('unknown blob: GET 404 BLOB_UNKNOWN, HEAD 404 without body', async () => {
    const d = randomDigest();
    expectError(await c.getBlob(repo, d), 404, 'BLOB_UNKNOWN');
    const h = await c.headBlob(repo, d);
    assert.equal(h.status, 404);
    assert.equal(h.body.length, 0);
    // Known blob, but not linked into this repository.
    expectError(await c.getBlob('reads/other', digest), 404, 'BLOB_UNKNOWN');
  });

  it('empty blob round-trips; any range of it is 416', async () => {
    const d = await c.pushBlob(repo, Buffer.alloc(0));
    assert.equal(d, digestOf(''));
    const r = await c.getBlob(repo, d);
    assert.equal(r.status, 200);
    assert.equal(r.header('content-length'), '0');
    assert.equal(r.body.length, 0);
    const rr = await c.getBlob(repo, d, 'bytes=0-');
    expectError(rr, 416, 'RANGE_INVALID');
    assert.equal(rr.header('content-range'), 'bytes */0');
  });
});

describe('uploads', () => {
  const repo = 'up/load';

  it('POST starts an upload: 202, Location, Range 0-0, Docker-Upload-UUID; GET status 204', async () => {
    const { location, uuid, response } = await c.startUpload(repo);
    assert.equal(location, `/v2/${repo}/blobs/uploads/${uuid}`);
    assert.equal(response.header('range'), '0-0');
    assert.equal(response.header('content-length'), '0');
    const st = await c.uploadStatus(location);
    assert.equal(st.status, 204);
    assert.equal(st.header('range'), '0-0');
    assert.equal(st.header('docker-upload-uuid'), uuid);
    assert.equal(st.header('location'), location);
  });

  it('monolithic POST ?digest= is 201 with Location and Docker-Content-Digest', async () => {
    const data = randomBlob(4096);
    const r = await c.postMonolithic(repo, data);
    assert.equal(r.status, 201);
    const d = digestOf(data);
    assert.equal(r.header('location'), `/v2/${repo}/blobs/${d}`);
    assert.equal(r.header('docker-content-digest'), d);
    assert.ok((await c.getBlob(repo, d)).body.equals(data));
  });

  it('chunked PATCH with Content-Range, then PUT without a body', async () => {
    const data = randomBlob(3 * 1024 * 1024 + 17);
    const chunk = 1024 * 1024;
    let { location } = await c.startUpload(repo);
    for (let off = 0; off < data.length; off += chunk) {
      const end = Math.min(off + chunk, data.length);
      const r = await c.patch(location, data.subarray(off, end), { start: off });
      assert.equal(r.status, 202);
      assert.equal(r.header('range'), `0-${end - 1}`);
      assert.ok(r.header('docker-upload-uuid'));
      location = r.header('location')!;
      const st = await c.uploadStatus(location);
      assert.equal(st.status, 204);
      assert.equal(st.header('range'), `0-${end - 1}`);
    }
    const d = digestOf(data);
    const fin = await c.finish(location, d);
    assert.equal(fin.status, 201);
    assert.equal(fin.header('location'), `/v2/${repo}/blobs/${d}`);
    assert.equal(fin.header('docker-content-digest'), d);
    const got = await c.getBlob(repo, d);
    assert.equal(digestOf(got.body), d);
    // The finished upload is gone.
    expectError(await c.uploadStatus(location), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  it('PUT with a final body chunk', async () => {
    const data = randomBlob(5000);
    const { location } = await c.startUpload(repo);
    const p = await c.patch(location, data.subarray(0, 3000));
    assert.equal(p.status, 202);
    const fin = await c.finish(p.header('location')!, digestOf(data), data.subarray(3000));
    assert.equal(fin.status, 201);
    assert.ok((await c.getBlob(repo, digestOf(data))).body.equals(data));
  });

  it('PUT with the whole blob as body right after POST', async () => {
    const data = randomBlob(777);
    const { location } = await c.startUpload(repo);
    const fin = await c.finish(location, digestOf(data), data);
    assert.equal(fin.status, 201);
    assert.ok((await c.getBlob(repo, digestOf(data))).body.equals(data));
  });

  it('streamed PATCH (chunked transfer encoding, no Content-Range) and Docker-style PATCH (Content-Length only)', async () => {
    const pieces = Array.from({ length: 8 }, () => randomBlob(100_000));
    const data = Buffer.concat(pieces);
    const { location } = await c.startUpload(repo);
    const p1 = await c.patchStream(location, pieces.slice(0, 5));
    assert.equal(p1.status, 202);
    assert.equal(p1.header('range'), `0-${5 * 100_000 - 1}`);
    const p2 = await c.patch(p1.header('location')!, Buffer.concat(pieces.slice(5)), { range: false });
    assert.equal(p2.status, 202);
    assert.equal(p2.header('range'), `0-${data.length - 1}`);
    const fin = await c.finish(p2.header('location')!, digestOf(data));
    assert.equal(fin.status, 201);
    assert.ok((await c.getBlob(repo, digestOf(data))).body.equals(data));
  });

  it('out-of-order PATCH is 416 with a Range header at the real offset; the upload stays usable', async () => {
    const data = randomBlob(30);
    const { location } = await c.startUpload(repo);
    const p1 = await c.patch(location, data.subarray(0, 10), { start: 0 });
    assert.equal(p1.status, 202);
    for (const start of [20, 0, 5, 11]) {
      const bad = await c.patch(location, data.subarray(start, start + 10), { start });
      expectError(bad, 416, 'RANGE_INVALID', `start ${start}`);
      assert.equal(bad.header('range'), '0-9', `start ${start}`);
      assert.equal(bad.header('location'), location);
    }
    const p2 = await c.patch(location, data.subarray(10, 30), { start: 10 });
    assert.equal(p2.status, 202);
    assert.equal(p2.header('range'), '0-29');
    const fin = await c.finish(location, digestOf(data));
    assert.equal(fin.status, 201);
    assert.ok((await c.getBlob(repo, digestOf(data))).body.equals(data));
  });

  it('DELETE cancels: 204, then 404 BLOB_UPLOAD_UNKNOWN everywhere', async () => {
    const { location } = await c.startUpload(repo);
    assert.equal((await c.patch(location, randomBlob(10))).status, 202);
    const del = await c.request('DELETE', location);
    assert.equal(del.status, 204);
    expectError(await c.uploadStatus(location), 404, 'BLOB_UPLOAD_UNKNOWN');
    expectError(await c.patch(location, randomBlob(5), { start: 10 }), 404, 'BLOB_UPLOAD_UNKNOWN');
    expectError(await c.finish(location, randomDigest()), 404, 'BLOB_UPLOAD_UNKNOWN');
    expectError(await c.request('DELETE', location), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  it('pushing the same blob twice is fine', async () => {
    const data = randomBlob(64);
    const d1 = await c.pushBlob(repo, data);
    const d2 = await c.pushBlobChunked(repo, data, 16);
    assert.equal(d1, d2);
    assert.ok((await c.getBlob(repo, d1)).body.equals(data));
  });
});

describe('cross-repository mount', () => {
  const data = randomBlob(2048);
  let digest: string;
  before(async () => {
    digest = await c.pushBlob('mount/src', data);
  });

  it('mount + from a repository holding the blob: 201, readable in the target', async () => {
    expectError(await c.getBlob('mount/dst', digest), 404, 'BLOB_UNKNOWN');
    const r = await c.request('POST', '/v2/mount/dst/blobs/uploads/', { query: { mount: digest, from: 'mount/src' } });
    assert.equal(r.status, 201);
    assert.equal(r.header('location'), `/v2/mount/dst/blobs/${digest}`);
    assert.equal(r.header('docker-content-digest'), digest);
    assert.ok((await c.getBlob('mount/dst', digest)).body.equals(data));
  });

  it('mount from a repository that lacks the blob: 202, an ordinary upload starts', async () => {
    const r = await c.request('POST', '/v2/mount/dst2/blobs/uploads/', { query: { mount: digest, from: 'mount/empty' } });
    assert.equal(r.status, 202);
    const location = r.header('location')!;
    assert.match(location, /^\/v2\/mount\/dst2\/blobs\/uploads\/[0-9a-f-]{36}$/);
    assert.equal(r.header('range'), '0-0');
    expectError(await c.getBlob('mount/dst2', digest), 404, 'BLOB_UNKNOWN');
    // The new upload works.
    const fin = await c.finish(location, digest, data);
    assert.equal(fin.status, 201);
    assert.ok((await c.getBlob('mount/dst2', digest)).body.equals(data));
  });

  it('mount of an unknown digest: 202', async () => {
    const r = await c.request('POST', '/v2/mount/dst3/blobs/uploads/', { query: { mount: randomDigest(), from: 'mount/src' } });
    assert.equal(r.status, 202);
    assert.ok(r.header('docker-upload-uuid'));
  });

  it('mount without from: 201 for a blob of the namespace (automatic discovery), 202 otherwise', async () => {
    const r = await c.request('POST', '/v2/mount/nofrom/blobs/uploads/', { query: { mount: digest } });
    assert.equal(r.status, 201);
    assert.equal(r.header('docker-content-digest'), digest);
    assert.ok((await c.getBlob('mount/nofrom', digest)).body.equals(data));
    const r2 = await c.request('POST', '/v2/mount/nofrom/blobs/uploads/', { query: { mount: randomDigest() } });
    assert.equal(r2.status, 202);
  });
});

describe('sha512', () => {
  const repo = 'algo/sha512';

  it('chunked upload finished with ?digest=sha512:...', async () => {
    const data = randomBlob(200_000);
    const d = await c.pushBlobChunked(repo, data, 65536, 'sha512');
    assert.match(d, /^sha512:[0-9a-f]{128}$/);
    const h = await c.headBlob(repo, d);
    assert.equal(h.status, 200);
    assert.equal(h.header('docker-content-digest'), d);
    const g = await c.getBlob(repo, d);
    assert.ok(g.body.equals(data));
    const rr = await c.getBlob(repo, d, 'bytes=100-199');
    assert.equal(rr.status, 206);
    assert.ok(rr.body.equals(data.subarray(100, 200)));
  });

  it('monolithic sha512 upload, and a wrong sha512 digest is DIGEST_INVALID', async () => {
    const data = randomBlob(1234);
    const d = await c.pushBlob(repo, data, 'sha512');
    assert.ok((await c.getBlob(repo, d)).body.equals(data));
    const wrong = randomDigest('sha512');
    expectError(await c.postMonolithic(repo, randomBlob(10), wrong), 400, 'DIGEST_INVALID');
    expectError(await c.getBlob(repo, wrong), 404, 'BLOB_UNKNOWN');
  });
});

describe('blob delete', () => {
  it('DELETE unlinks from that repository only', async () => {
    const data = randomBlob(512);
    const d = await c.pushBlob('del/a', data);
    const m = await c.request('POST', '/v2/del/b/blobs/uploads/', { query: { mount: d, from: 'del/a' } });
    assert.equal(m.status, 201);
    const del = await c.deleteBlob('del/a', d);
    assert.equal(del.status, 202);
    expectError(await c.getBlob('del/a', d), 404, 'BLOB_UNKNOWN');
    assert.equal((await c.headBlob('del/a', d)).status, 404);
    const g = await c.getBlob('del/b', d);
    assert.equal(g.status, 200);
    assert.ok(g.body.equals(data));
    expectError(await c.deleteBlob('del/a', d), 404, 'BLOB_UNKNOWN');
    expectError(await c.deleteBlob('del/a', randomDigest()), 404, 'BLOB_UNKNOWN');
  });
});
