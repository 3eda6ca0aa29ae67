// Blob bodies sent with sendfile(2) (src/http/sendfile.ts, native/src/sendfile.c)
// against real sockets: whole and ranged bodies hash right and end exactly
// where Content-Length says (the next pipelined response follows at once); a
// client that pauses gets every byte (EAGAIN, then the wait for a writable
// socket); a client that stops reading is dropped at the idle timeout and a
// client that aborts mid-body leave no descriptor behind (/proc/<pid>/fd);
// small requests are answered while a big body is stalled; and the streaming
// fallback (WHARF_SENDFILE=off; TLS: sendfile-tls.test.ts) serves the same bytes.
//
// Proof that a body went through sendfile: while it is under way the server
// holds a second descriptor for the client's socket (the addon's dup), which
// the streaming path never does.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OciClient, randomBlob } from '../helpers/oci-client.js';
import { fdSummary, fdTargets, tcpSocket } from '../helpers/proc.js';
import { REPO_ROOT, startWharf, type WharfProcess } from '../helpers/wharf.js';

const ADDON = join(REPO_ROOT, 'native', 'build', 'Release', 'wharf_io.node');
const MIB = 1024 * 1024;
// Not a multiple of anything the server batches by (64 KiB head, 8 MiB batches).
const SIZE = 20 * MIB + 12_345;
const REPO = 'sendfile/blob';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Socket inodes the process holds more than one descriptor for (the addon's dup). */
function duplicatedSockets(pid: number): string[] {
  const seen = new Map<string, number>();
  for (const t of fdTargets(pid)) if (t.startsWith('socket:')) seen.set(t, (seen.get(t) ?? 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([t]) => t);
}

async function waitFor(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

interface Head {
  status: number;
  headers: Record<string, string>;
}

function parseHead(text: string): Head {
  const [line, ...rest] = text.split('\r\n');
  const headers: Record<string, string> = {};
  for (const h of rest) {
    const i = h.indexOf(':');
    headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
  }
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(line!)?.[1]), headers };
}

/**
 * A raw connection that writes `requests` at once and collects every byte the
 * server sends until it closes. `onData` may pause the socket (slow client) or
 * destroy it (abort).
 */
function wire(port: number, requests: string, onData?: (s: Socket, total: number) => void): Promise<{ raw: Buffer; error?: string }> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    let total = 0;
    let error: string | undefined;
    s.on('data', (d: Buffer) => {
      parts.push(d);
      total += d.length;
      onData?.(s, total);
    });
    s.on('error', (e) => (error = e.message));
    s.on('close', () => resolve({ raw: Buffer.concat(parts), error }));
    s.write(requests);
  });
}

const get = (path: string, headers: Record<string, string> = {}, close = false) =>
  `GET ${path} HTTP/1.1\r\nHost: x\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}${close ? 'Connection: close\r\n' : ''}\r\n`;

