// Mirror namespaces against live servers: Wharf mirroring a CNCF Distribution
// (Debian docker-registry) on loopback that requires basic auth (htpasswd,
// bcrypt), reached through a small counting proxy in this file (so the tests
// can see what went upstream, slow it down, corrupt it, or cut it off); and a
// Bearer token front with its own token server for the Docker token flow.
// Images are written as OCI layouts here and pushed upstream with skopeo.
//   npm run build && node --test --test-concurrency=1 dist/test/http/mirror.test.js
// Not in test:quick: needs Distribution (Debian docker-registry) and skopeo.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { configFromObject } from '../../src/config/config.js';
import { createContainersEnv, requireTools, type ContainersEnv } from '../helpers/containers.js';
import { startDistribution, type RunningRegistry } from '../helpers/registries.js';
import { freePort, startWharf, type WharfProcess } from '../helpers/wharf.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
// gzip, so skopeo's docker destination keeps the blobs as they are.
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const ACCEPT_ALL = [OCI_MANIFEST, OCI_INDEX, 'application/vnd.docker.distribution.manifest.v2+json'].join(', ');

const USER = 'mirror';
const PASS = 'upstream-secret';

const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

// ---------------------------------------------------------------------------
// HTTP client (node:http, so Host can be set and aborted bodies are visible)

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  ms: number;
  /** Set when the response was cut short (e.g. a blob that failed verification). */
  error?: string;
}

function call(method: string, url: string, opts: { headers?: Record<string, string>; body?: Buffer; auth?: string } = {}): Promise<Reply> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    if (opts.body) headers['Content-Length'] = String(opts.body.length);
    const req = httpRequest(url, { method, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      let error: string | undefined;
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('aborted', () => (error = 'aborted'));
      res.on('error', (e) => (error = String(e)));
      res.on('close', () => {
        const body = Buffer.concat(parts);
        const declared = res.headers['content-length'];
        if (!error && method !== 'HEAD' && declared !== undefined && Number(declared) !== body.length) error = 'short body';
        if (!error && !res.complete) error = 'incomplete';
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, ms: Date.now() - started, error });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

// ---------------------------------------------------------------------------
// OCI layouts written by hand, pushed upstream with skopeo

interface Image {
  manifest: Buffer;
  digest: string;
  config: Buffer;
  layers: Buffer[];
}

function blobPath(dir: string, d: string): string {
  return join(dir, 'blobs', 'sha256', d.slice('sha256:'.length));
}

function writeBlob(dir: string, data: Buffer): { digest: string; size: number } {
  const d = sha256(data);
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(blobPath(dir, d), data);
  return { digest: d, size: data.length };
}

function makeImage(dir: string, opts: { arch?: string; layerBytes?: number[] } = {}): Image {
  const raw = (opts.layerBytes ?? [2048, 1024]).map((n) => randomBytes(n));
  const layers = raw.map((r) => gzipSync(r, { level: 1 }));
  const config = Buffer.from(
    JSON.stringify({
      architecture: opts.arch ?? 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: raw.map((l) => sha256(l)) },
      config: { Labels: { nonce: randomBytes(8).toString('hex') } },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, ...writeBlob(dir, config) },
      layers: layers.map((l) => ({ mediaType: OCI_LAYER, ...writeBlob(dir, l) })),
    }),
  );
  const { digest } = writeBlob(dir, manifest);
  return { manifest, digest, config, layers };
}

function writeLayoutIndex(dir: string, tag: string, top: { mediaType: string; digest: string; size: number }): void {
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ ...top, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
}

// ---------------------------------------------------------------------------
// The proxy in front of the upstream: counts, delays, corrupts, and can play
// a Bearer-token registry (with its own /token endpoint) in front of the
// basic-auth Distribution.

interface Seen {
  method: string;
  path: string;
}

class UpstreamProxy {
  readonly seen: Seen[] = [];
  delayBlobsMs = 0;
  readonly corrupt = new Set<string>();
  /** Blobs whose body stops half way (the connection is cut; the length header promised more). */
  readonly truncate = new Set<string>();
  /** Manifest paths (e.g. `/manifests/v1`) whose body is changed (still valid JSON, right length) under the upstream's digest header. */
  readonly tamperManifests = new Set<string>();
  tokenRequests = 0;
  private readonly tokens = new Set<string>();
  private readonly sockets = new Set<Socket>();
  private server!: Server;
  url = '';

