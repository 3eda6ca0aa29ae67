// End-to-end: the container image. Builds it with buildah from the
// Containerfile, runs it with podman and pushes, pulls, restarts and stops it.
//   npm run build && node --test --test-concurrency=1 dist/test/e2e/image.test.js
//
// No public registry is reachable here, so the two Node 20 bases the
// Containerfile builds FROM are made by scripts/make-base-images.sh (Debian
// packages via mmdebstrap + this machine's Node; the root file systems are
// cached between runs, see the script) and passed as BUILD_BASE and BASE.
// The build stage runs `npm ci` against the npm registry: the build gets the
// host's network (--network=host) and, for a TLS-inspecting proxy, the host's
// CA bundle as the `npm-ca` build secret.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createContainersEnv, requireTools, type ContainersEnv, type LocalImage } from '../helpers/containers.js';
import { freePort, REPO_ROOT } from '../helpers/wharf.js';

const TLS = '--tls-verify=false';
const IMAGE = 'localhost/wharf-e2e/wharf:test';
const UID = 10001;
/** podman stop's timeout (s): SIGTERM, then SIGKILL (exit 137) after this long. */
const STOP_TIMEOUT_S = 20;
/** Making the bases on a fresh machine and building take minutes on 2 busy cores. */
const BASES_TIMEOUT_MS = 20 * 60_000;
const BUILD_TIMEOUT_MS = 20 * 60_000;

function caBundle(): string | undefined {
  for (const p of [process.env.NODE_EXTRA_CA_CERTS, '/etc/ssl/certs/ca-certificates.crt']) {
    if (p && existsSync(p)) return p;
  }
  return undefined;
}

/** Runs scripts/make-base-images.sh into env's storage; returns [buildBase, runtimeBase]. */
function makeBaseImages(env: ContainersEnv): Promise<[string, string]> {
  return new Promise((resolve, reject) => {
    // The cache is the user's (env.env points HOME into the private environment).
    const cache = process.env.WHARF_BASE_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'wharf', 'base-images');
    const child = spawn('bash', [join(REPO_ROOT, 'scripts', 'make-base-images.sh')], {
      env: { ...process.env, ...env.env, WHARF_BASE_CACHE: cache },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      process.stderr.write(d);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), BASES_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const refs = out.trim().split('\n');
      if (code !== 0 || refs.length !== 2) {
        reject(new Error(`make-base-images.sh exited ${code ?? signal}:\n${err.slice(-4000)}\n${out}`));
      } else {
        resolve([refs[0]!, refs[1]!]);
      }
    });
  });
}

