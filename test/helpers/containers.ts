// A private "containers" environment (podman/buildah/skopeo) for end-to-end
// tests, in a temp dir: its own image store, configs, auth file, policy and
// blob-info cache, so tests never read or write the machine's
// /var/lib/containers, /etc/containers or another test run's state.
//
// Plus builders for tiny local test images made from scratch (no internet):
// a base layer with /bin/busybox (Debian busybox-static) and a layer of fresh
// random bytes per image, so every image (and its pushed blobs) is unique.
//
// Facts of the test machines this relies on (measured there):
// - storage driver `vfs` (no overlay here), private graphroot/runroot;
// - runtime `runc` (crun: "cgroups in hybrid mode not supported"), ulimits
//   <= 4096, cgroupfs, no network for containers;
// - as root, containers/image keeps its blob-info cache in
//   /var/lib/containers/cache (no flag or env var moves it in skopeo 1.9 /
//   podman 4.3 / buildah 1.28). A stale cache makes pushes *mount* blobs
//   instead of uploading them, and leaks state between runs. So every tool
//   runs in a private mount namespace (`unshare -m`) with a per-environment
//   directory bind-mounted over that path.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  accessSync,
  closeSync,
  constants as fsc,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { INSTALL_HINT, startE2ERegistry, type RunningRegistry } from './registries.js';

export { INSTALL_HINT };

export type Tool = 'skopeo' | 'podman' | 'buildah';

/** Where root's containers/image blob-info cache lives (not configurable). */
export const SYSTEM_BLOB_INFO_CACHE = '/var/lib/containers/cache';

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
} as const;

// ---------------------------------------------------------------------------
// Tool discovery

