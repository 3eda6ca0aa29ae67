// What a prune run did (or, with --dry-run, would do): counts and bytes per
// kind of object, the individual decisions about uploads, tags and manifests
// (with reasons), objects a concurrent push needed again (restored), and
// problems (corrupt objects, failed deletes). Also the progress feed.

export type Phase = 'uploads' | 'manifests' | 'blobs' | 'done';

export interface Counter {
  objects: number;
  bytes: number;
}

export interface UploadItem {
  namespace: string;
  id: string;
  /** Seconds since the upload's last chunk. */
  idleSeconds: number;
  bytes: number;
  /**
   * "stale": abandoned; "finished": the blob was published, only leftovers
   * went; "no-record": leftovers in a directory without a record.
   */
  reason: 'stale' | 'finished' | 'corrupt-record' | 'no-record';
}

export interface TagItem {
  namespace: string;
  repository: string;
  tag: string;
  digest: string;
  reason: string;
}

export interface ManifestItem {
  namespace: string;
  repository: string;
  digest: string;
  mediaType: string;
  /** ISO time of the push. */
  pushed: string;
  reason: string;
}

export interface Problem {
  namespace: string;
  repository?: string;
  /** Storage key or digest concerned. */
  object: string;
  problem: string;
}

export interface PruneReport {
  dryRun: boolean;
  startedAt: string;
  durationMs: number;
  settings: { graceSeconds: number; uploadAgeSeconds: number; expirationSeconds: number | null; retentionRules: number };
  namespaces: string[];
  /** Repositories visited. */
  repositories: number;
  removed: {
    uploads: Counter;
    tags: number;
    manifests: Counter;
    /** Per-repository blob links. */
    links: number;
    /** Referrer index entries (`_referrers/…`). */
    referrers: number;
    /** Blob data (layers, configs and manifest bodies), bytes in storage. */
    blobs: Counter;
    /** Expired "recently used" markers (src/registry/blob-use.ts). */
    markers: number;
    /** Catalog entries of repositories that hold nothing any more. */
    catalogEntries: number;
  };
  kept: {
    uploads: Counter;
    /** Upload directories without a record left alone (young, or on Swift: may hold parts of published blobs). */
    orphanUploadDirs: number;
    tags: number;
    manifests: Counter;
    links: number;
    blobs: Counter;
    /** Of the kept blobs: unreferenced, but younger than twice the grace period. */
    youngBlobs: number;
    /** Of the kept blobs: unreferenced, but a client was recently told they exist (a push may name them). */
    usedBlobs: number;
  };
  /** Objects removed and put back because a concurrent push referenced them meanwhile. */
  restored: { manifests: number; links: number; blobs: number; catalogEntries: number };
  /** Deletes skipped because the object changed or became young between decision and delete. */
  changedBeforeDelete: number;
  items: { uploads: UploadItem[]; tags: TagItem[]; manifests: ManifestItem[] };
  problems: Problem[];
  /** Namespaces whose blob sweep was skipped (incomplete mark after an error). */
  sweepSkipped: string[];
  /** Ended buildset namespaces whose content went as a whole (src/registry/buildsets/reap.ts). */
  endedNamespaces: { name: string; objects: number; bytes: number }[];
}

export function newReport(dryRun: boolean, settings: PruneReport['settings']): PruneReport {
  const c = (): Counter => ({ objects: 0, bytes: 0 });
  return {
    dryRun,
    startedAt: new Date().toISOString(),
    durationMs: 0,
    settings,
    namespaces: [],
    repositories: 0,
    removed: { uploads: c(), tags: 0, manifests: c(), links: 0, referrers: 0, blobs: c(), markers: 0, catalogEntries: 0 },
    kept: { uploads: c(), orphanUploadDirs: 0, tags: 0, manifests: c(), links: 0, blobs: c(), youngBlobs: 0, usedBlobs: 0 },
    restored: { manifests: 0, links: 0, blobs: 0, catalogEntries: 0 },
    changedBeforeDelete: 0,
    items: { uploads: [], tags: [], manifests: [] },
    problems: [],
    sweepSkipped: [],
    endedNamespaces: [],
  };
}

