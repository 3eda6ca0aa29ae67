// fsck: check a live store, one namespace at a time, and with --repair fix
// what can be fixed. Safe while the registry serves pushes and prune runs:
// it only reads until the end, every finding is looked at again before it is
// reported, and repairs re-check what they change.
//
// Per namespace:
//   blobs         list every blob (sizes into a compact table); --deep hashes
//                 every one, otherwise only suspects are hashed (blobs.ts)
//   repositories  manifests, references, tags, links, referrers, catalog (repos.ts)
//   orphans       blobs nothing references, stray objects, dead prune trash,
//                 stale catalog entries (blobs.ts, leftovers.ts)
//   uploads       records readable (uploads.ts)
//   confirm       each candidate finding is checked once more
//   impact        which manifests and tags the damage breaks (impact.ts)
//   repair        with --repair: quarantine bad blobs, remove pointers to
//                 nothing, write missing links and entries, take back what an
//                 interrupted prune left in its trash
//
// Memory: per namespace a table of 16 bytes per blob and sets of 8 bytes per
// referenced digest (src/registry/prune/digest-set.ts), one repository's
// manifest and link sets at a time, and the findings (at most MAX_FINDINGS).
import type { StorageDriver } from '../../storage/driver.js';
import { DEFAULT_GRACE_SECONDS } from '../blob-use.js';
import { DigestMap, DigestSet } from '../prune/digest-set.js';
import { namespaces as listNamespaces, repositories } from '../prune/walk.js';
import { findOrphanBlobs, scanBlobs } from './blobs.js';
import { mapLimit } from '../../async/map-limit.js';
import { PARALLEL, Unrepairable, errorText, incomplete, type Candidate, type NsCheck } from './context.js';
import { findImpact } from './impact.js';
import { checkCatalog, checkTrash, listQuarantined, loadUsed } from './leftovers.js';
import { checkRepo } from './repos.js';
import { isRemaining, newReport, type FindingKind, type FsckProgress, type FsckReport } from './report.js';
import { checkUploads } from './uploads.js';

export { EXIT, exitCode, findingLines, summaryText } from './report.js';
export { formatBytes } from '../prune/report.js';
export type { Finding, FindingKind, FsckProgress, FsckReport } from './report.js';

export const DEFAULT_UPLOAD_AGE_SECONDS = 3600;

export interface FsckOptions {
  /** Hash every blob (default: only blobs whose size looks wrong). */
  deep?: boolean;
  /** Repair what can be repaired. */
  repair?: boolean;
  /** Objects younger than twice this may belong to a push in progress (default 1 h). */
  graceSeconds?: number;
  /** Upload directories without a record idle this long are orphans (default 1 h). */
  uploadAgeSeconds?: number;
  /** Only these namespaces (default: every namespace in storage). */
  namespaces?: string[];
  /** Mirror namespaces from the configuration (a namespace holding `_mirror/` counts too). */
  mirrors?: string[];
  onProgress?: (p: FsckProgress) => void;
  /** Clock (tests). */
  now?: () => number;
}

const BLOB_KINDS: readonly FindingKind[] = ['blob-corrupt', 'blob-missing'];
const MANIFEST_KINDS: readonly FindingKind[] = [
  'manifest-body-missing',
  'manifest-invalid',
  'manifest-link-unreadable',
  'manifest-child-missing',
  'manifest-descriptor-size',
];
/** Repairs after which the manifests the finding broke pull whole again. */
const HEALING_KINDS: readonly FindingKind[] = ['blob-missing', 'manifest-body-missing', 'manifest-link-unreadable'];

export async function fsck(driver: StorageDriver, options: FsckOptions = {}): Promise<FsckReport> {
  const graceSeconds = options.graceSeconds ?? DEFAULT_GRACE_SECONDS;
  const uploadAgeSeconds = options.uploadAgeSeconds ?? DEFAULT_UPLOAD_AGE_SECONDS;
  const report = newReport(options.deep ?? false, options.repair ?? false, { graceSeconds, uploadAgeSeconds });
  const now = options.now ?? Date.now;
  const started = Date.now();
  const nsList: string[] = [];
  if (options.namespaces) nsList.push(...options.namespaces);
  else for await (const ns of listNamespaces(driver)) nsList.push(ns);

  for (const ns of nsList) {
    report.namespaces.push(ns);
    let isMirror = options.mirrors?.includes(ns) ?? false;
    let unreachable: unknown;
    try {
      isMirror ||= (await driver.list({ prefix: `${ns}/_mirror/`, limit: 1 })).entries.length > 0;
    } catch (err) {
      unreachable = err; // reported below; the steps that follow fail the same way
    }
    const ctx: NsCheck = {
      driver,
      ns,
      settings: {
        deep: report.deep,
        repair: report.repair,
        graceMs: graceSeconds * 1000,
        uploadAgeMs: uploadAgeSeconds * 1000,
        mirror: isMirror,
      },
      report,
      now,
      present: new DigestMap(),
      verified: new DigestSet(),
      corrupt: new Set(),
      referenced: new DigestSet(),
      used: new DigestSet(),
      repos: new Set(),
      candidates: [],
      orphans: 0,
      progress: (phase, scanned) => options.onProgress?.({ phase, namespace: ns, scanned, report }),
    };
    if (unreachable !== undefined) incomplete(ctx, `${ns}/_mirror/`, unreachable);
    await checkNamespace(ctx);
  }
  report.durationMs = Date.now() - started;
  options.onProgress?.({ phase: 'done', namespace: '', scanned: 0, report });
  return report;
}

