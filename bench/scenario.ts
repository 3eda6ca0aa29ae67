// What a benchmark scenario is: data prepared once per round (shared by both
// registries, so both get identical bytes), and a run against one freshly
// started registry that reports its metrics and the server's CPU and memory
// over the measured window.
import type { RegistryClient } from './client.js';
import type { BenchServer, ServerWindow } from './servers.js';
import { GiB, MiB } from './stats.js';

export interface Target {
  /** 'ratio': Wharf/Distribution (oriented, > 1 = Wharf better) must reach `min`; 'wharf-max': Wharf's own value must be ≤ `max`. */
  kind: 'ratio' | 'wharf-max';
  value: number;
  text: string;
}

export interface Metric {
  key: string;
  label: string;
  unit: string;
  better: 'higher' | 'lower';
  digits?: number;
  target?: Target;
}

export interface Sizes {
  quick: boolean;
  /** Scenarios 1 and 2: one blob pushed in one PATCH / one PUT. */
  bigBytes: number;
  /** Scenario 3: total of the 8 MiB-chunk push. */
  chunk8Bytes: number;
  /** Scenario 4: total of the 1 MiB-chunk push. */
  chunk1Bytes: number;
  /** Scenario 5: pulled blob. */
  pullBytes: number;
  /** Scenario 6: number of small blobs (a manifest per 10). */
  smallCount: number;
  smallConcurrency: number;
  /** Scenario 7: seconds and connections of the HEAD/GET storm. */
  concSeconds: number;
  concConnections: number;
  /** Scenario 8: layer sizes (bytes). */
  imageLayers: number[];
  /** Scenario 9: seconds of idle small pulls, and the size of the concurrent push. */
  latencyIdleSeconds: number;
  latencyPushBytes: number;
  latencyClients: number;
  /** Scenario `ui`: repositories in the store, and first visits measured per round. */
  uiRepositories: number;
  uiNavigations: number;
}

export function sizesFor(quick: boolean): Sizes {
  if (quick) {
    return {
      quick,
      bigBytes: 16 * MiB,
      chunk8Bytes: 32 * MiB,
      chunk1Bytes: 8 * MiB,
      pullBytes: 16 * MiB,
      smallCount: 100,
      smallConcurrency: 16,
      concSeconds: 1,
      concConnections: 64,
      imageLayers: [256, 384, 512, 640, 768].map((k) => k * 1024),
      latencyIdleSeconds: 1,
      latencyPushBytes: 64 * MiB,
      latencyClients: 4,
      uiRepositories: 10_000,
      uiNavigations: 5,
    };
  }
  return {
    quick,
    bigBytes: GiB,
    chunk8Bytes: GiB,
    chunk1Bytes: 256 * MiB,
    pullBytes: GiB,
    smallCount: 2000,
    smallConcurrency: 16,
    concSeconds: 10,
    concConnections: 64,
    imageLayers: [2, 3, 4, 5, 6].map((m) => m * MiB),
    latencyIdleSeconds: 5,
    latencyPushBytes: GiB,
    latencyClients: 4,
    uiRepositories: 10_000,
    uiNavigations: 20,
  };
}

export interface RunResult {
  metrics: Record<string, number>;
  window: ServerWindow;
}

export interface Scenario<P = unknown> {
  /** Short name for --only. */
  name: string;
  title: string;
  /** The table's title when it depends on the sizes (default: title). */
  titleFor?(s: Sizes): string;
  /** What the row's workload was, with sizes. */
  describe(s: Sizes): string;
  metrics: Metric[];
  /**
   * Runs against Wharf alone (the web UI: Distribution has none), and only when
   * named with --only: its column for the other side stays empty.
   */
  wharfOnly?: boolean;
  prepare(s: Sizes): P | Promise<P>;
  run(server: BenchServer, data: P, s: Sizes): Promise<RunResult>;
}

export function defineScenario<P>(s: Scenario<P>): Scenario<unknown> {
  return s as unknown as Scenario<unknown>;
}

/** A client for one server run (closed when done). */
export async function withClient<T>(server: BenchServer, connections: number, fn: (c: RegistryClient) => Promise<T>): Promise<T> {
  const { RegistryClient } = await import('./client.js');
  const c = new RegistryClient(server.url, connections);
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

export function fmtBytes(n: number): string {
  if (n >= GiB && n % GiB === 0) return `${n / GiB} GiB`;
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} B`;
}
