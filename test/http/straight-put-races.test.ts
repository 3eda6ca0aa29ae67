// The straight-to-key path (filesystem `putChecked`: `POST ?digest=` with a
// body, and a PUT of the whole body on an upload that stored nothing —
// src/registry/uploads.ts putStraight) raced by a second push of the same
// digest through another `wharf serve` process on the same root: one push
// is right, the other sends wrong bytes of the right length, a body cut one
// byte short, or goes away at its last byte. Both bodies are held one byte
// before their end and let go in either order, so the two requests are in
// flight together. After each race: the right push got 201, the wrong one a
// 4xx (never 201, never 5xx), GET of the blob through both processes hashes
// to its name, and neither `_tmp/` nor `uploads/` keeps anything.
//   npm run build && node --test --test-concurrency=1 dist/test/http/straight-put-races.test.js
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { digestOf, randomBlob } from '../helpers/oci-client.js';
import { pausedRequest, type PausedRequest } from '../helpers/paused-request.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';

const REPO = 'straight';

/** A request that sends all but the last byte of its body, then the socket is destroyed (the client went away). */
function abortAtLastByte(url: string, method: string, body: Buffer): { abort(): void; settled: Promise<number | 'reset'> } {
  let req!: ReturnType<typeof httpRequest>;
  const settled = new Promise<number | 'reset'>((resolve) => {
    req = httpRequest(url, {
      method,
      agent: false,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length) },
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve('reset'));
    req.on('close', () => resolve('reset'));
    req.write(body.subarray(0, body.length - 1));
  });
  return { abort: () => req.destroy(), settled };
}

describe('straight-to-key pushes of one digest racing across two processes (filesystem)', { timeout: 180_000 }, () => {
  let a: WharfProcess;
  let b: WharfProcess;
  const digests: string[] = [];

  before(async () => {
    a = await startWharf();
    b = await startWharf({ dataDir: a.dataDir });
  });

  after(async () => {
    try {
      for (const w of [a, b]) assert.doesNotMatch(w.output(), /request failed|"level":"error"/, w.output());
    } finally {
      await b?.cleanup();
      await a?.cleanup();
    }
  });

  /** A fresh upload URL on a process (for the PUT variant). */
  async function uploadUrl(w: WharfProcess): Promise<string> {
    const r = await fetch(`${w.url}/v2/${REPO}/blobs/uploads/`, { method: 'POST' });
    assert.equal(r.status, 202);
    return new URL(r.headers.get('location')!, w.url).toString();
  }

  async function target(w: WharfProcess, via: 'POST' | 'PUT', digest: string): Promise<{ url: string; method: string }> {
    if (via === 'POST') return { url: `${w.url}/v2/${REPO}/blobs/uploads/?digest=${digest}`, method: 'POST' };
    const u = new URL(await uploadUrl(w));
    u.searchParams.set('digest', digest);
    return { url: u.toString(), method: 'PUT' };
  }

  async function afterRace(digest: string, body: Buffer): Promise<void> {
    digests.push(digest);
    for (const w of [a, b]) {
      const r = await fetch(`${w.url}/v2/${REPO}/blobs/${digest}`);
      assert.equal(r.status, 200, `GET through ${w.url}`);
      const got = Buffer.from(await r.arrayBuffer());
      assert.equal(got.length, body.length);
      assert.equal(digestOf(got), digest, 'the published blob hashes to its name');
    }
    // Give a request that went away a moment to clean up after itself.
    const deadline = Date.now() + 5000;
    for (;;) {
      const tmp = readdirSync(join(a.dataDir, '_tmp'));
      let uploads: string[] = [];
      try {
        uploads = readdirSync(join(a.dataDir, 'default', 'uploads'));
      } catch {
        uploads = [];
      }
      if ((tmp.length === 0 && uploads.length === 0) || Date.now() > deadline) {
        assert.deepEqual(tmp, [], 'no temp file left');
        assert.deepEqual(uploads, [], 'no upload left');
        break;
      }
      await sleep(50);
    }
  }

  const held = (t: { url: string; method: string }, body: Buffer): PausedRequest =>
    pausedRequest(t.url, t.method, {}, body, body.length - 1);

  /** Let two held requests go, `first` first, a moment apart; their answers. */
  const letGo = async (first: PausedRequest, second: PausedRequest) => {
    for (const r of [first, second]) {
      r.resume();
      await sleep(5);
    }
    return Promise.all([first.response, second.response]);
  };

  for (const via of ['POST', 'PUT'] as const) {
    for (const size of [10_000, 3 * 1024 * 1024]) {
      for (const rightFirst of [true, false]) {
        const order = rightFirst ? 'the right one ends first' : 'the wrong one ends first';
        it(`${via} of ${size} bytes, wrong bytes of the right length through the other process: 201 and 400 (${order})`, async () => {
          const good = randomBlob(size);
          const bad = Buffer.from(good);
          bad[size >> 1] ^= 0xff;
          const digest = digestOf(good);
          const right = held(await target(a, via, digest), good);
          const wrong = held(await target(b, via, digest), bad);
          await sleep(50);
          const [ra, rb] = rightFirst ? await letGo(right, wrong) : (await letGo(wrong, right)).reverse();
          assert.equal(ra.status, 201, ra.text);
          assert.equal(rb.status, 400, rb.text);
          assert.match(rb.text, /DIGEST_INVALID/);
          await afterRace(digest, good);
        });

        it(`${via} of ${size} bytes, a body one byte short through the other process: 201 and 400 (${order})`, async () => {
          const good = randomBlob(size);
          const digest = digestOf(good);
          const right = held(await target(a, via, digest), good);
          // Content-Length says one byte less than the blob: the body ends early, the digest cannot match.
          const short = good.subarray(0, size - 1);
          const cut = pausedRequest((await target(b, via, digest)).url, via, {}, short, short.length - 1);
          await sleep(50);
          const [ra, rc] = rightFirst ? await letGo(right, cut) : (await letGo(cut, right)).reverse();
          assert.equal(ra.status, 201, ra.text);
          assert.equal(rc.status, 400, rc.text);
          assert.match(rc.text, /DIGEST_INVALID|SIZE_INVALID/);
          await afterRace(digest, good);
        });

        it(`${via} of ${size} bytes, a client gone at its last byte through the other process: 201, nothing of the other (${order})`, async () => {
          const good = randomBlob(size);
          const digest = digestOf(good);
          const right = held(await target(a, via, digest), good);
          const other = await target(b, via, digest);
          const gone = abortAtLastByte(other.url, via, good);
          await sleep(50);
          if (rightFirst) {
            right.resume();
            assert.equal((await right.response).status, 201);
            gone.abort();
          } else {
            gone.abort();
            await sleep(20);
            right.resume();
            assert.equal((await right.response).status, 201);
          }
          const g = await gone.settled;
          assert.ok(g === 'reset' || (g >= 400 && g < 500), `the request that went away got ${g}`);
          if (via === 'PUT') {
            // A PUT that breaks off leaves its upload as recorded (the client may resume): cancel it.
            const u = new URL(other.url);
            u.search = '';
            const d = await fetch(u, { method: 'DELETE' });
            assert.equal(d.status, 204, `cancel the upload the PUT left: ${await d.text()}`);
          }
          await afterRace(digest, good);
        });
      }
    }
  }
});
