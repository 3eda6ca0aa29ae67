// Backend faults through a live `wharf serve` on Swift: the store is stopped
// in the middle of a chunked push (while a PATCH body is streaming into it)
// and restarted later.
//   - While it is down every request is answered, quickly, with 503 and a
//     retryable OCI error (code UNAVAILABLE, Retry-After): never a hang, never
//     a 500.
//   - Once it is back the client re-reads the upload status, resends from the
//     offset Wharf reports, and finishes with the right digest.
//   - No partial blob is ever visible: a poller HEADs the blob digest all the
//     time and sees only 404 (or 503 while the store is down) until the final
//     PUT has answered 201.
// The store is a PRIVATE Swift all-in-one (own state dir and ports, from
// scripts/swift/start.sh), so stopping it disturbs no other test.
//   npm run build && node --test --test-concurrency=1 dist/test/objectstores/store-outage.test.js
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { objectStore, startPrivateSwift, type PrivateSwift } from '../helpers/objectstores.js';
import { OciClient, assertErrorBody, digestOf, randomBlob, type Resp } from '../helpers/oci-client.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';

const MiB = 1024 * 1024;
const CHUNK = 1.5 * MiB; // above the Swift driver's 1 MiB threshold: each chunk streams into a segment PUT
const CHUNKS = 6;
/** Longest any answer may take while the store is down (retries with backoff, then 503). */
const ANSWER_WITHIN_MS = 15_000;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A PATCH whose body is written in pieces: `head` bytes at once, then
 * `whileSending` runs, then the rest in small pieces, stopping as soon as the
 * server has answered (an early answer to a request still being sent).
 */
function patchWithPause(url: string, data: Buffer, start: number, head: number, whileSending: () => Promise<void>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = httpRequest(url, {
      method: 'PATCH',
      headers: {
        'Content-Type': 'application/octet-stream',
        'Content-Length': data.length,
        'Content-Range': `${start}-${start + data.length - 1}`,
      },
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`PATCH during the outage got no answer in ${ANSWER_WITHIN_MS * 2} ms (a hang)`));
    }, ANSWER_WITHIN_MS * 2);
    req.on('response', (res) => {
      answered = true;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        req.destroy();
      });
    });
    req.on('error', (err) => {
      if (!answered) {
        clearTimeout(timer);
        reject(err);
      }
    });
    void (async () => {
      req.write(data.subarray(0, head));
      await whileSending();
      for (let off = head; off < data.length && !answered && !req.destroyed; off += 64 * 1024) {
        req.write(data.subarray(off, off + 64 * 1024));
        await new Promise((r) => setTimeout(r, 20));
      }
      if (!answered && !req.destroyed) req.end();
    })().catch(() => undefined);
  });
}

