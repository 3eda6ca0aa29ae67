// Upload requests that end early, against live `wharf serve` processes:
// every such request releases its file handles at once and leaves no upload
// state it created; an upload it was adding to stays exactly as recorded.
//   - 500 PATCHes with malformed chunked bodies (issue 10, Found 3): the
//     server's open descriptors do not grow, Node never has to close one on
//     garbage collection (DEP0137), the upload is unchanged;
//   - POST ?digest= with a malformed chunked body (Found 4): nothing is left;
//   - PATCH, PUT and POST ?digest= whose client goes away mid-body.
// Run on the filesystem (descriptors counted in /proc/<pid>/fd) by
// upload-hygiene.test.ts, on Swift and S3 by objectstores/upload-hygiene.test.ts.
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { digestOf, type OciClient, randomBlob, rawExchange } from '../helpers/oci-client.js';
import type { StoreInspector } from '../helpers/store-inspector.js';
import { FILESYSTEM, type Running, type UploadBackend } from '../helpers/upload-backends.js';
import type { WharfProcess } from '../helpers/wharf.js';

/** Bodies that break chunked framing, after a good first chunk or at once. */
const MALFORMED: string[] = [
  'zz\r\nab\r\n0\r\n\r\n', // size not hex
  '-5\r\nabcde\r\n0\r\n\r\n', // negative size
  'ffffffffffffffffffffffff\r\nab\r\n', // 24 hex digits
  '2\r\nab0\r\n\r\n', // missing CRLF after the data
  '2\nab\n0\n\n', // bare LF
  '2\r\nabcdefgh\r\n0\r\n\r\n', // more bytes than the size
];

function chunkedHead(method: string, path: string): string {
  return `${method} ${path} HTTP/1.1\r\nHost: wharf\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n`;
}

function statusOf(raw: Buffer): number {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(raw.toString('latin1'));
  return m ? Number(m[1]) : 0;
}

/** Open descriptors of a process: all of them, and those on files under `root`. */
function openFds(pid: number, root: string): { total: number; files: string[] } {
  const files: string[] = [];
  let total = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    total++;
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target.startsWith(root)) files.push(target);
    } catch {
      /* closed meanwhile */
    }
  }
  return { total, files };
}

/** The upload's objects (record and data), as names inside its directory. */
async function uploadObjects(store: StoreInspector, ns: string, location: string): Promise<string[]> {
  const id = /\/blobs\/uploads\/([^/?]+)/.exec(location)![1]!;
  const dir = `${ns}/uploads/${id}/`;
  return (await store.keys(dir)).map((k) => k.slice(dir.length));
}

/**
 * Retry `check` until it passes or `ms` have passed (then its error). The
 * server answers a malformed request at once and cleans up after: a leak
 * never goes away, work in progress does.
 */
async function eventually(check: () => Promise<void> | void, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
}

