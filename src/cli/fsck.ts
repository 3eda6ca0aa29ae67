// `wharf fsck`: check a store online — blobs hash to their names (--deep),
// manifests parse and what they name exists, tags and links point at what
// exists, upload records are readable, nothing is orphaned — and with
// --repair move bad blobs to the quarantine and fix what can be fixed.
// Progress on a terminal, findings and a summary at the end, --json for machines.
import type { Config } from '../config/config.js';
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
import { type CommandIO, commandConfig, configProblem, parseCommandLine, processIO, progressLine, seconds } from './command-line.js';
import { openStorage } from './open-storage.js';
import { STORE_WALK_OPTIONS, writeReport } from './store-walk.js';

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

/** The progress line's text. */
function progressText(p: FsckProgress): string {
  const s = p.report.scanned;
  return (
    `fsck ${p.namespace} · ${p.phase}: ${p.scanned} · ${s.blobs} blobs (${formatBytes(s.hashedBytes)} hashed) · ` +
    `${s.repositories} repos, ${s.manifests} manifests, ${s.tags} tags · ${p.report.counts.damage} damage so far`
  );
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
export async function fsckCommand(argv: string[], io: CommandIO = processIO): Promise<number> {
  const parsed = parseCommandLine(io, 'wharf fsck', FSCK_HELP, EXIT.usage, {
    args: argv,
    options: { ...STORE_WALK_OPTIONS, deep: { type: 'boolean' }, repair: { type: 'boolean' } },
    strict: true,
    allowPositionals: false,
  });
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  let config: Config;
  const options: FsckOptions = { deep: values.deep ?? false, repair: values.repair ?? false };
  try {
    config = commandConfig(io, values.config);
    options.graceSeconds = seconds('--grace', values.grace) ?? config.prune.graceSeconds;
    options.uploadAgeSeconds = seconds('--upload-age', values['upload-age']) ?? config.prune.uploadAgeSeconds;
    options.mirrors = Object.keys(config.namespaces.mirrors ?? {});
  } catch (err) {
    io.stderr.write(`wharf fsck: ${configProblem(err)}\n`);
    return EXIT.usage;
  }
  if (values.namespace) options.namespaces = values.namespace;
  const progress = progressLine(io);
  if (progress) options.onProgress = (p) => p.phase !== 'done' && progress.update(() => progressText(p));

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
    io.stderr.write(`wharf fsck: failed: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT.operational;
  }
  progress?.clear();
  writeReport(io, values.json, report, () => reportLines(report, values.verbose ?? false), summaryText(report));
  return exitCode(report);
}
