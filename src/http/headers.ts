// Parsing of the request headers the API depends on: Range, Content-Range,
// Content-Length, and pagination parameters.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RegistryError } from '../registry/errors.js';
import { HttpError } from './errors.js';

export interface Range {
  start: number;
  end?: number;
}

/** `Range: bytes=a-b` / `bytes=a-` / `bytes=-n` against a blob of `size` bytes; null when absent. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null {
  if (header === undefined) return null;
  const notSatisfiable = () =>
    new HttpError(
      'RANGE_INVALID',
      'requested range not satisfiable',
      { range: header.slice(0, 100) },
      {
        headers: { 'Content-Range': `bytes */${size}` },
      },
    );
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) throw notSatisfiable();
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) throw notSatisfiable();
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (!Number.isSafeInteger(start) || start >= size || end < start) throw notSatisfiable();
  return { start, end };
}

/** `Content-Range: a-b` (Distribution style) or `bytes a-b/*`, for chunk uploads. */
export function parseContentRange(header: string | undefined): { start: number; end: number } | undefined {
  if (header === undefined) return undefined;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (!m) throw new RegistryError('BLOB_UPLOAD_INVALID', 'malformed Content-Range', { contentRange: header.slice(0, 100) });
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) {
    throw new HttpError('RANGE_INVALID', 'invalid Content-Range', { contentRange: header.slice(0, 100) });
  }
  return { start, end };
}

export function contentLength(req: IncomingMessage): number | undefined {
  const v = req.headers['content-length'];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw new RegistryError('SIZE_INVALID', 'invalid Content-Length');
  return n;
}

/**
 * Transfer codings (RFC 9112 §6): Node's parser decodes chunked only. It
 * passes e.g. `gzip, chunked` through with the body still gzip-encoded — a
 * handler would store those bytes — so any coding besides chunked gets 501,
 * before anything reads the body (§6.1). When chunked is not the last coding
 * the body's length is unknown: 400 and the connection closes (§6.3).
 */
export function checkTransferCoding(req: IncomingMessage): void {
  const te = req.headers['transfer-encoding'];
  if (te === undefined) return;
  // Empty list elements are allowed (RFC 9110 §5.6.1); codings are case-insensitive.
  const codings = te
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '');
  if (codings.length === 1 && codings[0] === 'chunked') return;
  const detail = { transferEncoding: te.slice(0, 100) };
  // UNSUPPORTED names what is wrong; the statuses are the ones RFC 9112 requires.
  if (codings.at(-1) !== 'chunked') {
    throw new HttpError('UNSUPPORTED', 'the last transfer coding must be chunked', detail, {
      status: 400,
      headers: { Connection: 'close' },
    });
  }
  throw new HttpError('UNSUPPORTED', 'transfer coding not implemented; send the body with chunked only', detail, { status: 501 });
}

/** Does the request carry a body? (Content-Length > 0, or chunked transfer encoding.) */
export function hasBody(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  if (len !== undefined) return len !== '0';
  return req.headers['transfer-encoding'] !== undefined;
}

/** `n` and `last` for tag and catalog pagination. */
export function pagination(url: URL): { limit?: number; last?: string } {
  const n = url.searchParams.get('n');
  const last = url.searchParams.get('last') ?? undefined;
  let limit: number | undefined;
  if (n !== null) {
    if (!/^\d{1,9}$/.test(n))
      throw new RegistryError('PAGINATION_NUMBER_INVALID', 'invalid number of results requested', { n: n.slice(0, 20) });
    limit = Number(n);
  }
  return { limit, last };
}

/**
 * A manifest over `limits.manifest-max-bytes`: MANIFEST_INVALID, the spec's
 * code for a manifest the registry refuses, sent as 413 rather than its 400 so
 * that clients and proxies see the refusal is about size.
 */
export function manifestTooLarge(max: number, size?: number): HttpError {
  return new HttpError('MANIFEST_INVALID', `manifest larger than ${max} bytes`, size === undefined ? { max } : { size, max }, {
    status: 413,
  });
}

/**
 * Read a small request body into memory; more than `max` bytes throws
 * `tooLarge(max, size)` (the declared size, when the request gave one).
 */
export async function readSmallBody(
  req: IncomingMessage,
  max: number,
  tooLarge: (max: number, size?: number) => Error = manifestTooLarge,
): Promise<Buffer> {
  const declared = contentLength(req);
  if (declared !== undefined && declared > max) {
    req.resume();
    throw tooLarge(max, declared);
  }
  const parts: Buffer[] = [];
  let total = 0;
  // A throw out of the loop must not destroy the request (and its socket): the
  // caller still answers 413, and the dispatcher drains what is left.
  for await (const piece of req.iterator({ destroyOnReturn: false })) {
    total += (piece as Buffer).length;
    if (total > max) {
      req.resume();
      throw tooLarge(max);
    }
    parts.push(piece as Buffer);
  }
  return Buffer.concat(parts, total);
}

/**
 * Read and discard a body the handler has no use for. Resolves once it has
 * arrived whole: a request whose body breaks off (the client went away, or
 * the chunked framing was malformed) must not change anything, since its
 * client never learns what it did (e.g. the id of an upload it started).
 */
export function discardBody(req: IncomingMessage): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const broken = () => reject(new RegistryError('BLOB_UPLOAD_INVALID', 'request body ended early'));
    if (req.readableEnded) return resolve();
    if (req.destroyed) return broken();
    req.once('end', resolve);
    req.once('error', broken);
    req.once('close', () => {
      if (!req.readableEnded) broken();
    });
    req.resume();
  });
}

/** An unwanted request body up to this size is read and discarded rather than cut off. */
export const DRAIN_LIMIT = 8 * 1024 * 1024;

/**
 * Before answering an error while the request body is still arriving: a
 * small remainder is read and discarded, so the client — still sending —
 * gets to read the answer (closing now resets the connection under its feet
 * and it sees ECONNRESET instead of, say, 413 or 416). A larger or unbounded
 * body is not worth reading: the connection closes once answered.
 */
export function drainOrClose(req: IncomingMessage, res: ServerResponse): void {
  const declared = Number(req.headers['content-length']);
  if (Number.isSafeInteger(declared) && declared > DRAIN_LIMIT) {
    res.setHeader('Connection', 'close');
    return;
  }
  let seen = 0;
  req.on('data', (piece: Buffer) => {
    seen += piece.length;
    if (seen > DRAIN_LIMIT) req.socket.destroy();
  });
  req.resume();
}
