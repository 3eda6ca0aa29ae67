// Uploads in progress: every upload directory has a readable record (one
// whose hash state restores). An unreadable record is damage — the client's
// next chunk gets an error it cannot recover from — and --repair removes the
// upload (the client starts again). A directory without a record, older than
// the upload age, is an orphan (prune leaves those alone: on a backend that
// keeps concat sources they may hold parts of a published blob).
import { restoreHash } from '../../digest/index.js';
import { layout } from '../layout.js';
import { listAll } from '../scope.js';
import { parseUploadRecord } from '../upload-record.js';
import { found, type NsCheck } from './context.js';

async function checkUpload(ctx: NsCheck, id: string): Promise<void> {
  const { driver, ns } = ctx;
  const dir = layout.uploadDir(ns, id);
  const recordKey = layout.uploadRecord(ns, id);
  const others: string[] = [];
  let bytes = 0;
  let newest = 0;
  let hasRecord = false;
  for await (const e of listAll(driver, dir)) {
    if (e.prefix) continue;
    newest = Math.max(newest, e.modified?.getTime() ?? ctx.now());
    if (e.key === recordKey) hasRecord = true;
    else {
      others.push(e.key);
      bytes += e.size ?? 0;
    }
  }
  ctx.report.scanned.uploads++;
  if (!hasRecord) {
    if (others.length === 0 || ctx.now() - newest < ctx.settings.uploadAgeMs) return;
    found(ctx, {
      finding: {
        kind: 'upload-without-record',
        severity: 'orphan',
        object: dir,
        problem: `${others.length} object(s), ${bytes} bytes, of no upload in progress`,
      },
      confirm: async () => {
        if (await driver.stat(recordKey)) return false;
        ctx.report.counts.orphanBytes += bytes;
        return true;
      },
    });
    return;
  }
  const raw = await driver.get(recordKey);
  if (!raw) return; // finished or cancelled meanwhile
  const rec = parseUploadRecord(raw);
  let readable = rec !== null;
  if (rec) {
    try {
      restoreHash(rec.hash.algorithm, rec.hash.state);
    } catch {
      readable = false;
    }
  }
  if (readable) return;
  found(ctx, {
    finding: {
      kind: 'upload-record-unreadable',
      severity: 'damage',
      object: recordKey,
      problem: `the record of upload ${id} is not readable: the upload can neither go on nor finish`,
    },
    confirm: async () => (await driver.get(recordKey))?.equals(raw) ?? false,
    fix: async () => {
      await driver.delete(recordKey);
      if (driver.concatKeepsSources) {
        // Its parts may be segments of a published blob: only `wharf prune` (which can tell) removes them.
        return 'record removed (the client starts the upload again); its parts are left to wharf prune';
      }
      for (const k of others) await driver.delete(k);
      return `upload removed (the client starts it again; ${others.length} part(s), ${bytes} bytes)`;
    },
  });
}

export async function checkUploads(ctx: NsCheck): Promise<void> {
  const root = layout.uploadsRoot(ctx.ns);
  for await (const e of listAll(ctx.driver, root, { delimiter: '/' })) {
    if (!e.prefix) continue;
    await checkUpload(ctx, e.key.slice(root.length, -1));
    if (ctx.report.scanned.uploads % 100 === 0) ctx.progress('uploads', ctx.report.scanned.uploads);
  }
}
