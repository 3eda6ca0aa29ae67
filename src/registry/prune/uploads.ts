// Stale uploads: an upload whose record was last written more than
// `upload-age` ago is abandoned; its record and every object in its
// directory go (recorded parts, and leftovers: chunks of requests that lost
// a race or died, a claimed file whose holder died).
//
// Care is needed for uploads that were in fact finished: finishUpload
// concatenates the chunks into the blob, then removes the chunks
// (deleteConcatSources) and the record. A crash in between leaves a stale
// record whose chunks may be the very data of the published blob (Swift: the
// blob's SLO lists the chunks' segments). So the digest is computed from the
// record's saved hash state: when that blob exists the upload was finished and
// only its leftovers go, through deleteConcatSources, which keeps what the
// published object still needs.
//
// An upload directory without a record is not an upload in progress: no
// request commits or publishes once the record it loaded is gone. Its
// objects are removed once all are older than `upload-age` — except on a
// backend that keeps concat sources (Swift), where they may be parts of a
// published blob; there it is left alone (counted).
import { HASH_ALGORITHMS, createHash, restoreHash, type HashAlgorithm } from '../../digest/index.js';
import { layout } from '../layout.js';
import type { Digest } from '../names.js';
import { listAll } from '../scope.js';
import { parseUploadRecord, partStart, type UploadRecord } from '../upload-record.js';
import { errorText, problem, type NsContext } from './context.js';

interface Listed {
  key: string;
  size: number;
  modified?: number;
}

function digestOf(algorithm: HashAlgorithm, hex: string): Digest {
  return { algorithm, hex, text: `${algorithm}:${hex}` };
}

/**
 * The blob this upload's chunks were published as, if it exists. First the
 * digest from the saved hash state. On a backend that keeps concat sources
 * (where a wrong guess would break a published blob) also: the state plus
 * a final chunk (finishUpload stores the last chunk without writing the
 * record: an object starting at the recorded offset that the record does
 * not name), and the other algorithms (a client may finish with another
 * algorithm than the one hashed on the way in) — reading those chunks once.
 */
async function publishedAs(ctx: NsContext, rec: UploadRecord, id: string, present: Set<string>): Promise<Digest | null> {
  const { driver, ns } = ctx;
  const exists = async (d: Digest) => (await driver.stat(layout.blob(ns, d))) !== null;
  const own = digestOf(rec.hash.algorithm, restoreHash(rec.hash.algorithm, rec.hash.state).digestHex());
  if (await exists(own)) return own;
  if (!driver.concatKeepsSources) return null;
  const feed = async (h: ReturnType<typeof createHash>, key: string) => {
    for await (const piece of await driver.read(key)) h.update(piece as Buffer);
  };
  const recorded = rec.parts.map((p) => layout.uploadPart(ns, id, p.name));
  const dir = layout.uploadDir(ns, id);
  const finals = [...present].filter((k) => !recorded.includes(k) && partStart(k.slice(dir.length)) === rec.offset);
  for (const last of finals) {
    const h = restoreHash(rec.hash.algorithm, rec.hash.state);
    await feed(h, last);
    const d = digestOf(rec.hash.algorithm, h.digestHex());
    if (await exists(d)) return d;
  }
  for (const alg of HASH_ALGORITHMS) {
    if (alg === rec.hash.algorithm) continue;
    for (const parts of [recorded, ...finals.map((f) => [...recorded, f])]) {
      if (parts.length === 0) continue;
      const h = createHash(alg);
      for (const k of parts) await feed(h, k);
      const d = digestOf(alg, h.digestHex());
      if (await exists(d)) return d;
    }
  }
  return null;
}