/** Split one response with a Content-Length body off the front of `raw`. */
function takeResponse(raw: Buffer): { head: Head; body: Buffer; rest: Buffer } {
  const end = raw.indexOf('\r\n\r\n');
  assert.ok(end > 0, 'no complete response head');
  const head = parseHead(raw.subarray(0, end).toString('latin1'));
  const length = Number(head.headers['content-length']);
  assert.ok(Number.isSafeInteger(length), `no Content-Length in ${JSON.stringify(head)}`);
  const body = raw.subarray(end + 4, end + 4 + length);
  return { head, body, rest: raw.subarray(end + 4 + length) };
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * GET the blob (with `range`) and then /v2/ on one connection: the first body
 * must be exactly the expected bytes and the second response must start right
 * after it (a byte too many or too few breaks the framing of the second).
 */
async function getThenNext(w: WharfProcess, digest: string, range?: string): Promise<{ head: Head; body: Buffer }> {
  const { raw, error } = await wire(w.port, get(`/v2/${REPO}/blobs/${digest}`, range ? { Range: range } : {}) + get('/v2/', {}, true));
  assert.equal(error, undefined);
  const first = takeResponse(raw);
  const second = takeResponse(first.rest);
  assert.equal(second.head.status, 200, 'the response after the blob must start right after its last byte');
  assert.equal(second.body.toString(), '{}');
  assert.equal(second.rest.length, 0, 'nothing after the second response');
  return first;
}

const RANGES: Array<[string, number, number]> = [
  // [header, first, last]
  ['bytes=0-', 0, SIZE - 1],
  ['bytes=1-', 1, SIZE - 1],
  ['bytes=12345-9000000', 12_345, 9_000_000],
  ['bytes=65536-', 65_536, SIZE - 1], // starts at the head/sendfile boundary of a whole body
  [`bytes=-${2 * MIB + 3}`, SIZE - (2 * MIB + 3), SIZE - 1],
  [`bytes=${SIZE - 300 * 1024}-${SIZE + 5000}`, SIZE - 300 * 1024, SIZE - 1], // end clipped to the size
  ['bytes=100-200', 100, 200], // small: streamed
];

function describeBodies(name: string, env: Record<string, string>, expectSendfile: boolean) {
  describe(name, () => {
    let w: WharfProcess;
    const data = randomBlob(SIZE);
    let digest: string;

    before(async () => {
      w = await startWharf({ env, registry: { limits: { 'idle-timeout': 3 } } });
      digest = await new OciClient(w.url).pushBlob(REPO, data);
    });
    after(async () => {
      const out = w.output();
      await w.cleanup();
      assert.doesNotMatch(out, /request failed/, `server logged internal failures:\n${out}`);
      assert.match(out, expectSendfile ? /"blobBodies":"sendfile"/ : /"blobBodies":"streamed/);
    });

    it('the access log and the metrics count the whole body, sent past Node or not', async () => {
      const { raw, error } = await wire(w.port, get(`/v2/${REPO}/blobs/${digest}`, { 'X-Request-Id': `bytes-${name.length}` }, true));
      assert.equal(error, undefined);
      assert.equal(sha(takeResponse(raw).body), digest.slice('sha256:'.length));
      let line: { bytesOut?: number; status?: number } | undefined;
      await waitFor('the access log line', () => {
        for (const l of w.output().split('\n')) {
          if (l.includes(`"id":"bytes-${name.length}"`) && l.includes('"msg":"request"')) line = JSON.parse(l);
        }
        return line !== undefined;
      });
      assert.equal(line!.status, 200);
      assert.ok(line!.bytesOut! >= SIZE, `access log bytesOut ${line!.bytesOut} < ${SIZE}`);
      const metrics = await (await fetch(`${w.url}/metrics`)).text();
      const sent = metrics
        .split('\n')
        .filter((m) => m.startsWith('wharf_http_sent_bytes_total{') && m.includes('route="blob"'))
        .reduce((n, m) => n + Number(m.split(' ').pop()), 0);
      assert.ok(sent >= SIZE, `wharf_http_sent_bytes_total{route="blob"} ${sent} < ${SIZE}`);
    });

    it('a whole body hashes to its digest and ends exactly at Content-Length', async () => {
      const { head, body } = await getThenNext(w, digest);
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], String(SIZE));
      assert.equal(`sha256:${sha(body)}`, digest);
    });

    it('ranged bodies are exactly the bytes asked for', async () => {
      for (const [range, first, last] of RANGES) {
        const { head, body } = await getThenNext(w, digest, range);
        assert.equal(head.status, 206, range);
        assert.equal(head.headers['content-range'], `bytes ${first}-${last}/${SIZE}`, range);
        assert.equal(body.length, last - first + 1, range);
        assert.equal(sha(body), sha(data.subarray(first, last + 1)), range);
      }
    });

    it('a client that pauses reading several times gets every byte', async () => {
      let pauses = 0;
      let next = 2 * MIB;
      const { raw, error } = await wire(w.port, get(`/v2/${REPO}/blobs/${digest}`, {}, true), (s, total) => {
        if (total < next) return;
        next += 4 * MIB;
        pauses++;
        s.pause(); // the server's socket buffer fills: sendfile meets EAGAIN and waits
        setTimeout(() => s.resume(), 300);
      });
      assert.equal(error, undefined);
      assert.ok(pauses >= 3, `paused ${pauses} times`);
      const { head, body, rest } = takeResponse(raw);
      assert.equal(head.status, 200);
      assert.equal(`sha256:${sha(body)}`, digest);
      assert.equal(rest.length, 0);
    });

    it('a client that stops reading: small requests are still answered, then the idle timeout drops it and nothing leaks', async () => {
      const pid = w.child.pid!;
      let stalled!: Socket;
      let pausedAt = 0;
      const done = wire(w.port, get(`/v2/${REPO}/blobs/${digest}`), (s) => {
        if (stalled) return;
        stalled = s;
        pausedAt = Date.now();
        s.pause(); // stop reading until the server has closed its end (idle timeout: 3 s)
      });
      await waitFor('the body to start', () => stalled !== undefined);
      // The server's end of this connection: its descriptors go when the server drops the client.
      const serverEnd = tcpSocket(pid, w.port, stalled.localPort!);
      assert.ok(serverEnd, 'the server holds the connection');
      let connection = '';
      if (expectSendfile) {
        await waitFor('the sendfile transfer (a dup of the client socket)', () => duplicatedSockets(pid).length === 1);
        connection = duplicatedSockets(pid)[0]!;
      } else assert.deepEqual(duplicatedSockets(pid), []);
      // The event loop is free while the big body waits: small requests go through.
      for (let i = 0; i < 5; i++) {
        const { raw } = await wire(w.port, get('/v2/', {}, true));
        assert.equal(takeResponse(raw).head.status, 200);
      }
      // Before the client reads again: nothing but the timeout can end the transfer.
      // (Node closes its descriptor at the timeout; the addon's must go too.)
      if (expectSendfile) assert.equal(connection, serverEnd);
      // As long as the client used to stay paused (10 s): the 3 s timeout must have struck by then.
      await waitFor('the idle timeout to end the transfer', () => !fdTargets(pid).includes(serverEnd), pausedAt + 10_000 - Date.now());
      // Only now read again: take what the socket buffers held, and the close.
      stalled.resume();
      const { raw } = await done;
      assert.ok(raw.length < SIZE, `got ${raw.length} of ${SIZE} bytes: the idle timeout should have cut the body`);
      await waitFor('no duplicated socket descriptors', () => duplicatedSockets(pid).length === 0);
      await waitFor('no open blob files', () => fdSummary(pid, w.dataDir).under.length === 0);
    });

    it('clients that abort mid-body leave no descriptor behind', async () => {
      const pid = w.child.pid!;
      await sleep(100);
      const before = fdSummary(pid).total;
      for (let i = 0; i < 6; i++) {
        const { raw } = await wire(w.port, get(`/v2/${REPO}/blobs/${digest}`), (s, total) => {
          if (total > (i + 1) * MIB) s.destroy();
        });
        assert.ok(raw.length < SIZE);
      }
      await waitFor('descriptors back to where they were', () => fdSummary(pid).total <= before);
      assert.deepEqual(duplicatedSockets(pid), []);
      assert.deepEqual(fdSummary(pid, w.dataDir).under, []);
      // And the server still serves the whole blob.
      const { body } = await getThenNext(w, digest);
      assert.equal(`sha256:${sha(body)}`, digest);
    });
  });
}

describe('sendfile addon', () => {
  it('is built on Linux by npm install', () => {
    assert.ok(existsSync(ADDON), `${ADDON} is missing: see native/build-native.log`);
  });
});

describeBodies('blob bodies with sendfile', {}, true);
describeBodies('blob bodies streamed (WHARF_SENDFILE=off, as without the addon)', { WHARF_SENDFILE: 'off' }, false);
