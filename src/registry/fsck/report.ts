// What a fsck run found (and, with --repair, did): findings with what each
// breaks, the quarantine's contents, counts, and the exit status they mean.
//
// Damage is what makes the registry serve something wrong or nothing where an
// image should be (bytes that do not hash to their name, a manifest naming a
// blob that is gone, a tag pointing nowhere, an unreadable record...).
// Orphans are objects nothing refers to any more: garbage `wharf prune`
// removes, or leftovers it leaves alone; they are reported, never repaired,
// and do not change the exit status.
import { formatBytes } from '../prune/report.js';

export type Severity = 'damage' | 'orphan';

export type FindingKind =
  // blobs
  | 'blob-corrupt' // bytes do not hash to the blob's name (a flipped byte, a truncated file)
  | 'blob-missing' // a manifest names a blob whose bytes are gone
  | 'blob-unlinked' // a manifest names a blob its repository does not link (pulls there get 404)
  // manifests
  | 'manifest-link-unreadable'
  | 'manifest-body-missing'
  | 'manifest-invalid' // the body does not parse as its media type
  | 'manifest-child-missing' // an index names a manifest its repository does not hold
  | 'manifest-descriptor-size' // a descriptor's size differs from the blob's (which hashes right)
  // pointers
  | 'tag-dangling'
  | 'tag-unreadable'
  | 'link-dangling' // a repository's blob link to bytes that are gone
  | 'referrer-dangling' // a referrers entry for a manifest the repository does not hold
  | 'referrer-missing' // a manifest with a subject but no referrers entry (the referrers API misses it)
  | 'catalog-missing' // a repository the catalog does not list
  // uploads
  | 'upload-record-unreadable'
  // orphans
  | 'blob-unreferenced'
  | 'upload-without-record'
  | 'trash-interrupted'
  | 'catalog-stale'
  | 'stray-object';

export interface Breakage {
  repository: string;
  /** Digest of a manifest that no longer pulls whole. */
  manifest: string;
  /** Tags pointing at it. */
  tags: string[];
}

export interface Finding {
  kind: FindingKind;
  severity: Severity;
  namespace: string;
  repository?: string;
  /** The storage key concerned. */
  object: string;
  digest?: string;
  problem: string;
  /** Manifests that do not pull whole because of this (damage only). */
  breaks?: Breakage[];
  /** With --repair: whether it was repaired, and what was done (or why not). */
  repaired?: boolean;
  repair?: string;
}

export interface QuarantinedItem {
  namespace: string;
  digest: string;
  key: string;
  reason?: string;
  by?: string;
  at?: string;
}

export interface Incomplete {
  namespace: string;
  object: string;
  problem: string;
}

export interface FsckReport {
  deep: boolean;
  repair: boolean;
  startedAt: string;
  durationMs: number;
  settings: { graceSeconds: number; uploadAgeSeconds: number };
  namespaces: string[];
  scanned: {
    repositories: number;
    manifests: number;
    tags: number;
    links: number;
    referrers: number;
    blobs: number;
    blobBytes: number;
    /** Blobs whose bytes were read and hashed (all with --deep; else only suspects). */
    hashedBlobs: number;
    hashedBytes: number;
    uploads: number;
  };
  findings: Finding[];
  /** Damage beyond the report's limit: not detailed, not repaired (run again after a repair). */
  omitted: number;
  /** Orphans beyond the report's limit: not listed (not re-checked either). */
  orphansNotListed: number;
  counts: {
    damage: number;
    orphans: number;
    orphanBytes: number;
    repaired: number;
    /** Damage left: not repaired, or repaired while images it broke still need a push. */
    remaining: number;
  };
  quarantine: QuarantinedItem[];
  /** Parts that could not be checked (storage errors): the result is incomplete. */
  incomplete: Incomplete[];
}

/** Exit status bits, as fsck(8): 0 clean, 1 damage repaired, 4 damage left, 8 operational error, 16 usage. */
export const EXIT = { clean: 0, repaired: 1, found: 4, operational: 8, usage: 16 } as const;