async function pruneUpload(ctx: NsContext, id: string): Promise<void> {
  const { driver, ns, report } = ctx;
  const dir = layout.uploadDir(ns, id);
  const recordKey = layout.uploadRecord(ns, id);
  const objects: Listed[] = [];
  let recordModified: number | undefined;
  for await (const e of listAll(driver, dir, { delimiter: '/' })) {
    if (e.prefix) continue;
    if (e.key === recordKey) recordModified = e.modified?.getTime();
    else objects.push({ key: e.key, size: e.size ?? 0, modified: e.modified?.getTime() });
  }
  const bytes = objects.reduce((n, o) => n + o.size, 0);
  const raw = await driver.get(recordKey);
  if (raw === null) {
    // No record: finished or cancelled meanwhile, or a record-less directory.
    if (recordModified === undefined && objects.length > 0) await pruneRecordless(ctx, id, objects);
    return;
  }
  const rec = parseUploadRecord(raw);
  // The record's own clock (written by the registry at every chunk); the object's time if unreadable.
  const last = rec?.updated ?? recordModified ?? ctx.now();
  const idle = ctx.now() - last;
  if (idle < ctx.settings.uploadAgeMs) {
    report.kept.uploads.objects++;
    report.kept.uploads.bytes += bytes + raw.length;
    return;
  }

  // Every chunk may have been a concat source (the final one is not in the record).
  const chunks = objects.map((o) => o.key);
  const present = new Set(chunks);
  let published: Digest | null = null;
  if (rec) {
    try {
      published = await publishedAs(ctx, rec, id, present);
    } catch (err) {
      problem(ctx, recordKey, `upload state unreadable (${errorText(err)}); treated as corrupt`);
    }
  } else {
    problem(ctx, recordKey, 'upload record is not readable; removed as stale');
  }
  const reason = published ? 'finished' : rec ? 'stale' : 'corrupt-record';
  const item = { namespace: ns, id, idleSeconds: Math.round(idle / 1000), bytes: bytes + raw.length, reason } as const;
  if (ctx.settings.dryRun) {
    report.removed.uploads.objects++;
    report.removed.uploads.bytes += item.bytes;
    report.items.uploads.push(item);
    return;
  }

  // Re-read right before deleting: a chunk or finish since the first read keeps it.
  const again = await driver.get(recordKey);
  if (again === null) return;
  if (!again.equals(raw)) {
    report.changedBeforeDelete++;
    report.kept.uploads.objects++;
    return;
  }
  if (published) {
    // Finished: the blob exists; only the leftovers go, the blob's own parts stay.
    if (chunks.length > 0) await driver.deleteConcatSources(layout.blob(ns, published), chunks);
    await driver.delete(recordKey);
  } else {
    // The record first: a late chunk or finish now gets BLOB_UPLOAD_UNKNOWN.
    await driver.delete(recordKey);
    if (driver.concatKeepsSources) {
      // A finish may have published the chunks in the meantime: look again.
      const now = rec ? await publishedAs(ctx, rec, id, present).catch(() => null) : null;
      if (now) await driver.deleteConcatSources(layout.blob(ns, now), chunks);
      else if (!rec) {
        // Unknown record: its chunks may be parts of a blob; leave them (a record-less directory).
        report.kept.orphanUploadDirs++;
        return;
      } else {
        // Still through deleteConcatSources, naming the blob a finish without a
        // last chunk would publish: such a finish racing with this delete keeps
        // what its blob uses (the driver looks at the blob as it deletes).
        const own = digestOf(rec.hash.algorithm, restoreHash(rec.hash.algorithm, rec.hash.state).digestHex());
        await driver.deleteConcatSources(layout.blob(ns, own), chunks);
      }
    } else {
      for (const k of chunks) await driver.delete(k);
    }
  }
  report.removed.uploads.objects++;
  report.removed.uploads.bytes += item.bytes;
  report.items.uploads.push(item);
}

/** Objects of an upload directory without a record (see the top of this file). */
async function pruneRecordless(ctx: NsContext, id: string, objects: Listed[]): Promise<void> {
  const { driver, report } = ctx;
  // Objects without a time (never on the built-in drivers) count as new.
  const newest = objects.reduce((t, o) => Math.max(t, o.modified ?? ctx.now()), 0);
  if (driver.concatKeepsSources || ctx.now() - newest < ctx.settings.uploadAgeMs) {
    report.kept.orphanUploadDirs++;
    return;
  }
  const bytes = objects.reduce((n, o) => n + o.size, 0);
  const item = { namespace: ctx.ns, id, idleSeconds: Math.round((ctx.now() - newest) / 1000), bytes, reason: 'no-record' } as const;
  if (!ctx.settings.dryRun) for (const o of objects) await driver.delete(o.key);
  report.removed.uploads.objects++;
  report.removed.uploads.bytes += bytes;
  report.items.uploads.push(item);
}

export async function pruneUploads(ctx: NsContext): Promise<void> {
  let scanned = 0;
  for await (const e of listAll(ctx.driver, layout.uploadsRoot(ctx.ns), { delimiter: '/' })) {
    if (!e.prefix) continue;
    const id = e.key.slice(layout.uploadsRoot(ctx.ns).length, -1);
    try {
      await pruneUpload(ctx, id);
    } catch (err) {
      problem(ctx, layout.uploadDir(ctx.ns, id), `upload cleanup failed: ${errorText(err)}`);
    }
    if (++scanned % 100 === 0) ctx.progress('uploads', scanned);
  }
  ctx.progress('uploads', scanned);
}
