// THE shared storage-driver test suite. Every driver (memory, filesystem,
// Swift, S3) must pass it. Modelled on CNCF Distribution's
// registry/storage/driver/testsuites.
//
//   runDriverSuite('swift', async () => ({ driver, cleanup: async () => {} }));
//
// Every test works under its own key prefix `wharf-suite-<run>/<test>/` and
// deletes what it wrote, so the suite can run against a shared real backend.
// Drivers with a network backend also get the backend-fault tests (retries
// after 5xx, a closed port, a hung backend, a slow reader, a stalled or cut
// body): their `faults` hooks put a fault proxy between a twin driver and
// the backend.
// Runtime is kept to seconds on the filesystem driver (the largest object is
// 64 MiB by default; see DriverSuiteOptions).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it, type TestContext } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { ListEntry, ListOptions, StorageDriver } from '../../src/storage/driver.js';
import { copyObject } from '../../src/storage/copy.js';
import { InvalidKeyError, NotFoundError, RangeNotSatisfiableError, StorageUnavailableError } from '../../src/storage/errors.js';
import { retryPolicy, worstCaseMs, type RetryOptions } from '../../src/storage/retry.js';
import { blackhole, closedPort, faultProxy, timed } from '../helpers/faults.js';
import { readAll } from '../helpers/bytes.js';

export interface DriverSuiteOptions {
  /** Size of the large streamed object in MiB (default 64; env WHARF_SUITE_LARGE_MIB overrides). */
  largeObjectMiB?: number;
  /**
   * Check that put and read of the large object stream it instead of holding
   * it in memory (default true; the memory driver must turn it off). The check
   * asserts that at most `maxBufferedMiB` stay allocated while streaming, so
   * it only runs when the large object is bigger than that.
   */
  checkMemory?: boolean;
  /** Bytes a driver may hold while streaming one object, in MiB (default 32). */
  maxBufferedMiB?: number;
  /**
   * Run the listing test with more than 1000 objects (default limit, the
   * 1000 cap, paging past it). It writes and deletes ~1000 objects, which
   * takes tens of seconds on a real object store. Default true; false (or
   * env WHARF_SUITE_QUICK=1) skips it.
   */
  largeListing?: boolean;
  /** Per-test timeout in ms (default 120 s). */
  timeoutMs?: number;
  /** For a driver with a network backend: runs the backend-fault tests. */
  faults?: FaultHooks;
}

/** What the backend-fault tests need of a driver with a network backend. */
export interface FaultHooks {
  /** The backend's origin (http://host:port): where the fault proxy forwards to. */
  backend(): Promise<string>;
  /**
   * A driver on the same store as `of` (the suite's driver: same container or
   * bucket, same credentials) whose backend requests go to `origin` instead,
   * with `retry` as its retry settings. The test closes it.
   */
  twin(of: StorageDriver, origin: string, retry: RetryOptions): Promise<StorageDriver>;
}

export interface DriverUnderTest {
  driver: StorageDriver;
  cleanup(): Promise<void>;
}

const MiB = 1 << 20;

// ---------------------------------------------------------------- helpers

function streamOf(chunks: Uint8Array[]): Readable {
  return Readable.from(chunks, { objectMode: false });
}

/** A stream of `data` in `chunkSize` pieces, yielding to the event loop between them. */
function slowStream(data: Buffer, chunkSize: number, pause = 0): Readable {
  return Readable.from(
    (async function* () {
      for (let off = 0; off < data.length; off += chunkSize) {
        if (pause > 0) await sleep(pause);
        else await tick();
        yield data.subarray(off, off + chunkSize);
      }
    })(),
    { objectMode: false },
  );
}

/** A stream that sends `chunks` and then fails (with `err`) or is destroyed without an error. */
function failingStream(chunks: Buffer[], err: Error | null): Readable {
  let i = 0;
  return new Readable({
    read() {
      if (i < chunks.length) {
        this.push(chunks[i++]);
        return;
      }
      setTimeout(() => (err ? this.destroy(err) : this.destroy()), 5);
    },
  });
}

/** Deterministic bytes: a quick way to make distinct, checkable contents. */
function pattern(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

function utf8Compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** The reference answer for a listing of `keys` (an independent, naive implementation). */
function expectedListing(keys: string[], opts: ListOptions): string[] {
  const out = new Set<string>();
  for (const k of keys) {
    if (!k.startsWith(opts.prefix)) continue;
    let entry = k;
    if (opts.delimiter) {
      const j = k.indexOf(opts.delimiter, opts.prefix.length);
      if (j >= 0) entry = k.slice(0, j + opts.delimiter.length);
    }
    if (opts.startAfter !== undefined && utf8Compare(entry, opts.startAfter) <= 0) continue;
    out.add(entry);
  }
  return [...out].sort(utf8Compare);
}

/** Walk every page with `limit`, checking page invariants; returns all entries in order. */
async function listAll(driver: StorageDriver, opts: ListOptions): Promise<ListEntry[]> {
  const all: ListEntry[] = [];
  let startAfter = opts.startAfter;
  for (let pages = 0; ; pages++) {
    assert.ok(pages < 10_000, 'listing does not terminate');
    const page = await driver.list({ ...opts, startAfter });
    if (opts.limit !== undefined) assert.ok(page.entries.length <= opts.limit, `page of ${page.entries.length} > limit ${opts.limit}`);
    for (let i = 1; i < page.entries.length; i++) {
      assert.ok(utf8Compare(page.entries[i - 1]!.key, page.entries[i]!.key) < 0, 'page not sorted / has duplicates');
    }
    if (all.length > 0 && page.entries.length > 0) {
      assert.ok(utf8Compare(all[all.length - 1]!.key, page.entries[0]!.key) < 0, 'pages overlap or go backwards');
    }
    all.push(...page.entries);
    if (page.next === undefined) break;
    // A non-empty page may end exactly at the end with `next` set; then the next page must be empty.
    assert.ok(page.entries.length > 0, '`next` set on an empty page');
    startAfter = page.next;
  }
  return all;
}

function keysOf(entries: ListEntry[]): string[] {
  return entries.map((e) => e.key);
}

async function rejectsWith(p: Promise<unknown>, cls: new (...args: never[]) => Error, what: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof cls, `${what}: expected ${cls.name}, got ${String(err)}`);
    return true;
  });
}

