// Crash durability and stateless replicas on the filesystem driver:
// - what was acknowledged with 201 survives a kill -9 right after;
// - an upload interrupted by a crash (between chunks or in the middle of one)
//   resumes after a restart from the offset its record in storage reports;
// - two processes on one data directory serve one upload, chunk by chunk.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';
import { digestOf, expectError, OCI_MANIFEST, OciClient, randomBlob } from '../helpers/oci-client.js';

const started: WharfProcess[] = [];

/** Every published blob file holds exactly the bytes its name promises (no partial object at a final path). */
function assertBlobsIntact(dataDir: string): number {
  let n = 0;
  for (const ns of readdirSync(dataDir)) {
    for (const alg of ['sha256', 'sha512'] as const) {
      const dir = join(dataDir, ns, 'blobs', alg);
      if (!existsSync(dir)) continue;
      for (const hex of readdirSync(dir)) {
        const data = readFileSync(join(dir, hex));
        assert.equal(digestOf(data, alg), `${alg}:${hex}`, `blob file ${ns}/blobs/${alg}/${hex}`);
        n++;
      }
    }
  }
  return n;
}

async function start(dataDir?: string): Promise<WharfProcess> {
  const w = await startWharf(dataDir ? { dataDir } : {});
  started.push(w);
  return w;
}

after(async () => {
  // Later processes first: the first one's temp dir holds the shared data dir.
  for (const w of started.reverse()) await w.cleanup();
  for (const w of started) assert.doesNotMatch(w.output(), /request failed/, `server logged internal failures:\n${w.output()}`);
});

describe('kill -9 right after 201', () => {
  it('blobs (monolithic and chunked) and manifests survive', async () => {
    let w = await start();
    const dataDir = w.dataDir;
    const pushed: Array<{ repo: string; digest: string; data: Buffer }> = [];
    const manifests: Array<{ repo: string; tag: string; digest: string; body: Buffer }> = [];
    for (let round = 0; round < 2; round++) {
      const c = new OciClient(w.url);
      const repo = `crash/r${round}`;
      const mono = randomBlob(100_000 + round);
      pushed.push({ repo, data: mono, digest: await c.pushBlob(repo, mono) });
      const chunked = randomBlob(2 * 1024 * 1024 + 3);
      pushed.push({ repo, data: chunked, digest: await c.pushBlobChunked(repo, chunked, 1024 * 1024) });
      const img = await c.pushImage(repo, 'v1');
      manifests.push({ repo, tag: 'v1', digest: img.digest, body: img.body });
      // The very last acknowledgement before the crash: a tag on a new manifest.
      const last = await c.pushImage(repo, undefined);
      const put = await c.putManifest(repo, 'last', last.body, OCI_MANIFEST);
      assert.equal(put.status, 201);
      await w.kill();
      assert.equal(w.child.signalCode, 'SIGKILL');
      manifests.push({ repo, tag: 'last', digest: last.digest, body: last.body });
      w = await start(dataDir);
    }
    const c = new OciClient(w.url);
    for (const b of pushed) {
      const r = await c.getBlob(b.repo, b.digest);
      assert.equal(r.status, 200, `${b.repo} ${b.digest}`);
      assert.equal(digestOf(r.body), b.digest);
      assert.equal(r.body.length, b.data.length);
    }
    for (const m of manifests) {
      const r = await c.getManifest(m.repo, m.tag);
      assert.equal(r.status, 200, `${m.repo}:${m.tag}`);
      assert.equal(r.header('docker-content-digest'), m.digest);
      assert.ok(r.body.equals(m.body));
      assert.equal(digestOf(r.body), m.digest);
    }
    assert.deepEqual((await c.tags('crash/r0')).json().tags, ['last', 'v1']);
    assert.ok(assertBlobsIntact(dataDir) >= pushed.length);
  });
});