export function newReport(deep: boolean, repair: boolean, settings: FsckReport['settings']): FsckReport {
  return {
    deep,
    repair,
    startedAt: new Date().toISOString(),
    durationMs: 0,
    settings,
    namespaces: [],
    scanned: {
      repositories: 0,
      manifests: 0,
      tags: 0,
      links: 0,
      referrers: 0,
      blobs: 0,
      blobBytes: 0,
      hashedBlobs: 0,
      hashedBytes: 0,
      uploads: 0,
    },
    findings: [],
    omitted: 0,
    orphansNotListed: 0,
    counts: { damage: 0, orphans: 0, orphanBytes: 0, repaired: 0, remaining: 0 },
    quarantine: [],
    incomplete: [],
  };
}

/** Damage that is not repaired, or whose repair left images to push again. */
export function isRemaining(f: Finding): boolean {
  return f.severity === 'damage' && (!f.repaired || (f.breaks?.length ?? 0) > 0);
}

export function exitCode(r: FsckReport): number {
  let code: number = EXIT.clean;
  if (r.counts.remaining > 0 || r.omitted > 0) code |= EXIT.found;
  if (r.counts.repaired > 0) code |= EXIT.repaired;
  if (r.incomplete.length > 0) code |= EXIT.operational;
  return code;
}

/** One line per finding, with what it breaks and what repair did. */
export function findingLines(f: Finding): string[] {
  const where = `${f.namespace}${f.repository ? `/${f.repository}` : ''}`;
  const lines = [`${f.severity} ${f.kind} ${where} ${f.object}: ${f.problem}`];
  for (const b of f.breaks ?? []) {
    lines.push(`  breaks ${f.namespace}/${b.repository}@${b.manifest}${b.tags.length ? ` (tags: ${b.tags.join(', ')})` : ''}`);
  }
  if (f.repair !== undefined) lines.push(`  ${f.repaired ? 'repaired' : 'not repaired'}: ${f.repair}`);
  return lines;
}

export function summaryText(r: FsckReport): string {
  const s = r.scanned;
  const lines = [
    `fsck${r.deep ? ' --deep' : ''}${r.repair ? ' --repair' : ''}: ${r.namespaces.length} namespace(s), ${s.repositories} repositories, ` +
      `${s.manifests} manifests, ${s.tags} tags, ${s.links} blob links, ${s.blobs} blobs (${formatBytes(s.blobBytes)}; ` +
      `${s.hashedBlobs} hashed, ${formatBytes(s.hashedBytes)}), ${s.uploads} uploads, ${(r.durationMs / 1000).toFixed(1)} s`,
  ];
  const c = r.counts;
  if (c.damage === 0 && r.omitted === 0) lines.push('  no damage');
  else {
    lines.push(
      `  damage: ${c.damage}${r.omitted ? ` (+${r.omitted} not detailed)` : ''}` +
        (r.repair ? `, ${c.repaired} repaired, ${c.remaining} left` : ` (wharf fsck --repair fixes what it can)`),
    );
  }
  if (c.orphans > 0 || r.orphansNotListed > 0) {
    lines.push(
      `  orphans: ${c.orphans}${r.orphansNotListed ? ` listed, ${r.orphansNotListed} more` : ''} (${formatBytes(c.orphanBytes)} listed; wharf prune removes unreferenced blobs)`,
    );
  }
  if (r.quarantine.length > 0) lines.push(`  quarantine: ${r.quarantine.length} blob(s) kept for inspection`);
  if (r.incomplete.length > 0) lines.push(`  incomplete: ${r.incomplete.length} part(s) could not be checked`);
  return lines.join('\n');
}

/** The progress feed: called often; consumers throttle. */
export interface FsckProgress {
  phase: 'blobs' | 'repositories' | 'orphans' | 'uploads' | 'impact' | 'repair' | 'done';
  namespace: string;
  scanned: number;
  report: FsckReport;
}
