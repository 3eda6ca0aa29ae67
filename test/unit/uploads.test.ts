// Upload logic on the local drivers: the suites every driver passes
// (upload-suites.ts) on the filesystem (one file per upload, claimed by
// rename) and memory (one object per chunk); the filesystem's claims and
// recovery; and the one parser of upload records.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, readdirSync, readlinkSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { createHash as createResumable } from '../../src/digest/index.js';
import { layout } from '../../src/registry/layout.js';
import { CLAIM_WAIT_MS } from '../../src/registry/upload-claim.js';
import { newPartName, parseUploadRecord } from '../../src/registry/upload-record.js';
import { appendChunk, finishUpload, startUpload, uploadStatus } from '../../src/registry/uploads.js';
import { FilesystemDriver } from '../../src/storage/fs.js';
import { StorageUnavailableError } from '../../src/storage/errors.js';
import { MemoryDriver } from '../../src/storage/memory.js';
import type { DriverCase } from './prune-fixtures.js';
import { blobBytes, body, keys, rejectsWith, sha256, uploadRaceSuite, uploadSuite } from './upload-suites.js';

const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function fsDriver(): { driver: FilesystemDriver; root: string } {
  const root = mkdtempSync(join(tmpdir(), 'wharf-uploads-'));
  roots.push(root);
  return { driver: new FilesystemDriver({ root }), root };
}

const LOCAL: DriverCase[] = [
  {
    name: 'filesystem (appended, claimed by rename)',
    make: async () => ({ driver: fsDriver().driver, cleanup: async () => undefined }),
  },
  { name: 'memory (chunk objects)', make: async () => ({ driver: new MemoryDriver(), cleanup: async () => undefined }) },
];

for (const dc of LOCAL) uploadSuite(dc);
// The filesystem's writers race through claims (below, and test/http/upload-races.test.ts).
uploadRaceSuite(LOCAL[1]!);

