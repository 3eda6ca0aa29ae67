// Attacks on access control, each against a live `wharf serve`; every test
// fails while the hole it names exists: forged tokens (wrong key, alg none,
// HS/RS confusion, tampered claims), expired tokens, a token for one
// repository or namespace used on another, pull->push escalation, catalog
// leaks, blobs read through a repository that never linked them, mounts of
// blobs the caller cannot read, upload ids of other repositories and
// namespaces, and path traversal in names, digests, tags and namespaces.
//   npm run build && node --test --test-concurrency=1 dist/test/http/auth*.test.js
// Not in test:quick: needs openssl (a Debian package).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';
import { basic, bearer, digestOf, parseChallenge, pushBlob, pushImage, raw, rawJwt, token, tokenRequest } from '../helpers/auth.js';

const SECRET = 'attack-test-secret-0123456789abcdef012345';
const CI = { user: 'ci', pass: 'ci-password' };
const VIEWER = { user: 'viewer', pass: 'viewer-password' };
const ALICE = { user: 'alice', pass: 'alice-password' };

const USERS = [
  { name: CI.user, pass: CI.pass, access: 'write' },
  { name: VIEWER.user, pass: VIEWER.pass, access: 'read' },
  { name: ALICE.user, pass: ALICE.pass, access: 'none', groups: ['team'] },
];
const RULES = [{ repository: 'team/*', groups: ['team'], actions: ['pull', 'push'] }];

const now = () => Math.floor(Date.now() / 1000);

/** Claims of a token Wharf would issue for `sub` with `access` (for forging variants of it). */
function claims(sub: string, access: object[], extra: Record<string, unknown> = {}) {
  return { iss: 'wharf', aud: 'wharf', sub, iat: now(), nbf: now(), exp: now() + 300, ns: 'default', access, ...extra };
}
const PUSH_SECRET = [{ type: 'repository', name: 'secret/app', actions: ['pull', 'push', 'delete'] }];

function hs256(key: Uint8Array, payload: Record<string, unknown>, header: Record<string, unknown> = {}) {
  return new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT', ...header }).sign(key);
}

