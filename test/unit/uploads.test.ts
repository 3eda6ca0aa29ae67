// Upload logic on the real drivers: the appended single-file upload of the
// filesystem driver and the one-object-per-chunk upload of the others must
// publish exactly the recorded bytes.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { layout } from '../../src/registry/layout.js';
import { parseDigest } from '../../src/registry/names.js';
import { appendChunk, finishUpload, startUpload, uploadStatus } from '../../src/registry/uploads.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import { FilesystemDriver } from '../../src/storage/fs.js';
import { MemoryDriver } from '../../src/storage/memory.js';

const digestOf = (text: string) => parseDigest(`sha256:${createHash('sha256').update(text).digest('hex')}`);
const body = (...parts: string[]) => Readable.from(parts.map((p) => Buffer.from(p)));

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

const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function drivers(): Array<[string, () => { driver: StorageDriver; root?: string }]> {
  return [
    [
      'filesystem (append)',
      () => {
        const root = mkdtempSync(join(tmpdir(), 'wharf-uploads-'));
        roots.push(root);
        return { driver: new FilesystemDriver({ root }), root };
      },
    ],
    ['memory (chunk objects)', () => ({ driver: new MemoryDriver() })],
  ];
}

for (const [name, make] of drivers()) {
  describe(`uploads on ${name}`, () => {
    it('publishes exactly the chunks, in order, and removes the upload', async () => {
      const { driver } = make();
      const s = { driver, ns: 'default' };
      const { id } = await startUpload(s, 'r');
      await appendChunk(s, 'r', id, body('hello', ' '), { range: { start: 0, end: 5 }, length: 6 });
      await appendChunk(s, 'r', id, body('wor'), {});
      const info = await finishUpload(s, 'r', id, digestOf('hello world'), body('ld'), {});
      assert.equal(info.size, 11);
      assert.equal((await driver.get(layout.blob('default', digestOf('hello world'))))!.toString(), 'hello world');
      const left = await driver.list({ prefix: layout.uploadDir('default', id) });
      assert.deepEqual(left.entries, [], 'nothing of the upload is left');
    });

    it('a chunk shorter than declared changes nothing, and the upload goes on', async () => {
      const { driver } = make();
      const s = { driver, ns: 'default' };
      const { id } = await startUpload(s, 'r');
      await appendChunk(s, 'r', id, body('abc'), {});
      await assert.rejects(appendChunk(s, 'r', id, body('de'), { length: 5 }), { code: 'SIZE_INVALID' });
      assert.equal((await uploadStatus(s, 'r', id)).offset, 3);
      await appendChunk(s, 'r', id, body('def'), { range: { start: 3, end: 5 } });
      const info = await finishUpload(s, 'r', id, digestOf('abcdef'), null, {});
      assert.equal(info.size, 6);
      assert.equal((await driver.get(layout.blob('default', digestOf('abcdef'))))!.toString(), 'abcdef');
    });

    it('a body already gone when its chunk is stored (the client left meanwhile) fails at once, holds no file, changes nothing', async () => {
      const { driver, root } = make();
      const s = { driver, ns: 'default' };
      const { id } = await startUpload(s, 'r');
      await appendChunk(s, 'r', id, body('abc'), {});
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
      const info = await finishUpload(s, 'r', id, digestOf('abcdef'), null, {});
      assert.equal(info.size, 6);
    });
  });
}

describe('appended uploads (filesystem)', () => {
  it('a stray tail past the recorded offset (a crash mid-chunk) is never published', async () => {
    const { driver, root } = drivers()[0]![1]();
    const s = { driver, ns: 'default' };
    const { id } = await startUpload(s, 'r');
    await appendChunk(s, 'r', id, body('hello '), {});
    await appendChunk(s, 'r', id, body('world'), {});
    const files = readdirSync(join(root!, 'default', 'uploads', id)).filter((f) => f !== 'record');
    assert.deepEqual(files, ['0000000000000000'], 'one growing file');
    appendFileSync(join(root!, 'default', 'uploads', id, files[0]!), 'STRAY TAIL');
    const info = await finishUpload(s, 'r', id, digestOf('hello world'), null, {});
    assert.equal(info.size, 11);
    assert.equal((await driver.get(layout.blob('default', digestOf('hello world'))))!.toString(), 'hello world');
  });
});
