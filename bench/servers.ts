// Starts Wharf (`wharf serve`, filesystem driver) and CNCF Distribution
// (`docker-registry serve`, filesystem driver, delete enabled) on loopback,
// each with a fresh data directory under the same temp directory (same
// filesystem), and watches the server process: CPU seconds from
// /proc/<pid>/stat (utime+stime) and peak RSS (VmHWM, reset through
// /proc/<pid>/clear_refs at the start of a measured window, plus VmRSS polled
// every 20 ms as a fallback). The servers write their output (Wharf's access
// log: a line per request) to a file that the bench reads only on failure, so
// that the measuring process does no work per log line.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { startNginx } from '../test/helpers/balancer.js';
import { startDistribution, startWharfRegistry, type RunningRegistry } from '../test/helpers/registries.js';
import type { BenchStorage } from './stores.js';

/**
 * 'wharf-quiet': Wharf with the access log and metrics off (`npm run bench -- --against quiet`);
 * 'wharf-no-log' / 'wharf-no-metrics': only one of them off (`--against no-log|no-metrics`).
 */
export type ServerKind =
  | 'wharf'
  | 'distribution'
  | 'wharf-quiet'
  | 'wharf-no-log'
  | 'wharf-no-metrics'
  | 'wharf-pool-reads'
  | 'wharf-no-yield';

/** The registry settings and environment of each Wharf variant (the access log and metrics are on by default). */
const WHARF_VARIANTS: Record<Exclude<ServerKind, 'distribution'>, { registry?: Record<string, unknown>; env?: Record<string, string> }> = {
  wharf: {},
  'wharf-quiet': { registry: { 'access-log': false, metrics: false } },
  'wharf-no-log': { registry: { 'access-log': false } },
  'wharf-no-metrics': { registry: { metrics: false } },
  /** The filesystem driver's stats and small reads through the threadpool instead of synchronous calls. */
  'wharf-pool-reads': { env: { WHARF_SYNC_READS: 'off' } },
  /** Big request bodies never pause for a lagging event loop (src/registry/upload-yield.ts). */
  'wharf-no-yield': { env: { WHARF_BODY_YIELD: 'off' } },
};
export const SERVER_KINDS: readonly ServerKind[] = ['wharf', 'distribution'];

const CLK_TCK = 100; // getconf CLK_TCK on Linux/x86-64

export interface ServerOptions {
  /**
   * Wharf only: start this many `wharf serve` replicas on the same store behind
   * nginx round-robin (test/helpers/balancer.ts) and measure them together
   * (CPU summed over the replicas and nginx, RSS summed). Absent: one process, no balancer.
   */
  replicas?: number;
  /** Wharf on the filesystem: use this data directory (the replicas share one). */
  dataDir?: string;
  /** Extra environment for Wharf (e.g. NODE_OPTIONS=--cpu-prof). */
  wharfEnv?: Record<string, string>;
  /** Object-store settings for this start (bench/stores.ts); the filesystem when absent. */
  storage?: BenchStorage;
}

export interface ServerWindow {
  /** Server CPU seconds (user+system) in the window. */
  cpuSeconds: number;
  /** Peak resident set size in the window, MB (10^6 bytes). */
  peakRssMB: number;
  /** Wall seconds of the window. */
  wallSeconds: number;
  /** Of cpuSeconds: the server's main thread (for Node, the event loop; the rest is libuv's pool, GC helpers, ...). */
  mainThreadCpuSeconds: number;
  /** CPU seconds of the benchmark client process in the window. */
  clientCpuSeconds: number;
}

export interface BenchServer {
  kind: ServerKind;
  url: string;
  pid: number;
  /** The filesystem store's directory, when there is one. */
  dataDir?: string;
  /** What the server said at start (Wharf: hash engine). */
  info: string;
  /** Measure the server over `fn`. */
  measure<T>(fn: () => Promise<T>): Promise<{ value: T; window: ServerWindow }>;
  stop(): Promise<void>;
  output(): string;
}

function childPids(of: number | 'self' = 'self'): Set<number> {
  const out = new Set<number>();
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${of}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      for (const p of readFileSync(`/proc/${of}/task/${tid}/children`, 'utf8').trim().split(/\s+/)) {
        if (p) out.add(Number(p));
      }
    } catch {
      /* thread gone */
    }
  }
  return out;
}

/** The process and its descendants (a launcher that forks is measured whole). */
function tree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) for (const c of childPids(out[i]!)) out.push(c);
  return out;
}

function cpuOne(pid: number, tid?: number): number {
  try {
    const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields after the command: state(3) ... utime(14) stime(15).
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return 0; // exited
  }
}

/** CPU seconds (user+system) of a process and its descendants. */
export function cpuSecondsOf(pid: number): number {
  return tree(pid).reduce((a, p) => a + cpuOne(p), 0);
}

function statusKiBOne(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  return tree(pid).reduce((a, p) => a + statusKiBOne(p, field), 0);
}

