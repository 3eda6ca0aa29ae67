// Backend-fault handling shared by the network drivers (Swift, S3): a timeout
// on every backend call, bounded retries with exponential backoff and jitter
// for idempotent operations, and one error type for "the backend is broken"
// (StorageUnavailableError) so the HTTP layer can answer 503.
//
// What counts as idempotent is the caller's decision: GET/HEAD/LIST/DELETE and
// PUT of bytes held in memory are; a PUT whose body is a stream is not (the
// stream is consumed by the first attempt), so it gets exactly one attempt.
import type { Readable } from 'node:stream';
import { IdleTimer, watchIdle } from '../async/idle-timeout.js';
import { NotFoundError, RangeNotSatisfiableError, StorageUnavailableError } from './errors.js';

export interface RetryOptions {
  /**
   * Timeout of one attempt in milliseconds. For calls that stream a body it
   * is an idle timeout: it restarts whenever bytes move. Default 30000.
   */
  timeoutMs?: number;
  /** Retries after the first attempt for idempotent calls. Default 4. */
  retries?: number;
  /** First backoff delay in milliseconds; doubles per retry. Default 100. */
  baseDelayMs?: number;
  /** Cap of one backoff delay in milliseconds. Default 2000. */
  maxDelayMs?: number;
  /** Told before each retry (the metrics count retries). */
  onRetry?: RetryHook;
}

/** `what` is the call's description ("swift stat <key>"), `attempt` the retry's number (1 = first retry). */
export type RetryHook = (what: string, attempt: number, err: unknown) => void;

export interface RetryPolicy {
  timeoutMs: number;
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  onRetry?: RetryHook;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  timeoutMs: 30_000,
  retries: 4,
  baseDelayMs: 100,
  maxDelayMs: 2_000,
};

export function retryPolicy(options: RetryOptions = {}): RetryPolicy {
  const p: RetryPolicy = { ...DEFAULT_RETRY_POLICY };
  for (const k of ['timeoutMs', 'retries', 'baseDelayMs', 'maxDelayMs'] as const) {
    const v = options[k];
    if (v !== undefined) {
      if (!Number.isFinite(v) || v < 0) throw new TypeError(`${k} must be a non-negative number (got ${v})`);
      p[k] = v;
    }
  }
  if (p.timeoutMs <= 0) throw new TypeError('timeoutMs must be > 0');
  if (options.onRetry) p.onRetry = options.onRetry;
  return p;
}

/**
 * The longest a failing idempotent call can take: every attempt times out and
 * every backoff is the longest one. Useful for tests and for sizing the HTTP
 * layer's own deadlines.
 */
export function worstCaseMs(p: RetryPolicy): number {
  let total = p.timeoutMs * (p.retries + 1);
  for (let i = 0; i < p.retries; i++) total += Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** i);
  return total;
}

/** An HTTP answer from the backend that is neither success nor a mapped error. */
export class BackendHttpError extends Error {
  readonly status: number;
  constructor(message: string, status: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BackendHttpError';
    this.status = status;
  }
}

/** An attempt that ran out of time (raised through the AbortSignal). */
export class BackendTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackendTimeoutError';
  }
}

const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EADDRNOTAVAIL',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_ABORTED',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

const TRANSIENT_NAMES = new Set([
  'AbortError',
  'TimeoutError',
  'BackendTimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'ThrottlingException',
  'Throttling',
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'TooManyRequestsException',
  'RequestTimeTooSkewed',
]);

/** Is this failure worth another attempt (network trouble, timeout, 5xx, 429, 408)? */
export function isTransient(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    if (e instanceof NotFoundError || e instanceof RangeNotSatisfiableError) return false;
    if (e instanceof BackendHttpError) return e.status >= 500 || e.status === 429 || e.status === 408;
    const o = e as { code?: unknown; name?: unknown; $metadata?: { httpStatusCode?: number }; cause?: unknown };
    const status = o.$metadata?.httpStatusCode;
    if (typeof status === 'number' && status > 0) return status >= 500 || status === 429 || status === 408;
    if (typeof o.code === 'string' && TRANSIENT_CODES.has(o.code)) return true;
    if (typeof o.name === 'string' && TRANSIENT_NAMES.has(o.name)) return true;
    // fetch() reports network failures as TypeError('fetch failed') with the cause attached
    if (e instanceof TypeError && /fetch failed|terminated|other side closed/i.test(e.message)) return true;
    e = o.cause;
  }
  return false;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Backoff before retry `n` (0-based): exponential, capped, "equal jitter" (half fixed, half random). */
