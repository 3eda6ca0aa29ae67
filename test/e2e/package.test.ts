// End-to-end: the npm package. `npm pack`, then `npm install -g` of the
// tarball into an empty prefix twice — with a C compiler on PATH (the native
// hash addon builds) and without one (the TypeScript engine serves) — and
// `wharf serve` from each install takes a push and a pull from skopeo.
//   npm run build && node --test --test-concurrency=1 dist/test/e2e/package.test.js
// Dependencies come from the npm registry (npm's cache makes a rerun quick).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { createContainersEnv, requireTools, type ContainersEnv } from '../helpers/containers.js';
import { freePort, REPO_ROOT } from '../helpers/wharf.js';

const INSTALL_TIMEOUT_MS = 10 * 60_000;
/** Names of C/C++ compilers and their drivers (cc, gcc-12, x86_64-linux-gnu-g++, clang-14, ...). */
const COMPILER = /^(?:.*-)?(?:cc|c\+\+|cpp|gcc|g\+\+|clang|clang\+\+|tcc)(?:-[\d.]+)?$/;

interface Run {
  code: number;
  out: string;
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? INSTALL_TIMEOUT_MS);
    child.on('error', (err) => (out += `\n[spawn error: ${err.message}]`));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), out });
    });
  });
}

/**
 * A directory of symlinks to every program on the usual PATH except C/C++
 * compilers: a machine "without a compiler" that still has node, npm,
 * python3, make and a shell.
 */
function pathWithoutCompilers(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const sources = [dirname(process.execPath), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  for (const src of sources) {
    if (!existsSync(src)) continue;
    for (const name of readdirSync(src)) {
      if (COMPILER.test(name) || existsSync(join(dir, name))) continue;
      try {
        if (!statSync(join(src, name)).isFile()) continue;
      } catch {
        continue; // dangling link
      }
      symlinkSync(join(src, name), join(dir, name));
    }
  }
  return dir;
}

/** Environment for npm: the caller's, with PATH replaced and compiler overrides removed. */
function npmEnv(path: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: path };
  for (const k of ['CC', 'CXX', 'LINK', 'npm_config_build_from_source']) delete env[k];
  // The test's own npm lifecycle variables must not leak into the install.
  for (const k of Object.keys(env)) if (k.startsWith('npm_') && k !== 'npm_config_cache') delete env[k];
  return env;
}

/** Built-in defaults plus what the test sets: no WHARF_* of the caller's. */
function withoutWharfVars(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('WHARF_')));
}

