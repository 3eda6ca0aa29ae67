// Planning an S3 concat: which parts of the multipart upload are copied on
// the server and which are downloaded and uploaded again, given that every
// part but the last must be at least 5 MiB. Pure: sizes in, a plan out.

export const MIN_PART = 5 * 1024 * 1024;
export const MAX_COPY_PART = 5 * 1024 * 1024 * 1024;

/** One byte range of one source. `end` inclusive. */
export interface Piece {
  source: number;
  start: number;
  end: number;
}

/** One part of a planned concat: a server-side copy, or bytes downloaded and uploaded. */
export type PlannedPart = { kind: 'copy'; piece: Piece; size: number } | { kind: 'upload'; pieces: Piece[]; size: number };

/**
 * Split the concatenation of objects with the given sizes into multipart
 * parts such that every part but the last is >= minPart, while downloading
 * (and re-uploading) as few bytes as possible:
 * - a source of >= minPart is copied on the server (UploadPartCopy, pieces of
 *   at most maxCopyPart, never leaving a piece below minPart);
 * - consecutive small sources are coalesced into upload parts of >= minPart;
 * - a small run followed by a large source is merged into the previous upload
 *   part when that stays <= maxUploadPart, else it borrows the tail of the
 *   previous copy part (when that stays >= minPart), else the head of the
 *   large source;
 * - the final run may be small (the last part has no minimum).
 */
export function planConcat(
  sizes: readonly number[],
  minPart = MIN_PART,
  maxCopyPart = MAX_COPY_PART,
  maxUploadPart = 2 * minPart,
): PlannedPart[] {
  if (maxCopyPart < 2 * minPart) throw new RangeError('planConcat: maxCopyPart must be >= 2 * minPart');
  const parts: PlannedPart[] = [];
  let pending: Piece[] = [];
  let pendingLen = 0;
  const flush = () => {
    if (pendingLen > 0) parts.push({ kind: 'upload', pieces: pending, size: pendingLen });
    pending = [];
    pendingLen = 0;
  };
  const copy = (source: number, from: number, n: number) => {
    let o = from;
    while (o < n) {
      let take = Math.min(n - o, maxCopyPart);
      const rest = n - o - take;
      if (rest > 0 && rest < minPart) take -= minPart - rest;
      parts.push({ kind: 'copy', piece: { source, start: o, end: o + take - 1 }, size: take });
      o += take;
    }
  };
  sizes.forEach((n, source) => {
    if (n <= 0) return;
    if (n < minPart) {
      pending.push({ source, start: 0, end: n - 1 });
      pendingLen += n;
      if (pendingLen >= minPart) flush();
      return;
    }
    let from = 0;
    if (pendingLen > 0) {
      const last = parts[parts.length - 1];
      const need = minPart - pendingLen;
      if (last?.kind === 'upload' && last.size + pendingLen <= maxUploadPart) {
        last.pieces.push(...pending);
        last.size += pendingLen;
        pending = [];
        pendingLen = 0;
      } else if (last?.kind === 'copy' && last.size - need >= minPart) {
        const p = last.piece;
        const tail: Piece = { source: p.source, start: p.end - need + 1, end: p.end };
        p.end -= need;
        last.size -= need;
        pending.unshift(tail);
        pendingLen += need;
        flush();
      } else {
        pending.push({ source, start: 0, end: need - 1 });
        pendingLen += need;
        flush();
        from = need;
      }
    }
    if (n - from >= minPart) copy(source, from, n);
    else {
      pending.push({ source, start: from, end: n - 1 });
      pendingLen += n - from;
    }
  });
  flush();
  return parts;
}