function resetPeak(pid: number): boolean {
  try {
    for (const p of tree(pid)) writeFileSync(`/proc/${p}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export async function startBenchServer(kind: ServerKind, opts: ServerOptions = {}): Promise<BenchServer> {
  if (opts.replicas !== undefined) return startReplicas(kind, opts.replicas, opts);
  const before = childPids();
  let reg: RunningRegistry;
  if (kind !== 'distribution') {
    // 'wharf' runs as configured by default: access log (info) and metrics on.
    reg = await startWharfRegistry({
      registry: {
        'log-level': 'info',
        delete: true,
        ...(opts.storage?.wharf ? { storage: opts.storage.wharf } : {}),
        ...WHARF_VARIANTS[kind].registry,
      },
      env: { WHARF_HASH_ENGINE: 'auto', ...opts.wharfEnv, ...WHARF_VARIANTS[kind].env },
      dataDir: opts.dataDir,
      outputTo: 'file',
    });
  } else {
    reg = await startDistribution({ logLevel: 'warn', outputTo: 'file', storage: opts.storage?.distribution });
  }
  const fresh = [...childPids()].filter((p) => !before.has(p));
  const want = kind === 'distribution' ? 'docker-registry' : 'wharf';
  const pid = fresh.find((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(want);
    } catch {
      return false;
    }
  });
  if (pid === undefined) {
    await reg.stop();
    throw new Error(`could not find the ${kind} server process among ${[...fresh].join(', ') || 'no new children'}`);
  }
  let info = '';
  if (kind !== 'distribution') {
    const m = /"hashEngine":"([^"]+)"/.exec(reg.output());
    info = m ? `hash engine: ${m[1]}` : '';
  } else {
    info = 'docker-registry (CNCF Distribution)';
  }
  return {
    kind,
    url: reg.url,
    pid,
    dataDir: reg.dataDir,
    info,
    output: reg.output,
    stop: () => reg.stop(),
    measure: (fn) => measureProcesses([pid], fn),
  };
}

/** The server window of `pids` (each with its descendants) over `fn`. */
async function measureProcesses<T>(pids: number[], fn: () => Promise<T>): Promise<{ value: T; window: ServerWindow }> {
  const sum = (f: (pid: number) => number) => pids.reduce((a, p) => a + f(p), 0);
  const reset = pids.every((p) => resetPeak(p));
  let polled = sum((p) => statusKiB(p, 'VmRSS'));
  const timer = setInterval(() => {
    try {
      polled = Math.max(
        polled,
        sum((p) => statusKiB(p, 'VmRSS')),
      );
    } catch {
      /* exited */
    }
  }, 20);
  const cpu0 = sum(cpuSecondsOf);
  const main0 = sum((p) => cpuOne(p, p));
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  try {
    const value = await fn();
    const wallSeconds = (performance.now() - t0) / 1000;
    const cpuSeconds = sum(cpuSecondsOf) - cpu0;
    const mainThreadCpuSeconds = sum((p) => cpuOne(p, p)) - main0;
    const c = process.cpuUsage(client0);
    // Summed high-water marks: an upper bound of the peak of the sum.
    const hwm = reset ? sum((p) => statusKiB(p, 'VmHWM')) : NaN;
    const peakKiB = Math.max(polled, Number.isFinite(hwm) ? hwm : 0);
    return {
      value,
      window: {
        cpuSeconds,
        mainThreadCpuSeconds,
        peakRssMB: (peakKiB * 1024) / 1e6,
        wallSeconds,
        clientCpuSeconds: (c.user + c.system) / 1e6,
      },
    };
  } finally {
    clearInterval(timer);
  }
}

/** `replicas` Wharf processes on one store behind nginx round-robin, measured as one server. */
async function startReplicas(kind: ServerKind, replicas: number, opts: ServerOptions): Promise<BenchServer> {
  if (kind === 'distribution') throw new Error('replicas: Wharf only');
  if (!Number.isInteger(replicas) || replicas < 1) throw new Error('replicas must be a positive integer');
  const servers: BenchServer[] = [];
  const stopAll = () => Promise.all(servers.map((r) => r.stop()));
  let balancer;
  try {
    for (let i = 0; i < replicas; i++) {
      // On the filesystem the replicas share the first one's data directory.
      servers.push(await startBenchServer(kind, { ...opts, replicas: undefined, dataDir: servers[0]?.dataDir }));
    }
    balancer = await startNginx(servers.map((r) => Number(new URL(r.url).port)));
  } catch (err) {
    await stopAll();
    throw err;
  }
  const nginx = balancer;
  return {
    kind,
    url: nginx.url,
    pid: servers[0]!.pid,
    dataDir: servers[0]!.dataDir,
    info: servers[0]!.info,
    output: () => servers.map((r, i) => `--- replica ${i + 1}\n${r.output()}`).join('\n') + `\n--- nginx\n${nginx.output()}`,
    stop: async () => {
      await nginx.stop();
      await stopAll();
    },
    measure: (fn) => measureProcesses([...servers.map((r) => r.pid), nginx.child.pid!], fn),
  };
}
