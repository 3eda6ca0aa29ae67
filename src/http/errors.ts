// OCI error bodies: {"errors":[{"code","message","detail"}]} with the spec's
// status for each code. Unknown failures become a bare 500 (or 503 for a
// storage outage) without any internals in the body.
import type { ServerResponse } from 'node:http';
import { RegistryError, type ErrorCode } from '../registry/errors.js';
import { RangeNotSatisfiableError, StorageUnavailableError } from '../storage/errors.js';

export const STATUS: Record<ErrorCode, number> = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  TAG_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
  PAGINATION_NUMBER_INVALID: 400,
  RANGE_INVALID: 416,
  TOO_LARGE: 413,
  NOT_FOUND: 404,
  UNAVAILABLE: 503,
};

/** An error with an explicit status (e.g. 413 for a manifest that is too big). */
export class HttpError extends RegistryError {
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(status: number, code: ErrorCode, message: string, detail?: unknown, headers: Record<string, string> = {}) {
    super(code, message, detail);
    this.status = status;
    this.headers = headers;
  }
}

export interface ErrorReply {
  status: number;
  code: ErrorCode | 'UNKNOWN';
  message: string;
  detail?: unknown;
  headers: Record<string, string>;
  /** True for failures that are not the client's fault (logged as errors). */
  internal: boolean;
}

export function describeError(err: unknown): ErrorReply {
  if (err instanceof HttpError) {
    return { status: err.status, code: err.code, message: err.message, detail: err.detail, headers: err.headers, internal: false };
  }
  if (err instanceof RegistryError) {
    return { status: STATUS[err.code], code: err.code, message: err.message, detail: err.detail, headers: {}, internal: false };
  }
  if (err instanceof RangeNotSatisfiableError) {
    return {
      status: 416,
      code: 'RANGE_INVALID',
      message: 'requested range not satisfiable',
      headers: { 'Content-Range': `bytes */${err.size}` },
      internal: false,
    };
  }
  if (err instanceof StorageUnavailableError) {
    return {
      status: 503,
      code: 'UNAVAILABLE',
      message: 'storage backend unavailable; retry later',
      headers: { 'Retry-After': '5' },
      internal: true,
    };
  }
  return { status: 500, code: 'UNKNOWN', message: 'internal server error', headers: {}, internal: true };
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