  constructor(
    private readonly target: RunningRegistry,
    private readonly bearer?: { user: string; pass: string },
  ) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    const addr = this.server.address();
    this.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    return this;
  }

  count(method: string, pathPart: string): number {
    return this.seen.filter((s) => s.method === method && s.path.includes(pathPart)).length;
  }

  writes(): Seen[] {
    return this.seen.filter((s) => !['GET', 'HEAD'].includes(s.method));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async handle(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    const path = req.url ?? '/';
    const method = req.method ?? 'GET';
    if (this.bearer && path.startsWith('/token')) {
      this.tokenRequests++;
      const u = new URL(path, 'http://x');
      const want = `Basic ${Buffer.from(`${this.bearer.user}:${this.bearer.pass}`).toString('base64')}`;
      if (req.headers.authorization !== want || !u.searchParams.get('scope')?.startsWith('repository:')) {
        res.writeHead(401).end();
        return;
      }
      const token = randomBytes(12).toString('hex');
      this.tokens.add(token);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300 }));
      return;
    }
    this.seen.push({ method, path });
    const headers = { ...req.headers };
    delete headers.host;
    if (this.bearer) {
      const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
      if (!m || !this.tokens.has(m[1]!)) {
        const repo = /^\/v2\/(.+?)\/(?:manifests|blobs|tags)\//.exec(path)?.[1] ?? '';
        res
          .writeHead(401, {
            'WWW-Authenticate': `Bearer realm="${this.url}/token",service="test-upstream",scope="repository:${repo}:pull"`,
            'Content-Type': 'application/json',
          })
          .end('{"errors":[{"code":"UNAUTHORIZED","message":"token required"}]}');
        return;
      }
      headers.authorization = `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}`;
    }
    const isBlob = /\/blobs\/sha256:/.test(path);
    if (isBlob && this.delayBlobsMs > 0) await new Promise((r) => setTimeout(r, this.delayBlobsMs));
    const digest = /\/blobs\/(sha256:[0-9a-f]{64})/.exec(path)?.[1];
    const up = httpRequest(`${this.target.url}${path}`, { method, headers, agent: false }, (upRes) => {
      const tamper = method === 'GET' && [...this.tamperManifests].some((m) => path.includes(m));
      if (tamper && upRes.statusCode === 200) {
        const parts: Buffer[] = [];
        upRes.on('data', (d: Buffer) => parts.push(d));
        upRes.on('end', () => {
          // Another manifest, as valid as the first, sent with the first one's Docker-Content-Digest.
          const body = Buffer.from(Buffer.concat(parts).toString('utf8').replace(/}\s*$/, ' }'));
          res.writeHead(200, { ...upRes.headers, 'content-length': String(body.length) });
          res.end(body);
        });
        return;
      }
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      if (method === 'GET' && digest && this.truncate.has(digest)) {
        const half = Number(upRes.headers['content-length']) / 2;
        let sent = 0;
        upRes.on('data', (d: Buffer) => {
          if (sent >= half) return;
          const piece = d.subarray(0, Math.max(0, half - sent));
          sent += piece.length;
          res.write(piece);
          if (sent >= half) setTimeout(() => res.destroy(), 50);
        });
        return;
      }
      if (method === 'GET' && digest && this.corrupt.has(digest)) {
        // Same length, one flipped bit in the first chunk.
        let first = true;
        upRes.on('data', (d: Buffer) => {
          if (first) {
            d = Buffer.from(d);
            d[0] = d[0]! ^ 1;
            first = false;
          }
          res.write(d);
        });
        upRes.on('end', () => res.end());
        return;
      }
      upRes.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  }
}

// ---------------------------------------------------------------------------

