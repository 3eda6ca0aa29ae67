// POST /admin/v1/promote against a listening `wharf serve` (filesystem
// storage): an image and an index promoted from one namespace to another are
// served there byte for byte, as hard links of the source's blobs; the target
// gets the push events; bad requests and missing sources answer their 4xx and
// leave the target untouched; with users, the caller needs pull on the source
// and push on the target; a read-only registry refuses.
//   npm run build && node --test --test-concurrency=1 dist/test/http/promote.test.js
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { basic, digestOf, pushImage as pushImageAs, raw } from '../helpers/auth.js';
import { startReceiver, waitFor, type Receiver } from '../helpers/ops.js';
import { expectError, OCI_INDEX, OciClient, randomBlob } from '../helpers/oci-client.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';

const PATH = '/admin/v1/promote';

function promoteBody(from: [string, string, string], to: [string, string, string], extra: Record<string, unknown> = {}) {
  return JSON.stringify({
    from: { namespace: from[0], repository: from[1], reference: from[2] },
    to: { namespace: to[0], repository: to[1], tag: to[2] },
    ...extra,
  });
}

function post(w: WharfProcess, body: string, authorization?: string) {
  return new OciClient(w.url).request('POST', PATH, {
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body,
  });
}

function blobFile(w: WharfProcess, ns: string, digest: string): string {
  const [alg, hex] = digest.split(':');
  return join(w.dataDir, ns, 'blobs', alg!, hex!);
}

