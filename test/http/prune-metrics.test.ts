// The prune schedule inside `wharf serve` (registry.prune.interval) shows in
// /metrics: runs by outcome, their duration, and the objects and bytes they
// reclaimed — the same figures the "prune finished" log lines report.
//   npm run build && node --test --test-concurrency=1 dist/test/http/prune-metrics.test.js
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { OciClient } from '../helpers/oci-client.js';
import { logLines, sample, waitFor } from '../helpers/ops.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';

describe('scheduled prune runs in the metrics', () => {
  let w: WharfProcess;
  const startedAt = Date.now() / 1000;
  before(async () => {
    // grace 0: an unreferenced blob is garbage at once; uploads keep their default age.
    w = await startWharf({ registry: { prune: { interval: 1, grace: 0 } } });
  });
  after(() => w?.cleanup());

  const scrape = async () => {
    const r = await fetch(`${w.url}/metrics`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(r.status, 200);
    return r.text();
  };

  it('runs, duration, reclaimed objects and bytes match what the runs logged', async () => {
    const c = new OciClient(w.url);
    const size = 200_000 + Math.floor(Math.random() * 1000);
    // A blob no manifest references: the next run removes it and its repository link.
    const digest = await c.pushBlob('prune/metrics', randomBytes(size));
    const text = await waitFor(
      'a run that reclaimed the blob',
      async () => {
        const t = await scrape();
        return (sample(t, 'wharf_prune_reclaimed_bytes_total') ?? 0) >= size ? t : undefined;
      },
      30_000,
      200,
    );
    assert.equal((await c.headBlob('prune/metrics', digest)).status, 404, 'the blob is gone');

    const ok = sample(text, 'wharf_prune_runs_total', { outcome: 'ok' }) ?? 0;
    const failed = sample(text, 'wharf_prune_runs_total', { outcome: 'failed' }) ?? 0;
    assert.ok(ok >= 1, text);
    assert.equal(failed, 0, w.output());
    // Every run, ok or failed, is one observation of the duration.
    assert.equal(sample(text, 'wharf_prune_duration_seconds_count'), ok + failed);
    const seconds = sample(text, 'wharf_prune_duration_seconds_sum') ?? -1;
    assert.ok(seconds > 0, `duration sum ${seconds}`);
    const last = sample(text, 'wharf_prune_last_success_timestamp_seconds') ?? 0;
    assert.ok(last >= startedAt - 1 && last <= Date.now() / 1000 + 1, `last success ${last}`);

    // The metrics count what the first `ok` runs logged (the log line is written just before the metrics are updated).
    const runs = await waitFor('the logged runs', () => {
      const lines = logLines(w.output(), 'prune finished');
      return lines.length >= ok ? lines.slice(0, ok) : undefined;
    });
    const logged = (k: string) => runs.reduce((n, l) => n + Number(l[k]), 0);
    assert.equal(sample(text, 'wharf_prune_reclaimed_bytes_total'), logged('removedBytes'));
    assert.equal(sample(text, 'wharf_prune_reclaimed_objects_total'), logged('removedObjects'));
    assert.ok(logged('removedObjects') >= 2, 'the blob and its link');
    assert.ok(Math.abs(seconds - logged('durationMs') / 1000) < 0.01 * ok + 0.001, `${seconds} s vs ${logged('durationMs')} ms`);
  });
});
