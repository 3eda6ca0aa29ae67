// `wharf check-config`: is this configuration good to start with? Validates
// the file (and the users, keys and TLS files it names), prints the
// configuration in force with secrets redacted, and checks that the store
// answers. The exit code says which step failed.
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { stringify } from 'yaml';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { effectiveConfig } from '../config/effective.js';
import { createAuth } from '../http/auth/index.js';
import { createLogger } from '../log/logger.js';
import { probeStorage } from '../storage/probe.js';
import { type CommandIO, parseCommandLine, processIO } from './command-line.js';
import { openStorage } from './open-storage.js';

export const CHECK_CONFIG_HELP = `Usage: wharf check-config [--config FILE] [--no-storage] [--timeout SECONDS]

Check a configuration before starting with it: validate the file, the users'
password hashes, the token key and the TLS certificate and key; print the
configuration in force (defaults filled in, environment overrides applied,
secrets shown as <redacted>); then check that the store answers.

Options:
  -c, --config FILE     The file (default: $WHARF_CONFIG, else the built-in defaults).
      --no-storage      Skip the storage check.
      --timeout SECONDS How long the store may take to answer (default 10).
  -h, --help            Show this help.

Exit codes:
  0  the configuration is valid and the store answered
  2  wrong command-line arguments
  3  the configuration is invalid (the message names the key)
  4  the store did not answer (the message says why)`;

export const EXIT = { ok: 0, usage: 2, invalid: 3, storage: 4 } as const;

/** Everything checked without touching the store; returns the problem, or null. */
export async function validate(config: Config): Promise<string | null> {
  try {
    // Users' hashes, token key, access rules: what `serve` checks before it listens.
    await createAuth(
      config,
      createLogger('error', () => undefined),
    );
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  if (config.tlsCert !== undefined) {
    try {
      createSecureContext({ cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey!) });
    } catch (err) {
      return `registry.tls-cert/tls-key: cannot load ${config.tlsCert} and ${config.tlsKey}: ${(err as Error).message}`;
    }
  }
  return null;
}

export async function checkConfigCommand(args: string[], io: CommandIO = processIO): Promise<number> {
  const parsed = parseCommandLine(io, 'wharf', CHECK_CONFIG_HELP, EXIT.usage, {
    args,
    options: {
      config: { type: 'string', short: 'c' },
      'no-storage': { type: 'boolean' },
      timeout: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const timeoutS = values.timeout === undefined ? 10 : Number(values.timeout);
  if (!(timeoutS > 0 && timeoutS <= 600)) {
    io.stderr.write('wharf: --timeout must be a number of seconds between 0 and 600\n');
    return EXIT.usage;
  }
  const path = values.config ?? io.env.WHARF_CONFIG;
  let config: Config;
  try {
    config = loadConfig(path, io.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.stderr.write(`wharf: invalid configuration: ${err.message}\n`);
    return EXIT.invalid;
  }
  const problem = await validate(config);
  if (problem) {
    io.stderr.write(`wharf: invalid configuration: ${problem}\n`);
    return EXIT.invalid;
  }
  io.stdout.write(`# configuration in force (${path ?? 'built-in defaults'}), secrets redacted\n`);
  io.stdout.write(stringify(effectiveConfig(config)));
  io.stderr.write('configuration: valid\n');
  if (values['no-storage']) return EXIT.ok;
  let driver;
  try {
    driver = await openStorage(config.storage);
  } catch (err) {
    io.stderr.write(`wharf: storage (${config.storage.driver}): cannot open: ${(err as Error).message}\n`);
    return EXIT.storage;
  }
  try {
    const r = await probeStorage(driver, `${config.namespaces.default}/`, timeoutS * 1000);
    if (!r.ok) {
      io.stderr.write(`wharf: storage (${driver.name}): unreachable: ${r.error}\n`);
      return EXIT.storage;
    }
    io.stderr.write(`storage: ${driver.name} answered in ${r.ms} ms\n`);
    return EXIT.ok;
  } finally {
    await Promise.race([driver.close?.(), new Promise((r) => setTimeout(r, 1000).unref())]);
  }
}