/** Objects and bytes removed and kept, over every kind. */
export function totals(r: PruneReport): { removed: Counter; kept: Counter } {
  return {
    removed: {
      objects:
        r.removed.uploads.objects +
        r.removed.tags +
        r.removed.manifests.objects +
        r.removed.links +
        r.removed.referrers +
        r.removed.blobs.objects +
        r.removed.catalogEntries,
      bytes: r.removed.uploads.bytes + r.removed.blobs.bytes,
    },
    kept: {
      objects: r.kept.uploads.objects + r.kept.tags + r.kept.manifests.objects + r.kept.links + r.kept.blobs.objects,
      bytes: r.kept.uploads.bytes + r.kept.blobs.bytes,
    },
  };
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** A few lines for people: what went, what stayed. */
export function summaryText(r: PruneReport): string {
  const t = totals(r);
  const verb = r.dryRun ? 'would remove' : 'removed';
  const lines = [
    `${r.dryRun ? 'prune (dry run)' : 'prune'}: ${r.namespaces.length} namespace(s), ${r.repositories} repositories, ${(r.durationMs / 1000).toFixed(1)} s`,
    `  ${verb}: ${t.removed.objects} objects, ${formatBytes(t.removed.bytes)} — ` +
      `${r.removed.uploads.objects} uploads (${formatBytes(r.removed.uploads.bytes)}), ${r.removed.tags} tags, ` +
      `${r.removed.manifests.objects} manifests, ${r.removed.links} blob links, ${r.removed.referrers} referrer entries, ` +
      `${r.removed.blobs.objects} blobs (${formatBytes(r.removed.blobs.bytes)}), ${r.removed.catalogEntries} catalog entries`,
    `  kept: ${t.kept.objects} objects, ${formatBytes(t.kept.bytes)} — ` +
      `${r.kept.uploads.objects} uploads in progress, ${r.kept.tags} tags, ${r.kept.manifests.objects} manifests, ` +
      `${r.kept.links} blob links, ${r.kept.blobs.objects} blobs (${formatBytes(r.kept.blobs.bytes)}; ${r.kept.youngBlobs} unreferenced but within twice the grace period, ${r.kept.usedBlobs} recently used)`,
  ];
  const restored = r.restored.manifests + r.restored.links + r.restored.blobs + r.restored.catalogEntries;
  if (restored > 0 || r.changedBeforeDelete > 0) {
    lines.push(
      `  concurrent pushes: ${r.changedBeforeDelete} objects changed before their delete and were kept; ` +
        `${restored} restored (${r.restored.manifests} manifests, ${r.restored.links} links, ${r.restored.blobs} blobs)`,
    );
  }
  if (r.kept.orphanUploadDirs > 0) lines.push(`  ${r.kept.orphanUploadDirs} upload directories without a record left alone`);
  if (r.endedNamespaces.length > 0) {
    const objects = r.endedNamespaces.reduce((n, e) => n + e.objects, 0);
    const bytes = r.endedNamespaces.reduce((n, e) => n + e.bytes, 0);
    lines.push(
      `  ended buildset namespaces ${verb}: ${r.endedNamespaces.map((e) => e.name).join(', ')} (${objects} objects, ${formatBytes(bytes)})`,
    );
  }
  if (r.sweepSkipped.length > 0) lines.push(`  blob sweep skipped (incomplete scan) in: ${r.sweepSkipped.join(', ')}`);
  if (r.problems.length > 0) lines.push(`  ${r.problems.length} problem(s) reported (kept the objects concerned)`);
  return lines.join('\n');
}

/** The progress feed: called often; consumers throttle. */
export interface Progress {
  phase: Phase;
  namespace: string;
  /** Objects looked at in this phase so far. */
  scanned: number;
  report: PruneReport;
}