describe('promotion over HTTP', () => {
  let w: WharfProcess;
  let events: Receiver;
  before(async () => {
    events = await startReceiver();
    w = await startWharf({ registry: { notifications: { endpoints: [{ name: 'pushes', url: events.url, actions: ['push'] }] } } });
  });
  after(async () => {
    const out = w?.output() ?? '';
    await w?.cleanup();
    await events?.close();
    assert.doesNotMatch(out, /request failed/, `server logged internal failures:\n${out}`);
  });

  it('an image: 201 with what was copied; the target serves it byte for byte; its blobs are the same files; a push event', async () => {
    const bs = new OciClient(w.url, 'bs-1');
    const int = new OciClient(w.url, 'intermediate');
    const img = await bs.pushImage('app', 'latest', { layers: [randomBlob(200_000), randomBlob(3000)] });
    const r = await post(w, promoteBody(['bs-1', 'app', 'latest'], ['intermediate', 'app', 'change-42']));
    assert.equal(r.status, 201, r.text);
    assert.equal(r.header('docker-content-digest'), img.digest);
    const out = r.json();
    const bytes = img.config.size + img.layers.reduce((n, l) => n + l.size, 0);
    assert.deepEqual(out, {
      digest: img.digest,
      mediaType: img.mediaType,
      size: img.body.length,
      from: { namespace: 'bs-1', repository: 'app', reference: 'latest' },
      to: { namespace: 'intermediate', repository: 'app', tag: 'change-42' },
      copied: { blobs: 3, bytes },
      reused: { blobs: 0, bytes: 0 },
      linked: { blobs: 3, manifests: 1, referrers: 0 },
    });
    const m = await int.getManifest('app', 'change-42');
    assert.equal(m.status, 200);
    assert.ok(m.body.equals(img.body));
    for (const l of [img.config, ...img.layers]) {
      const b = await int.getBlob('app', l.digest);
      assert.equal(b.status, 200);
      assert.equal(b.body.length, l.size);
      // No byte moved: the target's blob file is the source's (one inode).
      const [src, dst] = [statSync(blobFile(w, 'bs-1', l.digest)), statSync(blobFile(w, 'intermediate', l.digest))];
      assert.equal(dst.ino, src.ino, `${l.digest} was copied`);
    }
    // The source is unchanged, and the default namespace has nothing of it.
    assert.equal((await bs.getManifest('app', 'latest')).status, 200);
    expectError(await new OciClient(w.url).getManifest('app', 'change-42'), 404, 'MANIFEST_UNKNOWN');
    const ev = await waitFor('the promotion push event', () =>
      events.events().find((e) => e.target.tag === 'change-42' && e.target.digest === img.digest),
    );
    assert.equal(ev.action, 'push');
    assert.equal(ev.target.namespace, 'intermediate');
    assert.equal(ev.target.repository, 'app');
    // Promoted again (by digest, into another repository): nothing to copy.
    const again = await post(w, promoteBody(['bs-1', 'app', img.digest], ['intermediate', 'other/app', 'v1']));
    assert.equal(again.status, 201, again.text);
    assert.deepEqual(again.json().copied, { blobs: 0, bytes: 0 });
    assert.deepEqual(again.json().reused, { blobs: 3, bytes });
  });

  it('an index of two images, with the referrers of its children on request', async () => {
    const bs = new OciClient(w.url, 'bs-2');
    const int = new OciClient(w.url, 'intermediate');
    const a = await bs.pushImage('multi', undefined, { platform: { os: 'linux', architecture: 'amd64' } });
    const b = await bs.pushImage('multi', undefined, { platform: { os: 'linux', architecture: 'arm64' } });
    const sig = await bs.pushImage('multi', undefined, { artifactType: 'application/vnd.example.sig', subject: a.descriptor });
    const idx = await bs.pushIndex('multi', 'v2', [a.descriptor, b.descriptor]);
    const r = await post(w, promoteBody(['bs-2', 'multi', 'v2'], ['intermediate', 'multi', 'v2'], { referrers: true }));
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(r.json().linked, { blobs: 6, manifests: 4, referrers: 1 });
    const got = await int.getManifest('multi', 'v2', OCI_INDEX);
    assert.equal(got.status, 200);
    assert.equal(got.header('docker-content-digest'), idx.digest);
    for (const child of [a, b, sig]) assert.ok((await int.getManifest('multi', child.digest)).body.equals(child.body));
    const refs = await int.referrers('multi', a.digest);
    assert.deepEqual(
      refs.json<{ manifests: { digest: string }[] }>().manifests.map((m) => m.digest),
      [sig.digest],
    );
  });

  it('bad requests and missing sources: their 4xx, and nothing in the target', async () => {
    const bs = new OciClient(w.url, 'bs-3');
    await bs.pushImage('app', 'v1');
    const t = 'untouched';
    const cases: [string, string, number, string][] = [
      ['not JSON', '{"from":', 400, 'UNSUPPORTED'],
      ['no "to"', JSON.stringify({ from: { repository: 'app', reference: 'v1' } }), 400, 'UNSUPPORTED'],
      [
        'a number for a name',
        JSON.stringify({ from: { repository: 1, reference: 'v1' }, to: { repository: 'a', tag: 't' } }),
        400,
        'UNSUPPORTED',
      ],
      ['referrers not a boolean', promoteBody(['bs-3', 'app', 'v1'], [t, 'app', 'v1'], { referrers: 'yes' }), 400, 'UNSUPPORTED'],
      ['bad source repository', promoteBody(['bs-3', 'App', 'v1'], [t, 'app', 'v1']), 400, 'NAME_INVALID'],
      ['bad target repository', promoteBody(['bs-3', 'app', 'v1'], [t, 'a//b', 'v1']), 400, 'NAME_INVALID'],
      ['bad namespace', promoteBody(['bs-3', 'app', 'v1'], ['Not/A/Namespace', 'app', 'v1']), 400, 'NAME_INVALID'],
      ['bad tag', promoteBody(['bs-3', 'app', 'v1'], [t, 'app', '.v1']), 400, 'TAG_INVALID'],
      ['a digest as the target tag', promoteBody(['bs-3', 'app', 'v1'], [t, 'app', `sha256:${'a'.repeat(64)}`]), 400, 'TAG_INVALID'],
      ['unknown repository', promoteBody(['bs-3', 'nope', 'v1'], [t, 'app', 'v1']), 404, 'NAME_UNKNOWN'],
      ['unknown source namespace', promoteBody(['never-used', 'app', 'v1'], [t, 'app', 'v1']), 404, 'NAME_UNKNOWN'],
      ['unknown tag', promoteBody(['bs-3', 'app', 'v9'], [t, 'app', 'v1']), 404, 'MANIFEST_UNKNOWN'],
      ['unknown digest', promoteBody(['bs-3', 'app', `sha256:${'0'.repeat(64)}`], [t, 'app', 'v1']), 404, 'MANIFEST_UNKNOWN'],
    ];
    for (const [what, body, status, code] of cases) expectError(await post(w, body), status, code, what);
    // Too large a body: 413 before it is parsed.
    expectError(await post(w, ' '.repeat(70 * 1024)), 413, 'TOO_LARGE', 'huge body');
    // Only POST.
    const get = await new OciClient(w.url).request('GET', PATH);
    expectError(get, 405, 'UNSUPPORTED', 'GET');
    assert.equal(get.header('allow'), 'POST');
    assert.equal(existsSync(join(w.dataDir, t)), false, 'a failed promotion wrote into the target');
  });
});

