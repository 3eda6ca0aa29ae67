// The web UI's JSON endpoints (/v2/_wharf/...) on a listening server:
// - what they answer (tags with digests and sizes, a manifest described,
//   referrers grouped, storage use unique/shared) against the registry's
//   own API answers;
// - the same authorization as the API: 401 with the challenge's scope,
//   403 for a known user without the right, catalog filtering;
// - storage calls per page stay bounded with 10,000 repositories (first
//   page, a filtered page, the next page, and a user who may see few of
//   them), counted on the driver the server uses;
// - `registry.ui: false` turns /ui/ and /v2/_wharf/ off.
//   npm run build && node --test --test-concurrency=1 dist/test/http/ui-api.test.js
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { configFromObject } from '../../src/config/config.js';
import { startServer, type WharfServer } from '../../src/http/server.js';
import { createLogger } from '../../src/log/logger.js';
import { layout } from '../../src/registry/layout.js';
import { computeUsage } from '../../src/registry/usage.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import { MemoryDriver } from '../../src/storage/memory.js';
import { OCI_INDEX, OciClient, randomBlob } from '../helpers/oci-client.js';

/** Counts every call the server makes to its storage driver. */
function counting(inner: StorageDriver): { driver: StorageDriver; calls: () => Record<string, number>; reset(): void } {
  let calls: Record<string, number> = {};
  const driver = new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        calls[String(prop)] = (calls[String(prop)] ?? 0) + 1;
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { driver, calls: () => ({ ...calls }), reset: () => (calls = {}) };
}

const total = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);

async function start(registry: Record<string, unknown>, driver: StorageDriver): Promise<WharfServer> {
  const config = configFromObject({ registry: { address: '127.0.0.1', port: 0, 'log-level': 'error', ...registry } });
  return startServer(config, driver, createLogger('error'));
}

async function getJson(url: string, headers: Record<string, string> = {}) {
  const r = await fetch(url, { headers });
  const text = await r.text();
  return { status: r.status, headers: r.headers, text, json: () => JSON.parse(text) };
}

/** Poll until the namespace's storage-use summary exists and nothing is computing. */
async function usageSettled(base: string, ns = 'default', headers: Record<string, string> = {}) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await getJson(`${base}/v2/_wharf/repositories?n=1&ns=${ns}`, headers);
    const body = r.json();
    if (body.usage && !body.computing) return body.usage;
    assert.ok(Date.now() < deadline, `usage not computed: ${r.text}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

const basic = (user: string, pass: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` });

