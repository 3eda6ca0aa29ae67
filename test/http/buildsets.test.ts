// Buildset namespaces (issue 16) on a live `wharf serve`: the admin API and
// its refusals, reaching a namespace by ?ns=, Host and path prefix, its own
// credentials, read-only parents, the byte and count caps, delete and expiry
// taking effect at once, a restart, and prune + fsck after the end.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { basic, digestOf, oneLayerManifest, raw, tokenRequest, type Reply } from '../helpers/auth.js';
import { startWharf, WHARF_BIN, type WharfProcess } from '../helpers/wharf.js';

const ADMIN = basic('admin', 'admin-pw');
const DEV = basic('dev', 'dev-pw');

let wharf: WharfProcess;
let dataDir: string;

const registry = {
  users: [
    { name: 'admin', pass: 'admin-pw', access: 'write', admin: true },
    { name: 'dev', pass: 'dev-pw', access: 'write' },
  ],
  namespaces: { dynamic: false, names: ['intermediate'] },
  buildsets: {
    'max-namespaces': 4,
    'max-bytes': 8192,
    'max-ttl': 3600,
    hosts: ['*.bs.test'],
    parents: ['intermediate'],
    'credential-cost': 4,
  },
  metrics: true,
};

function admin(method: string, path: string, body?: unknown, auth: string | null = ADMIN): Promise<Reply> {
  return raw(wharf.url, method, path, {
    headers: { ...(auth ? { authorization: auth } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function errorOf(r: Reply, status: number, code: string): { code: string; message: string; detail?: any } {
  assert.equal(r.status, status, `expected ${status} ${code}, got ${r.status}: ${r.text}`);
  const e = r.json().errors?.[0];
  assert.equal(e?.code, code, r.text);
  assert.ok(typeof e.message === 'string' && e.message.length > 0);
  return e;
}

async function create(body: Record<string, unknown>): Promise<{ name: string; username: string; password: string; json: any }> {
  const r = await admin('POST', '/admin/v1/namespaces', body);
  assert.equal(r.status, 201, r.text);
  const json = r.json();
  return { name: json.name, username: json.credentials.username, password: json.credentials.password, json };
}

function recordNames(): string[] {
  const dir = join(dataDir, '_buildsets');
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

function wharfCli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [WHARF_BIN, ...args, '--config', wharf.configPath], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(async () => {
  wharf = await startWharf({ registry });
  dataDir = wharf.dataDir;
});

after(async () => {
  const out = wharf.output();
  await wharf.cleanup();
  assert.doesNotMatch(out, /request failed/, `server logged internal failures:\n${out}`);
});

describe('admin API: the admin role', () => {
  it('no credentials: 401 with a challenge; wrong password: 401; a user without the role: 403 DENIED', async () => {
    const none = await admin('GET', '/admin/v1/namespaces', undefined, null);
    errorOf(none, 401, 'UNAUTHORIZED');
    assert.match(String(none.header('www-authenticate')), /^Basic realm=/);
    errorOf(await admin('GET', '/admin/v1/namespaces', undefined, basic('admin', 'nope')), 401, 'UNAUTHORIZED');
    errorOf(await admin('POST', '/admin/v1/namespaces', { ttlSeconds: 60 }, DEV), 403, 'DENIED');
    assert.deepEqual(recordNames(), [], 'nothing created by refused calls');
  });

  it("a buildset's own credential has no admin role", async () => {
    const bs = await create({ name: 'role-check', ttlSeconds: 600 });
    errorOf(await admin('GET', '/admin/v1/namespaces', undefined, basic(bs.username, bs.password)), 403, 'DENIED');
    assert.equal((await admin('DELETE', `/admin/v1/namespaces/${bs.name}`)).status, 202);
  });
});

describe('admin API: bad input is a clear 4xx and creates nothing', () => {
  it('invalid names, duplicate names, TTL out of range, unknown templates and parents, unknown fields, not JSON', async () => {
    const before = recordNames();
    for (const name of ['Upper', '-dash', 'dash-', 'a_b', 'a.b', 'x'.repeat(64), '', 42]) {
      errorOf(await admin('POST', '/admin/v1/namespaces', { name, ttlSeconds: 60 }), 400, 'NAME_INVALID');
    }
    errorOf(await admin('POST', '/admin/v1/namespaces', { name: 'intermediate', ttlSeconds: 60 }), 409, 'NAME_INVALID');
    for (const ttlSeconds of [0, -5, 1.5, '60', undefined]) {
      errorOf(await admin('POST', '/admin/v1/namespaces', { ttlSeconds }), 400, 'UNSUPPORTED');
    }
    const over = errorOf(await admin('POST', '/admin/v1/namespaces', { ttlSeconds: 3601 }), 403, 'DENIED');
    assert.match(over.message, /max-ttl/);
    errorOf(await admin('POST', '/admin/v1/namespaces', { ttlSeconds: 60, mirrors: ['quay.io'] }), 400, 'UNSUPPORTED');
    errorOf(await admin('POST', '/admin/v1/namespaces', { ttlSeconds: 60, parents: ['default'] }), 400, 'UNSUPPORTED');
    errorOf(await admin('POST', '/admin/v1/namespaces', { ttlSeconds: 60, colour: 'blue' }), 400, 'UNSUPPORTED');
    errorOf(await admin('POST', '/admin/v1/namespaces', '{not json'), 400, 'UNSUPPORTED');
    errorOf(await admin('POST', '/admin/v1/namespaces', '[]'), 400, 'UNSUPPORTED');
    assert.deepEqual(recordNames(), before, 'no record written by a refused create');

    await create({ name: 'dup', ttlSeconds: 60 });
    const dup = errorOf(await admin('POST', '/admin/v1/namespaces', { name: 'dup', ttlSeconds: 60 }), 409, 'NAME_INVALID');
    assert.match(dup.message, /exists/);
    errorOf(await admin('PATCH', '/admin/v1/namespaces/dup', { ttlSeconds: 99999 }), 403, 'DENIED');
    errorOf(await admin('PATCH', '/admin/v1/namespaces/dup', { ttlSeconds: 'long' }), 400, 'UNSUPPORTED');
    errorOf(await admin('PATCH', '/admin/v1/namespaces/nope', { ttlSeconds: 60 }), 404, 'NAME_UNKNOWN');
    errorOf(await admin('GET', '/admin/v1/namespaces?n=0'), 400, 'PAGINATION_NUMBER_INVALID');
    errorOf(await admin('PUT', '/admin/v1/namespaces'), 405, 'UNSUPPORTED');
    assert.equal((await admin('DELETE', '/admin/v1/namespaces/dup')).status, 202);
    errorOf(await admin('DELETE', '/admin/v1/namespaces/dup'), 404, 'NAME_UNKNOWN');
  });
});

/** How a request names the namespace: ?ns=, a Host header, or the path prefix. */
interface Via {
  ns?: string;
  host?: string;
  prefix?: string;
}

function path(via: Via, p: string, query: Record<string, string> = {}): string {
  const q = new URLSearchParams(query);
  if (via.ns) q.set('ns', via.ns);
  const full = via.prefix ? p.replace(/^\/v2\//, `/v2/${via.prefix}/`) : p;
  return q.size > 0 ? `${full}?${q}` : full;
}

function api(
  via: Via,
  method: string,
  p: string,
  auth: string | undefined,
  opts: { body?: Buffer | string; type?: string; query?: Record<string, string> } = {},
) {
  return raw(wharf.url, method, path(via, p, opts.query), {
    headers: {
      ...(auth ? { authorization: auth } : {}),
      ...(via.host ? { host: via.host } : {}),
      ...(opts.type ? { 'content-type': opts.type } : {}),
    },
    body: opts.body,
  });
}

async function pushSmallImage(
  via: Via,
  repo: string,
  tag: string,
  auth: string,
  layer: Buffer,
): Promise<{ manifest: string; layer: string }> {
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, n: Math.random() }),
  );
  const cd = digestOf(config);
  const ld = digestOf(layer);
  for (const [d, b] of [
    [cd, config],
    [ld, layer],
  ] as const) {
    const r = await api(via, 'POST', `/v2/${repo}/blobs/uploads/`, auth, {
      body: b,
      type: 'application/octet-stream',
      query: { digest: d },
    });
    assert.equal(r.status, 201, `blob push: ${r.status} ${r.text}`);
  }
  const body = oneLayerManifest(config, layer);
  const r = await api(via, 'PUT', `/v2/${repo}/manifests/${tag}`, auth, { body, type: 'application/vnd.oci.image.manifest.v1+json' });
  assert.equal(r.status, 201, `manifest push: ${r.status} ${r.text}`);
  return { manifest: digestOf(body), layer: ld };
}

describe('a buildset namespace', () => {
  let bs: Awaited<ReturnType<typeof create>>;
  let other: Awaited<ReturnType<typeof create>>;
  let bsAuth: string;
  let otherAuth: string;
  let pushed: { manifest: string; layer: string };
  let parentImage: { manifest: string; layer: string };
  const layer = Buffer.from('layer of change-1 '.repeat(20));

  before(async () => {
    bs = await create({ name: 'change-1', ttlSeconds: 600, parents: ['intermediate'] });
    other = await create({ ttlSeconds: 600 });
    bsAuth = basic(bs.username, bs.password);
    otherAuth = basic(other.username, other.password);
    parentImage = await pushSmallImage({ ns: 'intermediate' }, 'base/tools', 'v1', DEV, Buffer.from('intermediate layer'));
  });

  it('create answers the name, expiry, credentials (once) and how to reach it; show and list never show the password', async () => {
    assert.equal(bs.username, 'change-1@buildset');
    assert.ok(bs.password.length >= 24);
    assert.match(other.name, /^bs-[a-z2-7]{12}$/);
    const expires = Date.parse(bs.json.expiresAt) - Date.now();
    assert.ok(expires > 590_000 && expires <= 600_000, `expiresAt ${bs.json.expiresAt}`);
    assert.equal(bs.json.access.query, '?ns=change-1');
    const show = await admin('GET', '/admin/v1/namespaces/change-1');
    assert.equal(show.status, 200, show.text);
    assert.deepEqual(show.json().parents, ['intermediate']);
    assert.equal(show.json().sizeBytes, 0);
    assert.ok(!show.text.includes(bs.password));
    assert.doesNotMatch(show.text, /passwordHash|\$2[aby]\$/);
    const list = await admin('GET', '/admin/v1/namespaces');
    assert.equal(list.status, 200);
    const names = list.json().namespaces.map((n: { name: string }) => n.name);
    assert.ok(names.includes('change-1') && names.includes(other.name), list.text);
    assert.doesNotMatch(list.text, /passwordHash/);
    const page = await admin('GET', '/admin/v1/namespaces?n=1');
    assert.equal(page.json().namespaces.length <= 1, true);
    assert.match(String(page.header('link')), /rel="next"/);
  });

  it('is reached by ?ns=, by a Host pattern and by the path prefix: one repository each way', async () => {
    pushed = await pushSmallImage({ ns: 'change-1' }, 'docker.io/library/app', 'latest', bsAuth, layer);
    for (const via of [
      { ns: 'change-1' },
      { host: 'change-1.bs.test' },
      { host: `change-1.bs.test:${wharf.port}` },
      { prefix: 'ns/change-1' },
    ]) {
      const m = await api(via, 'GET', '/v2/docker.io/library/app/manifests/latest', bsAuth);
      assert.equal(m.status, 200, `${JSON.stringify(via)}: ${m.text}`);
      assert.equal(m.header('docker-content-digest'), pushed.manifest);
      const b = await api(via, 'GET', `/v2/docker.io/library/app/blobs/${pushed.layer}`, bsAuth);
      assert.ok(b.body.equals(layer), JSON.stringify(via));
    }
    // An upload started by path prefix keeps the prefix in its Location.
    const up = await api({ prefix: 'ns/change-1' }, 'POST', '/v2/app2/blobs/uploads/', bsAuth);
    assert.equal(up.status, 202, up.text);
    assert.match(String(up.header('location')), /^\/v2\/ns\/change-1\/app2\/blobs\/uploads\//);
    // The default namespace does not have it.
    errorOf(await api({}, 'GET', '/v2/docker.io/library/app/manifests/latest', DEV), 404, 'MANIFEST_UNKNOWN');
  });

  it('its credentials open nothing else: another buildset, the default namespace, the parent', async () => {
    errorOf(await api({ ns: other.name }, 'GET', '/v2/docker.io/library/app/manifests/latest', bsAuth), 403, 'DENIED');
    errorOf(await api({ prefix: `ns/${other.name}` }, 'GET', '/v2/docker.io/library/app/manifests/latest', bsAuth), 403, 'DENIED');
    errorOf(await api({}, 'GET', '/v2/anything/manifests/latest', bsAuth), 403, 'DENIED');
    errorOf(await api({ ns: 'intermediate' }, 'GET', '/v2/base/tools/manifests/v1', bsAuth), 403, 'DENIED');
    errorOf(await api({ ns: 'intermediate' }, 'POST', '/v2/base/tools/blobs/uploads/', bsAuth), 403, 'DENIED');
    // The other buildset's same-named repository is its own (empty).
    errorOf(await api({ ns: other.name }, 'GET', '/v2/docker.io/library/app/manifests/latest', otherAuth), 404, 'MANIFEST_UNKNOWN');
    // Tokens: asked in the other namespace, a buildset's credential gets no access there.
    const t = await tokenRequest(
      wharf.url,
      ['repository:docker.io/library/app:pull,push'],
      { user: bs.username, pass: bs.password },
      { ns: other.name },
    );
    assert.equal(t.status, 200, t.text);
    assert.equal(t.json().scope, '');
    const mine = await tokenRequest(
      wharf.url,
      ['repository:docker.io/library/app:pull,push'],
      { user: bs.username, pass: bs.password },
      { ns: 'change-1' },
    );
    assert.equal(mine.json().scope, 'repository:docker.io/library/app:pull,push');
    const g = await api({ ns: 'change-1' }, 'GET', '/v2/docker.io/library/app/manifests/latest', `Bearer ${mine.json().token}`);
    assert.equal(g.status, 200, g.text);
    errorOf(
      await api({ ns: other.name }, 'GET', '/v2/docker.io/library/app/manifests/latest', `Bearer ${mine.json().token}`),
      401,
      'UNAUTHORIZED',
    );
  });

  it('falls back to its read-only parent for manifests and blob GETs, never writes there; a blob HEAD does not fall back', async () => {
    const m = await api({ ns: 'change-1' }, 'GET', '/v2/base/tools/manifests/v1', bsAuth);
    assert.equal(m.status, 200, m.text);
    assert.equal(m.header('docker-content-digest'), parentImage.manifest);
    const b = await api({ ns: 'change-1' }, 'GET', `/v2/base/tools/blobs/${parentImage.layer}`, bsAuth);
    assert.equal(b.text, 'intermediate layer');
    assert.equal((await api({ ns: 'change-1' }, 'HEAD', `/v2/base/tools/blobs/${parentImage.layer}`, bsAuth)).status, 404);
    const t = await api({ ns: 'change-1' }, 'GET', '/v2/base/tools/tags/list', bsAuth);
    assert.deepEqual(t.json().tags, ['v1']);
    // The other buildset has no parent: nothing.
    errorOf(await api({ ns: other.name }, 'GET', '/v2/base/tools/manifests/v1', otherAuth), 404, 'MANIFEST_UNKNOWN');
    // A push of the same name lands in the buildset, shadowing the parent; the parent is unchanged.
    const mine = await pushSmallImage({ ns: 'change-1' }, 'base/tools', 'v1', bsAuth, Buffer.from('speculative'));
    assert.equal(
      (await api({ ns: 'change-1' }, 'GET', '/v2/base/tools/manifests/v1', bsAuth)).header('docker-content-digest'),
      mine.manifest,
    );
    assert.equal(
      (await api({ ns: 'intermediate' }, 'GET', '/v2/base/tools/manifests/v1', DEV)).header('docker-content-digest'),
      parentImage.manifest,
    );
  });

  it('a push over max-bytes is DENIED with a clear message, and stores nothing', async () => {
    const size = (await admin('GET', '/admin/v1/namespaces/change-1')).json().sizeBytes;
    assert.ok(size > 0 && size < 8192, `size ${size}`);
    const big = Buffer.alloc(8192 - size + 1, 7);
    const r = await api({ ns: 'change-1' }, 'POST', '/v2/big/blobs/uploads/', bsAuth, {
      body: big,
      type: 'application/octet-stream',
      query: { digest: digestOf(big) },
    });
    const e = errorOf(r, 403, 'DENIED');
    assert.match(e.message, /would exceed its limit of 8192 bytes/);
    assert.equal((await admin('GET', '/admin/v1/namespaces/change-1')).json().sizeBytes, size);
    const metrics = await raw(wharf.url, 'GET', '/metrics');
    assert.match(metrics.text, /wharf_buildset_denied_total\{reason="bytes"\} 1/);
    assert.match(metrics.text, /wharf_buildset_limit\{limit="bytes_per_namespace"\} 8192/);
    assert.match(metrics.text, /wharf_buildset_namespaces\{state="live"\} 2/);
  });

  it('a promotion into it over max-bytes is DENIED the same way, and writes nothing', async () => {
    const size = (await admin('GET', '/admin/v1/namespaces/change-1')).json().sizeBytes;
    const img = await pushSmallImage({ ns: 'intermediate' }, 'big/app', 'v1', DEV, Buffer.alloc(8192 - size + 1, 9));
    const body = {
      from: { namespace: 'intermediate', repository: 'big/app', reference: 'v1' },
      to: { namespace: 'change-1', repository: 'big/app', tag: 'v1' },
    };
    const e = errorOf(await admin('POST', '/admin/v1/promote', body), 403, 'DENIED');
    assert.match(e.message, /this promotion \(\d+ bytes\) would exceed its limit of 8192 bytes/);
    assert.equal((await admin('GET', '/admin/v1/namespaces/change-1')).json().sizeBytes, size);
    // (A manifest GET would fall back to the parent; a blob HEAD answers from the buildset alone.)
    assert.equal((await api({ ns: 'change-1' }, 'HEAD', `/v2/big/app/blobs/${img.layer}`, ADMIN)).status, 404);
    const metrics = await raw(wharf.url, 'GET', '/metrics');
    assert.match(metrics.text, /wharf_buildset_denied_total\{reason="bytes"\} 2/);
  });

  it('caps the number of live namespaces: DENIED, nothing created', async () => {
    const extra = [await create({ ttlSeconds: 60 }), await create({ ttlSeconds: 60 })];
    const before = recordNames();
    const e = errorOf(await admin('POST', '/admin/v1/namespaces', { ttlSeconds: 60 }), 403, 'DENIED');
    assert.match(e.message, /max-namespaces/);
    assert.deepEqual(recordNames(), before);
    for (const x of extra) assert.equal((await admin('DELETE', `/admin/v1/namespaces/${x.name}`)).status, 202);
  });

  it('extending the TTL moves expiresAt', async () => {
    const r = await admin('PATCH', '/admin/v1/namespaces/change-1', { ttlSeconds: 3600 });
    assert.equal(r.status, 200, r.text);
    assert.ok(Date.parse(r.json().expiresAt) - Date.now() > 3500_000);
  });

  it('survives a restart (the record is in the store)', async () => {
    await wharf.stop();
    wharf = await startWharf({ registry, dataDir, port: wharf.port });
    const m = await api({ ns: 'change-1' }, 'GET', '/v2/docker.io/library/app/manifests/latest', bsAuth);
    assert.equal(m.status, 200, m.text);
  });

  it('promotion out of it into the intermediate namespace: by the admin; not by its own credential or a user without push there', async () => {
    const body = {
      from: { namespace: 'change-1', repository: 'docker.io/library/app', reference: 'latest' },
      to: { namespace: 'intermediate', repository: 'docker.io/library/app', tag: 'change-1' },
    };
    // The buildset's credential may pull its own namespace but not push the intermediate one.
    errorOf(await admin('POST', '/admin/v1/promote', body, bsAuth), 403, 'DENIED');
    errorOf(
      await admin('POST', '/admin/v1/promote', { ...body, from: { ...body.from, namespace: 'no-such-buildset' } }),
      404,
      'NAME_UNKNOWN',
    );
    const r = await admin('POST', '/admin/v1/promote', body);
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json().digest, pushed.manifest);
    const m = await api({ ns: 'intermediate' }, 'GET', '/v2/docker.io/library/app/manifests/change-1', DEV);
    assert.equal(m.status, 200, m.text);
    assert.equal(m.header('docker-content-digest'), pushed.manifest);
    const l = await api({ ns: 'intermediate' }, 'GET', `/v2/docker.io/library/app/blobs/${pushed.layer}`, DEV);
    assert.equal(l.status, 200);
    assert.equal(digestOf(l.body), pushed.layer);
    // Same file on the filesystem: nothing copied.
    const [, hex] = pushed.layer.split(':');
    const a = statSync(join(dataDir, 'change-1', 'blobs', 'sha256', hex!));
    const b = statSync(join(dataDir, 'intermediate', 'blobs', 'sha256', hex!));
    assert.equal(a.ino, b.ino);
  });

  it('DELETE: at once 404 by every way in, its credentials refused; prune removes its content, keeps the parent; fsck is clean', async () => {
    assert.equal((await admin('DELETE', '/admin/v1/namespaces/change-1')).status, 202);
    for (const via of [{ ns: 'change-1' }, { host: 'change-1.bs.test' }, { prefix: 'ns/change-1' }]) {
      errorOf(await api(via, 'GET', '/v2/docker.io/library/app/manifests/latest', bsAuth), 404, 'NAME_UNKNOWN');
      errorOf(await api(via, 'POST', '/v2/docker.io/library/app/blobs/uploads/', bsAuth), 404, 'NAME_UNKNOWN');
    }
    errorOf(await tokenRequest(wharf.url, [], { user: bs.username, pass: bs.password }), 401, 'UNAUTHORIZED');
    errorOf(await tokenRequest(wharf.url, [], { user: bs.username, pass: bs.password }, { ns: 'change-1' }), 404, 'NAME_UNKNOWN');
    errorOf(await admin('GET', '/admin/v1/namespaces/change-1'), 404, 'NAME_UNKNOWN');
    assert.ok(existsSync(join(dataDir, 'change-1', 'blobs')), 'content stays until prune');
    // The name stays taken until prune has removed the content.
    errorOf(await admin('POST', '/admin/v1/namespaces', { name: 'change-1', ttlSeconds: 60 }), 409, 'NAME_INVALID');

    const p = wharfCli(['prune', '--grace', '0', '--json']);
    assert.equal(p.status, 0, p.stderr);
    const report = JSON.parse(p.stdout);
    const ended = report.endedNamespaces.map((e: { name: string }) => e.name);
    assert.ok(ended.includes('change-1'), p.stdout);
    assert.ok(!existsSync(join(dataDir, 'change-1')) || readdirSync(join(dataDir, 'change-1')).length === 0, 'content removed');
    assert.ok(!recordNames().includes('change-1'), 'tombstone removed after the content');
    // The parent and the other buildset keep everything.
    assert.equal((await api({ ns: 'intermediate' }, 'GET', `/v2/base/tools/blobs/${parentImage.layer}`, DEV)).text, 'intermediate layer');
    assert.ok(recordNames().includes(other.name));
    const f = wharfCli(['fsck', '--json']);
    assert.equal(f.status, 0, `fsck: ${f.stdout}\n${f.stderr}`);
    // The name can be used again.
    await create({ name: 'change-1', ttlSeconds: 60 });
    errorOf(await api({ ns: 'change-1' }, 'GET', '/v2/docker.io/library/app/manifests/latest', bsAuth), 401, 'UNAUTHORIZED');
  });

  it('expiry: at expiresAt the namespace stops answering, with no request to end it', async () => {
    const short = await create({ ttlSeconds: 1 });
    const auth = basic(short.username, short.password);
    assert.equal((await api({ ns: short.name }, 'GET', '/v2/x/tags/list', auth)).status, 404); // NAME_UNKNOWN for the repo, but the namespace answers
    await new Promise((r) => setTimeout(r, 1100));
    const e = errorOf(await api({ ns: short.name }, 'GET', '/v2/x/tags/list', auth), 404, 'NAME_UNKNOWN');
    assert.match(e.message, /namespace/);
    errorOf(await admin('GET', `/admin/v1/namespaces/${short.name}`), 404, 'NAME_UNKNOWN');
  });
});
