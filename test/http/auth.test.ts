// Authentication and access control against a live `wharf serve`: the 401
// challenge, the token endpoint (GET with Basic or anonymous, OAuth2 POST with
// password and refresh_token grants), Basic auth on the API, per-repository
// access rules for users and groups, deletes, and anonymous pulls.
//   npm run build && node --test --test-concurrency=1 dist/test/http/auth*.test.js
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';
import { basic, bearer, parseChallenge, pushBlob, pushImage, raw, token, tokenRequest } from '../helpers/auth.js';

const SECRET = 'test-secret-0123456789abcdef0123456789';
const CI = { user: 'ci', pass: 'ci-password' };
const VIEWER = { user: 'viewer', pass: 'viewer-password' };
const ALICE = { user: 'alice', pass: 'alice-password' };
const BOB = { user: 'bob', pass: 'bob-password' };

function registry(extra: Record<string, unknown> = {}) {
  return {
    secret: SECRET,
    users: [
      { name: CI.user, pass: bcrypt.hashSync(CI.pass, 4), access: 'write' },
      { name: VIEWER.user, pass: VIEWER.pass, access: 'read' },
      { name: ALICE.user, pass: bcrypt.hashSync(ALICE.pass, 4), access: 'none', groups: ['team'] },
      { name: BOB.user, pass: BOB.pass, access: 'none' },
    ],
    access: [
      { repository: 'team/*', groups: ['team'], actions: ['pull', 'push'] },
      { namespace: 'default', repository: 'bob/*', users: ['bob'], actions: ['*'] },
    ],
    ...extra,
  };
}

describe('auth: no users configured', () => {
  it('the registry stays open and the token endpoint says auth is off', async () => {
    const w = await startWharf();
    try {
      assert.equal((await raw(w.url, 'GET', '/v2/')).status, 200);
      await pushBlob(w.url, 'open/repo', Buffer.from('open'), '');
      const t = await raw(w.url, 'GET', '/auth/token?scope=repository:x:pull');
      assert.equal(t.status, 404);
    } finally {
      await w.cleanup();
    }
  });
});

