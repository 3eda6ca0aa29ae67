// Races between requests of one upload, against live `wharf serve`
// processes (test/helpers/upload-backends.ts; run on the filesystem — one
// process, and two on one root — and memory by upload-races.test.ts, on
// Swift and S3 by objectstores/upload-races.test.ts). Each race is made
// deterministic by pausing a request half way through its body
// (test/helpers/paused-request.ts).
//
//   1. A PUT racing a PATCH (issue 10, Found 1): the PUT publishes exactly the
//      bytes its digest names (or is refused); the late PATCH can never add
//      bytes to a published blob.
//   2. Two PATCHes of one range at once (Found 2): one wins, the other gets
//      416 RANGE_INVALID with the real offset; the blob is the winner's.
//
// After every race: GET of every published blob hashes to its name, and the
// upload leaves nothing behind in storage.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { digestOf, expectError, randomBlob } from '../helpers/oci-client.js';
import { pausedRequest } from '../helpers/paused-request.js';
import type { Running, UploadBackend } from '../helpers/upload-backends.js';

const MiB = 1024 * 1024;

/** The offset an upload's Range header reports (0-<last byte>). */
function rangeEnd(range: string | null | undefined): number {
  const m = /^0-(\d+)$/.exec(range ?? '');
  assert.ok(m, `Range header: ${range}`);
  return Number(m[1]);
}

