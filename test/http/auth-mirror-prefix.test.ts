// Token auth for a mirror namespace reached by path prefix
// (/v2/docker.io/library/x/...): clients compute the scope from the image
// reference (`repository:docker.io/library/x:pull`) and ask the realm of the
// namespace they address, so that is how such requests are authorized.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort, startWharf, type WharfProcess } from '../helpers/wharf.js';
import { basic, bearer, parseChallenge, raw, token } from '../helpers/auth.js';

describe('auth: mirror namespace by path prefix', () => {
  let w: WharfProcess;
  const ci = { user: 'ci', pass: 'ci-password' };
  before(async () => {
    const deadPort = await freePort(); // the upstream is never reached before authorization
    w = await startWharf({
      registry: {
        secret: 'a-long-random-test-secret-for-tokens',
        users: [{ name: 'ci', pass: ci.pass, access: 'write' }],
        namespaces: { mirrors: { 'docker.io': { upstream: `http://127.0.0.1:${deadPort}`, timeout: 1 } } },
      },
    });
  });
  after(async () => w?.cleanup());

  it('the challenge names the full repository in the addressed namespace', async () => {
    const r = await raw(w.url, 'GET', '/v2/docker.io/library/x/manifests/v1');
    assert.equal(r.status, 401);
    const c = parseChallenge(r.header('www-authenticate'));
    assert.equal(c.scope, 'repository:docker.io/library/x:pull');
    assert.doesNotMatch(c.realm!, /[?&]ns=/, 'the realm of the default namespace');
  });

  it('a token for docker.io/library/x passes for that repository only', async () => {
    const t = await token(w.url, ['repository:docker.io/library/x:pull,push'], ci);
    const post = await raw(w.url, 'POST', '/v2/docker.io/library/x/blobs/uploads/', { headers: { authorization: bearer(t) } });
    assert.equal(post.status, 202, post.text);
    assert.match(post.header('location') ?? '', /^\/v2\/docker\.io\/library\/x\/blobs\/uploads\//);
    // Past authorization the request reaches the (dead) upstream: 503, not 401.
    const get = await raw(w.url, 'GET', '/v2/docker.io/library/x/manifests/v1', { headers: { authorization: bearer(t) } });
    assert.equal(get.status, 503, get.text);
    const other = await raw(w.url, 'POST', '/v2/docker.io/library/other/blobs/uploads/', { headers: { authorization: bearer(t) } });
    assert.equal(other.status, 401, 'a token for x is no token for other');
  });

  it('a token of the mirror namespace for the short name does not pass on the prefixed path', async () => {
    const t = await token(w.url, ['repository:library/x:pull,push'], ci, { ns: 'docker.io' });
    const r = await raw(w.url, 'POST', '/v2/docker.io/library/x/blobs/uploads/', { headers: { authorization: bearer(t) } });
    assert.equal(r.status, 401);
    // ...but it does through ?ns= (containerd and CRI-O), where that is the name.
    const viaNs = await raw(w.url, 'POST', '/v2/library/x/blobs/uploads/?ns=docker.io', { headers: { authorization: bearer(t) } });
    assert.equal(viaNs.status, 202, viaNs.text);
  });

  it('basic auth works on the prefixed path', async () => {
    const r = await raw(w.url, 'POST', '/v2/docker.io/library/y/blobs/uploads/', { headers: { authorization: basic(ci.user, ci.pass) } });
    assert.equal(r.status, 202, r.text);
  });
});
