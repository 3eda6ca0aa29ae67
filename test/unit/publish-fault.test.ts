// A publish that fails after it happened. On the filesystem an upload's
// file is published by a hard link (one inode, two names) renamed into
// place; an error after that rename (a directory fsync failing, EMFILE while
// opening the directory) reaches the upload as a failed publish. The
// upload's claimed file then IS the blob's file: giving it back to the
// upload cut to the recorded size (what a failed chunk does) would cut the
// published blob in place, which would then no longer hash to its name.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { appendChunk, finishUpload, startUpload } from '../../src/registry/uploads.js';
import type { ObjectInfo } from '../../src/storage/driver.js';
import { StorageUnavailableError } from '../../src/storage/errors.js';
import { FilesystemDriver } from '../../src/storage/fs.js';
import { blobBytes, body, keys, rejectsWith, sha256 } from './upload-suites.js';

const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/** A filesystem whose concat publishes, then reports a failure (as a failed directory fsync would). */
class FailsAfterPublish extends FilesystemDriver {
  override async concat(to: string, sources: string[]): Promise<ObjectInfo> {
    await super.concat(to, sources);
    throw new StorageUnavailableError('directory fsync failed after the rename (injected)');
  }
}

describe('a publish that fails after the rename (filesystem, hard-linked upload file)', () => {
  it('never cuts the published blob: the upload goes, the blob (if there) hashes to its name', async () => {
    const root = mkdtempSync(join(tmpdir(), 'wharf-publish-fault-'));
    roots.push(root);
    const s = { driver: new FailsAfterPublish({ root }), ns: 'default' };
    const whole = 'hello world, published once';
    const digest = sha256(whole);
    const { id } = await startUpload(s, 'r');
    await appendChunk(s, 'r', id, body('hello '), {});
    await assert.rejects(finishUpload(s, 'r', id, digest, body(whole.slice(6)), {}), StorageUnavailableError);
    const stored = await blobBytes(s.driver, digest);
    if (stored) assert.equal(sha256(stored).text, digest.text, `the blob holds ${stored.length} bytes: "${stored}"`);
    // The upload is gone (its file may be the blob's): a retry learns so at once, and nothing of it is left.
    await rejectsWith(finishUpload(s, 'r', id, digest, null, {}), 'BLOB_UPLOAD_UNKNOWN');
    assert.deepEqual(await keys(s.driver, 'default/uploads/'), []);
  });
});
