// Requests whose body breaks off — malformed chunked framing, or a client
// that goes away mid-body — change nothing, even on endpoints that do not use
// the body (starting an upload, mounting a blob): their client never learns
// what they did. Against a listening `wharf serve` (filesystem storage).
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startWharf, stopCheckingLog, type WharfProcess } from '../helpers/wharf.js';
import { OciClient, randomBlob } from '../helpers/oci-client.js';
import { fdSummary } from '../helpers/proc.js';
import { exchange } from '../helpers/raw-http.js';

let wharf: WharfProcess;
let c: OciClient;
const REPO = 'broken/bodies';

before(async () => {
  wharf = await startWharf();
  c = new OciClient(wharf.url);
});

after(() => stopCheckingLog(wharf));

function uploads(): string[] {
  try {
    return readdirSync(join(wharf.dataDir, 'default', 'uploads'));
  } catch {
    return [];
  }
}

/** Wait a little for anything asynchronous, then check no upload appeared. */
async function noNewUpload(before: string[], what: string): Promise<void> {
  await sleep(300);
  assert.deepEqual(uploads().sort(), before.sort(), `${what}: an upload was left behind`);
}

describe('a body that breaks off changes nothing', () => {
  it('POST to start an upload with a malformed chunked body: 400, no upload', async () => {
    for (const bad of ['5\r\nhello\r\nzz\r\n', '5\r\nhello\r\n' + 'f'.repeat(24) + '\r\n', '5\r\nhelloXX0\r\n\r\n', '3\nabc\n0\n\n']) {
      const before = uploads();
      const head = `POST /v2/${REPO}/blobs/uploads/ HTTP/1.1\r\nHost: ${wharf.host}\r\nTransfer-Encoding: chunked\r\n\r\n`;
      // The client keeps the connection open a moment after the answer, as a slow one would.
      const r = await exchange(wharf.port, [head, bad], { methods: ['POST'], gapMs: 50, expect: 2, timeoutMs: 500 });
      assert.equal(r.responses[0]?.status, 400, `${JSON.stringify(bad)}: ${r.responses.map((x) => x.status)}`);
      await noNewUpload(before, JSON.stringify(bad));
    }
  });

  it('POST to start an upload whose client goes away mid-body: no upload', async () => {
    const before = uploads();
    const head = `POST /v2/${REPO}/blobs/uploads/ HTTP/1.1\r\nHost: ${wharf.host}\r\nContent-Length: 100000\r\n\r\n`;
    await exchange(wharf.port, [head, randomBlob(1000)], { gapMs: 100, timeoutMs: 300 });
    await noNewUpload(before, 'client gone');
  });

  it('POST ?mount= with a malformed chunked body: 400, nothing mounted', async () => {
    const d = await c.pushBlob('broken/source', randomBlob(500));
    const head = `POST /v2/${REPO}/blobs/uploads/?mount=${d}&from=broken/source HTTP/1.1\r\nHost: ${wharf.host}\r\nTransfer-Encoding: chunked\r\n\r\n`;
    const r = await exchange(wharf.port, [head, '5\r\nhello\r\nzz\r\n'], { methods: ['POST'], gapMs: 50, expect: 2, timeoutMs: 500 });
    assert.equal(r.responses[0]?.status, 400);
    await sleep(300);
    assert.equal(existsSync(join(wharf.dataDir, 'default', 'repos', REPO, '_blobs', d)), false, 'no link was made');
    assert.equal((await c.headBlob(REPO, d)).status, 404);
  });

  it('a request that asks for an upgrade, with a malformed chunked body, then a half-close: 400 and closed, not left hanging', async () => {
    // Node's parser reports no error for the bad chunk after an upgrade request: the body just never ends.
    const { location } = await c.startUpload(REPO);
    const path = new URL(location, wharf.url).pathname;
    for (const [method, target] of [
      ['POST', `/v2/${REPO}/blobs/uploads/`],
      ['PATCH', path],
    ] as const) {
      const before = uploads();
      const head = `${method} ${target} HTTP/1.1\r\nHost: ${wharf.host}\r\nConnection: upgrade\r\nUpgrade: x\r\nTransfer-Encoding: chunked\r\n\r\n`;
      const started = Date.now();
      const r = await exchange(wharf.port, [head + '0x12\r\nabc\r\n0\r\n\r\n'], {
        methods: [method],
        halfClose: true,
        expect: 2,
        timeoutMs: 10_000,
      });
      assert.equal(r.closed, true, `${method}: the connection was left open for ${Date.now() - started} ms`);
      assert.equal(r.responses[0]?.status, 400, `${method}: ${r.responses.map((x) => x.status)}`);
      if (method === 'POST') await noNewUpload(before, 'upgrade POST');
    }
    assert.equal((await c.uploadStatus(location)).header('range'), '0-0');
    let open = fdSummary(wharf.child.pid!, wharf.dataDir).under;
    for (let i = 0; i < 20 && open.length > 0; i++) {
      await sleep(100);
      open = fdSummary(wharf.child.pid!, wharf.dataDir).under;
    }
    assert.deepEqual(open, [], 'no file in the store left open');
  });

  it('a start or mount with a whole (unused) body still works', async () => {
    const r = await c.request('POST', `/v2/${REPO}/blobs/uploads/`, { body: 'ignored' });
    assert.equal(r.status, 202);
    const d = await c.pushBlob('broken/source', randomBlob(300));
    const m = await c.request('POST', `/v2/${REPO}/blobs/uploads/`, { query: { mount: d, from: 'broken/source' }, body: randomBlob(10) });
    assert.equal(m.status, 201);
  });
});
