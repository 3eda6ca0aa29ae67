// Quarantine: where a published blob goes when its stored bytes turn out not
// to match its name (a size or hash check failed). It is moved out of
// `<ns>/blobs/` — so it is never served again and a correct push can publish
// the right bytes — and kept with a note saying why, for inspection. Prune
// never sweeps the quarantine; an operator deletes it by hand.
import { copyObject } from '../storage/copy.js';
import { NotFoundError } from '../storage/errors.js';
import { layout } from './layout.js';
import type { Digest } from './names.js';
import { listAll, type Scope } from './scope.js';

export interface QuarantineNote {
  /** The name the bytes were published under. */
  digest: string;
  /** Why they were moved, e.g. "size mismatch", "digest mismatch", "truncated". */
  reason: string;
  /** What found it: "upload" (a deduplicated push), "fsck", ... */
  by: string;
  /** ISO time of the move. */
  at: string;
  /** Size of the quarantined bytes, when known. */
  size?: number;
  /** Anything else worth keeping (e.g. the digest the bytes really have). */
  detail?: Record<string, unknown>;
}

export interface QuarantineEntry {
  digest: string;
  /** Key of the quarantined bytes. */
  key: string;
  note: QuarantineNote | null;
}

/** A sortable, unique-enough stamp: ms since epoch, zero-padded, plus a random suffix. */
function stamp(now: number): string {
  return `${String(now).padStart(15, '0')}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Move the blob published as `d` into the quarantine with a note. Returns the
 * quarantine key, or null when there was no blob to move (someone else moved
 * or deleted it first). The note is written first, so a crash between the two
 * steps leaves a note without data rather than unexplained data.
 *
 * `replacing`: the caller is about to publish verified bytes at the blob's key
 * (an upload or a promotion that found a stored blob of the wrong size). The
 * bad bytes are then *copied* into the quarantine (a hard link on a
 * filesystem) and left at the key for the caller's atomic overwrite: the key
 * is never empty meanwhile. A move would leave it empty until the caller
 * publishes — and if, between the caller's look at the stored blob and the
 * move, a concurrent push had already replaced it with verified bytes and
 * answered 201, the move would take that push's blob away (its manifest push
 * then fails with MANIFEST_BLOB_UNKNOWN; test/unit/quarantine-race.test.ts).
 *
 * Where a copy would leave the bad object's parts behind once the key is
 * overwritten (Swift: an SLO's segments, which an overwrite does not delete,
 * while a copy gets segments of its own), the copy is a concat of the one
 * source instead (`concatKeepsSources` drivers): a manifest over the same
 * segments, which then belong to the quarantined copy alone — no garbage, no
 * bytes copied. Dropping such a copy goes through deleteConcatSources, which
 * keeps whatever the object at the key still uses.
 *
 * With `note.size` (the size the caller found wrong), what was copied or moved
 * is checked: other bytes than those (a verified blob published meanwhile) are
 * not quarantined — a moved one is put back — and null is returned.
 */
export async function quarantineBlob(
  s: Scope,
  d: Digest,
  note: Omit<QuarantineNote, 'digest' | 'at'>,
  options: { replacing?: boolean; now?: number } = {},
): Promise<string | null> {
  const now = options.now ?? Date.now();
  const st = stamp(now);
  const full: QuarantineNote = { digest: d.text, at: new Date(now).toISOString(), ...note };
  const noteKey = layout.quarantineNote(s.ns, d, st);
  await s.driver.put(noteKey, Buffer.from(JSON.stringify(full)));
  const key = layout.quarantinedBlob(s.ns, d, st);
  const blobKey = layout.blob(s.ns, d);
  let size: number;
  try {
    if (options.replacing && s.driver.concatKeepsSources) size = (await s.driver.concat(key, [blobKey])).size;
    else if (options.replacing) size = (await copyObject(s.driver, blobKey, key)).size;
    else {
      await s.driver.move(blobKey, key);
      size = (await s.driver.stat(key))?.size ?? -1;
    }
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    await s.driver.delete(noteKey).catch(() => false);
    return null;
  }
  if (note.size !== undefined && size !== note.size) {
    // Not the bytes that were found wrong: another request published (verified) bytes meanwhile.
    if (options.replacing && s.driver.concatKeepsSources) await s.driver.deleteConcatSources(blobKey, [key]);
    else if (options.replacing) await s.driver.delete(key);
    else
      await s.driver.move(key, blobKey).catch((err: unknown) => {
        if (!(err instanceof NotFoundError)) throw err;
      });
    await s.driver.delete(noteKey).catch(() => false);
    return null;
  }
  return key;
}

/** Everything in a namespace's quarantine, in key order. */
export async function* listQuarantine(s: Scope): AsyncGenerator<QuarantineEntry> {
  const root = layout.quarantine(s.ns);
  for await (const e of listAll(s.driver, root)) {
    if (e.prefix || e.key.endsWith('.json')) continue;
    const rest = e.key.slice(root.length).split('/'); // <alg>/<hex>/<stamp>
    if (rest.length !== 3) continue;
    const raw = await s.driver.get(`${e.key}.json`);
    let note: QuarantineNote | null = null;
    try {
      note = raw ? (JSON.parse(raw.toString('utf8')) as QuarantineNote) : null;
    } catch {
      note = null;
    }
    yield { digest: `${rest[0]}:${rest[1]}`, key: e.key, note };
  }
}
