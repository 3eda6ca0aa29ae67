// End-to-end: two CI buildsets, each with a namespace of its own made through
// the admin API, on one Wharf whose docker.io mirror namespace points at a
// local CNCF Distribution (no public registry is reachable). In each
// buildset, podman pushes `docker.io/library/app:latest` with different
// content; podman (registries.conf mirror: `<wharf>/ns/<name>/docker.io`)
// and containerd (hosts.toml host `<wharf>/v2/ns/<name>` with override_path)
// pull their own. A namespace's credentials are refused in the other, and a
// base image pulled through both buildsets is fetched from the upstream once.
//   npm run build && node --test --test-concurrency=1 dist/test/e2e/buildsets.test.js
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startContainerd, type Containerd } from '../helpers/containerd.js';
import { createContainersEnv, requireTools, ToolError, type ContainersEnv, type LocalImage } from '../helpers/containers.js';
import { startDistribution, type RunningRegistry } from '../helpers/registries.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';

const TLS = '--tls-verify=false';

interface Buildset {
  name: string;
  username: string;
  password: string;
  /** A podman whose registries.conf sends docker.io to this buildset. */
  env: ContainersEnv;
  /** containerd hosts dir sending docker.io to this buildset. */
  hostsDir: string;
  app?: LocalImage;
}