describe('an upload interrupted by a crash resumes after restart', () => {
  it('crash between chunks: continue from the offset GET reports', async () => {
    const data = randomBlob(3 * 1024 * 1024 + 11);
    const chunk = 1024 * 1024;
    let w = await start();
    const dataDir = w.dataDir;
    let c = new OciClient(w.url);
    const repo = 'resume/between';
    const { location } = await c.startUpload(repo);
    for (let off = 0; off < 2 * chunk; off += chunk) {
      assert.equal((await c.patch(location, data.subarray(off, off + chunk), { start: off })).status, 202);
    }
    await w.kill();
    w = await start(dataDir);
    c = new OciClient(w.url);
    const st = await c.uploadStatus(location);
    assert.equal(st.status, 204);
    const m = /^0-(\d+)$/.exec(st.header('range') ?? '');
    assert.ok(m, `Range: ${st.header('range')}`);
    const offset = Number(m[1]) + 1;
    assert.equal(offset, 2 * chunk);
    assert.equal((await c.patch(location, data.subarray(offset, offset + chunk), { start: offset })).status, 202);
    const fin = await c.finish(location, digestOf(data), data.subarray(offset + chunk));
    assert.equal(fin.status, 201, fin.text);
    assert.equal(fin.header('docker-content-digest'), digestOf(data));
    const got = await c.getBlob(repo, digestOf(data));
    assert.equal(digestOf(got.body), digestOf(data));
  });

  it('crash in the middle of a chunk: the partial chunk is not recorded; resume from the reported offset', async () => {
    const data = randomBlob(2 * 1024 * 1024);
    let w = await start();
    const dataDir = w.dataDir;
    let c = new OciClient(w.url);
    const repo = 'resume/within';
    const { location } = await c.startUpload(repo);
    assert.equal((await c.patch(location, data.subarray(0, 500_000), { start: 0 })).status, 202);
    // A streamed chunk that is still arriving when the process dies.
    let sent = 0;
    let killed = false;
    const streaming = c
      .request('PATCH', location, {
        body: (async function* () {
          for (let off = 500_000; off < 1_500_000; off += 100_000) {
            yield data.subarray(off, off + 100_000);
            sent += 100_000;
            await sleep(20);
          }
          while (!killed) await sleep(20); // never ends on its own
        })(),
      })
      .then(
        () => 'answered',
        () => 'failed',
      );
    while (sent < 500_000) await sleep(10);
    await w.kill();
    killed = true;
    assert.equal(await streaming, 'failed');
    w = await start(dataDir);
    c = new OciClient(w.url);
    const range = (await c.uploadStatus(location)).header('range');
    assert.equal(range, '0-499999', 'only whole chunks count');
    assertBlobsIntact(dataDir);
    const fin = await c.finish(location, digestOf(data), data.subarray(500_000));
    assert.equal(fin.status, 201, fin.text);
    const got = await c.getBlob(repo, digestOf(data));
    assert.equal(digestOf(got.body), digestOf(data));
  });
});

describe('two processes on one data directory', () => {
  it('PATCH chunks alternate between them, PUT on one: the digest is right', async () => {
    const a = await start();
    const b = await start(a.dataDir);
    const ca = new OciClient(a.url);
    const cb = new OciClient(b.url);
    const repo = 'replica/upload';
    for (const algorithm of ['sha256', 'sha512'] as const) {
      const data = randomBlob(6 * 256 * 1024 + 5);
      const chunk = 256 * 1024;
      const { location } = await ca.startUpload(repo);
      let n = 0;
      for (let off = 0; off < data.length; off += chunk, n++) {
        const c = n % 2 === 0 ? cb : ca; // the first chunk goes to the process that did not start it
        const r = await c.patch(location, data.subarray(off, off + chunk), { start: off });
        assert.equal(r.status, 202, r.text);
        // The other process sees the new offset at once.
        const st = await (c === ca ? cb : ca).uploadStatus(location);
        assert.equal(st.header('range'), `0-${Math.min(off + chunk, data.length) - 1}`);
      }
      // An out-of-order chunk on either is refused with the shared offset.
      const bad = await ca.patch(location, data.subarray(0, 10), { start: 0 });
      expectError(bad, 416, 'RANGE_INVALID');
      assert.equal(bad.header('range'), `0-${data.length - 1}`);
      const digest = digestOf(data, algorithm);
      const fin = await cb.finish(location, digest);
      assert.equal(fin.status, 201, fin.text);
      for (const c of [ca, cb]) {
        const got = await c.getBlob(repo, digest);
        assert.equal(got.status, 200);
        assert.equal(digestOf(got.body, algorithm), digest);
      }
      expectError(await ca.uploadStatus(location), 404, 'BLOB_UPLOAD_UNKNOWN');
    }
    // A manifest pushed through one is served by the other.
    const img = await ca.pushImage(repo, 'shared');
    const r = await cb.getManifest(repo, 'shared');
    assert.equal(r.header('docker-content-digest'), img.digest);
  });
});
