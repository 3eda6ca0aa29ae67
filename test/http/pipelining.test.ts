// Pipelined requests (several written on one connection before the first
// answer) against a listening `wharf serve`: each gets its response, in order,
// and runs after the one before it — also behind an error answered while its
// body was still arriving, and when the client half-closes after the last one.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';
import {
  assertErrorBody,
  digestOf,
  OCI_CONFIG,
  OCI_LAYER,
  OCI_MANIFEST,
  OciClient,
  descriptor,
  randomBlob,
} from '../helpers/oci-client.js';
import { exchange, type WireResponse } from '../helpers/raw-http.js';

let wharf: WharfProcess;
let c: OciClient;
const REPO = 'pipe/line';

before(async () => {
  wharf = await startWharf({ registry: { limits: { 'manifest-max-bytes': 2048 } } });
  c = new OciClient(wharf.url);
});

after(async () => {
  const out = wharf.output();
  await wharf.cleanup();
  assert.doesNotMatch(out, /request failed/, `server logged internal failures:\n${out}`);
});

/** One request's bytes: request line, Host, the headers, and the body (Content-Length added when given). */
function request(method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string): Buffer {
  const h: Record<string, string> = { Host: wharf.host, ...headers };
  if (body !== undefined && h['Transfer-Encoding'] === undefined) h['Content-Length'] = String(Buffer.byteLength(body));
  const head = `${method} ${path} HTTP/1.1\r\n${Object.entries(h)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body === undefined ? Buffer.alloc(0) : Buffer.from(body)]);
}

function expectWireError(r: WireResponse | undefined, status: number, code: string, what: string): void {
  assert.ok(r, `${what}: no response`);
  assert.equal(r.status, status, `${what}: ${r.text.slice(0, 300)}`);
  assert.equal(r.headers['docker-distribution-api-version'], 'registry/2.0', `${what}: API version header`);
  assert.equal(assertErrorBody(r.text, what)[0]!.code, code, `${what}: code`);
}

function uploadsLeft(): string[] {
  try {
    return readdirSync(join(wharf.dataDir, 'default', 'uploads'));
  } catch {
    return [];
  }
}

describe('pipelined requests', () => {
  it('GET /v2/ + GET of a missing manifest + GET /v2/ in one write: three answers in order, connection kept', async () => {
    const methods = ['GET', 'GET', 'GET'];
    const r = await exchange(
      wharf.port,
      [request('GET', '/v2/'), request('GET', `/v2/${REPO}/manifests/missing`), request('GET', '/v2/')],
      { methods },
    );
    assert.equal(r.responses.length, 3, `answers: ${r.responses.map((x) => x.status)} rest ${r.rest.toString().slice(0, 200)}`);
    assert.equal(r.responses[0]!.status, 200);
    expectWireError(r.responses[1], 404, 'MANIFEST_UNKNOWN', 'missing manifest');
    assert.equal(r.responses[2]!.status, 200);
    assert.equal(r.closed, false, 'the connection stays open');
  });

  it('an error answer behind a long download waits its turn instead of closing the connection', async () => {
    // The blob's response is still being written when the next request fails:
    // that failure must not be taken for a client gone away.
    const big = randomBlob(8 * 1024 * 1024);
    const d = await c.pushBlob(REPO, big);
    const methods = ['GET', 'GET', 'HEAD', 'GET'];
    const r = await exchange(
      wharf.port,
      [
        request('GET', `/v2/${REPO}/blobs/${d}`),
        request('GET', `/v2/${REPO}/manifests/missing`),
        request('HEAD', `/v2/${REPO}/blobs/${digestOf('nope')}`),
        request('GET', '/v2/'),
      ],
      { methods },
    );
    assert.deepEqual(
      r.responses.map((x) => x.status),
      [200, 404, 404, 200],
      `rest: ${r.rest.toString().slice(0, 200)}`,
    );
    assert.ok(r.responses[0]!.body.equals(big), 'blob bytes');
    expectWireError(r.responses[1], 404, 'MANIFEST_UNKNOWN', 'missing manifest');
    assert.equal(r.closed, false);
  });

  it('POST ?digest= + GET and HEAD of that blob: the reads see the blob the POST created', async () => {
    const data = randomBlob(64 * 1024);
    const d = digestOf(data);
    const methods = ['POST', 'GET', 'HEAD', 'GET'];
    const r = await exchange(
      wharf.port,
      [
        request('POST', `/v2/${REPO}/blobs/uploads/?digest=${d}`, { 'Content-Type': 'application/octet-stream' }, data),
        request('GET', `/v2/${REPO}/blobs/${d}`),
        request('HEAD', `/v2/${REPO}/blobs/${d}`),
        request('GET', '/v2/'),
      ],
      { methods },
    );
    assert.deepEqual(
      r.responses.map((x) => x.status),
      [201, 200, 200, 200],
      r.responses.map((x) => x.text.slice(0, 200)).join('\n'),
    );
    assert.equal(r.responses[0]!.headers['docker-content-digest'], d);
    assert.ok(r.responses[1]!.body.equals(data), 'GET returns the bytes just posted');
    assert.equal(r.responses[2]!.headers['content-length'], String(data.length));
    assert.equal(r.closed, false);
  });

  it('PUT manifest + GET by tag + DELETE tag + GET by tag: each sees the one before', async () => {
    const cfg = await c.pushBlob(REPO, Buffer.from('{"architecture":"amd64","os":"linux"}'));
    const layer = randomBlob(100);
    await c.pushBlob(REPO, layer);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, digest: cfg, size: 37 },
        layers: [descriptor(OCI_LAYER, layer)],
      }),
    );
    const tag = `t${Date.now()}`;
    const path = `/v2/${REPO}/manifests/${tag}`;
    const methods = ['PUT', 'GET', 'DELETE', 'GET'];
    const r = await exchange(
      wharf.port,
      [
        request('PUT', path, { 'Content-Type': OCI_MANIFEST }, manifest),
        request('GET', path, { Accept: OCI_MANIFEST }),
        request('DELETE', path),
        request('GET', path, { Accept: OCI_MANIFEST }),
      ],
      { methods },
    );
    assert.deepEqual(
      r.responses.map((x) => x.status),
      [201, 200, 202, 404],
      r.responses.map((x) => x.text.slice(0, 200)).join('\n'),
    );
    assert.ok(r.responses[1]!.body.equals(manifest));
    expectWireError(r.responses[3], 404, 'MANIFEST_UNKNOWN', 'deleted tag');
  });

  it('an error answered while its body is still arriving: the small body is drained and the requests behind it answered', async () => {
    const body = randomBlob(256 * 1024);
    const patch = request('PATCH', `/v2/${REPO}/blobs/uploads/${randomUUID()}`, { 'Content-Type': 'application/octet-stream' }, body);
    const split = patch.length - 100 * 1024;
    // A manifest over the 2 KiB limit: 413 from the declared length, before the body.
    const tooBig = request('PUT', `/v2/${REPO}/manifests/big`, { 'Content-Type': OCI_MANIFEST }, Buffer.alloc(8 * 1024, 0x20));
    const methods = ['PATCH', 'GET', 'PUT', 'GET'];
    const r = await exchange(
      wharf.port,
      [
        patch.subarray(0, split),
        Buffer.concat([patch.subarray(split), request('GET', '/v2/'), tooBig.subarray(0, 3000)]),
        tooBig.subarray(3000),
        request('GET', '/v2/'),
      ],
      { methods, gapMs: 150 },
    );
    assert.deepEqual(
      r.responses.map((x) => x.status),
      [404, 200, 413, 200],
      r.responses.map((x) => x.text.slice(0, 200)).join('\n'),
    );
    expectWireError(r.responses[0], 404, 'BLOB_UPLOAD_UNKNOWN', 'PATCH of an unknown upload');
    expectWireError(r.responses[2], 413, 'MANIFEST_INVALID', 'manifest too large');
    assert.equal(r.closed, false);
  });

  it('a body too large to drain behind an error: answered with Connection: close, then the connection ends', async () => {
    const head = request('PATCH', `/v2/${REPO}/blobs/uploads/${randomUUID()}`, { 'Content-Length': String(64 * 1024 * 1024) });
    const r = await exchange(wharf.port, [head, randomBlob(64 * 1024)], { methods: ['PATCH'], expect: 2, gapMs: 50 });
    expectWireError(r.responses[0], 404, 'BLOB_UPLOAD_UNKNOWN', 'PATCH of an unknown upload');
    assert.equal(r.responses[0]!.headers.connection, 'close');
    assert.equal(r.closed, true);
  });

  it('a half-close (FIN) right after the last request: every answer still arrives, then the server closes', async () => {
    const data = randomBlob(3 * 1024 * 1024);
    const d = digestOf(data);
    const methods = ['POST', 'HEAD', 'GET', 'GET'];
    const r = await exchange(
      wharf.port,
      [
        request('POST', `/v2/${REPO}/blobs/uploads/?digest=${d}`, { 'Content-Type': 'application/octet-stream' }, data),
        request('HEAD', `/v2/${REPO}/blobs/${d}`),
        request('GET', `/v2/${REPO}/manifests/missing`),
        request('GET', '/v2/'),
      ],
      { methods, halfClose: true, expect: 5 },
    );
    assert.deepEqual(
      r.responses.map((x) => x.status),
      [201, 200, 404, 200],
      `rest: ${r.rest.toString().slice(0, 200)}`,
    );
    assert.equal(r.closed, true, 'the server closes after the last answer');
    assert.equal(r.rest.length, 0);
  });

  it('bad bytes behind complete requests: those are answered in order, then 400 and the connection closes', async () => {
    const r = await exchange(wharf.port, [request('GET', '/v2/'), request('GET', `/v2/${REPO}/tags/list`), 'NOT HTTP AT ALL\r\n\r\n'], {
      methods: ['GET', 'GET', 'GET'],
      expect: 4,
    });
    assert.deepEqual(
      r.responses.map((x) => x.status),
      [200, 200, 400],
      `rest: ${r.rest.toString().slice(0, 200)}`,
    );
    assert.equal(r.closed, true);
  });

  it('a malformed chunked body behind a long download: the download completes, then 400, nothing stored', async () => {
    const big = randomBlob(4 * 1024 * 1024);
    const d = await c.pushBlob(REPO, big);
    const { location } = await c.startUpload(REPO);
    const path = new URL(location, wharf.url).pathname;
    const r = await exchange(
      wharf.port,
      [request('GET', `/v2/${REPO}/blobs/${d}`), request('PATCH', path, { 'Transfer-Encoding': 'chunked' }), '5\r\nhello\r\nzz\r\nabc\r\n'],
      { methods: ['GET', 'PATCH'], expect: 3 },
    );
    assert.deepEqual(
      r.responses.map((x) => x.status),
      [200, 400],
      `rest: ${r.rest.toString().slice(0, 200)}`,
    );
    assert.ok(r.responses[0]!.body.equals(big));
    assert.equal(r.closed, true);
    assert.equal((await c.uploadStatus(location)).header('range'), '0-0', 'the refused PATCH stored nothing');
    assert.equal((await c.request('DELETE', location)).status, 204);
  });

  it('CONNECT behind other requests: those are answered first, then 405 and the connection closes', async () => {
    const data = randomBlob(1000);
    const d = digestOf(data);
    const r = await exchange(
      wharf.port,
      [
        request('POST', `/v2/${REPO}/blobs/uploads/?digest=${d}`, { 'Content-Type': 'application/octet-stream' }, data),
        request('GET', `/v2/${REPO}/blobs/${d}`),
        'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
      ],
      { methods: ['POST', 'GET', 'CONNECT'], expect: 4 },
    );
    assert.deepEqual(
      r.responses.map((x) => x.status),
      [201, 200, 405],
      `rest: ${r.rest.toString().slice(0, 200)}`,
    );
    assert.ok(r.responses[1]!.body.equals(data));
    assert.equal(r.closed, true);
  });

  it('CONNECT behind a long download: the download completes, then 405, and the connection closes', async () => {
    const big = randomBlob(3 * 1024 * 1024);
    const d = await c.pushBlob(REPO, big);
    for (const halfClose of [false, true]) {
      const r = await exchange(
        wharf.port,
        [
          request('GET', `/v2/${REPO}/blobs/${d}`),
          'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello',
        ],
        { methods: ['GET', 'CONNECT'], expect: 3, halfClose, timeoutMs: 10_000 },
      );
      assert.deepEqual(
        r.responses.map((x) => x.status),
        [200, 405],
        `half-close ${halfClose}: rest ${r.rest.length} bytes`,
      );
      assert.ok(r.responses[0]!.body.equals(big));
      assert.equal(r.closed, true);
    }
  });

  it('CONNECT behind a download, then the client resets: the server keeps running', async () => {
    const big = randomBlob(8 * 1024 * 1024);
    const d = await c.pushBlob(REPO, big);
    for (let i = 0; i < 3; i++) {
      await exchange(
        wharf.port,
        [request('GET', `/v2/${REPO}/blobs/${d}`), 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n'],
        {
          timeoutMs: 200,
          onSocket: (s) => {
            s.pause();
            setTimeout(() => s.resetAndDestroy(), 100);
          },
        },
      );
    }
    await sleep(300);
    assert.equal(wharf.child.exitCode, null, `the server exited:\n${wharf.output().slice(-2000)}`);
    assert.equal((await c.request('GET', '/v2/')).status, 200);
  });

  it('a request asking for an upgrade (h2c) is answered as HTTP/1.1 with Connection: close, so nothing sent after it hangs', async () => {
    const upgrade = request('GET', '/v2/', {
      Connection: 'Upgrade, HTTP2-Settings',
      Upgrade: 'h2c',
      'HTTP2-Settings': 'AAMAAABkAAQCAAAAAAIAAAAA',
    });
    const r = await exchange(wharf.port, [upgrade, request('GET', `/v2/${REPO}/tags/list`)], {
      methods: ['GET', 'GET'],
      gapMs: 200,
      timeoutMs: 5000,
    });
    assert.equal(r.responses[0]?.status, 200);
    assert.equal(r.responses[0]!.headers.connection, 'close', 'the client learns it must open a new connection');
    assert.equal(r.closed, true, 'closed, not left hanging');
  });

  it('an unknown Expect is ignored: the request is served in its turn (also one asking for an upgrade)', async () => {
    const r = await exchange(
      wharf.port,
      [
        request('GET', `/v2/${REPO}/tags/list`, { Expect: 'foo' }),
        request('GET', '/v2/', { Expect: '', Connection: 'upgrade', Upgrade: 'h2c' }),
        request('GET', '/v2/'),
      ],
      { methods: ['GET', 'GET', 'GET'], expect: 4, timeoutMs: 5000 },
    );
    assert.deepEqual(
      r.responses.map((x) => x.status),
      [200, 200],
      `rest: ${r.rest.toString().slice(0, 200)}`,
    );
    assert.equal(r.responses[0]!.headers['docker-distribution-api-version'], 'registry/2.0');
    assert.equal(r.responses[1]!.headers.connection, 'close');
    assert.equal(r.closed, true, 'closed after the upgrade request, not left hanging');
  });

  it('requests queued behind a connection that went away are not run (no upload nobody knows of)', async () => {
    const big = randomBlob(16 * 1024 * 1024);
    const d = await c.pushBlob(REPO, big);
    const before = uploadsLeft();
    // The client asks for a big blob and queues a POST behind it, then hangs
    // up without reading: the POST's answer could never reach it.
    await exchange(
      wharf.port,
      [
        request('GET', `/v2/${REPO}/blobs/${d}`),
        request('POST', `/v2/${REPO}/blobs/uploads/`),
        request('POST', `/v2/${REPO}/blobs/uploads/`),
      ],
      {
        timeoutMs: 300,
        onSocket: (s) => s.pause(),
      },
    );
    await sleep(500);
    assert.deepEqual(uploadsLeft(), before, 'no upload started for a client that was gone');
    assert.equal((await c.request('GET', '/v2/')).status, 200);
  });
});
