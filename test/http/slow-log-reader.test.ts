// Logging never stalls the event loop and never holds unbounded memory: a
// Wharf whose stderr is a pipe nobody reads (a stuck log collector) keeps
// answering; once its bounded log buffer (16 MiB) is full, further lines are
// dropped and counted (wharf_log_dropped_lines_total) instead of piling up.
//   npm run build && node --test --test-concurrency=1 dist/test/http/slow-log-reader.test.js
// Not in test:quick: 3000 requests with 12 KB log lines (~25 s on a loaded machine).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { freePort, WHARF_BIN } from '../helpers/wharf.js';
import { sample, waitFor } from '../helpers/ops.js';

describe('a log reader that never reads', { timeout: 120_000 }, () => {
  let child: ChildProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'wharf-slowlog-'));
  after(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('requests keep being answered long after the pipe is full', async () => {
    const port = await freePort();
    const config = join(dir, 'wharf.yaml');
    writeFileSync(
      config,
      stringify({ registry: { port, 'log-level': 'debug', storage: { driver: 'filesystem', root: join(dir, 'data') } } }),
    );
    // stderr is a pipe this test never reads from: once its ~64 KiB are full, nothing drains it.
    child = spawn(process.execPath, [WHARF_BIN, 'serve', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.pause();
    const url = `http://127.0.0.1:${port}`;
    await waitFor(
      'wharf to listen',
      async () => {
        try {
          const r = await fetch(`${url}/v2/`);
          await r.arrayBuffer();
          return r.status === 200;
        } catch {
          return false;
        }
      },
      20_000,
    );
    // 3000 requests whose access-log lines carry a 12 KB URL: ~36 MB of log, more than pipe and buffer hold.
    const pad = 'x'.repeat(12_000);
    let answered = 0;
    const worker = async (k: number) => {
      for (let i = 0; i < 375; i++) {
        const r = await fetch(`${url}/v2/some/repo-${k}/manifests/tag-${i}?pad=${pad}`, { signal: AbortSignal.timeout(15_000) });
        await r.arrayBuffer();
        assert.equal(r.status, 404);
        answered++;
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, k) => worker(k)));
    assert.equal(answered, 3000);
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(15_000) })).text();
    assert.ok((sample(text, 'wharf_http_requests_total', { route: 'manifest', status: '4xx' }) ?? 0) >= 3000);
    const dropped = sample(text, 'wharf_log_dropped_lines_total') ?? 0;
    assert.ok(dropped >= 500, `log lines dropped: ${dropped}`);
    assert.ok(child.exitCode === null, 'still running');
  });
});
