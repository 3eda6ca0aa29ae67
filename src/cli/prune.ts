// `wharf prune`: remove stale uploads, expired and retention-dropped
// manifests and tags, and blobs nothing references — online, against a live
// store. Progress on a terminal, a summary at the end, --json for machines.
import type { Config } from '../config/config.js';
import { formatBytes, prune, summaryText, type Progress, type PruneOptions, type PruneReport } from '../registry/prune/index.js';
import { type CommandIO, commandConfig, configProblem, parseCommandLine, processIO, progressLine, seconds } from './command-line.js';
import { openStorage } from './open-storage.js';
import { STORE_WALK_OPTIONS, writeReport } from './store-walk.js';

export const PRUNE_HELP = `Usage: wharf prune [--config FILE] [--dry-run] [--json] [--upload-age SECONDS] [--grace SECONDS]

Remove what the registry no longer needs, safely while it serves pushes:
  1. uploads idle for longer than the upload age,
  2. manifests past registry.storage.expiration (by push time), tags and
     manifests dropped by registry.prune.retention rules, referrers whose
     subject goes, and blob links no kept manifest needs,
  3. blob data no kept manifest references and no repository links.
Nothing younger than the grace period is removed, and every object is
checked again right before its delete (see docs/prune.md).

Options:
  -c, --config FILE        YAML configuration (as for serve; default $WHARF_CONFIG).
  -n, --dry-run            Decide and report, delete nothing.
      --json               Print the report as JSON on stdout (summary on stderr).
      --upload-age SECONDS Remove uploads idle this long (default: registry.prune.upload-age, 3600).
      --grace SECONDS      Keep everything younger than this (default: registry.prune.grace, 3600).
      --namespace NS       Only this namespace (repeatable; default: all in storage).
  -v, --verbose            List every upload, tag and manifest removed (always on with --dry-run).
  -h, --help               Show this help.

Exit status: 0 done (problems such as corrupt manifests are reported, and the
objects concerned kept), 1 the run failed, 2 bad usage or configuration.`;

/** Prune options from the configuration (serve's schedule and the CLI's defaults). */
export function pruneOptionsFrom(config: Config): PruneOptions {
  return {
    graceSeconds: config.prune.graceSeconds,
    uploadAgeSeconds: config.prune.uploadAgeSeconds,
    expirationSeconds: config.storage.expiration,
    retention: config.prune.retention,
    configured: config.namespaces.known,
  };
}

/** The progress line's text. */
function progressText(p: Progress): string {
  const r = p.report;
  const removed = r.removed.uploads.objects + r.removed.tags + r.removed.manifests.objects + r.removed.links + r.removed.blobs.objects;
  return (
    `prune ${p.namespace} · ${p.phase}: ${p.scanned} scanned · ${r.repositories} repos · ` +
    `${r.dryRun ? 'would remove' : 'removed'} ${removed} objects, ${formatBytes(r.removed.uploads.bytes + r.removed.blobs.bytes)} · ` +
    `kept ${r.kept.manifests.objects} manifests, ${r.kept.blobs.objects} blobs (${formatBytes(r.kept.blobs.bytes)})`
  );
}

function itemLines(r: PruneReport): string[] {
  const verb = r.dryRun ? 'would remove' : 'removed';
  const lines: string[] = [];
  for (const u of r.items.uploads)
    lines.push(`${verb} upload   ${u.namespace}/${u.id} (${u.reason}, idle ${u.idleSeconds} s, ${formatBytes(u.bytes)})`);
  for (const t of r.items.tags) lines.push(`${verb} tag      ${t.namespace}/${t.repository}:${t.tag} -> ${t.digest} (${t.reason})`);
  for (const m of r.items.manifests) {
    lines.push(`${verb} manifest ${m.namespace}/${m.repository}@${m.digest} (${m.reason}; pushed ${m.pushed})`);
  }
  for (const p of r.problems) lines.push(`problem: ${p.namespace}${p.repository ? `/${p.repository}` : ''} ${p.object}: ${p.problem}`);
  return lines;
}

/** Run the command; resolves to the exit status. */
export async function pruneCommand(argv: string[], io: CommandIO = processIO): Promise<number> {
  const parsed = parseCommandLine(io, 'wharf prune', PRUNE_HELP, 2, {
    args: argv,
    options: { ...STORE_WALK_OPTIONS, 'dry-run': { type: 'boolean', short: 'n' } },
    strict: true,
    allowPositionals: false,
  });
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  let config: Config;
  let options: PruneOptions;
  try {
    config = commandConfig(io, values.config);
    options = pruneOptionsFrom(config);
    options.uploadAgeSeconds = seconds('--upload-age', values['upload-age']) ?? options.uploadAgeSeconds;
    options.graceSeconds = seconds('--grace', values.grace) ?? options.graceSeconds;
  } catch (err) {
    io.stderr.write(`wharf prune: ${configProblem(err)}\n`);
    return 2;
  }
  options.dryRun = values['dry-run'] ?? false;
  if (values.namespace) options.namespaces = values.namespace;
  const progress = progressLine(io);
  if (progress) options.onProgress = (p) => p.phase !== 'done' && progress.update(() => progressText(p));

  const driver = await openStorage(config.storage);
  let report: PruneReport;
  try {
    report = await prune(driver, options);
  } catch (err) {
    progress?.clear();
    io.stderr.write(`wharf prune: failed: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    await driver.close?.().catch(() => undefined);
  }
  progress?.clear();
  // Without --dry-run or --verbose, only the summary: what went is listed on request.
  const lines = () => itemLines(report.dryRun || values.verbose ? report : { ...report, items: { uploads: [], tags: [], manifests: [] } });
  writeReport(io, values.json, report, lines, summaryText(report));
  return 0;
}
