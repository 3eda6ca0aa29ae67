// SIGTERM during a large push: readiness turns 503 at once, new connections
// are still taken for `drain-delay` and then refused, a short request in
// flight completes, the large push is cut at `shutdown-timeout`, the process
// exits 0 — and the push resumes on a restarted process from the offset the
// store holds.
//   npm run build && node --test --test-concurrency=1 dist/test/http/lifecycle.test.js
import assert from 'node:assert/strict';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { after, describe, it } from 'node:test';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';
import { logLines } from '../helpers/ops.js';
import { OciClient, digestOf, randomBlob } from '../helpers/oci-client.js';

const MiB = 1024 * 1024;
const DRAIN_S = 1;
const TIMEOUT_S = 3;

interface Outcome {
  status?: number;
  body?: string;
  error?: string;
}

/** A request whose body the test writes piece by piece; `done` settles with the answer or the connection error. */
function openRequest(
  url: string,
  method: string,
  headers: Record<string, string | number>,
): { req: ClientRequest; done: Promise<Outcome> } {
  let req!: ClientRequest;
  const done = new Promise<Outcome>((resolve) => {
    req = httpRequest(url, { method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', (err) => resolve({ status: res.statusCode, error: String(err) }));
    });
    req.on('error', (err) => resolve({ error: (err as NodeJS.ErrnoException).code ?? String(err) }));
    // A connection closed without an answer or an error event still settles.
    req.on('close', () => resolve({ error: 'closed' }));
  });
  return { req, done };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('graceful stop (SIGTERM) during a large push', { timeout: 120_000 }, () => {
  let first: WharfProcess | undefined;
  let second: WharfProcess | undefined;
  after(async () => {
    await first?.cleanup();
    await second?.cleanup();
  });

  it('readiness flips first, a short request completes, exit 0 within the timeout, the push resumes after a restart', async () => {
    first = await startWharf({ registry: { 'drain-delay': DRAIN_S, 'shutdown-timeout': TIMEOUT_S } });
    const w = first;
    const c = new OciClient(w.url);
    const repo = 'lifecycle/big';
    const data = randomBlob(24 * MiB);
    const digest = digestOf(data);

    // One chunk stored, then a 23 MiB PATCH that trickles (it cannot finish before the timeout).
    const { location } = await c.startUpload(repo);
    const firstChunk = await c.patch(location, data.subarray(0, MiB), { start: 0 });
    assert.equal(firstChunk.status, 202, firstChunk.text);
    const big = openRequest(c.url(location), 'PATCH', {
      'Content-Type': 'application/octet-stream',
      'Content-Length': data.length - MiB,
      'Content-Range': `${MiB}-${data.length - 1}`,
    });
    let trickling = true;
    const trickle = (async () => {
      for (let off = MiB; off < data.length && trickling; off += 256 * 1024) {
        if (big.req.destroyed) break;
        if (!big.req.write(data.subarray(off, off + 256 * 1024))) {
          // The server may close the connection while this waits: 'close' ends the wait too.
          await new Promise((r) => {
            big.req.once('drain', r);
            big.req.once('close', r);
          });
        }
        await sleep(100);
      }
    })().catch(() => undefined);
    await sleep(800); // the big PATCH is in flight

    // A short request in flight: a small monolithic blob upload, half of its body sent.
    const small = randomBlob(64 * 1024);
    const shortReq = openRequest(c.url(`/v2/lifecycle/small/blobs/uploads/?digest=${digestOf(small)}`), 'POST', {
      'Content-Type': 'application/octet-stream',
      'Content-Length': small.length,
    });
    shortReq.req.write(small.subarray(0, 32 * 1024));
    await sleep(200);

    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      w.child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const t0 = Date.now();
    w.child.kill('SIGTERM');

    // Readiness turns 503 at once (new connections are still taken during the drain delay).
    const ready = await fetch(`${w.url}/readyz`, { signal: AbortSignal.timeout(5000) });
    const readyBody = await ready.json();
    assert.equal(ready.status, 503, JSON.stringify(readyBody));
    assert.deepEqual(readyBody.failed, ['draining']);
    assert.ok(Date.now() - t0 < DRAIN_S * 1000, 'answered within the drain delay');

    // The short request finishes its body after the signal and completes.
    await sleep(300);
    shortReq.req.end(small.subarray(32 * 1024));
    const shortOut = await shortReq.done;
    assert.equal(shortOut.status, 201, JSON.stringify(shortOut));

    // After the drain delay, new connections are refused.
    await sleep(Math.max(0, DRAIN_S * 1000 + 500 - (Date.now() - t0)));
    await assert.rejects(fetch(`${w.url}/v2/`, { signal: AbortSignal.timeout(5000) }), (err: Error & { cause?: { code?: string } }) => {
      assert.equal(err.cause?.code, 'ECONNREFUSED', String(err.cause ?? err));
      return true;
    });

    // Exit 0 within drain delay + shutdown timeout (+ the bounded cleanup).
    const { code, signal } = await exited;
    const took = Date.now() - t0;
    trickling = false;
    await trickle;
    assert.equal(signal, null);
    assert.equal(code, 0, w.output());
    assert.ok(took >= (DRAIN_S + TIMEOUT_S) * 1000 - 200, `the big push was given the whole timeout (${took} ms)`);
    assert.ok(took < (DRAIN_S + TIMEOUT_S + 6) * 1000, `exited ${took} ms after SIGTERM`);
    const bigOut = await big.done;
    assert.notEqual(bigOut.status, 202, `the trickling PATCH cannot have completed: ${JSON.stringify(bigOut)}`);
    const msgs = logLines(w.output()).map((l) => l.msg);
    for (const m of [
      'shutting down: readiness is 503 now',
      'no new connections; waiting for requests in flight',
      'shutdown timeout: closing the connections still open',
      'stopped',
    ]) {
      assert.ok(msgs.includes(m), `log has "${m}": ${JSON.stringify(msgs)}`);
    }

    // A restarted process on the same store: the upload is where the store says, and the push finishes.
    second = await startWharf({ dataDir: w.dataDir });
    const c2 = new OciClient(second.url);
    const st = await c2.uploadStatus(location);
    assert.equal(st.status, 204, st.text);
    const range = st.header('range')!;
    const offset = Number(range.split('-')[1]) + 1;
    assert.equal(offset, MiB, `only the completed chunk is recorded (Range ${range})`);
    const rest = await c2.patch(location, data.subarray(offset), { start: offset });
    assert.equal(rest.status, 202, rest.text);
    const fin = await c2.finish(rest.header('location') ?? location, digest);
    assert.equal(fin.status, 201, fin.text);
    const got = await c2.getBlob(repo, digest);
    assert.equal(got.status, 200);
    assert.equal(digestOf(got.body), digest);
    assert.equal((await c2.headBlob('lifecycle/small', digestOf(small))).status, 200, "the short request's blob was published");
  });
});
