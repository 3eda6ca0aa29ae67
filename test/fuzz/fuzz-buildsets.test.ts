// The fuzzer with buildset namespaces and promotion in its mix (a registry
// with an admin user and `registry.buildsets`): namespaces created with TTLs
// of 1-20 s, extended and deleted while pushes and reads go into them (with
// the admin's or their own credential) and promotions run between them and
// the default namespace — every request mutated as in fuzz.test.ts. On top of
// the fuzzer's checks after every case (no 5xx, OCI error bodies, no leaked
// handle, temp file or upload), every few hundred cases and at the end: every
// stored blob hashes to its name, and every tag's manifest, its blobs and its
// child manifests are stored. A fixed seed, bounded to about 10 s (fuzz.test.ts
// gives up as much); more by hand: `npm run fuzz` runs the plain mix.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { WharfProcess } from '../helpers/wharf.js';
import { describeFailure, Fuzzer, type FuzzTarget } from './fuzzer.js';
import { startFuzzTarget } from './server.js';
import { setupWorld } from './world.js';

const SEED = 20261221;
const FUZZ_CASES = 2000;
const FUZZ_SECONDS = 10;
const ADMIN = `Basic ${Buffer.from('fuzz-admin:fuzz-admin-password').toString('base64')}`;

let wharf: WharfProcess;
let target: FuzzTarget;

before(async () => {
  ({ wharf, target } = await startFuzzTarget({
    users: [{ name: 'fuzz-admin', pass: 'fuzz-admin-password', access: 'write', admin: true }],
    buildsets: { 'max-namespaces': 100, 'max-ttl': 60, 'credential-cost': 4 },
  }));
});

after(async () => {
  await wharf.cleanup();
});

it(`fuzzed buildset and promotion requests (seed ${SEED}, up to ${FUZZ_CASES} cases or ${FUZZ_SECONDS} s): no 5xx, no leak, whole tags`, {
  timeout: 120_000,
}, async (t) => {
  const world = await setupWorld(wharf.url, wharf.host, ADMIN);
  world.buildsets = { names: Array.from({ length: 12 }, (_, i) => `fz-${i}`), creds: {} };
  const fuzzer = new Fuzzer(target, world, { seed: SEED, iterations: FUZZ_CASES, seconds: FUZZ_SECONDS, log: (l) => t.diagnostic(l) });
  fuzzer.adoptExistingUploads();
  const result = await fuzzer.run();
  t.diagnostic(
    `seed ${SEED}: ${result.cases} cases, ${result.requests} requests in ${Math.round(result.elapsedMs / 1000)} s; statuses ${JSON.stringify(result.statuses)}; buildsets with credentials: ${Object.keys(world.buildsets.creds).length}`,
  );
  assert.equal(result.failure, undefined, describeFailure(result));
  assert.ok(result.cases >= 100, `only ${result.cases} cases ran`);
  // The mix reached the buildsets: some were created (their credentials learnt) and answered 201 and 200.
  assert.ok(Object.keys(world.buildsets.creds).length >= 2, `buildsets created: ${JSON.stringify(world.buildsets.creds)}`);
  assert.ok((result.statuses['201'] ?? 0) > 0 && (result.statuses['200'] ?? 0) > 0, JSON.stringify(result.statuses));
});