describe('auth attacks (HS256 secret)', () => {
  let w: WharfProcess;
  let secretImg: Awaited<ReturnType<typeof pushImage>>;
  const ci = basic(CI.user, CI.pass);
  const alice = basic(ALICE.user, ALICE.pass);

  before(async () => {
    w = await startWharf({ registry: { secret: SECRET, users: USERS, access: RULES } });
    secretImg = await pushImage(w.url, 'secret/app', 'v1', ci);
    await pushImage(w.url, 'team/a', 'v1', alice);
    await pushImage(w.url, 'team/b', 'v1', alice);
    await pushImage(w.url, 'zzz/hidden', 'v1', ci);
  });
  after(async () => {
    const out = w.output();
    await w.cleanup();
    assert.doesNotMatch(out, /request failed/, out);
  });

  /** Expect the forged/invalid bearer token to be refused with 401 invalid_token on a push route. */
  async function refused(tok: string, what: string) {
    const r = await raw(w.url, 'POST', '/v2/secret/app/blobs/uploads/', { headers: { authorization: bearer(tok) } });
    assert.equal(r.status, 401, `${what}: ${r.status} ${r.text}`);
    assert.equal(parseChallenge(r.header('www-authenticate')).error, 'invalid_token', what);
    const g = await raw(w.url, 'GET', '/v2/secret/app/manifests/v1', { headers: { authorization: bearer(tok) } });
    assert.equal(g.status, 401, `${what} (pull): ${g.status}`);
  }

  it('control: a correctly signed token with these claims is accepted', async () => {
    const tok = await hs256(new TextEncoder().encode(SECRET), claims('ci', PUSH_SECRET));
    const r = await raw(w.url, 'POST', '/v2/secret/app/blobs/uploads/', { headers: { authorization: bearer(tok) } });
    assert.equal(r.status, 202, r.text);
  });

  it('forged JWT: signed with another key', async () => {
    await refused(await hs256(randomBytes(32), claims('ci', PUSH_SECRET)), 'wrong key');
    await refused(await hs256(new TextEncoder().encode(`${SECRET}x`), claims('ci', PUSH_SECRET)), 'near-miss key');
  });

  it('forged JWT: alg none (with and without a signature part)', async () => {
    for (const alg of ['none', 'None', 'NONE']) {
      await refused(rawJwt({ alg, typ: 'JWT' }, claims('ci', PUSH_SECRET)), `alg ${alg}`);
      await refused(rawJwt({ alg, typ: 'JWT' }, claims('ci', PUSH_SECRET), 'x'), `alg ${alg} + junk signature`);
    }
  });

  it("forged JWT: RS256 token signed with the attacker's own key (and its key embedded as jwk)", async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = publicKey.export({ format: 'jwk' });
    const t = await new SignJWT(claims('ci', PUSH_SECRET)).setProtectedHeader({ alg: 'RS256', typ: 'JWT', jwk }).sign(privateKey);
    await refused(t, 'RS256 with attacker key');
  });

  it('tampered claims: a real pull token edited to grant push (escalation by editing)', async () => {
    const real = await token(w.url, ['repository:secret/app:pull'], VIEWER);
    const [h, , sig] = real.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify(claims('viewer', PUSH_SECRET))).toString('base64url')}.${sig}`;
    await refused(forged, 'tampered payload');
  });

  it('expired tokens are refused with invalid_token (even when correctly signed)', async () => {
    const key = new TextEncoder().encode(SECRET);
    await refused(await hs256(key, claims('ci', PUSH_SECRET, { iat: now() - 7200, nbf: now() - 7200, exp: now() - 3600 })), 'expired');
    await refused(await hs256(key, claims('ci', PUSH_SECRET, { nbf: now() + 3600 })), 'not yet valid');
    const { exp: _e, ...noExp } = claims('ci', PUSH_SECRET);
    await refused(await hs256(key, noExp), 'no exp');
  });

  it('tokens for another audience/issuer, of another type, or of a removed user are refused', async () => {
    const key = new TextEncoder().encode(SECRET);
    await refused(await hs256(key, claims('ci', PUSH_SECRET, { aud: 'other-registry' })), 'audience');
    await refused(await hs256(key, claims('ci', PUSH_SECRET, { iss: 'evil' })), 'issuer');
    await refused(await hs256(key, claims('ci', PUSH_SECRET), { typ: 'wharf-refresh+jwt' }), 'refresh type');
    await refused(await hs256(key, claims('mallory', PUSH_SECRET)), 'unknown subject');
    await refused(await hs256(key, claims('ci', [{ type: 'repository', name: 'secret/app', actions: 'push' }])), 'malformed access claim');
  });

  it('a token for repository A does not work on repository B', async () => {
    const t = await token(w.url, ['repository:team/a:pull,push'], ALICE);
    const auth = { authorization: bearer(t) };
    assert.equal((await raw(w.url, 'GET', '/v2/team/a/manifests/v1', { headers: auth })).status, 200);
    // B is allowed by the rules but not in the token: 401 insufficient_scope (get another token).
    const b = await raw(w.url, 'GET', '/v2/team/b/manifests/v1', { headers: auth });
    assert.equal(b.status, 401);
    assert.equal(parseChallenge(b.header('www-authenticate')).error, 'insufficient_scope');
    // A repository the user may not read at all: 403.
    const s = await raw(w.url, 'GET', '/v2/secret/app/manifests/v1', { headers: auth });
    assert.equal(s.status, 403);
    // Name tricks: prefixes and look-alikes are other repositories.
    assert.equal((await raw(w.url, 'GET', '/v2/team/a/b/tags/list', { headers: auth })).status, 401);
    assert.equal((await raw(w.url, 'GET', '/v2/team/a-x/tags/list', { headers: auth })).status, 401);
  });

  it('a token for one namespace does not work in another', async () => {
    const t = await token(w.url, ['repository:secret/app:pull,push'], CI);
    const r = await raw(w.url, 'GET', '/v2/secret/app/tags/list?ns=other', { headers: { authorization: bearer(t) } });
    assert.equal(r.status, 401);
    assert.equal(parseChallenge(r.header('www-authenticate')).realm, `${w.url}/auth/token?ns=other`);
  });

  it('pull -> push escalation: a read user asking for push gets pull only, and cannot push', async () => {
    const r = await tokenRequest(w.url, ['repository:secret/app:pull,push,delete', 'repository:secret/app:*'], VIEWER);
    assert.equal(r.json().scope, 'repository:secret/app:pull');
    const auth = { authorization: bearer(r.json().token) };
    for (const [method, path] of [
      ['POST', '/v2/secret/app/blobs/uploads/'],
      ['PUT', '/v2/secret/app/manifests/v2'],
      ['DELETE', `/v2/secret/app/manifests/${secretImg.manifest}`],
      ['DELETE', `/v2/secret/app/blobs/${secretImg.layer}`],
    ] as const) {
      const x = await raw(w.url, method, path, {
        headers: { ...auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
        body: method === 'PUT' ? secretImg.body : undefined,
      });
      assert.equal(x.status, 403, `${method} ${path}: ${x.status}`);
      const y = await raw(w.url, method, path, { headers: { authorization: basic(VIEWER.user, VIEWER.pass) } });
      assert.equal(y.status, 403, `basic ${method} ${path}: ${y.status}`);
    }
    assert.equal((await raw(w.url, 'GET', `/v2/secret/app/manifests/${secretImg.manifest}`, { headers: auth })).status, 200);
  });

  it('catalog: filtered to what the caller may pull, pagination included; needs credentials', async () => {
    const all = await raw(w.url, 'GET', '/v2/_catalog', { headers: { authorization: basic(CI.user, CI.pass) } });
    assert.deepEqual(all.json().repositories, ['secret/app', 'team/a', 'team/b', 'zzz/hidden']);
    const mine = await raw(w.url, 'GET', '/v2/_catalog', { headers: { authorization: alice } });
    assert.deepEqual(mine.json().repositories, ['team/a', 'team/b']);
    // Page by page: nothing hidden shows up, and the last page has no next link.
    const p1 = await raw(w.url, 'GET', '/v2/_catalog?n=1', { headers: { authorization: alice } });
    assert.deepEqual(p1.json().repositories, ['team/a']);
    assert.match(p1.header('link') ?? '', /last=team%2Fa/);
    const p2 = await raw(w.url, 'GET', '/v2/_catalog?n=1&last=team%2Fa', { headers: { authorization: alice } });
    assert.deepEqual(p2.json().repositories, ['team/b']);
    assert.equal(p2.header('link'), undefined, 'a next link would reveal that hidden repositories follow');
    // With a token: needs registry:catalog:*, and is filtered the same way.
    const t = await token(w.url, ['registry:catalog:*'], ALICE);
    const viaToken = await raw(w.url, 'GET', '/v2/_catalog', { headers: { authorization: bearer(t) } });
    assert.deepEqual(viaToken.json().repositories, ['team/a', 'team/b']);
    const noScope = await token(w.url, ['repository:team/a:pull'], ALICE);
    const ns = await raw(w.url, 'GET', '/v2/_catalog', { headers: { authorization: bearer(noScope) } });
    assert.equal(ns.status, 401);
    assert.equal(parseChallenge(ns.header('www-authenticate')).scope, 'registry:catalog:*');
    assert.equal((await raw(w.url, 'GET', '/v2/_catalog')).status, 401);
  });

  it('a blob is not readable through a repository that never linked it', async () => {
    // alice may read team/a, and knows the digest of a layer of secret/app.
    for (const method of ['GET', 'HEAD']) {
      const r = await raw(w.url, method, `/v2/team/a/blobs/${secretImg.layer}`, { headers: { authorization: alice } });
      assert.equal(r.status, 404, `${method}: ${r.status}`);
    }
    const m = await raw(w.url, 'GET', `/v2/team/a/manifests/${secretImg.manifest}`, { headers: { authorization: alice } });
    assert.equal(m.status, 404);
    // And a manifest that references it cannot be pushed into team/a either.
    const put = await raw(w.url, 'PUT', '/v2/team/a/manifests/stolen', {
      headers: { authorization: alice, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: secretImg.body,
    });
    assert.equal(put.status, 400);
    assert.equal(put.json().errors[0].code, 'MANIFEST_BLOB_UNKNOWN');
  });

  it('mount needs pull on `from`; a mount without `from` cannot link a blob the caller could not read', async () => {
    const cases = [
      `/v2/team/a/blobs/uploads/?mount=${secretImg.layer}&from=secret/app`,
      `/v2/team/a/blobs/uploads/?mount=${secretImg.layer}`,
      `/v2/team/a/blobs/uploads/?mount=${secretImg.layer}&from=team/b`,
    ];
    for (const path of cases) {
      const r = await raw(w.url, 'POST', path, { headers: { authorization: alice } });
      assert.equal(r.status, 202, `${path}: expected an ordinary upload, got ${r.status}`);
      assert.match(r.header('location') ?? '', /\/v2\/team\/a\/blobs\/uploads\/[0-9a-f-]{36}/);
    }
    assert.equal((await raw(w.url, 'GET', `/v2/team/a/blobs/${secretImg.layer}`, { headers: { authorization: alice } })).status, 404);
    // With pull on the source the mount works.
    const teamBlob = await pushBlob(w.url, 'team/b', randomBytes(64), alice);
    const ok = await raw(w.url, 'POST', `/v2/team/a/blobs/uploads/?mount=${teamBlob}&from=team/b`, { headers: { authorization: alice } });
    assert.equal(ok.status, 201);
    const ciMount = await raw(w.url, 'POST', `/v2/ci/copy/blobs/uploads/?mount=${secretImg.layer}&from=secret/app`, {
      headers: { authorization: ci },
    });
    assert.equal(ciMount.status, 201);
  });

  it('an upload id is no capability in another repository or namespace', async () => {
    const start = await raw(w.url, 'POST', '/v2/team/a/blobs/uploads/', { headers: { authorization: alice } });
    assert.equal(start.status, 202);
    const id = start.header('docker-upload-uuid')!;
    const data = randomBytes(100);
    const d = digestOf(data);
    const attempts: [string, string, string][] = [
      ['PATCH', `/v2/team/b/blobs/uploads/${id}`, alice],
      ['PUT', `/v2/team/b/blobs/uploads/${id}?digest=${d}`, alice],
      ['GET', `/v2/team/b/blobs/uploads/${id}`, alice],
      ['DELETE', `/v2/team/b/blobs/uploads/${id}`, alice],
      ['PATCH', `/v2/ci/other/blobs/uploads/${id}`, ci],
      ['PUT', `/v2/team/a/blobs/uploads/${id}?digest=${d}&ns=other`, ci],
      ['PATCH', `/v2/team/a/blobs/uploads/${id}?ns=other`, ci],
    ];
    for (const [method, path, auth] of attempts) {
      const r = await raw(w.url, method, path, {
        headers: { authorization: auth, 'content-type': 'application/octet-stream' },
        body: data,
      });
      assert.equal(r.status, 404, `${method} ${path}: ${r.status} ${r.text}`);
      assert.equal(r.json().errors[0].code, 'BLOB_UPLOAD_UNKNOWN');
    }
    // viewer cannot touch it at all (no push), and a token of team/b cannot either.
    assert.equal(
      (await raw(w.url, 'GET', `/v2/team/a/blobs/uploads/${id}`, { headers: { authorization: basic(VIEWER.user, VIEWER.pass) } })).status,
      403,
    );
    // The upload itself is intact and still usable by its owner in its repository.
    const fin = await raw(w.url, 'PUT', `/v2/team/a/blobs/uploads/${id}?digest=${d}`, { headers: { authorization: alice }, body: data });
    assert.equal(fin.status, 201, fin.text);
  });

  it('path traversal in names, digests, tags, namespaces and mount sources is refused and writes nothing outside', async () => {
    const before = snapshot(dirname(w.dataDir));
    const paths = [
      '/v2/../../etc/passwd/manifests/latest',
      '/v2/..%2f..%2fetc/manifests/latest',
      '/v2/a/%2e%2e/%2e%2e/%2e%2e/x/tags/list',
      '/v2/%2e%2e/blobs/uploads/',
      '/v2/a%2f..%2f..%2fb/manifests/latest',
      '/v2/a/..%5c..%5cb/manifests/latest',
      '/v2/a/manifests/..',
      '/v2/a/manifests/..%2f..%2fx',
      '/v2/a/manifests/%2e%2e%2f%2e%2e%2fx',
      '/v2/a/manifests/sha256:..%2f..%2f..%2fetc%2fpasswd',
      '/v2/a/blobs/sha256:..%2f..%2fdata',
      `/v2/a/blobs/sha256:${'0'.repeat(62)}..`,
      '/v2/a/blobs/sha256:../../../../etc/passwd',
      '/v2/a/blobs/uploads/..%2f..%2frecord',
      '/v2/a/blobs/uploads/../../x',
      '/v2/a/referrers/sha256:..%2f..',
      '/v2/a/tags/list?ns=..%2f..%2fetc',
      '/v2/a/tags/list?ns=../x',
      `/v2/a/blobs/uploads/?mount=sha256:..%2f..%2fx&from=secret/app`,
      `/v2/a/blobs/uploads/?mount=${secretImg.layer}&from=..%2fsecret%2fapp`,
      '/v2/a/blobs/uploads/?digest=sha256:..%2f..%2fx',
    ];
    for (const p of paths) {
      for (const method of ['GET', 'PUT', 'POST', 'PATCH', 'DELETE']) {
        const r = await raw(w.url, method, p, {
          headers: { authorization: ci, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
          body: method === 'PUT' || method === 'PATCH' || method === 'POST' ? '{}' : undefined,
        });
        assert.ok(r.status >= 400 && r.status < 500 && r.status !== 401, `${method} ${p}: ${r.status} ${r.text}`);
        assert.doesNotMatch(r.text, /root:|\/etc\/|at .*\.js/, `${method} ${p} leaked: ${r.text}`);
      }
    }
    const afterSnap = snapshot(dirname(w.dataDir));
    const added = [...afterSnap].filter(
      (f) => !before.has(f) && !f.startsWith(`${w.dataDir}/default/uploads/`) && !f.startsWith(`${w.dataDir}/default/`),
    );
    assert.deepEqual(added, [], 'files were created outside the namespace');
  });
});

function snapshot(dir: string): Set<string> {
  const out = new Set<string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      out.add(p);
      if (statSync(p).isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

describe('auth attacks (RS256 key pair)', () => {
  let w: WharfProcess;
  let dir: string;
  let publicPem: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wharf-rs256-'));
    execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', join(dir, 'token.key')], {
      stdio: 'pipe',
    });
    publicPem = createPublicKey(readFileSync(join(dir, 'token.key')))
      .export({ type: 'spki', format: 'pem' })
      .toString();
    // A secret is configured too: with token-key it must not be accepted as a signing key.
    w = await startWharf({ registry: { secret: SECRET, 'token-key': join(dir, 'token.key'), users: USERS } });
  });
  after(async () => {
    await w.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('issues RS256 tokens that work', async () => {
    const t = await token(w.url, ['repository:secret/app:pull,push'], CI);
    assert.equal(JSON.parse(Buffer.from(t.split('.')[0]!, 'base64url').toString()).alg, 'RS256');
    await pushBlob(w.url, 'secret/app', randomBytes(10), bearer(t));
  });

  it('HS/RS confusion: an HS256 token keyed with the public key (PEM or DER) is refused', async () => {
    const der = createPublicKey(publicPem).export({ type: 'spki', format: 'der' });
    for (const key of [new TextEncoder().encode(publicPem), new Uint8Array(der), new TextEncoder().encode(SECRET)]) {
      const t = await hs256(key, claims('ci', PUSH_SECRET));
      const r = await raw(w.url, 'POST', '/v2/secret/app/blobs/uploads/', { headers: { authorization: bearer(t) } });
      assert.equal(r.status, 401, r.text);
      assert.equal(parseChallenge(r.header('www-authenticate')).error, 'invalid_token');
    }
  });

  it('alg none and a foreign RSA key are refused', async () => {
    const none = rawJwt({ alg: 'none', typ: 'JWT' }, claims('ci', PUSH_SECRET));
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const foreign = await new SignJWT(claims('ci', PUSH_SECRET)).setProtectedHeader({ alg: 'RS256', typ: 'JWT' }).sign(privateKey);
    for (const t of [none, foreign]) {
      const r = await raw(w.url, 'GET', '/v2/secret/app/tags/list', { headers: { authorization: bearer(t) } });
      assert.equal(r.status, 401);
    }
  });
});
