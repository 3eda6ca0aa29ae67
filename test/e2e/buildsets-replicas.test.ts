// Buildset namespaces on three stateless replicas sharing an S3 bucket (the
// Swift all-in-one's S3 API), nginx round-robin in front. A namespace created
// through one replica is served by the others at once (they share nothing but
// the store: no cached "no such namespace" hides it); deleted through
// another, its writes and credentials are refused at once everywhere, and
// its reads within the documented cache time (2 s). Prune removes its content
// from the bucket and fsck finds the store clean.
//   npm run build && node --test --test-concurrency=1 dist/test/e2e/buildsets-replicas.test.js
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { startNginx, type Balancer } from '../helpers/balancer.js';
import { basic, digestOf, raw, tokenRequest, type Reply } from '../helpers/auth.js';
import { objectStore, type ObjectStore } from '../helpers/objectstores.js';
import { ensureSwift } from '../helpers/swift.js';
import { startWharf, WHARF_BIN, type WharfProcess } from '../helpers/wharf.js';

const ADMIN = basic('admin', 'admin-pw');

describe('buildset namespaces on three replicas behind nginx, on S3', { timeout: 300_000 }, () => {
  let store: ObjectStore;
  let replicas: WharfProcess[] = [];
  let lb: Balancer;
  let setupError: unknown;
  const ready = () => {
    if (setupError) throw setupError;
  };

  function on(base: string, method: string, path: string, auth?: string, body?: Buffer | string, type?: string): Promise<Reply> {
    return raw(base, method, path, {
      headers: { ...(auth ? { authorization: auth } : {}), ...(type ? { 'content-type': type } : {}) },
      body,
    });
  }

  function code(r: Reply): string {
    return r.json().errors?.[0]?.code;
  }

  function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, [WHARF_BIN, ...args, '--config', replicas[0]!.configPath], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  before(async () => {
    try {
      const env = await ensureSwift();
      store = objectStore('s3', env, 'wharf-bs-replicas');
      const registry = {
        storage: store.storage({ timeout: 15 }),
        users: [{ name: 'admin', pass: 'admin-pw', access: 'write', admin: true }],
        namespaces: { dynamic: false },
        buildsets: { 'credential-cost': 4 },
      };
      replicas = await Promise.all(Array.from({ length: 3 }, () => startWharf({ registry })));
      lb = await startNginx(replicas.map((r) => r.port));
    } catch (err) {
      setupError = err;
    }
  });

  after(async () => {
    await lb?.stop();
    await Promise.all(replicas.map((r) => r.cleanup()));
    await store?.destroy();
  });

  it('created through one replica, served by the others at once; deleted through another, refused everywhere; prune and fsck', async () => {
    ready();
    const [r0, r1, r2] = replicas.map((r) => r.url) as [string, string, string];
    const created = await on(r0, 'POST', '/admin/v1/namespaces', ADMIN, JSON.stringify({ ttlSeconds: 600 }), 'application/json');
    assert.equal(created.status, 201, created.text);
    const { name, credentials } = created.json();
    const creds = basic(credentials.username, credentials.password);

    // At once on the other two: a login (token), a push, a pull.
    const t = await tokenRequest(
      r1,
      [`repository:app:pull,push`],
      { user: credentials.username, pass: credentials.password },
      { ns: name },
    );
    assert.equal(t.status, 200, t.text);
    assert.equal(t.json().scope, 'repository:app:pull,push');
    const data = Buffer.from(`layer of ${name}`);
    const d = digestOf(data);
    const pushed = await on(r1, 'POST', `/v2/app/blobs/uploads/?ns=${name}&digest=${d}`, creds, data, 'application/octet-stream');
    assert.equal(pushed.status, 201, pushed.text);
    const got = await on(r2, 'GET', `/v2/app/blobs/${d}?ns=${name}`, creds);
    assert.equal(got.status, 200, got.text);
    assert.equal(got.text, data.toString());
    // The admin API through the balancer: every replica lists and shows it.
    for (let i = 0; i < 3; i++) {
      const show = await on(lb.url, 'GET', `/admin/v1/namespaces/${name}`, ADMIN);
      assert.equal(show.status, 200, show.text);
      assert.equal(show.json().sizeBytes, data.length);
    }

    // Each replica has now seen it live (reads may be cached for 2 s). Delete through the third.
    for (const r of [r0, r1]) assert.equal((await on(r, 'GET', `/v2/app/blobs/${d}?ns=${name}`, creds)).status, 200);
    assert.equal((await on(r2, 'DELETE', `/admin/v1/namespaces/${name}`, ADMIN)).status, 202);
    for (const r of [r0, r1, r2]) {
      const w = await on(r, 'POST', `/v2/app/blobs/uploads/?ns=${name}`, creds);
      assert.equal(w.status, 404, `write on ${r}: ${w.text}`);
      assert.equal(code(w), 'NAME_UNKNOWN');
      const login = await tokenRequest(r, [], { user: credentials.username, pass: credentials.password }, { ns: name });
      assert.equal(login.status, 404, `token on ${r}: ${login.text}`);
      const basicLogin = await tokenRequest(r, [], { user: credentials.username, pass: credentials.password });
      assert.equal(basicLogin.status, 401, `login on ${r}: ${basicLogin.text}`);
    }
    await new Promise((res) => setTimeout(res, 2100));
    for (const r of [r0, r1, r2]) {
      const g = await on(r, 'GET', `/v2/app/blobs/${d}?ns=${name}`, creds);
      assert.equal(g.status, 404, `read on ${r} after the cache time: ${g.text}`);
      assert.equal(code(g), 'NAME_UNKNOWN');
    }

    const p = cli(['prune', '--grace', '0', '--json']);
    assert.equal(p.status, 0, p.stderr);
    const ended = JSON.parse(p.stdout).endedNamespaces as { name: string; objects: number }[];
    assert.ok(
      ended.some((e) => e.name === name && e.objects > 0),
      p.stdout,
    );
    const again = cli(['prune', '--grace', '0', '--json']);
    assert.deepEqual(JSON.parse(again.stdout).endedNamespaces, [], 'content and record are gone after the first run');
    const f = cli(['fsck', '--json']);
    assert.equal(f.status, 0, `fsck: ${f.stdout}\n${f.stderr}`);
  });
});
