// Sole ownership of an upload's file, on drivers that append (filesystem).
//
// There an upload grows one file, so finishing it is a hard link, not a copy.
// A file that anyone may still write into must never be published or named
// by a record, so every request that writes or publishes the file first
// *claims* it: it renames the file the record names to a name of its own
// (rename is atomic, also between processes on one filesystem; of two
// claims one gets the file, the other ENOENT). It writes, closes the file,
// and only then commits: a PATCH saves a record naming its file, a PUT
// publishes it. So a file named by a record never has an open writer, and
// nothing can write into a file being published.
//
// A claim that finds the file gone means another request holds it (or held
// it and died). The claimer waits, with the client's body paused, for the
// record to change:
//   - it changes: the other request committed first, so this one is stale
//     (416 with the real offset; 404 when the upload was finished or
//     cancelled) — one wins, the other gets a clear error;
//   - the file comes back: the holder failed and released it; claim again;
//   - nothing within CLAIM_WAIT_MS: the holder is presumed dead (kill -9 of a
//     replica mid-chunk). Recover: copy the recorded prefix of a file the
//     holder left (any file of the upload) to a new file of our own while
//     hashing it, and go on only if that hash state equals the record's (the
//     states of identical byte streams are identical). If the holder was in
//     fact alive, its commit is refused later (the record it loaded is gone
//     or changed), and it never wrote into our copy. Integrity never depends
//     on the timing, only on which request wins.
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHash } from '../digest/index.js';
import { isNotFound, RangeNotSatisfiableError } from '../storage/errors.js';
import { RegistryError } from './errors.js';
import { bodyGone, endedEarly, feed, HashingCounter } from './upload-body.js';
import { movedOn, newPartName, partKey, partStart, readRecordRaw, type LoadedUpload } from './upload-record.js';
import { listAll, type Scope } from './scope.js';
import { layout } from './layout.js';

/** How long a claim waits for a holder of the upload's file to commit or let go. */
export const CLAIM_WAIT_MS = 2000;
const CLAIM_POLL_MS = 50;

/** The upload's file, now under a name only this request uses. */
export interface Claim {
  /** The name the record gives the file. */
  from: string;
  /** This request's own name for it. */
  to: string;
  /** The recorded size (the record's offset). */
  size: number;
}

/**
 * Take the file the record names (see the top of this file). `body`: the
 * request's body, still unread; a request whose client has gone stops waiting.
 */
export async function claimFile(s: Scope, loaded: LoadedUpload, body: Readable | null): Promise<Claim> {
  const { rec } = loaded;
  const from = rec.parts[0]!.name;
  const deadline = Date.now() + CLAIM_WAIT_MS;
  for (;;) {
    if (bodyGone(body)) throw endedEarly();
    const to = newPartName(0);
    try {
      await s.driver.move(partKey(s, rec.id, from), partKey(s, rec.id, to), { durable: false });
      return { from, to, size: rec.offset };
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const current = await readRecordRaw(s, rec.id);
    if (current === null || !current.equals(loaded.raw)) throw movedOn(rec.id, current);
    if (Date.now() >= deadline) return { from, to: await recover(s, loaded), size: rec.offset };
    await sleep(CLAIM_POLL_MS);
  }
}

/**
 * Rebuild the recorded bytes from a file of the upload that a (presumed
 * dead) holder left, into a new file of our own; verified against the
 * record's hash state. Returns the new file's name.
 */
async function recover(s: Scope, { rec }: LoadedUpload): Promise<string> {
  const dir = layout.uploadDir(s.ns, rec.id);
  const candidates: string[] = [];
  for await (const e of listAll(s.driver, dir, { delimiter: '/' })) {
    const name = e.key.slice(dir.length);
    if (!e.prefix && partStart(name) === 0 && (e.size ?? 0) >= rec.offset) candidates.push(name);
  }
  for (const name of candidates) {
    const to = newPartName(0);
    const hash = createHash(rec.hash.algorithm);
    const counter = new HashingCounter(hash);
    let verified = false;
    let src: Readable | undefined;
    try {
      src = await s.driver.read(partKey(s, rec.id, name), { start: 0, end: rec.offset - 1 });
      await Promise.all([feed(src, counter), s.driver.append!(partKey(s, rec.id, to), 0, counter)]);
      verified = counter.bytes === rec.offset && hash.exportState() === rec.hash.state;
    } catch (err) {
      src?.destroy(); // feed leaves its source open when the write fails
      // A candidate that vanished or shrank meanwhile is just not the one.
      if (!isNotFound(err) && !(err instanceof RangeNotSatisfiableError)) {
        await counter.settled();
        await s.driver.delete(partKey(s, rec.id, to)).catch(() => false);
        throw err;
      }
    }
    if (verified) return to;
    await counter.settled();
    await s.driver.delete(partKey(s, rec.id, to)).catch(() => false);
  }
  throw new RegistryError('BLOB_UPLOAD_INVALID', "the upload's stored data is incomplete; start the upload again", { uuid: rec.id });
}

/**
 * Give the file back after a failed write: cut it to the recorded size and
 * put it under the recorded name again, so the next request of this upload
 * claims it at once. (When the record has moved on meanwhile, that name is
 * named by nothing and the file is cleaned up with the upload.)
 */
export async function releaseClaim(s: Scope, id: string, claim: Claim): Promise<void> {
  const key = partKey(s, id, claim.to);
  await s.driver.append!(key, claim.size, Readable.from([]));
  await s.driver.move(key, partKey(s, id, claim.from), { durable: false });
}
