// What the two store walks, `wharf fsck` and `wharf prune`, share: the
// options both take, and how a finished walk's report is written.
import type { CommandIO } from './command-line.js';

/** The options both store walks (fsck, prune) take, spelled the same in each. */
export const STORE_WALK_OPTIONS = {
  config: { type: 'string', short: 'c' },
  namespace: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  grace: { type: 'string' },
  'upload-age': { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** A store walk's report: with --json the report on stdout and the summary on stderr; else its lines, then the summary, on stdout. */
export function writeReport(io: CommandIO, json: boolean | undefined, report: unknown, lines: () => string[], summary: string): void {
  if (json) {
    io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    io.stderr.write(`${summary}\n`);
  } else {
    io.stdout.write(`${[...lines(), summary].join('\n')}\n`);
  }
}