describe('npm package (npm pack, npm install -g, wharf serve)', { timeout: 3 * INSTALL_TIMEOUT_MS }, () => {
  let work: string;
  let tarball: string;
  let containers: ContainersEnv;
  let setupError: unknown;
  const ready = () => {
    if (setupError) throw setupError;
  };

  before(async () => {
    try {
      requireTools(['skopeo', 'podman', 'buildah', 'unshare']);
      work = mkdtempSync(join(tmpdir(), 'wharf-package-'));
      const packed = await run('npm', ['pack', '--pack-destination', work], { cwd: REPO_ROOT });
      assert.equal(packed.code, 0, `npm pack failed:\n${packed.out}`);
      const version = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version as string;
      tarball = join(work, `wharf-${version}.tgz`);
      assert.ok(existsSync(tarball), `npm pack made no ${tarball}:\n${packed.out}`);
      containers = createContainersEnv();
    } catch (err) {
      setupError = err;
    }
  });

  after(async () => {
    await containers?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('the tarball holds the CLI, dist/src, the web UI, the addon sources, README and LICENSE — nothing test- or bench-only', () => {
    ready();
    const r = spawnSync('tar', ['-tzf', tarball], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const files = r.stdout
      .trim()
      .split('\n')
      .map((f) => f.replace(/^package\//, ''));
    const allowed = [
      /^package\.json$/,
      /^README\.md$/,
      /^LICENSE$/,
      /^bin\/wharf\.js$/,
      /^dist\/src\/.+\.js$/,
      /^dist\/ui\/[\w.-]+$/,
      /^native\/binding\.gyp$/,
      /^native\/src\/[\w-]+\.[ch]$/,
      /^scripts\/build-native\.mjs$/,
    ];
    const unexpected = files.filter((f) => !allowed.some((re) => re.test(f)));
    assert.deepEqual(unexpected, [], 'files outside the allowed set');
    for (const f of [
      'package.json',
      'README.md',
      'LICENSE',
      'bin/wharf.js',
      'dist/src/cli/main.js',
      'dist/ui/index.html',
      'dist/ui/app.js',
      'native/binding.gyp',
      'scripts/build-native.mjs',
    ]) {
      assert.ok(files.includes(f), `${f} missing from the tarball`);
    }
    // Every compiled module of src/ is there (a stale or partial dist would miss some).
    const sources = spawnSync('git', ['ls-files', 'src'], { cwd: REPO_ROOT, encoding: 'utf8' }).stdout.trim().split('\n');
    const missing = sources.filter((s) => s.endsWith('.ts') && !files.includes(`dist/${s.replace(/\.ts$/, '.js')}`));
    assert.deepEqual(missing, [], 'compiled modules missing');
    // ... and nothing compiled from a source that is gone (prepack clears dist/src).
    const stale = files.filter((f) => f.startsWith('dist/src/') && !sources.includes(f.slice('dist/'.length).replace(/\.js$/, '.ts')));
    assert.deepEqual(stale, [], 'compiled modules without a source');
  });

  /** Installs the tarball into an empty prefix; returns the install output. */
  async function install(prefix: string, path: string): Promise<string> {
    const r = await run('npm', ['install', '-g', '--prefix', prefix, '--foreground-scripts', '--no-audit', '--no-fund', tarball], {
      cwd: work,
      env: npmEnv(path),
    });
    assert.equal(r.code, 0, `npm install -g failed:\n${r.out}`);
    return r.out;
  }

  /** Starts <prefix>/bin/wharf serve, pushes with skopeo and pulls back; returns the start log line. */
  async function serveAndUse(prefix: string, path: string): Promise<{ started: any; log: string }> {
    const port = await freePort();
    const data = join(work, `data-${port}`);
    const child = spawn(join(prefix, 'bin', 'wharf'), ['serve'], {
      cwd: work,
      env: { ...withoutWharfVars(npmEnv(path)), WHARF_PORT: String(port), WHARF_STORAGE__ROOT: data },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (log += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (log += d));
    const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    try {
      const deadline = Date.now() + 30_000;
      while (!log.includes('"wharf listening"')) {
        if (child.exitCode !== null) assert.fail(`wharf serve exited ${child.exitCode}:\n${log}`);
        if (Date.now() > deadline) assert.fail(`wharf serve did not start in 30 s:\n${log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const line = log.split('\n').find((l) => l.includes('"wharf listening"'))!;
      const started = JSON.parse(line);
      // The web UI ships in the package (dist/ui).
      const ui = await fetch(`http://127.0.0.1:${port}/ui/`);
      assert.equal(ui.status, 200, await ui.text());

      const img = await containers.buildImage({ format: 'oci' });
      const ref = `127.0.0.1:${port}/pkg/app:v1`;
      await containers.skopeo(['copy', '-q', '--dest-tls-verify=false', `containers-storage:${img.ref}`, `docker://${ref}`]);
      const dir = join(work, `pulled-${port}`);
      await containers.skopeo(['copy', '-q', '--src-tls-verify=false', `docker://${ref}`, `dir:${dir}`]);
      const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
      assert.equal(manifest.config.digest, `sha256:${img.id}`);
      assert.equal(manifest.layers.length, 2);
      return { started, log };
    } finally {
      child.kill('SIGTERM');
      const code = await exited;
      assert.equal(code, 0, `wharf serve did not exit 0 on SIGTERM:\n${log}`);
    }
  }

  it('with a compiler on PATH: the native addon builds and wharf serve uses it', async () => {
    ready();
    const prefix = join(work, 'with-compiler');
    const path = process.env.PATH ?? '';
    const out = await install(prefix, path);
    assert.match(out, /wharf: native hash addon built \((SHA-NI|portable C)\)/, out);
    assert.ok(existsSync(join(prefix, 'lib', 'node_modules', 'wharf', 'native', 'build', 'Release', 'wharf_sha.node')));
    const { started } = await serveAndUse(prefix, path);
    assert.match(started.hashEngine, /^native \((SHA-NI|portable C)\)$/);
    assert.equal(started.blobBodies, 'sendfile');
  });

  it('without a compiler: the install succeeds, the TypeScript hash engine serves and the start log says so', async () => {
    ready();
    const path = [join(work, 'bin-without-compilers')].join(delimiter);
    pathWithoutCompilers(path);
    // The premise: nothing on this PATH compiles C.
    for (const cc of ['cc', 'gcc', 'c++', 'g++', 'clang']) {
      const found = spawnSync('sh', ['-c', `command -v ${cc}`], { env: { PATH: path }, encoding: 'utf8' });
      assert.notEqual(found.status, 0, `${cc} is still on the PATH: ${found.stdout}`);
    }
    const prefix = join(work, 'without-compiler');
    const out = await install(prefix, path);
    assert.match(out, /wharf: native hash addon NOT built \(.*\); the TypeScript hash engine will be used/, out);
    assert.ok(!existsSync(join(prefix, 'lib', 'node_modules', 'wharf', 'native', 'build', 'Release', 'wharf_sha.node')));
    const { started } = await serveAndUse(prefix, path);
    assert.equal(started.hashEngine, 'typescript');
    assert.match(started.blobBodies, /^streamed \(.*not built\)$/);
  });
});