export function uploadHygieneTests(backend: UploadBackend): void {
  describe(`upload requests that end early on ${backend.name}`, { timeout: 240_000 }, () => {
    let run: Running;
    let wharf: WharfProcess;
    let store: StoreInspector;
    let base: OciClient;
    const onFilesystem = backend.name === FILESYSTEM.name;

    before(async () => {
      run = await backend.start();
      wharf = run.processes[0]!;
      store = run.store!;
      base = run.clients[0]!;
    });

    after(async () => {
      try {
        for (const ns of ['found3', 'found4', 'aborts']) await store.verifyBlobs(ns);
        assert.doesNotMatch(wharf.output(), /on garbage collection|request failed|DEP0137/, wharf.output());
        assert.equal(wharf.child.exitCode, null, 'the server is still running');
      } finally {
        await store.close();
        await run.stop();
      }
    });

    if (onFilesystem) {
      it('500 PATCHes with malformed chunked bodies: 400, no descriptor kept, the upload unchanged (Found 3)', async (t) => {
        const ns = 'found3';
        const c = base.withNs(ns);
        const repo = 'hygiene/patch';
        const first = randomBlob(70_000);
        const { location } = await c.startUpload(repo);
        assert.equal((await c.patch(location, first, { start: 0 })).status, 202);
        const objectsBefore = await uploadObjects(store, ns, location);
        // The PATCH's chunk is written back in the background after its 202 (the
        // filesystem driver's tail writeback), holding its file until that is done.
        let before = openFds(wharf.child.pid!, wharf.dataDir);
        await eventually(() => {
          before = openFds(wharf.child.pid!, wharf.dataDir);
          assert.deepEqual(before.files, [], 'no file of the store is open between requests');
        });
        const target = new URL(c.url(location));
        const path = target.pathname + target.search;
        const good = `4\r\nabcd\r\n`;
        for (let i = 0; i < 500; i++) {
          const bad = MALFORMED[i % MALFORMED.length]!;
          const head = chunkedHead('PATCH', path);
          const shape = i % 4;
          if (shape === 3) {
            // The client goes away right after its bad body: the body is
            // usually gone before the handler gets to it (Node parses ahead).
            await rawExchange(wharf.port, [head + bad], { mode: 'abort', gapMs: 1 });
            continue;
          }
          const raw =
            shape === 2
              ? // A good chunk, a pause, then the bad bytes: the body fails while being written.
                await rawExchange(wharf.port, [head + good, bad], { gapMs: 20 })
              : // All in one packet, with or without a good chunk first.
                await rawExchange(wharf.port, [head + (shape === 0 ? good : '') + bad]);
          assert.equal(statusOf(raw), 400, `request ${i}: ${raw.toString('latin1').slice(0, 200)}`);
        }
        // The 400 goes out as soon as the bad bytes are parsed, before the
        // request's handler has given the upload's file back (it closes the
        // file, reopens it to cut it to the recorded size, then renames it
        // back): both are checked until they settle.
        await eventually(async () => {
          const now = openFds(wharf.child.pid!, wharf.dataDir);
          assert.deepEqual(now.files, [], 'every file the requests opened is closed');
          assert.ok(now.total <= before.total + 5, `open descriptors: ${before.total} before, ${now.total} after 500 bad requests`);
          // Nothing of it reached the upload: its file is back under its recorded name.
          assert.deepEqual(await uploadObjects(store, ns, location), objectsBefore);
          t.diagnostic(`server's open descriptors: ${before.total} before, ${now.total} after 500 malformed PATCHes`);
        });
        // A descriptor Node closed for us on garbage collection was kept by a request that had ended.
        assert.doesNotMatch(wharf.output(), /on garbage collection|DEP0137/);
        const st = await c.uploadStatus(location);
        assert.equal(st.header('range'), `0-${first.length - 1}`);
        const rest = randomBlob(1000);
        const fin = await c.finish(location, digestOf(Buffer.concat([first, rest])), rest);
        assert.equal(fin.status, 201, fin.text);
      });
    }

    it('POST ?digest= with a malformed chunked body: 400 and no upload left behind (Found 4)', async () => {
      const ns = 'found4';
      const digest = digestOf('never stored');
      for (let i = 0; i < backend.rounds * 2; i++) {
        const good = i % 2 === 0 ? `4\r\nabcd\r\n` : '';
        const raw = await rawExchange(wharf.port, [
          chunkedHead('POST', `/v2/hygiene/post/blobs/uploads/?digest=${digest}&ns=${ns}`) + good + MALFORMED[i % MALFORMED.length]!,
        ]);
        assert.equal(statusOf(raw), 400, raw.toString('latin1').slice(0, 200));
      }
      await eventually(async () => {
        assert.deepEqual(await store.keys(`${ns}/uploads/`), [], 'no upload record or data left');
        if (onFilesystem) assert.deepEqual(openFds(wharf.child.pid!, wharf.dataDir).files, []);
      });
      assert.deepEqual(await store.keys(`${ns}/blobs/`), []);
    });

    it('a client that goes away mid-body: PATCH and PUT leave the upload as recorded, POST ?digest= leaves nothing', async () => {
      const ns = 'aborts';
      const c = base.withNs(ns);
      const repo = 'hygiene/abort';
      const first = randomBlob(300_000);
      const { location } = await c.startUpload(repo);
      assert.equal((await c.patch(location, first, { start: 0 })).status, 202);
      const objectsBefore = await uploadObjects(store, ns, location);
      const target = new URL(c.url(location));
      const path = target.pathname + target.search;
      const amp = path.includes('?') ? '&' : '?';
      const half = randomBlob(200_000);
      for (let i = 0; i < backend.rounds; i++) {
        const head = (method: string, target: string, extra = '') =>
          `${method} ${target} HTTP/1.1\r\nHost: wharf\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000\r\n${extra}\r\n`;
        await rawExchange(wharf.port, [head('PATCH', path, `Content-Range: ${first.length}-${first.length + 999_999}\r\n`), half], {
          mode: 'abort',
        });
        await rawExchange(wharf.port, [head('PUT', `${path}${amp}digest=${digestOf('x')}`), half], { mode: 'abort' });
        await rawExchange(wharf.port, [head('POST', `/v2/${repo}/blobs/uploads/?digest=${digestOf('y')}&ns=${ns}`), half], {
          mode: 'abort',
        });
      }
      await eventually(async () => {
        if (onFilesystem) assert.deepEqual(openFds(wharf.child.pid!, wharf.dataDir).files, []);
        // The upload is as it was, and only it remains.
        assert.deepEqual(await uploadObjects(store, ns, location), objectsBefore);
        const ids = new Set((await store.keys(`${ns}/uploads/`)).map((k) => k.split('/')[2]));
        assert.equal(ids.size, 1, `uploads left: ${[...ids].join(', ')}`);
      });
      const st = await c.uploadStatus(location);
      assert.equal(st.header('range'), `0-${first.length - 1}`);
      const fin = await c.finish(location, digestOf(Buffer.concat([first, half])), half);
      assert.equal(fin.status, 201, fin.text);
      assert.deepEqual(await store.keys(`${ns}/uploads/`), []);
    });
  });
}
