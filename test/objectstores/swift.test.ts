// The Swift driver against a real Swift all-in-one (started by the project's
// scripts/swift/start.sh through test/helpers/swift.ts): the shared driver
// suite (backend faults included), then Swift-specific behaviour — auth (v1,
// Keystone v3, clouds.yaml), token refresh, container auto-create, SLO
// layout, TempURL, faults of the auth endpoint and of streamed puts.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { StorageUnavailableError } from '../../src/storage/errors.js';
import { worstCaseMs, retryPolicy } from '../../src/storage/retry.js';
import { SwiftDriver, loadCloud, type SwiftConfig } from '../../src/storage/swift.js';
import { blackhole, closedPort, timed } from '../helpers/faults.js';
import { readAll, sha } from '../helpers/bytes.js';
import { sharedStoreDriver, teardowns } from '../helpers/objectstores.js';
import { ensureSwift, swiftToken, uniqueName, type SwiftEnv } from '../helpers/swift.js';
import { destroySwiftContainers, swiftAuthInfo, swiftParts, swiftSession } from '../helpers/swift-driver.js';
import { runDriverSuite } from '../unit/driver-suite.js';

const MiB = 1 << 20;

function driverFor(env: SwiftEnv, extra: Partial<SwiftConfig> = {}): SwiftDriver {
  return new SwiftDriver({
    authUrl: env.authUrl,
    username: env.user,
    password: env.key,
    container: uniqueName('wharf-swift'),
    ...extra,
  });
}