/** Wait-free gc() for memory checks (`--expose-gc` set at runtime). */
function getGc(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

function isSorted(keys: string[]): boolean {
  return keys.every((k, i) => i === 0 || utf8Compare(keys[i - 1]!, k) < 0);
}

// ---------------------------------------------------------------- the suite

export function runDriverSuite(name: string, makeDriver: () => Promise<DriverUnderTest>, options: DriverSuiteOptions = {}): void {
  const quick = process.env.WHARF_SUITE_QUICK === '1';
  const largeMiB = Number(process.env.WHARF_SUITE_LARGE_MIB) || options.largeObjectMiB || (quick ? 16 : 64);
  const maxBufferedMiB = options.maxBufferedMiB ?? 32;
  const checkMemory = (options.checkMemory ?? true) && largeMiB > maxBufferedMiB;
  const largeListing = (options.largeListing ?? true) && !quick;
  const timeout = options.timeoutMs ?? 120_000;
  const run = `wharf-suite-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;

  describe(`storage driver suite: ${name}`, { concurrency: false }, () => {
    let d: StorageDriver;
    let cleanup: (() => Promise<void>) | undefined;
    let seq = 0;

    before(async () => {
      const made = await makeDriver();
      d = made.driver;
      cleanup = made.cleanup;
    });

    after(async () => {
      // Anything left under the run prefix is a failed test's debris.
      if (d) await purge(`${run}/`).catch(() => {});
      await d?.close?.();
      await cleanup?.();
    });

    async function purge(prefix: string): Promise<void> {
      for (let round = 0; round < 5; round++) {
        const page = await d.list({ prefix, limit: 1000 });
        if (page.entries.length === 0) return;
        await Promise.all(page.entries.filter((e) => !e.prefix).map((e) => d.delete(e.key)));
      }
    }

    /** A test with a fresh key prefix "<run>/<n>-<slug>/" that is emptied afterwards. */
    function test(title: string, fn: (p: string, t: TestContext) => Promise<void>): void {
      const slug = `${++seq}-${title.replace(/[^a-z0-9]+/gi, '-').slice(0, 40)}`;
      it(title, { timeout }, async (t) => {
        const p = `${run}/${slug}/`;
        try {
          await fn(p, t);
        } catch (err) {
          await purge(p).catch(() => {}); // report the test's failure, not the cleanup's
          throw err;
        }
        await purge(p);
      });
    }

    // ---------------------------------------------------------- put / get

    describe('put and get', () => {
      test('bytes: empty, small, binary, Uint8Array view', async (p) => {
        const empty = await d.put(p + 'empty', new Uint8Array(0));
        assert.equal(empty.size, 0);
        assert.equal(empty.key, p + 'empty');
        const got = await d.get(p + 'empty');
        assert.ok(got !== null, 'an empty object is not a missing one');
        assert.equal(got.length, 0);

        const small = Buffer.from('hello, wharf\n');
        assert.equal((await d.put(p + 'small', small)).size, small.length);
        assert.deepEqual(await d.get(p + 'small'), small);

        const bin = randomBytes(4099);
        await d.put(p + 'bin', bin);
        assert.deepEqual(await d.get(p + 'bin'), bin);

        // A view into a larger buffer: exactly the view is stored.
        const backing = new Uint8Array(100).map((_, i) => i);
        const view = new Uint8Array(backing.buffer, 10, 7);
        assert.equal((await d.put(p + 'view', view)).size, 7);
        assert.deepEqual(await d.get(p + 'view'), Buffer.from([10, 11, 12, 13, 14, 15, 16]));
      });

      test('put copies the bytes (caller may reuse its buffer)', async (p) => {
        const buf = Buffer.from('original');
        await d.put(p + 'k', buf);
        buf.fill(0x21);
        assert.equal((await d.get(p + 'k'))!.toString(), 'original');
      });

      test('streams: empty, one chunk, odd-sized chunks, multi-MiB', async (p) => {
        assert.equal((await d.put(p + 'empty', streamOf([]))).size, 0);
        assert.equal((await d.get(p + 'empty'))!.length, 0);

        const one = randomBytes(1000);
        assert.equal((await d.put(p + 'one', streamOf([one]))).size, 1000);
        assert.deepEqual(await d.get(p + 'one'), one);

        // 5 MiB + 3 in odd chunk sizes, including empty chunks and Uint8Array chunks.
        const big = pattern(5 * MiB + 3, 1);
        const chunks: Uint8Array[] = [];
        let off = 0;
        for (let i = 0; off < big.length; i++) {
          const n = Math.min([65537, 1, 0, 999_983, 4096, 1_048_577][i % 6]!, big.length - off);
          const piece = big.subarray(off, off + n);
          chunks.push(i % 2 ? new Uint8Array(piece) : piece);
          off += n;
        }
        const info = await d.put(p + 'big', streamOf(chunks));
        assert.equal(info.size, big.length);
        const back = await readAll(await d.read(p + 'big'));
        assert.equal(back.length, big.length);
        assert.ok(back.equals(big), 'streamed object reads back different');
      });

      test('overwrite replaces content and size', async (p) => {
        await d.put(p + 'k', Buffer.from('first version, longer'));
        await d.put(p + 'k', Buffer.from('second'));
        assert.equal((await d.get(p + 'k'))!.toString(), 'second');
        assert.equal((await d.stat(p + 'k'))!.size, 6);
        await d.put(p + 'k', streamOf([Buffer.from('third via '), Buffer.from('stream')]));
        assert.equal((await d.get(p + 'k'))!.toString(), 'third via stream');
        const page = await d.list({ prefix: p, delimiter: '/' });
        assert.deepEqual(keysOf(page.entries), [p + 'k']);
      });

      test('durable:false puts are atomic and read back the same', async (p) => {
        const data = pattern(MiB + 3, 11);
        assert.equal((await d.put(p + 'bytes', data, { durable: false })).size, data.length);
        assert.ok((await d.get(p + 'bytes'))!.equals(data));
        assert.equal((await d.put(p + 'stream', slowStream(data, 65536), { durable: false })).size, data.length);
        assert.ok((await readAll(await d.read(p + 'stream'))).equals(data));
        await rejectsWith(d.put(p + 'stream', failingStream([data], new Error('gone')), { durable: false }), Error, 'failed put');
        assert.ok((await d.get(p + 'stream'))!.equals(data), 'a failed non-durable put damaged the old object');
        assert.equal((await d.stat(p + 'stream'))!.size, data.length);
      });

      test('get of a missing key is null', async (p) => {
        assert.equal(await d.get(p + 'missing'), null);
        assert.equal(await d.get(p + 'missing/deeper'), null);
      });

      test('concurrent puts to different keys', async (p) => {
        const datas = Array.from({ length: 24 }, (_, i) => randomBytes(1000 + i * 997));
        const infos = await Promise.all(
          datas.map((data, i) => (i % 2 ? d.put(`${p}c/${i}`, data) : d.put(`${p}c/${i}`, slowStream(data, 4096)))),
        );
        for (const [i, info] of infos.entries()) assert.equal(info.size, datas[i]!.length);
        const back = await Promise.all(datas.map((_, i) => d.get(`${p}c/${i}`)));
        for (const [i, b] of back.entries()) assert.ok(b?.equals(datas[i]!), `key ${i} differs`);
        const listed = await listAll(d, { prefix: `${p}c/`, limit: 1000 });
        assert.equal(listed.length, datas.length);
      });

      test('concurrent puts to the same key leave one whole version', async (p) => {
        const versions = Array.from({ length: 6 }, (_, i) => Buffer.alloc(256 * 1024 + i, 0x41 + i));
        await Promise.all(versions.map((v) => d.put(p + 'k', slowStream(v, 32 * 1024))));
        const got = (await d.get(p + 'k'))!;
        assert.ok(
          versions.some((v) => v.equals(got)),
          'the object is not exactly one of the versions written',
        );
      });
    });

    // ---------------------------------------------------------- stat

    describe('stat', () => {
      test('size and modified; null when missing', async (p) => {
        const before = Date.now();
        const info = await d.put(p + 'k', randomBytes(1234));
        const st = await d.stat(p + 'k');
        assert.ok(st);
        assert.equal(st.key, p + 'k');
        assert.equal(st.size, 1234);
        assert.ok(st.modified instanceof Date && !Number.isNaN(st.modified.getTime()));
        // Generous bounds: a remote backend's clock may be a little off.
        assert.ok(Math.abs(st.modified.getTime() - before) < 10 * 60_000, `modified ${st.modified.toISOString()} is not about now`);
        assert.ok(info.modified instanceof Date);
        assert.equal(await d.stat(p + 'empty'), null);
        await d.put(p + 'empty', new Uint8Array(0));
        assert.equal((await d.stat(p + 'empty'))!.size, 0);
        assert.equal(await d.stat(p + 'missing'), null);
      });

      test('a key that is only a prefix of other keys is not an object', async (p) => {
        await d.put(p + 'dir/obj', Buffer.from('x'));
        assert.equal(await d.stat(p + 'dir'), null);
        assert.equal(await d.get(p + 'dir'), null);
        await rejectsWith(d.read(p + 'dir'), NotFoundError, 'read of a prefix');
        assert.equal(await d.delete(p + 'dir'), false);
        assert.equal((await d.get(p + 'dir/obj'))!.toString(), 'x');
      });
    });

    // ---------------------------------------------------------- read

    describe('read', () => {
      test('whole object and byte ranges', async (p) => {
        const data = pattern(10_000, 7);
        await d.put(p + 'k', data);
        const r = async (range?: { start: number; end?: number }) => readAll(await d.read(p + 'k', range));
        assert.ok((await r()).equals(data));
        assert.ok((await r({ start: 0 })).equals(data), 'start 0');
        assert.ok((await r({ start: 1234 })).equals(data.subarray(1234)), 'start only');
        assert.ok((await r({ start: 10, end: 19 })).equals(data.subarray(10, 20)), 'start+end');
        assert.ok((await r({ start: 0, end: 0 })).equals(data.subarray(0, 1)), 'first byte');
        assert.ok((await r({ start: 9999 })).equals(data.subarray(9999)), 'last byte (start only)');
        assert.ok((await r({ start: 9999, end: 9999 })).equals(data.subarray(9999)), 'last byte');
        assert.ok((await r({ start: 0, end: 9999 })).equals(data), 'exact whole range');
        // An end past the object is clamped (HTTP semantics).
        assert.ok((await r({ start: 9990, end: 20_000 })).equals(data.subarray(9990)), 'end past the end is clamped');
      });

      test('ranges of a multi-MiB object', async (p) => {
        const data = pattern(3 * MiB + 5, 8);
        await d.put(p + 'k', streamOf([data]));
        const r = async (start: number, end?: number) => readAll(await d.read(p + 'k', { start, end }));
        assert.ok((await r(MiB - 1, 2 * MiB + 1)).equals(data.subarray(MiB - 1, 2 * MiB + 2)));
        assert.ok((await r(3 * MiB)).equals(data.subarray(3 * MiB)));
      });

      test('range past the end is not satisfiable', async (p) => {
        await d.put(p + 'k', Buffer.from('0123456789'));
        await rejectsWith(d.read(p + 'k', { start: 10 }), RangeNotSatisfiableError, 'start = size');
        await rejectsWith(d.read(p + 'k', { start: 11, end: 20 }), RangeNotSatisfiableError, 'start > size');
        await d.put(p + 'empty', new Uint8Array(0));
        assert.equal((await readAll(await d.read(p + 'empty'))).length, 0, 'an empty object reads empty');
        await rejectsWith(d.read(p + 'empty', { start: 0 }), RangeNotSatisfiableError, 'any range of an empty object');
      });

      test('a range that ends before it starts is not satisfiable', async (p) => {
        await d.put(p + 'k', Buffer.from('0123456789'));
        await rejectsWith(d.read(p + 'k', { start: 5, end: 2 }), RangeNotSatisfiableError, 'end < start');
        await rejectsWith(d.read(p + 'k', { start: 0, end: -1 }), RangeNotSatisfiableError, 'end -1');
        await rejectsWith(d.read(p + 'missing', { start: 5, end: 2 }), NotFoundError, 'of a missing object');
      });

      test('missing object is NotFoundError', async (p) => {
        await rejectsWith(d.read(p + 'missing'), NotFoundError, 'read');
        await rejectsWith(d.read(p + 'missing', { start: 0, end: 1 }), NotFoundError, 'ranged read');
      });
    });

    // ---------------------------------------------------------- delete / move

    describe('delete and move', () => {
      test('delete returns true, then false', async (p) => {
        await d.put(p + 'a/b', Buffer.from('x'));
        assert.equal(await d.delete(p + 'a/b'), true);
        assert.equal(await d.stat(p + 'a/b'), null);
        assert.equal(await d.get(p + 'a/b'), null);
        assert.equal(await d.delete(p + 'a/b'), false);
        assert.equal(await d.delete(p + 'never'), false);
      });

      test('a common prefix disappears with its last object', async (p) => {
        await d.put(p + 'q/r/s', Buffer.from('1'));
        await d.put(p + 'q/r/t', Buffer.from('2'));
        await d.put(p + 'keep', Buffer.from('3'));
        assert.deepEqual(keysOf((await d.list({ prefix: p, delimiter: '/' })).entries), [p + 'keep', p + 'q/']);
        await d.delete(p + 'q/r/s');
        assert.deepEqual(keysOf((await d.list({ prefix: p + 'q/', delimiter: '/' })).entries), [p + 'q/r/']);
        await d.delete(p + 'q/r/t');
        assert.deepEqual(keysOf((await d.list({ prefix: p, delimiter: '/' })).entries), [p + 'keep']);
        assert.deepEqual((await d.list({ prefix: p + 'q/', delimiter: '/' })).entries, []);
        // And the key space is reusable at once.
        await d.put(p + 'q/r/s', Buffer.from('again'));
        assert.equal((await d.get(p + 'q/r/s'))!.toString(), 'again');
      });

      test('move renames, replaces the target, and creates new prefixes', async (p) => {
        await d.put(p + 'from', Buffer.from('payload'));
        await d.move(p + 'from', p + 'deep/new/to');
        assert.equal(await d.stat(p + 'from'), null);
        assert.equal((await d.get(p + 'deep/new/to'))!.toString(), 'payload');

        await d.put(p + 'src', Buffer.from('new'));
        await d.put(p + 'dst', Buffer.from('old, longer content'));
        await d.move(p + 'src', p + 'dst');
        assert.equal((await d.get(p + 'dst'))!.toString(), 'new');
        assert.equal((await d.stat(p + 'dst'))!.size, 3);
        assert.equal(await d.stat(p + 'src'), null);

        // The source's prefix goes away with it.
        await d.put(p + 'm/x/only', Buffer.from('1'));
        await d.move(p + 'm/x/only', p + 'm/y');
        assert.deepEqual(keysOf((await d.list({ prefix: p + 'm/', delimiter: '/' })).entries), [p + 'm/y']);
      });

      test('move of a missing source is NotFoundError and leaves the target', async (p) => {
        await d.put(p + 'dst', Buffer.from('keep'));
        await rejectsWith(d.move(p + 'missing', p + 'dst'), NotFoundError, 'move');
        assert.equal((await d.get(p + 'dst'))!.toString(), 'keep');
        await rejectsWith(d.move(p + 'missing', p + 'nothing'), NotFoundError, 'move');
        assert.equal(await d.stat(p + 'nothing'), null);
      });
    });

    // ---------------------------------------------------------- concat

    describe('concat', () => {
      test('several parts: empty, odd sizes, one over 5 MiB', async (p) => {
        const sizes = [0, 1, 5 * MiB + 3, 0, 777, MiB + 1, 4099, 0];
        const parts = sizes.map((n, i) => pattern(n, 100 + i));
        const sources = parts.map((_, i) => `${p}up/${i}`);
        // Upload chunks are put non-durably; concat must still publish them whole.
        await Promise.all(parts.map((b, i) => d.put(sources[i]!, i % 2 ? b : streamOf([b]), { durable: false })));
        const whole = Buffer.concat(parts);

        const info = await d.concat(p + 'blob', sources);
        assert.equal(info.size, whole.length);
        assert.equal(info.key, p + 'blob');
        assert.equal((await d.stat(p + 'blob'))!.size, whole.length);
        assert.ok((await readAll(await d.read(p + 'blob'))).equals(whole), 'concat result differs');
        const at = 5 * MiB - 10;
        assert.ok((await readAll(await d.read(p + 'blob', { start: at, end: at + 100 }))).equals(whole.subarray(at, at + 101)));
        // Sources stay in place until deleteConcatSources.
        for (let i = 0; i < sources.length; i++) {
          assert.equal((await d.stat(sources[i]!))!.size, sizes[i], `source ${i} changed`);
        }

        await d.deleteConcatSources(p + 'blob', sources);
        assert.equal((await d.stat(p + 'blob'))!.size, whole.length);
        assert.ok((await readAll(await d.read(p + 'blob'))).equals(whole), 'concat result changed after deleting sources');
        assert.ok((await readAll(await d.read(p + 'blob', { start: whole.length - 4099 }))).equals(parts[6]!));
      });

      test('a single part (the monolithic upload case)', async (p) => {
        const data = pattern(2 * MiB + 17, 3);
        await d.put(p + 'up/0', data, { durable: false });
        const info = await d.concat(p + 'blob', [p + 'up/0']);
        assert.equal(info.size, data.length);
        await d.deleteConcatSources(p + 'blob', [p + 'up/0']);
        assert.ok((await readAll(await d.read(p + 'blob'))).equals(data));
        // Writing the source key again does not touch the published object.
        await d.put(p + 'up/0', Buffer.from('reused'));
        assert.ok((await readAll(await d.read(p + 'blob'))).equals(data));
      });

      test('small parts and a single empty part', async (p) => {
        const parts = ['a', 'bc', '', 'def'].map((s) => Buffer.from(s));
        await Promise.all(parts.map((b, i) => d.put(`${p}s/${i}`, b)));
        await d.concat(
          p + 'small',
          parts.map((_, i) => `${p}s/${i}`),
        );
        assert.equal((await d.get(p + 'small'))!.toString(), 'abcdef');
        await d.deleteConcatSources(
          p + 'small',
          parts.map((_, i) => `${p}s/${i}`),
        );
        assert.equal((await d.get(p + 'small'))!.toString(), 'abcdef');

        await d.put(p + 'e/0', new Uint8Array(0));
        assert.equal((await d.concat(p + 'empty', [p + 'e/0'])).size, 0);
        assert.equal((await d.get(p + 'empty'))!.length, 0);
        await d.deleteConcatSources(p + 'empty', [p + 'e/0']);
        assert.equal((await d.get(p + 'empty'))!.length, 0);
      });

      test('concat replaces an existing target', async (p) => {
        await d.put(p + 'blob', Buffer.from('old object that is longer'));
        await d.put(p + 'up/0', Buffer.from('new '));
        await d.put(p + 'up/1', Buffer.from('object'));
        await d.concat(p + 'blob', [p + 'up/0', p + 'up/1']);
        assert.equal((await d.get(p + 'blob'))!.toString(), 'new object');
        await d.deleteConcatSources(p + 'blob', [p + 'up/0', p + 'up/1']);
        assert.equal((await d.get(p + 'blob'))!.toString(), 'new object');
      });

      test('a missing source is NotFoundError and publishes nothing', async (p) => {
        await d.put(p + 'up/0', pattern(MiB, 1));
        await d.put(p + 'up/2', pattern(1000, 2));
        await rejectsWith(d.concat(p + 'blob', [p + 'up/0', p + 'up/1', p + 'up/2']), NotFoundError, 'middle missing');
        assert.equal(await d.stat(p + 'blob'), null);
        await rejectsWith(d.concat(p + 'blob', [p + 'up/missing']), NotFoundError, 'only part missing');
        assert.equal(await d.stat(p + 'blob'), null);
        await rejectsWith(d.concat(p + 'blob', [p + 'up/0', p + 'up/2', p + 'up/9']), NotFoundError, 'last missing');
        assert.equal(await d.stat(p + 'blob'), null);
        // The existing parts are untouched.
        assert.ok((await d.get(p + 'up/0'))!.equals(pattern(MiB, 1)));
        assert.ok((await d.get(p + 'up/2'))!.equals(pattern(1000, 2)));
        // Nothing else appeared under the prefix.
        assert.deepEqual(keysOf(await listAll(d, { prefix: p })), [p + 'up/0', p + 'up/2']);
      });
    });

    // ---------------------------------------------------------- copy

    describe('copy', () => {
      // copyObject: the driver's copy, or the read + put fallback for drivers without one.
      const sizes = [0, 5, 2 * MiB + 17, 5 * MiB + 3];

      test('copies content and size; the source stays; either can go without the other', async (p) => {
        for (const [i, n] of sizes.entries()) {
          const data = pattern(n, 40 + i);
          // Streamed puts make segmented objects (Swift SLO, S3 multipart) of the larger ones.
          await d.put(`${p}src/${i}`, i % 2 ? data : streamOf([data.subarray(0, n >> 1), data.subarray(n >> 1)]));
          const info = await copyObject(d, `${p}src/${i}`, `${p}other/ns/${i}`);
          assert.equal(info.key, `${p}other/ns/${i}`);
          assert.equal(info.size, n, `size ${n}: reported`);
          assert.equal((await d.stat(`${p}other/ns/${i}`))!.size, n, `size ${n}: stored`);
          assert.ok((await readAll(await d.read(`${p}other/ns/${i}`))).equals(data), `size ${n}: copy differs`);
          assert.ok((await readAll(await d.read(`${p}src/${i}`))).equals(data), `size ${n}: source changed`);
        }
        // Deleting the source (prune of an ended namespace) leaves the copy whole, and the other way round.
        for (const [i, n] of sizes.entries()) {
          const data = pattern(n, 40 + i);
          if (i % 2) {
            assert.equal(await d.delete(`${p}src/${i}`), true);
            assert.ok((await readAll(await d.read(`${p}other/ns/${i}`))).equals(data), `size ${n}: copy broken by deleting the source`);
          } else {
            assert.equal(await d.delete(`${p}other/ns/${i}`), true);
            assert.ok((await readAll(await d.read(`${p}src/${i}`))).equals(data), `size ${n}: source broken by deleting the copy`);
            if (n > 0) {
              const at = n - 10;
              assert.ok((await readAll(await d.read(`${p}src/${i}`, { start: at }))).equals(data.subarray(at)));
            }
          }
        }
      });

      test('copy of a concat result (a published blob)', async (p) => {
        const parts = [pattern(MiB + 5, 51), pattern(777, 52), pattern(2 * MiB, 53)];
        await Promise.all(parts.map((b, i) => d.put(`${p}up/${i}`, streamOf([b]), { durable: false })));
        const sources = parts.map((_, i) => `${p}up/${i}`);
        await d.concat(p + 'blob', sources);
        await d.deleteConcatSources(p + 'blob', sources);
        const whole = Buffer.concat(parts);
        assert.equal((await copyObject(d, p + 'blob', p + 'copy')).size, whole.length);
        assert.equal(await d.delete(p + 'blob'), true);
        assert.equal((await d.stat(p + 'copy'))!.size, whole.length);
        assert.ok((await readAll(await d.read(p + 'copy'))).equals(whole), 'copy of a concat result differs');
      });

      test('copy replaces an existing target', async (p) => {
        await d.put(p + 'dst', Buffer.from('old object that is longer'));
        await d.put(p + 'src', Buffer.from('new'));
        assert.equal((await copyObject(d, p + 'src', p + 'dst')).size, 3);
        assert.equal((await d.get(p + 'dst'))!.toString(), 'new');
        assert.equal((await d.get(p + 'src'))!.toString(), 'new');
      });

      test('a missing source is NotFoundError and leaves the target', async (p) => {
        await d.put(p + 'dst', Buffer.from('keep'));
        await rejectsWith(copyObject(d, p + 'missing', p + 'dst'), NotFoundError, 'copy over an object');
        assert.equal((await d.get(p + 'dst'))!.toString(), 'keep');
        await rejectsWith(copyObject(d, p + 'missing', p + 'nothing'), NotFoundError, 'copy to nothing');
        assert.equal(await d.stat(p + 'nothing'), null);
        assert.deepEqual(keysOf(await listAll(d, { prefix: p })), [p + 'dst']);
      });
    });

    // ---------------------------------------------------------- append

    describe('append (optional)', () => {
      /** The test's body on a driver that offers append; skipped (and said so) on the others. */
      function testAppend(title: string, fn: (p: string, append: NonNullable<StorageDriver['append']>) => Promise<void>): void {
        test(title, async (p, t) => {
          if (!d.append) {
            t.skip(`${d.name} offers no append (optional: the registry then stores one object per chunk)`);
            return;
          }
          await fn(p, d.append.bind(d));
        });
      }
      testAppend('grows one object from an offset and cuts stray tails', async (p, append) => {
        const key = p + 'upload/0';
        assert.equal((await append(key, 0, streamOf([Buffer.from('abc')]))).size, 3);
        assert.equal((await append(key, 3, streamOf([Buffer.from('def'), Buffer.from('gh')]))).size, 8);
        assert.equal((await d.get(key))!.toString(), 'abcdefgh');
        assert.equal((await d.stat(key))!.size, 8);
        // A retry from an earlier offset replaces what came after it.
        assert.equal((await append(key, 6, streamOf([Buffer.from('XY')]))).size, 8);
        assert.equal((await d.get(key))!.toString(), 'abcdefXY');
        // An empty append cuts the object to the offset.
        assert.equal((await append(key, 4, streamOf([]))).size, 4);
        assert.equal((await d.get(key))!.toString(), 'abcd');
        // Offset 0 empties an existing object.
        assert.equal((await append(key, 0, streamOf([Buffer.from('fresh')]))).size, 5);
        assert.equal((await d.get(key))!.toString(), 'fresh');
        // What append built publishes like any object.
        await d.concat(p + 'blob', [key]);
        await d.deleteConcatSources(p + 'blob', [key]);
        assert.equal((await d.get(p + 'blob'))!.toString(), 'fresh');
        assert.equal(await d.stat(key), null);
      });

      testAppend('past the end or on a missing object: NotFoundError, nothing changed', async (p, append) => {
        const key = p + 'upload/0';
        await append(key, 0, streamOf([Buffer.from('abcd')]));
        await rejectsWith(append(key, 5, streamOf([Buffer.from('z')])), NotFoundError, 'offset past the end');
        await rejectsWith(append(p + 'missing/0', 2, streamOf([Buffer.from('z')])), NotFoundError, 'missing object');
        assert.equal((await d.get(key))!.toString(), 'abcd');
        assert.equal(await d.stat(p + 'missing/0'), null);
      });

      testAppend('a body that fails half way leaves the object as it was', async (p, append) => {
        const key = p + 'upload/0';
        await append(key, 0, streamOf([Buffer.from('abcd')]));
        await assert.rejects(append(key, 4, failingStream([Buffer.from('1234')], new Error('client went away'))), /client went away/);
        assert.equal((await d.get(key))!.toString(), 'abcd');
        assert.equal((await d.stat(key))!.size, 4);
      });
    });

    // ---------------------------------------------------------- invalid keys

    describe('invalid keys', () => {
      test('a malformed key or prefix is an InvalidKeyError for every operation, and stores nothing', async (p) => {
        await d.put(p + 'ok', Buffer.from('kept'));
        const bad = [
          '',
          '/' + p + 'abs',
          p + 'a//b',
          p + 'a/',
          p + 'a/../b',
          p + '..',
          p + '../x',
          p + 'a/./b',
          p + '.',
          p + './a',
          p + 'a\0b',
        ];
        for (const key of bad) {
          const what = JSON.stringify(key);
          await rejectsWith(d.put(key, Buffer.from('x')), InvalidKeyError, `put bytes ${what}`);
          await rejectsWith(d.put(key, streamOf([Buffer.from('x')])), InvalidKeyError, `put stream ${what}`);
          await rejectsWith(d.stat(key), InvalidKeyError, `stat ${what}`);
          await rejectsWith(d.get(key), InvalidKeyError, `get ${what}`);
          await rejectsWith(d.read(key), InvalidKeyError, `read ${what}`);
          await rejectsWith(d.read(key, { start: 0, end: 0 }), InvalidKeyError, `ranged read ${what}`);
          await rejectsWith(d.delete(key), InvalidKeyError, `delete ${what}`);
          await rejectsWith(d.move(p + 'ok', key), InvalidKeyError, `move to ${what}`);
          await rejectsWith(d.move(key, p + 'moved'), InvalidKeyError, `move from ${what}`);
          await rejectsWith(d.concat(key, [p + 'ok']), InvalidKeyError, `concat to ${what}`);
          await rejectsWith(d.concat(p + 'blob', [p + 'ok', key]), InvalidKeyError, `concat from ${what}`);
          await rejectsWith(d.deleteConcatSources(p + 'blob', [key]), InvalidKeyError, `deleteConcatSources of ${what}`);
          await rejectsWith(d.deleteConcatSources(key, [p + 'ok']), InvalidKeyError, `deleteConcatSources to ${what}`);
          if (d.append) await rejectsWith(d.append(key, 0, streamOf([Buffer.from('x')])), InvalidKeyError, `append ${what}`);
        }
        for (const prefix of ['/' + p, p + '../', p + 'a//', p + './', p + 'a/../b/', p + '\0']) {
          await rejectsWith(d.list({ prefix }), InvalidKeyError, `list ${JSON.stringify(prefix)}`);
          await rejectsWith(d.list({ prefix, delimiter: '/' }), InvalidKeyError, `list / ${JSON.stringify(prefix)}`);
        }
        // Nothing was stored, moved or removed.
        assert.deepEqual(keysOf(await listAll(d, { prefix: p })), [p + 'ok']);
        assert.equal((await d.get(p + 'ok'))!.toString(), 'kept');
      });
    });

    // ---------------------------------------------------------- list

    describe('list', () => {
      // '+' 2B, '-' 2D, '.' 2E sort before '/' 2F; '0' 30, ':' 3A, '@' 40, '_' 5F after it.
      const names = [
        'a',
        'b/c',
        'b/d',
        'c+',
        'c-d',
        'c.d',
        'c/e',
        'c/f/g',
        'c0',
        'c:y',
        'c@x',
        'c_z',
        'd',
        'sha256:0123abcd',
        'x/y/z',
        'x-1/w',
        'x.1',
      ];
      async function seed(p: string): Promise<string[]> {
        const keys = names.map((n) => p + n);
        // Sizes differ per key so listing sizes can be checked.
        await Promise.all(keys.map((k, i) => d.put(k, Buffer.alloc(i, 0x61))));
        return keys;
      }

      test('one level with "/": objects and common prefixes, merged and sorted', async (p) => {
        const keys = await seed(p);
        const page = await d.list({ prefix: p, delimiter: '/' });
        assert.equal(page.next, undefined);
        assert.deepEqual(keysOf(page.entries), expectedListing(keys, { prefix: p, delimiter: '/' }));
        for (const e of page.entries) {
          const isPrefix = e.key.endsWith('/');
          assert.equal(e.prefix, isPrefix, `${e.key} prefix flag`);
          if (!isPrefix) {
            assert.equal(e.size, keys.indexOf(e.key), `${e.key} size`);
            assert.ok(e.modified instanceof Date, `${e.key} modified`);
          }
        }
        assert.deepEqual(keysOf((await d.list({ prefix: p + 'b/', delimiter: '/' })).entries), [p + 'b/c', p + 'b/d']);
        assert.deepEqual(keysOf((await d.list({ prefix: p + 'c/', delimiter: '/' })).entries), [p + 'c/e', p + 'c/f/']);
        assert.deepEqual(keysOf((await d.list({ prefix: p + 'x/', delimiter: '/' })).entries), [p + 'x/y/']);
      });

      test('prefix that ends mid-name', async (p) => {
        const keys = await seed(p);
        for (const sub of ['c', 'x', 'sha256:', 'b/', 'b/c', 'z', 'c/f']) {
          const opts = { prefix: p + sub, delimiter: '/' };
          assert.deepEqual(keysOf((await d.list(opts)).entries), expectedListing(keys, opts), `prefix ${sub}`);
        }
        assert.deepEqual(keysOf((await d.list({ prefix: p + 'c', delimiter: '/' })).entries), [
          p + 'c+',
          p + 'c-d',
          p + 'c.d',
          p + 'c/',
          p + 'c0',
          p + 'c:y',
          p + 'c@x',
          p + 'c_z',
        ]);
      });

      test('without a delimiter: every object below the prefix', async (p) => {
        const keys = await seed(p);
        const all = await d.list({ prefix: p });
        assert.deepEqual(keysOf(all.entries), [...keys].sort(utf8Compare));
        assert.ok(all.entries.every((e) => !e.prefix));
        const c = await d.list({ prefix: p + 'c' });
        assert.deepEqual(keysOf(c.entries), expectedListing(keys, { prefix: p + 'c' }));
      });

      test('startAfter', async (p) => {
        const keys = await seed(p);
        for (const marker of ['c-d', 'c/', 'c.d', 'a', 'd', 'x.1', 'sha256:0123abcd']) {
          for (const delimiter of ['/', undefined]) {
            const opts = { prefix: p, delimiter, startAfter: p + marker };
            assert.deepEqual(keysOf((await d.list(opts)).entries), expectedListing(keys, opts), `after ${marker} (${delimiter})`);
          }
        }
        // A marker before the prefix lists everything; one after it, nothing.
        const before = { prefix: p, delimiter: '/', startAfter: p.slice(0, -1) };
        assert.deepEqual(keysOf((await d.list(before)).entries), expectedListing(keys, { prefix: p, delimiter: '/' }));
        const past = await d.list({ prefix: p, delimiter: '/', startAfter: p + '~' });
        assert.deepEqual(past.entries, []);
        assert.equal(past.next, undefined);
      });

      test('paging with small limits walks every entry exactly once, in order', async (p) => {
        const keys = await seed(p);
        for (const delimiter of ['/', undefined]) {
          const want = expectedListing(keys, { prefix: p, delimiter });
          for (const limit of [1, 2, 3, 5, want.length, want.length + 1]) {
            const got = await listAll(d, { prefix: p, delimiter, limit });
            assert.deepEqual(keysOf(got), want, `limit ${limit} delimiter ${delimiter}`);
          }
        }
        // A full page that is not the end has `next`.
        const first = await d.list({ prefix: p, delimiter: '/', limit: 2 });
        assert.equal(first.entries.length, 2);
        assert.ok(first.next !== undefined);
        // Paging inside a prefix that ends mid-name.
        const c = await listAll(d, { prefix: p + 'c', delimiter: '/', limit: 3 });
        assert.deepEqual(keysOf(c), expectedListing(keys, { prefix: p + 'c', delimiter: '/' }));
      });

      test('unusual valid characters', async (p) => {
        const odd = [
          'repo/_tags/v1.0.0-rc.1+build.5',
          'repo/_manifests/sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
          'repo/_tags/latest',
          'repo/_tags/v1_2',
          'repo/_tags/UPPER',
          'my.registry/name-with-dashes/_tags/a@b',
          'ns/_catalog/a%2Fb',
          "x/=,~;!$&'()*",
        ].map((n) => p + n);
        for (const k of odd) await d.put(k, Buffer.from(k));
        for (const k of odd) assert.equal((await d.get(k))!.toString(), k, k);
        assert.deepEqual(keysOf(await listAll(d, { prefix: p, limit: 3 })), [...odd].sort(utf8Compare));
        const tags = { prefix: p + 'repo/_tags/', delimiter: '/' };
        assert.deepEqual(keysOf((await d.list(tags)).entries), expectedListing(odd, tags));
        assert.deepEqual(keysOf((await d.list({ prefix: p, delimiter: '/' })).entries), [
          p + 'my.registry/',
          p + 'ns/',
          p + 'repo/',
          p + 'x/',
        ]);
      });

      test('UTF-8 byte order (not UTF-16 order)', async (p) => {
        // U+FF21 (EF BC A1) sorts before U+1F600 (F0 9F 98 80) in UTF-8, after it in UTF-16.
        const keys = ['u/z', 'u/\u00e9', 'u/\uff21', 'u/\u{1f600}', 'u/\u{1f600}x', 'u/A'].map((n) => p + n);
        for (const k of keys) await d.put(k, Buffer.from('x'));
        const want = [...keys].sort(utf8Compare);
        assert.ok(isSorted(want));
        assert.deepEqual(keysOf((await d.list({ prefix: p + 'u/', delimiter: '/' })).entries), want);
        assert.deepEqual(keysOf(await listAll(d, { prefix: p + 'u/', limit: 2 })), want);
      });

      test('empty listings', async (p) => {
        for (const opts of [
          { prefix: p },
          { prefix: p, delimiter: '/' },
          { prefix: p + 'unknown/', delimiter: '/' },
          { prefix: p + 'unknown/deeper/', delimiter: '/', limit: 1 },
          { prefix: p + 'partial' },
        ]) {
          const page = await d.list(opts);
          assert.deepEqual(page.entries, [], JSON.stringify(opts));
          assert.equal(page.next, undefined);
        }
        await d.put(p + 'one/obj', Buffer.from('1'));
        assert.deepEqual((await d.list({ prefix: p + 'one/obj/', delimiter: '/' })).entries, []);
        assert.deepEqual((await d.list({ prefix: p + 'on/', delimiter: '/' })).entries, []);
      });

      test('limits out of range are clamped; a marker inside a group or empty', async (p) => {
        const keys = await seed(p);
        const all = expectedListing(keys, { prefix: p, delimiter: '/' });
        // 1..1000: below is 1, above is 1000 (here: all), fractions round down, NaN and Infinity mean the default.
        for (const [limit, n] of [
          [0, 1],
          [-5, 1],
          [2.7, 2],
          [5000, all.length],
          [Number.NaN, all.length],
          [Number.POSITIVE_INFINITY, all.length],
        ] as const) {
          const page = await d.list({ prefix: p, delimiter: '/', limit });
          assert.deepEqual(keysOf(page.entries), all.slice(0, n), `limit ${limit}`);
          if (n < all.length) assert.equal(page.next, all[n - 1], `limit ${limit}: next`);
          else assert.equal(page.next, undefined, `limit ${limit}: no next`);
        }
        // A marker inside a group: the group sorts before the marker, so it is not listed.
        for (const marker of ['c/e', 'c/f', 'c/f/g', 'b/c', 'x/y/z']) {
          for (const delimiter of ['/', undefined]) {
            const opts = { prefix: p, delimiter, startAfter: p + marker };
            assert.deepEqual(
              keysOf(await listAll(d, { ...opts, limit: 2 })),
              expectedListing(keys, opts),
              `after ${marker} (${delimiter})`,
            );
          }
        }
        // An empty marker is no marker.
        assert.deepEqual(keysOf((await d.list({ prefix: p, delimiter: '/', startAfter: '' })).entries), all);
      });

      const testMany = largeListing
        ? test
        : (title: string, _fn: (p: string) => Promise<void>) => it(title, { skip: 'largeListing: false' });
      testMany('many entries: default limit and paging past 1000', async (p) => {
        const n = 1001;
        const keys = Array.from({ length: n }, (_, i) => `${p}many/${String(i).padStart(5, '0')}`);
        for (let i = 0; i < n; i += 64) await Promise.all(keys.slice(i, i + 64).map((k) => d.put(k, new Uint8Array(0))));
        const first = await d.list({ prefix: p + 'many/', delimiter: '/' });
        assert.equal(first.entries.length, 1000, 'default limit is 1000');
        assert.ok(first.next !== undefined);
        const capped = await d.list({ prefix: p + 'many/', delimiter: '/', limit: 5000 });
        assert.ok(capped.entries.length <= 1000, 'limit is capped at 1000');
        assert.deepEqual(keysOf(await listAll(d, { prefix: p + 'many/', delimiter: '/' })), keys);
        assert.deepEqual(
          keysOf(await listAll(d, { prefix: p + 'many/', delimiter: '/', limit: 400, startAfter: keys[100] })),
          keys.slice(101),
        );
        // Deleted and added entries show up in the next listing.
        await d.delete(keys[500]!);
        await d.put(`${p}many/00500a`, Buffer.from('x'));
        const again = keysOf(await listAll(d, { prefix: p + 'many/', delimiter: '/', limit: 1000 }));
        assert.equal(again.length, n);
        assert.ok(!again.includes(keys[500]!) && again.includes(`${p}many/00500a`));
      });
    });

    // ---------------------------------------------------------- atomicity

    describe('atomicity', () => {
      for (const [how, err] of [
        ['errors', new Error('client went away')],
        ['is destroyed', null],
      ] as const) {
        test(`a stream put that ${how} midway leaves nothing, and the old object intact`, async (p) => {
          const chunk = Buffer.alloc(MiB, 0x78);
          await rejectsWith(d.put(p + 'new', failingStream([chunk, chunk, chunk], err)), Error, 'put');
          assert.equal(await d.stat(p + 'new'), null);
          assert.equal(await d.get(p + 'new'), null);

          const old = pattern(100_000, 5);
          await d.put(p + 'old', old);
          await rejectsWith(d.put(p + 'old', failingStream([chunk, chunk], err)), Error, 'overwrite');
          assert.ok((await d.get(p + 'old'))!.equals(old), 'old object damaged');
          assert.equal((await d.stat(p + 'old'))!.size, old.length);
          assert.deepEqual(keysOf(await listAll(d, { prefix: p })), [p + 'old']);
        });
      }

      test('readers during an overwrite see the old or the new object, never a mix', async (p) => {
        const size = 2 * MiB + 1;
        const oldData = Buffer.alloc(size, 0x61);
        const newData = Buffer.alloc(size, 0x62);
        await d.put(p + 'k', oldData);
        // A stream opened before the overwrite and consumed after it.
        const early = await d.read(p + 'k');

        let done = false;
        const writer = d.put(p + 'k', slowStream(newData, 128 * 1024, 2)).finally(() => (done = true));
        const seen = new Set<string>();
        const reader = async (): Promise<void> => {
          // Read until the put resolved, then once more (which must see the new object).
          for (let reads = 0, last = false; !last; reads++) {
            await tick(); // let the writer's timers run (an in-memory driver never leaves the microtask queue)
            last = done;
            const whole = reads % 2 ? (await d.get(p + 'k'))! : await readAll(await d.read(p + 'k'));
            assert.equal(whole.length, size, 'a reader saw a partial object');
            const first = whole[0]!;
            assert.ok(first === 0x61 || first === 0x62);
            assert.ok(whole.equals(first === 0x61 ? oldData : newData), 'a reader saw a mix of versions');
            const ranged = await readAll(await d.read(p + 'k', { start: size - 10 }));
            assert.ok(ranged.length === 10 && (ranged[0] === 0x61 || ranged[0] === 0x62));
            seen.add(String.fromCharCode(first));
            if (last) assert.equal(first, 0x62, 'a read after the put resolved saw the old object');
          }
        };
        await Promise.all([writer, reader(), reader()]);
        assert.ok(seen.has('b'), 'the new object was never seen');
        assert.ok((await d.get(p + 'k'))!.equals(newData));
        const earlyBytes = await readAll(early);
        assert.ok(earlyBytes.equals(oldData) || earlyBytes.equals(newData), 'an open stream saw a mix of versions');
      });
    });

    // ---------------------------------------------------------- large objects

    describe('large objects', () => {
      test(`a ${largeMiB} MiB object is streamed, not buffered`, async (p) => {
        const gc = checkMemory ? getGc() : undefined;
        const live = (): number => {
          gc!();
          return process.memoryUsage().arrayBuffers;
        };
        const base = gc ? live() : 0;
        let peak = 0;
        const sample = (i: number): void => {
          if (gc && i % 4 === 3) peak = Math.max(peak, live() - base);
        };

        const block = randomBytes(MiB);
        const hash = createHash('sha256');
        const body = Readable.from(
          (function* () {
            for (let i = 0; i < largeMiB; i++) {
              const chunk = Buffer.from(block);
              chunk.writeUInt32BE(i, 0);
              hash.update(chunk);
              sample(i);
              yield chunk;
            }
          })(),
          { objectMode: false, highWaterMark: MiB },
        );
        const info = await d.put(p + 'large', body);
        const digest = hash.digest('hex');
        assert.equal(info.size, largeMiB * MiB);
        assert.equal((await d.stat(p + 'large'))!.size, largeMiB * MiB);
        const putPeak = peak;

        peak = 0;
        const back = createHash('sha256');
        let n = 0;
        let i = 0;
        for await (const c of await d.read(p + 'large')) {
          back.update(c as Buffer);
          n += (c as Buffer).length;
          sample(i++);
        }
        assert.equal(n, largeMiB * MiB);
        assert.equal(back.digest('hex'), digest, 'large object reads back different');
        const readPeak = peak;

        const tail = await readAll(await d.read(p + 'large', { start: largeMiB * MiB - MiB - 3 }));
        assert.equal(tail.length, MiB + 3);
        assert.equal(tail.readUInt32BE(3), largeMiB - 1);

        if (gc) {
          const limit = maxBufferedMiB * MiB;
          assert.ok(putPeak < limit, `put held ${(putPeak / MiB).toFixed(1)} MiB while streaming`);
          assert.ok(readPeak < limit, `read held ${(readPeak / MiB).toFixed(1)} MiB while streaming`);
        }
      });
    });

    // ---------------------------------------------------------- backend faults

    const hooks = options.faults;
    if (hooks) {
      describe('backend faults', () => {
        // Short timeouts for the faulted twin only: the suite's own driver
        // writes what the twin reads, so a slow backend does not fail the setup.
        const fast: RetryOptions = { timeoutMs: 400, retries: 2, baseDelayMs: 20, maxDelayMs: 100 };
        const budget = worstCaseMs(retryPolicy(fast)) + 1500;
        // For the tests whose twin talks to the real backend: a loaded machine can keep a real
        // Swift or S3 answer past 400 ms, which is a fault only where the test makes it one.
        const patient: RetryOptions = { ...fast, timeoutMs: 1000 };

        async function withTwin(origin: string, fn: (twin: StorageDriver) => Promise<void>, retry: RetryOptions = fast): Promise<void> {
          const twin = await hooks!.twin(d, origin, retry);
          try {
            await fn(twin);
          } finally {
            await twin.close?.();
          }
        }

        test('a closed port: StorageUnavailableError after bounded retries', async (p) => {
          await withTwin(`http://127.0.0.1:${await closedPort()}`, async (twin) => {
            for (const [what, op] of [
              ['stat', () => twin.stat(p + 'k')],
              ['put', () => twin.put(p + 'k', Buffer.from('x'))],
              ['list', () => twin.list({ prefix: p })],
              ['read', () => twin.read(p + 'k')],
            ] as const) {
              const { err, ms } = await timed((op as () => Promise<unknown>)());
              assert.ok(err instanceof StorageUnavailableError, `${what}: expected StorageUnavailableError, got ${String(err)}`);
              assert.match(err.message, /ECONNREFUSED/, what);
              assert.ok(ms < budget, `${what} took ${ms} ms (budget ${budget})`);
            }
          });
        });

        test('a hung backend: each attempt times out, no hang', async (p) => {
          const hole = await blackhole();
          try {
            await withTwin(hole.url, async (twin) => {
              const { err, ms } = await timed(twin.get(p + 'k'));
              assert.ok(err instanceof StorageUnavailableError, String(err));
              assert.match(err.message, /no progress for 400 ms/);
              assert.ok(ms >= 3 * 400 && ms < budget, `took ${ms} ms (budget ${budget})`);
              assert.equal(hole.requests.length, 3, `one request per attempt: ${hole.requests.join(', ')}`);
            });
          } finally {
            await hole.close();
          }
        });

        test('transient 5xx answers are retried; 404 is not', async (p) => {
          await d.put(p + 'k', Buffer.from('value'));
          const proxy = await faultProxy(await hooks.backend());
          try {
            await withTwin(
              proxy.url,
              async (twin) => {
                let failures = 2;
                proxy.decide = (req) => (req.method === 'GET' && failures-- > 0 ? 503 : undefined);
                const n0 = proxy.seen.length;
                assert.equal((await twin.get(p + 'k'))!.toString(), 'value');
                assert.equal(proxy.seen.length - n0, 3, 'two 503s, then success');
                proxy.decide = () => 500;
                for (const [what, op] of [
                  ['get', () => twin.get(p + 'k')],
                  ['stat', () => twin.stat(p + 'k')],
                ] as const) {
                  const { err } = await timed((op as () => Promise<unknown>)());
                  assert.ok(err instanceof StorageUnavailableError, `${what}: ${String(err)}`);
                  assert.match(err.message, /after 3 attempts/, what);
                }
                proxy.decide = () => undefined;
                const n1 = proxy.seen.length;
                assert.equal(await twin.get(p + 'missing'), null);
                await rejectsWith(twin.read(p + 'missing'), NotFoundError, 'read');
                assert.equal(proxy.seen.length - n1, 2, 'a 404 is an answer, not a fault');
              },
              patient,
            );
          } finally {
            await proxy.close();
          }
        });

        test('a slow reader is not a backend fault (the idle timeout pauses with the reader)', async (p) => {
          const data = randomBytes(3 * MiB);
          await d.put(p + 'slow', data);
          await withTwin(
            await hooks.backend(),
            async (twin) => {
              const stream = await twin.read(p + 'slow');
              const chunks: Buffer[] = [];
              let paused = false;
              for await (const c of stream) {
                chunks.push(c as Buffer);
                if (!paused) {
                  paused = true;
                  await sleep(3 * patient.timeoutMs!); // the consumer dawdles
                }
              }
              assert.ok(Buffer.concat(chunks).equals(data));
            },
            patient,
          );
        });

        test('a response body that stalls or is cut fails the stream instead of hanging', async (p) => {
          await d.put(p + 'big', randomBytes(2 * MiB));
          const proxy = await faultProxy(await hooks.backend());
          try {
            await withTwin(proxy.url, async (twin) => {
              for (const action of ['stall', 'cut'] as const) {
                proxy.decide = (req) => (req.method === 'GET' ? { action, cutAfter: 100_000 } : undefined);
                const stream = await twin.read(p + 'big');
                const { err, ms } = await timed(readAll(stream));
                assert.ok(err instanceof StorageUnavailableError, `${action}: ${String(err)}`);
                assert.ok(ms < 400 + 1500, `${action}: took ${ms} ms`);
              }
            });
          } finally {
            proxy.decide = () => undefined;
            await proxy.close();
          }
        });
      });
    }
  });
}
