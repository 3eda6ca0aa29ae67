// Scenario 9: latency of small pulls (manifest and small blob HEAD/GET, a few
// clients with a short pause between requests) while idle, then while a big
// blob is pushed in one PATCH (from a worker thread). Reports idle and loaded
// p50/p99 and, per registry, loaded p99 / idle p99.
import { Worker } from 'node:worker_threads';
import { Payload } from '../payload.js';
import { defineScenario, fmtBytes, withClient, type Sizes } from '../scenario.js';
import { MB } from '../stats.js';
import { makeSmallImage, seedSmallImage, smallPullLoad, type SmallImage } from './small-pull.js';

const THINK_MS = 5;

interface Data {
  img: SmallImage;
  big: Payload;
}

function pushInWorker(origin: string, repo: string, p: Payload, mode: 'push' | 'pull' = 'push'): Promise<number> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('../push-worker.js', import.meta.url), {
      workerData: { origin, repo, size: p.size, seed: new Uint8Array(p.seed), digest: p.digest, mode },
    });
    let settled = false;
    w.once('message', (m: { ok: boolean; seconds?: number; error?: string }) => {
      settled = true;
      if (m.ok) resolve(m.seconds!);
      else reject(new Error(`push worker: ${m.error}`));
    });
    w.once('error', (e) => {
      settled = true;
      reject(e);
    });
    w.once('exit', (code) => {
      if (!settled) reject(new Error(`push worker exited (${code}) without a result`));
    });
  });
}

/**
 * The scenario for one kind of big transfer: the same probes idle, then while
 * one big blob is pushed in one PATCH ('push') or pulled ('pull', after it is
 * pushed) from a worker thread.
 */
function latencyDuring(mode: 'push' | 'pull', o: { name: string; title: string; bytes: (s: Sizes) => number; transfer: string }) {
  const rate = mode === 'push' ? 'pushMbps' : 'pullMbps';
  return defineScenario<Data>({
    name: o.name,
    title: o.title,
    describe: (s) =>
      `${s.latencyClients} clients of small HEAD/GET (${THINK_MS} ms apart): ${s.latencyIdleSeconds} s idle, then during a ${fmtBytes(o.bytes(s))} ${o.transfer}`,
    metrics: [
      { key: 'idleP50', label: 'idle p50 ms', unit: 'ms', better: 'lower', digits: 2 },
      { key: 'idleP99', label: 'idle p99 ms', unit: 'ms', better: 'lower', digits: 2 },
      { key: 'loadP50', label: `p50 during ${mode} ms`, unit: 'ms', better: 'lower', digits: 2 },
      { key: 'loadP99', label: `p99 during ${mode} ms`, unit: 'ms', better: 'lower', digits: 2 },
      {
        key: 'p99Ratio',
        label: `p99 during ${mode} / idle p99`,
        unit: '×',
        better: 'lower',
        digits: 2,
        target: { kind: 'wharf-max', value: 2, text: 'Wharf ≤ 2×' },
      },
      { key: rate, label: `concurrent ${mode} MB/s`, unit: 'MB/s', better: 'higher', digits: 0 },
    ],
    prepare: (s) => ({ img: makeSmallImage('bench/latency'), big: new Payload(o.bytes(s)) }),
    run: (server, d, s) =>
      withClient(server, s.latencyClients, async (c) => {
        await seedSmallImage(c, d.img);
        if (mode === 'pull') await c.pushMonolithic('bench/latency-big', d.big);
        const warm = Date.now() + 300;
        await smallPullLoad(c, d.img, s.latencyClients, () => Date.now() > warm, THINK_MS);
        const { value, window } = await server.measure(async () => {
          const end = Date.now() + s.latencyIdleSeconds * 1000;
          const idle = await smallPullLoad(c, d.img, s.latencyClients, () => Date.now() >= end, THINK_MS);
          let moving = true;
          const big = pushInWorker(server.url, 'bench/latency-big', d.big, mode).finally(() => {
            moving = false;
          });
          const [loaded, bigSeconds] = await Promise.all([smallPullLoad(c, d.img, s.latencyClients, () => !moving, THINK_MS), big]);
          return { idle, loaded, bigSeconds };
        });
        const idleP99 = value.idle.percentile(99);
        const loadP99 = value.loaded.percentile(99);
        return {
          metrics: {
            idleP50: value.idle.percentile(50),
            idleP99,
            loadP50: value.loaded.percentile(50),
            loadP99,
            p99Ratio: loadP99 / idleP99,
            [rate]: d.big.size / MB / value.bigSeconds,
          },
          window,
        };
      }),
  });
}

export const latency = latencyDuring('push', {
  name: 'latency',
  title: 'Small-pull latency during a big push',
  bytes: (s) => s.latencyPushBytes,
  transfer: 'one-PATCH push',
});

// Scenario 10: the same probes while a big blob is pulled (fairness of the
// pull path: with sendfile the event loop only starts each batch).
export const latencyPull = latencyDuring('pull', {
  name: 'latency-pull',
  title: 'Small-pull latency during a big pull',
  bytes: (s) => s.pullBytes,
  transfer: 'pull',
});