describe('UI API: answers against the registry API', () => {
  let server: WharfServer;
  let c: OciClient;
  const mem = new MemoryDriver();
  before(async () => {
    server = await start({ storage: { driver: 'memory' } }, mem);
    c = new OciClient(server.url);
  });
  after(() => server?.close());

  it('tags: digest, push time, total size and platforms per tag, as the API stores them', async () => {
    const amd = await c.pushImage('app/one', undefined, { layers: [randomBlob(1000), randomBlob(2000)] });
    const arm = await c.pushImage('app/one', undefined, { platform: { os: 'linux', architecture: 'arm64' }, layers: [randomBlob(500)] });
    const idx = await c.pushIndex('app/one', 'multi', [amd.descriptor, arm.descriptor]);
    const single = await c.pushImage('app/one', 'single', { layers: [randomBlob(700)] });
    const r = await getJson(`${server.url}/v2/_wharf/tags?name=app/one`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    const tags = r.json().tags as Array<{
      name: string;
      digest: string;
      manifest: { totalSize: number; platforms?: string[]; mediaType: string };
    }>;
    assert.deepEqual(
      tags.map((t) => t.name),
      (await c.tags('app/one')).json().tags,
    );
    const byName = new Map(tags.map((t) => [t.name, t]));
    assert.equal(byName.get('multi')!.digest, (await c.headManifest('app/one', 'multi')).header('docker-content-digest'));
    assert.equal(byName.get('multi')!.manifest.mediaType, OCI_INDEX);
    assert.deepEqual(byName.get('multi')!.manifest.platforms, ['linux/amd64', 'linux/arm64']);
    const imageTotal = (p: typeof amd) => p.body.length + p.config.size + p.layers.reduce((n, l) => n + l.size, 0);
    assert.equal(byName.get('multi')!.manifest.totalSize, idx.body.length + imageTotal(amd) + imageTotal(arm));
    assert.equal(byName.get('single')!.manifest.totalSize, imageTotal(single));
    // Sorted by push time: newest first, across pages.
    const p1 = (await getJson(`${server.url}/v2/_wharf/tags?name=app/one&sort=pushed&n=1`)).json();
    assert.deepEqual(
      p1.tags.map((t: { name: string }) => t.name),
      ['single'],
    );
    const p2 = (await getJson(`${server.url}/v2/_wharf/tags?name=app/one&sort=pushed&n=1&after=${encodeURIComponent(p1.next)}`)).json();
    assert.deepEqual(
      p2.tags.map((t: { name: string }) => t.name),
      ['multi'],
    );
    assert.equal(p2.next, undefined);
  });

  it('manifest: layers, config details, platforms and referrers grouped by artifactType', async () => {
    const config = Buffer.from(
      JSON.stringify({
        architecture: 'arm64',
        os: 'linux',
        variant: 'v8',
        created: '2026-11-30T10:00:00Z',
        config: {
          Entrypoint: ['/bin/app'],
          Cmd: ['--serve'],
          Env: ['A=1'],
          Labels: { team: 'x', html: '<b>hi</b>' },
          ExposedPorts: { '80/tcp': {} },
        },
        history: [{ created_by: 'COPY app /bin/app' }, { created_by: 'ENV A=1', empty_layer: true }],
        secret: 'never passed on',
      }),
    );
    const img = await c.pushImage('app/two', 'v1', { config, layers: [randomBlob(100), randomBlob(200), randomBlob(300)] });
    const sbom = await c.pushImage('app/two', undefined, {
      artifactType: 'application/spdx+json',
      config: Buffer.from('{}'),
      configMediaType: 'application/vnd.oci.empty.v1+json',
      subject: { mediaType: img.mediaType, digest: img.digest, size: img.body.length },
      annotations: { 'org.example': 'sbom' },
    });
    const sig = await c.pushImage('app/two', undefined, {
      artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      config: Buffer.from('{}'),
      configMediaType: 'application/vnd.oci.empty.v1+json',
      subject: { mediaType: img.mediaType, digest: img.digest, size: img.body.length },
    });
    const r = await getJson(`${server.url}/v2/_wharf/manifest?name=app/two&reference=v1`);
    assert.equal(r.status, 200, r.text);
    const m = r.json();
    assert.equal(m.digest, img.digest);
    assert.equal(m.kind, 'image');
    assert.deepEqual(
      m.layers.map((l: { digest: string; size: number }) => [l.digest, l.size]),
      img.layers.map((l) => [l.digest, l.size]),
    );
    assert.equal(m.config.digest, img.config.digest);
    assert.equal(m.totalSize, img.body.length + img.config.size + img.layers.reduce((n, l) => n + l.size, 0));
    assert.equal(m.image.architecture, 'arm64');
    assert.equal(m.image.variant, 'v8');
    assert.deepEqual(m.image.entrypoint, ['/bin/app']);
    assert.deepEqual(m.image.cmd, ['--serve']);
    assert.deepEqual(m.image.env, ['A=1']);
    assert.deepEqual(m.image.labels, { team: 'x', html: '<b>hi</b>' });
    assert.deepEqual(m.image.exposedPorts, ['80/tcp']);
    assert.deepEqual(m.image.history, [{ createdBy: 'COPY app /bin/app' }, { createdBy: 'ENV A=1', emptyLayer: true }]);
    assert.doesNotMatch(r.text, /never passed on/);
    const api = (await c.referrers('app/two', img.digest)).json().manifests as Array<{ digest: string; artifactType: string }>;
    assert.deepEqual(
      m.referrers.map((g: { artifactType: string; manifests: Array<{ digest: string }> }) => [
        g.artifactType,
        g.manifests.map((d) => d.digest),
      ]),
      [
        ['application/spdx+json', [sbom.digest]],
        ['application/vnd.dev.sigstore.bundle.v0.3+json', [sig.digest]],
      ],
    );
    assert.equal(api.length, 2);
    // By digest too; and the artifact itself is described as one.
    assert.equal((await getJson(`${server.url}/v2/_wharf/manifest?name=app/two&reference=${img.digest}`)).json().digest, img.digest);
    const a = (await getJson(`${server.url}/v2/_wharf/manifest?name=app/two&reference=${sbom.digest}`)).json();
    assert.equal(a.kind, 'artifact');
    assert.equal(a.artifactType, 'application/spdx+json');
    assert.equal(a.subject, img.digest);
  });

  it('storage use: bytes unique to each repository and shared between them', async () => {
    const shared = randomBlob(5000);
    const x = await c.pushImage('use/x', 'v1', { layers: [shared, randomBlob(1000)] });
    // The same layer in use/y by a cross-repository mount, plus a layer of its own.
    const mount = await c.request('POST', '/v2/use/y/blobs/uploads/', { query: { mount: x.layers[0]!.digest, from: 'use/x' } });
    assert.equal(mount.status, 201);
    const y = await c.pushImage('use/y', 'v1', { layers: [shared, randomBlob(300)] });
    const u = await computeUsage(mem, 'default');
    const of = (name: string) => u.repositories.find((r) => r.name === name)!;
    const own = (p: typeof x) => p.body.length + p.config.size + p.layers[1]!.size;
    assert.deepEqual(of('use/x'), { name: 'use/x', unique: own(x), shared: 5000, blobs: 4 });
    assert.deepEqual(of('use/y'), { name: 'use/y', unique: own(y), shared: 5000, blobs: 4 });
    assert.equal(u.stored.bytes, u.referencedBytes + u.unreferencedBytes);
    // An unreferenced blob (uploaded, never used) counts as unreferenced.
    await c.pushBlob('use/z', randomBlob(777));
    const links = await mem.list({ prefix: layout.repoBlobLinks('default', 'use/z') });
    for (const e of links.entries) await mem.delete(e.key);
    const u2 = await computeUsage(mem, 'default');
    assert.equal(u2.unreferencedBytes - u.unreferencedBytes, 777);
    // Served by the repository endpoint once the summary is computed.
    await usageSettled(server.url);
    const repo = (await getJson(`${server.url}/v2/_wharf/repository?name=use/x`)).json();
    assert.ok(repo.usage, JSON.stringify(repo));
    assert.equal(repo.usage.shared, 5000);
    assert.equal(repo.actions.delete, true);
  });

  it('bad input gets OCI errors, never a 500', async () => {
    const e = async (path: string, status: number, code: string, method = 'GET') => {
      const r = await fetch(`${server.url}${path}`, { method });
      const text = await r.text();
      assert.equal(r.status, status, `${method} ${path}: ${text}`);
      assert.equal(JSON.parse(text).errors[0].code, code, `${path}: ${text}`);
    };
    await e('/v2/_wharf/tags', 400, 'NAME_INVALID');
    await e('/v2/_wharf/tags?name=Bad%20Name', 400, 'NAME_INVALID');
    await e('/v2/_wharf/tags?name=no/such', 404, 'NAME_UNKNOWN');
    await e('/v2/_wharf/manifest?name=app/two&reference=nope', 404, 'MANIFEST_UNKNOWN');
    await e('/v2/_wharf/manifest?name=app/two&reference=sha256:zz', 400, 'DIGEST_INVALID');
    await e('/v2/_wharf/manifest?name=app/two&reference=bad%20tag', 400, 'TAG_INVALID');
    await e('/v2/_wharf/manifest?name=app/two', 404, 'MANIFEST_UNKNOWN');
    await e('/v2/_wharf/repositories?n=abc', 400, 'PAGINATION_NUMBER_INVALID');
    await e('/v2/_wharf/repositories?prefix=..%2B', 400, 'NAME_INVALID');
    await e('/v2/_wharf/repositories?after=~AAAA', 400, 'PAGINATION_NUMBER_INVALID');
    await e('/v2/_wharf/nothing', 404, 'NOT_FOUND');
    await e('/v2/_wharf/tags?name=app/one', 405, 'UNSUPPORTED', 'POST');
    await e('/ui/nothing.js', 404, 'NOT_FOUND');
    await e('/ui/', 405, 'UNSUPPORTED', 'DELETE');
  });

  it('/ui/ serves the built files with a strict Content-Security-Policy', async () => {
    const r = await fetch(`${server.url}/ui`, { redirect: 'manual' });
    assert.equal(r.status, 308);
    assert.equal(r.headers.get('location'), '/ui/');
    const page = await fetch(`${server.url}/ui/`);
    const html = await page.text();
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type')!, /^text\/html/);
    const csp = page.headers.get('content-security-policy')!;
    assert.match(csp, /default-src 'none'/);
    // This origin, plus exactly the inline scripts of the page (the boot script), by hash.
    const inline = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map(
      (m) => `'sha256-${createHash('sha256').update(m[1]!).digest('base64')}'`,
    );
    assert.equal(inline.length, 1, 'one inline script: the boot script');
    assert.equal(/script-src ([^;]*)/.exec(csp)![1], `'self' ${inline.join(' ')}`);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    // The bundle is addressed by its content hash, and cached for good at that address only.
    const src = /<script type="module" src="\/ui\/(app\.js\?h=[0-9a-f]{16})"><\/script>/.exec(html)?.[1];
    assert.ok(src, html);
    const js = await fetch(`${server.url}/ui/${src}`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type')!, /^text\/javascript/);
    assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    const body = await js.text();
    assert.equal(src.slice(src.indexOf('=') + 1), createHash('sha256').update(body).digest('hex').slice(0, 16));
    for (const other of ['app.js', 'app.js?h=0000000000000000']) {
      const r = await fetch(`${server.url}/ui/${other}`);
      assert.equal(await r.text(), body);
      assert.equal(r.headers.get('cache-control'), 'no-cache', other);
    }
    const etag = js.headers.get('etag')!;
    assert.equal((await fetch(`${server.url}/ui/app.js`, { headers: { 'If-None-Match': etag } })).status, 304);
    // No address other than this origin is named in what the browser loads.
    assert.doesNotMatch(body + html, /https?:\/\/(?!www\.w3\.org\/)[a-z0-9.-]+\.[a-z]{2,}\//i);
  });
});

describe('UI API: the same authorization as the API', () => {
  let server: WharfServer;
  let admin: OciClient;
  const users = [
    { name: 'admin', pass: 'admin-password-123', access: 'write' },
    { name: 'viewer', pass: 'viewer-password-123', access: 'none' },
  ];
  before(async () => {
    server = await start(
      {
        storage: { driver: 'memory' },
        secret: 'ui-api-test-secret-0123456789abcdef0123',
        users,
        access: [{ namespace: '*', repository: 'team/*', users: ['viewer'], actions: ['pull'] }],
      },
      new MemoryDriver(),
    );
    admin = new OciClientWithAuth(server.url, basic('admin', 'admin-password-123'));
    await admin.pushImage('team/app', 'v1');
    await admin.pushImage('secret/app', 'v1');
  });
  after(() => server?.close());
  const viewer = basic('viewer', 'viewer-password-123');

  it('anonymous: 401 with the challenge the API would send', async () => {
    const r = await getJson(`${server.url}/v2/_wharf/tags?name=team/app`);
    assert.equal(r.status, 401);
    assert.match(
      r.headers.get('www-authenticate')!,
      /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/auth\/token",service="wharf",scope="repository:team\/app:pull"$/,
    );
    const list = await getJson(`${server.url}/v2/_wharf/repositories`);
    assert.equal(list.status, 401);
    assert.match(list.headers.get('www-authenticate')!, /scope="registry:catalog:\*"/);
  });

  it('a user sees only what it may pull, in lists and by name', async () => {
    const list = (await getJson(`${server.url}/v2/_wharf/repositories`, viewer)).json();
    assert.deepEqual(
      list.repositories.map((r: { name: string }) => r.name),
      ['team/app'],
    );
    const catalog = (await getJson(`${server.url}/v2/_catalog`, viewer)).json();
    assert.deepEqual(catalog.repositories, ['team/app']);
    const denied = await getJson(`${server.url}/v2/_wharf/manifest?name=secret/app&reference=v1`, viewer);
    assert.equal(denied.status, 403);
    assert.equal(denied.json().errors[0].code, 'DENIED');
    const repo = (await getJson(`${server.url}/v2/_wharf/repository?name=team/app`, viewer)).json();
    assert.deepEqual(repo.actions, { pull: true, push: false, delete: false });
    const all = (await getJson(`${server.url}/v2/_wharf/repository?name=secret/app`, basic('admin', 'admin-password-123'))).json();
    assert.deepEqual(all.actions, { pull: true, push: true, delete: true });
    const ns = (await getJson(`${server.url}/v2/_wharf/namespaces`, viewer)).json();
    assert.equal(ns.session.user, 'viewer');
    assert.equal(ns.session.authEnabled, true);
  });

  it('a token for one repository does not open another; a token for the catalog lists by the rules', async () => {
    const token = async (scope: string) =>
      (await getJson(`${server.url}/auth/token?service=wharf&scope=${encodeURIComponent(scope)}`, viewer)).json().token as string;
    const t = await token('repository:team/app:pull');
    assert.equal((await getJson(`${server.url}/v2/_wharf/tags?name=team/app`, { Authorization: `Bearer ${t}` })).status, 200);
    const other = await getJson(`${server.url}/v2/_wharf/tags?name=secret/app`, { Authorization: `Bearer ${t}` });
    assert.equal(other.status, 403);
    const cat = await token('registry:catalog:*');
    const list = (await getJson(`${server.url}/v2/_wharf/repositories`, { Authorization: `Bearer ${cat}` })).json();
    assert.deepEqual(
      list.repositories.map((r: { name: string }) => r.name),
      ['team/app'],
    );
  });
});

/** OciClient whose requests carry fixed headers (Basic auth). */
class OciClientWithAuth extends OciClient {
  constructor(
    base: string,
    private readonly auth: Record<string, string>,
  ) {
    super(base);
  }
  override request(method: string, pathOrUrl: string, init: Parameters<OciClient['request']>[2] = {}) {
    return super.request(method, pathOrUrl, { ...init, headers: { ...this.auth, ...init.headers } });
  }
}

describe('UI API: 10,000 repositories cost a bounded number of storage calls per page', () => {
  let server: WharfServer;
  const counter = counting(new MemoryDriver());
  const N = 10_000;
  const name = (i: number) => `team-${String(i % 100).padStart(2, '0')}/app-${String(i).padStart(5, '0')}`;
  before(async () => {
    // Catalog markers are what the list reads; written directly, it takes a second instead of 10,000 pushes.
    for (let i = 0; i < N; i++) await counter.driver.put(layout.catalogEntry('default', name(i)), Buffer.alloc(0));
    server = await start(
      {
        storage: { driver: 'memory' },
        secret: 'ui-api-scale-secret-0123456789abcdef0123',
        users: [
          { name: 'all', pass: 'all-password-1234', access: 'read' },
          { name: 'few', pass: 'few-password-1234', access: 'none' },
        ],
        access: [{ namespace: '*', repository: 'team-77/*', users: ['few'], actions: ['pull'] }],
      },
      counter.driver,
    );
    await usageSettled(server.url, 'default', basic('all', 'all-password-1234'));
  });
  after(() => server?.close());

  async function page(query: string, who = basic('all', 'all-password-1234')) {
    counter.reset();
    const r = await getJson(`${server.url}/v2/_wharf/repositories?${query}`, who);
    assert.equal(r.status, 200, r.text);
    return { body: r.json(), calls: counter.calls() };
  }

  it('the first page: one catalog listing and one stat of the usage summary', async () => {
    const { body, calls } = await page('n=50');
    assert.equal(body.repositories.length, 50);
    assert.equal(body.repositories[0].name, 'team-00/app-00000');
    assert.deepEqual(calls, { list: 1, stat: 1 }, JSON.stringify(calls));
    // The next page from its cursor costs the same.
    const next = await page(`n=50&after=${encodeURIComponent(body.next)}`);
    assert.equal(next.body.repositories[0].name, 'team-00/app-05000');
    assert.deepEqual(next.calls, { list: 1, stat: 1 });
  });

  it('a filtered page (name prefix) costs the same: the prefix narrows the listing', async () => {
    const { body, calls } = await page('n=50&prefix=team-42/');
    assert.equal(body.repositories.length, 50);
    assert.ok(body.repositories.every((r: { name: string }) => r.name.startsWith('team-42/')));
    assert.deepEqual(calls, { list: 1, stat: 1 });
    // The last page of a filter: the rest of the 100 matches, no next.
    const rest = await page(`n=80&prefix=team-42/&after=${encodeURIComponent(body.next)}`);
    assert.equal(rest.body.repositories.length, 50);
    assert.equal(rest.body.next, undefined);
    assert.ok(total(rest.calls) <= 2, JSON.stringify(rest.calls));
  });

  it('a user who may see 1 in 100: each page scans at most 5000 markers, and the cursor hides the names it skipped', async () => {
    const few = basic('few', 'few-password-1234');
    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    for (;;) {
      const { body, calls } = await page(`n=50${after ? `&after=${encodeURIComponent(after)}` : ''}`, few);
      pages++;
      assert.ok((calls.list ?? 0) <= 6 && total(calls) <= 7, `page ${pages}: ${JSON.stringify(calls)}`);
      seen.push(...body.repositories.map((r: { name: string }) => r.name));
      if (!body.next) break;
      after = body.next;
      // A cursor after a repository the user may not see is sealed: no name in it.
      if (!seen.includes(after!)) assert.match(after!, /^~[A-Za-z0-9_-]+$/);
      assert.doesNotMatch(after!, /team-(?!77)/);
      assert.ok(pages < 10, 'too many pages');
    }
    const want = Array.from({ length: N }, (_, i) => name(i))
      .filter((n) => n.startsWith('team-77/'))
      .sort();
    assert.deepEqual(seen, want);
  });

  it('the namespace list costs one listing of the store root and one stat per namespace', async () => {
    counter.reset();
    const r = await getJson(`${server.url}/v2/_wharf/namespaces`, basic('all', 'all-password-1234'));
    assert.equal(r.status, 200);
    assert.deepEqual(counter.calls(), { list: 1, stat: 1 });
  });
});

describe('registry.ui: false', () => {
  let server: WharfServer;
  before(async () => {
    server = await start({ storage: { driver: 'memory' }, ui: false }, new MemoryDriver());
  });
  after(() => server?.close());

  it('turns off /ui/ and /v2/_wharf/', async () => {
    for (const p of ['/ui/', '/ui/app.js', '/v2/_wharf/namespaces', '/v2/_wharf/repositories']) {
      const r = await fetch(`${server.url}${p}`);
      const text = await r.text();
      assert.equal(r.status, 404, `${p}: ${text}`);
      assert.equal(JSON.parse(text).errors[0].code, 'NOT_FOUND');
    }
    // The registry itself is unchanged.
    assert.equal((await new OciClient(server.url).catalog()).status, 200);
  });
});

describe('UI API: a mirror namespace shows what came from the upstream', () => {
  let upstream: WharfServer;
  let server: WharfServer;
  before(async () => {
    upstream = await start({ storage: { driver: 'memory' } }, new MemoryDriver());
    server = await start(
      { storage: { driver: 'memory' }, namespaces: { mirrors: { 'upstream.test': { upstream: upstream.url } } } },
      new MemoryDriver(),
    );
  });
  after(async () => {
    await server?.close();
    await upstream?.close();
  });

  it('tags and manifests cached from the upstream are marked; pushed ones are not', async () => {
    const up = await new OciClient(upstream.url).pushImage('library/tool', 'v1');
    const mirror = new OciClient(server.url).withNs('upstream.test');
    // A pull through the mirror caches the manifest and the tag's answer.
    const pulled = await mirror.getManifest('library/tool', 'v1');
    assert.equal(pulled.status, 200, pulled.text);
    const own = await mirror.pushImage('library/tool', 'local');
    const tags = (await getJson(`${server.url}/v2/_wharf/tags?name=library/tool&ns=upstream.test`)).json().tags as Array<{
      name: string;
      digest: string;
      source: string;
      manifest?: { origin?: string };
    }>;
    assert.deepEqual(
      tags.map((t) => [t.name, t.digest, t.source, t.manifest?.origin ?? 'pushed']),
      [
        ['local', own.digest, 'pushed', 'pushed'],
        ['v1', up.digest, 'upstream', 'upstream'],
      ],
    );
    const m = (await getJson(`${server.url}/v2/_wharf/manifest?name=library/tool&reference=${up.digest}&ns=upstream.test`)).json();
    assert.equal(m.origin, 'upstream');
    const r = (await getJson(`${server.url}/v2/_wharf/repository?name=library/tool&ns=upstream.test`)).json();
    assert.deepEqual(r.mirror, { upstream: upstream.url });
    const ns = (await getJson(`${server.url}/v2/_wharf/namespaces`)).json();
    assert.deepEqual(ns.namespaces.find((n: { name: string }) => n.name === 'upstream.test').mirror, { upstream: upstream.url });
  });
});

describe('UI API: anonymous-read', () => {
  let server: WharfServer;
  before(async () => {
    server = await start(
      {
        storage: { driver: 'memory' },
        'anonymous-read': true,
        users: [{ name: 'ci', pass: 'ci-password-123456', access: 'write' }],
      },
      new MemoryDriver(),
    );
    await new OciClientWithAuth(server.url, basic('ci', 'ci-password-123456')).pushImage('open/app', 'v1');
  });
  after(() => server?.close());

  it('anonymous visitors see what anonymous pulls may see, and may not delete', async () => {
    const list = await getJson(`${server.url}/v2/_wharf/repositories`);
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(
      list.json().repositories.map((r: { name: string }) => r.name),
      ['open/app'],
    );
    const repo = (await getJson(`${server.url}/v2/_wharf/repository?name=open/app`)).json();
    assert.deepEqual(repo.actions, { pull: true, push: false, delete: false });
    const ns = (await getJson(`${server.url}/v2/_wharf/namespaces`)).json();
    assert.deepEqual(ns.session, { authEnabled: true, user: null, anonymousRead: true, deleteEnabled: true, service: 'wharf' });
    assert.equal((await getJson(`${server.url}/v2/_wharf/manifest?name=open/app&reference=v1`)).status, 200);
  });
});

describe('storage-use summaries are shared through the store', () => {
  it('a replica that finds a fresh summary does not count again; an old one is counted again in the background', async () => {
    const { UsageTracker } = await import('../../src/registry/usage-tracker.js');
    const store = counting(new MemoryDriver());
    const c = { ns: 'default' };
    await store.driver.put(layout.catalogEntry(c.ns, 'a/b'), Buffer.alloc(0));
    await store.driver.put(`${c.ns}/repos/a/b/_tags/v1`, Buffer.from('{}'));
    let clock = 1_000_000;
    const now = () => clock;
    const one = new UsageTracker(store.driver, 60_000, undefined, now);
    const two = new UsageTracker(store.driver, 60_000, undefined, now);
    const first = await one.view(c.ns);
    assert.equal(first.summary, null);
    assert.equal(first.computing, true);
    await one.idle();
    store.reset();
    const seen = await two.view(c.ns);
    assert.equal(seen.summary?.computedAt, 1_000_000);
    assert.equal(seen.computing, false);
    assert.deepEqual(store.calls(), { stat: 1, get: 1 }, 'read once');
    store.reset();
    await two.view(c.ns);
    assert.deepEqual(store.calls(), { stat: 1 }, 'then only a stat while it is unchanged');
    clock += 60_000;
    const old = await two.view(c.ns);
    assert.equal(old.summary?.computedAt, 1_000_000, 'the old one is shown meanwhile');
    assert.equal(old.computing, true);
    await two.idle();
    assert.equal((await one.view(c.ns)).summary?.computedAt, 1_060_000);
  });
});
