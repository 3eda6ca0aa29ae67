// End-to-end: skopeo (Debian 1.9) against a real registry process.
//   npm run build && node --test --test-concurrency=1 dist/test/e2e/
// E2E_REGISTRY=distribution runs the same tests against CNCF Distribution;
// E2E_DEBUG=1 adds --debug to every skopeo call (shown in failures);
// E2E_KEEP=1 keeps the temp dirs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  MEDIA,
  readDirTransport,
  readOciBlob,
  readOciLayout,
  sha256,
  startE2E,
  type E2E,
  type LocalImage,
  type MultiArchImage,
  type OciLayoutEntry,
} from '../helpers/containers.js';
import { e2eRegistryKind } from '../helpers/registries.js';

const NO_TLS = '--dest-tls-verify=false';
const SRC_NO_TLS = '--src-tls-verify=false';

describe(`skopeo e2e (${e2eRegistryKind()})`, () => {
  let e: E2E;
  let ociImg: LocalImage;
  let dockerImg: LocalImage;
  let layoutImg: LocalImage;
  let multi: MultiArchImage;
  // A setup failure (e.g. a missing tool) is rethrown by every test, so each
  // one FAILS with the reason instead of being cancelled or skipped.
  let setupError: unknown;
  const ready = () => {
    if (setupError) throw setupError;
  };

  before(async () => {
    try {
      e = await startE2E(['skopeo', 'buildah', 'unshare']);
      ociImg = await e.env.buildImage({ format: 'oci' });
      dockerImg = await e.env.buildImage({ format: 'docker' });
      layoutImg = await e.env.buildImage({ format: 'oci', randomBytes: 256 * 1024 });
      multi = await e.env.buildMultiArch({ format: 'oci' });
    } catch (err) {
      setupError = err;
    }
  });

  after(async () => {
    await e?.stop();
  });

  /** skopeo copy with --digestfile; returns the manifest digest the destination reported. */
  async function copy(src: string, dest: string, extra: string[] = []): Promise<string> {
    const df = join(e.env.tmpDir, `digest-${Math.random().toString(36).slice(2)}`);
    await e.env.skopeo(['copy', '-q', ...extra, '--digestfile', df, src, dest]);
    return readFileSync(df, 'utf8').trim();
  }

  async function inspect(repo: string, ref: string, global: string[] = []): Promise<any> {
    const r = await e.env.skopeo([...global, 'inspect', '--tls-verify=false', e.docker(repo, ref)]);
    return JSON.parse(r.stdout);
  }

  /** GET the manifest over plain HTTP to see the headers the registry sends. */
  async function getManifest(repo: string, ref: string, accept: string[]) {
    const r = await fetch(`${e.registry.url}/v2/${repo}/manifests/${ref}`, { headers: { accept: accept.join(', ') } });
    const body = Buffer.from(await r.arrayBuffer());
    return { status: r.status, type: r.headers.get('content-type'), digest: r.headers.get('docker-content-digest'), body };
  }

  it('copies an OCI image from local storage; inspect and inspect --raw agree on the digest', async () => {
    ready();
    const repo = 'e2e/skopeo-oci';
    const pushed = await copy(`containers-storage:${ociImg.ref}`, e.docker(repo, 'v1'), [NO_TLS]);
    assert.match(pushed, /^sha256:[0-9a-f]{64}$/);

    const raw = await e.inspectRaw(repo, 'v1');
    assert.equal(sha256(raw), pushed, 'digest of the served manifest bytes = digest skopeo pushed');
    const m = JSON.parse(raw.toString('utf8'));
    assert.equal(m.mediaType, MEDIA.ociManifest);
    assert.equal(m.config.mediaType, MEDIA.ociConfig);
    assert.equal(m.config.digest, `sha256:${ociImg.id}`, 'config digest = local image id');
    assert.equal(m.layers.length, 2, 'busybox base layer + random layer');

    const info = await inspect(repo, 'v1');
    assert.equal(info.Digest, pushed);
    assert.equal(info.Architecture, 'amd64');
    assert.equal(info.Os, 'linux');
    assert.deepEqual(info.RepoTags, ['v1']);
    assert.deepEqual(
      info.Layers,
      m.layers.map((l: any) => l.digest),
    );
    assert.equal(info.Labels['wharf.e2e.random'], ociImg.randomFile);

    // By digest, the same bytes.
    assert.deepEqual(await e.inspectRaw(repo, pushed), raw);
    // The config blob, fetched as skopeo does.
    const cfg = await e.env.skopeo(['inspect', '--raw', '--config', '--tls-verify=false', e.docker(repo, 'v1')]);
    assert.equal(sha256(Buffer.from(cfg.stdout, 'utf8')), m.config.digest);
    assert.equal(JSON.parse(cfg.stdout).architecture, 'amd64');

    const h = await getManifest(repo, 'v1', [MEDIA.ociManifest, MEDIA.dockerManifest]);
    assert.equal(h.status, 200);
    assert.equal(h.type, MEDIA.ociManifest);
    assert.equal(h.digest, pushed);
    assert.deepEqual(h.body, raw);
  });

  it('copies an OCI layout directory to the registry and back without changing a byte', async () => {
    ready();
    const srcDir = join(e.env.dir, 'layout-src');
    const src = await e.env.saveOciLayout(layoutImg.ref, srcDir, 'v1');
    assert.equal(src.mediaType, MEDIA.ociManifest);
    const repo = 'e2e/skopeo-layout';
    const pushed = await copy(`oci:${srcDir}:v1`, e.docker(repo, 'v1'), [NO_TLS]);
    assert.equal(pushed, src.digest, 'registry keeps the manifest digest of the layout');

    const backDir = join(e.env.dir, 'layout-back');
    await copy(e.docker(repo, 'v1'), `oci:${backDir}:v1`, [SRC_NO_TLS]);
    const back = readOciLayout(backDir, 'v1');
    assert.equal(back.digest, src.digest);
    assert.deepEqual(back.raw, src.raw);
    for (const d of [src.json.config, ...src.json.layers]) {
      assert.deepEqual(readOciBlob(backDir, d.digest), readOciBlob(srcDir, d.digest), `blob ${d.digest}`);
      assert.equal(readOciBlob(backDir, d.digest).length, d.size);
    }
  });

  it('copies a Docker v2s2 image and copies it back (dir:) with the same manifest and blobs', async () => {
    ready();
    const repo = 'e2e/skopeo-docker';
    const pushed = await copy(`containers-storage:${dockerImg.ref}`, e.docker(repo, 'v1'), [NO_TLS]);
    const raw = await e.inspectRaw(repo, 'v1');
    assert.equal(sha256(raw), pushed);
    const m = JSON.parse(raw.toString('utf8'));
    assert.equal(m.schemaVersion, 2);
    assert.equal(m.mediaType, MEDIA.dockerManifest);
    assert.equal(m.config.mediaType, MEDIA.dockerConfig);
    assert.equal(m.config.digest, `sha256:${dockerImg.id}`);
    for (const l of m.layers) assert.equal(l.mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');

    const h = await getManifest(repo, 'v1', [MEDIA.dockerManifest, MEDIA.ociManifest]);
    assert.equal(h.status, 200);
    assert.equal(h.type, MEDIA.dockerManifest);
    assert.equal(h.digest, pushed);

    const backDir = join(e.env.dir, 'docker-back');
    await copy(e.docker(repo, 'v1'), `dir:${backDir}`, [SRC_NO_TLS]);
    const back = readDirTransport(backDir);
    assert.equal(sha256(back.raw), pushed, 'manifest copied back byte for byte');
    for (const d of [m.config, ...m.layers]) {
      const b = back.blob(d.digest);
      assert.equal(sha256(b), d.digest, `blob ${d.digest} content`);
      assert.equal(b.length, d.size);
    }
  });

  it('copies a multi-arch OCI index with --all and back, keeping every digest', async () => {
    ready();
    const srcDir = join(e.env.dir, 'index-src');
    const src: OciLayoutEntry = await e.env.saveIndexLayout(multi.listRef, srcDir, 'v1');
    assert.equal(src.mediaType, MEDIA.ociIndex);
    assert.equal(src.json.manifests.length, 2);

    const repo = 'e2e/skopeo-multi';
    const pushed = await copy(`oci:${srcDir}:v1`, e.docker(repo, 'v1'), ['--all', NO_TLS]);
    assert.equal(pushed, src.digest);

    const raw = await e.inspectRaw(repo, 'v1');
    assert.equal(sha256(raw), src.digest);
    const idx = JSON.parse(raw.toString('utf8'));
    assert.equal(idx.mediaType, MEDIA.ociIndex);
    assert.deepEqual(
      idx.manifests.map((d: any) => `${d.platform.os}/${d.platform.architecture}${d.platform.variant ? '/' + d.platform.variant : ''}`),
      ['linux/amd64', 'linux/arm64/v8'],
    );
    for (const [i, child] of (idx.manifests as any[]).entries()) {
      const c = await e.inspectRaw(repo, child.digest);
      assert.equal(sha256(c), child.digest, `child manifest ${child.digest} served by digest`);
      assert.equal(JSON.parse(c.toString('utf8')).config.digest, `sha256:${multi.images[i]!.id}`);
    }

    // Platform selection through the index.
    const arm = await inspect(repo, 'v1', ['--override-arch', 'arm64', '--override-variant', 'v8']);
    assert.equal(arm.Architecture, 'arm64');
    const amd = await inspect(repo, 'v1', ['--override-arch', 'amd64']);
    assert.equal(amd.Architecture, 'amd64');

    const backDir = join(e.env.dir, 'index-back');
    const back = await copy(e.docker(repo, 'v1'), `oci:${backDir}:v1`, ['--all', SRC_NO_TLS]);
    assert.equal(back, src.digest);
    const b = readOciLayout(backDir, 'v1');
    assert.deepEqual(b.raw, src.raw);
    for (const child of src.json.manifests as any[]) {
      const cm = JSON.parse(readOciBlob(srcDir, child.digest).toString('utf8'));
      assert.deepEqual(readOciBlob(backDir, child.digest), readOciBlob(srcDir, child.digest));
      for (const d of [cm.config, ...cm.layers]) {
        assert.deepEqual(readOciBlob(backDir, d.digest), readOciBlob(srcDir, d.digest), `blob ${d.digest}`);
      }
    }
  });

  it('list-tags lists every tag of a repository (tags made by registry-to-registry copies)', async () => {
    ready();
    const repo = 'e2e/skopeo-tags';
    const first = await copy(`containers-storage:${ociImg.ref}`, e.docker(repo, 'a'), [NO_TLS]);
    // docker:// → docker:// within the same registry: blobs already there (same repo) or mountable.
    for (const t of ['b', 'c', '1.0.0-rc_1']) {
      const d = await copy(e.docker(repo, 'a'), e.docker(repo, t), [SRC_NO_TLS, NO_TLS]);
      assert.equal(d, first);
    }
    const other = await copy(e.docker(repo, 'a'), e.docker('e2e/skopeo-tags-mounted', 'x'), [SRC_NO_TLS, NO_TLS]);
    assert.equal(other, first, 'cross-repository copy keeps the digest');
    const deepRepo = 'e2e/deep/nested/path/repo';
    assert.equal(await copy(e.docker(repo, 'a'), e.docker(deepRepo, 'v1'), [SRC_NO_TLS, NO_TLS]), first);

    const r = await e.env.skopeo(['list-tags', '--tls-verify=false', `docker://${e.registry.host}/${repo}`]);
    const out = JSON.parse(r.stdout);
    assert.equal(out.Repository, `${e.registry.host}/${repo}`);
    assert.deepEqual([...out.Tags].sort(), ['1.0.0-rc_1', 'a', 'b', 'c']);

    const r2 = await e.env.skopeo(['list-tags', '--tls-verify=false', `docker://${e.registry.host}/e2e/skopeo-tags-mounted`]);
    assert.deepEqual(JSON.parse(r2.stdout).Tags, ['x']);
    const r3 = await e.env.skopeo(['list-tags', '--tls-verify=false', `docker://${e.registry.host}/${deepRepo}`]);
    assert.deepEqual(JSON.parse(r3.stdout).Tags, ['v1']);
    assert.equal(sha256(await e.inspectRaw(deepRepo, 'v1')), first);
  });

  it('copies an image with zstd-compressed layers (any layer media type is stored as is)', async () => {
    ready();
    const img = await e.env.buildImage({ format: 'oci' }); // fresh blobs: nothing to reuse as gzip
    const repo = 'e2e/skopeo-zstd';
    const pushed = await copy(`containers-storage:${img.ref}`, e.docker(repo, 'v1'), [NO_TLS, '--dest-compress-format', 'zstd']);
    const raw = await e.inspectRaw(repo, 'v1');
    assert.equal(sha256(raw), pushed);
    const m = JSON.parse(raw.toString('utf8'));
    const top = m.layers[m.layers.length - 1];
    assert.equal(top.mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
    const backDir = join(e.env.dir, 'zstd-back');
    await copy(e.docker(repo, 'v1'), `oci:${backDir}:v1`, [SRC_NO_TLS]);
    const back = readOciLayout(backDir, 'v1');
    assert.equal(back.digest, pushed);
    const blob = readOciBlob(backDir, top.digest);
    assert.equal(blob.readUInt32LE(0), 0xfd2fb528, 'zstd frame magic');
  });

  it('concurrent copies of one new image to several tags and repositories all succeed', async () => {
    ready();
    const img = await e.env.buildImage({ randomBytes: 2 * 1024 * 1024 });
    // Same new blobs uploaded by 4 skopeo processes at once: two tags of one
    // repository and two other repositories.
    const dests = [
      ['e2e/skopeo-race', 't1'],
      ['e2e/skopeo-race', 't2'],
      ['e2e/skopeo-race-b', 'v1'],
      ['e2e/skopeo-race-c', 'v1'],
    ] as const;
    const digests = await Promise.all(dests.map(([repo, tag]) => copy(`containers-storage:${img.ref}`, e.docker(repo, tag), [NO_TLS])));
    assert.equal(new Set(digests).size, 1, `one manifest digest: ${digests.join(' ')}`);
    for (const [repo, tag] of dests) {
      const m = JSON.parse((await e.inspectRaw(repo, tag)).toString('utf8'));
      for (const d of [m.config, ...m.layers]) {
        const r = await fetch(`${e.registry.url}/v2/${repo}/blobs/${d.digest}`);
        const b = Buffer.from(await r.arrayBuffer());
        assert.equal(r.status, 200, `${repo} ${d.digest}`);
        assert.equal(sha256(b), d.digest, `${repo} ${d.digest} content`);
      }
    }
    const tags = JSON.parse(
      (await e.env.skopeo(['list-tags', '--tls-verify=false', `docker://${e.registry.host}/e2e/skopeo-race`])).stdout,
    ).Tags;
    assert.deepEqual([...tags].sort(), ['t1', 't2']);
  });

  it('delete removes a manifest: its tag is gone, other tags stay', async () => {
    ready();
    const repo = 'e2e/skopeo-delete';
    const keepImg = await e.env.buildImage({});
    const goneImg = await e.env.buildImage({});
    const keep = await copy(`containers-storage:${keepImg.ref}`, e.docker(repo, 'keep'), [NO_TLS]);
    const gone = await copy(`containers-storage:${goneImg.ref}`, e.docker(repo, 'gone'), [NO_TLS]);
    assert.notEqual(keep, gone);

    await e.env.skopeo(['delete', '--tls-verify=false', e.docker(repo, 'gone')]);

    for (const ref of ['gone', gone]) {
      const r = await e.env.skopeo(['inspect', '--raw', '--tls-verify=false', e.docker(repo, ref)], { allowFail: true });
      assert.notEqual(r.code, 0, `inspect ${ref} after delete should fail, got:\n${r.stdout}`);
      assert.match(r.stderr, /manifest unknown|not found|MANIFEST_UNKNOWN/i, r.stderr);
    }
    const h = await getManifest(repo, gone, [MEDIA.ociManifest]);
    assert.equal(h.status, 404);
    assert.equal(JSON.parse(h.body.toString('utf8')).errors?.[0]?.code, 'MANIFEST_UNKNOWN');

    const tags = JSON.parse((await e.env.skopeo(['list-tags', '--tls-verify=false', `docker://${e.registry.host}/${repo}`])).stdout).Tags;
    assert.deepEqual(tags, ['keep']);
    assert.equal(sha256(await e.inspectRaw(repo, 'keep')), keep);

    // Deleting by digest works too, and a second delete is a clean error.
    await e.env.skopeo(['delete', '--tls-verify=false', e.docker(repo, keep)]);
    const again = await e.env.skopeo(['delete', '--tls-verify=false', e.docker(repo, keep)], { allowFail: true });
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /manifest unknown|not found|MANIFEST_UNKNOWN|may not exist/i, again.stderr);
  });
});
