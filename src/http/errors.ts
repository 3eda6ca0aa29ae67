// OCI error bodies: {"errors":[{"code","message","detail"}]} with the status
// the catalogue (errors/catalogue.ts) gives each code. Unknown failures become
// a bare 500 (or 503 for a storage outage) without any internals in the body.
import type { ServerResponse } from 'node:http';
import { CATALOGUE, type ErrorCode } from '../errors/catalogue.js';
import { RegistryError } from '../registry/errors.js';
import { InvalidKeyError, RangeNotSatisfiableError, StorageFullError, StorageUnavailableError } from '../storage/errors.js';

export interface HttpErrorOptions {
  /** Response headers the error needs (WWW-Authenticate, Retry-After, Allow, Content-Range). */
  headers?: Record<string, string>;
  /**
   * A status other than the catalogue's, only where the code and the status
   * must say different things; each use says why at the throw site.
   */
  status?: number;
}

/** A registry error raised by the http layer, with response headers or a status override. */
export class HttpError extends RegistryError {
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(code: ErrorCode, message?: string, detail?: unknown, options: HttpErrorOptions = {}) {
    super(code, message, detail);
    this.status = options.status ?? CATALOGUE[code].status;
    this.headers = options.headers ?? {};
  }
}

export interface ErrorReply {
  status: number;
  code: ErrorCode;
  message: string;
  detail?: unknown;
  headers: Record<string, string>;
  /** True for failures that are not the client's fault (logged as errors). */
  internal: boolean;
}

function reply(code: ErrorCode, message: string, detail: unknown, headers: Record<string, string> = {}, internal = false): ErrorReply {
  return { status: CATALOGUE[code].status, code, message, detail, headers, internal };
}

export function describeError(err: unknown): ErrorReply {
  if (err instanceof HttpError) {
    return { status: err.status, code: err.code, message: err.message, detail: err.detail, headers: err.headers, internal: false };
  }
  if (err instanceof RegistryError) return reply(err.code, err.message, err.detail);
  if (err instanceof RangeNotSatisfiableError) {
    return reply('RANGE_INVALID', 'requested range not satisfiable', undefined, { 'Content-Range': `bytes */${err.size}` });
  }
  // Storage keys are built from what the client named: a key the store
  // refuses is a name that cannot be stored (the key itself stays private).
  if (err instanceof InvalidKeyError) return reply('NAME_INVALID', CATALOGUE.NAME_INVALID.message, undefined);
  if (err instanceof StorageFullError) {
    // UNAVAILABLE (retry later), but 507 Insufficient Storage (RFC 4918)
    // rather than 503: the operator must free space. The write left nothing
    // behind; an upload keeps its last recorded offset and resumes after.
    const full = reply('UNAVAILABLE', 'storage is full; retry once space has been freed', undefined, { 'Retry-After': '60' }, true);
    return { ...full, status: 507 };
  }
  if (err instanceof StorageUnavailableError) {
    return reply('UNAVAILABLE', 'storage backend unavailable; retry later', undefined, { 'Retry-After': '5' }, true);
  }
  return reply('UNKNOWN', CATALOGUE.UNKNOWN.message, undefined, {}, true);
}

export function sendError(res: ServerResponse, reply: ErrorReply, method: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({
    errors: [{ code: reply.code, message: reply.message, ...(reply.detail !== undefined ? { detail: reply.detail } : {}) }],
  });
  res.statusCode = reply.status;
  for (const [k, v] of Object.entries(reply.headers)) res.setHeader(k, v);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(method === 'HEAD' ? undefined : body);
}
