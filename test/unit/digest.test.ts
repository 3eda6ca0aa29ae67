// Tests of the digest layer (src/digest): both algorithms on every engine
// (TypeScript; native with SHA-NI; native portable C) against node:crypto,
// state export/restore within and across engines and processes, malformed
// states, and async updates.
//
// The native addon is REQUIRED here: if it is not built, the native tests
// fail (they are not skipped) unless WHARF_HASH_ENGINE=typescript says the
// TypeScript engine alone is meant to be tested.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash as nodeCreateHash, randomBytes } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import {
  createHash,
  hashEngine,
  HASH_ALGORITHMS,
  HashStateError,
  restoreHash,
  type HashAlgorithm,
  type ResumableHash,
} from '../../src/digest/index.js';
import { loadNative, nativeLoadError, NativeHash, restoreNativeHash, type NativeAddon } from '../../src/digest/native.js';
import { Sha256Ts } from '../../src/digest/sha256-ts.js';
import { Sha512Ts } from '../../src/digest/sha512-ts.js';
import { decodeState, encodeState, LAYOUTS } from '../../src/digest/state.js';

const FORCE_TS = (process.env['WHARF_HASH_ENGINE'] ?? '').toLowerCase() === 'typescript';
const addon: NativeAddon | null = FORCE_TS ? null : loadNative();
const NOT_BUILT =
  `native hash addon unavailable: ${nativeLoadError() ?? '?'}. ` +
  'Build it with `node scripts/build-native.mjs` (runs during npm install), ' +
  'or set WHARF_HASH_ENGINE=typescript to test the TypeScript engine only.';

interface Engine {
  readonly name: string;
  /** Returns false (after t.skip) when the engine is legitimately not testable here; fails if the addon is missing. */
  ready(t: TestContext): boolean;
  create(alg: HashAlgorithm): ResumableHash;
  restore(alg: HashAlgorithm, state: string): ResumableHash;
}

const tsEngine: Engine = {
  name: 'typescript',
  ready: () => true,
  create: (alg) => (alg === 'sha256' ? new Sha256Ts() : new Sha512Ts()),
  restore: (alg, state) => {
    const { raw, total } = decodeState(alg, state);
    return alg === 'sha256' ? new Sha256Ts(raw, total) : new Sha512Ts(raw, total);
  },
};

function nativeEngine(name: string, shaNi: boolean): Engine {
  const use = (): NativeAddon => {
    assert.ok(addon, NOT_BUILT);
    assert.equal(addon.setShaNi(shaNi), shaNi);
    return addon;
  };
  return {
    name,
    ready(t) {
      if (FORCE_TS) {
        t.skip('WHARF_HASH_ENGINE=typescript: native engine not tested');
        return false;
      }
      if (addon === null) assert.fail(NOT_BUILT);
      if (shaNi && !addon.shaNiAvailable) {
        t.skip('this CPU has no SHA-NI (the portable C path is tested)');
        return false;
      }
      return true;
    },
    create: (alg) => new NativeHash(use(), alg),
    restore: (alg, state) => restoreNativeHash(use(), alg, state),
  };
}

const ENGINES: Engine[] = [tsEngine, nativeEngine('native SHA-NI', true), nativeEngine('native portable C', false)];