async function step(ctx: NsCheck, object: string, fn: () => Promise<void>): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch (err) {
    incomplete(ctx, object, err);
    return false;
  }
}

async function checkNamespace(ctx: NsCheck): Promise<void> {
  const { ns, report } = ctx;
  await step(ctx, `${ns}/_used/`, () => loadUsed(ctx));
  // Without the full blob listing, every reference would look missing: stop there.
  let complete = await step(ctx, `${ns}/blobs/`, () => scanBlobs(ctx));
  if (complete) {
    complete =
      (await step(ctx, `${ns}/repos/`, async () => {
        for await (const repo of repositories(ctx.driver, ns)) {
          if (!(await step(ctx, `${ns}/repos/${repo}/`, () => checkRepo(ctx, repo)))) complete = false;
          report.scanned.repositories++;
        }
      })) && complete;
  }
  // Orphans need the complete set of what is referenced.
  if (complete) {
    await step(ctx, `${ns}/blobs/`, () => findOrphanBlobs(ctx));
    await step(ctx, `${ns}/_catalog/`, () => checkCatalog(ctx));
  }
  await step(ctx, `${ns}/uploads/`, () => checkUploads(ctx));
  await step(ctx, `${ns}/_trash/`, () => checkTrash(ctx));
  await step(ctx, `${ns}/_quarantine/`, () => listQuarantined(ctx));

  // Look again: what a push or prune finished meanwhile is not damage.
  const confirmed: Candidate[] = [];
  await mapLimit(ctx.candidates, PARALLEL, async (c) => {
    try {
      if (!c.confirm || (await c.confirm())) confirmed.push(c);
    } catch (err) {
      incomplete(ctx, c.finding.object, err);
    }
  });
  confirmed.sort((a, b) =>
    a.finding.object < b.finding.object ? -1 : a.finding.object > b.finding.object ? 1 : a.finding.kind < b.finding.kind ? -1 : 1,
  );

  const badBlobs = new Set<string>();
  const badManifests = new Set<string>();
  for (const { finding: f } of confirmed) {
    if (BLOB_KINDS.includes(f.kind)) badBlobs.add(f.digest!);
    if (MANIFEST_KINDS.includes(f.kind)) badManifests.add(`${f.repository}@${f.digest}`);
  }
  ctx.progress('impact', confirmed.length);
  await step(ctx, `${ns}/repos/`, async () => {
    const impact = await findImpact(ctx, badBlobs, badManifests);
    for (const { finding: f } of confirmed) {
      const key = BLOB_KINDS.includes(f.kind) ? f.digest! : MANIFEST_KINDS.includes(f.kind) ? `${f.repository}@${f.digest}` : null;
      if (key !== null) f.breaks = impact.get(key) ?? [];
    }
  });

  if (ctx.settings.repair) {
    let done = 0;
    for (const c of confirmed) {
      const f = c.finding;
      if (f.severity !== 'damage') continue;
      ctx.progress('repair', ++done);
      if (!c.fix) {
        f.repaired = false;
        f.repair = 'nothing to repair automatically';
        continue;
      }
      try {
        f.repair = await c.fix();
        f.repaired = true;
        if (HEALING_KINDS.includes(f.kind)) f.breaks = [];
      } catch (err) {
        f.repaired = false;
        f.repair = err instanceof Unrepairable ? err.message : `failed: ${errorText(err)}`;
      }
    }
  }

  for (const { finding: f } of confirmed) {
    report.findings.push(f);
    if (f.severity === 'orphan') {
      report.counts.orphans++;
      continue;
    }
    report.counts.damage++;
    if (f.repaired) report.counts.repaired++;
    if (isRemaining(f)) report.counts.remaining++;
  }
}
