// `wharf fsck`: check a store online — blobs hash to their names (--deep),
// manifests parse and what they name exists, tags and links point at what
// exists, upload records are readable, nothing is orphaned — and with
// --repair move bad blobs to the quarantine and fix what can be fixed.
// Progress on a terminal, findings and a summary at the end, --json for machines.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import {
  EXIT,
  exitCode,
  findingLines,
  formatBytes,
  fsck,
  summaryText,
  type FsckOptions,
  type FsckProgress,
  type FsckReport,
} from '../registry/fsck/index.js';
import { openStorage } from './open-storage.js';

export const FSCK_HELP = `Usage: wharf fsck [--config FILE] [--namespace NS]... [--deep] [--repair] [--json] [--grace SECONDS]

Check the store while the registry runs (see docs/fsck.md):
  - every blob's bytes hash to its name (--deep; otherwise sizes and structure
    only, and just the blobs whose size looks wrong are hashed),
  - every manifest is readable, parses, and what it names exists: blobs (with
    the sizes it declares, linked into its repository) and child manifests,
  - tags, blob links and referrers entries point at what exists; the catalog
    lists every repository,
  - upload records are readable,
  - nothing is orphaned (unreferenced blobs, stray objects, trash of dead
    prune runs, catalog entries of empty repositories: reported only).
Each finding says what it breaks (repositories, manifests, tags).

Options:
  -c, --config FILE        YAML configuration (as for serve; default $WHARF_CONFIG).
      --namespace NS       Only this namespace (repeatable; default: all in storage).
      --deep               Hash every blob (reads every byte).
      --repair             Move bad blobs to the quarantine, remove tags, links and
                           entries that point at nothing, write missing links and
                           entries, remove unreadable uploads.
      --json               Print the report as JSON on stdout (summary on stderr).
      --grace SECONDS      Objects younger than twice this may belong to a push in
                           progress and are not judged (default: registry.prune.grace).
      --upload-age SECONDS Upload directories without a record idle this long are
                           orphans (default: registry.prune.upload-age).
  -v, --verbose            List every orphan too (default: damage only, orphans counted).
  -h, --help               Show this help.

Exit status (bits, as fsck(8)): 0 no damage; 1 damage found and all repaired;
4 damage left (found without --repair, or not repairable: the findings say
what to push again); 8 the check could not complete (storage errors);
16 bad usage or configuration.`;

function seconds(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v.trim())) throw new Error(`${flag} must be a whole number of seconds (got ${JSON.stringify(v)})`);
  return Number(v);
}

/** One status line on stderr, redrawn at most 10 times a second. */
function progressLine(): { update(p: FsckProgress): void; clear(): void } {
  let last = 0;
  let shown = false;
  return {
    update(p) {
      const now = Date.now();
      if (p.phase === 'done' || now - last < 100) return;
      last = now;
      const s = p.report.scanned;
      const line =
        `fsck ${p.namespace} · ${p.phase}: ${p.scanned} · ${s.blobs} blobs (${formatBytes(s.hashedBytes)} hashed) · ` +
        `${s.repositories} repos, ${s.manifests} manifests, ${s.tags} tags · ${p.report.counts.damage} damage so far`;
      process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns || 120) - 1)}`);
      shown = true;
    },
    clear() {
      if (shown) process.stderr.write('\r\x1b[2K');
    },
  };
}

function reportLines(r: FsckReport, verbose: boolean): string[] {
  const lines: string[] = [];
  for (const f of r.findings) if (verbose || f.severity === 'damage') lines.push(...findingLines(f));
  for (const q of r.quarantine) {
    lines.push(`quarantined ${q.namespace} ${q.digest} at ${q.key}${q.reason ? ` (${q.reason}, by ${q.by}, ${q.at})` : ''}`);
  }
  for (const i of r.incomplete) lines.push(`not checked: ${i.namespace} ${i.object}: ${i.problem}`);
  return lines;
}

/** Run the command; resolves to the exit status. */
export async function fsckCommand(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        namespace: { type: 'string', multiple: true },
        deep: { type: 'boolean' },
        repair: { type: 'boolean' },
        json: { type: 'boolean' },
        grace: { type: 'string' },
        'upload-age': { type: 'string' },
        verbose: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`wharf fsck: ${(err as Error).message}\n${FSCK_HELP}\n`);
    return EXIT.usage;
  }
  if (values.help) {
    process.stdout.write(`${FSCK_HELP}\n`);
    return EXIT.clean;
  }
  let config: Config;
  const options: FsckOptions = { deep: values.deep ?? false, repair: values.repair ?? false };
  try {
    config = loadConfig(values.config ?? process.env.WHARF_CONFIG);
    options.graceSeconds = seconds('--grace', values.grace) ?? config.prune.graceSeconds;
    options.uploadAgeSeconds = seconds('--upload-age', values['upload-age']) ?? config.prune.uploadAgeSeconds;
    options.mirrors = Object.keys(config.namespaces.mirrors ?? {});
  } catch (err) {
    const msg = err instanceof ConfigError ? `invalid configuration: ${err.message}` : (err as Error).message;
    process.stderr.write(`wharf fsck: ${msg}\n`);
    return EXIT.usage;
  }
  if (values.namespace) options.namespaces = values.namespace;
  const progress = process.stderr.isTTY === true ? progressLine() : undefined;
  if (progress) options.onProgress = (p) => progress.update(p);

  let report: FsckReport;
  try {
    const driver = await openStorage(config.storage);
    try {
      report = await fsck(driver, options);
    } finally {
      await driver.close?.().catch(() => undefined);
    }
  } catch (err) {
    progress?.clear();
    process.stderr.write(`wharf fsck: failed: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT.operational;
  }
  progress?.clear();
  const summary = summaryText(report);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    process.stderr.write(`${summary}\n`);
  } else {
    process.stdout.write(`${[...reportLines(report, values.verbose ?? false), summary].join('\n')}\n`);
  }
  return exitCode(report);
}
