// Resource attacks against a live `wharf serve` with authentication on:
// oversized headers (431) and manifests (413), slowloris clients (cut off at
// `limits.headers-timeout`, and they cannot hold the server), stalled bodies
// (`limits.idle-timeout`), unauthenticated bodies (refused unread), and
// throttling of repeated failed logins (429 with Retry-After, per user and
// client address).
//   npm run build && node --test --test-concurrency=1 dist/test/http/auth*.test.js
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';
import { basic, raw, tokenRequest } from '../helpers/auth.js';

const CI = { user: 'ci', pass: 'ci-password' };
const VICTIM = { user: 'victim', pass: 'victim-password' };

/** Opens a socket and resolves when the server closes it, with the time that took. */
function openSocket(port: number): Promise<{ socket: Socket; closed: Promise<{ ms: number; data: string }> }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect({ port, host: '127.0.0.1' }, () => {
      let data = '';
      socket.on('data', (d) => (data += d));
      socket.on('error', () => undefined);
      const closed = new Promise<{ ms: number; data: string }>((res) => socket.on('close', () => res({ ms: Date.now() - started, data })));
      resolve({ socket, closed });
    });
    socket.once('error', reject);
  });
}

describe('auth: limits and throttling', () => {
  let w: WharfProcess;
  const ci = basic(CI.user, CI.pass);

  before(async () => {
    w = await startWharf({
      registry: {
        secret: 'limits-test-secret-0123456789abcdef0123',
        users: [
          // bcrypt (checked asynchronously, so parallel guesses overlap); an unknown user is checked against it too.
          { name: CI.user, pass: bcrypt.hashSync(CI.pass, 8), access: 'write' },
          { name: VICTIM.user, pass: VICTIM.pass, access: 'read' },
        ],
        limits: { 'headers-timeout': 1, 'idle-timeout': 2, 'max-header-bytes': 4096, 'manifest-max-bytes': 1024 },
        'login-throttle': { 'max-failures': 3, window: 60 },
      },
    });
  });
  after(async () => {
    await w.cleanup();
  });

  it('oversized request headers get 431', async () => {
    const r = await raw(w.url, 'GET', '/v2/', { headers: { authorization: ci, 'x-big': 'a'.repeat(8192) } });
    assert.equal(r.status, 431);
    // Many headers that add up past the limit too.
    const many: Record<string, string> = { authorization: ci };
    for (let i = 0; i < 100; i++) many[`x-h${i}`] = 'b'.repeat(60);
    assert.equal((await raw(w.url, 'GET', '/v2/', { headers: many })).status, 431);
    assert.equal((await raw(w.url, 'GET', '/v2/', { headers: { authorization: ci } })).status, 200);
  });

  it('a manifest over limits.manifest-max-bytes gets 413, declared or streamed', async () => {
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, pad: 'x'.repeat(2000) }));
    const r = await raw(w.url, 'PUT', '/v2/ci/big/manifests/v1', {
      headers: { authorization: ci, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body,
    });
    assert.equal(r.status, 413);
    // Chunked (no Content-Length): cut off while reading.
    const s = await openSocket(w.port);
    s.socket.write(
      `PUT /v2/ci/big/manifests/v2 HTTP/1.1\r\nHost: x\r\nAuthorization: ${ci}\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nTransfer-Encoding: chunked\r\n\r\n`,
    );
    for (let i = 0; i < 4; i++) s.socket.write(`400\r\n${'y'.repeat(0x400)}\r\n`);
    // The answer comes while the client is still sending (the rest may be drained or cut off).
    const data = await new Promise<string>((res) => {
      let got = '';
      const done = () => res(got);
      s.socket.on('data', (d) => {
        got += d;
        if (got.includes('\r\n\r\n')) done();
      });
      s.socket.on('close', done);
      setTimeout(done, 5000);
    });
    s.socket.destroy();
    assert.match(data, /^HTTP\/1\.1 413 /);
    // The token endpoint's form is bounded too.
    const f = await raw(w.url, 'POST', '/auth/token', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=password&username=ci&password=${'p'.repeat(70 * 1024)}`,
    });
    assert.equal(f.status, 413);
  });

  it('an unauthenticated upload is refused before its body is read, and the connection is closed', async () => {
    const s = await openSocket(w.port);
    s.socket.write(
      'POST /v2/ci/app/blobs/uploads/?digest=sha256:' + '0'.repeat(64) + ' HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n',
    );
    s.socket.write(randomBytes(1024));
    const { ms, data } = await s.closed;
    assert.match(data, /^HTTP\/1\.1 401 /);
    assert.ok(ms < 2000, `closed after ${ms} ms`);
  });

  it('slowloris: clients trickling headers are cut off near headers-timeout and cannot hold the server', async () => {
    const N = 30;
    const conns = await Promise.all(Array.from({ length: N }, () => openSocket(w.port)));
    const timers = conns.map(({ socket }, i) => {
      socket.write(`GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
      // One header line every 200 ms: never idle, never finished.
      return setInterval(() => socket.writable && socket.write(`X-Slow-${i}: ${Date.now()}\r\n`), 200);
    });
    try {
      // Meanwhile ordinary requests are served at once.
      for (let i = 0; i < 5; i++) {
        const t0 = Date.now();
        const r = await raw(w.url, 'GET', '/v2/', { headers: { authorization: ci } });
        assert.equal(r.status, 200);
        assert.ok(Date.now() - t0 < 1000, `request took ${Date.now() - t0} ms during the slowloris`);
      }
      const results = await Promise.race([
        Promise.all(conns.map((c) => c.closed)),
        new Promise<never>((_, rej) => setTimeout(() => rej(new Error('slowloris connections still open after 6 s')), 6000)),
      ]);
      const worst = Math.max(...results.map((r) => r.ms));
      // headers-timeout is 1 s; the server checks every 250 ms.
      assert.ok(worst < 3000, `slowest slowloris connection lasted ${worst} ms`);
      for (const r of results) assert.ok(r.data === '' || /^HTTP\/1\.1 408 /.test(r.data), r.data.slice(0, 100));
    } finally {
      for (const t of timers) clearInterval(t);
      for (const c of conns) c.socket.destroy();
    }
  });

  it('a stalled request body is closed after idle-timeout', async () => {
    const start = await raw(w.url, 'POST', '/v2/ci/stall/blobs/uploads/', { headers: { authorization: ci } });
    assert.equal(start.status, 202);
    const s = await openSocket(w.port);
    s.socket.write(`PATCH ${start.header('location')} HTTP/1.1\r\nHost: x\r\nAuthorization: ${ci}\r\nContent-Length: 100000\r\n\r\n`);
    s.socket.write(randomBytes(1000));
    const { ms } = await Promise.race([
      s.closed,
      new Promise<never>((_, rej) => setTimeout(() => rej(new Error('stalled body still open after 6 s')), 6000)),
    ]);
    assert.ok(ms >= 1500 && ms < 4500, `closed after ${ms} ms (idle-timeout 2 s)`);
  });

  it('repeated failed logins are throttled per user and address: 429 with Retry-After', async () => {
    const wrong = { user: VICTIM.user, pass: 'guess' };
    for (let i = 0; i < 3; i++) assert.equal((await tokenRequest(w.url, [], wrong)).status, 401, `attempt ${i + 1}`);
    const t = await tokenRequest(w.url, [], wrong);
    assert.equal(t.status, 429);
    assert.equal(t.json().errors[0].code, 'TOOMANYREQUESTS');
    const retry = Number(t.header('retry-after'));
    assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`);
    // While throttled, even the right password is refused (no oracle), on the API too.
    assert.equal((await tokenRequest(w.url, [], VICTIM)).status, 429);
    const api = await raw(w.url, 'GET', '/v2/', { headers: { authorization: basic(VICTIM.user, VICTIM.pass) } });
    assert.equal(api.status, 429);
    assert.ok(api.header('retry-after'));
    // Another address, and another user from this address, are not affected.
    assert.equal((await tokenRequest(w.url, [], VICTIM, {}, { localAddress: '127.0.0.2' })).status, 200);
    assert.equal((await tokenRequest(w.url, [], CI)).status, 200);
    // A burst of parallel guesses cannot get past the limit either.
    const burst = await Promise.all(
      Array.from({ length: 10 }, () => tokenRequest(w.url, [], { user: 'burst', pass: 'guess' }, {}, { localAddress: '127.0.0.3' })),
    );
    assert.ok(burst.filter((r) => r.status === 401).length <= 3, burst.map((r) => r.status).join(','));
    assert.ok(burst.some((r) => r.status === 429));
  });
});