function header(h: Answer['headers'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

describe('store outage in the middle of a chunked push (private Swift all-in-one)', { timeout: 240_000 }, () => {
  let swift: PrivateSwift | undefined;
  let wharf: WharfProcess | undefined;

  before(async () => {
    swift = await startPrivateSwift();
    const store = objectStore('swift', swift.env, 'wharf-outage');
    wharf = await startWharf({ registry: { storage: store.storage({ timeout: 5 }) } });
  });

  after(async () => {
    await wharf?.cleanup();
    await swift?.purge(); // the whole private store, data included
  });

  it('503 UNAVAILABLE with Retry-After while down; the push resumes from the offset and publishes the right blob', async () => {
    const client = new OciClient(wharf!.url);
    const repo = 'outage/chunked';
    const data = randomBlob(CHUNKS * CHUNK + 777);
    const digest = digestOf(data);
    const chunk = (i: number) => data.subarray(i * CHUNK, Math.min((i + 1) * CHUNK, data.length));

    // A poller HEADs the blob all the time: never 200 before the final PUT was
    // sent (and then only with the whole size), never a 5xx but 503.
    let finalPutSent = false;
    let polling = true;
    let paused = false;
    const seen: { status: number; length: string | null; finalPutSent: boolean }[] = [];
    const poller = (async () => {
      while (polling) {
        if (paused) {
          await new Promise((res) => setTimeout(res, 100));
          continue;
        }
        const r = await fetch(`${wharf!.url}/v2/${repo}/blobs/${digest}`, {
          method: 'HEAD',
          signal: AbortSignal.timeout(ANSWER_WITHIN_MS),
        });
        seen.push({ status: r.status, length: r.headers.get('content-length'), finalPutSent });
        await new Promise((res) => setTimeout(res, 100));
      }
    })();

    try {
      let { location } = await client.startUpload(repo);
      for (const i of [0, 1]) {
        const r = await client.patch(location, chunk(i), { start: i * CHUNK });
        assert.equal(r.status, 202, r.text);
        location = r.header('location')!;
      }

      // Chunk 2: the store goes down while its body streams through Wharf into Swift.
      const t0 = Date.now();
      const inFlight = await patchWithPause(new URL(location, wharf!.url).toString(), chunk(2), 2 * CHUNK, 1.2 * MiB, async () => {
        await new Promise((r) => setTimeout(r, 400)); // Wharf is streaming the segment into Swift now
        await swift!.stop();
      });
      assert.equal(inFlight.status, 503, `PATCH in flight when the store stopped: ${inFlight.status} ${inFlight.body}`);
      assert.equal(assertErrorBody(inFlight.body)[0]!.code, 'UNAVAILABLE');
      assert.match(header(inFlight.headers, 'retry-after') ?? '', /^\d+$/, 'Retry-After');
      assert.ok(Date.now() - t0 < ANSWER_WITHIN_MS * 2, 'answered promptly');

      // While the store is down: every kind of request gets a prompt, retryable 503.
      const down = async (what: string, r: () => Promise<Resp>) => {
        const t = Date.now();
        const resp = await r();
        const ms = Date.now() - t;
        assert.equal(resp.status, 503, `${what} while down: ${resp.status} ${resp.text}`);
        assert.ok(ms < ANSWER_WITHIN_MS, `${what} took ${ms} ms`);
        if (what !== 'HEAD blob') assert.equal(assertErrorBody(resp.text, what)[0]!.code, 'UNAVAILABLE');
        assert.match(resp.header('retry-after') ?? '', /^\d+$/, `${what}: Retry-After`);
      };
      const allow5xx = { allow5xx: true };
      await down('upload status', () => client.request('GET', location, allow5xx));
      await down('PATCH', () =>
        client.request('PATCH', location, {
          ...allow5xx,
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${2 * CHUNK}-${3 * CHUNK - 1}` },
          body: chunk(2),
        }),
      );
      await down('final PUT', () => client.request('PUT', location, { ...allow5xx, query: { digest } }));
      await down('HEAD blob', () => client.request('HEAD', `/v2/${repo}/blobs/${digest}`, allow5xx));
      await down('GET blob', () => client.request('GET', `/v2/${repo}/blobs/${digest}`, allow5xx));
      await down('POST new upload', () => client.request('POST', `/v2/${repo}/blobs/uploads/`, allow5xx));

      // Quiet while start.sh runs: a Swift proxy whose backends are not yet
      // listening error-limits them for 60 s after a few failed requests,
      // which would only test Swift's patience, not Wharf.
      paused = true;
      await swift!.start();
      paused = false;

      // The client re-reads the upload status and resends from the offset Wharf reports.
      const st = await client.uploadStatus(location);
      assert.equal(st.status, 204, st.text);
      const range = /^0-(\d+)$/.exec(st.header('range') ?? '');
      assert.ok(range, `Range header: ${st.header('range')}`);
      const offset = Number(range[1]) + 1;
      assert.equal(offset, 2 * CHUNK, 'the failed chunk left no trace in the upload');
      location = st.header('location')!;
      for (let off = offset; off < data.length; off += CHUNK) {
        const r = await client.patch(location, data.subarray(off, off + CHUNK), { start: off });
        assert.equal(r.status, 202, r.text);
        location = r.header('location')!;
      }
      assert.equal((await client.headBlob(repo, digest)).status, 404, 'not visible before the final PUT');
      finalPutSent = true;
      const fin = await client.finish(location, digest);
      assert.equal(fin.status, 201, fin.text);
      assert.equal(fin.header('docker-content-digest'), digest);

      const got = await client.getBlob(repo, digest);
      assert.equal(got.status, 200);
      assert.equal(digestOf(got.body), digest);
      assert.equal(got.body.length, data.length);
    } finally {
      polling = false;
      await poller;
    }

    // the poller's view: 404 (or 503 while down) until the final PUT, never another 5xx; a 200 only for the whole blob
    const early = seen.filter((s) => !s.finalPutSent && s.status !== 404 && s.status !== 503);
    assert.deepEqual(early, [], `HEAD of the blob before the final PUT: ${JSON.stringify(early)}`);
    const partial = seen.filter((s) => s.status === 200 && s.length !== String(data.length));
    assert.deepEqual(partial, [], 'a visible blob is always the whole blob');
    const bad = seen.filter((s) => s.status !== 200 && s.status !== 404 && s.status !== 503);
    assert.deepEqual(bad, [], 'HEAD answers are 200, 404 or 503 only');
    assert.ok(
      seen.some((s) => s.status === 503),
      'the poller saw the outage',
    );
    assert.ok(seen.filter((s) => !s.finalPutSent).length > 10, `the poller ran throughout (${seen.length} HEADs)`);
    assert.equal((await client.headBlob(repo, digest)).status, 200);
  });
});
