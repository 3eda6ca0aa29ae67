// The state one fsck run carries through a namespace: settings, the report,
// compact digest tables, and the candidate findings — each with a `confirm`
// (looked at once more after the scan, so a push or prune that was midway
// does not count as damage) and a `fix` (for --repair).
import { createHash, type HashAlgorithm } from '../../digest/index.js';
import { NotFoundError } from '../../storage/errors.js';
import { layout } from '../layout.js';
import { parseDigest, type Digest } from '../names.js';
import type { DigestMap, DigestSet } from '../prune/digest-set.js';
import { trashRunAlive } from '../prune/trash.js';
import { listAll, type Scope } from '../scope.js';
import type { Finding, FsckProgress, FsckReport } from './report.js';

/** Damage findings detailed per run; more are only counted. */
export const MAX_FINDINGS = 10_000;
/** Orphans detailed per run (garbage can be plentiful); more are only counted. */
export const MAX_ORPHANS = 1_000;
/** Requests in flight for one namespace's small objects. */
export const PARALLEL = 16;
/** Blobs hashed at once (each streams its whole body through the hash). */
export const HASH_PARALLEL = 2;

export interface FsckSettings {
  deep: boolean;
  repair: boolean;
  /** Objects younger than this may belong to a push in progress: never judged dangling. */
  graceMs: number;
  uploadAgeMs: number;
  /** Mirror namespaces cache manifests whose blobs are fetched only when asked for. */
  mirror: boolean;
}

/** Thrown by a fix that cannot repair: the message says what the operator can do. */
export class Unrepairable extends Error {}

export interface Candidate {
  finding: Finding;
  /** Still true now? (re-read after the scan) */
  confirm?: () => Promise<boolean>;
  /** Repair; resolves to what was done. Throws Unrepairable when it cannot. */
  fix?: () => Promise<string>;
}

export interface NsCheck extends Scope {
  readonly settings: FsckSettings;
  readonly report: FsckReport;
  now(): number;
  /** Every blob listed: digest -> stored size (16 bytes a blob). */
  readonly present: DigestMap;
  /** Blobs whose bytes were hashed and match their name. */
  readonly verified: DigestSet;
  /** Blobs whose bytes do not match their name (few: damage). */
  readonly corrupt: Set<string>;
  /** Everything a manifest references or a repository links: not orphaned. */
  readonly referenced: DigestSet;
  /** Blobs a client was recently told exist (live markers): not orphaned. */
  readonly used: DigestSet;
  /** Repositories seen (for the catalog check). */
  readonly repos: Set<string>;
  readonly candidates: Candidate[];
  /** Orphan candidates seen (listed or not). */
  orphans: number;
  progress(phase: FsckProgress['phase'], scanned: number): void;
}

export function incomplete(ctx: NsCheck, object: string, err: unknown): void {
  ctx.report.incomplete.push({ namespace: ctx.ns, object, problem: errorText(err) });
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Record a candidate finding (checked again and counted at the end of the namespace). */
export function found(ctx: NsCheck, c: Omit<Candidate, 'finding'> & { finding: Omit<Finding, 'namespace'> }): void {
  if (c.finding.severity === 'orphan') {
    if (ctx.orphans++ >= MAX_ORPHANS) {
      ctx.report.orphansNotListed++;
      return;
    }
  } else if (ctx.candidates.length - Math.min(ctx.orphans, MAX_ORPHANS) >= MAX_FINDINGS) {
    ctx.report.omitted++;
    return;
  }
  ctx.candidates.push({ ...c, finding: { namespace: ctx.ns, ...c.finding } });
}

/** True while something last written at `ms` may belong to a push in progress. */
export function isRecent(ctx: NsCheck, ms: number | undefined): boolean {
  return ms === undefined || !Number.isFinite(ms) || ctx.now() - ms < 2 * ctx.settings.graceMs;
}

export function digestOrNull(text: string): Digest | null {
  try {
    return parseDigest(text);
  } catch {
    return null;
  }
}

export interface Hashed {
  /** The digest the bytes really have (hex). */
  hex: string;
  size: number;
}

/** Hash a blob's stored bytes; null when it is gone. */
export async function hashBlob(ctx: NsCheck, d: Digest): Promise<Hashed | null> {
  let stream;
  try {
    stream = await ctx.driver.read(layout.blob(ctx.ns, d));
  } catch (err) {
    if (err instanceof NotFoundError) return null;
    throw err;
  }
  const h = createHash(d.algorithm as HashAlgorithm);
  let size = 0;
  for await (const piece of stream) {
    const b = piece as Buffer;
    size += b.length;
    if (h.updateAsync) await h.updateAsync(b);
    else h.update(b);
  }
  ctx.report.scanned.hashedBlobs++;
  ctx.report.scanned.hashedBytes += size;
  return { hex: h.digestHex(), size };
}

/**
 * Whether `d` (its data, or `repo`'s link to it) sits in the trash of a prune
 * run that is still going: it comes back or goes within moments, so it is not
 * judged. (A dead run's trash is damage until prune or --repair takes it back.)
 */
export async function inTrash(ctx: NsCheck, d: Digest, repo?: string): Promise<boolean> {
  const root = layout.trash(ctx.ns);
  for await (const r of listAll(ctx.driver, root, { delimiter: '/' })) {
    if (!r.prefix) continue;
    const run = r.key.slice(root.length, -1);
    const key = repo === undefined ? layout.trashBlob(ctx.ns, run, d) : layout.trashLink(ctx.ns, run, repo, d);
    if (!(await ctx.driver.stat(key))) continue;
    if (await trashRunAlive(ctx.driver, ctx.ns, run, () => ctx.now())) return true;
  }
  return false;
}
