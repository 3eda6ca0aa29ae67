// Quarantine: where a published blob goes when its stored bytes turn out not
// to match its name (a size or hash check failed). It is moved out of
// `<ns>/blobs/` — so it is never served again and a correct push can publish
// the right bytes — and kept with a note saying why, for inspection. Prune
// never sweeps the quarantine; an operator deletes it by hand.
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
 */
export async function quarantineBlob(
  s: Scope,
  d: Digest,
  note: Omit<QuarantineNote, 'digest' | 'at'>,
  now = Date.now(),
): Promise<string | null> {
  const st = stamp(now);
  const full: QuarantineNote = { digest: d.text, at: new Date(now).toISOString(), ...note };
  await s.driver.put(layout.quarantineNote(s.ns, d, st), Buffer.from(JSON.stringify(full)));
  const key = layout.quarantinedBlob(s.ns, d, st);
  try {
    await s.driver.move(layout.blob(s.ns, d), key);
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    await s.driver.delete(layout.quarantineNote(s.ns, d, st)).catch(() => false);
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
