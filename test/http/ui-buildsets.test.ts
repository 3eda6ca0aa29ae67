// Buildset namespaces in the web UI's JSON (src/http/ui/api.ts): the
// namespaces answer lists live buildsets, with their expiry, to callers who
// may pull there — users whose access lets them pull, and the buildset's own
// credential (its namespace only) — and not to a user who may not pull, nor
// to anyone once the buildset has ended (its content still waits for prune);
// the other endpoints take `?ns=<buildset>` as the API does.
//   npm run build && node --test --test-concurrency=1 dist/test/http/ui-buildsets.test.js
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { configFromObject } from '../../src/config/config.js';
import { startServer, type WharfServer } from '../../src/http/server.js';
import { createLogger } from '../../src/log/logger.js';
import { layout } from '../../src/registry/layout.js';
import { MemoryDriver } from '../../src/storage/memory.js';
import { basic } from '../helpers/auth.js';

const ADMIN = basic('admin', 'admin-password-1234');
const READER = basic('reader', 'reader-password-1234');
const NOBODY = basic('nobody', 'nobody-password-1234');

interface Ns {
  name: string;
  buildset?: { expiresAt: string };
}

describe('UI API: buildset namespaces', () => {
  let server: WharfServer;
  const driver = new MemoryDriver();
  let live: { name: string; auth: string; expiresAt: string };
  let other: { name: string; auth: string };

  async function call(method: string, path: string, auth: string, body?: unknown) {
    const r = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: auth, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    return { status: r.status, text, json: () => JSON.parse(text) };
  }

  async function create(name: string) {
    const r = await call('POST', '/admin/v1/namespaces', ADMIN, { name, ttlSeconds: 3600 });
    assert.equal(r.status, 201, r.text);
    const j = r.json();
    await driver.put(layout.catalogEntry(name, `${name}/app`), Buffer.alloc(0));
    return { name, auth: basic(j.credentials.username, j.credentials.password), expiresAt: j.expiresAt as string };
  }

  const namespaces = async (auth: string) => {
    const r = await call('GET', '/v2/_wharf/namespaces', auth);
    assert.equal(r.status, 200, r.text);
    return r.json().namespaces as Ns[];
  };

  before(async () => {
    const config = configFromObject({
      registry: {
        address: '127.0.0.1',
        port: 0,
        'log-level': 'error',
        storage: { driver: 'memory' },
        secret: 'ui-buildsets-secret-0123456789abcdef0123',
        users: [
          { name: 'admin', pass: 'admin-password-1234', access: 'write', admin: true },
          { name: 'reader', pass: 'reader-password-1234', access: 'read' },
          { name: 'nobody', pass: 'nobody-password-1234', access: 'none' },
        ],
        namespaces: { dynamic: false },
        buildsets: { 'max-namespaces': 10, 'max-ttl': 7200, 'credential-cost': 4 },
      },
    });
    server = await startServer(config, driver, createLogger('error'));
    live = await create('change-1');
    other = await create('change-2');
  });
  after(() => server?.close());

  it('admins and readers see live buildsets with their expiry; a user who may not pull sees none', async () => {
    for (const who of [ADMIN, READER]) {
      const list = await namespaces(who);
      const bs = list.find((n) => n.name === live.name);
      assert.deepEqual(bs?.buildset, { expiresAt: live.expiresAt });
      assert.ok(list.some((n) => n.name === other.name));
      assert.equal(list.find((n) => n.name === 'default')?.buildset, undefined);
    }
    assert.deepEqual(
      (await namespaces(NOBODY)).map((n) => n.name),
      [],
    );
  });

  it('a buildset credential sees its own namespace and its repositories, nothing of another buildset', async () => {
    const list = await namespaces(live.auth);
    assert.deepEqual(
      list.map((n) => n.name),
      [live.name],
    );
    const mine = await call('GET', `/v2/_wharf/repositories?ns=${live.name}`, live.auth);
    assert.equal(mine.status, 200, mine.text);
    assert.deepEqual(
      mine.json().repositories.map((r: { name: string }) => r.name),
      [`${live.name}/app`],
    );
    const theirs = await call('GET', `/v2/_wharf/repositories?ns=${other.name}`, live.auth);
    assert.deepEqual(theirs.status === 200 ? theirs.json().repositories : [], []);
  });

  it('?ns=<buildset> works on the UI endpoints; an ended buildset is gone from the list and answers NAME_UNKNOWN', async () => {
    const r = await call('GET', `/v2/_wharf/repositories?ns=${other.name}`, ADMIN);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(
      r.json().repositories.map((x: { name: string }) => x.name),
      [`${other.name}/app`],
    );
    const del = await call('DELETE', `/admin/v1/namespaces/${other.name}`, ADMIN);
    assert.equal(del.status, 202, del.text);
    assert.ok(!(await namespaces(ADMIN)).some((n) => n.name === other.name), 'an ended buildset is not listed');
    const gone = await call('GET', `/v2/_wharf/repositories?ns=${other.name}`, ADMIN);
    assert.equal(gone.status, 404, gone.text);
    assert.equal(gone.json().errors[0].code, 'NAME_UNKNOWN');
    // A namespace that is neither configured nor a buildset: refused as the API refuses it.
    const unknown = await call('GET', '/v2/_wharf/repositories?ns=no-such-thing', ADMIN);
    assert.equal(unknown.status, 404, unknown.text);
  });
});