function which(name: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/sbin', '/usr/bin', '/bin']);
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, name);
    try {
      accessSync(p, fsc.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** True when the ELF file has no program interpreter (statically linked). */
function isStaticElf(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const hdr = Buffer.alloc(64);
    readSync(fd, hdr, 0, 64, 0);
    if (hdr.readUInt32BE(0) !== 0x7f454c46 || hdr[4] !== 2 || hdr[5] !== 1) return false; // ELF64 LE only
    const phoff = Number(hdr.readBigUInt64LE(0x20));
    const phentsize = hdr.readUInt16LE(0x36);
    const phnum = hdr.readUInt16LE(0x38);
    const ph = Buffer.alloc(phentsize * phnum);
    readSync(fd, ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) if (ph.readUInt32LE(i * phentsize) === 3 /* PT_INTERP */) return false;
    return true;
  } finally {
    closeSync(fd);
  }
}

export const BUSYBOX = '/bin/busybox';

/**
 * Throws (so the test FAILS, never skips) when a tool the e2e tests need is
 * missing, naming the tools and how to install them.
 */
export function requireTools(tools: readonly string[] = ['skopeo', 'podman', 'buildah', 'runc', 'unshare']): void {
  const missing = tools.filter((t) => !which(t));
  const problems = missing.length ? [`missing: ${missing.join(', ')}`] : [];
  if (!existsSync(BUSYBOX)) problems.push(`missing: ${BUSYBOX} (package busybox-static)`);
  else if (!isStaticElf(BUSYBOX)) problems.push(`${BUSYBOX} is not statically linked (install busybox-static)`);
  if (problems.length) {
    throw new Error(`e2e prerequisites not met: ${problems.join('; ')}. To fix: ${INSTALL_HINT}`);
  }
}

// ---------------------------------------------------------------------------
// Running tools

export interface RunOptions {
  /** Kill the tool after this long (default 60 s; E2E_TOOL_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Resolve with the result instead of throwing on a non-zero exit. */
  allowFail?: boolean;
  /** Extra env vars for this call. */
  env?: Record<string, string>;
  /** Add the tool's debug flag (`--debug` / `--log-level=debug`). */
  debug?: boolean;
}

export interface RunResult {
  cmd: string;
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export class ToolError extends Error {
  constructor(
    message: string,
    readonly result: RunResult,
  ) {
    super(message);
    this.name = 'ToolError';
  }
}

function tail(s: string, n: number): string {
  return s.length <= n ? s : `[... ${s.length - n} chars cut ...]\n${s.slice(-n)}`;
}

function quote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

// Subcommands that evaluate the signature policy: buildah and podman get the
// private policy.json through their (sometimes hidden) --signature-policy flag.
const POLICY_SUBCOMMANDS: Record<'podman' | 'buildah', string[][]> = {
  podman: [['pull'], ['push'], ['run']],
  buildah: [['from'], ['pull'], ['push'], ['commit'], ['manifest', 'push']],
};

export interface LocalImage {
  /** containers-storage name, e.g. localhost/wharf-e2e/img-1a2b:latest */
  ref: string;
  /** Image ID = hex of the config digest (no "sha256:"). */
  id: string;
  format: 'oci' | 'docker';
  arch: string;
  variant?: string;
  /** Path of the random file in the top layer, e.g. /wharf-random-0a1b2c3d4e5f */
  randomFile: string;
  /** Hex SHA-256 of that file's content (check it inside a container). */
  randomSha256: string;
}

export interface MultiArchImage {
  /** containers-storage name of the manifest list, e.g. localhost/wharf-e2e/list-1a2b:latest */
  listRef: string;
  images: LocalImage[];
}

export interface OciLayoutEntry {
  /** Digest of the manifest/index the tag points to. */
  digest: string;
  mediaType: string;
  size: number;
  /** The raw bytes of that manifest/index. */
  raw: Buffer;
  /** Parsed JSON. */
  json: any;
}

export interface ImageOptions {
  format?: 'oci' | 'docker';
  arch?: string;
  variant?: string;
  /** Size of the random top layer file (default 4 KiB). */
  randomBytes?: number;
  /** Name (repository part) in local storage; default img-<random>. */
  name?: string;
}

export interface ContainersEnvOptions {
  /** Use this directory (created if missing) instead of a new temp dir. */
  dir?: string;
  /** Add debug flags to every tool call (also: E2E_DEBUG=1). */
  debug?: boolean;
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export class ContainersEnv {
  readonly dir: string;
  readonly storageConf: string;
  readonly containersConf: string;
  readonly registriesConf: string;
  readonly policyPath: string;
  readonly authFile: string;
  readonly blobInfoCacheDir: string;
  readonly tmpDir: string;
  /** Env vars every tool run gets (on top of process.env). */
  readonly env: Record<string, string>;
  /** False if `unshare -m` + bind mount is not possible here (then the system cache is used). */
  readonly privateBlobInfoCache: boolean;
  readonly debug: boolean;
  /** Optional extra text appended to tool errors (e.g. the registry's log tail). */
  failureContext?: () => string;
  /** Every call made, for diagnostics. */
  readonly history: RunResult[] = [];
  private baseRef?: Promise<string>;
  private hadTimeout = false;
  private counter = 0;

  constructor(opts: ContainersEnvOptions = {}) {
    this.dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'wharf-containers-'));
    this.debug = opts.debug ?? process.env.E2E_DEBUG === '1';
    const d = (p: string) => {
      const full = join(this.dir, p);
      mkdirSync(full, { recursive: true });
      return full;
    };
    const graphroot = d('storage');
    const runroot = d('run');
    const libpodTmp = d('libpod-tmp');
    this.tmpDir = d('tmp');
    this.blobInfoCacheDir = d('blob-info-cache');
    d('home');

    this.storageConf = join(this.dir, 'storage.conf');
    writeFileSync(this.storageConf, `[storage]\ndriver = "vfs"\ngraphroot = "${graphroot}"\nrunroot = "${runroot}"\n`);
    this.containersConf = join(this.dir, 'containers.conf');
    writeFileSync(
      this.containersConf,
      [
        '[containers]',
        // <= 4096: higher limits make runc fail to start containers here.
        'default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]',
        'netns = "none"',
        'log_driver = "k8s-file"',
        '[engine]',
        'runtime = "runc"',
        'cgroup_manager = "cgroupfs"',
        'events_logger = "none"',
        // File locks in our own dir instead of the machine-wide /dev/shm/libpod_lock.
        'lock_type = "file"',
        `tmp_dir = "${libpodTmp}"`,
        `image_copy_tmp_dir = "${this.tmpDir}"`,
        '',
      ].join('\n'),
    );
    this.registriesConf = join(this.dir, 'registries.conf');
    // No search registries: every name is fully qualified; nothing reaches the internet.
    writeFileSync(this.registriesConf, 'unqualified-search-registries = []\nshort-name-mode = "disabled"\n');
    this.policyPath = join(this.dir, 'policy.json');
    writeFileSync(this.policyPath, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    this.authFile = join(this.dir, 'auth.json');
    writeFileSync(this.authFile, JSON.stringify({ auths: {} }));

    this.env = {
      CONTAINERS_STORAGE_CONF: this.storageConf,
      CONTAINERS_CONF: this.containersConf,
      CONTAINERS_REGISTRIES_CONF: this.registriesConf,
      REGISTRY_AUTH_FILE: this.authFile,
      // Not read by skopeo 1.9 (there is no env var or flag for the cache dir);
      // kept so a newer containers/image that honours it uses our dir too.
      BLOB_INFO_CACHE: this.blobInfoCacheDir,
      TMPDIR: this.tmpDir,
      XDG_RUNTIME_DIR: runroot,
      XDG_CONFIG_HOME: join(this.dir, 'home', '.config'),
      XDG_DATA_HOME: join(this.dir, 'home', '.local', 'share'),
      HOME: join(this.dir, 'home'),
      // Keep containers.conf.d/ and registries.conf.d/ of the machine out.
      CONTAINERS_REGISTRIES_CONF_DIR: join(this.dir, 'registries.conf.d'),
    };
    d('registries.conf.d');
    this.privateBlobInfoCache = this.probeUnshare();
  }

  /** Pulls of docker.io/... go to the mirror at `location` (plain HTTP), then docker.io: registries.conf rewritten so. */
  mirrorDockerIo(location: string): void {
    writeFileSync(
      this.registriesConf,
      [
        'unqualified-search-registries = []',
        'short-name-mode = "disabled"',
        '',
        '[[registry]]',
        'prefix = "docker.io"',
        'location = "docker.io"',
        '',
        '[[registry.mirror]]',
        `location = "${location}"`,
        'insecure = true',
        '',
      ].join('\n'),
    );
  }

  /** Can we run tools in a private mount namespace with our cache bind-mounted? */
  private probeUnshare(): boolean {
    if (process.env.E2E_NO_UNSHARE === '1') return false;
    if (typeof process.getuid === 'function' && process.getuid() !== 0) return false; // non-root uses $XDG_DATA_HOME, already private
    try {
      mkdirSync(SYSTEM_BLOB_INFO_CACHE, { recursive: true });
    } catch {
      return false;
    }
    const r = spawnSync('unshare', this.wrap('true', []).slice(1), {
      env: { ...process.env, ...this.env, WHARF_BIC_DIR: this.blobInfoCacheDir },
      encoding: 'utf8',
    });
    if (r.status !== 0) {
      process.stderr.write(
        `# containers helper: unshare -m not usable (${(r.stderr || r.error?.message || '').trim()}); ` +
          `tools will share ${SYSTEM_BLOB_INFO_CACHE} (pushes may mount instead of upload)\n`,
      );
      return false;
    }
    return true;
  }

  private wrap(tool: string, args: string[]): string[] {
    return [
      'unshare',
      '--mount',
      '--propagation',
      'private',
      '--',
      'sh',
      '-c',
      `mount --bind "$WHARF_BIC_DIR" ${SYSTEM_BLOB_INFO_CACHE} && exec "$0" "$@"`,
      tool,
      ...args,
    ];
  }

  private withPolicy(tool: Tool, args: string[]): string[] {
    if (tool === 'skopeo') return ['--policy', this.policyPath, ...args];
    if (args.includes('--signature-policy')) return args;
    for (const sub of POLICY_SUBCOMMANDS[tool]) {
      if (sub.every((s, i) => args[i] === s)) {
        return [...sub, '--signature-policy', this.policyPath, ...args.slice(sub.length)];
      }
    }
    return args;
  }

  /** Runs skopeo/podman/buildah with this environment. Throws ToolError (with stderr) on failure. */
  async run(tool: Tool, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    let full = this.withPolicy(tool, args);
    if (opts.debug ?? this.debug) full = [tool === 'skopeo' ? '--debug' : '--log-level=debug', ...full];
    const cmd = `${tool} ${full.map(quote).join(' ')}`;
    const argv = this.privateBlobInfoCache ? this.wrap(tool, full) : [tool, ...full];
    const env = { ...process.env, ...this.env, WHARF_BIC_DIR: this.blobInfoCacheDir, ...opts.env };
    // Never let REGISTRY_* config overrides for docker-registry or a user's
    // CONTAINERS_* leak in other than ours.
    const started = Date.now();
    // After one call hung (a hanging registry), later calls get a short leash
    // so a broken server costs seconds per test, not minutes.
    const defaultTimeout = Number(process.env.E2E_TOOL_TIMEOUT_MS) || 60_000;
    const timeoutMs = opts.timeoutMs ?? (this.hadTimeout ? Math.min(defaultTimeout, 15_000) : defaultTimeout);
    const result = await new Promise<RunResult>((resolve) => {
      const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const timer = setTimeout(() => {
        this.hadTimeout = true;
        stderr +=
          `\n[killed by test helper after ${timeoutMs} ms: the registry may be hanging; ` +
          `rerun with E2E_DEBUG=1 to see the HTTP requests the tool sent]`;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.on('error', (err) => {
        stderr += `\n[spawn error: ${err.message}]`;
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ cmd, code: code ?? (signal ? 128 : 1), stdout, stderr, ms: Date.now() - started });
      });
    });
    this.history.push(result);
    if (process.env.E2E_TIMINGS === '1') {
      process.stderr.write(`# ${String(result.ms).padStart(6)} ms  exit ${result.code}  ${cmd.slice(0, 160)}\n`);
    }
    if (result.code !== 0 && !opts.allowFail) {
      const missing = which(tool) ? '' : `\n${tool} is not installed: ${INSTALL_HINT}`;
      const ctx = this.failureContext ? `\n--- context ---\n${tail(this.failureContext(), 4000)}` : '';
      throw new ToolError(
        `${cmd}\nexited with ${result.code} after ${result.ms} ms${missing}\n--- stderr ---\n${tail(result.stderr, 8000)}` +
          `\n--- stdout ---\n${tail(result.stdout, 2000)}${ctx}`,
        result,
      );
    }
    return result;
  }

  skopeo(args: string[], opts?: RunOptions) {
    return this.run('skopeo', args, opts);
  }
  podman(args: string[], opts?: RunOptions) {
    return this.run('podman', args, opts);
  }
  buildah(args: string[], opts?: RunOptions) {
    return this.run('buildah', args, opts);
  }

  /** Unique suffix for names in this environment. */
  unique(prefix: string): string {
    return `${prefix}-${process.pid.toString(36)}${(this.counter++).toString(36)}${randomBytes(3).toString('hex')}`;
  }

  // -------------------------------------------------------------------------
  // Image builders

  /**
   * The shared base image: `FROM scratch` + /bin/busybox, OCI format, built
   * once per environment. Returns its local name.
   */
  baseImage(): Promise<string> {
    this.baseRef ??= (async () => {
      const ref = 'localhost/wharf-e2e/base:latest';
      const c = (await this.buildah(['from', '--pull=never', '--name', this.unique('base'), 'scratch'])).stdout.trim();
      try {
        await this.buildah(['copy', '-q', c, BUSYBOX, '/bin/busybox']);
        await this.buildah([
          'config',
          '--os',
          'linux',
          '--arch',
          'amd64',
          '--env',
          'PATH=/bin',
          '--cmd',
          '["/bin/busybox","sh"]',
          '--label',
          'org.opencontainers.image.title=wharf-e2e-base',
          c,
        ]);
        await this.buildah(['commit', '-q', '--format', 'oci', c, ref]);
      } finally {
        await this.buildah(['rm', c], { allowFail: true });
      }
      return ref;
    })();
    return this.baseRef;
  }

  /**
   * A two-layer image: the busybox base layer + one layer holding a file of
   * fresh random bytes (so its digests are new to every registry).
   */
  async buildImage(opts: ImageOptions = {}): Promise<LocalImage> {
    const base = await this.baseImage();
    const format = opts.format ?? 'oci';
    const arch = opts.arch ?? 'amd64';
    const name = opts.name ?? this.unique('img');
    const ref = `localhost/wharf-e2e/${name}:latest`;
    const randomFile = `/wharf-random-${randomBytes(6).toString('hex')}`;
    const local = join(this.tmpDir, randomFile.slice(1));
    const content = randomBytes(opts.randomBytes ?? 4096);
    writeFileSync(local, content);
    const randomSha256 = createHash('sha256').update(content).digest('hex');
    const c = (await this.buildah(['from', '--pull=never', '--name', this.unique('work'), base])).stdout.trim();
    try {
      await this.buildah(['copy', '-q', c, local, randomFile]);
      const cfg = ['config', '--arch', arch, '--label', `wharf.e2e.random=${randomFile}`];
      if (opts.variant) cfg.push('--variant', opts.variant);
      await this.buildah([...cfg, c]);
      const id = (await this.buildah(['commit', '-q', '--format', format, c, ref])).stdout.trim();
      if (!/^[0-9a-f]{64}$/.test(id)) throw new Error(`buildah commit printed no image id: ${JSON.stringify(id)}`);
      return { ref, id, format, arch, variant: opts.variant, randomFile, randomSha256 };
    } finally {
      rmSync(local, { force: true });
      await this.buildah(['rm', c], { allowFail: true });
    }
  }

  /**
   * A manifest list in local storage with one fresh image per platform
   * (default linux/amd64 and linux/arm64/v8; the bytes are the same amd64
   * busybox, only the config's platform differs — enough for a registry).
   */
  async buildMultiArch(
    opts: { format?: 'oci' | 'docker'; platforms?: { arch: string; variant?: string }[] } = {},
  ): Promise<MultiArchImage> {
    const platforms = opts.platforms ?? [{ arch: 'amd64' }, { arch: 'arm64', variant: 'v8' }];
    const images: LocalImage[] = [];
    for (const p of platforms) {
      images.push(await this.buildImage({ format: opts.format, arch: p.arch, variant: p.variant }));
    }
    const listRef = `localhost/wharf-e2e/${this.unique('list')}:latest`;
    await this.buildah(['manifest', 'create', listRef]);
    for (const img of images) {
      await this.buildah(['manifest', 'add', listRef, `containers-storage:${img.ref}`]);
    }
    return { listRef, images };
  }

  /** Copies a local image into an OCI layout directory (skopeo copy containers-storage: → oci:). */
  async saveOciLayout(ref: string, dir: string, tag = 'latest'): Promise<OciLayoutEntry> {
    await this.skopeo(['copy', '-q', `containers-storage:${ref}`, `oci:${dir}:${tag}`]);
    return readOciLayout(dir, tag);
  }

  /** Writes a local manifest list and all its images into an OCI layout (as an OCI index). */
  async saveIndexLayout(listRef: string, dir: string, tag = 'latest'): Promise<OciLayoutEntry> {
    await this.buildah(['manifest', 'push', '-q', '--all', '--format', 'oci', listRef, `oci:${dir}:${tag}`]);
    return readOciLayout(dir, tag);
  }

  /** Removes this environment's directory (all images, containers, configs). */
  async cleanup(): Promise<void> {
    if (process.env.E2E_KEEP === '1') {
      process.stderr.write(`# containers env kept at ${this.dir}\n`);
      return;
    }
    // Nothing is mounted (vfs, private mount namespaces): a recursive delete is enough.
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

export function createContainersEnv(opts?: ContainersEnvOptions): ContainersEnv {
  return new ContainersEnv(opts);
}

// ---------------------------------------------------------------------------
// OCI layout reading

export function ociBlobPath(dir: string, digest: string): string {
  const [alg, hex] = digest.split(':');
  return join(dir, 'blobs', alg!, hex!);
}

/** Reads the manifest/index a tag points to in an OCI layout directory, verifying its digest. */
export function readOciLayout(dir: string, tag = 'latest'): OciLayoutEntry {
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
  const entry = (index.manifests as any[]).find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!entry) throw new Error(`tag ${tag} not in ${dir}/index.json: ${JSON.stringify(index)}`);
  const raw = readFileSync(ociBlobPath(dir, entry.digest));
  if (sha256(raw) !== entry.digest) throw new Error(`${dir}: blob ${entry.digest} has digest ${sha256(raw)}`);
  return { digest: entry.digest, mediaType: entry.mediaType, size: entry.size, raw, json: JSON.parse(raw.toString('utf8')) };
}

/** Reads any blob of an OCI layout, verifying its digest. */
export function readOciBlob(dir: string, digest: string): Buffer {
  const b = readFileSync(ociBlobPath(dir, digest));
  if (sha256(b) !== digest) throw new Error(`${dir}: blob ${digest} has digest ${sha256(b)}`);
  return b;
}

/** Reads a `dir:` transport directory (skopeo copy ... dir:DIR): manifest + blobs by hex name. */
export function readDirTransport(dir: string): { raw: Buffer; json: any; blob(digest: string): Buffer } {
  const raw = readFileSync(join(dir, 'manifest.json'));
  return {
    raw,
    json: JSON.parse(raw.toString('utf8')),
    blob: (digest: string) => readFileSync(join(dir, digest.split(':')[1]!)),
  };
}

// ---------------------------------------------------------------------------
// Per-file e2e setup

export interface E2E {
  env: ContainersEnv;
  registry: RunningRegistry;
  /** docker://HOST/REPO:TAG (or @DIGEST when ref starts with sha256:). */
  docker(repo: string, ref: string): string;
  /** HOST/REPO:TAG for podman (no transport prefix). */
  name(repo: string, ref: string): string;
  /** `skopeo inspect --raw` bytes (verbatim manifest as served). */
  inspectRaw(repo: string, ref: string): Promise<Buffer>;
  stop(): Promise<void>;
}

/**
 * Checks the tools, makes a private containers env and starts the registry
 * under test (Wharf, or Distribution with E2E_REGISTRY=distribution).
 * Tool errors then carry the tail of the registry's log.
 */
export async function startE2E(tools?: readonly string[]): Promise<E2E> {
  requireTools(tools);
  const env = createContainersEnv();
  let registry: RunningRegistry;
  try {
    registry = await startE2ERegistry();
  } catch (err) {
    await env.cleanup();
    throw err;
  }
  env.failureContext = () => `${registry.kind} at ${registry.url}, log tail:\n${registry.output()}`;
  const sep = (ref: string) => (ref.startsWith('sha256:') ? '@' : ':');
  const name = (repo: string, ref: string) => `${registry.host}/${repo}${sep(ref)}${ref}`;
  return {
    env,
    registry,
    name,
    docker: (repo, ref) => `docker://${name(repo, ref)}`,
    inspectRaw: async (repo, ref) =>
      Buffer.from((await env.skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${name(repo, ref)}`])).stdout, 'utf8'),
    stop: async () => {
      await registry.stop();
      await env.cleanup();
    },
  };
}