// A bound on the whole file, so a regression shows as a failure, not a hung run.
describe('mirror namespaces (pull-through from Distribution with auth)', { timeout: 180_000 }, () => {
  let env: ContainersEnv;
  let tmp: string;
  let dist: RunningRegistry;
  let proxy: UpstreamProxy;
  let bearerProxy: UpstreamProxy;
  let blackhole: TcpServer;
  const blackholeSockets = new Set<Socket>();
  let wharf: WharfProcess;
  let setupError: unknown;
  const ready = () => {
    if (setupError) throw setupError;
  };

  /** Push an OCI layout's tag to the upstream (basic auth). */
  async function pushUpstream(dir: string, tag: string, repo: string, all = false): Promise<void> {
    await env.skopeo([
      'copy',
      '-q',
      '--preserve-digests',
      ...(all ? ['--all'] : []),
      '--dest-tls-verify=false',
      '--dest-creds',
      `${USER}:${PASS}`,
      `oci:${dir}:${tag}`,
      `docker://${dist.host}/${repo}:${tag}`,
    ]);
  }

  async function upstreamImage(repo: string, tag: string, opts?: { layerBytes?: number[] }): Promise<Image> {
    const dir = mkdtempSync(join(tmp, 'img-'));
    const img = makeImage(dir, opts);
    writeLayoutIndex(dir, tag, { mediaType: OCI_MANIFEST, digest: img.digest, size: img.manifest.length });
    await pushUpstream(dir, tag, repo);
    return img;
  }

  /** An index of an amd64 and an arm64 image, pushed upstream with both children. */
  async function upstreamIndex(repo: string, tag: string): Promise<{ amd: Image; arm: Image; top: { digest: string; size: number } }> {
    const dir = mkdtempSync(join(tmp, 'index-'));
    const amd = makeImage(dir, { arch: 'amd64' });
    const arm = makeImage(dir, { arch: 'arm64' });
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [
          { mediaType: OCI_MANIFEST, digest: amd.digest, size: amd.manifest.length, platform: { os: 'linux', architecture: 'amd64' } },
          { mediaType: OCI_MANIFEST, digest: arm.digest, size: arm.manifest.length, platform: { os: 'linux', architecture: 'arm64' } },
        ],
      }),
    );
    const top = writeBlob(dir, index);
    writeLayoutIndex(dir, tag, { mediaType: OCI_INDEX, ...top });
    await pushUpstream(dir, tag, repo, true);
    return { amd, arm, top };
  }

  const w = (path: string) => `${wharf.url}${path}`;

  before(async () => {
    try {
      requireTools(['skopeo', 'unshare']);
      env = createContainersEnv();
      tmp = mkdtempSync(join(tmpdir(), 'wharf-mirror-test-'));
      const htpasswd = join(tmp, 'htpasswd');
      writeFileSync(htpasswd, `${USER}:${bcrypt.hashSync(PASS, 5)}\n`);
      dist = await startDistribution({ extraConfig: { auth: { htpasswd: { realm: 'upstream', path: htpasswd } } } });
      proxy = await new UpstreamProxy(dist).start();
      bearerProxy = await new UpstreamProxy(dist, { user: 'tokenuser', pass: 'tokenpass' }).start();
      // Accepts connections and never answers.
      blackhole = createTcpServer((s) => {
        blackholeSockets.add(s);
        s.on('error', () => undefined);
      });
      const bhPort = await freePort();
      await new Promise<void>((r) => blackhole.listen(bhPort, '127.0.0.1', r));
      wharf = await startWharf({
        registry: {
          'log-level': 'warn',
          namespaces: {
            hosts: { 'mirror.test': 'docker.io' },
            mirrors: {
              'docker.io': { upstream: proxy.url, username: USER, password: PASS, 'tag-ttl': 300, timeout: 3 },
              'quick.test': { upstream: proxy.url, username: USER, password: PASS, 'tag-ttl': 1, timeout: 3 },
              'tokened.test': { upstream: bearerProxy.url, username: 'tokenuser', password: 'tokenpass', timeout: 3 },
              'blackhole.test': { upstream: `http://127.0.0.1:${bhPort}`, timeout: 1 },
            },
          },
        },
      });
    } catch (err) {
      setupError = err;
    }
  });

  after(async () => {
    if (process.env.MIRROR_TEST_LOG === '1') process.stderr.write(wharf?.output() ?? '');
    await wharf?.cleanup();
    await proxy?.close().catch(() => undefined);
    await bearerProxy?.close().catch(() => undefined);
    for (const s of blackholeSockets) s.destroy();
    blackhole?.close();
    await dist?.stop();
    await env?.cleanup();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('config: mirror settings are validated with the key named', () => {
    const bad = (mirror: unknown) => () => configFromObject({ registry: { namespaces: { mirrors: { 'docker.io': mirror } } } }, {});
    assert.throws(bad({ upstream: 'ftp://x' }), /registry\.namespaces\.mirrors\.docker\.io\.upstream: must be an http\(s\) URL/);
    assert.throws(bad({ upstream: 'https://r.example/v2' }), /mirrors\.docker\.io\.upstream: must be the registry origin only/);
    assert.throws(
      bad({ upstream: 'https://r.example', username: 'u' }),
      /mirrors\.docker\.io\.password: username and password must be set together/,
    );
    assert.throws(bad({ upstream: 'https://r.example', 'tag-ttl': -1 }), /mirrors\.docker\.io\.tag-ttl: must be an integer/);
    assert.throws(bad({ upstream: 'https://r.example', timeot: 3 }), /mirrors\.docker\.io\.timeot: unknown key/);
    assert.throws(
      () => configFromObject({ registry: { namespaces: { mirrors: { Bad_Name: { upstream: 'https://r.example' } } } } }, {}),
      /mirrors\.Bad_Name: a mirror name must be a namespace name/,
    );
    const c = configFromObject(
      { registry: { namespaces: { mirrors: { 'docker.io': { upstream: 'https://registry-1.docker.io/' } } } } },
      {},
    );
    assert.deepEqual(c.namespaces.mirrors?.['docker.io'], {
      upstream: 'https://registry-1.docker.io',
      username: undefined,
      password: undefined,
      tagTtlMs: 300_000,
      timeoutMs: 10_000,
    });
    assert.ok(c.namespaces.known.includes('docker.io'));
  });

  it('pulls an image through (?ns=): same bytes, cached after one upstream fetch, verified on disk', async () => {
    ready();
    const img = await upstreamImage('library/alpha', 'v1');
    const m = await call('GET', w('/v2/library/alpha/manifests/v1?ns=docker.io'), { headers: { Accept: ACCEPT_ALL } });
    assert.equal(m.status, 200, m.body.toString());
    assert.equal(m.headers['docker-content-digest'], img.digest);
    assert.equal(m.headers['content-type'], OCI_MANIFEST);
    assert.ok(m.body.equals(img.manifest));
    for (const blob of [img.config, ...img.layers]) {
      const b = await call('GET', w(`/v2/library/alpha/blobs/${sha256(blob)}?ns=docker.io`));
      assert.equal(b.status, 200);
      assert.equal(b.error, undefined);
      assert.ok(b.body.equals(blob));
      assert.ok(existsSync(join(wharf.dataDir, 'docker.io', 'blobs', 'sha256', sha256(blob).slice(7))), 'blob kept in the namespace');
    }
    // Again: all from the namespace (tag cached, blobs held).
    const before = proxy.seen.length;
    const m2 = await call('GET', w('/v2/library/alpha/manifests/v1?ns=docker.io'), { headers: { Accept: ACCEPT_ALL } });
    assert.equal(m2.headers['docker-content-digest'], img.digest);
    const l2 = await call('GET', w(`/v2/library/alpha/blobs/${sha256(img.layers[0]!)}?ns=docker.io`));
    assert.ok(l2.body.equals(img.layers[0]!));
    assert.equal(proxy.seen.length, before, 'second pull did not go upstream');
    assert.equal(proxy.count('GET', `/blobs/${sha256(img.layers[0]!)}`), 1);
    // The cached tag is in storage, apart from pushed tags.
    assert.ok(existsSync(join(wharf.dataDir, 'docker.io', '_mirror', 'tags', 'library', 'alpha', '_tags', 'v1')));
    assert.ok(!existsSync(join(wharf.dataDir, 'docker.io', 'repos', 'library', 'alpha', '_tags', 'v1')));
  });

  it('reaches the mirror by path prefix and by Host; Location keeps the prefix', async () => {
    ready();
    const img = await upstreamImage('library/beta', 'v1');
    const byPrefix = await call('GET', w('/v2/docker.io/library/beta/manifests/v1'), { headers: { Accept: ACCEPT_ALL } });
    assert.equal(byPrefix.status, 200, byPrefix.body.toString());
    assert.equal(byPrefix.headers['docker-content-digest'], img.digest);
    const blob = await call('GET', w(`/v2/docker.io/library/beta/blobs/${sha256(img.config)}`));
    assert.ok(blob.body.equals(img.config));
    const byHost = await call('GET', w('/v2/library/beta/manifests/v1'), { headers: { Accept: ACCEPT_ALL, Host: 'mirror.test' } });
    assert.equal(byHost.status, 200);
    assert.equal(byHost.headers['docker-content-digest'], img.digest);
    // The default namespace is not a mirror: the same path without a selector is unknown there.
    const plain = await call('GET', w('/v2/library/beta/manifests/v1'), { headers: { Accept: ACCEPT_ALL } });
    assert.equal(plain.status, 404);
    // Uploads started through the prefix continue through it.
    const post = await call('POST', w('/v2/docker.io/library/pushed/blobs/uploads/'));
    assert.equal(post.status, 202);
    assert.match(String(post.headers.location), /^\/v2\/docker\.io\/library\/pushed\/blobs\/uploads\/[0-9a-f-]{36}$/);
    // A prefix named with ?ns= is just a repository name in that namespace.
    const withNs = await call('GET', w('/v2/docker.io/library/beta/manifests/v1?ns=docker.io'), { headers: { Accept: ACCEPT_ALL } });
    assert.equal(withNs.status, 404);
  });

  it('HEAD of uncached content asks upstream and caches nothing', async () => {
    ready();
    const img = await upstreamImage('library/gamma', 'v1');
    const layer = sha256(img.layers[1]!);
    const h = await call('HEAD', w(`/v2/library/gamma/blobs/${layer}?ns=docker.io`));
    assert.equal(h.status, 200);
    assert.equal(Number(h.headers['content-length']), img.layers[1]!.length);
    assert.equal(h.headers['docker-content-digest'], layer);
    assert.equal(proxy.count('HEAD', `/blobs/${layer}`), 1);
    assert.equal(proxy.count('GET', `/blobs/${layer}`), 0);
    assert.ok(!existsSync(join(wharf.dataDir, 'docker.io', 'blobs', 'sha256', layer.slice(7))));
    const hm = await call('HEAD', w('/v2/library/gamma/manifests/v1?ns=docker.io'), { headers: { Accept: ACCEPT_ALL } });
    assert.equal(hm.status, 200);
    assert.equal(hm.headers['docker-content-digest'], img.digest);
    assert.equal(Number(hm.headers['content-length']), img.manifest.length);
    assert.equal(hm.body.length, 0);
    const missing = await call('HEAD', w(`/v2/library/gamma/blobs/${sha256('nope')}?ns=docker.io`));
    assert.equal(missing.status, 404);
    const missingTag = await call('GET', w('/v2/library/gamma/manifests/nope?ns=docker.io'));
    assert.equal(missingTag.status, 404);
    assert.equal(JSON.parse(missingTag.body.toString()).errors[0].code, 'MANIFEST_UNKNOWN');
  });

  it('multi-arch index: index pulled through, children fetched only when asked, Accept negotiation', async () => {
    ready();
    const { amd, arm, top } = await upstreamIndex('library/multi', 'multi');

    const got = await call('GET', w('/v2/library/multi/manifests/multi?ns=docker.io'), { headers: { Accept: ACCEPT_ALL } });
    assert.equal(got.status, 200, got.body.toString());
    assert.equal(got.headers['content-type'], OCI_INDEX);
    assert.equal(got.headers['docker-content-digest'], top.digest);
    assert.equal(proxy.count('GET', `/manifests/${amd.digest}`), 0, 'children are not prefetched');
    assert.equal(proxy.count('GET', `/manifests/${arm.digest}`), 0);

    const child = await call('GET', w(`/v2/library/multi/manifests/${arm.digest}?ns=docker.io`), { headers: { Accept: ACCEPT_ALL } });
    assert.equal(child.status, 200);
    assert.ok(child.body.equals(arm.manifest));
    assert.equal(proxy.count('GET', `/manifests/${arm.digest}`), 1);
    const armLayer = await call('GET', w(`/v2/library/multi/blobs/${sha256(arm.layers[0]!)}?ns=docker.io`));
    assert.ok(armLayer.body.equals(arm.layers[0]!));

    // A client that does not take an index gets the amd64 image (fetched now).
    const picked = await call('GET', w('/v2/library/multi/manifests/multi?ns=docker.io'), { headers: { Accept: OCI_MANIFEST } });
    assert.equal(picked.status, 200);
    assert.equal(picked.headers['docker-content-digest'], amd.digest);
    assert.equal(proxy.count('GET', `/manifests/${amd.digest}`), 1);
  });

  it('a local push shadows the upstream tag; the tag list merges both; nothing is pushed upstream', async () => {
    ready();
    const upstreamImg = await upstreamImage('library/shadow', 'latest');
    await upstreamImage('library/shadow', 'c');
    await upstreamImage('library/shadow', 'e');
    // Push a different image as library/shadow:latest (and tags b, c, d) into the mirror namespace.
    const dir = mkdtempSync(join(tmp, 'local-'));
    const local = makeImage(dir);
    const q = '?ns=docker.io';
    for (const blob of [local.config, ...local.layers]) {
      const r = await call('POST', w(`/v2/library/shadow/blobs/uploads/${q}&digest=${sha256(blob)}`), { body: blob });
      assert.equal(r.status, 201, r.body.toString());
    }
    for (const tag of ['latest', 'b', 'c', 'd']) {
      const r = await call('PUT', w(`/v2/library/shadow/manifests/${tag}${q}`), {
        headers: { 'Content-Type': OCI_MANIFEST },
        body: local.manifest,
      });
      assert.equal(r.status, 201, r.body.toString());
    }
    const got = await call('GET', w(`/v2/library/shadow/manifests/latest${q}`), { headers: { Accept: ACCEPT_ALL } });
    assert.equal(got.headers['docker-content-digest'], local.digest, 'the pushed tag wins');
    // Upstream still has its own image under that tag.
    const up = await call('GET', `${dist.url}/v2/library/shadow/manifests/latest`, {
      headers: { Accept: ACCEPT_ALL },
      auth: `${USER}:${PASS}`,
    });
    assert.equal(up.headers['docker-content-digest'], upstreamImg.digest);
    assert.deepEqual(proxy.writes(), [], 'no write request ever went upstream');

    const list = await call('GET', w(`/v2/library/shadow/tags/list${q}`));
    assert.equal(list.status, 200);
    assert.deepEqual(JSON.parse(list.body.toString()).tags, ['b', 'c', 'd', 'e', 'latest']);
    // Pagination over the merged list.
    const pages: string[][] = [];
    let next: string | undefined = `/v2/library/shadow/tags/list${q}&n=2`;
    while (next) {
      const page = await call('GET', w(next));
      assert.equal(page.status, 200);
      pages.push(JSON.parse(page.body.toString()).tags);
      next = /<([^>]+)>;\s*rel="next"/.exec(String(page.headers.link ?? ''))?.[1];
    }
    assert.deepEqual(pages, [['b', 'c'], ['d', 'e'], ['latest']]);
    const viaPrefix = await call('GET', w('/v2/docker.io/library/shadow/tags/list?n=4'));
    assert.deepEqual(JSON.parse(viaPrefix.body.toString()), { name: 'docker.io/library/shadow', tags: ['b', 'c', 'd', 'e'] });
    assert.match(String(viaPrefix.headers.link), /^<\/v2\/docker\.io\/library\/shadow\/tags\/list\?n=4&last=e>; rel="next"$/);
  });

  it('a pushed manifest may reference blobs only the upstream has (the client skipped them after HEAD)', async () => {
    ready();
    const img = await upstreamImage('library/base', 'v1');
    // A "build" on top: the same config and layers, pushed as a new tag without uploading anything.
    const r = await call('PUT', w('/v2/library/base/manifests/rebuilt?ns=docker.io'), {
      headers: { 'Content-Type': OCI_MANIFEST },
      body: img.manifest,
    });
    assert.equal(r.status, 201, r.body.toString());
    assert.deepEqual(proxy.writes(), []);
    const l = await call('GET', w(`/v2/library/base/blobs/${sha256(img.layers[0]!)}?ns=docker.io`));
    assert.ok(l.body.equals(img.layers[0]!));
  });

  it('concurrent pulls of one blob fetch it from upstream once', async () => {
    ready();
    const img = await upstreamImage('library/big', 'v1', { layerBytes: [4 << 20] });
    const layer = sha256(img.layers[0]!);
    proxy.delayBlobsMs = 300;
    try {
      const replies = await Promise.all(Array.from({ length: 6 }, () => call('GET', w(`/v2/library/big/blobs/${layer}?ns=docker.io`))));
      for (const r of replies) {
        assert.equal(r.status, 200);
        assert.equal(r.error, undefined);
        assert.equal(sha256(r.body), layer);
      }
    } finally {
      proxy.delayBlobsMs = 0;
    }
    assert.equal(proxy.count('GET', `/blobs/${layer}`), 1, JSON.stringify(proxy.seen.filter((s) => s.path.includes(layer))));
  });

  it('a client that stops reading is cut off after the timeout; the fetch it led completes for the others', async () => {
    ready();
    const img = await upstreamImage('library/stall', 'v1', { layerBytes: [24 << 20] });
    const layer = sha256(img.layers[0]!);
    // The leader reads the headers, then nothing.
    let stalledRes: import('node:http').IncomingMessage | undefined;
    let stalledBytes = 0;
    const stalledDone = new Promise<string>((resolve, reject) => {
      const req = httpRequest(w(`/v2/library/stall/blobs/${layer}?ns=docker.io`), { agent: false }, (res) => {
        stalledRes = res;
        res.pause();
        res.on('data', (d: Buffer) => (stalledBytes += d.length));
        res.on('error', () => resolve('error'));
        res.on('aborted', () => resolve('aborted'));
        res.on('close', () => resolve(res.complete ? 'complete' : 'cut'));
      });
      req.on('error', reject);
      req.end();
    });
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    const other = await call('GET', w(`/v2/library/stall/blobs/${layer}?ns=docker.io`));
    assert.equal(other.status, 200);
    assert.equal(sha256(other.body), layer);
    assert.ok(Date.now() - started < 10_000, `follower took ${Date.now() - started} ms`);
    assert.ok(stalledRes, 'the stalled client got headers');
    stalledRes.resume();
    assert.notEqual(await stalledDone, 'complete');
    assert.ok(stalledBytes < img.layers[0]!.length, `stalled client got ${stalledBytes} bytes`);
    assert.equal(proxy.count('GET', `/blobs/${layer}`), 1);
  });

  it('content that does not match its digest is cut short and never kept', async () => {
    ready();
    const img = await upstreamImage('library/bad', 'v1', { layerBytes: [256 << 10, 512] });
    const layer = sha256(img.layers[0]!);
    proxy.corrupt.add(layer);
    const bad = await call('GET', w(`/v2/library/bad/blobs/${layer}?ns=docker.io`));
    proxy.corrupt.delete(layer);
    assert.ok(bad.error !== undefined || bad.status >= 500, `status ${bad.status}, error ${bad.error}`);
    assert.ok(bad.body.length < img.layers[0]!.length, 'the client never got the whole (bad) blob');
    assert.ok(!existsSync(join(wharf.dataDir, 'docker.io', 'blobs', 'sha256', layer.slice(7))), 'nothing kept');
    const good = await call('GET', w(`/v2/library/bad/blobs/${layer}?ns=docker.io`));
    assert.equal(good.status, 200);
    assert.equal(sha256(good.body), layer);
    assert.equal(proxy.count('GET', `/blobs/${layer}`), 2);
    // A blob that fails before any byte went out (one chunk, held back) gets a clean 502.
    const small = sha256(img.layers[1]!);
    proxy.corrupt.add(small);
    const r = await call('GET', w(`/v2/library/bad/blobs/${small}?ns=docker.io`));
    proxy.corrupt.delete(small);
    assert.equal(r.status, 502, r.body.toString());
    const e = JSON.parse(r.body.toString()).errors[0];
    assert.equal(e.code, 'UNAVAILABLE');
    assert.match(e.message, /does not match it; nothing was kept/);
    assert.ok(!existsSync(join(wharf.dataDir, 'docker.io', 'blobs', 'sha256', small.slice(7))));
  });

  it('a truncated blob body and a manifest that does not match its digest are never kept nor served whole', async () => {
    ready();
    const img = await upstreamImage('library/cut', 'v1', { layerBytes: [384 << 10] });
    const layer = sha256(img.layers[0]!);
    // The upstream promises the whole layer and sends half of it, then cuts the connection.
    proxy.truncate.add(layer);
    const cut = await call('GET', w(`/v2/library/cut/blobs/${layer}?ns=docker.io`));
    proxy.truncate.delete(layer);
    assert.ok(cut.error !== undefined || cut.status >= 500, `status ${cut.status}, error ${cut.error}`);
    assert.ok(cut.body.length < img.layers[0]!.length, 'the client never got a whole (short) blob');
    assert.ok(!existsSync(join(wharf.dataDir, 'docker.io', 'blobs', 'sha256', layer.slice(7))), 'nothing kept');
    const good = await call('GET', w(`/v2/library/cut/blobs/${layer}?ns=docker.io`));
    assert.equal(good.status, 200);
    assert.equal(sha256(good.body), layer);
    // A manifest whose bytes are not those its digest (header or reference) names: 502, nothing kept, by tag or digest.
    const other = await upstreamImage('library/forged', 'v1');
    proxy.tamperManifests.add('/library/forged/manifests/');
    for (const ref of ['v1', other.digest]) {
      const r = await call('GET', w(`/v2/library/forged/manifests/${ref}?ns=docker.io`), { headers: { Accept: ACCEPT_ALL } });
      assert.equal(r.status, 502, `${ref}: ${r.status} ${r.body.toString()}`);
      assert.equal(JSON.parse(r.body.toString()).errors[0].code, 'UNAVAILABLE');
    }
    proxy.tamperManifests.clear();
    assert.ok(!existsSync(join(wharf.dataDir, 'docker.io', 'blobs', 'sha256', other.digest.slice(7))), 'no manifest kept');
    const m = await call('GET', w('/v2/library/forged/manifests/v1?ns=docker.io'), { headers: { Accept: ACCEPT_ALL } });
    assert.equal(m.status, 200, m.body.toString());
    assert.equal(m.headers['docker-content-digest'], other.digest);
    assert.equal(sha256(m.body), other.digest);
  });

  it('Docker token flow: 401 Bearer challenge, token from the realm with basic credentials, reused', async () => {
    ready();
    const img = await upstreamImage('library/tokened', 'v1');
    const m = await call('GET', w('/v2/library/tokened/manifests/v1?ns=tokened.test'), { headers: { Accept: ACCEPT_ALL } });
    assert.equal(m.status, 200, m.body.toString());
    assert.equal(m.headers['docker-content-digest'], img.digest);
    assert.equal(bearerProxy.tokenRequests, 1);
    for (const blob of [img.config, ...img.layers]) {
      const b = await call('GET', w(`/v2/library/tokened/blobs/${sha256(blob)}?ns=tokened.test`));
      assert.ok(b.body.equals(blob));
    }
    assert.equal(bearerProxy.tokenRequests, 1, 'the token is reused for the same repository');
    const list = await call('GET', w('/v2/library/tokened/tags/list?ns=tokened.test'));
    assert.deepEqual(JSON.parse(list.body.toString()).tags, ['v1']);
  });

  it('upstream tags are cached for tag-ttl, then checked with a HEAD (and followed when they move)', async () => {
    ready();
    const x = await upstreamImage('library/moving', 'v1');
    const get = async () => {
      const r = await call('GET', w('/v2/library/moving/manifests/v1?ns=quick.test'), { headers: { Accept: ACCEPT_ALL } });
      assert.equal(r.status, 200, r.body.toString());
      return r.headers['docker-content-digest'];
    };
    assert.equal(await get(), x.digest);
    // Counted from here (the first request may also have met the upstream's 401).
    const g0 = proxy.count('GET', '/library/moving/manifests/v1');
    const h0 = proxy.count('HEAD', '/library/moving/manifests/v1');
    const gets = () => proxy.count('GET', '/library/moving/manifests/v1') - g0 + 1;
    const heads = () => proxy.count('HEAD', '/library/moving/manifests/v1') - h0;
    assert.equal(await get(), x.digest);
    assert.deepEqual([gets(), heads()], [1, 0], 'within tag-ttl the upstream is not asked');
    const y = await upstreamImage('library/moving', 'v1'); // the upstream moves the tag
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(await get(), y.digest, 'after tag-ttl the move is seen');
    assert.deepEqual([gets(), heads()], [2, 1]);
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(await get(), y.digest);
    assert.deepEqual([gets(), heads()], [2, 2], 'an unchanged tag costs one HEAD');
  });

  it('an upstream that never answers gives a 503 after the timeout, not a hang', async () => {
    ready();
    const r = await call('GET', w('/v2/library/x/manifests/v1?ns=blackhole.test'));
    assert.equal(r.status, 503, r.body.toString());
    assert.match(JSON.parse(r.body.toString()).errors[0].message, /did not answer within 1 s/);
    assert.ok(r.ms >= 900 && r.ms < 4000, `took ${r.ms} ms`);
  });

  it('upstream stopped: cached content is still served (even a stale tag); uncached gets 503 at once', async () => {
    ready();
    const { amd, arm, top } = await upstreamIndex('library/stop', 'v1');
    // Midway: the index and the amd64 image are pulled (through quick.test, tag-ttl 1 s) …
    const pulled = async (ref: string) => {
      const r = await call('GET', w(`/v2/library/stop/manifests/${ref}?ns=quick.test`), { headers: { Accept: ACCEPT_ALL } });
      assert.equal(r.status, 200, r.body.toString());
      return r;
    };
    await pulled('v1');
    await pulled(amd.digest);
    for (const blob of [amd.config, ...amd.layers]) {
      assert.equal((await call('GET', w(`/v2/library/stop/blobs/${sha256(blob)}?ns=quick.test`))).status, 200);
    }
    // … then the upstream goes away.
    await dist.stop();
    await proxy.close();
    await new Promise((r) => setTimeout(r, 1100)); // the cached tag is stale now

    const tag = await pulled('v1');
    assert.equal(tag.headers['docker-content-digest'], top.digest, 'stale tag served from the cache');
    assert.equal((await pulled(amd.digest)).headers['docker-content-digest'], amd.digest);
    for (const blob of [amd.config, ...amd.layers]) {
      const b = await call('GET', w(`/v2/library/stop/blobs/${sha256(blob)}?ns=quick.test`));
      assert.ok(b.body.equals(blob));
    }
    const list = await call('GET', w('/v2/library/stop/tags/list?ns=quick.test'));
    assert.equal(list.status, 200);
    assert.deepEqual(JSON.parse(list.body.toString()).tags, ['v1']);

    for (const path of [`/v2/library/stop/manifests/${arm.digest}`, `/v2/library/stop/blobs/${sha256(arm.layers[0]!)}`]) {
      for (const method of ['GET', 'HEAD']) {
        const r = await call(method, w(`${path}?ns=quick.test`), { headers: { Accept: ACCEPT_ALL } });
        assert.equal(r.status, 503, `${method} ${path}: ${r.status} ${r.body}`);
        assert.ok(r.ms < 1500, `${method} ${path} took ${r.ms} ms`);
        if (method === 'GET') {
          const e = JSON.parse(r.body.toString()).errors[0];
          assert.equal(e.code, 'UNAVAILABLE');
          assert.match(e.message, /upstream http:\/\/127\.0\.0\.1:\d+ unreachable: ECONNREFUSED/);
        }
      }
    }
    const unknownTag = await call('GET', w('/v2/library/stop/manifests/v2?ns=quick.test'));
    assert.equal(unknownTag.status, 503);
  });
});
