// End-to-end access control with the real tools: podman, skopeo and buildah
// log in to Wharf (Docker token auth), push and pull; a wrong password fails;
// a read-only user cannot push; anonymous pulls work when anonymous-read is
// on and anonymous pushes do not; and the same over HTTPS with a private CA
// given by --cert-dir.
//   npm run build && node --test --test-concurrency=1 dist/test/e2e/auth.test.js
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { createContainersEnv, requireTools, type ContainersEnv, type LocalImage } from '../helpers/containers.js';
import { startWharfRegistry, type RunningRegistry } from '../helpers/registries.js';
import { makeCa, makeServerCert } from '../helpers/auth.js';

const NO_TLS = '--tls-verify=false';
const CI = { user: 'ci', pass: 'ci-e2e-password' };
const VIEWER = { user: 'viewer', pass: 'viewer-e2e-password' };

function authConfig(extra: Record<string, unknown> = {}) {
  return {
    secret: 'e2e-auth-secret-0123456789abcdef0123456789',
    'anonymous-read': true,
    // Every request is logged: the tests check that the tools went through the token endpoint.
    'log-level': 'debug',
    users: [
      { name: CI.user, pass: bcrypt.hashSync(CI.pass, 6), access: 'write' },
      { name: VIEWER.user, pass: bcrypt.hashSync(VIEWER.pass, 6), access: 'read' },
    ],
    ...extra,
  };
}

describe('e2e: authentication with podman, skopeo and buildah', () => {
  let reg: RunningRegistry;
  /** Logged-in side: builds and pushes. */
  let env: ContainersEnv;
  /** A second store, never logged in as ci: anonymous pulls and refused pushes. */
  let other: ContainersEnv;
  let img: LocalImage;
  let setupError: unknown;
  const ready = () => {
    if (setupError) throw setupError;
  };
  const name = (repo: string, tag: string) => `${reg.host}/${repo}:${tag}`;

  before(async () => {
    try {
      requireTools(['podman', 'skopeo', 'buildah', 'unshare']);
      reg = await startWharfRegistry({ registry: authConfig() });
      env = createContainersEnv();
      other = createContainersEnv();
      env.failureContext = other.failureContext = () => `wharf at ${reg.url}, log tail:\n${reg.output()}`;
      img = await env.buildImage({ format: 'oci' });
    } catch (err) {
      setupError = err;
    }
  });
  after(async () => {
    await reg?.stop();
    await env?.cleanup();
    await other?.cleanup();
  });

  it('podman login with a wrong password fails', async () => {
    ready();
    const r = await env.podman(['login', NO_TLS, '-u', CI.user, '-p', 'wrong', reg.host], { allowFail: true });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /401|unauthorized|invalid username/i);
  });

  it('podman: login, push with a token, then pull anonymously into another store', async () => {
    ready();
    await env.podman(['login', NO_TLS, '-u', CI.user, '-p', CI.pass, reg.host]);
    await env.podman(['push', NO_TLS, img.ref, name('e2e/auth-podman', 'v1')]);
    const pulled = await other.podman(['pull', NO_TLS, name('e2e/auth-podman', 'v1')]);
    assert.match(pulled.stdout, /[0-9a-f]{64}/);
    // podman asked the token endpoint for a push scope, with its credentials.
    assert.match(reg.output(), /"url":"\/auth\/token\?[^"]*scope=repository%3Ae2e%2Fauth-podman%3Apull%2Cpush/);
  });

  it('anonymous push is refused (podman, skopeo)', async () => {
    ready();
    // `other` holds the image it pulled anonymously in the test before.
    const local = name('e2e/auth-podman', 'v1');
    const p = await other.podman(['push', NO_TLS, local, name('e2e/anon', 'v1')], { allowFail: true });
    assert.notEqual(p.code, 0, 'anonymous podman push succeeded');
    assert.match(p.stderr, /unauthorized|authentication required|401/i);
    const s = await other.skopeo(
      ['copy', '-q', '--dest-tls-verify=false', `containers-storage:${local}`, `docker://${name('e2e/anon', 'v2')}`],
      {
        allowFail: true,
      },
    );
    assert.notEqual(s.code, 0, 'anonymous skopeo push succeeded');
    assert.match(s.stderr, /unauthorized|authentication required|401/i);
  });

  it('a read-only user can pull but not push', async () => {
    ready();
    await other.podman(['login', NO_TLS, '-u', VIEWER.user, '-p', VIEWER.pass, reg.host]);
    try {
      await other.podman(['pull', NO_TLS, name('e2e/auth-podman', 'v1')]);
      const p = await other.podman(['push', NO_TLS, name('e2e/auth-podman', 'v1'), name('e2e/viewer', 'v1')], { allowFail: true });
      assert.notEqual(p.code, 0, 'read-only push succeeded');
      assert.match(p.stderr, /denied|unauthorized|403|401/i);
    } finally {
      await other.podman(['logout', reg.host], { allowFail: true });
    }
  });

  it('skopeo: login + copy, --dest-creds, inspect with --creds; wrong --creds fails', async () => {
    ready();
    await env.skopeo(['login', NO_TLS, '-u', CI.user, '-p', CI.pass, reg.host]);
    await env.skopeo([
      'copy',
      '-q',
      '--dest-tls-verify=false',
      `containers-storage:${img.ref}`,
      `docker://${name('e2e/auth-skopeo', 'v1')}`,
    ]);
    // Registry to registry with explicit credentials (`other` is not logged in as ci).
    await other.skopeo([
      'copy',
      '-q',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      '--dest-creds',
      `${CI.user}:${CI.pass}`,
      `docker://${name('e2e/auth-skopeo', 'v1')}`,
      `docker://${name('e2e/auth-skopeo', 'v2')}`,
    ]);
    const i = await other.skopeo([
      'inspect',
      NO_TLS,
      '--creds',
      `${VIEWER.user}:${VIEWER.pass}`,
      `docker://${name('e2e/auth-skopeo', 'v2')}`,
    ]);
    assert.equal(JSON.parse(i.stdout).Name, `${reg.host}/e2e/auth-skopeo`);
    const bad = await other.skopeo(['inspect', NO_TLS, '--creds', `${CI.user}:wrong`, `docker://${name('e2e/auth-skopeo', 'v2')}`], {
      allowFail: true,
    });
    assert.notEqual(bad.code, 0);
    // Anonymous read works with skopeo too.
    await other.skopeo(['inspect', NO_TLS, '--raw', `docker://${name('e2e/auth-skopeo', 'v1')}`]);
  });

  it('buildah: login, push and pull', async () => {
    ready();
    await env.buildah(['login', NO_TLS, '-u', CI.user, '-p', CI.pass, reg.host]);
    await env.buildah(['push', NO_TLS, img.ref, `docker://${name('e2e/auth-buildah', 'v1')}`]);
    await other.buildah(['pull', NO_TLS, name('e2e/auth-buildah', 'v1')]);
    const wrong = await other.buildah(['login', NO_TLS, '-u', CI.user, '-p', 'nope', reg.host], { allowFail: true });
    assert.notEqual(wrong.code, 0);
  });
});

