// Worker thread for scenarios 9 and 10: pushes one big blob in one PATCH (or
// pulls it, every byte verified) on its own event loop, so the main thread's
// latency probes are not delayed by the client side of the transfer.
import { parentPort, workerData } from 'node:worker_threads';
import { RegistryClient } from './client.js';
import { Payload } from './payload.js';

interface PushJob {
  origin: string;
  repo: string;
  size: number;
  seed: Uint8Array;
  digest: string;
  /** 'pull': GET the blob (pushed before) instead of pushing it. */
  mode?: 'push' | 'pull';
}

const job = workerData as PushJob;
const c = new RegistryClient(job.origin, 2);
const p = new Payload(job.size, Buffer.from(job.seed), job.digest);
const t0 = performance.now();
try {
  if (job.mode === 'pull') {
    await c.pullVerify(job.repo, p);
  } else {
    await c.pushSinglePatch(job.repo, p);
    await c.checkStored(job.repo, p.digest, p.size);
  }
  parentPort!.postMessage({ ok: true, seconds: (performance.now() - t0) / 1000 });
} catch (err) {
  parentPort!.postMessage({ ok: false, error: String((err as Error)?.stack ?? err) });
} finally {
  await c.close();
}
