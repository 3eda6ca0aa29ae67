// Errors every storage driver throws, so the registry layer can tell a missing
// object from a broken backend without knowing which backend it is.

/** The object does not exist. */
export class NotFoundError extends Error {
  readonly key: string;
  constructor(key: string) {
    super(`object not found: ${key}`);
    this.name = 'NotFoundError';
    this.key = key;
  }
}

/** A requested byte range lies outside the object. */
export class RangeNotSatisfiableError extends Error {
  readonly size: number;
  constructor(key: string, size: number) {
    super(`range not satisfiable for ${key} (size ${size})`);
    this.name = 'RangeNotSatisfiableError';
    this.size = size;
  }
}

/**
 * A key or listing prefix that is not well formed (empty, NUL, an empty, '.'
 * or '..' segment). Keys are built from names the client sent, which the
 * registry validates first; this is the guard behind that check, and it is
 * still the client's request that is refused, never a server failure.
 */
export class InvalidKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidKeyError';
  }
}

/** The backend failed or timed out after bounded retries; the request may be retried later. */
export class StorageUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageUnavailableError';
  }
}

/**
 * The backend has no space (or quota) left for a write (ENOSPC, EDQUOT).
 * The write left nothing partial behind; it may succeed once space is freed.
 */
export class StorageFullError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageFullError';
  }
}

export function isNotFound(err: unknown): err is NotFoundError {
  return err instanceof NotFoundError;
}
