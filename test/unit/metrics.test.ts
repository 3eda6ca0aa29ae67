// Metrics: the instrumenting storage decorator, the retry hook, and the
// exposition (names, bounded labels).
//   npm run build && node --test dist/test/unit/metrics.test.js
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Readable } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metrics } from '../../src/metrics/metrics.js';
import { FilesystemDriver } from '../../src/storage/fs.js';
import { MemoryDriver } from '../../src/storage/memory.js';
import { instrumentDriver, operationOf, type StorageOperation, type StorageOutcome } from '../../src/storage/instrumented.js';
import { NotFoundError } from '../../src/storage/errors.js';
import { copyObject } from '../../src/storage/copy.js';
import { retryPolicy, withRetries } from '../../src/storage/retry.js';
import { sample } from '../helpers/ops.js';
import { schedulePrune } from '../../src/registry/prune/schedule.js';
import type { PruneReport } from '../../src/registry/prune/index.js';

describe('storage instrumentation', () => {
  it('reports each call with its operation and outcome, and passes results and errors through', async () => {
    const calls: [StorageOperation, StorageOutcome][] = [];
    const d = instrumentDriver(new MemoryDriver(), {
      call: (_d, op, s, outcome) => {
        assert.ok(s >= 0);
        calls.push([op, outcome]);
      },
    });
    await d.put('ns/a', Buffer.from('x'));
    assert.equal((await d.get('ns/a'))!.toString(), 'x');
    assert.equal(await d.stat('ns/missing'), null);
    await assert.rejects(d.read('ns/missing'), NotFoundError);
    assert.equal((await d.list({ prefix: 'ns/' })).entries.length, 1);
    assert.deepEqual(calls, [
      ['put', 'ok'],
      ['get', 'ok'],
      ['stat', 'ok'],
      ['read', 'not_found'],
      ['list', 'ok'],
    ]);
  });

  it('keeps optional methods optional: append and openFile only where the driver has them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wharf-metrics-'));
    try {
      const obs = { call: () => undefined };
      assert.equal(typeof instrumentDriver(new FilesystemDriver({ root: dir }), obs).append, 'function');
      assert.equal(instrumentDriver(new MemoryDriver(), obs).append, undefined);
      // openFile (blob bodies by sendfile) too: dropped, every pull would stream.
      assert.equal(typeof instrumentDriver(new FilesystemDriver({ root: dir }), obs).openFile, 'function');
      assert.equal(instrumentDriver(new MemoryDriver(), obs).openFile, undefined);
      assert.equal(instrumentDriver(new MemoryDriver(), obs).name, 'memory');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('passes copy through (server-side copies stay server-side) and reports it as its own operation', async () => {
    const calls: [StorageOperation, StorageOutcome][] = [];
    const copied: string[][] = [];
    class Spy extends MemoryDriver {
      override async copy(from: string, to: string) {
        copied.push([from, to]);
        return super.copy(from, to);
      }
    }
    const d = instrumentDriver(new Spy(), { call: (_d, op, _s, outcome) => calls.push([op, outcome]) });
    assert.equal(typeof d.copy, 'function');
    await d.put('a/blobs/x', Buffer.from('data'));
    assert.equal((await d.copy!('a/blobs/x', 'b/blobs/x')).size, 4);
    await assert.rejects(d.copy!('a/blobs/missing', 'b/blobs/y'), NotFoundError);
    assert.deepEqual(copied, [
      ['a/blobs/x', 'b/blobs/x'],
      ['a/blobs/missing', 'b/blobs/y'],
    ]);
    assert.deepEqual(calls.slice(1), [
      ['copy', 'ok'],
      ['copy', 'not_found'],
    ]);
    assert.equal((await d.get('b/blobs/x'))!.toString(), 'data');
  });

  it('copyObject falls back to read + put for a driver without copy', async () => {
    const inner = new MemoryDriver();
    const plain = instrumentDriver(inner, { call: () => undefined });
    delete (plain as { copy?: unknown }).copy;
    await plain.put('a/k', Buffer.from('bytes'));
    assert.equal((await copyObject(plain, 'a/k', 'b/k')).size, 5);
    assert.equal((await plain.get('b/k'))!.toString(), 'bytes');
    await assert.rejects(copyObject(plain, 'a/missing', 'b/m'), NotFoundError);
    assert.equal(await plain.stat('b/m'), null);
  });

  it("passes every argument through: move's durability option reaches the driver", async () => {
    const seen: unknown[][] = [];
    class Spy extends MemoryDriver {
      override async move(from: string, to: string, o?: { durable?: boolean }): Promise<void> {
        seen.push([from, to, o]);
        return super.move(from, to, o);
      }
    }
    const d = instrumentDriver(new Spy(), { call: () => undefined });
    await d.put('ns/a', Buffer.from('x'));
    await d.move('ns/a', 'ns/b', { durable: false });
    assert.deepEqual(seen, [['ns/a', 'ns/b', { durable: false }]]);
    assert.equal((await d.get('ns/b'))!.toString(), 'x');
  });

  it('the retry hook is told about each retry; retried calls are named by operation', async () => {
    const seen: [string, number][] = [];
    const policy = retryPolicy({ retries: 2, baseDelayMs: 1, maxDelayMs: 2, onRetry: (what, attempt) => seen.push([what, attempt]) });
    let n = 0;
    const v = await withRetries(
      'swift stat ns/x',
      policy,
      async () => {
        if (n++ < 2) throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
        return 'ok';
      },
      { idempotent: true },
    );
    assert.equal(v, 'ok');
    assert.deepEqual(seen, [
      ['swift stat ns/x', 1],
      ['swift stat ns/x', 2],
    ]);
    assert.equal(operationOf('swift stat ns/x'), 'stat');
    assert.equal(operationOf('s3 put ns/blobs/x'), 'put');
    assert.equal(operationOf('swift create container c'), 'other');
  });
});

