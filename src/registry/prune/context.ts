// The state one prune run carries through a namespace: settings, clock,
// report, and the namespace's referenced set (the mark).
import type { StorageDriver } from '../../storage/driver.js';
import type { Scope } from '../scope.js';
import type { DigestSet } from './digest-set.js';
import type { CompiledRule } from './retention.js';
import type { Phase, PruneReport } from './report.js';
import type { Trash } from './trash.js';

export interface PruneSettings {
  /** Nothing younger than this is deleted (blobs, links, manifests, tags). */
  graceMs: number;
  /** Uploads idle for this long are removed. */
  uploadAgeMs: number;
  /** Manifests pushed this long ago expire (unset: never). */
  expirationMs?: number;
  rules: CompiledRule[];
  dryRun: boolean;
}

export interface NsContext extends Scope {
  readonly driver: StorageDriver;
  readonly ns: string;
  readonly settings: PruneSettings;
  readonly report: PruneReport;
  /** Start of this run (ms): rescans look for what changed after it. */
  readonly runStart: number;
  now(): number;
  /**
   * Digests ("alg:hex") whose data must stay: kept manifests, everything they
   * reference, and every remaining per-repository link (8 bytes a digest).
   */
  readonly referenced: DigestSet;
  /**
   * Digests a client was recently told exist (live "used" markers, loaded at
   * the start; src/registry/blob-use.ts): their data and links stay.
   */
  readonly used: DigestSet;
  /** Where this run moves blobs and links before it decides to delete them. */
  readonly trash: Trash;
  /** False once any part of the mark failed: the blob sweep is then skipped. */
  markComplete: boolean;
  progress(phase: Phase, scanned: number): void;
}

export function problem(ctx: NsContext, object: string, text: string, repository?: string): void {
  ctx.report.problems.push({ namespace: ctx.ns, ...(repository !== undefined ? { repository } : {}), object, problem: text });
}

/** True when something last written at `ms` is still within the grace period. */
export function isYoung(ctx: NsContext, ms: number | undefined): boolean {
  // Unknown time: treat as young (never delete what cannot be dated).
  return ms === undefined || !Number.isFinite(ms) || ctx.now() - ms < ctx.settings.graceMs;
}

/**
 * For blob data and blob links: true while they may still be needed by a push
 * in progress. Twice the grace: a reader does not mark a blob younger than the
 * grace as used, and the client may push its manifest a grace period later.
 */
export function isRecent(ctx: NsContext, ms: number | undefined): boolean {
  return ms === undefined || !Number.isFinite(ms) || ctx.now() - ms < 2 * ctx.settings.graceMs;
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
