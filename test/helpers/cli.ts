// Runs a `wharf` store command two ways: in-process, calling the command's
// function with its output captured (what the command decides: exit status,
// messages, the store afterwards; no process start per case), or as a real
// process through bin/wharf.js (the wiring: arguments reach the command and
// its status becomes the exit status).
import { spawnSync } from 'node:child_process';
import type { CommandIO } from '../../src/cli/command-line.js';
import { WHARF_BIN } from './wharf.js';

export interface CommandResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export type Command = (argv: string[], io: CommandIO) => Promise<number>;

/** `command(args)` in this process; `env` is added to this process's environment, as for a child. */
export async function runCommand(command: Command, args: string[], env: Record<string, string> = {}): Promise<CommandResult> {
  let stdout = '';
  let stderr = '';
  const io: CommandIO = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text), isTTY: false },
    env: { ...process.env, ...env },
  };
  const status = await command(args, io);
  return { status, stdout, stderr };
}

/** `wharf ARGS` as a child process. */
export function runWharf(args: string[], env: Record<string, string> = {}): CommandResult {
  const r = spawnSync(process.execPath, [WHARF_BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
