// Starts a real `wharf serve` process on loopback for HTTP and end-to-end tests.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { processOutput, type OutputTo } from './process-output.js';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..');
export const WHARF_BIN = join(REPO_ROOT, 'bin', 'wharf.js');

export interface WharfProcess {
  /** e.g. http://127.0.0.1:40123 */
  url: string;
  /** e.g. 127.0.0.1:40123 (what skopeo/podman want) */
  host: string;
  port: number;
  /** Storage root (filesystem driver) when the helper made one. */
  dataDir: string;
  /** The generated wharf.yaml (tests rewrite it and send SIGHUP). */
  configPath: string;
  child: ChildProcess;
  /** Output so far (stdout+stderr), for failure messages. */
  output(): string;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  /** SIGKILL and wait (crash simulation). */
  kill(): Promise<void>;
  /** Stop and remove the temp dir. */
  cleanup(): Promise<void>;
}

/**
 * Stop a test's server (when it started at all) and remove its files, then
 * fail if its log shows a request that failed inside the server (a 500):
 * what an `after` hook checks once its tests are done.
 */
export async function stopCheckingLog(w: WharfProcess | undefined): Promise<void> {
  const out = w?.output() ?? '';
  await w?.cleanup();
  assert.doesNotMatch(out, /request failed/, `server logged internal failures:\n${out}`);
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

export interface StartOptions {
  /** Extra settings merged into `registry:` of the generated config. */
  registry?: Record<string, unknown>;
  /** Reuse an existing data dir (e.g. after a crash). */
  dataDir?: string;
  port?: number;
  /** How the helper picks a port when `port` is not given (default freePort; a test of the retry takes it first). */
  pickPort?: () => Promise<number>;
  env?: Record<string, string>;
  /**
   * 'memory' (default): all output is kept for output(). 'file': it goes to a
   * file in the temp dir that is read only when output() is called (benchmarks:
   * no work per log line in the measuring process).
   */
  outputTo?: OutputTo;
}

function httpsStatus(url: string): Promise<number> {
  return new Promise((res, rej) => {
    httpsGet(url, { rejectUnauthorized: false }, (r) => {
      r.resume();
      res(r.statusCode ?? 0);
    }).on('error', rej);
  });
}

/**
 * freePort() closes its socket before wharf binds the port: another process
 * (test:quick runs two files at once) may take it in between. Only when the
 * helper chose the port does it start again on another.
 */
export async function startWharf(opts: StartOptions = {}): Promise<WharfProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startWharfOnce(opts);
    } catch (err) {
      if (opts.port !== undefined || attempt >= 3 || !(err instanceof PortTakenError)) throw err;
    }
  }
}

class PortTakenError extends Error {}

async function startWharfOnce(opts: StartOptions): Promise<WharfProcess> {
  const tmp = mkdtempSync(join(tmpdir(), 'wharf-test-'));
  const dataDir = opts.dataDir ?? join(tmp, 'data');
  const port = opts.port ?? (await (opts.pickPort ?? freePort)());
  const registry: Record<string, unknown> = {
    address: '127.0.0.1',
    port,
    storage: { driver: 'filesystem', root: dataDir },
    ...opts.registry,
  };
  const configPath = join(tmp, 'wharf.yaml');
  writeFileSync(configPath, stringify({ registry }));
  const io = processOutput(opts.outputTo ?? 'memory', join(tmp, 'output.log'));
  const child = spawn(process.execPath, [WHARF_BIN, 'serve', '--config', configPath], {
    stdio: io.stdio,
    env: { ...process.env, ...opts.env },
  });
  io.attach(child);
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  // Another process holds the port: what answers there is not this wharf.
  const failIfPortTaken = async () => {
    if (!io.output().includes('EADDRINUSE')) return;
    child.kill('SIGKILL');
    await exited;
    rmSync(tmp, { recursive: true, force: true });
    throw new PortTakenError(`port ${port} taken:\n${io.output()}`);
  };
  // HTTPS when the config has a certificate (readiness is checked without verifying it).
  const tls = opts.registry?.['tls-cert'] !== undefined;
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    await failIfPortTaken();
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`wharf exited during start (${child.exitCode ?? child.signalCode}):\n${io.output()}`);
    }
    try {
      const status = tls
        ? await httpsStatus(`${url}/v2/`)
        : await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(5000) }).then(async (r) => {
            await r.arrayBuffer();
            return r.status;
          });
      if (status === 200 || status === 401) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`wharf did not start in 20 s:\n${io.output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  // Log lines are written in batches (up to 20 ms late): wait for the start line,
  // so that what was logged before it (warnings at start) is in output() too.
  const level = String(opts.registry?.['log-level'] ?? opts.env?.WHARF_LOG_LEVEL ?? process.env.WHARF_LOG_LEVEL ?? 'info');
  if (level === 'info' || level === 'debug') {
    const logDeadline = Date.now() + 5000;
    while (!io.output().includes('"msg":"wharf listening"') && child.exitCode === null && Date.now() < logDeadline)
      await new Promise((r) => setTimeout(r, 10));
  }
  await failIfPortTaken();
  // What answered may have been another test's server that took the port this one was given
  // (files run two at a time): a child that exited meanwhile did not start.
  if (child.exitCode !== null || child.signalCode !== null) {
    throw new Error(`wharf exited during start (${child.exitCode ?? child.signalCode}):\n${io.output()}`);
  }
  const waitExit = async (sig: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    await exited;
  };
  return {
    url,
    host: `127.0.0.1:${port}`,
    port,
    dataDir,
    configPath,
    child,
    output: io.output,
    stop: () => waitExit('SIGTERM'),
    kill: () => waitExit('SIGKILL'),
    cleanup: async () => {
      await waitExit('SIGTERM');
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}
