// Prune and garbage collection, online: safe to run while the registry serves
// pushes (from `wharf prune` against a live store, or on serve's schedule).
//
// Each namespace is independent and goes through three phases:
//   uploads    remove uploads idle for longer than upload-age   (uploads.ts)
//   manifests  per repository: expiration and retention decide which tags and
//              manifests go (expiry.ts, retention.ts), then blob links no kept
//              manifest needs go; the mark collects every digest that stays
//              (repo.ts, mark.ts)
//   blobs      blob data outside the mark and older than the grace period goes
//              (sweep.ts)
// Blob links and blob data go through the run's trash (trash.ts), and blobs a
// client was recently told exist stay, with their links (used.ts). The rules
// that make this safe while pushes run are described in repo.ts, sweep.ts,
// src/registry/blob-use.ts and docs/prune.md.
import type { StorageDriver } from '../../storage/driver.js';
import { DEFAULT_GRACE_SECONDS as DEFAULT_GRACE } from '../blob-use.js';
import { errorText, problem, type NsContext, type PruneSettings } from './context.js';
import { DigestSet } from './digest-set.js';
import { pruneCatalog } from './catalog.js';
import { pruneRepo } from './repo.js';
import { newReport, type Phase, type Progress, type PruneReport } from './report.js';
import { compileRules, type RetentionRule } from './retention.js';
import { sweepBlobs } from './sweep.js';
import { Trash, recoverTrash } from './trash.js';
import { pruneUploads } from './uploads.js';
import { loadUsed } from './used.js';
import { namespaces as listNamespaces, repositories } from './walk.js';
import { endedBuildsets, reapEnded } from '../buildsets/reap.js';

export type { PruneReport, Progress, Phase } from './report.js';
export type { RetentionRule } from './retention.js';
export { summaryText, totals, formatBytes } from './report.js';

export { DEFAULT_GRACE_SECONDS } from '../blob-use.js';
export const DEFAULT_UPLOAD_AGE_SECONDS = 3600;

export interface PruneOptions {
  /** Nothing younger than this is removed (default 1 h). */
  graceSeconds?: number;
  /** Uploads idle for this long are removed (default 1 h). */
  uploadAgeSeconds?: number;
  /** Manifests pushed this long ago expire (`registry.storage.expiration`); unset: never. */
  expirationSeconds?: number;
  retention?: RetentionRule[];
  /** Decide and report, delete nothing. */
  dryRun?: boolean;
  /** Only these namespaces (default: every namespace in storage). */
  namespaces?: string[];
  /** Configured namespaces: never removed as ended buildset namespaces. */
  configured?: readonly string[];
  onProgress?: (p: Progress) => void;
  /** Clock (tests). */
  now?: () => number;
}

export async function prune(driver: StorageDriver, options: PruneOptions = {}): Promise<PruneReport> {
  const graceSeconds = options.graceSeconds ?? DEFAULT_GRACE;
  const uploadAgeSeconds = options.uploadAgeSeconds ?? DEFAULT_UPLOAD_AGE_SECONDS;
  const retention = options.retention ?? [];
  const settings: PruneSettings = {
    graceMs: graceSeconds * 1000,
    uploadAgeMs: uploadAgeSeconds * 1000,
    expirationMs: options.expirationSeconds !== undefined ? options.expirationSeconds * 1000 : undefined,
    rules: compileRules(retention),
    dryRun: options.dryRun ?? false,
  };
  const now = options.now ?? Date.now;
  const report = newReport(settings.dryRun, {
    graceSeconds,
    uploadAgeSeconds,
    expirationSeconds: options.expirationSeconds ?? null,
    retentionRules: retention.length,
  });
  const started = Date.now();
  // Ended buildset namespaces (src/registry/buildsets/) go as a whole; the others are pruned as usual.
  const reaped = await reapEnded(driver, { graceMs: settings.graceMs, now: now(), dryRun: settings.dryRun, protect: options.configured });
  for (const r of reaped) report.endedNamespaces.push({ name: r.name, objects: r.objects, bytes: r.bytes });
  const ended = new Set((await endedBuildsets(driver, now())).map((e) => e.name));
  const nsList: string[] = [];
  if (options.namespaces) nsList.push(...options.namespaces);
  else for await (const ns of listNamespaces(driver)) if (!ended.has(ns)) nsList.push(ns);

  for (const ns of nsList) {
    report.namespaces.push(ns);
    const runStart = now();
    const ctx: NsContext = {
      driver,
      ns,
      settings,
      report,
      runStart,
      now,
      referenced: new DigestSet(),
      used: new DigestSet(),
      trash: new Trash(driver, ns, runStart),
      markComplete: true,
      progress: (phase: Phase, scanned: number) => options.onProgress?.({ phase, namespace: ns, scanned, report }),
    };
    try {
      await pruneNamespace(ctx);
    } finally {
      await ctx.trash.close();
    }
  }
  report.durationMs = Date.now() - started;
  options.onProgress?.({ phase: 'done', namespace: '', scanned: 0, report });
  return report;
}

async function pruneNamespace(ctx: NsContext): Promise<void> {
  const { driver, ns, report } = ctx;
  await recoverTrash(ctx).catch((err) => problem(ctx, `${ns}/_trash/`, `trash recovery failed: ${errorText(err)}`));
  // The set only spares work: what is moved into the trash is checked for markers again (used.ts).
  await loadUsed(ctx).catch((err) => problem(ctx, `${ns}/_used/`, `use markers not read: ${errorText(err)}`));
  await pruneUploads(ctx).catch((err) => problem(ctx, `${ns}/uploads/`, `upload cleanup stopped: ${errorText(err)}`));
  let manifests = 0;
  const kept = new Set<string>(); // repositories that keep a manifest (their catalog entry stays)
  try {
    for await (const repo of repositories(driver, ns)) {
      try {
        const before = report.kept.manifests.objects;
        manifests += await pruneRepo(ctx, repo);
        if (report.kept.manifests.objects > before) kept.add(repo);
      } catch (err) {
        ctx.markComplete = false;
        problem(ctx, repo, `repository skipped: ${errorText(err)}`, repo);
      }
      report.repositories++;
      ctx.progress('manifests', manifests);
    }
  } catch (err) {
    ctx.markComplete = false;
    problem(ctx, `${ns}/repos/`, `repository walk stopped: ${errorText(err)}`);
  }
  try {
    await sweepBlobs(ctx);
  } catch (err) {
    problem(ctx, `${ns}/blobs/`, `blob sweep stopped: ${errorText(err)}`);
  }
  await pruneCatalog(ctx, kept).catch((err) => problem(ctx, `${ns}/_catalog/`, `catalog cleanup stopped: ${errorText(err)}`));
}
