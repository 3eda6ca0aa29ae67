// What the scale scripts (fsck-scale.ts, prune-scale.ts) share: the options
// that size the generated store, and how a run is measured — its time and
// the peak RSS of the process that ran it, next to an idle node's.
import { spawnSync } from 'node:child_process';

/** The store's size (store-gen.ts), or an existing store (--root), kept afterwards with --keep. */
export const STORE_OPTIONS = {
  blobs: { type: 'string', default: '100000' },
  manifests: { type: 'string', default: '10000' },
  repos: { type: 'string', default: '100' },
  root: { type: 'string' },
  keep: { type: 'boolean', default: false },
} as const;

/** Run `fn` in this process: its result, the seconds it took and this process's peak RSS in MiB. */
export async function measured<T>(fn: () => Promise<T>): Promise<{ result: T; seconds: number; peakRssMiB: number }> {
  const t0 = process.hrtime.bigint();
  const result = await fn();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { result, seconds, peakRssMiB: process.resourceUsage().maxRSS / 1024 };
}

/** Print the peak RSS of a node process that does nothing (what a measured process's peak starts from). */
export function printIdleNodeRss(): void {
  const baseline = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.resourceUsage().maxRSS/1024))'], {
    encoding: 'utf8',
  });
  console.log(`idle node peak RSS: ${Number(baseline.stdout).toFixed(1)} MiB`);
}
