// The id of this boot of the host (Linux: /proc/sys/kernel/random/boot_id,
// the host's even inside a container). The filesystem driver names the
// writes it does not sync with it (StorageDriver.volatileEpoch): a power loss
// can lose those, and only a new boot can follow a power loss. Where the
// kernel gives none, a random id per process: safe (every other process then
// reads back what this one stored before publishing it), only slower.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function bootId(): string {
  if (cached === undefined) {
    try {
      cached = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      // no procfs: fall through
    }
    if (!cached) cached = `process-${randomUUID()}`;
  }
  return cached;
}
