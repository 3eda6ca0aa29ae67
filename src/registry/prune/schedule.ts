// Prune on a schedule inside `wharf serve` (registry.prune.interval). Runs
// never overlap; a failed run is logged and the next one comes as planned.
// Several replicas may each run it: concurrent runs are as safe as a run
// next to pushes (see docs/prune.md).
import type { StorageDriver } from '../../storage/driver.js';
import { prune, totals, type PruneOptions, type PruneReport } from './index.js';

export interface ScheduleLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface PruneSchedule {
  /** Stop scheduling and wait for a run in progress. */
  stop(): Promise<void>;
}

export interface ScheduleHooks {
  /** A run failed as a whole (after `ms`). */
  onFailure?(err: unknown, ms: number): void;
  /** True while runs must not happen (read-only mode): a due run is skipped. */
  paused?(): boolean;
}

export function schedulePrune(
  driver: StorageDriver,
  intervalSeconds: number,
  options: Omit<PruneOptions, 'onProgress' | 'dryRun'>,
  log: ScheduleLogger,
  onReport?: (r: PruneReport) => void,
  hooks: ScheduleHooks = {},
): PruneSchedule {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const runOnce = async () => {
    if (hooks.paused?.()) {
      log.info('prune skipped: the registry is read-only');
      return;
    }
    const started = Date.now();
    try {
      const r = await prune(driver, options);
      const t = totals(r);
      log.info('prune finished', {
        durationMs: r.durationMs,
        removedObjects: t.removed.objects,
        removedBytes: t.removed.bytes,
        keptObjects: t.kept.objects,
        keptBytes: t.kept.bytes,
        removed: r.removed,
        restored: r.restored,
        problems: r.problems.length,
      });
      for (const p of r.problems.slice(0, 20)) log.warn('prune problem', { ...p });
      onReport?.(r);
    } catch (err) {
      log.error('prune failed', { err: err instanceof Error ? err.message : String(err) });
      hooks.onFailure?.(err, Date.now() - started);
    }
  };
  const next = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = runOnce().finally(next);
    }, intervalSeconds * 1000);
    timer.unref();
  };
  next();
  return {
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
