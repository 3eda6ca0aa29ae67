// A containerd daemon of the test's own (config, root, state and sockets in
// a temp dir; no CRI; ctr talks to its socket). Used by the e2e tests that
// pull with containerd (mirror samples, buildsets).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Containerd {
  socket: string;
  ctr(args: string[]): Promise<{ code: number; out: string }>;
  stop(): Promise<void>;
}

export function exec(cmd: string, args: string[], timeoutMs = 120_000): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => (out += `\n[spawn error: ${err.message}]`));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, out });
    });
  });
}

/** A containerd of its own: state, content and socket in a temp dir; no CRI, the native snapshotter. */
export async function startContainerd(dir: string): Promise<Containerd> {
  mkdirSync(dir, { recursive: true });
  const socket = join(dir, 'containerd.sock');
  const config = join(dir, 'config.toml');
  writeFileSync(
    config,
    [
      'version = 2',
      `root = "${join(dir, 'root')}"`,
      `state = "${join(dir, 'state')}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${socket}"`,
      '[ttrpc]',
      `  address = "${join(dir, 'containerd-ttrpc.sock')}"`,
      '',
    ].join('\n'),
  );
  let log = '';
  const child: ChildProcess = spawn('containerd', ['--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const ctr = (args: string[]) => exec('ctr', ['--address', socket, ...args]);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`containerd exited ${child.exitCode}:\n${log.slice(-3000)}`);
    if (existsSync(socket) && (await ctr(['version'])).code === 0) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`containerd did not answer on ${socket} in 30 s:\n${log.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    socket,
    ctr,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
