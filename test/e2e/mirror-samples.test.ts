// End-to-end: the mirror samples in packaging/mirrors/ used by the real
// clients. containerd (a private daemon) pulls docker.io/library/<name>
// with the sample hosts.toml, podman pulls with the sample registries.conf
// (the format CRI-O reads), and Wharf runs the sample config.yml — only
// addresses are rewritten: the mirror namespaces' upstream becomes a local
// CNCF Distribution holding the images (no public registry is reachable),
// and wharf.example.com:5000 becomes the Wharf under test.
//   npm run build && node --test --test-concurrency=1 dist/test/e2e/mirror-samples.test.js
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { startContainerd, type Containerd } from '../helpers/containerd.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { createContainersEnv, requireTools, type ContainersEnv, type LocalImage } from '../helpers/containers.js';
import { startDistribution, type RunningRegistry } from '../helpers/registries.js';
import { REPO_ROOT, startWharf, type WharfProcess } from '../helpers/wharf.js';

const MIRRORS = join(REPO_ROOT, 'packaging', 'mirrors');
const SAMPLE_HOST = 'wharf.example.com:5000';

describe('mirror samples with the real clients (containerd hosts.toml, podman/CRI-O registries.conf)', { timeout: 300_000 }, () => {
  let work: string;
  let env: ContainersEnv;
  let upstream: RunningRegistry;
  let wharf: WharfProcess;
  let containerd: Containerd | undefined;
  let setupError: unknown;
  const ready = () => {
    if (setupError) throw setupError;
  };

  /** An image pushed to the upstream as library/<repo>:v1; returns it and its manifest digest. */
  async function upstreamImage(repo: string): Promise<{ img: LocalImage; digest: string; layers: string[] }> {
    const img = await env.buildImage({ format: 'oci' });
    await env.skopeo([
      'copy',
      '-q',
      '--dest-tls-verify=false',
      `containers-storage:${img.ref}`,
      `docker://${upstream.host}/library/${repo}:v1`,
    ]);
    const raw = (await env.skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${upstream.host}/library/${repo}:v1`])).stdout;
    const m = JSON.parse(raw);
    const digest = JSON.parse(
      (await env.skopeo(['inspect', '--tls-verify=false', `docker://${upstream.host}/library/${repo}:v1`])).stdout,
    ).Digest;
    return { img, digest, layers: (m.layers as { digest: string }[]).map((l) => l.digest) };
  }

  /** Whether Wharf's namespace docker.io holds the blob (filesystem layout <ns>/blobs/<alg>/<hex>). */
  const cached = (digest: string) => existsSync(join(wharf.dataDir, 'docker.io', 'blobs', ...digest.split(':')));

  before(async () => {
    try {
      requireTools(['skopeo', 'podman', 'buildah', 'runc', 'unshare', 'containerd', 'ctr']);
      work = mkdtempSync(join(tmpdir(), 'wharf-mirror-samples-'));
      env = createContainersEnv();
      upstream = await startDistribution();
      // The sample config, with every mirror's upstream pointed at the local Distribution.
      const sample = parseYaml(readFileSync(join(MIRRORS, 'config.yml'), 'utf8')).registry;
      for (const m of Object.values(sample.namespaces.mirrors) as { upstream: string }[]) m.upstream = upstream.url;
      // The helper chooses where Wharf listens and stores.
      delete sample.address;
      delete sample.port;
      wharf = await startWharf({ registry: sample });
      env.failureContext = () => `wharf log tail:\n${wharf.output().slice(-4000)}`;
    } catch (err) {
      setupError = err;
    }
  });

  after(async () => {
    await containerd?.stop();
    await wharf?.cleanup();
    await upstream?.stop();
    await env?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('containerd pulls docker.io/library/<name> through Wharf with the sample hosts.toml', async () => {
    ready();
    const repo = env.unique('ctrd');
    const { digest, layers } = await upstreamImage(repo);
    // The top layer is this image's own (random bytes; the busybox layer below is shared).
    assert.ok(!cached(layers.at(-1)!), 'the layer is in Wharf before the pull');

    const sample = readFileSync(join(MIRRORS, 'containerd', 'certs.d', 'docker.io', 'hosts.toml'), 'utf8');
    assert.ok(sample.includes(`https://${SAMPLE_HOST}`));
    const hostsDir = join(work, 'certs.d');
    mkdirSync(join(hostsDir, 'docker.io'), { recursive: true });
    writeFileSync(join(hostsDir, 'docker.io', 'hosts.toml'), sample.replace(`https://${SAMPLE_HOST}`, wharf.url));

    containerd = await startContainerd(join(work, 'containerd'));
    const ref = `docker.io/library/${repo}:v1`;
    const pulled = await containerd.ctr(['images', 'pull', '--snapshotter', 'native', '--hosts-dir', hostsDir, ref]);
    // registry-1.docker.io (the sample's fallback `server`) is not reachable: only Wharf can have answered.
    assert.equal(pulled.code, 0, `ctr images pull failed:\n${pulled.out}\n--- wharf ---\n${wharf.output().slice(-3000)}`);
    const list = await containerd.ctr(['images', 'ls']);
    assert.match(list.out, new RegExp(`^${ref.replaceAll('.', '\\.')}\\s+\\S+\\s+${digest}`, 'm'), list.out);
    for (const l of layers) assert.ok(cached(l), `Wharf's docker.io namespace did not keep ${l}`);
  });

  it('podman pulls docker.io/library/<name> through Wharf with the sample registries.conf (as CRI-O reads it)', async () => {
    ready();
    const repo = env.unique('crio');
    const { img, layers } = await upstreamImage(repo);
    // The top layer is this image's own (random bytes; the busybox layer below is shared).
    assert.ok(!cached(layers.at(-1)!), 'the layer is in Wharf before the pull');

    const sample = readFileSync(join(MIRRORS, 'cri-o', 'registries.conf.d', 'wharf-mirror.conf'), 'utf8');
    assert.ok(sample.includes('# insecure = true'));
    const client = createContainersEnv();
    try {
      // The sample after the helper's own settings; plain HTTP here, hence insecure.
      const conf = sample.replaceAll(SAMPLE_HOST, wharf.host).replace('# insecure = true', 'insecure = true');
      writeFileSync(client.registriesConf, `${readFileSync(client.registriesConf, 'utf8')}\n${conf}`);
      const r = await client.podman(['pull', `docker.io/library/${repo}:v1`]);
      const id = r.stdout.trim().split('\n').pop()!.trim();
      assert.equal(id, img.id);
    } finally {
      await client.cleanup();
    }
    for (const l of layers) assert.ok(cached(l), `Wharf's docker.io namespace did not keep ${l}`);
  });
});