describe('appended uploads (filesystem): claims and recovery', () => {
  const dataFiles = (root: string, id: string) => readdirSync(join(root, 'default', 'uploads', id)).filter((f) => f !== 'record');

  it('one growing file; a failed chunk gives it back under its recorded name', async () => {
    const { driver, root } = fsDriver();
    const s = { driver, ns: 'default' };
    const { id } = await startUpload(s, 'r');
    await appendChunk(s, 'r', id, body('hello '), {});
    await appendChunk(s, 'r', id, body('world'), {});
    const files = dataFiles(root, id);
    assert.equal(files.length, 1, 'one growing file');
    const rec = parseUploadRecord((await driver.get(layout.uploadRecord('default', id)))!)!;
    assert.deepEqual(
      rec.parts.map((p) => p.name),
      files,
    );
    await rejectsWith(appendChunk(s, 'r', id, body('!!'), { length: 5 }), 'SIZE_INVALID');
    assert.deepEqual(dataFiles(root, id), files, 'back under the recorded name, nothing else');
    const info = await finishUpload(s, 'r', id, sha256('hello world'), null, {});
    assert.equal(info.size, 11);
  });

  it('a stray tail past the recorded offset (version 1 uploads) is never published', async () => {
    const { driver, root } = fsDriver();
    const s = { driver, ns: 'default' };
    const { id } = await startUpload(s, 'r');
    await appendChunk(s, 'r', id, body('hello world'), {});
    const [file] = dataFiles(root, id);
    appendFileSync(join(root, 'default', 'uploads', id, file!), 'STRAY TAIL');
    const info = await finishUpload(s, 'r', id, sha256('hello world'), null, {});
    assert.equal(info.size, 11);
    assert.equal((await blobBytes(driver, sha256('hello world')))!.toString(), 'hello world');
  });

  it('a version 1 record (chunk at offset 0, no random part) is read and finished', async () => {
    const { driver } = fsDriver();
    const s = { driver, ns: 'default' };
    const { id } = await startUpload(s, 'r');
    const h = createResumable('sha256');
    h.update(Buffer.from('old upload'));
    const now = Date.now();
    const v1 = {
      v: 1,
      id,
      repo: 'r',
      started: now,
      updated: now,
      offset: 10,
      chunks: [0],
      hash: { algorithm: 'sha256', state: h.exportState() },
    };
    await driver.put(layout.uploadRecord('default', id), Buffer.from(JSON.stringify(v1)));
    await driver.put(layout.uploadPart('default', id, '0000000000000000'), Buffer.from('old upload'));
    await appendChunk(s, 'r', id, body('!'), { range: { start: 10, end: 10 } });
    await finishUpload(s, 'r', id, sha256('old upload!'), null, {});
    assert.equal((await blobBytes(driver, sha256('old upload!')))!.toString(), 'old upload!');
  });

  it(`a file whose holder died mid-chunk: after ${CLAIM_WAIT_MS} ms the next request rebuilds the recorded bytes from it`, async () => {
    const { driver, root } = fsDriver();
    const s = { driver, ns: 'default' };
    const { id } = await startUpload(s, 'r');
    const first = randomBytes(300_000);
    await appendChunk(s, 'r', id, body(first), {});
    const [file] = dataFiles(root, id);
    // What a claimer killed half way through its chunk leaves: the file under its own name, with a partial tail.
    const dir = join(root, 'default', 'uploads', id);
    const held = newPartName(0);
    renameSync(join(dir, file!), join(dir, held));
    appendFileSync(join(dir, held), randomBytes(12345));
    const next = randomBytes(1000);
    const st = await appendChunk(s, 'r', id, body(next), { range: { start: first.length, end: first.length + 999 } });
    assert.equal(st.offset, first.length + 1000);
    const all = Buffer.concat([first, next]);
    await finishUpload(s, 'r', id, sha256(all), null, {});
    assert.ok((await blobBytes(driver, sha256(all)))!.equals(all));
    assert.deepEqual(await keys(driver, layout.uploadDir('default', id)), [], "the dead holder's file went with the upload");
  });

  it('a left file whose bytes do not match the record is never used: BLOB_UPLOAD_INVALID, nothing published', async () => {
    const { driver, root } = fsDriver();
    const s = { driver, ns: 'default' };
    const { id } = await startUpload(s, 'r');
    const first = randomBytes(5000);
    await appendChunk(s, 'r', id, body(first), {});
    const [file] = dataFiles(root, id);
    const dir = join(root, 'default', 'uploads', id);
    rmSync(join(dir, file!));
    // A file of the right size, with other bytes (say, a truncated write that reused blocks).
    await driver.put(layout.uploadPart('default', id, newPartName(0)), randomBytes(5000));
    await rejectsWith(finishUpload(s, 'r', id, sha256(first), null, {}), 'BLOB_UPLOAD_INVALID');
    assert.deepEqual(await keys(driver, 'default/blobs/'), []);
  });

  it('a PATCH that finds the file held waits, and gets 416 with the real offset once the holder commits', async () => {
    const { driver, root } = fsDriver();
    const s = { driver, ns: 'default' };
    const { id } = await startUpload(s, 'r');
    await appendChunk(s, 'r', id, body('abc'), {});
    // The holder: its body arrives only when the test says so.
    const slow = new Readable({ read() {} });
    const holder = appendChunk(s, 'r', id, slow, { range: { start: 3, end: 5 } });
    // Wait until it holds the file (the recorded name is gone).
    const recorded = dataFiles(root, id)[0]!;
    while (dataFiles(root, id).includes(recorded)) await new Promise((r) => setTimeout(r, 5));
    const waiter = appendChunk(s, 'r', id, body('XYZ'), { range: { start: 3, end: 5 } }).then(
      () => 'ok',
      (e: Error & { code?: string; detail?: { offset?: number } }) => `${e.code} ${e.detail?.offset}`,
    );
    await new Promise((r) => setTimeout(r, 200));
    slow.push('def');
    slow.push(null);
    assert.equal((await holder).offset, 6);
    assert.equal(await waiter, 'RANGE_INVALID 6');
    await finishUpload(s, 'r', id, sha256('abcdef'), null, {});
    assert.equal((await blobBytes(driver, sha256('abcdef')))!.toString(), 'abcdef');
    assert.deepEqual(await keys(driver, layout.uploadDir('default', id)), []);
  });
});

/** Files under `root` this process holds open (Linux /proc). */
function filesOpenUnder(root: string): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(`${root}/`)) out.push(target);
    } catch {
      /* closed while listing */
    }
  }
  return out;
}

