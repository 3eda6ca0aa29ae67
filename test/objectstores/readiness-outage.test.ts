// /readyz follows the store: with users configured (probes need no
// credentials), it answers 200, turns 503 — saying the storage check failed —
// while the store is stopped, and 200 again once it is back. /healthz stays
// 200 all along (the process is fine). The store is a PRIVATE Swift
// all-in-one, so stopping it disturbs no other test.
//   npm run build && node --test --test-concurrency=1 dist/test/objectstores/readiness-outage.test.js
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { objectStore, startPrivateSwift, type PrivateSwift } from '../helpers/objectstores.js';
import { startWharf, type WharfProcess } from '../helpers/wharf.js';
import { sample, waitFor } from '../helpers/ops.js';

async function probe(url: string): Promise<{ status: number; body: any }> {
  const r = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  return { status: r.status, body: JSON.parse(await r.text()) };
}

describe('readiness while the store is stopped and restarted (private Swift all-in-one)', { timeout: 300_000 }, () => {
  let swift: PrivateSwift | undefined;
  let w: WharfProcess | undefined;

  before(async () => {
    swift = await startPrivateSwift();
    const store = objectStore('swift', swift.env, 'wharf-readyz');
    w = await startWharf({
      registry: {
        users: [{ name: 'ci', pass: 'ci-password', access: 'write' }],
        'readiness-timeout': 2,
        storage: store.storage({ timeout: 2 }),
      },
    });
  });

  after(async () => {
    await w?.cleanup();
    await swift?.purge();
  });

  it('200 -> 503 naming the storage check while down -> 200 after, without credentials', async () => {
    const up = await probe(`${w!.url}/readyz`);
    assert.equal(up.status, 200, JSON.stringify(up.body));

    await swift!.stop();
    const down = await waitFor(
      '/readyz to turn 503',
      async () => {
        const r = await probe(`${w!.url}/readyz`);
        return r.status === 503 ? r : null;
      },
      60_000,
      200,
    );
    assert.equal(down.body.status, 'unavailable');
    assert.deepEqual(down.body.failed, ['storage']);
    assert.equal(down.body.checks.storage.ok, false);
    assert.equal(typeof down.body.checks.storage.error, 'string');
    assert.equal(down.body.checks.draining.ok, true);
    const live = await fetch(`${w!.url}/healthz`);
    assert.equal(live.status, 200, 'liveness does not depend on the store');
    await live.arrayBuffer();

    await swift!.start();
    const back = await waitFor(
      '/readyz to turn 200 again',
      async () => {
        const r = await probe(`${w!.url}/readyz`);
        return r.status === 200 ? r : null;
      },
      90_000,
      250,
    );
    assert.equal(back.body.checks.storage.ok, true);

    // The outage shows in the storage metrics too.
    const text = await (await fetch(`${w!.url}/metrics`)).text();
    assert.ok(
      (sample(text, 'wharf_storage_operations_total', { driver: 'swift', operation: 'list', outcome: 'error' }) ?? 0) >= 1,
      'failed listings counted',
    );
    assert.ok((sample(text, 'wharf_storage_retries_total', { driver: 'swift' }) ?? 0) >= 1, 'retries counted');
  });
});
