// End-to-end promotion with skopeo: an image and a multi-arch index pushed by
// skopeo into a buildset namespace (reached as `localhost:PORT`, which the
// Host map sends to namespace `bs-e2e`), promoted over the admin API into the
// default namespace (reached as `127.0.0.1:PORT`), then inspected and copied
// back out of the default namespace by skopeo: the same manifest digests and
// bytes, and blobs that are the same files as the buildset's (hard links).
//   npm run build && node --test --test-concurrency=1 dist/test/e2e/promote.test.js
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createContainersEnv,
  MEDIA,
  readOciBlob,
  readOciLayout,
  requireTools,
  sha256,
  type ContainersEnv,
  type LocalImage,
  type MultiArchImage,
} from '../helpers/containers.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';

const BUILDSET = 'bs-e2e';

describe('skopeo: push to a buildset namespace, promote, pull from another namespace', { timeout: 300_000 }, () => {
  let env: ContainersEnv;
  let w: WharfProcess;
  let img: LocalImage;
  let multi: MultiArchImage;
  let setupError: unknown;
  const ready = () => {
    if (setupError) throw setupError;
  };

  before(async () => {
    try {
      requireTools(['skopeo', 'buildah', 'unshare']);
      env = createContainersEnv();
      w = await startWharf({ registry: { namespaces: { hosts: { localhost: BUILDSET } } } });
      img = await env.buildImage({ format: 'oci', randomBytes: 512 * 1024 });
      multi = await env.buildMultiArch({ format: 'oci' });
    } catch (err) {
      setupError = err;
    }
  });

  after(async () => {
    const out = w?.output() ?? '';
    await w?.cleanup();
    await env?.cleanup();
    assert.doesNotMatch(out, /request failed/, `server logged internal failures:\n${out}`);
  });

  /** docker:// reference in the buildset namespace (Host localhost) or the default one (Host 127.0.0.1). */
  const buildset = (ref: string) => `docker://localhost:${w.port}/${ref}`;
  const published = (ref: string) => `docker://127.0.0.1:${w.port}/${ref}`;

  async function copy(src: string, dest: string, extra: string[]): Promise<string> {
    const df = join(env.tmpDir, `digest-${Math.random().toString(36).slice(2)}`);
    await env.skopeo(['copy', '-q', ...extra, '--digestfile', df, src, dest]);
    return readFileSync(df, 'utf8').trim();
  }

  async function inspectRaw(ref: string): Promise<Buffer> {
    return Buffer.from((await env.skopeo(['inspect', '--raw', '--tls-verify=false', ref])).stdout, 'utf8');
  }

  async function promote(from: string, reference: string, to: string, tag: string) {
    const r = await fetch(`${w.url}/admin/v1/promote`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        from: { namespace: BUILDSET, repository: from, reference },
        to: { namespace: 'default', repository: to, tag },
      }),
    });
    const body = (await r.json()) as { digest: string; copied: { blobs: number }; linked: { manifests: number } };
    assert.equal(r.status, 201, JSON.stringify(body));
    return body;
  }

  it('an image: identical digests, config and layers after promotion; the blobs are hard links', async () => {
    ready();
    const pushed = await copy(`containers-storage:${img.ref}`, buildset('ci/app:latest'), ['--dest-tls-verify=false']);
    // The buildset's image is not in the default namespace (the Host map worked).
    await assert.rejects(inspectRaw(published('ci/app:latest')), /manifest unknown|not found|MANIFEST_UNKNOWN|NAME_UNKNOWN/i);

    const r = await promote('ci/app', 'latest', 'app', 'change-1');
    assert.equal(r.digest, pushed);

    const raw = await inspectRaw(published('app:change-1'));
    assert.equal(sha256(raw), pushed);
    assert.deepEqual(raw, await inspectRaw(buildset('ci/app:latest')));
    const m = JSON.parse(raw.toString('utf8'));
    assert.equal(m.config.digest, `sha256:${img.id}`);
    const info = JSON.parse((await env.skopeo(['inspect', '--tls-verify=false', published('app:change-1')])).stdout);
    assert.equal(info.Digest, pushed);
    assert.deepEqual(
      info.Layers,
      m.layers.map((l: { digest: string }) => l.digest),
    );

    // Copied out of the default namespace: every blob byte for byte.
    const back = join(env.dir, 'promoted-image');
    assert.equal(await copy(published('app:change-1'), `oci:${back}:v1`, ['--src-tls-verify=false']), pushed);
    const layout = readOciLayout(back, 'v1');
    assert.deepEqual(layout.raw, raw);
    for (const d of [m.config, ...m.layers] as { digest: string; size: number }[]) {
      const bytes = readOciBlob(back, d.digest);
      assert.equal(bytes.length, d.size);
      assert.equal(sha256(bytes), d.digest);
      const [alg, hex] = d.digest.split(':');
      const a = statSync(join(w.dataDir, BUILDSET, 'blobs', alg!, hex!));
      const b = statSync(join(w.dataDir, 'default', 'blobs', alg!, hex!));
      assert.equal(b.ino, a.ino, `${d.digest} was copied, not linked`);
    }
  });

  it('a multi-arch index (skopeo --all): the index and both children keep their digests', async () => {
    ready();
    const srcDir = join(env.dir, 'index-src');
    const src = await env.saveIndexLayout(multi.listRef, srcDir, 'v1');
    assert.equal(src.mediaType, MEDIA.ociIndex);
    const pushed = await copy(`oci:${srcDir}:v1`, buildset('ci/multi:v1'), ['--all', '--dest-tls-verify=false']);
    assert.equal(pushed, src.digest);

    const r = await promote('ci/multi', 'v1', 'multi', 'release');
    assert.equal(r.digest, src.digest);
    assert.equal(r.linked.manifests, 3);

    const raw = await inspectRaw(published('multi:release'));
    assert.equal(sha256(raw), src.digest);
    for (const child of JSON.parse(raw.toString('utf8')).manifests as { digest: string }[]) {
      assert.equal(sha256(await inspectRaw(published(`multi@${child.digest}`))), child.digest);
    }
    const backDir = join(env.dir, 'index-back');
    assert.equal(await copy(published('multi:release'), `oci:${backDir}:v1`, ['--all', '--src-tls-verify=false']), src.digest);
    assert.deepEqual(readOciLayout(backDir, 'v1').raw, src.raw);
  });
});
