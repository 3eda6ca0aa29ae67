// The soak inside `npm test`: SOAK_SECONDS (default 150) of mixed load against
// a live server with its mirror upstream, prune on a schedule and from the
// CLI; then no growth beyond noise, no 5xx, no leaked uploads, a clean store.
// Longer: `npm run soak -- --minutes 30`. What it does: test/soak/soak.ts,
// docs/testing.md.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { soak } from './soak.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 150);

it(`soak: ${SECONDS} s of pushes, pulls, deletes, mounts, mirror pulls and prunes`, { timeout: (SECONDS + 240) * 1000 }, async (t) => {
  const report = await soak({ seconds: SECONDS, log: (l) => t.diagnostic(l) });
  t.diagnostic(
    JSON.stringify({
      ops: report.ops,
      latencyMs: report.latencyMs,
      windows: report.analysis.windows,
      slope: report.analysis.slope,
      prunes: report.prunes,
      final: report.final,
    }),
  );
  assert.deepEqual(report.failures, [], `soak failures:\n${report.failures.join('\n')}`);
  // A soak that did little proves little.
  assert.ok((report.ops.push ?? 0) >= 50, `only ${report.ops.push ?? 0} pushes`);
  assert.ok((report.ops['mirror-pull'] ?? 0) >= 10, `only ${report.ops['mirror-pull'] ?? 0} mirror pulls`);
  assert.ok(report.prunes.serve + report.prunes.cli >= 3, `only ${report.prunes.serve + report.prunes.cli} prune runs`);
});
