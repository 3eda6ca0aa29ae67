// Transfer codings against a listening `wharf serve` (filesystem storage):
// a body in any coding other than plain chunked (e.g. `gzip, chunked`, whose
// bytes Node's parser hands on still encoded) gets 501 with an OCI error body
// and changes nothing, on every endpoint that takes a body (RFC 9112 §6.1);
// the connection stays usable. Chunked alone, however spelled, is accepted.
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startWharf, stopCheckingLog, type WharfProcess } from '../helpers/wharf.js';
import {
  assertErrorBody,
  diffSnapshots,
  digestOf,
  expectError,
  OCI_MANIFEST,
  OciClient,
  randomBlob,
  snapshotFiles,
} from '../helpers/oci-client.js';
import { exchange, type WireResponse } from '../helpers/raw-http.js';

let wharf: WharfProcess;
let c: OciClient;
const REPO = 'te/codings';

before(async () => {
  wharf = await startWharf();
  c = new OciClient(wharf.url);
});

after(() => stopCheckingLog(wharf));

/** `body` framed as chunks of at most 1000 bytes. */
function chunked(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < body.length; i += 1000) {
    const piece = body.subarray(i, i + 1000);
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

/** A request with a chunked-framed body and these Transfer-Encoding header lines. */
function withCoding(method: string, path: string, te: string[], body: Buffer, headers: Record<string, string> = {}): Buffer {
  const lines = [`${method} ${path} HTTP/1.1`, `Host: ${wharf.host}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  for (const t of te) lines.push(`Transfer-Encoding: ${t}`);
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), chunked(body)]);
}

const GET_BASE = () => Buffer.from(`GET /v2/ HTTP/1.1\r\nHost: ${wharf.host}\r\n\r\n`);

/** Send `req` followed by `GET /v2/` on one connection; the first must be 501 UNSUPPORTED, the second 200. */
async function expect501(req: Buffer, method: string, what: string): Promise<void> {
  const r = await exchange(wharf.port, [req, GET_BASE()], { methods: [method, 'GET'] });
  const first: WireResponse | undefined = r.responses[0];
  assert.ok(first, `${what}: no answer (${r.error ?? ''} ${r.rest.toString().slice(0, 200)})`);
  assert.equal(first.status, 501, `${what}: ${first.text.slice(0, 300)}`);
  assert.equal(first.headers['docker-distribution-api-version'], 'registry/2.0', what);
  assert.match(first.headers['content-type'] ?? '', /^application\/json/, what);
  assert.equal(assertErrorBody(first.text, what)[0]!.code, 'UNSUPPORTED', what);
  assert.equal(r.responses[1]?.status, 200, `${what}: the request behind it is answered on the same connection`);
  assert.equal(r.closed, false, `${what}: connection kept`);
}

/** Storage is exactly as before `fn` (waiting briefly for any asynchronous clean-up). */
async function unchanged(what: string, fn: () => Promise<void>): Promise<void> {
  const before = snapshotFiles(wharf.dataDir);
  await fn();
  let diff: string[] = [];
  for (let i = 0; i < 10; i++) {
    diff = diffSnapshots(before, snapshotFiles(wharf.dataDir));
    if (diff.length === 0) break;
    await sleep(100);
  }
  assert.deepEqual(diff, [], `${what}: storage changed`);
}

const UNKNOWN_CODINGS: string[][] = [
  ['gzip, chunked'],
  ['deflate, chunked'],
  ['x-custom, chunked'],
  ['identity, chunked'],
  ['gzip', 'chunked'], // two header lines, joined by the parser
];

describe('transfer codings other than chunked', () => {
  it('PATCH with gzip, chunked (and other codings): 501 UNSUPPORTED, the upload is unchanged', async () => {
    const { location } = await c.startUpload(REPO);
    const first = randomBlob(500);
    assert.equal((await c.patch(location, first)).status, 202);
    const path = new URL(location, wharf.url).pathname;
    const plain = randomBlob(3000);
    for (const te of UNKNOWN_CODINGS) {
      await unchanged(`PATCH ${te}`, () => expect501(withCoding('PATCH', path, te, gzipSync(plain)), 'PATCH', `PATCH ${te.join(' + ')}`));
    }
    assert.equal((await c.uploadStatus(location)).header('range'), '0-499', 'offset unchanged');
    // The upload goes on and publishes exactly what was sent in plain chunks.
    const rest = randomBlob(700);
    const all = Buffer.concat([first, rest]);
    assert.equal((await c.patchStream(location, [rest])).status, 202);
    assert.equal((await c.finish(location, digestOf(all))).status, 201);
    assert.ok((await c.getBlob(REPO, digestOf(all))).body.equals(all));
  });

  it('POST ?digest= with gzip, chunked: 501, no upload and no blob left', async () => {
    const plain = randomBlob(4000);
    const encoded = gzipSync(plain);
    // Neither the digest of what the client meant nor of the bytes on the wire gets published.
    for (const d of [digestOf(plain), digestOf(encoded)]) {
      await unchanged('monolithic POST', () =>
        expect501(withCoding('POST', `/v2/${REPO}/blobs/uploads/?digest=${d}`, ['gzip, chunked'], encoded), 'POST', 'POST ?digest='),
      );
      assert.equal((await c.headBlob(REPO, d)).status, 404, `HEAD ${d}`);
    }
  });

  it('the final PUT of an upload with gzip, chunked: 501, the upload stays and can be finished', async () => {
    const { location } = await c.startUpload(REPO);
    const first = randomBlob(300);
    assert.equal((await c.patch(location, first)).status, 202);
    const last = randomBlob(2000);
    const all = Buffer.concat([first, last]);
    const path = `${new URL(location, wharf.url).pathname}?digest=${digestOf(all)}`;
    await unchanged('final PUT', () => expect501(withCoding('PUT', path, ['gzip, chunked'], gzipSync(last)), 'PUT', 'PUT ?digest='));
    assert.equal((await c.headBlob(REPO, digestOf(all))).status, 404, 'nothing published');
    assert.equal((await c.uploadStatus(location)).header('range'), '0-299');
    assert.equal((await c.finish(location, digestOf(all), last)).status, 201);
  });

  it('a manifest PUT with gzip, chunked: 501, no manifest or tag', async () => {
    const img = await c.pushImage(REPO, 'base');
    await unchanged('manifest PUT', () =>
      expect501(
        withCoding('PUT', `/v2/${REPO}/manifests/zipped`, ['gzip, chunked'], gzipSync(img.body), { 'Content-Type': OCI_MANIFEST }),
        'PUT',
        'manifest PUT',
      ),
    );
    expectError(await c.getManifest(REPO, 'zipped'), 404, 'MANIFEST_UNKNOWN');
  });

  it('a coding on a request without a body to speak of (GET): 501 as well', async () => {
    await expect501(withCoding('GET', `/v2/${REPO}/tags/list`, ['gzip, chunked'], Buffer.alloc(0)), 'GET', 'GET with gzip');
  });

  it('a last coding other than chunked (gzip alone): one 400, the connection closes (body length unknown), nothing written', async () => {
    const { location } = await c.startUpload(REPO);
    const path = new URL(location, wharf.url).pathname;
    await unchanged('PATCH gzip', async () => {
      const head = `PATCH ${path} HTTP/1.1\r\nHost: ${wharf.host}\r\nTransfer-Encoding: gzip\r\n\r\n`;
      const r = await exchange(wharf.port, [head, gzipSync(randomBlob(100))], { methods: ['PATCH', 'GET'], expect: 3 });
      assert.equal(r.responses.length, 1, `one answer, not a second one behind it: ${r.responses.map((x) => x.status)}`);
      assert.equal(r.responses[0]!.status, 400);
      assert.equal(assertErrorBody(r.responses[0]!.text)[0]!.code, 'UNSUPPORTED');
      assert.equal(r.rest.length, 0, `stray bytes: ${r.rest.toString().slice(0, 100)}`);
      assert.equal(r.closed, true);
    });
    assert.equal((await c.uploadStatus(location)).header('range'), '0-0');
  });
});

describe('chunked alone, however spelled', () => {
  for (const te of [['chunked'], ['Chunked'], ['CHUNKED'], [', chunked'], ['chunked', '']]) {
    it(`Transfer-Encoding: ${te.map((t) => JSON.stringify(t)).join(' + ')} is accepted and stores the decoded bytes`, async () => {
      const { location } = await c.startUpload(REPO);
      const path = new URL(location, wharf.url).pathname;
      const data = randomBlob(2500);
      const r = await exchange(wharf.port, [withCoding('PATCH', path, te, data)], { methods: ['PATCH'] });
      assert.equal(r.responses[0]?.status, 202, r.responses[0]?.text);
      assert.equal(r.responses[0]!.headers.range, '0-2499');
      assert.equal((await c.finish(location, digestOf(data))).status, 201);
      assert.ok((await c.getBlob(REPO, digestOf(data))).body.equals(data));
    });
  }
});
