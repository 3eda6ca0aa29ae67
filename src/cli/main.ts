// The `wharf` command line: parses arguments and dispatches to a command.
// Each command's module is imported only when it runs: `wharf fsck` or
// `wharf prune` need not load the HTTP server (half their start-up time).
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/config.js';

const MAIN_HELP = `Usage: wharf <command> [options]

Wharf is an OCI Distribution registry (push/pull of images and artifacts).

Commands:
  fsck           Check the store (blobs hash to their names, nothing dangles), --repair fixes (see: wharf fsck --help)
  prune          Remove stale uploads, expired manifests and unreferenced blobs (see: wharf prune --help)
  promote        Copy an image from one namespace/repository to another, under a tag (see: wharf promote --help)
  serve          Run the registry server (see: wharf serve --help)
  check-config   Validate a configuration, print it (secrets redacted), check the store answers
  hash-password  Print a bcrypt hash of a password read from stdin or a prompt

Options:
  -h, --help     Show this help.
  -v, --version  Show the version.`;

function fail(message: string, code = 2): never {
  process.stderr.write(`wharf: ${message}\n`);
  process.exit(code);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(`${MAIN_HELP}\n`);
    return;
  }
  if (command === '-v' || command === '--version') {
    const { createRequire } = await import('node:module');
    const pkg = createRequire(import.meta.url)('../../../package.json') as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return;
  }
  switch (command) {
    case 'serve': {
      const { SERVE_HELP, serve } = await import('./serve.js');
      let values;
      try {
        ({ values } = parseArgs({
          args: rest,
          options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
          strict: true,
        }));
      } catch (err) {
        fail(`${(err as Error).message}\n${SERVE_HELP}`);
      }
      if (values.help) {
        process.stdout.write(`${SERVE_HELP}\n`);
        return;
      }
      let config;
      const path = values.config ?? process.env.WHARF_CONFIG;
      try {
        config = loadConfig(path);
      } catch (err) {
        if (err instanceof ConfigError) fail(`invalid configuration: ${err.message}`);
        throw err;
      }
      await serve(config, path);
      return;
    }
    case 'hash-password': {
      const { HASH_PASSWORD_HELP, hashPasswordCommand } = await import('./hash-password.js');
      let values;
      try {
        ({ values } = parseArgs({
          args: rest,
          options: { cost: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
          strict: true,
        }));
      } catch (err) {
        fail(`${(err as Error).message}\n${HASH_PASSWORD_HELP}`);
      }
      if (values.help) {
        process.stdout.write(`${HASH_PASSWORD_HELP}\n`);
        return;
      }
      const cost = values.cost === undefined ? 12 : Number(values.cost);
      if (!/^\d+$/.test(values.cost ?? '12') || cost < 4 || cost > 31) fail('--cost must be an integer from 4 to 31');
      await hashPasswordCommand(cost);
      return;
    }
    case 'prune':
      process.exitCode = await (await import('./prune.js')).pruneCommand(rest);
      return;
    case 'fsck':
      process.exitCode = await (await import('./fsck.js')).fsckCommand(rest);
      return;
    case 'promote':
      process.exitCode = await (await import('./promote.js')).promoteCommand(rest);
      return;
    case 'check-config':
      // Exit at once: a store client may keep sockets open.
      process.exit(await (await import('./check-config.js')).checkConfigCommand(rest));
      break;
    default:
      fail(`unknown command "${command}"\n${MAIN_HELP}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  fail(err instanceof Error ? err.message : String(err), 1);
});
