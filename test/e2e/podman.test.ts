// End-to-end: podman (4.3) and buildah (1.28) against a real registry process.
//   npm run build && node --test --test-concurrency=1 dist/test/e2e/
// Pushes come from one private image store, pulls go into a second, empty
// one, so every pull downloads every blob from the registry.
// E2E_REGISTRY=distribution runs the same tests against CNCF Distribution;
// E2E_DEBUG=1 adds --log-level=debug (shown in failures).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createContainersEnv, MEDIA, sha256, startE2E, type ContainersEnv, type E2E } from '../helpers/containers.js';
import { e2eRegistryKind } from '../helpers/registries.js';

const TLS = '--tls-verify=false';

describe(`podman/buildah e2e (${e2eRegistryKind()})`, () => {
  let e: E2E;
  /** An empty image store to pull into. */
  let pull: ContainersEnv;
  // A setup failure (e.g. a missing tool) is rethrown by every test, so each
  // one FAILS with the reason instead of being cancelled or skipped.
  let setupError: unknown;
  const ready = () => {
    if (setupError) throw setupError;
  };

  before(async () => {
    try {
      e = await startE2E(['podman', 'buildah', 'skopeo', 'runc', 'unshare']);
      pull = createContainersEnv();
      pull.failureContext = e.env.failureContext;
    } catch (err) {
      setupError = err;
    }
  });

  after(async () => {
    await e?.stop();
    await pull?.cleanup();
  });

  /**
   * `<tool> <args...> --digestfile F <source> <repo:reference>` (buildah's
   * destination with its docker:// transport): a push that writes the digest
   * it made to F. That digest must hash the manifest the registry now holds;
   * returns both, the manifest parsed.
   */
  async function pushForDigest(
    tool: 'podman' | 'buildah',
    args: string[],
    source: string,
    repo: string,
    reference: string,
  ): Promise<{ digest: string; manifest: any }> {
    const df = join(e.env.tmpDir, `digest-${Math.random().toString(36).slice(2)}`);
    const dest = tool === 'buildah' ? e.docker(repo, reference) : e.name(repo, reference);
    await e.env[tool]([...args, '--digestfile', df, source, dest]);
    const digest = readFileSync(df, 'utf8').trim();
    const raw = await e.inspectRaw(repo, reference);
    assert.equal(sha256(raw), digest);
    return { digest, manifest: JSON.parse(raw.toString('utf8')) };
  }

  /** `podman pull` into the empty store; returns the image id it prints. */
  async function podmanPull(name: string, extra: string[] = []): Promise<string> {
    const r = await pull.podman(['pull', TLS, ...extra, name]);
    const id = r.stdout.trim().split('\n').pop()!.trim();
    assert.match(id, /^[0-9a-f]{64}$/, `podman pull printed no image id:\n${r.stdout}\n${r.stderr}`);
    return id;
  }

  async function imageInspect(env: ContainersEnv, name: string): Promise<any> {
    const r = await env.podman(['image', 'inspect', name]);
    return JSON.parse(r.stdout)[0];
  }

  it('podman push (OCI) then podman pull into an empty store: same image id, same digest', async () => {
    ready();
    const img = await e.env.buildImage({ format: 'oci' });
    const repo = 'e2e/podman-oci';
    const { digest: pushed, manifest: m } = await pushForDigest('podman', ['push', '-q', TLS], img.ref, repo, 'v1');
    assert.equal(m.mediaType, MEDIA.ociManifest);
    assert.equal(m.config.digest, `sha256:${img.id}`);

    const id = await podmanPull(e.name(repo, 'v1'));
    assert.equal(id, img.id, 'pulled image id = pushed image id');
    const info = await imageInspect(pull, e.name(repo, 'v1'));
    assert.equal(info.Digest, pushed);
    assert.ok(info.RepoDigests.includes(e.name(repo, pushed)), JSON.stringify(info.RepoDigests));
    assert.equal(info.RootFS.Layers.length, 2);

    // Pull by digest gives the same image.
    assert.equal(await podmanPull(e.name(repo, pushed)), img.id);
  });

  it('podman push of a Docker v2s2 image; pull gives the same image id', async () => {
    ready();
    const img = await e.env.buildImage({ format: 'docker' });
    const repo = 'e2e/podman-docker';
    const { manifest: m } = await pushForDigest('podman', ['push', '-q', TLS], img.ref, repo, 'v1');
    assert.equal(m.mediaType, MEDIA.dockerManifest);
    assert.equal(m.config.mediaType, MEDIA.dockerConfig);
    assert.equal(m.config.digest, `sha256:${img.id}`);
    assert.equal(await podmanPull(e.name(repo, 'v1')), img.id);
  });

  it('podman push of an 8 MiB layer (streamed upload) round-trips', async () => {
    ready();
    const img = await e.env.buildImage({ randomBytes: 8 * 1024 * 1024 });
    const repo = 'e2e/podman-big';
    await e.env.podman(['push', '-q', TLS, img.ref, e.name(repo, 'v1')]);
    const m = JSON.parse((await e.inspectRaw(repo, 'v1')).toString('utf8'));
    assert.ok(m.layers[1].size > 8 * 1024 * 1024, `random layer size ${m.layers[1].size}`);
    // The blob as served has exactly the digest and size the manifest says.
    const r = await fetch(`${e.registry.url}/v2/${repo}/blobs/${m.layers[1].digest}`);
    const body = Buffer.from(await r.arrayBuffer());
    assert.equal(r.status, 200);
    assert.equal(body.length, m.layers[1].size);
    assert.equal(sha256(body), m.layers[1].digest);
    assert.equal(await podmanPull(e.name(repo, 'v1')), img.id);
  });

  it('buildah push (OCI) and buildah push --format docker (converted) both pull back', async () => {
    ready();
    const img = await e.env.buildImage({ format: 'oci' });
    const repo = 'e2e/buildah';

    const { digest: ociDigest, manifest: oci } = await pushForDigest('buildah', ['push', '-q', TLS], img.ref, repo, 'oci');
    assert.equal(oci.mediaType, MEDIA.ociManifest);
    assert.equal(await podmanPull(e.name(repo, 'oci')), img.id);

    const toDocker = ['push', '-q', TLS, '--format', 'docker'];
    const { digest: dockerDigest, manifest: dm } = await pushForDigest('buildah', toDocker, img.ref, repo, 'docker');
    assert.equal(dm.mediaType, MEDIA.dockerManifest);
    assert.equal(dm.config.mediaType, MEDIA.dockerConfig);
    assert.notEqual(dockerDigest, ociDigest);
    // Converting the config changes it, so the pulled id is the new config's digest.
    assert.equal(`sha256:${await podmanPull(e.name(repo, 'docker'))}`, dm.config.digest);

    const tags = JSON.parse((await e.env.skopeo(['list-tags', TLS, `docker://${e.registry.host}/${repo}`])).stdout).Tags;
    assert.deepEqual([...tags].sort(), ['docker', 'oci']);
  });

  it('buildah manifest push --all (Docker manifest list); podman pull --arch picks each platform', async () => {
    ready();
    const multi = await e.env.buildMultiArch({ format: 'docker' });
    const repo = 'e2e/buildah-list';
    const { manifest: list } = await pushForDigest(
      'buildah',
      ['manifest', 'push', '-q', '--all', '--format', 'v2s2', TLS],
      multi.listRef,
      repo,
      'v1',
    );
    assert.equal(list.mediaType, MEDIA.dockerList);
    assert.deepEqual(
      list.manifests.map((d: any) => d.platform.architecture),
      multi.images.map((i) => i.arch),
    );
    for (const d of list.manifests) {
      assert.equal(d.mediaType, MEDIA.dockerManifest);
      assert.equal(sha256(await e.inspectRaw(repo, d.digest)), d.digest);
    }
    for (const img of multi.images) {
      const extra = ['--arch', img.arch, ...(img.variant ? ['--variant', img.variant] : [])];
      assert.equal(await podmanPull(e.name(repo, 'v1'), extra), img.id, `platform ${img.arch}`);
    }
  });

  it('podman run of a pulled image (runc): busybox runs and sees the pushed random layer', async () => {
    ready();
    const img = await e.env.buildImage({ format: 'oci' });
    const repo = 'e2e/podman-run';
    await e.env.podman(['push', '-q', TLS, img.ref, e.name(repo, 'v1')]);
    assert.equal(await podmanPull(e.name(repo, 'v1')), img.id);

    const hi = await pull.podman(['run', '--rm', '--network=none', e.name(repo, 'v1'), '/bin/busybox', 'echo', 'hi']);
    assert.equal(hi.stdout.trim(), 'hi');
    const sum = await pull.podman(['run', '--rm', '--network=none', e.name(repo, 'v1'), '/bin/busybox', 'sha256sum', img.randomFile]);
    assert.equal(sum.stdout.trim().split(/\s+/)[0], img.randomSha256);
  });

  it('podman search lists repositories (/v2/_catalog) and --list-tags lists tags', async () => {
    ready();
    const img = await e.env.buildImage({});
    for (const repo of ['e2e/search/alpha', 'e2e/search/beta']) {
      await e.env.podman(['push', '-q', TLS, img.ref, e.name(repo, 'v1')]);
    }
    await e.env.podman(['push', '-q', TLS, img.ref, e.name('e2e/search/beta', 'v2')]);
    const r = await e.env.podman(['search', TLS, '--limit', '1000', '--format', '{{.Name}}', `${e.registry.host}/`]);
    const names = r.stdout.trim().split('\n');
    for (const repo of ['e2e/search/alpha', 'e2e/search/beta']) {
      assert.ok(names.includes(`${e.registry.host}/${repo}`), `${repo} in search output:\n${r.stdout}`);
    }
    const filtered = await e.env.podman(['search', TLS, '--format', '{{.Name}}', `${e.registry.host}/search/al`]);
    assert.deepEqual(filtered.stdout.trim().split('\n'), [`${e.registry.host}/e2e/search/alpha`]);
    // podman 4.3 prints a NAME/TAG table for --list-tags whatever --format says.
    const t = await e.env.podman(['search', TLS, '--list-tags', `${e.registry.host}/e2e/search/beta`]);
    const rows = t.stdout
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/));
    assert.deepEqual(
      rows.map((r) => r[0]),
      [`${e.registry.host}/e2e/search/beta`, `${e.registry.host}/e2e/search/beta`],
    );
    assert.deepEqual(rows.map((r) => r[1]).sort(), ['v1', 'v2']);
  });
});