describe('exposition', () => {
  it('names the series, counts requests by method/route/status class/namespace, and bounds the namespace label', async () => {
    const m = new Metrics({
      namespaces: ['default', 'staging'],
      version: '9.9.9',
      logDropped: () => 7,
      eventQueues: () => [{ endpoint: 'ci', length: 3 }],
    });
    for (const ns of ['default', 'staging', 'dyn-1', 'dyn-2']) {
      m.requestStarted();
      m.request({ method: 'GET', route: 'manifest', status: 200, namespace: ns, seconds: 0.01, bytesIn: 100, bytesOut: 2000 });
    }
    m.requestStarted();
    m.request({ method: 'BREW', route: 'unknown', status: 418, namespace: 'default', seconds: 0.001, bytesIn: 0, bytesOut: 0 });
    m.storage.call('swift', 'stat', 0.002, 'ok');
    m.retryHook('swift')('swift put ns/x');
    m.mirror.cache('docker.io', 'blob', false);
    m.auth.failedLogin();
    m.events.dropped('ci', 'queue-full');
    const text = await m.text();
    assert.equal(sample(text, 'wharf_http_requests_total', { method: 'GET', route: 'manifest', status: '2xx', namespace: 'default' }), 1);
    assert.equal(
      sample(text, 'wharf_http_requests_total', { namespace: 'other', status: '2xx' }),
      2,
      'unconfigured namespaces share one label',
    );
    assert.equal(sample(text, 'wharf_http_requests_total', { method: 'other', status: '4xx' }), 1);
    assert.equal(sample(text, 'wharf_http_received_bytes_total', { route: 'manifest' }), 400);
    assert.equal(sample(text, 'wharf_http_sent_bytes_total', { route: 'manifest' }), 8000);
    assert.equal(sample(text, 'wharf_http_request_duration_seconds_count', { method: 'GET', route: 'manifest' }), 4);
    assert.equal(sample(text, 'wharf_http_requests_in_flight'), 0);
    assert.equal(sample(text, 'wharf_storage_operations_total', { driver: 'swift', operation: 'stat', outcome: 'ok' }), 1);
    assert.equal(sample(text, 'wharf_storage_retries_total', { driver: 'swift', operation: 'put' }), 1);
    assert.equal(sample(text, 'wharf_mirror_cache_requests_total', { namespace: 'other', kind: 'blob', result: 'miss' }), 1);
    assert.equal(sample(text, 'wharf_auth_failed_logins_total'), 1);
    assert.equal(sample(text, 'wharf_events_dropped_total', { endpoint: 'ci', reason: 'queue-full' }), 1);
    assert.equal(sample(text, 'wharf_events_queue_length', { endpoint: 'ci' }), 3);
    assert.equal(sample(text, 'wharf_log_dropped_lines_total'), 7);
    assert.equal(sample(text, 'wharf_build_info', { version: '9.9.9' }), 1);
    assert.ok(sample(text, 'nodejs_eventloop_lag_seconds') !== undefined, 'event-loop metrics');
    assert.ok(sample(text, 'process_cpu_seconds_total') !== undefined, 'process metrics');
    // No repository, digest or user labels anywhere.
    assert.doesNotMatch(text, /\b(repository|digest|user)="/);
  });

  it('streams a body through the decorator unchanged', async () => {
    const d = instrumentDriver(new MemoryDriver(), { call: () => undefined });
    await d.put('ns/s', Readable.from([Buffer.from('ab'), Buffer.from('cd')]));
    const chunks: Buffer[] = [];
    for await (const c of await d.read('ns/s', { start: 1 })) chunks.push(c as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), 'bcd');
  });
});