export function uploadRaceTests(backend: UploadBackend): void {
  describe(`upload races on ${backend.name}`, { timeout: 180_000 }, () => {
    let run: Running;
    const published: Array<{ repo: string; digest: string }> = [];
    // The second process (when there is one) takes the second request of each race.
    const other = () => run.clients[run.clients.length - 1]!;

    before(async () => {
      run = await backend.start();
    });

    after(async () => {
      try {
        // Every blob these tests published hashes to its name when read back.
        for (const { repo, digest } of published) {
          for (const c of run.clients) {
            const got = await c.getBlob(repo, digest);
            assert.equal(got.status, 200, `${repo}@${digest}`);
            assert.equal(digestOf(got.body), digest, `GET ${repo}@${digest} hashes to its name`);
          }
        }
        if (run.store) {
          assert.ok((await run.store.verifyBlobs()) >= new Set(published.map((p) => p.digest)).size);
          assert.deepEqual(await run.store.keys('default/uploads/'), [], 'no upload leaves anything behind');
        }
        for (const w of run.processes) assert.doesNotMatch(w.output(), /request failed|on garbage collection/, w.output());
      } finally {
        await run.store?.close();
        await run.stop();
      }
    });

    it('a PUT racing a PATCH publishes only the bytes its digest names (Found 1)', async () => {
      const c = run.clients[0]!;
      const repo = 'race/put-patch';
      const a = randomBlob(MiB);
      const b = randomBlob(MiB);
      const { location } = await c.startUpload(repo);
      assert.equal((await c.patch(location, a, { start: 0 })).status, 202);
      // A second chunk has sent half its body and waits.
      const patch2 = pausedRequest(other().url(location), 'PATCH', { 'Content-Range': `${MiB}-${2 * MiB - 1}` }, b, MiB / 2);
      await sleep(300);
      const put = await c.finish(location, digestOf(a));
      patch2.resume();
      const late = await patch2.response;
      if (put.status === 201) {
        assert.equal(put.header('docker-content-digest'), digestOf(a));
        published.push({ repo, digest: digestOf(a) });
        // The upload is finished: the late chunk cannot be part of anything.
        assert.ok(late.status === 404 || late.status === 416, `late PATCH after a finish: ${late.status} ${late.text}`);
        const got = await c.getBlob(repo, digestOf(a));
        assert.equal(got.body.length, MiB, 'the published blob is exactly the first chunk');
        assert.equal(digestOf(got.body), digestOf(a));
        expectError(await c.uploadStatus(location), 404, 'BLOB_UPLOAD_UNKNOWN');
      } else {
        // Refused because a chunk was in flight: a clear 4xx, and the upload goes on.
        expectError(put, 416, 'RANGE_INVALID');
        assert.equal(late.status, 202, late.text);
        const fin = await c.finish(location, digestOf(Buffer.concat([a, b])));
        assert.equal(fin.status, 201, fin.text);
        published.push({ repo, digest: digestOf(Buffer.concat([a, b])) });
      }
      // Once everything has answered, the upload's state is gone from storage.
      if (run.store) assert.deepEqual(await run.store.keys(`default/uploads/`), []);
    });

    it('two PATCHes of one range at once: one wins, the other gets 416 with the real offset (Found 2)', async () => {
      const c = run.clients[0]!;
      const repo = 'race/patch-patch';
      const head = randomBlob(300 * 1024);
      const x = randomBlob(MiB);
      const y = randomBlob(MiB);
      const { location } = await c.startUpload(repo);
      assert.equal((await c.patch(location, head, { start: 0 })).status, 202);
      const range = { 'Content-Range': `${head.length}-${head.length + MiB - 1}` };
      // Both bodies are half sent before either completes.
      const p1 = pausedRequest(c.url(location), 'PATCH', range, x, MiB / 2);
      const p2 = pausedRequest(other().url(location), 'PATCH', range, y, MiB / 2);
      await sleep(300);
      p1.resume();
      const r1 = await p1.response;
      assert.equal(r1.status, 202, r1.text);
      assert.equal(rangeEnd(r1.headers['range']), head.length + MiB - 1);
      p2.resume();
      const r2 = await p2.response;
      assert.equal(r2.status, 416, `the second writer of the same range: ${r2.status} ${r2.text}`);
      assert.equal(JSON.parse(r2.text).errors[0].code, 'RANGE_INVALID');
      assert.equal(rangeEnd(r2.headers['range']), head.length + MiB - 1, 'the 416 tells the real offset');
      // The upload holds exactly the winner's bytes.
      const st = await other().uploadStatus(location);
      assert.equal(rangeEnd(st.header('range')), head.length + MiB - 1);
      const loser = digestOf(Buffer.concat([head, y]));
      expectError(await c.finish(location, loser), 400, 'DIGEST_INVALID');
      // A digest mismatch removes the upload: push the winner's bytes again, the same race-free way.
      const winner = Buffer.concat([head, x]);
      const again = await c.startUpload(repo);
      assert.equal((await c.patch(again.location, winner, { start: 0 })).status, 202);
      const fin = await other().finish(again.location, digestOf(winner));
      assert.equal(fin.status, 201, fin.text);
      published.push({ repo, digest: digestOf(winner) });
      if (run.store) assert.deepEqual(await run.store.keys(`default/uploads/`), []);
    });

    it("two PATCHes of one range at once, then PUT of the winner: the blob is the winner's bytes", async () => {
      const c = run.clients[0]!;
      const repo = 'race/patch-patch-put';
      const head = randomBlob(200 * 1024);
      const x = randomBlob(MiB + 17);
      const y = randomBlob(MiB + 17);
      const { location } = await c.startUpload(repo);
      assert.equal((await c.patch(location, head, { start: 0 })).status, 202);
      const range = { 'Content-Range': `${head.length}-${head.length + x.length - 1}` };
      const p1 = pausedRequest(other().url(location), 'PATCH', range, x, 400 * 1024);
      const p2 = pausedRequest(c.url(location), 'PATCH', range, y, 400 * 1024);
      await sleep(300);
      p1.resume();
      assert.equal((await p1.response).status, 202);
      p2.resume();
      assert.equal((await p2.response).status, 416);
      const digest = digestOf(Buffer.concat([head, x]));
      const fin = await c.finish(location, digest);
      assert.equal(fin.status, 201, fin.text);
      published.push({ repo, digest });
      const got = await other().getBlob(repo, digest);
      assert.equal(digestOf(got.body), digest);
    });
  });
}
