// HTTPS from tls-cert/tls-key with a throw-away CA (openssl), the token flow
// over TLS, and certificate reload on SIGHUP: new connections see the new
// certificate; a broken file keeps the old one.
//   npm run build && node --test --test-concurrency=1 dist/test/http/auth*.test.js
// Not in test:quick: needs openssl (a Debian package).
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect } from 'node:tls';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';
import { bearer, digestOf, makeCa, makeServerCert, parseChallenge, raw, tokenRequest } from '../helpers/auth.js';

/** The CN of the certificate a new TLS connection gets (verified against `ca`). */
function peerName(port: number, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, ca }, () => {
      const cn = s.getPeerCertificate().subject.CN;
      s.end();
      resolve(Array.isArray(cn) ? cn.join(',') : (cn ?? ''));
    });
    s.on('error', reject);
  });
}

describe('auth: TLS', () => {
  let dir: string;
  let ca: Buffer;
  let w: WharfProcess;
  let one: { cert: string; key: string };
  let two: { cert: string; key: string };
  const certPath = () => join(dir, 'server.crt');
  const keyPath = () => join(dir, 'server.key');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wharf-tls-'));
    const c = makeCa(dir);
    ca = readFileSync(c.ca);
    one = makeServerCert(c, 'one', 'wharf-one');
    two = makeServerCert(c, 'two', 'wharf-two');
    copyFileSync(one.cert, certPath());
    copyFileSync(one.key, keyPath());
    w = await startWharf({
      registry: {
        'tls-cert': certPath(),
        'tls-key': keyPath(),
        secret: 'tls-test-secret-0123456789abcdef0123456',
        users: [{ name: 'ci', pass: 'ci-password', access: 'write' }],
      },
    });
  });
  after(async () => {
    await w?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves HTTPS with the configured certificate; plain HTTP is not answered as HTTP', async () => {
    assert.match(w.url, /^https:/);
    assert.equal(await peerName(w.port, ca), 'wharf-one');
    await assert.rejects(fetch(`http://127.0.0.1:${w.port}/v2/`));
  });

  it('the challenge points at the https token endpoint, and the token flow works over TLS', async () => {
    const r = await raw(w.url, 'GET', '/v2/', { ca });
    assert.equal(r.status, 401);
    const c = parseChallenge(r.header('www-authenticate'));
    assert.equal(c.realm, `${w.url}/auth/token`);
    const t = await tokenRequest(w.url, ['repository:tls/app:pull,push'], { user: 'ci', pass: 'ci-password' }, {}, { ca });
    assert.equal(t.status, 200);
    const auth = bearer(t.json().token);
    const data = Buffer.from('over tls');
    const post = await raw(w.url, 'POST', `/v2/tls/app/blobs/uploads/?digest=${digestOf(data)}`, {
      ca,
      headers: { authorization: auth },
      body: data,
    });
    assert.equal(post.status, 201, post.text);
  });

  it('SIGHUP reloads the certificate: new connections see the new one', async () => {
    copyFileSync(two.cert, certPath());
    copyFileSync(two.key, keyPath());
    // Before the signal the old certificate is still served.
    assert.equal(await peerName(w.port, ca), 'wharf-one');
    w.child.kill('SIGHUP');
    const deadline = Date.now() + 5000;
    let name = '';
    while (Date.now() < deadline) {
      name = await peerName(w.port, ca);
      if (name === 'wharf-two') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(name, 'wharf-two');
    // The log is written asynchronously: the line may reach the pipe after the new certificate is served.
    while (!/TLS certificate reloaded/.test(w.output()) && Date.now() < deadline + 5000) await new Promise((r) => setTimeout(r, 50));
    assert.match(w.output(), /TLS certificate reloaded/);
    assert.equal((await raw(w.url, 'GET', '/v2/', { ca })).status, 401);
  });

  it('a broken certificate file on SIGHUP keeps the current certificate', async () => {
    writeFileSync(certPath(), '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
    w.child.kill('SIGHUP');
    const deadline = Date.now() + 5000;
    while (!/TLS reload failed/.test(w.output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.match(w.output(), /TLS reload failed/);
    assert.equal(await peerName(w.port, ca), 'wharf-two');
  });
});
