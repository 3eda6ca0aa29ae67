// Errors the registry layer raises: a code from the catalogue
// (errors/catalogue.ts), a message for people and an optional detail.
// Nothing here knows about HTTP: the http layer picks the status.
import { CATALOGUE, type ErrorCode } from '../errors/catalogue.js';

export type { ErrorCode } from '../errors/catalogue.js';

export class RegistryError extends Error {
  readonly code: ErrorCode;
  readonly detail: unknown;
  /** `message` defaults to the catalogue's message for `code`. */
  constructor(code: ErrorCode, message?: string, detail?: unknown) {
    super(message ?? CATALOGUE[code].message);
    this.name = 'RegistryError';
    this.code = code;
    this.detail = detail;
  }
}

export function isRegistryError(err: unknown): err is RegistryError {
  return err instanceof RegistryError;
}
