// Growth after warm-up, from the server's once-a-second samples: the first
// quarter of the load (at least 20 s) is warm-up; the rest is cut into three
// equal windows, and the last must not be worse than the first beyond noise:
// open descriptors (median; the peak is reported), resident memory and heap (median), event-loop delay
// (median of the per-second p99). The slopes (per minute, least squares over
// everything after warm-up) go into the report for long runs to compare.
import type { Sample } from './sampler.js';

export interface WindowStats {
  fdsMax: number;
  fdsMedian: number;
  rssMedianMB: number;
  heapMedianMB: number;
  loopP99MedianMs: number;
  loopMaxMs: number;
}

export interface Analysis {
  warmupSamples: number;
  windows: WindowStats[];
  /** Least-squares slope after warm-up, per minute. */
  slope: { rssMBPerMin: number; heapMBPerMin: number; fdsPerMin: number };
  problems: string[];
}

const MB = 1024 * 1024;

function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function slopePerMinute(samples: Sample[], value: (s: Sample) => number): number {
  if (samples.length < 2) return 0;
  const t0 = samples[0]!.t;
  const xs = samples.map((s) => (s.t - t0) / 60_000);
  const ys = samples.map(value);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

function stats(w: Sample[]): WindowStats {
  return {
    fdsMax: Math.max(0, ...w.map((s) => s.fds)),
    fdsMedian: median(w.map((s) => s.fds)),
    rssMedianMB: Math.round((median(w.map((s) => s.rss)) / MB) * 10) / 10,
    heapMedianMB: Math.round((median(w.map((s) => s.heap)) / MB) * 10) / 10,
    loopP99MedianMs: Math.round(median(w.map((s) => s.p99)) * 10) / 10,
    loopMaxMs: Math.round(Math.max(0, ...w.map((s) => s.max)) * 10) / 10,
  };
}

export function analyse(samples: Sample[]): Analysis {
  const problems: string[] = [];
  const warmup = Math.max(20, Math.floor(samples.length / 4));
  const rest = samples.slice(warmup);
  if (rest.length < 30) {
    return {
      warmupSamples: warmup,
      windows: [],
      slope: { rssMBPerMin: 0, heapMBPerMin: 0, fdsPerMin: 0 },
      problems: [`only ${samples.length} samples: too few to judge growth`],
    };
  }
  const third = Math.floor(rest.length / 3);
  const windows = [rest.slice(0, third), rest.slice(third, 2 * third), rest.slice(2 * third)].map(stats);
  const [first, , last] = windows as [WindowStats, WindowStats, WindowStats];
  // Noise allowances: descriptors move with the connections and uploads in
  // flight; memory with garbage collection; the loop's delay with the machine.
  // A leak lifts a whole window; a burst of big pulls in flight (each holds its
  // file and, with sendfile, a second descriptor of its socket) lifts one second.
  if (last.fdsMedian > first.fdsMedian + 8) {
    problems.push(`open descriptors grew: median ${first.fdsMedian} -> ${last.fdsMedian} (peak ${first.fdsMax} -> ${last.fdsMax})`);
  }
  if (last.rssMedianMB > first.rssMedianMB * 1.3 + 16)
    problems.push(`resident memory grew: median ${first.rssMedianMB} MB -> ${last.rssMedianMB} MB`);
  if (last.heapMedianMB > first.heapMedianMB * 1.3 + 8)
    problems.push(`heap grew: median ${first.heapMedianMB} MB -> ${last.heapMedianMB} MB`);
  if (last.loopP99MedianMs > Math.max(first.loopP99MedianMs * 2, first.loopP99MedianMs + 25)) {
    problems.push(`event-loop delay grew: median p99 ${first.loopP99MedianMs} ms -> ${last.loopP99MedianMs} ms`);
  }
  return {
    warmupSamples: warmup,
    windows,
    slope: {
      rssMBPerMin: Math.round(slopePerMinute(rest, (s) => s.rss / MB) * 100) / 100,
      heapMBPerMin: Math.round(slopePerMinute(rest, (s) => s.heap / MB) * 100) / 100,
      fdsPerMin: Math.round(slopePerMinute(rest, (s) => s.fds) * 100) / 100,
    },
    problems,
  };
}
