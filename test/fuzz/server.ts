// A `wharf serve` for the fuzzer (filesystem storage, default limits), seen
// the way the fuzzer checks it: its port, store, process and output.
import { startWharf, type WharfProcess } from '../helpers/wharf.js';
import type { FuzzTarget } from './fuzzer.js';

/** `registry`: settings merged into the generated configuration (e.g. users and buildsets). */
export async function startFuzzTarget(registry?: Record<string, unknown>): Promise<{ wharf: WharfProcess; target: FuzzTarget }> {
  const wharf = await startWharf(registry ? { registry } : {});
  const target: FuzzTarget = {
    port: wharf.port,
    dataDir: wharf.dataDir,
    pid: wharf.child.pid!,
    output: () => wharf.output(),
    alive: () => wharf.child.exitCode === null && wharf.child.signalCode === null,
  };
  return { wharf, target };
}
