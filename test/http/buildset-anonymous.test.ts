// `anonymous-read` and buildset namespaces: a buildset is one CI run's private
// registry, so anonymous callers read nothing in it — not by `?ns=`, the Host
// pattern or the path prefix, not with an anonymous token, not in the UI's
// namespace list — while they still pull from the configured namespaces. Its
// own credential, admins and configured users whose access lets them pull
// (their `access`, or rules) still read it.
//   npm run build && node --test --test-concurrency=1 dist/test/http/buildset-anonymous.test.js
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { configFromObject } from '../../src/config/config.js';
import { startServer, type WharfServer } from '../../src/http/server.js';
import { createLogger } from '../../src/log/logger.js';
import { MemoryDriver } from '../../src/storage/memory.js';
import { basic } from '../helpers/auth.js';

const ADMIN = basic('admin', 'admin-password-1234');
const READER = basic('reader', 'reader-password-1234');
const NS = 'change-7';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('anonymous-read does not reach buildset namespaces', () => {
  let server: WharfServer;
  let owner: string;
  let manifest: string;
  let layer: string;

  /** node:http, not fetch: fetch does not send a Host of our choosing. */
  function call(method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string) {
    const url = new URL(path, server.url);
    return new Promise<{ status: number; text: string; header(name: string): string | undefined }>((resolve, reject) => {
      const req = httpRequest(
        url,
        { method, headers: { ...headers, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              text: Buffer.concat(chunks).toString('utf8'),
              header: (name) => {
                const v = res.headers[name.toLowerCase()];
                return Array.isArray(v) ? v.join(', ') : v;
              },
            }),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Push a one-layer image into `query`'s namespace as `auth`; returns its manifest digest. */
  async function pushImage(query: string, auth: string): Promise<{ manifest: string; layer: string }> {
    const cfg = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const lay = Buffer.from(`layer of ${query}`);
    for (const b of [cfg, lay]) {
      const r = await call(
        'POST',
        `/v2/app/blobs/uploads/?digest=${sha256(b)}&${query}`,
        { authorization: auth, 'content-type': 'application/octet-stream' },
        b,
      );
      assert.equal(r.status, 201, r.text);
    }
    const doc = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(cfg), size: cfg.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(lay), size: lay.length }],
      }),
    );
    const r = await call('PUT', `/v2/app/manifests/v1?${query}`, { authorization: auth, 'content-type': OCI_MANIFEST }, doc);
    assert.equal(r.status, 201, r.text);
    return { manifest: sha256(doc), layer: sha256(lay) };
  }

  before(async () => {
    const config = configFromObject({
      registry: {
        address: '127.0.0.1',
        port: 0,
        'log-level': 'error',
        storage: { driver: 'memory' },
        secret: 'buildset-anonymous-secret-0123456789abcdef',
        'anonymous-read': true,
        users: [
          { name: 'admin', pass: 'admin-password-1234', access: 'write', admin: true },
          { name: 'reader', pass: 'reader-password-1234', access: 'read' },
        ],
        namespaces: { dynamic: false, names: ['default'] },
        buildsets: { 'max-namespaces': 10, 'max-ttl': 7200, 'credential-cost': 4, hosts: ['*.bs.test'] },
      },
    });
    server = await startServer(config, new MemoryDriver(), createLogger('error'));
    const created = await call(
      'POST',
      '/admin/v1/namespaces',
      { authorization: ADMIN, 'content-type': 'application/json' },
      JSON.stringify({ name: NS, ttlSeconds: 3600 }),
    );
    assert.equal(created.status, 201, created.text);
    const j = JSON.parse(created.text);
    owner = basic(j.credentials.username, j.credentials.password);
    ({ manifest, layer } = await pushImage(`ns=${NS}`, owner));
    await pushImage('ns=default', ADMIN);
  });
  after(() => server?.close());

  const ways = (): { how: string; manifest: string; blob: string; tags: string; host: Record<string, string> }[] => [
    {
      how: '?ns=',
      manifest: `/v2/app/manifests/v1?ns=${NS}`,
      blob: `/v2/app/blobs/${layer}?ns=${NS}`,
      tags: `/v2/app/tags/list?ns=${NS}`,
      host: {},
    },
    {
      how: 'the path prefix',
      manifest: `/v2/ns/${NS}/app/manifests/v1`,
      blob: `/v2/ns/${NS}/app/blobs/${layer}`,
      tags: `/v2/ns/${NS}/app/tags/list`,
      host: {},
    },
    {
      how: 'the Host pattern',
      manifest: '/v2/app/manifests/v1',
      blob: `/v2/app/blobs/${layer}`,
      tags: '/v2/app/tags/list',
      host: { host: `${NS}.bs.test` },
    },
  ];

  it('anonymous callers get 401 for its manifests, blobs and tags, by every way in', async () => {
    for (const w of ways()) {
      for (const path of [w.manifest, w.blob, w.tags]) {
        for (const method of ['GET', 'HEAD']) {
          const r = await call(method, path, { accept: OCI_MANIFEST, ...w.host });
          assert.equal(r.status, 401, `anonymous ${method} ${path} (${w.how}): ${r.text}`);
          if (method === 'GET') assert.match(r.text, /UNAUTHORIZED/);
        }
      }
    }
  });

  it('an anonymous token does not open it either: the token endpoint leaves its scopes out, by every way in', async () => {
    const asks: { how: string; path: string; host: Record<string, string>; api: string }[] = [
      { how: '?ns=', path: `/auth/token?service=wharf&scope=repository:app:pull&ns=${NS}`, host: {}, api: `/v2/app/manifests/v1?ns=${NS}` },
      {
        how: 'the path prefix',
        path: `/auth/token?service=wharf&scope=repository:ns/${NS}/app:pull`,
        host: {},
        api: `/v2/ns/${NS}/app/manifests/v1`,
      },
      {
        how: 'the Host pattern',
        path: '/auth/token?service=wharf&scope=repository:app:pull',
        host: { host: `${NS}.bs.test` },
        api: '/v2/app/manifests/v1',
      },
      { how: 'the catalog', path: `/auth/token?service=wharf&scope=registry:catalog:*&ns=${NS}`, host: {}, api: `/v2/_catalog?ns=${NS}` },
    ];
    for (const a of asks) {
      const t = await call('GET', a.path, a.host);
      assert.equal(t.status, 200, `${a.how}: ${t.text}`);
      const j = JSON.parse(t.text);
      assert.equal(j.scope, '', `${a.how}: an anonymous token grants nothing in a buildset namespace`);
      const r = await call('GET', a.api, { authorization: `Bearer ${j.token}`, accept: OCI_MANIFEST, ...a.host });
      assert.equal(r.status, 401, `${a.how}: ${r.text}`);
    }
    // Configured namespaces keep their anonymous pull, also next to a buildset scope in the same request.
    const both = await call('GET', `/auth/token?service=wharf&scope=repository:app:pull&scope=repository:ns/${NS}/app:pull`);
    assert.equal(both.status, 200, both.text);
    assert.equal(JSON.parse(both.text).scope, 'repository:app:pull');
    const r = await call('GET', '/v2/app/manifests/v1', { authorization: `Bearer ${JSON.parse(both.text).token}`, accept: OCI_MANIFEST });
    assert.equal(r.status, 200, r.text);
  });

  it('its credential, an admin and a user with read access still pull it; anonymous callers still pull the configured namespace', async () => {
    for (const auth of [owner, ADMIN, READER]) {
      for (const w of ways()) {
        const r = await call('GET', w.manifest, { authorization: auth, accept: OCI_MANIFEST, ...w.host });
        assert.equal(r.status, 200, `${w.how}: ${r.text}`);
        assert.equal(r.header('docker-content-digest'), manifest);
      }
    }
    const r = await call('GET', '/v2/app/manifests/v1', { accept: OCI_MANIFEST });
    assert.equal(r.status, 200, `anonymous pull of the default namespace: ${r.text}`);
  });

  it("the UI's namespace list shows it to its readers, not to anonymous callers", async () => {
    const names = async (headers: Record<string, string>) => {
      const r = await call('GET', '/v2/_wharf/namespaces', headers);
      assert.equal(r.status, 200, r.text);
      return (JSON.parse(r.text).namespaces as { name: string }[]).map((n) => n.name);
    };
    const anon = await names({});
    assert.ok(anon.includes('default'), JSON.stringify(anon));
    assert.ok(!anon.includes(NS), `anonymous: ${JSON.stringify(anon)}`);
    assert.ok((await names({ authorization: READER })).includes(NS));
    assert.ok((await names({ authorization: owner })).includes(NS));
  });
});