describe('auth: users, tokens and rules', () => {
  let w: WharfProcess;
  before(async () => {
    w = await startWharf({ registry: registry() });
  });
  after(async () => {
    const out = w.output();
    await w.cleanup();
    assert.doesNotMatch(out, /request failed/, out);
  });

  it('logs a warning at start for plain-text passwords', () => {
    const line = w
      .output()
      .split('\n')
      .find((l) => l.includes('plain-text passwords'));
    assert.match(line ?? '', /"users":\["viewer","bob"\]/, w.output());
  });

  it('GET /v2/ without credentials is 401 with a Bearer challenge pointing at the token endpoint', async () => {
    const r = await raw(w.url, 'GET', '/v2/');
    assert.equal(r.status, 401);
    assert.equal(r.json().errors[0].code, 'UNAUTHORIZED');
    const c = parseChallenge(r.header('www-authenticate'));
    assert.equal(c.scheme, 'Bearer');
    assert.equal(c.realm, `${w.url}/auth/token`);
    assert.equal(c.service, 'wharf');
    const h = await raw(w.url, 'HEAD', '/v2/');
    assert.equal(h.status, 401);
    assert.equal(h.body.length, 0);
  });

  it('a repository route challenges with its scope (pull for GET, pull,push for uploads)', async () => {
    const g = await raw(w.url, 'GET', '/v2/some/repo/manifests/latest');
    assert.equal(g.status, 401);
    assert.equal(parseChallenge(g.header('www-authenticate')).scope, 'repository:some/repo:pull');
    const p = await raw(w.url, 'POST', '/v2/some/repo/blobs/uploads/');
    assert.equal(p.status, 401);
    assert.equal(parseChallenge(p.header('www-authenticate')).scope, 'repository:some/repo:pull,push');
    const d = await raw(w.url, 'DELETE', '/v2/some/repo/manifests/latest');
    assert.equal(parseChallenge(d.header('www-authenticate')).scope, 'repository:some/repo:delete');
    const c = await raw(w.url, 'GET', '/v2/_catalog');
    assert.equal(parseChallenge(c.header('www-authenticate')).scope, 'registry:catalog:*');
  });

  it('the token flow: Basic at the token endpoint, then push and pull with the bearer token', async () => {
    const r = await tokenRequest(w.url, ['repository:ci/app:pull,push'], CI);
    assert.equal(r.status, 200);
    const body = r.json();
    assert.equal(body.token, body.access_token);
    assert.equal(body.expires_in, 300);
    assert.match(body.issued_at, /^\d{4}-\d\d-\d\dT/);
    assert.equal(body.scope, 'repository:ci/app:pull,push');
    assert.equal(r.header('cache-control'), 'no-store');
    const auth = bearer(body.token);
    assert.equal((await raw(w.url, 'GET', '/v2/', { headers: { authorization: auth } })).status, 200);
    const img = await pushImage(w.url, 'ci/app', 'v1', auth);
    const m = await raw(w.url, 'GET', '/v2/ci/app/manifests/v1', { headers: { authorization: auth } });
    assert.equal(m.status, 200);
    assert.deepEqual(m.body, img.body);
    const tags = await raw(w.url, 'GET', '/v2/ci/app/tags/list', { headers: { authorization: auth } });
    assert.deepEqual(tags.json().tags, ['v1']);
  });

  it('Basic auth sent directly to the API works', async () => {
    const auth = basic(CI.user, CI.pass);
    assert.equal((await raw(w.url, 'GET', '/v2/', { headers: { authorization: auth } })).status, 200);
    await pushImage(w.url, 'ci/basic', 'v1', auth);
    const m = await raw(w.url, 'HEAD', '/v2/ci/basic/manifests/v1', { headers: { authorization: basic(VIEWER.user, VIEWER.pass) } });
    assert.equal(m.status, 200);
  });

  it('a wrong password fails at the token endpoint and on the API', async () => {
    const t = await tokenRequest(w.url, ['repository:ci/app:pull'], { user: CI.user, pass: 'nope' });
    assert.equal(t.status, 401);
    assert.equal(t.json().errors[0].code, 'UNAUTHORIZED');
    const unknown = await tokenRequest(w.url, [], { user: 'nobody', pass: 'nope' });
    assert.equal(unknown.status, 401);
    const a = await raw(w.url, 'GET', '/v2/ci/app/tags/list', { headers: { authorization: basic(VIEWER.user, 'nope') } });
    assert.equal(a.status, 401);
    assert.ok(a.header('www-authenticate'));
  });

  it('an anonymous token (anonymous-read off) grants nothing', async () => {
    const r = await tokenRequest(w.url, ['repository:ci/app:pull']);
    assert.equal(r.status, 200);
    assert.equal(r.json().scope, '');
    const g = await raw(w.url, 'GET', '/v2/ci/app/tags/list', { headers: { authorization: bearer(r.json().token) } });
    assert.equal(g.status, 401);
  });

  it('OAuth2 POST: password grant with a refresh token, then the refresh_token grant', async () => {
    const form = (f: Record<string, string>) =>
      raw(w.url, 'POST', '/auth/token', {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(f).toString(),
      });
    const p = await form({
      grant_type: 'password',
      username: CI.user,
      password: CI.pass,
      service: 'wharf',
      client_id: 'test',
      access_type: 'offline',
      scope: 'repository:ci/app:pull repository:ci/other:push',
    });
    assert.equal(p.status, 200, p.text);
    const { access_token, refresh_token, scope } = p.json();
    assert.equal(scope, 'repository:ci/app:pull repository:ci/other:push');
    assert.ok(refresh_token);
    assert.equal((await raw(w.url, 'GET', '/v2/ci/app/tags/list', { headers: { authorization: bearer(access_token) } })).status, 200);

    const rf = await form({ grant_type: 'refresh_token', refresh_token, service: 'wharf', scope: 'repository:ci/app:pull,push' });
    assert.equal(rf.status, 200, rf.text);
    assert.equal(rf.json().scope, 'repository:ci/app:pull,push');
    await pushBlob(w.url, 'ci/app', Buffer.from('refreshed'), bearer(rf.json().access_token));

    // The refresh token is no access token, and an access token is no refresh token.
    assert.equal((await raw(w.url, 'GET', '/v2/', { headers: { authorization: bearer(refresh_token) } })).status, 401);
    assert.equal((await form({ grant_type: 'refresh_token', refresh_token: access_token })).status, 401);
    assert.equal((await form({ grant_type: 'password', username: CI.user, password: 'wrong' })).status, 401);
    assert.equal((await form({ grant_type: 'client_credentials' })).status, 400);
    // GET with offline_token=true also returns one.
    const g = await tokenRequest(w.url, [], CI, { offline_token: 'true' });
    assert.ok(g.json().refresh_token);
  });

  it('access rules: a group grants pull/push on team/*, nothing elsewhere', async () => {
    const alice = basic(ALICE.user, ALICE.pass);
    await pushImage(w.url, 'team/web', 'v1', alice);
    const other = await raw(w.url, 'POST', '/v2/ci/app/blobs/uploads/', { headers: { authorization: alice } });
    assert.equal(other.status, 403);
    assert.equal(other.json().errors[0].code, 'DENIED');
    assert.equal((await raw(w.url, 'GET', '/v2/ci/app/tags/list', { headers: { authorization: alice } })).status, 403);
    assert.equal((await raw(w.url, 'GET', '/v2/team/web/tags/list', { headers: { authorization: alice } })).status, 200);
    // The token endpoint grants the same: only what the rules allow.
    const t = await tokenRequest(w.url, ['repository:team/web:pull,push,delete', 'repository:ci/app:pull'], ALICE);
    assert.equal(t.json().scope, 'repository:team/web:pull,push');
    // Delete was not granted to the group.
    const d = await raw(w.url, 'DELETE', '/v2/team/web/manifests/v1', { headers: { authorization: alice } });
    assert.equal(d.status, 403);
  });

  it('access rules: a user rule with "*" actions includes delete; referrers and tags need pull', async () => {
    const b = basic(BOB.user, BOB.pass);
    const img = await pushImage(w.url, 'bob/tool', 'v1', b);
    assert.equal((await raw(w.url, 'GET', `/v2/bob/tool/referrers/${img.manifest}`, { headers: { authorization: b } })).status, 200);
    assert.equal((await raw(w.url, 'GET', `/v2/team/web/referrers/${img.manifest}`, { headers: { authorization: b } })).status, 403);
    // Not in another namespace (the rule names `default`).
    assert.equal((await raw(w.url, 'GET', '/v2/bob/tool/tags/list?ns=elsewhere', { headers: { authorization: b } })).status, 403);
    const d = await raw(w.url, 'DELETE', `/v2/bob/tool/manifests/${img.manifest}`, { headers: { authorization: b } });
    assert.equal(d.status, 202);
  });

  it('delete needs the delete action: a pull,push token is sent back for a new one; read users are denied', async () => {
    const ciAuth = basic(CI.user, CI.pass);
    const img = await pushImage(w.url, 'ci/del', 'v1', ciAuth);
    const t = await token(w.url, ['repository:ci/del:pull,push'], CI);
    const d = await raw(w.url, 'DELETE', `/v2/ci/del/manifests/${img.manifest}`, { headers: { authorization: bearer(t) } });
    assert.equal(d.status, 401);
    const c = parseChallenge(d.header('www-authenticate'));
    assert.equal(c.error, 'insufficient_scope');
    assert.equal(c.scope, 'repository:ci/del:delete');
    const t2 = await token(w.url, [c.scope!], CI);
    assert.equal(
      (await raw(w.url, 'DELETE', `/v2/ci/del/manifests/${img.manifest}`, { headers: { authorization: bearer(t2) } })).status,
      202,
    );
    const v = await raw(w.url, 'DELETE', `/v2/ci/del/blobs/${img.layer}`, { headers: { authorization: basic(VIEWER.user, VIEWER.pass) } });
    assert.equal(v.status, 403);
  });

  it('the realm names the namespace when the request used ns=', async () => {
    const r = await raw(w.url, 'GET', '/v2/x/y/tags/list?ns=other');
    const c = parseChallenge(r.header('www-authenticate'));
    assert.equal(c.realm, `${w.url}/auth/token?ns=other`);
    const t = await token(w.url, ['repository:x/y:push'], CI, { ns: 'other' });
    await pushBlob(w.url, 'x/y', Buffer.from('in other'), bearer(t), 'other');
  });
});

