// "Does the store answer?": one cheap call (a listing of at most one key),
// used by the readiness check and by `wharf check-config`.
import type { StorageDriver } from './driver.js';

export interface ProbeResult {
  ok: boolean;
  /** How long the answer took (or how long was waited), ms. */
  ms: number;
  /** Why not, when not ok. */
  error?: string;
}

/**
 * List one key under `prefix`, waiting at most `timeoutMs`. Never rejects.
 * `onSettled` runs when the call itself ends (it may outlive the wait).
 */
export async function probeStorage(driver: StorageDriver, prefix: string, timeoutMs: number, onSettled?: () => void): Promise<ProbeResult> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<ProbeResult>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, ms: timeoutMs, error: `no answer within ${timeoutMs} ms` }), timeoutMs);
  });
  const call = driver.list({ prefix, delimiter: '/', limit: 1 }).then(
    (): ProbeResult => ({ ok: true, ms: Math.round(performance.now() - t0) }),
    (err: unknown): ProbeResult => ({
      ok: false,
      ms: Math.round(performance.now() - t0),
      error: err instanceof Error ? err.message : String(err),
    }),
  );
  if (onSettled) void call.then(onSettled);
  try {
    return await Promise.race([call, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