// From main (the operations work found it through test/http/broken-bodies):
// a body whose 'close' has already passed when its chunk is stored.
describe('a body already gone when its chunk is stored', () => {
  const cases: Array<[string, () => { driver: FilesystemDriver | MemoryDriver; root?: string }]> = [
    ['filesystem', fsDriver],
    ['memory', () => ({ driver: new MemoryDriver() })],
  ];
  for (const [name, make] of cases) {
    it(`${name}: the client left meanwhile — fails at once, holds no file, changes nothing`, async () => {
      const { driver, root } = make();
      const s = { driver, ns: 'default' };
      const { id } = await startUpload(s, 'r');
      await appendChunk(s, 'r', id, body('abc'), {});
      // That chunk's tail writeback (fs.ts) may still hold its file for a moment: not this request's.
      if (driver instanceof FilesystemDriver) await driver.writebacksDone();
      // A request body whose client went away: destroyed before anyone read it, its 'close' already past.
      const gone = new Readable({ read() {} });
      gone.push('xyz');
      gone.destroy();
      await new Promise((r) => gone.once('close', r));
      // Before the fix this never settled (the chunk's file stayed open): a deadline turns a hang into a failure.
      let timer: NodeJS.Timeout | undefined;
      const hung = new Promise((r) => (timer = setTimeout(() => r('still waiting after 10 s'), 10_000)));
      const outcome = await Promise.race([
        appendChunk(s, 'r', id, gone, {}).then(
          () => 'appended',
          (e: NodeJS.ErrnoException) => e.code,
        ),
        hung,
      ]);
      clearTimeout(timer);
      assert.equal(outcome, 'ECONNRESET');
      if (root) assert.deepEqual(filesOpenUnder(root), [], 'no file of the store left open');
      assert.equal((await uploadStatus(s, 'r', id)).offset, 3);
      await appendChunk(s, 'r', id, body('def'), {});
      const info = await finishUpload(s, 'r', id, sha256('abcdef'), null, {});
      assert.equal(info.size, 6);
    });
  }
});

describe('a storage write that gives up', () => {
  it("a driver that stops reading and destroys the body plainly (as Swift's put on an outage) fails the request, no hang", async () => {
    const inner = new MemoryDriver();
    // put reads a little, then gives up like a backend that went away.
    const driver = Object.assign(Object.create(inner) as MemoryDriver, {
      async put(key: string, data: Uint8Array | Readable, options?: { durable?: boolean }) {
        if (data instanceof Uint8Array) return inner.put(key, data, options);
        const it = data[Symbol.asyncIterator]();
        await it.next();
        data.destroy();
        throw new StorageUnavailableError('store went away');
      },
    });
    const s = { driver, ns: 'default' };
    const { id } = await startUpload(s, 'r');
    const big = new Readable({
      read() {
        this.push(randomBytes(64 * 1024));
      },
    });
    await assert.rejects(appendChunk(s, 'r', id, big, {}), (err: Error) => err instanceof StorageUnavailableError);
    big.destroy();
  });
});

describe('upload records: one parser', () => {
  const rec = (over: Record<string, unknown> = {}) => {
    const h = createResumable('sha256');
    h.update(Buffer.from('abcde'));
    return JSON.stringify({
      v: 2,
      id: '00000000-0000-4000-8000-000000000000',
      repo: 'r',
      started: 1,
      updated: 2,
      offset: 5,
      parts: [
        { name: newPartName(0), size: 2 },
        { name: newPartName(2), size: 3 },
      ],
      hash: { algorithm: 'sha256', state: h.exportState() },
      ...over,
    });
  };

  it('reads a self-consistent record', () => {
    const r = parseUploadRecord(rec());
    assert.ok(r);
    assert.equal(r.offset, 5);
    assert.equal(r.parts.length, 2);
  });

  it('refuses records whose parts, offset and hash state disagree, or that name other objects', () => {
    assert.equal(parseUploadRecord(rec({ offset: 6 })), null, 'offset beyond the parts');
    assert.equal(
      parseUploadRecord(
        rec({
          parts: [{ name: newPartName(0), size: 5 }],
          offset: 5,
          hash: { algorithm: 'sha256', state: createResumable('sha256').exportState() },
        }),
      ),
      null,
      'state has hashed 0 bytes',
    );
    assert.equal(parseUploadRecord(rec({ parts: [{ name: '../../blobs/x', size: 5 }] })), null, 'a name outside the upload');
    assert.equal(parseUploadRecord(rec({ parts: [{ name: 'record', size: 5 }] })), null);
    assert.equal(parseUploadRecord(rec({ v: 3 })), null, 'an unknown version');
    assert.equal(parseUploadRecord('{not json'), null);
  });
});
