// The fuzzer inside `npm test`: a fixed seed, bounded to about a minute (the
// cases that fit in it, at most FUZZ_CASES). Longer runs and other seeds by
// hand: `npm run fuzz -- --seed N --iterations M`. What each case checks:
// test/fuzz/fuzzer.ts and docs/testing.md.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { WharfProcess } from '../helpers/wharf.js';
import { describeFailure, Fuzzer, type FuzzTarget } from './fuzzer.js';
import { startFuzzTarget } from './server.js';
import { setupWorld } from './world.js';

const SEED = 20261205;
const FUZZ_CASES = 5000;
const FUZZ_SECONDS = 40; // fuzz-buildsets.test.ts runs 10 s more: the suite's time stays the same

let wharf: WharfProcess;
let target: FuzzTarget;

before(async () => {
  ({ wharf, target } = await startFuzzTarget());
});

after(async () => {
  await wharf.cleanup();
});

it(`fuzzed API requests (seed ${SEED}, up to ${FUZZ_CASES} cases or ${FUZZ_SECONDS} s): no 5xx, no crash, no leak`, {
  timeout: 240_000,
}, async (t) => {
  const world = await setupWorld(wharf.url, wharf.host);
  const fuzzer = new Fuzzer(target, world, { seed: SEED, iterations: FUZZ_CASES, seconds: FUZZ_SECONDS, log: (l) => t.diagnostic(l) });
  fuzzer.adoptExistingUploads();
  const result = await fuzzer.run();
  t.diagnostic(
    `seed ${SEED}: ${result.cases} cases, ${result.requests} requests in ${Math.round(result.elapsedMs / 1000)} s; statuses ${JSON.stringify(result.statuses)}`,
  );
  assert.equal(result.failure, undefined, describeFailure(result));
  // A fuzzer that ran nothing proves nothing.
  assert.ok(result.cases >= 200, `only ${result.cases} cases ran`);
  assert.ok(Object.keys(result.statuses).length >= 5, `too few kinds of answers: ${JSON.stringify(result.statuses)}`);
});
