// Loaded into the `wharf serve` under soak (NODE_OPTIONS=--import): once a
// second it appends one JSON line to $WHARF_SOAK_SAMPLES with the process's
// event-loop delay over that second (p50, p99, max, in ms), its resident and
// heap memory, and its open file descriptors and active handles. It touches
// nothing of the server; without the variable it does nothing.
import { appendFileSync, readdirSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface Sample {
  /** ms since the epoch */
  t: number;
  p50: number;
  p99: number;
  max: number;
  rss: number;
  heap: number;
  fds: number;
  handles: number;
}

const file = process.env.WHARF_SOAK_SAMPLES;
if (file) {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const timer = setInterval(
    () => {
      const mem = process.memoryUsage();
      const sample: Sample = {
        t: Date.now(),
        p50: delay.percentile(50) / 1e6,
        p99: delay.percentile(99) / 1e6,
        max: delay.max / 1e6,
        rss: mem.rss,
        heap: mem.heapUsed,
        fds: readdirSync('/proc/self/fd').length,
        handles: process.getActiveResourcesInfo().length,
      };
      delay.reset();
      appendFileSync(file, `${JSON.stringify(sample)}\n`);
    },
    Number(process.env.WHARF_SOAK_SAMPLE_MS ?? 1000),
  );
  timer.unref();
}
