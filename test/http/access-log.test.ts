// The access log: one JSON line per request at info level with request id,
// client, user, route, namespace, repository, reference or digest, status,
// error code, bytes and duration. X-Request-Id is taken when well formed and
// always returned. The client address comes from X-Forwarded-For only when the
// peer is a trusted proxy — and the login throttle uses that same address.
//   npm run build && node --test --test-concurrency=1 dist/test/http/access-log.test.js
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';
import { logLines, sample, waitFor } from '../helpers/ops.js';
import { digestOf, randomBlob } from '../helpers/oci-client.js';

const BASIC = `Basic ${Buffer.from('ci:ci-password').toString('base64')}`;
const USERS = [{ name: 'ci', pass: 'ci-password', access: 'write' }];

async function call(url: string, init: RequestInit & { headers?: Record<string, string> } = {}) {
  const r = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
  const text = await r.text();
  return { status: r.status, headers: r.headers, text };
}

/** The access-log line of the request with this id (waits for the asynchronous log). */
function lineFor(w: WharfProcess, id: string): Promise<Record<string, any>> {
  return waitFor(`access log line ${id}`, () => logLines(w.output(), 'request').find((l) => l.id === id));
}

describe('access log', () => {
  let w: WharfProcess;
  before(async () => {
    w = await startWharf({ registry: { users: USERS } });
  });
  after(() => w?.cleanup());

  it("a push: id (the client's), client, user, route, repository, digest, status, bytes in and out, duration", async () => {
    const blob = randomBlob(50_000);
    const digest = digestOf(blob);
    const r = await call(`${w.url}/v2/team/app/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      headers: { Authorization: BASIC, 'X-Request-Id': 'ci-build-42.step-3', 'Content-Type': 'application/octet-stream' },
      body: new Uint8Array(blob),
    });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.headers.get('x-request-id'), 'ci-build-42.step-3');
    const l = await lineFor(w, 'ci-build-42.step-3');
    assert.equal(l.level, 'info');
    assert.ok(!Number.isNaN(Date.parse(l.time)));
    assert.equal(l.client, '127.0.0.1');
    assert.equal(l.user, 'ci');
    assert.equal(l.method, 'POST');
    assert.equal(l.route, 'upload');
    assert.equal(l.namespace, 'default');
    assert.equal(l.repository, 'team/app');
    assert.equal(l.status, 201);
    assert.equal(l.error, undefined);
    assert.ok(l.bytesIn >= 50_000, `bytesIn ${l.bytesIn}`);
    assert.ok(l.bytesOut > 0);
    assert.equal(typeof l.ms, 'number');

    const m = await call(`${w.url}/v2/team/app/blobs/${digest}`, { headers: { Authorization: BASIC, 'X-Request-Id': 'pull-1' } });
    assert.equal(m.status, 200);
    const pl = await lineFor(w, 'pull-1');
    assert.equal(pl.route, 'blob');
    assert.equal(pl.digest, digest);
    assert.ok(pl.bytesOut >= 50_000, `bytesOut ${pl.bytesOut}`);
  });

  it('an error answer logs its OCI code; a failed login has no user', async () => {
    const r = await call(`${w.url}/v2/team/app/manifests/nope`, { headers: { Authorization: BASIC, 'X-Request-Id': 'missing-1' } });
    assert.equal(r.status, 404);
    const l = await lineFor(w, 'missing-1');
    assert.equal(l.error, 'MANIFEST_UNKNOWN');
    assert.equal(l.reference, 'nope');
    assert.equal(l.user, 'ci');
    const bad = await call(`${w.url}/v2/`, {
      headers: { Authorization: `Basic ${Buffer.from('ci:wrong').toString('base64')}`, 'X-Request-Id': 'badpw-1' },
    });
    assert.equal(bad.status, 401);
    const bl = await lineFor(w, 'badpw-1');
    assert.equal(bl.error, 'UNAUTHORIZED');
    assert.equal(bl.user, undefined);
  });

  it('a malformed X-Request-Id is replaced by a generated one, which is returned and logged', async () => {
    for (const bad of ['has spaces in it', 'x'.repeat(200), '"quoted"']) {
      const r = await call(`${w.url}/v2/`, { headers: { 'X-Request-Id': bad } });
      const id = r.headers.get('x-request-id')!;
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, `for ${JSON.stringify(bad)}`);
      assert.equal((await lineFor(w, id)).status, 401);
      assert.ok(!w.output().includes(bad), 'the malformed value is not logged');
    }
  });

  it('without trusted proxies a forged X-Forwarded-For is ignored', async () => {
    await call(`${w.url}/v2/`, { headers: { 'X-Forwarded-For': '203.0.113.99', 'X-Request-Id': 'forged-1' } });
    assert.equal((await lineFor(w, 'forged-1')).client, '127.0.0.1');
  });
});

describe('trusted proxies and the login throttle', () => {
  let behindProxy: WharfProcess;
  let direct: WharfProcess;
  before(async () => {
    const common = { users: USERS, 'login-throttle': { 'max-failures': 2, window: 300 } };
    behindProxy = await startWharf({ registry: { ...common, 'trusted-proxies': ['127.0.0.0/8'] } });
    direct = await startWharf({ registry: common });
  });
  after(async () => {
    await behindProxy?.cleanup();
    await direct?.cleanup();
  });

  const wrong = { Authorization: `Basic ${Buffer.from('ci:wrong').toString('base64')}` };

  it('behind a trusted proxy: the client is the forwarded address, and each client has its own failure count', async () => {
    const w = behindProxy;
    const ok = await call(`${w.url}/v2/`, {
      headers: { Authorization: BASIC, 'X-Forwarded-For': '6.6.6.6, 198.51.100.7', 'X-Request-Id': 'fwd-1' },
    });
    assert.equal(ok.status, 200);
    assert.equal((await lineFor(w, 'fwd-1')).client, '198.51.100.7', 'the rightmost untrusted hop, not what the client wrote');
    const fwdBy = (who: string) => ({ ...wrong, 'X-Forwarded-For': who });
    assert.equal((await call(`${w.url}/v2/`, { headers: fwdBy('198.51.100.1') })).status, 401);
    assert.equal((await call(`${w.url}/v2/`, { headers: fwdBy('198.51.100.1') })).status, 401);
    const third = await call(`${w.url}/v2/`, { headers: fwdBy('198.51.100.1') });
    assert.equal(third.status, 429, 'the third failure from that client is throttled');
    assert.ok(Number(third.headers.get('retry-after')) >= 1);
    // Another client behind the same proxy is not affected.
    assert.equal((await call(`${w.url}/v2/`, { headers: fwdBy('198.51.100.2') })).status, 401);
    // The same for the token endpoint.
    const tok = await call(`${w.url}/auth/token?service=wharf`, { headers: fwdBy('198.51.100.1') });
    assert.equal(tok.status, 429);
    // Failed logins are logged with that address (the log is written asynchronously: wait for it).
    await waitFor('failed-login lines for both clients', () => {
      const failed = logLines(w.output(), 'failed login').map((l) => l.address);
      return failed.includes('198.51.100.1') && failed.includes('198.51.100.2');
    });
    const text = await (await fetch(`${w.url}/metrics`)).text();
    assert.equal(sample(text, 'wharf_auth_failed_logins_total'), 3);
    assert.equal(sample(text, 'wharf_auth_throttled_requests_total'), 2);
  });

  it('from a peer that is not trusted: a forged X-Forwarded-For does not give a fresh failure count', async () => {
    const w = direct;
    const fwdBy = (who: string) => ({ ...wrong, 'X-Forwarded-For': who });
    assert.equal((await call(`${w.url}/v2/`, { headers: fwdBy('198.51.100.1') })).status, 401);
    assert.equal((await call(`${w.url}/v2/`, { headers: fwdBy('198.51.100.2') })).status, 401);
    // Both failures counted against 127.0.0.1: a third "client" is throttled too.
    assert.equal((await call(`${w.url}/v2/`, { headers: fwdBy('198.51.100.3') })).status, 429);
  });
});

describe('access log off (registry.access-log: false)', () => {
  let w: WharfProcess;
  before(async () => {
    w = await startWharf({ registry: { 'access-log': false } });
  });
  after(() => w?.cleanup());

  it('no request lines; the request id is still returned and the metrics still count', async () => {
    const base = async () => sample(await (await fetch(`${w.url}/metrics`)).text(), 'wharf_http_requests_total', { route: 'base' }) ?? 0;
    const before = await base();
    const r = await call(`${w.url}/v2/`, { headers: { 'X-Request-Id': 'quiet-1' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-request-id'), 'quiet-1');
    assert.equal(await base(), before + 1);
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(logLines(w.output(), 'request').length, 0, w.output());
  });
});