describe('e2e: authentication over TLS with --cert-dir', () => {
  let reg: RunningRegistry;
  let env: ContainersEnv;
  let dir: string;
  let certDir: string;
  let img: LocalImage;
  let setupError: unknown;
  const ready = () => {
    if (setupError) throw setupError;
  };

  before(async () => {
    try {
      requireTools(['podman', 'skopeo', 'buildah', 'unshare']);
      dir = mkdtempSync(join(tmpdir(), 'wharf-e2e-tls-'));
      const ca = makeCa(dir);
      const server = makeServerCert(ca, 'server', '127.0.0.1');
      certDir = join(dir, 'certs.d');
      mkdirSync(certDir);
      copyFileSync(ca.ca, join(certDir, 'ca.crt'));
      reg = await startWharfRegistry({ registry: authConfig({ 'tls-cert': server.cert, 'tls-key': server.key, 'anonymous-read': false }) });
      env = createContainersEnv();
      env.failureContext = () => `wharf at ${reg.url}, log tail:\n${reg.output()}`;
      img = await env.buildImage({ format: 'docker' });
    } catch (err) {
      setupError = err;
    }
  });
  after(async () => {
    await reg?.stop();
    await env?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('without the CA the certificate is refused', async () => {
    ready();
    const r = await env.podman(['login', '-u', CI.user, '-p', CI.pass, reg.host], { allowFail: true });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /certificate|x509|tls/i);
  });

  it('podman and skopeo log in, push and pull over HTTPS with --cert-dir', async () => {
    ready();
    assert.match(reg.url, /^https:/);
    await env.podman(['login', '--cert-dir', certDir, '-u', CI.user, '-p', CI.pass, reg.host]);
    await env.podman(['push', '--cert-dir', certDir, img.ref, `${reg.host}/e2e/tls:v1`]);
    await env.skopeo([
      'copy',
      '-q',
      '--src-cert-dir',
      certDir,
      '--dest-cert-dir',
      certDir,
      `docker://${reg.host}/e2e/tls:v1`,
      `docker://${reg.host}/e2e/tls:v2`,
    ]);
    const pullEnv = createContainersEnv();
    try {
      // Not logged in and anonymous-read is off: pull is refused; with credentials it works.
      const anon = await pullEnv.podman(['pull', '--cert-dir', certDir, `${reg.host}/e2e/tls:v2`], { allowFail: true });
      assert.notEqual(anon.code, 0);
      await pullEnv.podman(['pull', '--cert-dir', certDir, '--creds', `${VIEWER.user}:${VIEWER.pass}`, `${reg.host}/e2e/tls:v2`]);
    } finally {
      await pullEnv.cleanup();
    }
  });
});
