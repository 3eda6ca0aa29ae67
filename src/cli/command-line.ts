// What the store commands (fsck, prune, promote, check-config) share: where
// they write and which environment they read (the process's, or a test's
// capture, so that tests run them in-process), strict argument parsing with
// the usage and --help replies, options in whole seconds, the configuration
// file, and a progress line on a terminal.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, loadConfig, type Config } from '../config/config.js';

export interface CommandIO {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  env: NodeJS.ProcessEnv;
}

export const processIO: CommandIO = { stdout: process.stdout, stderr: process.stderr, env: process.env };

type Parsed<T extends ParseArgsConfig> = ReturnType<typeof parseArgs<T>>;

/**
 * Parse the arguments. Bad usage: `<prefix>: <problem>` and the help on
 * stderr, and `usageStatus` is returned; --help: the help on stdout, and 0 is
 * returned. Otherwise the parsed arguments.
 */
export function parseCommandLine<T extends ParseArgsConfig>(
  io: CommandIO,
  prefix: string,
  help: string,
  usageStatus: number,
  config: T,
): Parsed<T> | number {
  let parsed: Parsed<T>;
  try {
    parsed = parseArgs(config);
  } catch (err) {
    io.stderr.write(`${prefix}: ${(err as Error).message}\n${help}\n`);
    return usageStatus;
  }
  if ((parsed.values as { help?: boolean }).help) {
    io.stdout.write(`${help}\n`);
    return 0;
  }
  return parsed;
}

/** A --flag given in whole seconds, or undefined when absent. */
export function seconds(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v.trim())) throw new Error(`${flag} must be a whole number of seconds (got ${JSON.stringify(v)})`);
  return Number(v);
}

/** The configuration from --config, else $WHARF_CONFIG, else the defaults. */
export function commandConfig(io: CommandIO, path: string | undefined): Config {
  return loadConfig(path ?? io.env.WHARF_CONFIG, io.env);
}

/** What to print for a failure to read the configuration or the options. */
export function configProblem(err: unknown): string {
  return err instanceof ConfigError ? `invalid configuration: ${err.message}` : (err as Error).message;
}

/** One status line on stderr, redrawn at most 10 times a second; nothing unless stderr is a terminal. */
export function progressLine(io: CommandIO): { update(line: () => string): void; clear(): void } | undefined {
  if (io.stderr.isTTY !== true) return undefined;
  let last = 0;
  let shown = false;
  return {
    update(line) {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      io.stderr.write(`\r\x1b[2K${line().slice(0, (io.stderr.columns || 120) - 1)}`);
      shown = true;
    },
    clear() {
      if (shown) io.stderr.write('\r\x1b[2K');
    },
  };
}