describe('auth: anonymous-read', () => {
  let w: WharfProcess;
  let img: Awaited<ReturnType<typeof pushImage>>;
  before(async () => {
    w = await startWharf({ registry: registry({ 'anonymous-read': true, 'public-url': 'https://registry.example.test' }) });
    img = await pushImage(`http://${w.host}`, 'pub/img', 'v1', basic(CI.user, CI.pass));
  });
  after(async () => {
    await w.cleanup();
  });

  it('anonymous pulls work with and without an anonymous token; the realm is public-url', async () => {
    const m = await raw(w.url, 'GET', '/v2/pub/img/manifests/v1');
    assert.equal(m.status, 200);
    const t = await tokenRequest(w.url, ['repository:pub/img:pull,push', 'registry:catalog:*']);
    assert.equal(t.json().scope, 'repository:pub/img:pull registry:catalog:*');
    const auth = bearer(t.json().token);
    assert.equal((await raw(w.url, 'GET', '/v2/', { headers: { authorization: auth } })).status, 200);
    assert.equal((await raw(w.url, 'GET', `/v2/pub/img/blobs/${img.layer}`, { headers: { authorization: auth } })).status, 200);
    const cat = await raw(w.url, 'GET', '/v2/_catalog', { headers: { authorization: auth } });
    assert.deepEqual(cat.json().repositories, ['pub/img']);
    const r = await raw(w.url, 'GET', '/v2/');
    assert.equal(parseChallenge(r.header('www-authenticate')).realm, 'https://registry.example.test/auth/token');
    assert.equal(parseChallenge(r.header('www-authenticate')).service, 'registry.example.test');
  });

  it('anonymous pushes and deletes still need credentials', async () => {
    const p = await raw(w.url, 'POST', '/v2/pub/img/blobs/uploads/');
    assert.equal(p.status, 401);
    const t = await token(w.url, ['repository:pub/img:pull,push']);
    const p2 = await raw(w.url, 'POST', '/v2/pub/img/blobs/uploads/', { headers: { authorization: bearer(t) } });
    assert.equal(p2.status, 401, 'an anonymous token is sent to log in');
    const d = await raw(w.url, 'DELETE', `/v2/pub/img/manifests/${img.manifest}`);
    assert.equal(d.status, 401);
    const put = await raw(w.url, 'PUT', '/v2/pub/img/manifests/v2', {
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: img.body,
    });
    assert.equal(put.status, 401);
  });
});
