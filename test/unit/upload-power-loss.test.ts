// An upload's chunks and record are not synced as they come (the blob is
// synced once, when it is published). A power loss can then leave a record
// that survived — with the hash state of the bytes received — over chunk
// bytes that did not: zeros, or old blocks, within the right size. Published
// as they are, the blob would not hash to its name. Only a new boot follows
// a power loss, so the record names the boot its bytes were stored under and
// a finish under another boot reads them back and hashes them first.
// A reboot is stood in for by a second FilesystemDriver on the same root
// with another boot id; the power loss by overwriting a chunk's bytes.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { layout } from '../../src/registry/layout.js';
import { appendChunk, finishUpload, startUpload } from '../../src/registry/uploads.js';
import { MIXED_BOOT, parseUploadRecord } from '../../src/registry/upload-record.js';
import type { ByteRange } from '../../src/storage/driver.js';
import { FilesystemDriver } from '../../src/storage/fs.js';
import { blobBytes, body, keys, rejectsWith, sha256 } from './upload-suites.js';

const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/** A filesystem driver that counts reads of upload parts (a read-back). */
class Counting extends FilesystemDriver {
  partReads = 0;
  override read(key: string, range?: ByteRange): Promise<Readable> {
    if (key.includes('/uploads/')) this.partReads++;
    return super.read(key, range);
  }
}

interface Machine {
  root: string;
  /** The drivers before and after the reboot, and a scope on each. */
  before: Counting;
  afterReboot: Counting;
  a: { driver: Counting; ns: string };
  b: { driver: Counting; ns: string };
}

function setUp(): Machine {
  const root = mkdtempSync(join(tmpdir(), 'wharf-power-loss-'));
  roots.push(root);
  const before = new Counting({ root, bootId: 'boot-a' });
  const afterReboot = new Counting({ root, bootId: 'boot-b' });
  return { root, before, afterReboot, a: { driver: before, ns: 'default' }, b: { driver: afterReboot, ns: 'default' } };
}

/** What a power loss can do to un-synced bytes: the same size, other content. */
function garbleParts(root: string, id: string): void {
  const dir = join(root, 'default', 'uploads', id);
  const parts = readdirSync(dir).filter((n) => /^\d{16}/.test(n));
  assert.ok(parts.length > 0, `no part in ${dir}`);
  for (const p of parts) {
    const file = join(dir, p);
    writeFileSync(file, Buffer.alloc(readFileSync(file).length));
  }
}

function storedRecord(root: string, id: string) {
  const rec = parseUploadRecord(readFileSync(join(root, layout.uploadRecord('default', id))));
  assert.ok(rec, 'the record parses');
  return rec;
}

const whole = 'layer bytes received before the power loss, then the rest';
const digest = sha256(whole);
const first = whole.slice(0, 20);

describe('an upload finished after a reboot (filesystem: chunks are not synced until the publish)', () => {
  it('stored bytes that no longer hash to what was received are never published', async () => {
    const { root, afterReboot, a, b } = setUp();
    const { id } = await startUpload(a, 'r');
    await appendChunk(a, 'r', id, body(whole), {});
    assert.equal(storedRecord(root, id).boot, 'boot-a');
    garbleParts(root, id);
    await rejectsWith(finishUpload(b, 'r', id, digest, null, {}), 'BLOB_UPLOAD_INVALID');
    assert.equal(await blobBytes(afterReboot, digest), null, 'nothing published');
    assert.deepEqual(await keys(afterReboot, 'default/uploads/'), [], 'the damaged upload is gone');
  });

  it('the same with the last chunk in the finishing PUT', async () => {
    const { root, afterReboot, a, b } = setUp();
    const { id } = await startUpload(a, 'r');
    await appendChunk(a, 'r', id, body(first), {});
    garbleParts(root, id);
    await rejectsWith(finishUpload(b, 'r', id, digest, body(whole.slice(first.length)), {}), 'BLOB_UPLOAD_INVALID');
    assert.equal(await blobBytes(afterReboot, digest), null, 'nothing published');
    assert.deepEqual(await keys(afterReboot, 'default/uploads/'), []);
  });

  it('intact bytes stored under another boot are read back once and published', async () => {
    const { root, afterReboot, a, b } = setUp();
    const { id } = await startUpload(a, 'r');
    await appendChunk(a, 'r', id, body(first), {});
    await appendChunk(b, 'r', id, body(whole.slice(first.length)), {});
    assert.equal(storedRecord(root, id).boot, MIXED_BOOT, 'bytes from two boots');
    const done = await finishUpload(b, 'r', id, digest, null, {});
    assert.equal(done.digest.text, digest.text);
    assert.equal((await blobBytes(afterReboot, digest))?.toString(), whole);
    assert.ok(afterReboot.partReads >= 1, 'read back');
  });

  it('under the boot that stored them, nothing is read back', async () => {
    const { before, a } = setUp();
    const { id } = await startUpload(a, 'r');
    await appendChunk(a, 'r', id, body(first), {});
    await appendChunk(a, 'r', id, body(whole.slice(first.length)), {});
    await finishUpload(a, 'r', id, digest, null, {});
    assert.equal((await blobBytes(before, digest))?.toString(), whole);
    assert.equal(before.partReads, 0);
  });

  it('a record that names no boot (written by an older Wharf) is read back', async () => {
    const { root, afterReboot, a, b } = setUp();
    const { id } = await startUpload(a, 'r');
    await appendChunk(a, 'r', id, body(whole), {});
    const file = join(root, layout.uploadRecord('default', id));
    const raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    delete raw.boot;
    writeFileSync(file, JSON.stringify(raw));
    garbleParts(root, id);
    await rejectsWith(finishUpload(b, 'r', id, digest, null, {}), 'BLOB_UPLOAD_INVALID');
    assert.equal(await blobBytes(afterReboot, digest), null);
  });

  it('a client that names the wrong digest still gets DIGEST_INVALID, not a damaged-upload error', async () => {
    const { a, b } = setUp();
    const { id } = await startUpload(a, 'r');
    await appendChunk(a, 'r', id, body(whole), {});
    await rejectsWith(finishUpload(b, 'r', id, sha256('other'), null, {}), 'DIGEST_INVALID');
  });

  it('without fsync nothing is promised across a power loss, and nothing is read back', () => {
    const root = mkdtempSync(join(tmpdir(), 'wharf-power-loss-'));
    roots.push(root);
    assert.equal(new FilesystemDriver({ root, fsync: false }).volatileEpoch, undefined);
    assert.match(new FilesystemDriver({ root }).volatileEpoch ?? '', /\S/);
  });
});