export function backoffMs(p: RetryPolicy, n: number): number {
  const d = Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** n);
  return d / 2 + Math.random() * (d / 2);
}

/** The idle timer of one backend call: it expires with a BackendTimeoutError that names the call. */
export class IdleDeadline extends IdleTimer {
  constructor(ms: number, what: string) {
    super(ms, () => new BackendTimeoutError(`${what}: no progress for ${ms} ms`));
  }
}

/** Wrap a failure that is not a mapped storage error as StorageUnavailableError. */
export function unavailable(what: string, err: unknown, attempts?: number): Error {
  if (err instanceof NotFoundError || err instanceof RangeNotSatisfiableError || err instanceof StorageUnavailableError) {
    return err;
  }
  const e = err as { message?: string; name?: string; cause?: { code?: string; message?: string } };
  let reason = e?.message || e?.name || String(err);
  if (e?.cause?.code) reason += ` (${e.cause.code})`;
  else if (e?.cause?.message) reason += ` (${e.cause.message})`;
  const tries = attempts && attempts > 1 ? ` after ${attempts} attempts` : '';
  return new StorageUnavailableError(`storage backend failed: ${what}${tries}: ${reason}`, { cause: err });
}

export interface AttemptContext {
  /** Aborts when the attempt times out. */
  signal: AbortSignal;
  /** The attempt's deadline; call touch() to extend it while bytes move. */
  deadline: IdleDeadline;
  /** 0 for the first attempt. */
  attempt: number;
}

/**
 * Run `fn` with a per-attempt timeout. When `idempotent`, transient failures
 * are retried up to `policy.retries` times with backoff. NotFoundError and
 * RangeNotSatisfiableError pass through; every other failure becomes a
 * StorageUnavailableError.
 *
 * `keepDeadline`: the result still uses the attempt's signal after `fn`
 * resolves (a streamed response body); the caller then owns the deadline and
 * must clear() it.
 */
export async function withRetries<T>(
  what: string,
  policy: RetryPolicy,
  fn: (ctx: AttemptContext) => Promise<T>,
  opts: { idempotent: boolean; keepDeadline?: boolean },
): Promise<T> {
  const attempts = opts.idempotent ? policy.retries + 1 : 1;
  let last: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (attempt > 0) {
      policy.onRetry?.(what, attempt, last);
      await sleep(backoffMs(policy, attempt - 1));
    }
    const deadline = new IdleDeadline(policy.timeoutMs, what);
    let keep = false;
    try {
      const result = await raceSignal(fn({ signal: deadline.signal, deadline, attempt }), deadline.signal);
      keep = !!opts.keepDeadline;
      return result;
    } catch (err) {
      last = deadline.expired && !(err instanceof NotFoundError || err instanceof RangeNotSatisfiableError) ? deadline.signal.reason : err;
      if (!isTransient(last)) break;
    } finally {
      if (!keep) deadline.clear();
    }
  }
  throw unavailable(what, last, attempts);
}

/** Reject as soon as `signal` aborts, even if `p` ignores the signal. */
function raceSignal<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    p.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      p.catch(() => {});
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/**
 * Pass a response body through with an idle timeout that only runs while
 * this side waits for the backend (async/idle-timeout.ts). When the backend
 * stalls or the body fails, the returned stream errors with a
 * StorageUnavailableError instead of hanging.
 */
export function watchBody(source: Readable, deadline: IdleDeadline, what: string): Readable {
  return watchIdle(source, deadline, (reason) => unavailable(`${what} (reading body)`, reason));
}