describe('promotion with users and rules', () => {
  const SECRET = 'test-secret-0123456789abcdef0123456789';
  const CI = basic('ci', 'ci-password');
  const READER = basic('reader', 'reader-password');
  const GATE = basic('gate', 'gate-password');
  let w: WharfProcess;
  before(async () => {
    w = await startWharf({
      registry: {
        secret: SECRET,
        users: [
          { name: 'ci', pass: bcrypt.hashSync('ci-password', 4), access: 'write' },
          { name: 'reader', pass: bcrypt.hashSync('reader-password', 4), access: 'read' },
          { name: 'gate', pass: bcrypt.hashSync('gate-password', 4), access: 'none' },
        ],
        access: [
          { namespace: 'bs-*', repository: '*', users: ['gate'], actions: ['pull'] },
          { namespace: 'intermediate', repository: 'team/*', users: ['gate'], actions: ['pull', 'push'] },
        ],
      },
    });
    const r = await raw(w.url, 'GET', '/v2/'); // up
    assert.equal(r.status, 401);
  });
  after(async () => {
    const out = w?.output() ?? '';
    await w?.cleanup();
    assert.doesNotMatch(out, /request failed/, `server logged internal failures:\n${out}`);
  });

  it('anonymous 401, a reader 403 DENIED, a rule-scoped user only where the rules allow, a writer everywhere', async () => {
    await pushImageAs(w.url, 'app', 'v1', CI); // in the default namespace
    // The source: a buildset namespace.
    const q = (ns: string) => `?ns=${ns}`;
    const cfg = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const up = await raw(w.url, 'POST', `/v2/app/blobs/uploads/${q('bs-9')}&digest=${digestOf(cfg)}`, {
      headers: { authorization: CI, 'content-type': 'application/octet-stream' },
      body: cfg,
    });
    assert.equal(up.status, 201, up.text);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(cfg), size: cfg.length },
      layers: [],
    });
    const put = await raw(w.url, 'PUT', `/v2/app/manifests/v1${q('bs-9')}`, {
      headers: { authorization: CI, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: manifest,
    });
    assert.equal(put.status, 201, put.text);

    const toTeam = promoteBody(['bs-9', 'app', 'v1'], ['intermediate', 'team/app', 'v1']);
    const toOther = promoteBody(['bs-9', 'app', 'v1'], ['intermediate', 'other', 'v1']);
    const anon = await post(w, toTeam);
    expectError(anon, 401, 'UNAUTHORIZED', 'anonymous');
    assert.match(anon.header('www-authenticate') ?? '', /^Bearer /);
    expectError(await post(w, toTeam, basic('ci', 'wrong')), 401, 'UNAUTHORIZED', 'wrong password');
    expectError(await post(w, toTeam, READER), 403, 'DENIED', 'reader: no push on the target');
    expectError(await post(w, toOther, GATE), 403, 'DENIED', 'gate: no push outside team/*');
    expectError(
      await post(w, promoteBody(['default', 'app', 'v1'], ['intermediate', 'team/app', 'v1']), GATE),
      403,
      'DENIED',
      'gate: no pull in default',
    );
    assert.equal(existsSync(join(w.dataDir, 'intermediate')), false, 'a refused promotion wrote into the target');
    const ok = await post(w, toTeam, GATE);
    assert.equal(ok.status, 201, ok.text);
    const ok2 = await post(w, toOther, CI);
    assert.equal(ok2.status, 201, ok2.text);
    const got = await raw(w.url, 'GET', `/v2/team/app/manifests/v1${q('intermediate')}`, {
      headers: { authorization: GATE, accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(got.status, 200, got.text);
    assert.equal(got.text, manifest);
  });
});

describe('promotion into a read-only registry', () => {
  it('403 DENIED, nothing written', async () => {
    const w = await startWharf({ registry: { 'read-only': true } });
    try {
      const r = await post(w, promoteBody(['bs-1', 'app', 'v1'], ['intermediate', 'app', 'v1']));
      expectError(r, 403, 'DENIED', 'read-only');
      assert.match(r.text, /read-only/);
      assert.equal(existsSync(join(w.dataDir, 'intermediate')), false);
    } finally {
      await w.cleanup();
    }
  });
});