describe('buildset namespaces with podman and containerd', { timeout: 600_000 }, () => {
  let work: string;
  let upstream: RunningRegistry;
  let wharf: WharfProcess;
  let build: ContainersEnv;
  let containerd: Containerd;
  const sets: Buildset[] = [];
  let setupError: unknown;
  const ready = () => {
    if (setupError) throw setupError;
  };

  async function createBuildset(): Promise<Buildset> {
    const r = await fetch(`${wharf.url}/admin/v1/namespaces`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('admin:admin-pw').toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ttlSeconds: 3600, mirrors: ['docker.io'] }),
    });
    const body = await r.text();
    assert.equal(r.status, 201, body);
    const { name, credentials } = JSON.parse(body);
    const env = createContainersEnv();
    env.mirrorDockerIo(`${wharf.host}/ns/${name}/docker.io`);
    env.failureContext = () => `wharf log tail:\n${wharf.output().slice(-4000)}`;
    await env.podman(['login', TLS, '-u', credentials.username, '-p', credentials.password, wharf.host]);
    const hostsDir = join(work, `hosts-${name}`);
    mkdirSync(join(hostsDir, 'docker.io'), { recursive: true });
    writeFileSync(
      join(hostsDir, 'docker.io', 'hosts.toml'),
      [
        // Never reached: no public registry here. Only the buildset can answer.
        'server = "https://registry-1.docker.io"',
        '',
        `[host."${wharf.url}/v2/ns/${name}"]`,
        '  capabilities = ["pull", "resolve"]',
        '  override_path = true',
        '',
      ].join('\n'),
    );
    return { name, username: credentials.username, password: credentials.password, env, hostsDir };
  }

  async function podmanPull(env: ContainersEnv, ref: string): Promise<string> {
    const r = await env.podman(['pull', ref]);
    const id = r.stdout.trim().split('\n').pop()!.trim();
    assert.match(id, /^[0-9a-f]{64}$/, `podman pull printed no image id:\n${r.stdout}\n${r.stderr}`);
    return id;
  }

  async function ctrPull(set: Buildset, ref: string): Promise<string> {
    const ns = `bs-${set.name}`;
    const r = await containerd.ctr([
      '--namespace',
      ns,
      'images',
      'pull',
      '--snapshotter',
      'native',
      '--hosts-dir',
      set.hostsDir,
      '--user',
      `${set.username}:${set.password}`,
      ref,
    ]);
    assert.equal(r.code, 0, `ctr images pull failed:\n${r.out}\n--- wharf ---\n${wharf.output().slice(-3000)}`);
    const list = await containerd.ctr(['--namespace', ns, 'images', 'ls']);
    const line = list.out.split('\n').find((l) => l.startsWith(`${ref} `));
    assert.ok(line, list.out);
    return line.split(/\s+/)[2]!; // REF TYPE DIGEST ...
  }

  /** Upstream GETs of a blob, from Distribution's access log. */
  function upstreamBlobGets(digest: string): number {
    return upstream
      .output()
      .split('\n')
      .filter((l) => l.includes(`"GET /v2/`) && l.includes(`/blobs/${digest} `)).length;
  }

  before(async () => {
    try {
      requireTools(['skopeo', 'podman', 'buildah', 'runc', 'unshare', 'containerd', 'ctr']);
      work = mkdtempSync(join(tmpdir(), 'wharf-e2e-buildsets-'));
      // 'debug' turns Distribution's access log on: the upstream requests are counted from it.
      upstream = await startDistribution({ logLevel: 'debug' });
      wharf = await startWharf({
        registry: {
          'log-level': 'warn',
          users: [{ name: 'admin', pass: 'admin-pw', access: 'write', admin: true }],
          namespaces: { dynamic: false, mirrors: { 'docker.io': { upstream: upstream.url, timeout: 10 } } },
          buildsets: { 'max-ttl': 86400, 'credential-cost': 4 },
        },
      });
      build = createContainersEnv();
      containerd = await startContainerd(join(work, 'containerd'));
      sets.push(await createBuildset(), await createBuildset());
    } catch (err) {
      setupError = err;
    }
  });

  after(async () => {
    await containerd?.stop();
    for (const s of sets) await s.env.cleanup();
    await build?.cleanup();
    await wharf?.cleanup();
    await upstream?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('each buildset pushes docker.io/library/app:latest of its own, and podman and containerd there pull their own', async () => {
    ready();
    for (const s of sets) {
      s.app = await build.buildImage({ format: 'oci' });
      await build.podman([
        'push',
        '-q',
        TLS,
        '--creds',
        `${s.username}:${s.password}`,
        s.app.ref,
        `${wharf.host}/ns/${s.name}/docker.io/library/app:latest`,
      ]);
    }
    assert.notEqual(sets[0]!.app!.id, sets[1]!.app!.id);
    for (const s of sets) {
      assert.equal(await podmanPull(s.env, 'docker.io/library/app:latest'), s.app!.id, `podman in ${s.name}`);
      const manifest = JSON.parse(
        (
          await build.skopeo([
            'inspect',
            TLS,
            '--creds',
            `${s.username}:${s.password}`,
            `docker://${wharf.host}/ns/${s.name}/docker.io/library/app:latest`,
          ])
        ).stdout,
      ).Digest;
      assert.equal(await ctrPull(s, 'docker.io/library/app:latest'), manifest, `containerd in ${s.name}`);
    }
  });

  it("a buildset's credentials are refused in the other", async () => {
    ready();
    const [a, b] = sets as [Buildset, Buildset];
    await assert.rejects(
      build.skopeo([
        'inspect',
        TLS,
        '--creds',
        `${a.username}:${a.password}`,
        `docker://${wharf.host}/ns/${b.name}/docker.io/library/app:latest`,
      ]),
      (err: unknown) => err instanceof ToolError && /denied|forbidden|unauthorized|authentication required/i.test(err.message),
    );
    const other = await build.buildImage({ format: 'oci' });
    await assert.rejects(
      build.podman([
        'push',
        '-q',
        TLS,
        '--creds',
        `${a.username}:${a.password}`,
        other.ref,
        `${wharf.host}/ns/${b.name}/docker.io/library/app:latest`,
      ]),
      (err: unknown) => err instanceof ToolError && /denied|forbidden|unauthorized|authentication required/i.test(err.message),
    );
    // b's image is unchanged.
    assert.equal(await podmanPull(b.env, 'docker.io/library/app:latest'), b.app!.id);
  });

  it('a base image pulled through both buildsets (podman and containerd) is fetched from the upstream once', async () => {
    ready();
    const base = await build.buildImage({ format: 'oci' });
    const repo = build.unique('base');
    await build.skopeo([
      'copy',
      '-q',
      '--dest-tls-verify=false',
      `containers-storage:${base.ref}`,
      `docker://${upstream.host}/library/${repo}:v1`,
    ]);
    const layers: string[] = JSON.parse(
      (await build.skopeo(['inspect', TLS, '--raw', `docker://${upstream.host}/library/${repo}:v1`])).stdout,
    ).layers.map((l: { digest: string }) => l.digest);
    const before = layers.map(upstreamBlobGets);
    const ref = `docker.io/library/${repo}:v1`;
    for (const s of sets) {
      assert.equal(await podmanPull(s.env, ref), base.id, `podman in ${s.name}`);
      await ctrPull(s, ref);
    }
    // Four pulls through two buildsets. The top layer is this image's own (random bytes): the upstream
    // saw one GET of it. The busybox layer below it the clients already held (from the app images).
    const after = layers.map(upstreamBlobGets);
    assert.equal(after.at(-1)! - before.at(-1)!, 1, `upstream GETs of the top layer ${layers.at(-1)}`);
    for (const [i, l] of layers.entries()) assert.ok(after[i]! - before[i]! <= 1, `upstream GETs of ${l}: ${after[i]! - before[i]!}`);
    // The copy is in the shared mirror namespace, not in the buildsets.
    const held = (ns: string, d: string) => existsSync(join(wharf.dataDir, ns, 'blobs', ...d.split(':')));
    assert.ok(held('docker.io', layers.at(-1)!));
    for (const s of sets) assert.ok(!held(s.name, layers.at(-1)!), `${s.name} holds a copy`);
  });
});
