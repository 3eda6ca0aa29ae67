// Micro-benchmark of the hash engines (not part of the tests):
//
//   npm run build && node dist/bench/hash.js [--mib 256] [--chunk-kib 1024] [--runs 2] [--alg sha256,sha512]
//
// Feeds --mib MiB (default 256) in --chunk-kib pieces (default 1 MiB, an
// upload-sized chunk, taken from a 16 MiB random pool) to node:crypto, the
// native addon (SHA-NI, portable C, async on the threadpool) and the
// TypeScript engine, and prints MB/s (10^6 bytes/s, best of --runs).
import { createHash as nodeCreateHash, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { HashAlgorithm, ResumableHash } from '../src/digest/hash.js';
import { loadNative, nativeLoadError, NativeHash } from '../src/digest/native.js';
import { Sha256Ts } from '../src/digest/sha256-ts.js';
import { Sha512Ts } from '../src/digest/sha512-ts.js';

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '256' },
    'chunk-kib': { type: 'string', default: '1024' },
    runs: { type: 'string', default: '2' },
    alg: { type: 'string', default: 'sha256,sha512' },
  },
});
const total = Number(values.mib) * 1024 * 1024;
const chunk = Number(values['chunk-kib']) * 1024;
const runs = Math.max(1, Number(values.runs));
const algs = values.alg.split(',') as HashAlgorithm[];
const pool = randomBytes(16 * 1024 * 1024);

function* chunks(): Generator<Buffer> {
  let off = 0;
  for (let done = 0; done < total; done += chunk) {
    const n = Math.min(chunk, total - done);
    if (off + n > pool.length) off = 0;
    yield pool.subarray(off, off + n);
    off += n;
  }
}

async function measure(fn: () => Promise<void> | void): Promise<number> {
  let best = Infinity;
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    await fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return total / 1e6 / best;
}

const addon = loadNative();
console.log(
  `hash bench: ${total / 1024 / 1024} MiB in ${chunk / 1024} KiB chunks, best of ${runs}; ` +
    `native addon: ${addon ? (addon.shaNiAvailable ? 'loaded, CPU has SHA-NI' : 'loaded, no SHA-NI') : `absent (${nativeLoadError()})`}`,
);

for (const alg of algs) {
  const rows: Array<[string, number]> = [];
  rows.push([
    'node:crypto',
    await measure(() => {
      const h = nodeCreateHash(alg);
      for (const c of chunks()) h.update(c);
      h.digest();
    }),
  ]);
  const sync = (make: () => ResumableHash) => () => {
    const h = make();
    for (const c of chunks()) h.update(c);
    h.digestHex();
  };
  if (addon) {
    const variants: Array<[string, boolean]> =
      alg === 'sha256'
        ? [
            ['native SHA-NI', true],
            ['native portable C', false],
          ]
        : [['native C', false]];
    for (const [name, ni] of variants) {
      if (ni && !addon.shaNiAvailable) continue;
      addon.setShaNi(ni);
      rows.push([name, await measure(sync(() => new NativeHash(addon, alg)))]);
      rows.push([
        `${name} (updateAsync)`,
        await measure(async () => {
          const h = new NativeHash(addon, alg);
          for (const c of chunks()) await h.updateAsync(c);
          h.digestHex();
        }),
      ]);
    }
    addon.setShaNi(addon.shaNiAvailable);
  }
  rows.push(['typescript', await measure(sync(() => (alg === 'sha256' ? new Sha256Ts() : new Sha512Ts())))]);
  const base = rows[0]![1];
  for (const [name, mbs] of rows) {
    console.log(`${alg.padEnd(7)} ${name.padEnd(34)} ${mbs.toFixed(0).padStart(6)} MB/s  ${(mbs / base).toFixed(2)}x node:crypto`);
  }
}