describe('prune runs in the metrics', () => {
  it('a scheduled run is counted with what it removed; a paused schedule (read-only) skips runs; a failure is counted', async () => {
    const m = new Metrics({ namespaces: ['default'], version: 'x' });
    const driver = new MemoryDriver();
    await driver.put('default/blobs/sha256/' + 'a'.repeat(64), Buffer.alloc(10)); // unreferenced: swept with grace 0
    const logs: string[] = [];
    const log = { info: (x: string) => logs.push(x), warn: (x: string) => logs.push(x), error: (x: string) => logs.push(x) };
    let paused = true;
    const reports: PruneReport[] = [];
    const s = schedulePrune(
      driver,
      0.5,
      { graceSeconds: 0, now: () => Date.now() + 10_000 },
      log,
      (r) => {
        reports.push(r);
        m.pruneFinished(r);
      },
      {
        paused: () => paused,
        onFailure: (_e, ms) => m.pruneFailed(ms),
      },
    );
    // Every half second: wait for the first due run (skipped), then for one that runs.
    const until = async (cond: () => boolean) => {
      for (const deadline = Date.now() + 10_000; !cond() && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
    };
    await until(() => logs.length > 0);
    assert.ok(logs.includes('prune skipped: the registry is read-only'), JSON.stringify(logs));
    assert.equal(reports.length, 0);
    paused = false;
    await until(() => reports.length > 0);
    await s.stop();
    assert.ok(reports.length >= 1, JSON.stringify(logs));
    const text = await m.text();
    assert.equal(sample(text, 'wharf_prune_runs_total', { outcome: 'ok' }), reports.length);
    assert.ok((sample(text, 'wharf_prune_reclaimed_bytes_total') ?? 0) >= 10);
    assert.ok((sample(text, 'wharf_prune_reclaimed_objects_total') ?? 0) >= 1);
    assert.ok((sample(text, 'wharf_prune_last_success_timestamp_seconds') ?? 0) > 0);
    assert.equal(sample(text, 'wharf_prune_duration_seconds_count'), reports.length);
    const ranMs = reports.reduce((n, r) => n + r.durationMs, 0);
    assert.ok(Math.abs((sample(text, 'wharf_prune_duration_seconds_sum') ?? -1) - ranMs / 1000) < 1e-6);
    m.pruneFailed(1500);
    const after = await m.text();
    assert.equal(sample(after, 'wharf_prune_runs_total', { outcome: 'failed' }), 1);
    // A failed run's time counts too (a slow failing store shows in the histogram).
    assert.equal(sample(after, 'wharf_prune_duration_seconds_count'), reports.length + 1);
    assert.ok(Math.abs((sample(after, 'wharf_prune_duration_seconds_sum') ?? -1) - (ranMs + 1500) / 1000) < 1e-6);
  });
});