/** Raw Swift request with a fresh token (to look behind the driver's back). */
async function raw(
  env: SwiftEnv,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: string }> {
  const { token, storageUrl } = await swiftToken(env);
  const res = await fetch(`${storageUrl}/${path}`, { method, headers: { ...headers, 'X-Auth-Token': token } });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

runDriverSuite('swift', sharedStoreDriver(driverFor, destroySwiftContainers), {
  faults: {
    backend: async () => new URL((await ensureSwift()).storageUrl).origin,
    // The same container, reached at `origin` with the suite driver's token (so the twin needs no login).
    twin: async (of, origin, retry) => {
      const env = await ensureSwift();
      const { token } = await swiftAuthInfo(of as SwiftDriver);
      return new SwiftDriver({
        ...swiftParts(of as SwiftDriver).cfg,
        ...retry,
        token,
        storageUrl: `${origin}${new URL(env.storageUrl).pathname}`,
      });
    },
  },
});

// Everything stored as segments + SLO manifests (threshold 1 byte), segments of
// at most 3 MiB: the large-object paths get the whole suite too.
runDriverSuite(
  'swift (all segmented, 3 MiB segments)',
  sharedStoreDriver((env) => driverFor(env, { segmentThreshold: 1, segmentSize: 3 * MiB }), destroySwiftContainers),
  { largeObjectMiB: 16 },
);

describe('swift driver specifics', () => {
  let env: SwiftEnv;
  const cleanups = teardowns();
  before(async () => {
    env = await ensureSwift();
  });
  after(() => cleanups.run());
  function track(d: SwiftDriver): SwiftDriver {
    cleanups.add(() => destroySwiftContainers(d));
    return d;
  }

  it('copy is done by the server: segments copied on the server, no byte read or written by the driver', async () => {
    const d = track(driverFor(env, { segmentSize: 3 * MiB }));
    const large = randomBytes(7 * MiB + 5); // three segments and an SLO manifest
    const small = randomBytes(1000); // a plain object
    await d.put('a/blobs/large', Readable.from([large]));
    await d.put('a/blobs/small', small);
    const { transport } = swiftParts(d);
    const exchange = transport.exchange.bind(transport);
    const seen: string[] = [];
    let sent = 0;
    let received = 0;
    transport.exchange = async (method, o, ctx) => {
      const q = new URLSearchParams(o.query as Record<string, string>).toString();
      seen.push(`${method}${q ? ` ?${q}` : ''}${o.headers?.['X-Copy-From'] ? ' copy' : ''}`);
      if (o.body instanceof Uint8Array) sent += o.body.length;
      if (typeof o.body === 'function') sent = Infinity;
      const res = await exchange(method, o, ctx);
      received += Number(res.headers.get('content-length') ?? 0) * (method === 'HEAD' ? 0 : 1);
      return res;
    };
    try {
      assert.equal((await d.copy('a/blobs/large', 'b/blobs/large')).size, large.length);
      assert.equal((await d.copy('a/blobs/small', 'b/blobs/small')).size, small.length);
    } finally {
      transport.exchange = exchange;
    }
    // No GET of an object's data (only of the SLO manifest), no data PUT: just manifests both ways.
    assert.deepEqual(
      seen.filter((s) => s.startsWith('GET')),
      ['GET ?multipart-manifest=get'],
    );
    assert.equal(seen.filter((s) => s === 'PUT copy').length, 4, seen.join('\n')); // three segments, one plain object
    assert.ok(sent < 4096, `the driver sent ${sent} bytes`);
    assert.ok(received < 4096, `the driver received ${received} bytes`);
    assert.equal(sha(await readAll(await d.read('b/blobs/large'))), sha(large));
    assert.equal(sha((await d.get('b/blobs/small'))!), sha(small));
    // The copy has segments of its own: the source (and its segments) can go.
    const segs = (d as unknown as { segments: { usedBy(w: string, k: string): Promise<Set<string>> } }).segments;
    const [mine, theirs] = await Promise.all([segs.usedBy('test', 'b/blobs/large'), segs.usedBy('test', 'a/blobs/large')]);
    assert.equal(mine.size, 3);
    assert.deepEqual(
      [...mine].filter((n) => theirs.has(n)),
      [],
    );
    assert.equal(await d.delete('a/blobs/large'), true);
    assert.equal(sha(await readAll(await d.read('b/blobs/large'))), sha(large));
  });

  it('creates the container (and the segments container) at the first write', async () => {
    const d = track(driverFor(env));
    const name = swiftParts(d).cfg.container;
    assert.equal((await raw(env, 'HEAD', name)).status, 404);
    // Reads of a missing container are plain misses, and create nothing.
    assert.equal(await d.stat('x'), null);
    assert.deepEqual((await d.list({ prefix: '' })).entries, []);
    assert.equal((await raw(env, 'HEAD', name)).status, 404);
    await d.put('a/b', Buffer.from('hello'));
    assert.equal((await raw(env, 'HEAD', name)).status, 204);
    assert.equal((await raw(env, 'HEAD', `${name}_segments`)).status, 204);
    // Deleted behind the driver's back: the next write creates it again.
    await destroySwiftContainers(d);
    await d.put('again', Buffer.from('x'));
    assert.equal((await d.get('again'))!.toString(), 'x');
  });

  it('rejects malformed keys before any request (URL normalisation would remap them)', async () => {
    const d = new SwiftDriver({ storageUrl: 'http://127.0.0.1:9/v1/AUTH_x', token: 't', container: 'c', retries: 0 });
    for (const key of ['', 'a/../b', './a', 'a//b', 'a/', '..', 'a\0b']) {
      await assert.rejects(d.put(key, Buffer.from('x')), /invalid storage key/, JSON.stringify(key));
      await assert.rejects(d.stat(key), /invalid storage key/, JSON.stringify(key));
    }
    await assert.rejects(d.list({ prefix: 'a/../' }), /invalid storage prefix/);
  });

  it('gets a new token once when the backend rejects the current one', async () => {
    // A pre-authenticated driver with a token Swift does not know: the first
    // call gets a 401, authenticates with the credentials, and succeeds.
    const d = track(driverFor(env, { storageUrl: env.storageUrl, token: 'AUTH_tkbogus0000' }));
    await d.put('k', Buffer.from('v'));
    assert.equal((await d.get('k'))!.toString(), 'v');
    assert.notEqual((await swiftAuthInfo(d)).token, 'AUTH_tkbogus0000');

    // A token revoked while in use (also for a streamed, segmented put, whose
    // body is replayed after the 401).
    const session = swiftSession(d)!;
    session.token = 'AUTH_tkrevoked000';
    const big = randomBytes(3 * MiB + 5);
    const info = await d.put('streamed', Readable.from([big.subarray(0, MiB), big.subarray(MiB)]));
    assert.equal(info.size, big.length);
    assert.equal(sha((await d.get('streamed'))!), sha(big));
    swiftSession(d)!.token = 'AUTH_tkrevoked001';
    assert.equal(sha(await readAll(await d.read('streamed'))), sha(big));

    // Wrong credentials: no endless loop, a StorageUnavailableError.
    const bad = driverFor(env, { password: 'wrong', retries: 0 });
    await assert.rejects(bad.put('k', Buffer.from('v')), StorageUnavailableError);
  });

  it('stores large objects as segments + SLO manifest; concat and move copy no data', async () => {
    const d = track(driverFor(env, { segmentThreshold: 64 * 1024 }));
    const name = swiftParts(d).cfg.container;
    const a = randomBytes(200 * 1024);
    const b = randomBytes(100); // small: a plain object, copied into a segment by concat
    const c = randomBytes(300 * 1024);
    await d.put('up/0', Readable.from([a]));
    await d.put('up/1', b);
    await d.put('up/2', c);
    const manifestOf = async (key: string) => {
      const r = await raw(env, 'GET', `${name}/${key}?multipart-manifest=get`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('x-static-large-object'), 'True', `${key} is not an SLO`);
      return JSON.parse(r.body) as { name: string; bytes: number }[];
    };
    const seg0 = (await manifestOf('up/0')).map((s) => s.name);
    assert.ok(
      seg0.every((n) => n.startsWith(`/${name}_segments/`)),
      'segments live in the segments container',
    );

    const info = await d.concat('blob', ['up/0', 'up/1', 'up/2']);
    assert.equal(info.size, a.length + b.length + c.length);
    const blobSegs = (await manifestOf('blob')).map((s) => s.name);
    assert.equal(blobSegs.length, 3);
    assert.equal(blobSegs[0], seg0[0], 'the source segment is reused, not copied');

    await d.deleteConcatSources('blob', ['up/0', 'up/1', 'up/2']);
    assert.deepEqual((await d.list({ prefix: 'up/' })).entries, []);
    assert.equal(sha((await d.get('blob'))!), sha(Buffer.concat([a, b, c])));

    await d.move('blob', 'moved');
    assert.deepEqual(
      (await manifestOf('moved')).map((s) => s.name),
      blobSegs,
      'move copies the manifest only',
    );
    assert.equal(sha((await d.get('moved'))!), sha(Buffer.concat([a, b, c])));

    // delete of an SLO takes its segments along.
    assert.equal(await d.delete('moved'), true);
    for (const seg of blobSegs) {
      assert.equal((await raw(env, 'HEAD', seg.slice(1))).status, 404, `${seg} left behind`);
    }
  });

  it('deleteConcatSources of an upload that never published removes chunks and segments', async () => {
    const d = track(driverFor(env, { segmentThreshold: 1 }));
    assert.equal(d.concatKeepsSources, true);
    const name = swiftParts(d).cfg.container;
    await d.put('up/0', Readable.from([randomBytes(1000)]));
    await d.put('up/1', randomBytes(10));
    const segs: string[] = [];
    for (const k of ['up/0', 'up/1']) {
      const r = await raw(env, 'GET', `${name}/${k}?multipart-manifest=get`);
      segs.push(...(JSON.parse(r.body) as { name: string }[]).map((s) => s.name));
    }
    assert.equal(segs.length, 2);
    await d.deleteConcatSources('never-published', ['up/0', 'up/1']);
    assert.deepEqual((await d.list({ prefix: 'up/' })).entries, []);
    for (const seg of segs) assert.equal((await raw(env, 'HEAD', seg.slice(1))).status, 404, `${seg} left behind`);
  });

  it('nests manifests past the segment limit, and splits long streams into segments', async () => {
    const d = track(driverFor(env, { segmentThreshold: 1, segmentSize: 256 * 1024, maxManifestSegments: 4 }));
    // 1.1 MiB streamed: 5 segments of at most 256 KiB.
    const data = randomBytes(MiB + 100 * 1024);
    await d.put('one', Readable.from([data]));
    const parts = Array.from({ length: 9 }, (_, i) => randomBytes(1000 + i));
    for (let i = 0; i < parts.length; i++) await d.put(`p/${i}`, parts[i]!);
    const all = [data, ...parts];
    const info = await d.concat('nested', ['one', ...parts.map((_, i) => `p/${i}`)]);
    assert.equal(
      info.size,
      all.reduce((n, b) => n + b.length, 0),
    );
    assert.equal(sha((await d.get('nested'))!), sha(Buffer.concat(all)));
    const whole = Buffer.concat(all);
    const at = 256 * 1024 - 7;
    assert.ok((await readAll(await d.read('nested', { start: at, end: at + 300_000 }))).equals(whole.subarray(at, at + 300_001)));
    await d.deleteConcatSources('nested', ['one', ...parts.map((_, i) => `p/${i}`)]);
    assert.equal(sha((await d.get('nested'))!), sha(whole));
    assert.equal(await d.delete('nested'), true);
  });

  it('presigns GETs as TempURLs that plain fetch can use', async () => {
    const d = track(driverFor(env, { tempUrlKey: 'wharf-test-temp-url-key', segmentThreshold: 1024 }));
    assert.equal(await driverFor(env).presignGet('x', 60), null, 'no tempUrlKey: no presigned URLs');
    const small = Buffer.from('presigned small');
    const large = randomBytes(300 * 1024); // an SLO with its segments in the other container
    await d.put('dir/small:1', small);
    await d.put('dir/large', Readable.from([large]));
    const u1 = (await d.presignGet('dir/small:1', 60))!;
    const r1 = await fetch(u1);
    assert.equal(r1.status, 200);
    assert.ok(Buffer.from(await r1.arrayBuffer()).equals(small));
    const r2 = await fetch((await d.presignGet('dir/large', 60))!);
    assert.equal(r2.status, 200);
    assert.equal(sha(Buffer.from(await r2.arrayBuffer())), sha(large));
    const ranged = await fetch((await d.presignGet('dir/large', 60))!, { headers: { Range: 'bytes=10-19' } });
    assert.equal(ranged.status, 206);
    assert.ok(Buffer.from(await ranged.arrayBuffer()).equals(large.subarray(10, 20)));
    // A tampered signature or another object: refused.
    const bad = u1.replace(/temp_url_sig=([0-9a-f])/, (_, c: string) => `temp_url_sig=${c === '0' ? '1' : '0'}`);
    assert.equal((await fetch(bad)).status, 401);
    assert.equal((await fetch(u1.replace(/dir\/small[^?]*/, 'dir/large'))).status, 401);
  });

  it('Keystone v3 password auth: token and object-store endpoint from the catalog', async () => {
    const ks = await fakeKeystone(env);
    try {
      const d = track(
        new SwiftDriver({
          authUrl: `${ks.url}/v3`,
          authVersion: 3,
          username: 'alice',
          password: 'secret',
          projectName: 'wharf',
          projectDomainName: 'pd',
          userDomainName: 'ud',
          region: 'RegionTwo',
          container: uniqueName('wharf-ks'),
        }),
      );
      ks.bogusFirst = true; // the first token is not valid: one 401, one more auth
      await d.put('k', Buffer.from('via keystone'));
      assert.equal((await d.get('k'))!.toString(), 'via keystone');
      assert.equal(ks.requests.length, 2);
      const body = ks.requests[0]!;
      assert.deepEqual(body.auth.identity.password.user, { name: 'alice', domain: { name: 'ud' }, password: 'secret' });
      assert.deepEqual(body.auth.scope, { project: { name: 'wharf', domain: { name: 'pd' } } });

      // A region with no object-store endpoint: a clear error.
      const nowhere = new SwiftDriver({
        authUrl: ks.url,
        username: 'alice',
        password: 'secret',
        projectName: 'wharf',
        region: 'Nowhere',
        container: uniqueName('wharf-ks'),
        retries: 0,
      });
      await assert.rejects(nowhere.stat('k'), /no public object-store endpoint in region Nowhere/);
    } finally {
      await ks.close();
    }
  });

  it('reads a named cloud from clouds.yaml (Keystone v3 and v1password)', async () => {
    const ks = await fakeKeystone(env);
    const dir = mkdtempSync(join(tmpdir(), 'wharf-clouds-'));
    const saved = process.env.OS_CLIENT_CONFIG_FILE;
    try {
      writeFileSync(
        join(dir, 'clouds.yaml'),
        [
          'clouds:',
          '  wharf-ks:',
          '    auth:',
          `      auth_url: ${ks.url}/v3`,
          '      username: alice',
          '      password: secret',
          '      project_name: wharf',
          '      project_domain_name: pd',
          '      user_domain_name: ud',
          '    region_name: RegionTwo',
          '    identity_api_version: 3',
          '  wharf-v1:',
          '    auth_type: v1password',
          '    auth:',
          `      auth_url: ${env.authUrl}`,
          `      username: ${env.user}`,
          `      password: ${env.key}`,
          '',
        ].join('\n'),
      );
      process.env.OS_CLIENT_CONFIG_FILE = join(dir, 'clouds.yaml');
      const cfg = loadCloud('wharf-ks');
      assert.equal(cfg.authUrl, `${ks.url}/v3`);
      assert.equal(cfg.region, 'RegionTwo');
      assert.equal(cfg.authVersion, 3);
      const d1 = track(new SwiftDriver({ cloud: 'wharf-ks', container: uniqueName('wharf-cloud') }));
      await d1.put('k', Buffer.from('cloud ks'));
      assert.equal((await d1.get('k'))!.toString(), 'cloud ks');
      assert.equal(ks.requests.length, 1);
      const d2 = track(new SwiftDriver({ cloud: 'wharf-v1', container: uniqueName('wharf-cloud') }));
      await d2.put('k', Buffer.from('cloud v1'));
      assert.equal((await d2.get('k'))!.toString(), 'cloud v1');
      assert.throws(() => new SwiftDriver({ cloud: 'nope', container: 'c' }), /no cloud "nope"/);
    } finally {
      if (saved === undefined) delete process.env.OS_CLIENT_CONFIG_FILE;
      else process.env.OS_CLIENT_CONFIG_FILE = saved;
      rmSync(dir, { recursive: true, force: true });
      await ks.close();
    }
  });

  describe('backend faults (Swift only; the suite has the rest)', () => {
    const fast = { timeoutMs: 400, retries: 2, baseDelayMs: 20, maxDelayMs: 100 };
    const budget = worstCaseMs(retryPolicy(fast)) + 1500;

    it('a closed auth endpoint: StorageUnavailableError after bounded retries', async () => {
      const port = await closedPort();
      const d = new SwiftDriver({
        authUrl: `http://127.0.0.1:${port}/auth/v1.0`,
        username: env.user,
        password: env.key,
        container: 'c',
        ...fast,
      });
      for (const op of [
        () => d.stat('k'),
        () => d.put('k', Buffer.from('x')),
        () => d.list({ prefix: '' }),
        () => d.read('k'),
      ] as (() => Promise<unknown>)[]) {
        const { err, ms } = await timed(op());
        assert.ok(err instanceof StorageUnavailableError, `expected StorageUnavailableError, got ${String(err)}`);
        assert.match(err.message, /ECONNREFUSED/);
        assert.ok(ms < budget, `took ${ms} ms (budget ${budget})`);
      }
    });

    it('a hung backend: a streamed put gets one attempt (its body is consumed)', async () => {
      const hole = await blackhole();
      try {
        const d = new SwiftDriver({ storageUrl: `${hole.url}/v1/AUTH_test`, token: 'AUTH_tkx', container: 'c', ...fast });
        swiftParts(d).containers.ready = Promise.resolve();
        const big = Readable.from([randomBytes(2 * MiB)]);
        const { err, ms } = await timed(d.put('s', big));
        assert.ok(err instanceof StorageUnavailableError, String(err));
        assert.ok(ms < 400 + 1500, `streamed put took ${ms} ms`);
        assert.equal(hole.requests.length, 1, 'a streamed put is not retried');
      } finally {
        await hole.close();
      }
    });
  });
});

// ------------------------------------------------------------ fake Keystone

interface KeystoneAuthBody {
  auth: {
    identity: { password: { user: { name: string; domain: unknown; password: string } } };
    scope?: unknown;
  };
}

/**
 * A minimal Keystone v3: POST /v3/auth/tokens hands out a real tempauth token
 * (so the real Swift accepts it) and a catalog with object-store endpoints in
 * two regions (only RegionTwo's is real).
 */
async function fakeKeystone(
  env: SwiftEnv,
): Promise<{ url: string; requests: KeystoneAuthBody[]; bogusFirst: boolean; close(): Promise<void> }> {
  const state = { url: '', requests: [] as KeystoneAuthBody[], bogusFirst: false, close: async () => {} };
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        if (req.method !== 'POST' || req.url !== '/v3/auth/tokens') {
          res.writeHead(404).end();
          return;
        }
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as KeystoneAuthBody;
        state.requests.push(body);
        const user = body.auth.identity.password.user;
        if (user.name !== 'alice' || user.password !== 'secret') {
          res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"error":{"code":401}}');
          return;
        }
        const bogus = state.bogusFirst && state.requests.length === 1;
        const { token } = await swiftToken(env);
        const catalog = [
          { type: 'identity', endpoints: [{ interface: 'public', region_id: 'RegionTwo', url: state.url }] },
          {
            type: 'object-store',
            endpoints: [
              { interface: 'public', region_id: 'RegionOne', region: 'RegionOne', url: 'http://127.0.0.1:9/v1/AUTH_nowhere' },
              { interface: 'internal', region_id: 'RegionTwo', region: 'RegionTwo', url: 'http://127.0.0.1:9/v1/AUTH_internal' },
              { interface: 'public', region_id: 'RegionTwo', region: 'RegionTwo', url: env.storageUrl },
            ],
          },
        ];
        res.writeHead(201, { 'Content-Type': 'application/json', 'X-Subject-Token': bogus ? 'AUTH_tkbogusks' : token });
        res.end(JSON.stringify({ token: { expires_at: new Date(Date.now() + 3600_000).toISOString(), catalog } }));
      })();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  state.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  state.close = () => new Promise<void>((r) => server.close(() => r()));
  return state;
}
