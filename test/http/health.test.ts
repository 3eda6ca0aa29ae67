// /healthz and /readyz for probes, and /metrics: unauthenticated even with
// users configured, JSON bodies, on the main listener or — with
// `registry.admin` — only on the admin listener.
//   npm run build && node --test --test-concurrency=1 dist/test/http/health.test.js
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort, startWharf, type WharfProcess } from '../helpers/wharf.js';
import { sample } from '../helpers/ops.js';

const USERS = [{ name: 'ci', pass: 'ci-password', access: 'write' }];

async function get(url: string, init: RequestInit = {}) {
  const r = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await r.text();
  return { status: r.status, headers: r.headers, text };
}

describe('health and readiness with users configured', () => {
  let w: WharfProcess;
  before(async () => {
    w = await startWharf({ registry: { users: USERS } });
  });
  after(() => w?.cleanup());

  it('the API needs a login, the probes do not', async () => {
    assert.equal((await get(`${w.url}/v2/`)).status, 401);
    const h = await get(`${w.url}/healthz`);
    assert.equal(h.status, 200);
    assert.match(h.headers.get('content-type') ?? '', /application\/json/);
    assert.deepEqual(JSON.parse(h.text), { status: 'ok' });
    const r = await get(`${w.url}/readyz`);
    assert.equal(r.status, 200, r.text);
    const body = JSON.parse(r.text);
    assert.equal(body.status, 'ok');
    assert.equal(body.checks.draining.ok, true);
    assert.equal(body.checks.storage.ok, true);
    assert.equal(typeof body.checks.storage.ms, 'number');
    assert.match(r.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  });

  it('HEAD works, other methods get 405, and probes are not access-logged', async () => {
    assert.equal((await get(`${w.url}/readyz`, { method: 'HEAD' })).status, 200);
    const p = await get(`${w.url}/healthz`, { method: 'POST', body: 'x' });
    assert.equal(p.status, 405);
    assert.equal(p.headers.get('allow'), 'GET, HEAD');
    assert.ok(!w.output().includes('"url":"/readyz"'), 'probes are counted, not logged');
  });

  it('/metrics answers without credentials in Prometheus text format', async () => {
    const m = await get(`${w.url}/metrics`);
    assert.equal(m.status, 200);
    assert.match(m.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.ok((sample(m.text, 'wharf_http_requests_total', { route: 'base', status: '4xx' }) ?? 0) >= 1, m.text.slice(0, 2000));
    assert.ok((sample(m.text, 'wharf_http_requests_total', { route: 'health' }) ?? 0) >= 2);
  });
});

describe('admin listener (registry.admin)', () => {
  let w: WharfProcess;
  let admin: string;
  before(async () => {
    const port = await freePort();
    w = await startWharf({ registry: { users: USERS, admin: { address: '127.0.0.1', port } } });
    admin = `http://127.0.0.1:${port}`;
  });
  after(() => w?.cleanup());

  it('carries /healthz, /readyz and /metrics; the main listener no longer does', async () => {
    assert.equal((await get(`${admin}/healthz`)).status, 200);
    assert.equal((await get(`${admin}/readyz`)).status, 200);
    const m = await get(`${admin}/metrics`);
    assert.equal(m.status, 200);
    assert.match(m.text, /^# HELP wharf_/m);
    for (const p of ['/healthz', '/readyz', '/metrics']) {
      const r = await get(`${w.url}${p}`);
      assert.equal(r.status, 404, `${p} on the main listener: ${r.status}`);
    }
    assert.equal((await get(`${admin}/v2/`)).status, 404, 'the admin listener serves no API');
    assert.match(w.output(), new RegExp(`"admin":"${admin}"`));
  });
});

describe('metrics switched off (registry.metrics: false)', () => {
  let w: WharfProcess;
  before(async () => {
    w = await startWharf({ registry: { metrics: false } });
  });
  after(() => w?.cleanup());

  it('/metrics is 404, the probes still answer', async () => {
    assert.equal((await get(`${w.url}/metrics`)).status, 404);
    assert.equal((await get(`${w.url}/readyz`)).status, 200);
  });
});