async function waitForV2(url: string, logs: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const r = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(2000) });
      await r.arrayBuffer();
      if (r.status === 200) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`the container did not answer ${url}/v2/ in 60 s:\n${await logs()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('container image (buildah build, podman run)', { timeout: BASES_TIMEOUT_MS + BUILD_TIMEOUT_MS + 10 * 60_000 }, () => {
  /** Builds and runs the image, and pushes from its own store. */
  let env: ContainersEnv;
  let work: string;
  let port: number;
  let volume: string;
  let configFile: string;
  let pushed: LocalImage;
  let setupError: unknown;
  const ready = () => {
    if (setupError) throw setupError;
  };
  const containers: string[] = [];
  const url = () => `http://127.0.0.1:${port}`;
  const host = () => `127.0.0.1:${port}`;

  before(async () => {
    try {
      requireTools(['podman', 'buildah', 'skopeo', 'runc', 'unshare', 'mmdebstrap']);
      env = createContainersEnv();
      work = mkdtempSync(join(tmpdir(), 'wharf-image-'));
      const started = Date.now();
      const [buildBase, runtimeBase] = await makeBaseImages(env);
      const basesMs = Date.now() - started;
      const args = [
        'build',
        '--format',
        'docker', // keeps HEALTHCHECK
        '--network',
        'host',
        '--pull=never',
        '--build-arg',
        `BUILD_BASE=${buildBase}`,
        '--build-arg',
        `BASE=${runtimeBase}`,
        '-t',
        IMAGE,
        '-f',
        join(REPO_ROOT, 'Containerfile'),
      ];
      const ca = caBundle();
      if (ca) args.push('--secret', `id=npm-ca,src=${ca}`);
      await env.buildah([...args, REPO_ROOT], { timeoutMs: BUILD_TIMEOUT_MS });
      process.stderr.write(
        `# image test: bases ${Math.round(basesMs / 1000)} s, build ${Math.round((Date.now() - started - basesMs) / 1000)} s\n`,
      );
      volume = env.unique('wharf-data');
      await env.podman(['volume', 'create', volume]);
      // The containers share the host's network (bridge networking leaves
      // iptables rules behind in this sandbox), so the mounted config picks
      // a free port; the built-in config's 5000 is checked without a network.
      port = await freePort();
      // A mounted config file (different from the built-in one) plus WHARF_* overrides.
      configFile = join(work, 'config.yml');
      writeFileSync(
        configFile,
        stringify({
          registry: {
            address: '127.0.0.1',
            port,
            storage: { driver: 'filesystem', root: '/data/registry' },
            namespaces: { names: ['from-file'] },
          },
        }),
      );
    } catch (err) {
      setupError = err;
    }
  });

  after(async () => {
    for (const c of containers) await env?.podman(['rm', '-f', '-t', '0', c], { allowFail: true });
    if (volume) await env?.podman(['volume', 'rm', '-f', volume], { allowFail: true });
    await env?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function inspectImage(): Promise<any> {
    return JSON.parse((await env.podman(['image', 'inspect', IMAGE])).stdout)[0];
  }

  async function run(name: string, extra: string[] = []): Promise<string> {
    containers.push(name);
    await env.podman([
      'run',
      '-d',
      '--name',
      name,
      '--network',
      'host',
      '-v',
      `${volume}:/data`,
      '-v',
      `${configFile}:/etc/wharf/config.yml:ro`,
      '-e',
      'WHARF_NAMESPACES__DEFAULT=from-env',
      ...extra,
      IMAGE,
    ]);
    await waitForV2(url(), () => logs(name));
    return name;
  }

  /** The parsed "wharf listening" log line, once it is there. */
  async function startLine(name: string): Promise<any> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const log = await logs(name);
      const line = log.split('\n').find((l) => l.includes('"wharf listening"'));
      if (line) return JSON.parse(line);
      if (Date.now() > deadline) throw new Error(`no "wharf listening" in the log after 60 s:\n${log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async function logs(name: string): Promise<string> {
    const r = await env.podman(['logs', name], { allowFail: true });
    return r.stdout + r.stderr;
  }

  /** SIGTERM via podman stop; returns the exit code and how long it took. */
  async function stop(name: string): Promise<{ code: number; ms: number }> {
    const t0 = Date.now();
    await env.podman(['stop', '-t', String(STOP_TIMEOUT_S), name], { timeoutMs: (STOP_TIMEOUT_S + 30) * 1000 });
    const ms = Date.now() - t0;
    const state = JSON.parse((await env.podman(['inspect', '--format', '{{json .State}}', name])).stdout);
    return { code: state.ExitCode, ms };
  }

  /** Pulls with podman into a new, empty store (every blob comes from the registry); returns the image id. */
  async function pullFresh(ref: string): Promise<string> {
    const store = createContainersEnv();
    try {
      const r = await store.podman(['pull', TLS, ref]);
      const id = r.stdout.trim().split('\n').pop()!.trim();
      assert.match(id, /^[0-9a-f]{64}$/, `podman pull printed no image id:\n${r.stdout}\n${r.stderr}`);
      // The random top layer's bytes, read inside a container of the pulled image.
      const sum = await store.podman(['run', '--rm', '--pull=never', '--entrypoint', '/bin/busybox', ref, 'sha256sum', pushed.randomFile]);
      assert.equal(sum.stdout.split(/\s/)[0], pushed.randomSha256, 'the pulled layer has other bytes');
      return id;
    } finally {
      await store.cleanup();
    }
  }

  it('the image: a non-root user, /data volume, port 5000, HEALTHCHECK on /healthz, Node 20, no compiler, no tests', async () => {
    ready();
    const img = await inspectImage();
    assert.equal(img.Config.User, 'wharf:wharf');
    assert.deepEqual(Object.keys(img.Config.Volumes ?? {}), ['/data']);
    assert.deepEqual(Object.keys(img.Config.ExposedPorts ?? {}), ['5000/tcp']);
    assert.deepEqual(img.Config.Entrypoint, ['node', '/opt/wharf/bin/wharf.js']);
    assert.deepEqual(img.Config.Cmd, ['serve']);
    assert.equal(img.Config.StopSignal, 'SIGTERM');
    assert.deepEqual((img.Healthcheck ?? img.Config.Healthcheck)?.Test, ['CMD', 'node', '/opt/wharf/healthcheck.mjs']);
    assert.ok(img.Config.Env.includes('WHARF_CONFIG=/etc/wharf/config.yml'), img.Config.Env.join(' '));
    const probe = [
      'node --version',
      'id -u; id -g',
      'for t in cc gcc g++ make python3; do command -v $t; done; true',
      'ls /opt/wharf',
      'ls /opt/wharf/dist',
      'ls /opt/wharf/native/build/Release',
      'test -e /opt/wharf/node_modules/typescript && echo has-typescript; true',
      'find /opt/wharf -name "*.ts" -not -path "*/node_modules/*" | head -3',
    ].join('; echo ---; ');
    const r = await env.podman(['run', '--rm', '--network', 'none', '--entrypoint', 'sh', IMAGE, '-c', probe]);
    const [nodeVersion, ids, compilers, top, dist, release, devDeps, tsFiles] = r.stdout.split('---\n').map((s) => s.trim());
    assert.match(nodeVersion!, /^v20\./);
    assert.equal(ids, `${UID}\n${UID}`);
    assert.equal(compilers, '', `the runtime image has build tools: ${compilers}`);
    assert.deepEqual(
      top!.split('\n').sort(),
      ['README.md', 'bin', 'dist', 'healthcheck.mjs', 'native', 'node_modules', 'package.json']
        .concat(existsSync(join(REPO_ROOT, 'LICENSE')) ? ['LICENSE'] : [])
        .sort(),
    );
    assert.equal(dist, 'src\nui', 'only dist/src and the web UI ship (no dist/test, dist/bench)');
    assert.equal(release, 'wharf_io.node\nwharf_sha.node');
    assert.equal(devDeps, '', 'dev dependencies in the image');
    assert.equal(tsFiles, '', 'TypeScript sources in the image');

    // The built-in configuration: 0.0.0.0:5000, files under /data.
    const name = env.unique('wharf-defaults');
    containers.push(name);
    await env.podman(['run', '-d', '--name', name, '--network', 'none', IMAGE]);
    const started = await startLine(name);
    assert.equal(started.url, 'http://0.0.0.0:5000');
    assert.equal(started.storage, 'filesystem');
    assert.deepEqual(started.namespaces, ['default']);
    assert.equal((await stop(name)).code, 0);
  });

  it('runs as a non-root user, takes the mounted config and WHARF_* variables, serves a multi-layer push and pull', async () => {
    ready();
    const name = await run(env.unique('wharf'));
    // PID 1 of the container is Wharf, not root.
    const status = (await env.podman(['exec', name, 'cat', '/proc/1/status'])).stdout;
    assert.match(status, new RegExp(`^Uid:\\s+${UID}\\s+${UID}\\s+${UID}\\s+${UID}$`, 'm'), status);
    const cmdline = (await env.podman(['exec', name, 'cat', '/proc/1/cmdline'])).stdout.split('\0');
    assert.deepEqual(cmdline.slice(0, 3), ['node', '/opt/wharf/bin/wharf.js', 'serve']);
    const started = await startLine(name);
    assert.equal(started.url, `http://127.0.0.1:${port}`, 'the port of the mounted config');
    assert.deepEqual(started.namespaces, ['from-env', 'from-file'], 'namespaces from the mounted file and WHARF_NAMESPACES__DEFAULT');
    assert.match(started.hashEngine, /^native/);
    assert.equal(started.storage, 'filesystem');
    // The web UI ships in the image (dist/ui).
    const ui = await fetch(`${url()}/ui/`);
    assert.equal(ui.status, 200, await ui.text());
    assert.match(ui.headers.get('content-type') ?? '', /^text\/html/);

    pushed = await env.buildImage({ format: 'oci', randomBytes: 64 * 1024 });
    await env.skopeo(['copy', '-q', `--dest-tls-verify=false`, `containers-storage:${pushed.ref}`, `docker://${host()}/e2e/app:v1`]);
    const id = await pullFresh(`${host()}/e2e/app:v1`);
    assert.equal(id, pushed.id);
    // The data went to the volume, under the mounted config's root.
    const files = (await env.podman(['exec', name, 'find', '/data/registry/from-env/blobs', '-type', 'f'])).stdout.trim().split('\n');
    assert.ok(files.length >= 4, `blobs under /data/registry/from-env: ${files.join(', ')}`);
  });

  it('healthcheck and probes: podman healthcheck run is healthy, /healthz and /readyz answer 200', async () => {
    ready();
    const name = containers.at(-1)!;
    const hc = await env.podman(['healthcheck', 'run', name], { allowFail: true });
    assert.equal(hc.code, 0, `podman healthcheck run: ${hc.stdout}${hc.stderr}\n${await logs(name)}`);
    for (const path of ['/healthz', '/readyz']) {
      const r = await fetch(`${url()}${path}`);
      await r.arrayBuffer();
      assert.equal(r.status, 200, path);
    }
  });

  it('SIGTERM (podman stop) exits 0 within the timeout; a new container on the same volume serves the same image', async () => {
    ready();
    const first = containers.at(-1)!;
    const { code, ms } = await stop(first);
    assert.equal(code, 0, `exit code after SIGTERM (137 = killed after ${STOP_TIMEOUT_S} s):\n${await logs(first)}`);
    assert.ok(ms < STOP_TIMEOUT_S * 1000, `podman stop took ${ms} ms`);
    const log = await logs(first);
    assert.ok(
      log.split('\n').some((l) => l.includes('shutting down') && l.includes('"signal":"SIGTERM"')),
      `no "shutting down" log line naming SIGTERM:\n${log}`,
    );
    await env.podman(['rm', first]);

    const second = await run(env.unique('wharf'));
    const id = await pullFresh(`${host()}/e2e/app:v1`);
    assert.equal(id, pushed.id);
    const again = await stop(second);
    assert.equal(again.code, 0, await logs(second));
  });
});