function expected(alg: HashAlgorithm, ...parts: Uint8Array[]): string {
  const h = nodeCreateHash(alg);
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

/** Deterministic pseudo-random generator, so a failure can be reproduced from the printed seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

function splitPoints(len: number, rand: () => number, maxPiece: number): number[] {
  const cuts = [0];
  while (cuts[cuts.length - 1]! < len) {
    cuts.push(Math.min(len, cuts[cuts.length - 1]! + Math.floor(rand() * maxPiece)));
  }
  return cuts;
}

const SEED = Number(process.env['WHARF_TEST_SEED'] ?? Date.now() % 1e9);
const EDGE_LENGTHS = [0, 1, 3, 55, 56, 63, 64, 65, 111, 112, 119, 120, 127, 128, 129, 191, 192, 255, 256, 1000, 4096];

describe(`digest (seed ${SEED}, index.ts engine: ${hashEngine})`, () => {
  test('native addon is built and loads (unless WHARF_HASH_ENGINE=typescript)', (t) => {
    if (FORCE_TS) {
      assert.equal(hashEngine, 'typescript');
      t.diagnostic('WHARF_HASH_ENGINE=typescript: native engine deliberately not tested');
      return;
    }
    assert.ok(addon, NOT_BUILT);
    assert.match(hashEngine, /^native \((SHA-NI|portable C)\)$/);
    t.diagnostic(`engine: ${hashEngine}`);
  });

  for (const engine of ENGINES) {
    for (const alg of HASH_ALGORITHMS) {
      describe(`${engine.name} ${alg}`, () => {
        test('edge lengths, one update and byte-by-byte-ish splits', (t) => {
          if (!engine.ready(t)) return;
          const data = randomBytes(4096);
          for (const n of EDGE_LENGTHS) {
            const d = data.subarray(0, n);
            assert.equal(engine.create(alg).update(d).digestHex(), expected(alg, d), `one update, length ${n}`);
            const h = engine.create(alg);
            for (let i = 0; i < n; i += 7) h.update(d.subarray(i, i + 7));
            assert.equal(h.length, n);
            assert.equal(h.digestHex(), expected(alg, d), `7-byte pieces, length ${n}`);
          }
        });

        test('random lengths up to 3 MB with random split points', (t) => {
          if (!engine.ready(t)) return;
          const rand = rng(SEED ^ 0x5eed);
          const big = randomBytes(3 * 1024 * 1024);
          for (let round = 0; round < 4; round++) {
            const n = round === 0 ? big.length : Math.floor(rand() * big.length);
            const d = big.subarray(0, n);
            const h = engine.create(alg);
            h.update(d.subarray(0, 0)); // empty updates are fine anywhere
            const cuts = splitPoints(n, rand, round % 2 ? 300 : 400_000);
            for (let i = 1; i < cuts.length; i++) h.update(d.subarray(cuts[i - 1], cuts[i]));
            assert.equal(h.length, n);
            assert.equal(h.digestHex(), expected(alg, d), `length ${n}, round ${round}`);
          }
        });

        test('export after every chunk, restore, continue', (t) => {
          if (!engine.ready(t)) return;
          const rand = rng(SEED ^ 0xe4);
          for (const n of [0, 63, 64, 127, 128, 129, 5000, 200_003]) {
            const d = randomBytes(n);
            const cuts = splitPoints(n, rand, n > 10_000 ? 40_000 : 150);
            let h = engine.create(alg);
            const s0 = h.exportState();
            assert.match(s0, new RegExp(`^v1:${alg}:[A-Za-z0-9+/]+={0,2}$`));
            h = engine.restore(alg, s0);
            for (let i = 1; i < cuts.length; i++) {
              h.update(d.subarray(cuts[i - 1], cuts[i]));
              const state = h.exportState();
              assert.equal(h.exportState(), state, 'export does not change the state');
              h = engine.restore(alg, state);
              assert.equal(h.length, cuts[i]);
            }
            assert.equal(h.digestHex(), expected(alg, d), `length ${n}`);
          }
        });

        test('async update equals sync update', async (t) => {
          if (!engine.ready(t)) return;
          const data = randomBytes(5 * 1024 * 1024 + 77);
          for (const n of [0, 100, 65_535, 65_536, 1_048_576, 1_048_579, data.length]) {
            const d = data.subarray(0, n);
            const h = engine.create(alg);
            assert.ok(h.updateAsync, 'updateAsync is implemented');
            h.update(d.subarray(0, 5));
            await h.updateAsync(d.subarray(5));
            assert.equal(h.length, n);
            assert.equal(h.digestHex(), expected(alg, d), `length ${n}`);
          }
          // async, export, restore, async again
          const h1 = engine.create(alg);
          await h1.updateAsync!(data.subarray(0, 2_000_001));
          const h2 = engine.restore(alg, h1.exportState());
          await h2.updateAsync!(data.subarray(2_000_001));
          assert.equal(h2.digestHex(), expected(alg, data));
        });

        test('updateAsync of a list hashes the pieces in order, as if concatenated', async (t) => {
          if (!engine.ready(t)) return;
          // Socket-sized pieces, odd sizes (block boundaries inside and across pieces), empty ones, and one big piece.
          const sizes = [0, 1, 63, 64, 65_536, 0, 65_535, 100_003, 1_048_576, 7];
          const pieces = sizes.map((n) => randomBytes(n));
          const all = Buffer.concat(pieces);
          const h = engine.create(alg);
          h.update(all.subarray(0, 0));
          await h.updateAsync!(pieces);
          assert.equal(h.length, all.length);
          assert.equal(h.digestHex(), expected(alg, all));
          // A short list below the async threshold, then a long one, after an export and restore.
          const h1 = engine.create(alg);
          await h1.updateAsync!(pieces.slice(0, 4));
          const h2 = engine.restore(alg, h1.exportState());
          await h2.updateAsync!(pieces.slice(4));
          assert.equal(h2.digestHex(), expected(alg, all));
          // Busy while it runs; a bad piece is a TypeError before anything is hashed.
          const h3 = engine.create(alg);
          const p = h3.updateAsync!([randomBytes(2 * 1024 * 1024), randomBytes(2 * 1024 * 1024)]);
          assert.throws(() => h3.update(new Uint8Array(1)), /busy/);
          await p;
          const h4 = engine.create(alg);
          await assert.rejects(h4.updateAsync!([randomBytes(10), 'abc' as unknown as Uint8Array]), TypeError);
          assert.equal(h4.length, 0);
        });

        test('busy while updateAsync runs; unusable after digestHex', async (t) => {
          if (!engine.ready(t)) return;
          const h = engine.create(alg);
          const p = h.updateAsync!(randomBytes(3 * 1024 * 1024));
          assert.throws(() => h.update(new Uint8Array(1)), /busy/);
          assert.throws(() => h.exportState(), /busy/);
          assert.throws(() => h.digestHex(), /busy/);
          await assert.rejects(h.updateAsync!(randomBytes(2 * 1024 * 1024)), /busy/);
          await p;
          h.update(new Uint8Array(1));
          h.digestHex();
          assert.throws(() => h.update(new Uint8Array(1)), /after digestHex/);
          assert.throws(() => h.exportState(), /after digestHex/);
          assert.throws(() => h.digestHex(), /after digestHex/);
        });

        test('rejects non-bytes input with a TypeError', (t) => {
          if (!engine.ready(t)) return;
          const h = engine.create(alg);
          assert.throws(() => h.update('abc' as unknown as Uint8Array), TypeError);
          assert.throws(() => h.update(new Uint16Array(4) as unknown as Uint8Array), TypeError);
          assert.throws(() => h.update(null as unknown as Uint8Array), TypeError);
          assert.equal(h.length, 0);
          assert.equal(h.digestHex(), expected(alg));
        });
      });
    }
  }

  describe('state moves between engines', () => {
    for (const alg of HASH_ALGORITHMS) {
      test(`${alg}: identical state strings on every engine`, (t) => {
        const ready = ENGINES.filter((e) => e.ready(t));
        if (FORCE_TS) return;
        const data = randomBytes(10_000);
        for (const n of [0, 1, 63, 64, 100, 127, 128, 129, 9_999]) {
          const states = ready.map((e) => e.create(alg).update(data.subarray(0, n)).exportState());
          for (const s of states) assert.equal(s, states[0], `length ${n}`);
        }
      });

      test(`${alg}: native -> TS and TS -> native, chunk by chunk`, (t) => {
        const ready = ENGINES.filter((e) => e.ready(t));
        if (FORCE_TS) return;
        assert.ok(ready.length >= 2);
        const rand = rng(SEED ^ 0xc055);
        const d = randomBytes(1_500_000);
        const cuts = splitPoints(d.length, rand, 100_000);
        let h = ready[0]!.create(alg);
        for (let i = 1; i < cuts.length; i++) {
          h.update(d.subarray(cuts[i - 1], cuts[i]));
          h = ready[i % ready.length]!.restore(alg, h.exportState());
        }
        assert.equal(h.digestHex(), expected(alg, d));
        // and small pieces that leave every possible partial block behind
        for (const from of ready) {
          for (const to of ready) {
            for (const n of [1, 55, 56, 63, 64, 111, 112, 127, 200]) {
              const a = randomBytes(n);
              const b = randomBytes(77);
              const h2 = to.restore(alg, from.create(alg).update(a).exportState());
              assert.equal(h2.update(b).digestHex(), expected(alg, a, b), `${from.name} -> ${to.name}, ${n}`);
            }
          }
        }
      });
    }
  });

  test('state carried across processes (both directions, both engines)', (t) => {
    const indexUrl = new URL('../../src/digest/index.js', import.meta.url).href;
    // One child process per engine; it continues every state it is sent.
    const child = `
      const { restoreHash, hashEngine } = await import(process.argv[1]);
      let input = '';
      for await (const c of process.stdin) input += c;
      const out = JSON.parse(input).map(({ alg, state, data }) => {
        const h = restoreHash(alg, state);
        h.update(Buffer.from(data, 'base64'));
        return { state: h.exportState(), length: h.length, engine: hashEngine };
      });
      process.stdout.write(JSON.stringify(out));`;
    const childEngines = FORCE_TS ? ['typescript'] : ['typescript', 'native'];
    if (!FORCE_TS && addon === null) assert.fail(NOT_BUILT);
    for (const childEngine of childEngines) {
      const cases: Array<{ alg: (typeof HASH_ALGORITHMS)[number]; parent: Engine; a: Buffer; b: Buffer; state: string }> = [];
      for (const alg of HASH_ALGORITHMS) {
        for (const parent of ENGINES) {
          if (parent !== tsEngine && FORCE_TS) continue;
          if (parent !== tsEngine && !addon!.shaNiAvailable && parent.name.includes('SHA-NI')) continue;
          const a = randomBytes(100_001);
          const b = randomBytes(70_013);
          cases.push({ alg, parent, a, b, state: parent.create(alg).update(a).exportState() });
        }
      }
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', child, indexUrl], {
        input: JSON.stringify(cases.map(({ alg, state, b }) => ({ alg, state, data: b.toString('base64') }))),
        env: { ...process.env, WHARF_HASH_ENGINE: childEngine },
        encoding: 'utf8',
        timeout: 30_000,
      });
      const results = JSON.parse(out) as Array<{ state: string; length: number; engine: string }>;
      assert.equal(results.length, cases.length);
      cases.forEach(({ alg, parent, a, b }, i) => {
        const res = results[i]!;
        const c = randomBytes(33);
        assert.equal(res.length, a.length + b.length);
        assert.equal(res.engine.startsWith(childEngine), true, `child ran ${res.engine}`);
        const back = parent.restore(alg, res.state);
        assert.equal(back.length, a.length + b.length);
        assert.equal(back.update(c).digestHex(), expected(alg, a, b, c), `${alg}: ${parent.name} -> child ${childEngine}`);
      });
    }
    t.diagnostic(`child engines: ${childEngines.join(', ')}`);
  });

  describe('malformed states are rejected with HashStateError', () => {
    const good256 = tsEngine.create('sha256').update(new Uint8Array(70)).exportState(); // 6 pending bytes
    const good512 = tsEngine.create('sha512').update(new Uint8Array(130)).exportState(); // 2 pending bytes
    const payload256 = good256.slice('v1:sha256:'.length);
    const raw256 = Buffer.from(payload256, 'base64');
    const withRaw = (alg: HashAlgorithm, raw: Uint8Array) => encodeState(alg, raw);
    const tooBig = Buffer.from(raw256);
    tooBig.writeUInt32BE(0x00200000, 32); // total >= 2^53
    const inconsistent = Buffer.from(raw256);
    inconsistent.writeUInt32BE(71, 36); // total 71 but 6 pending bytes
    const bad: Array<[string, unknown]> = [
      ['empty', ''],
      ['no payload', 'v1:sha256'],
      ['no payload 2', 'v1:sha256:'],
      ['other version', good256.replace(/^v1:/, 'v2:')],
      ['upper-case version', good256.replace(/^v1:/, 'V1:')],
      ['other algorithm', good512.replace(':sha512:', ':sha256:')],
      ['unknown algorithm', good256.replace(':sha256:', ':md5:')],
      ['extra field', `${good256}:x`],
      ['whitespace', ` ${good256}`],
      ['trailing newline', `${good256}\n`],
      ['not base64', 'v1:sha256:!!!!' + payload256.slice(4)],
      ['base64url', good256.replace(/\+/g, '-').replace(/\//g, '_') + (payload256.includes('+') || payload256.includes('/') ? '' : '-')],
      ['unpadded', good256.replace(/=+$/, '')],
      ['truncated', good256.slice(0, -8)],
      ['too short', withRaw('sha256', raw256.subarray(0, 39))],
      ['one pending byte missing', withRaw('sha256', raw256.subarray(0, raw256.length - 1))],
      ['one pending byte extra', withRaw('sha256', Buffer.concat([raw256, Buffer.of(0)]))],
      ['64 pending bytes', withRaw('sha256', Buffer.concat([raw256.subarray(0, 40), Buffer.alloc(64)]))],
      ['total >= 2^53', withRaw('sha256', tooBig)],
      ['inconsistent total', withRaw('sha256', inconsistent)],
      ['huge', 'v1:sha256:' + 'A'.repeat(100_000)],
      ['null', null],
      ['number', 42],
      ['object', { state: good256 }],
    ];
    for (const engine of ENGINES) {
      test(`${engine.name}`, (t) => {
        if (!engine.ready(t)) return;
        for (const [what, state] of bad) {
          assert.throws(
            () => engine.restore('sha256', state as string),
            (err: unknown) => err instanceof HashStateError && err.message.length > 0,
            `${what} must be rejected`,
          );
        }
        // The good ones do restore (the test data is right).
        assert.equal(engine.restore('sha256', good256).length, 70);
        assert.equal(engine.restore('sha512', good512).length, 130);
        // sha512 total with a non-zero high 64 bits
        const raw512 = Buffer.from(good512.slice('v1:sha512:'.length), 'base64');
        raw512[64] = 1;
        assert.throws(() => engine.restore('sha512', withRaw('sha512', raw512)), HashStateError);
      });
    }

    test('index.ts restoreHash/createHash', () => {
      for (const [what, state] of bad) {
        assert.throws(() => restoreHash('sha256', state as string), HashStateError, what);
      }
      assert.throws(() => restoreHash('md5' as HashAlgorithm, good256), TypeError);
      assert.throws(() => createHash('sha1' as HashAlgorithm), TypeError);
      assert.throws(() => createHash('toString' as HashAlgorithm), TypeError);
      const h = restoreHash('sha256', good256);
      assert.equal(h.update(new Uint8Array(5)).digestHex(), expected('sha256', new Uint8Array(75)));
    });
  });

  test('index.ts createHash matches node:crypto', () => {
    for (const alg of HASH_ALGORITHMS) {
      const d = randomBytes(300_000);
      assert.equal(createHash(alg).update(d).digestHex(), expected(alg, d));
      assert.equal(createHash(alg).algorithm, alg);
    }
  });

  test('TypeScript updateAsync yields to the event loop', async () => {
    const d = randomBytes(6 * 1024 * 1024);
    let ticks = 0;
    let running = true;
    const spin = (): void => {
      ticks++;
      if (running) setImmediate(spin);
    };
    setImmediate(spin);
    const h = new Sha512Ts();
    await h.updateAsync(d);
    running = false;
    assert.ok(ticks >= 4, `event loop turned ${ticks} times during a 6 MiB TS updateAsync`);
    assert.equal(h.digestHex(), expected('sha512', d));
  });

  test('native updateAsync runs off the main thread', async (t) => {
    if (FORCE_TS) {
      t.skip('WHARF_HASH_ENGINE=typescript');
      return;
    }
    assert.ok(addon, NOT_BUILT);
    const d = randomBytes(32 * 1024 * 1024);
    let ticks = 0;
    let running = true;
    const spin = (): void => {
      ticks++;
      if (running) setImmediate(spin);
    };
    setImmediate(spin);
    const h = new NativeHash(addon, 'sha512');
    await h.updateAsync(d);
    running = false;
    assert.ok(ticks >= 2, `event loop turned ${ticks} times during a 32 MiB native updateAsync`);
    assert.equal(h.digestHex(), expected('sha512', d));
  });

  test('raw addon rejects bad arguments without crashing', (t) => {
    if (FORCE_TS) {
      t.skip('WHARF_HASH_ENGINE=typescript');
      return;
    }
    assert.ok(addon, NOT_BUILT);
    const a = addon as unknown as Record<string, (...args: unknown[]) => unknown>;
    assert.throws(() => a['update']!(Buffer.alloc(10), Buffer.alloc(1)), TypeError);
    assert.throws(() => a['update']!(Buffer.alloc(LAYOUTS.sha256.full), 'x'), TypeError);
    assert.throws(() => a['update']!(), TypeError);
    assert.throws(() => a['digest']!(new Uint32Array(26)), TypeError);
    assert.throws(() => a['updateAsync']!(Buffer.alloc(105), Buffer.alloc(1)), TypeError);
    // Garbage in a correctly sized state buffer cannot make it read out of bounds.
    const junk = Buffer.alloc(LAYOUTS.sha512.full, 0xff);
    a['update']!(junk, Buffer.alloc(1000, 1));
    assert.equal((a['digest']!(junk) as Buffer).length, 64);
  });
});
