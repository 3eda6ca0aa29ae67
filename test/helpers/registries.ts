// Registries for end-to-end tests and benchmarks: CNCF Distribution (the
// reference implementation, Debian package `docker-registry`) and Wharf itself,
// behind one small interface so a test or benchmark can run against either.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { processOutput, type OutputTo } from './process-output.js';
import { freePort, startWharf, WHARF_BIN, REPO_ROOT, type StartOptions } from './wharf.js';

export const INSTALL_HINT =
  'run `sudo bash scripts/install-test-deps.sh` (installs skopeo, podman, buildah, runc, busybox-static, docker-registry, ...)';

export const DISTRIBUTION_BIN = '/usr/bin/docker-registry';

export interface RunningRegistry {
  /** 'distribution' or 'wharf' */
  kind: RegistryKind;
  /** e.g. http://127.0.0.1:40123 */
  url: string;
  /** e.g. 127.0.0.1:40123 (what skopeo/podman want) */
  host: string;
  port: number;
  /** Storage root on disk. */
  dataDir: string;
  /** Process output so far (stdout+stderr), for failure messages. */
  output(): string;
  /** SIGTERM, wait for exit, remove the temp dir (unless E2E_KEEP=1). */
  stop(): Promise<void>;
}

export type RegistryKind = 'distribution' | 'wharf';

export interface DistributionOptions {
  port?: number;
  /** Reuse a storage root (kept on stop). */
  dataDir?: string;
  /** Distribution log level (default 'warn'; 'debug' logs every request). */
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
  /** Extra top-level config merged into the generated YAML. */
  extraConfig?: Record<string, unknown>;
  /** Ms to wait for /v2/ (default 20 000). */
  startTimeoutMs?: number;
  /** The storage driver section instead of the filesystem one, plus e.g. `redirect` (the bench's `--store s3`). */
  storage?: Record<string, unknown>;
  /** 'memory' (default) or 'file': see StartOptions.outputTo in wharf.ts. */
  outputTo?: OutputTo;
}

async function waitForV2(url: string, child: ChildProcess, out: () => string, what: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${what} exited during start (${child.exitCode ?? child.signalCode}):\n${out()}`);
    }
    try {
      const r = await fetch(`${url}/v2/`);
      await r.arrayBuffer();
      if (r.status === 200 || r.status === 401) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${what} did not answer ${url}/v2/ in ${timeoutMs} ms:\n${out()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts CNCF Distribution (`docker-registry serve CONFIG`) on 127.0.0.1 with a
 * filesystem store in a temp dir and deletes enabled.
 */
export async function startDistribution(opts: DistributionOptions = {}): Promise<RunningRegistry> {
  if (!existsSync(DISTRIBUTION_BIN)) {
    throw new Error(`${DISTRIBUTION_BIN} not found (CNCF Distribution): ${INSTALL_HINT}`);
  }
  const tmp = mkdtempSync(join(tmpdir(), 'wharf-distribution-'));
  const dataDir = opts.dataDir ?? join(tmp, 'data');
  mkdirSync(dataDir, { recursive: true });
  const port = opts.port ?? (await freePort());
  const config = {
    version: 0.1,
    log: { level: opts.logLevel ?? 'warn', accesslog: { disabled: opts.logLevel !== 'debug' } },
    storage: {
      ...(opts.storage ?? { filesystem: { rootdirectory: dataDir } }),
      delete: { enabled: true },
      cache: { blobdescriptor: 'inmemory' },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: { addr: `127.0.0.1:${port}`, secret: 'wharf-test-secret' },
    ...opts.extraConfig,
  };
  const configPath = join(tmp, 'config.yml');
  writeFileSync(configPath, stringify(config));
  const io = processOutput(opts.outputTo ?? 'memory', join(tmp, 'output.log'));
  const child = spawn(DISTRIBUTION_BIN, ['serve', configPath], {
    stdio: io.stdio,
    // Distribution reads REGISTRY_* env vars as config overrides, and its S3 driver AWS_* ones
    // (an AWS_CA_BUNDLE makes it panic at start with its own HTTP transport): don't inherit any.
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRY_') && !k.startsWith('AWS_'))),
  });
  io.attach(child);
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const url = `http://127.0.0.1:${port}`;
  await waitForV2(url, child, io.output, 'docker-registry', opts.startTimeoutMs ?? 20_000);
  return {
    kind: 'distribution',
    url,
    host: `127.0.0.1:${port}`,
    port,
    dataDir,
    output: io.output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      if (process.env.E2E_KEEP !== '1') {
        rmSync(tmp, { recursive: true, force: true });
      }
    },
  };
}

/** Starts `wharf serve` (test/helpers/wharf.ts) behind the same interface. */
export async function startWharfRegistry(opts: StartOptions = {}): Promise<RunningRegistry> {
  const distMain = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
  if (!existsSync(distMain)) {
    throw new Error(`Wharf is not built (${distMain} missing): run \`npm run build\` first (${WHARF_BIN})`);
  }
  const w = await startWharf(opts);
  return {
    kind: 'wharf',
    url: w.url,
    host: w.host,
    port: w.port,
    dataDir: w.dataDir,
    output: w.output,
    stop: async () => {
      if (process.env.E2E_KEEP === '1') await w.stop();
      else await w.cleanup();
    },
  };
}

/**
 * The registry the e2e tests run against: Wharf by default;
 * `E2E_REGISTRY=distribution` runs the same tests against CNCF
 * Distribution (to tell a harness problem from a Wharf bug).
 */
export function e2eRegistryKind(): RegistryKind {
  const v = (process.env.E2E_REGISTRY ?? 'wharf').toLowerCase();
  if (v === 'wharf' || v === 'distribution') return v;
  throw new Error(`E2E_REGISTRY must be 'wharf' or 'distribution', not ${JSON.stringify(v)}`);
}

export async function startE2ERegistry(kind: RegistryKind = e2eRegistryKind()): Promise<RunningRegistry> {
  if (kind === 'distribution') return startDistribution(process.env.E2E_DEBUG === '1' ? { logLevel: 'debug' } : {});
  return startWharfRegistry({ registry: wharfE2EConfig() });
}

/**
 * Extra `registry:` config for Wharf in e2e runs. Default: the helper's
 * filesystem store in a temp dir. E2E_DEBUG=1 sets log-level debug.
 * E2E_WHARF_STORAGE=memory uses the memory
 * driver; E2E_WHARF_STORAGE_JSON='{"driver":"s3",...}' any storage section.
 */
function wharfE2EConfig(): Record<string, unknown> {
  const cfg: Record<string, unknown> = {};
  // E2E_DEBUG=1: every request in Wharf's log (shown in tool failures).
  if (process.env.E2E_DEBUG === '1') cfg['log-level'] = 'debug';
  const json = process.env.E2E_WHARF_STORAGE_JSON;
  const driver = process.env.E2E_WHARF_STORAGE;
  if (json) cfg.storage = JSON.parse(json);
  else if (driver && driver !== 'filesystem') cfg.storage = { driver };
  return cfg;
}
