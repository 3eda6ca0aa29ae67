// A filesystem that fills up in the middle of a push (issue 10, must-do 5),
// on a small tmpfs the test mounts for `wharf serve`'s data directory:
//   - the client gets 507 with an OCI error body (no stack, Retry-After);
//   - nothing partial is published, and no upload state is left by a failed
//     POST; a chunked upload keeps its last good offset;
//   - pulls keep working while the disk is full; the server never crashes;
//   - once space is freed the upload resumes from its offset and publishes
//     the right blob.
// Needs root (mount -t tmpfs); fails, never skips, without it.
// Not in test:quick: mounts a tmpfs (needs root).
//   npm run build && node --test --test-concurrency=1 dist/test/http/disk-full.test.js
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { digestOf, expectError, OciClient, randomBlob, type Resp } from '../helpers/oci-client.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';

const MiB = 1024 * 1024;
const SIZE_MIB = 24;

/** Free bytes for an unprivileged writer on the filesystem of `dir`. */
function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/** Grow `file` until the filesystem is full; returns its size. */
function fillUp(file: string): number {
  const fd = openSync(file, 'a');
  const buf = Buffer.alloc(64 * 1024, 0x5a);
  let size = 0;
  try {
    for (;;) {
      try {
        size += writeSync(fd, buf);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') return size;
        throw err;
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** Give `bytes` back by cutting the filler. */
function release(file: string, size: number, bytes: number): number {
  const fd = openSync(file, 'r+');
  try {
    ftruncateSync(fd, Math.max(0, size - bytes));
  } finally {
    closeSync(fd);
  }
  return Math.max(0, size - bytes);
}

const OCTETS = { 'Content-Type': 'application/octet-stream' };

/** Requests that may be answered 507 (the client's usual invariants forbid a 5xx). */
function mayFail(c: OciClient) {
  return {
    patch: (location: string, data: Buffer, start: number) =>
      c.request('PATCH', location, {
        headers: { ...OCTETS, 'Content-Range': `${start}-${start + data.length - 1}` },
        body: data,
        allow5xx: true,
      }),
    finish: (location: string, digest: string, data: Buffer) =>
      c.request('PUT', location, { query: { digest }, headers: OCTETS, body: data, allow5xx: true }),
    post: (repo: string, data: Buffer) =>
      c.request('POST', `/v2/${repo}/blobs/uploads/`, { query: { digest: digestOf(data) }, headers: OCTETS, body: data, allow5xx: true }),
    start: (repo: string) => c.request('POST', `/v2/${repo}/blobs/uploads/`, { allow5xx: true }),
  };
}

function expectFull(r: Resp, what: string): void {
  const e = expectError(r, 507, 'UNAVAILABLE', what);
  assert.match(e.message, /storage is full/);
  assert.ok(r.header('retry-after'), `${what}: Retry-After`);
}

describe(`a full disk (tmpfs of ${SIZE_MIB} MiB)`, { timeout: 180_000 }, () => {
  let mnt: string;
  let mounted = false;
  let wharf: WharfProcess;
  let c: OciClient;
  let filler: string;
  let fillerSize = 0;

  before(async () => {
    mnt = mkdtempSync(join(tmpdir(), 'wharf-full-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${SIZE_MIB}m,mode=0755`, 'tmpfs', mnt], { stdio: 'pipe' });
    } catch (err) {
      throw new Error(
        `this test mounts a small tmpfs and needs root (mount -t tmpfs): ${String((err as { stderr?: Buffer }).stderr ?? err)}`,
      );
    }
    mounted = true;
    mkdirSync(join(mnt, 'data'));
    filler = join(mnt, 'filler');
    wharf = await startWharf({ dataDir: join(mnt, 'data') });
    c = new OciClient(wharf.url);
  });

  after(async () => {
    try {
      if (wharf) {
        assert.equal(wharf.child.exitCode, null, `the server is still running:\n${wharf.output()}`);
        assert.doesNotMatch(wharf.output(), /Uncaught|unhandled|on garbage collection|\n\s+at /, wharf.output());
        await wharf.cleanup();
      }
    } finally {
      if (mounted) execFileSync('umount', ['-l', mnt]);
      rmSync(mnt, { recursive: true, force: true });
    }
  });

  it('507 with an OCI body when full; nothing partial published; pulls work; the upload resumes once space is freed', async () => {
    const repo = 'full/app';
    // Content pushed before the disk fills up.
    const early = randomBlob(2 * MiB);
    const earlyDigest = await c.pushBlob(repo, early);
    const blobsBefore = readdirSync(join(mnt, 'data', 'default', 'blobs', 'sha256')).sort();

    const first = randomBlob(MiB);
    const second = randomBlob(4 * MiB);
    const { location } = await c.startUpload(repo);
    assert.equal((await c.patch(location, first, { start: 0 })).status, 202);

    // Leave about 2 MiB: the 4 MiB chunk fails half way.
    fillerSize = fillUp(filler);
    fillerSize = release(filler, fillerSize, 2 * MiB);
    assert.ok(freeBytes(mnt) < 3 * MiB, `free: ${freeBytes(mnt)}`);

    const full = mayFail(c);
    expectFull(await full.patch(location, second, first.length), 'PATCH that does not fit');
    // The upload keeps its last good offset.
    assert.equal((await c.uploadStatus(location)).header('range'), `0-${first.length - 1}`);
    // A last chunk that does not fit: the same.
    expectFull(await full.finish(location, digestOf(Buffer.concat([first, second])), second), 'PUT with a last chunk that does not fit');
    assert.equal((await c.uploadStatus(location)).header('range'), `0-${first.length - 1}`);
    // A monolithic push that does not fit leaves no upload behind.
    const uploadsBefore = readdirSync(join(mnt, 'data', 'default', 'uploads')).sort();
    expectFull(await full.post(repo, second), 'POST ?digest= that does not fit');
    assert.deepEqual(readdirSync(join(mnt, 'data', 'default', 'uploads')).sort(), uploadsBefore);
    // The straight-to-key path (POST ?digest=, a whole-body PUT on an empty upload) leaves no temp file.
    assert.deepEqual(readdirSync(join(mnt, 'data', '_tmp')), [], 'POST ?digest= that does not fit: no temp file left');
    const empty = await c.startUpload(repo);
    expectFull(await full.finish(empty.location, digestOf(second), second), 'whole-body PUT that does not fit');
    assert.deepEqual(readdirSync(join(mnt, 'data', '_tmp')), [], 'whole-body PUT that does not fit: no temp file left');
    assert.equal((await c.uploadStatus(empty.location)).header('range'), '0-0', 'the empty upload is still empty');

    // Completely full: even a new upload's record does not fit; pulls still work.
    fillerSize += fillUp(filler);
    expectFull(await full.start(repo), 'POST when completely full');
    const pulled = await c.getBlob(repo, earlyDigest);
    assert.equal(pulled.status, 200);
    assert.equal(digestOf(pulled.body), earlyDigest);
    assert.equal((await c.request('GET', '/v2/')).status, 200);
    // Nothing partial was published.
    assert.deepEqual(readdirSync(join(mnt, 'data', 'default', 'blobs', 'sha256')).sort(), blobsBefore);
    assert.equal((await c.headBlob(repo, digestOf(second))).status, 404);

    // Space is freed: the client resumes from the offset the upload reports.
    rmSync(filler);
    const st = await c.uploadStatus(location);
    assert.equal(st.header('range'), `0-${first.length - 1}`);
    assert.equal((await c.patch(location, second, { start: first.length })).status, 202);
    const all = Buffer.concat([first, second]);
    const fin = await c.finish(location, digestOf(all));
    assert.equal(fin.status, 201, fin.text);
    const got = await c.getBlob(repo, digestOf(all));
    assert.equal(digestOf(got.body), digestOf(all));
    assert.equal(got.body.length, all.length);
    // And the monolithic push goes through now.
    assert.equal((await c.postMonolithic(repo, second)).status, 201);
  });
});
