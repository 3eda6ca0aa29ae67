// End-to-end: Wharf as podman's mirror for docker.io. The upstream is CNCF
// Distribution on loopback with basic auth (htpasswd, bcrypt); Wharf's mirror
// namespace `docker.io` points at it, and podman's registries.conf points
// docker.io at Wharf (`location = "<wharf>/docker.io"`, the path prefix):
//
//   [[registry]]
//   prefix = "docker.io"
//   location = "docker.io"
//   [[registry.mirror]]
//   location = "127.0.0.1:<port>/docker.io"
//   insecure = true
//
// Nothing here reaches the internet: if the mirror failed, podman's fallback
// to the real docker.io would fail too (and the test checks Wharf's cache).
//   npm run build && node --test --test-concurrency=1 dist/test/e2e/mirror.test.js
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { createContainersEnv, requireTools, type ContainersEnv } from '../helpers/containers.js';
import { startDistribution, type RunningRegistry } from '../helpers/registries.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';

const TLS = '--tls-verify=false';
const USER = 'mirror';
const PASS = 'e2e-upstream-secret';

describe('podman pulls docker.io/library/* through a Wharf mirror namespace', { timeout: 300_000 }, () => {
  let tmp: string;
  let dist: RunningRegistry;
  let wharf: WharfProcess;
  /** Builds images and pushes them (to the upstream, or to Wharf). */
  let build: ContainersEnv;
  let setupError: unknown;
  const ready = () => {
    if (setupError) throw setupError;
  };

  /** A fresh, empty image store whose registries.conf mirrors docker.io to Wharf. */
  function pullEnv(): ContainersEnv {
    const env = createContainersEnv();
    env.mirrorDockerIo(`${wharf.host}/docker.io`);
    env.failureContext = () => `wharf log tail:\n${wharf.output()}\ndistribution log tail:\n${dist.output()}`;
    return env;
  }

  async function pull(env: ContainersEnv, name: string, extra: string[] = []): Promise<string> {
    const r = await env.podman(['pull', ...extra, name]);
    const id = r.stdout.trim().split('\n').pop()!.trim();
    assert.match(id, /^[0-9a-f]{64}$/, `podman pull printed no image id:\n${r.stdout}\n${r.stderr}`);
    return id;
  }

  async function upstreamConfigDigest(repo: string, tag: string): Promise<string> {
    const r = await build.skopeo(['inspect', TLS, '--creds', `${USER}:${PASS}`, '--raw', `docker://${dist.host}/${repo}:${tag}`]);
    return JSON.parse(r.stdout).config.digest;
  }

  before(async () => {
    try {
      requireTools(['podman', 'buildah', 'skopeo', 'runc', 'unshare']);
      tmp = mkdtempSync(join(tmpdir(), 'wharf-e2e-mirror-'));
      const htpasswd = join(tmp, 'htpasswd');
      writeFileSync(htpasswd, `${USER}:${bcrypt.hashSync(PASS, 5)}\n`);
      dist = await startDistribution({ extraConfig: { auth: { htpasswd: { realm: 'upstream', path: htpasswd } } } });
      wharf = await startWharf({
        registry: {
          'log-level': 'warn',
          namespaces: { mirrors: { 'docker.io': { upstream: dist.url, username: USER, password: PASS, timeout: 10 } } },
        },
      });
      build = createContainersEnv();
      build.failureContext = () => `wharf log tail:\n${wharf.output()}`;
    } catch (err) {
      setupError = err;
    }
  });

  after(async () => {
    await wharf?.cleanup();
    await dist?.stop();
    await build?.cleanup();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('pulls an image the upstream has, runs it, and a local push then shadows it', async () => {
    ready();
    const a = await build.buildImage({ format: 'oci' });
    await build.skopeo([
      'copy',
      '-q',
      '--dest-tls-verify=false',
      '--dest-creds',
      `${USER}:${PASS}`,
      `containers-storage:${a.ref}`,
      `docker://${dist.host}/library/wharf-e2e-app:v1`,
    ]);

    const first = pullEnv();
    try {
      assert.equal(await pull(first, 'docker.io/library/wharf-e2e-app:v1'), a.id);
      // It came through Wharf: the upstream tag is cached in the mirror namespace.
      assert.ok(existsSync(join(wharf.dataDir, 'docker.io', '_mirror', 'tags', 'library', 'wharf-e2e-app', '_tags', 'v1')));
      const sum = await first.podman([
        'run',
        '--rm',
        '--network=none',
        'docker.io/library/wharf-e2e-app:v1',
        '/bin/busybox',
        'sha256sum',
        a.randomFile,
      ]);
      assert.equal(sum.stdout.trim().split(/\s+/)[0], a.randomSha256);
    } finally {
      await first.cleanup();
    }

    // A pipeline builds its own docker.io/library/wharf-e2e-app:v1 and pushes it to Wharf …
    const b = await build.buildImage({ format: 'oci' });
    await build.podman(['push', '-q', TLS, b.ref, `${wharf.host}/docker.io/library/wharf-e2e-app:v1`]);
    // … and from then on that is what docker.io/library/wharf-e2e-app:v1 means through Wharf.
    const second = pullEnv();
    try {
      assert.equal(await pull(second, 'docker.io/library/wharf-e2e-app:v1'), b.id);
    } finally {
      await second.cleanup();
    }
    // The upstream was never written to.
    assert.equal(await upstreamConfigDigest('library/wharf-e2e-app', 'v1'), `sha256:${a.id}`);
  });

  it('pulls each platform of a multi-arch image through the mirror', async () => {
    ready();
    const multi = await build.buildMultiArch({ format: 'oci' });
    const layout = join(tmp, 'multi-layout');
    await build.saveIndexLayout(multi.listRef, layout, 'v1');
    await build.skopeo([
      'copy',
      '-q',
      '--all',
      '--dest-tls-verify=false',
      '--dest-creds',
      `${USER}:${PASS}`,
      `oci:${layout}:v1`,
      `docker://${dist.host}/library/wharf-e2e-multi:v1`,
    ]);
    const env = pullEnv();
    try {
      for (const img of multi.images) {
        const extra = ['--arch', img.arch, ...(img.variant ? ['--variant', img.variant] : [])];
        assert.equal(await pull(env, 'docker.io/library/wharf-e2e-multi:v1', extra), img.id, `platform ${img.arch}`);
      }
    } finally {
      await env.cleanup();
    }
  });
});
