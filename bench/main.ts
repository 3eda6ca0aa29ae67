// `npm run bench`: Wharf against CNCF Distribution in the same run.
//
//   npm run bench -- [--rounds N] [--quick] [--only NAME[,NAME]] [--out FILE]
//                    [--profile DIR] [--mib N] [--seconds N] [--small N]
//                    [--label TEXT] [--snapshot] [--list] [--against distribution|quiet|no-log|no-metrics]
//                    [--store fs|s3]
//
// For every scenario, interleaved A/B rounds: each round prepares the data
// once, then starts a fresh Wharf, runs the scenario, stops it, starts a
// fresh Distribution, runs the same scenario, stops it (fresh data
// directories each time, same filesystem). The table shows medians over
// rounds and the median of the per-round ratios. Raw results go to
// bench/results/latest.json (a full run) or bench/results/dev.json (--quick
// or --only). --profile DIR runs the V8 CPU profiler in Wharf and writes
// DIR/wharf-<pid>.cpuprofile (one per server start; summarize them with
// `node dist/bench/cpuprofile.js DIR/*.cpuprofile`). --mib N sets the big
// blob size (scenarios 1-3, 5, 9; scenario 4 uses min(N, 256) MiB),
// --seconds N the HEAD/GET storm, --small N the number of small blobs.
// --snapshot benchmarks the committed HEAD: it is exported to a temp
// directory and built there (native addon and tsc), so that rebuilds of the
// working tree during a long run cannot change the server under test.
// --against quiet compares Wharf as configured by default (access log and
// metrics on) with Wharf with both off, in the same interleaved rounds,
// instead of Distribution: the cost of logs and metrics (budget: 5 % on the
// small HEAD/GET scenario, `--only conc`); there the side that runs first
// alternates from round to round. --against no-log and --against no-metrics
// turn only one of the two off, to see which costs what.
// --store s3 puts both registries on the Swift all-in-one's S3 API (started
// by scripts/swift/start.sh if it is not running; a fresh bucket per server
// start, no redirects: bench/stores.ts) instead of the filesystem.
// --against replicas runs Wharf as --replicas N (default 3) processes on one
// store behind nginx round-robin against 1 process behind the same nginx
// (both sides' CPU counts every replica and nginx): how throughput grows
// with replicas, and where the store becomes the limit. --against
// pool-reads: the filesystem driver as by default (synchronous stats and
// small reads) against WHARF_SYNC_READS=off (through the threadpool).
// --against no-yield: big request bodies pausing for a turn when the event
// loop lags (the default) against WHARF_BODY_YIELD=off (`--only latency,patch`).
import { execFileSync, execSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DISTRIBUTION_BIN } from '../test/helpers/registries.js';
import {
  DISTRIBUTION_LABELS,
  markdownTable,
  orientedRatio,
  summarize,
  textTable,
  workloadList,
  type RoundResult,
  type ScenarioResult,
  type SideLabels,
  type SideResult,
} from './report.js';
import { sizesFor, type Scenario } from './scenario.js';
import { chunked1, chunked8, monolithic, singlePatch } from './scenarios/big-push.js';
import { image } from './scenarios/image.js';
import { latency, latencyPull } from './scenarios/latency.js';
import { pull } from './scenarios/pull.js';
import { smallPull } from './scenarios/small-pull.js';
import { smallPush } from './scenarios/small-push.js';
import { ui } from './scenarios/ui.js';
import { startBenchServer, type ServerKind, type ServerWindow } from './servers.js';
import { BENCH_STORES, benchStore, type BenchStoreKind } from './stores.js';
import { median, MiB } from './stats.js';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

export const SCENARIOS: Scenario[] = [
  singlePatch,
  monolithic,
  chunked8,
  chunked1,
  pull,
  smallPush,
  smallPull,
  image,
  latency,
  latencyPull,
  ui,
];

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string' },
    profile: { type: 'string' },
    list: { type: 'boolean', default: false },
    mib: { type: 'string' },
    seconds: { type: 'string' },
    small: { type: 'string' },
    label: { type: 'string' },
    snapshot: { type: 'boolean', default: false },
    against: { type: 'string', default: 'distribution' },
    store: { type: 'string', default: 'fs' },
    replicas: { type: 'string', default: '3' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.snapshot) process.exit(runSnapshot());

/** Export HEAD, build it, and run this benchmark from there (results still land in this checkout). */
function runSnapshot(): number {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-bench-snapshot-'));
  try {
    const head = execFileSync('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    process.stderr.write(`bench: building a snapshot of ${head} in ${dir}\n`);
    execSync(`git -C '${REPO_ROOT}' archive HEAD | tar -x -C '${dir}'`, { stdio: 'inherit' });
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
    execFileSync(process.execPath, ['scripts/build-native.mjs'], { cwd: dir, stdio: 'inherit' });
    // Type errors elsewhere (tests) don't stop the emit; the two entry points must exist.
    spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], {
      cwd: dir,
      stdio: 'inherit',
    });
    // The web UI (scenario `ui`): bundled by esbuild into dist/ui/.
    if (existsSync(join(dir, 'scripts', 'build-ui.mjs'))) {
      execFileSync(process.execPath, ['scripts/build-ui.mjs'], { cwd: dir, stdio: 'inherit' });
    }
    for (const f of ['dist/bench/main.js', 'dist/src/cli/main.js']) {
      if (!existsSync(join(dir, f))) throw new Error(`snapshot build did not produce ${f}`);
    }
    const args = process.argv.slice(2).filter((a) => a !== '--snapshot');
    if (values.out === undefined)
      args.push(
        '--out',
        outFileFor(
          values.quick ||
            values.against !== 'distribution' ||
            values.store !== 'fs' ||
            values.only !== undefined ||
            values.mib !== undefined ||
            values.seconds !== undefined ||
            values.small !== undefined,
        ),
      );
    if (values.label === undefined) args.push('--label', `${head} (snapshot of HEAD)`);
    const r = spawnSync(process.execPath, [join(dir, 'dist', 'bench', 'main.js'), ...args], { stdio: 'inherit' });
    return r.status ?? 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function outFileFor(partial: boolean): string {
  return resolve(`${REPO_ROOT}/bench/results/${partial ? 'dev' : 'latest'}.json`);
}

if (values.help || values.list) {
  console.log(
    'npm run bench -- [--rounds N] [--quick] [--only NAME[,NAME]] [--out FILE] [--profile DIR]\n                 [--mib N] [--seconds N] [--small N] [--label TEXT] [--snapshot] [--against distribution|quiet|no-log|no-metrics|pool-reads|no-yield|replicas]\n                 [--store fs|s3] [--replicas N]\n\nScenarios:',
  );
  const s = sizesFor(values.quick);
  for (const sc of SCENARIOS)
    console.log(`  ${sc.name.padEnd(8)} ${sc.title}: ${sc.describe(s)}${sc.wharfOnly ? ' (only with --only)' : ''}`);
  process.exit(0);
}

/** --against: the second side of every round, and its name in the tables. */
const AGAINST: Record<string, { kind: ServerKind; label: string; versus: string }> = {
  distribution: { kind: 'distribution', label: 'Distribution', versus: 'Wharf vs CNCF Distribution' },
  quiet: {
    kind: 'wharf-quiet',
    label: 'Wharf quiet',
    versus: 'Wharf (access log + metrics on, the defaults) vs Wharf quiet (access-log: false, metrics: false)',
  },
  'no-log': {
    kind: 'wharf-no-log',
    label: 'Wharf no log',
    versus: 'Wharf (the defaults) vs Wharf without the access log (access-log: false)',
  },
  'no-metrics': {
    kind: 'wharf-no-metrics',
    label: 'Wharf no metrics',
    versus: 'Wharf (the defaults) vs Wharf without metrics (metrics: false)',
  },
  'pool-reads': {
    kind: 'wharf-pool-reads',
    label: 'Wharf pool reads',
    versus:
      'Wharf (synchronous stats and small reads on the filesystem, the default) vs Wharf with WHARF_SYNC_READS=off (through the threadpool)',
  },
  'no-yield': {
    kind: 'wharf-no-yield',
    label: 'Wharf no yield',
    versus: 'Wharf (big bodies pause for a turn when the event loop lags, the default) vs Wharf with WHARF_BODY_YIELD=off',
  },
  replicas: {
    kind: 'wharf',
    label: 'Wharf ×1',
    versus: `Wharf, ${values.replicas} replicas behind nginx round-robin vs 1 replica behind the same nginx`,
  },
};
const against = AGAINST[values.against];
if (!against) throw new Error(`--against must be one of ${Object.keys(AGAINST).join(', ')}`);
/** Wharf against a variant of itself (the cost of logs and metrics). */
const againstQuiet = values.against !== 'distribution';
/** --against replicas: N replicas (side A) against one (side B), both behind nginx. */
const againstReplicas = values.against === 'replicas';
const replicas = Number(values.replicas);
if (!Number.isInteger(replicas) || replicas < 1) throw new Error('--replicas must be a positive integer');
/** The second side of every round. */
const OTHER: ServerKind = against.kind;
const LABELS: SideLabels = againstReplicas
  ? { a: `Wharf ×${replicas}`, b: against.label }
  : againstQuiet
    ? { a: 'Wharf', b: against.label }
    : DISTRIBUTION_LABELS;
if (againstQuiet) {
  // The targets are against Distribution; against itself the budget is what counts:
  // logs + metrics may cost at most 5 % of the small HEAD/GET throughput.
  for (const sc of SCENARIOS) {
    for (const m of sc.metrics) delete m.target;
    if (sc.name === 'conc' && ['quiet', 'no-log', 'no-metrics'].includes(values.against))
      sc.metrics[0]!.target = { kind: 'ratio', value: 0.95, text: '≥ 0.95× (cost ≤ 5 %)' };
  }
}

if (!BENCH_STORES.includes(values.store as BenchStoreKind)) throw new Error(`--store must be one of ${BENCH_STORES.join(', ')}`);
const store = await benchStore(values.store as BenchStoreKind);

const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a positive integer');
const only = values.only
  ?.split(',')
  .map((x) => x.trim())
  .filter(Boolean);
for (const n of only ?? []) {
  if (!SCENARIOS.some((s) => s.name === n)) throw new Error(`--only: unknown scenario ${n} (${SCENARIOS.map((s) => s.name).join(', ')})`);
}
// Wharf-only scenarios (the web UI) run when named: a full run is the comparison with Distribution.
const selected = only ? SCENARIOS.filter((s) => only.includes(s.name)) : SCENARIOS.filter((s) => !s.wharfOnly);
const sizes = sizesFor(values.quick);
if (values.mib !== undefined) {
  const n = Number(values.mib) * MiB;
  if (!(n > 0)) throw new Error('--mib must be positive');
  sizes.bigBytes = sizes.chunk8Bytes = sizes.pullBytes = sizes.latencyPushBytes = n;
  sizes.chunk1Bytes = Math.min(n, 256 * MiB);
}
if (values.seconds !== undefined) sizes.concSeconds = Number(values.seconds);
if (values.small !== undefined) sizes.smallCount = Number(values.small);
const full =
  !againstQuiet &&
  store.kind === 'fs' &&
  !values.quick &&
  !only &&
  values.mib === undefined &&
  values.seconds === undefined &&
  values.small === undefined;
const outFile = values.out !== undefined ? resolve(values.out) : outFileFor(!full);
const wharfEnv: Record<string, string> = {};
if (values.profile) {
  const dir = resolve(values.profile);
  mkdirSync(dir, { recursive: true });
  // Node refuses --cpu-prof in NODE_OPTIONS: a preloaded hook runs the profiler instead.
  const hook = new URL('./profile-hook.js', import.meta.url).href;
  wharfEnv.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import=${hook}`.trim();
  wharfEnv.BENCH_WHARF_PROFILE_DIR = dir;
}

function log(msg: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${msg}\n`);
}

function distributionVersion(): string {
  try {
    return execFileSync(DISTRIBUTION_BIN, ['--version'], { encoding: 'utf8' }).trim();
  } catch (err) {
    return `unknown (${String(err)})`;
  }
}

function brief(sc: Scenario, r: SideResult): string {
  if (r.error) return `ERROR ${r.error.split('\n')[0]}`;
  const m = sc.metrics.map((x) => `${x.key}=${r.metrics![x.key]!.toFixed(x.digits ?? 0)}`).join(' ');
  return `${m} (server cpu ${r.window!.cpuSeconds.toFixed(2)} s, main thread ${r.window!.mainThreadCpuSeconds.toFixed(2)} s, peak rss ${r.window!.peakRssMB.toFixed(0)} MB, client cpu ${r.window!.clientCpuSeconds.toFixed(2)} s, ${r.window!.wallSeconds.toFixed(2)} s)`;
}

/** One side of a round: a server kind, alone or as replicas behind nginx. */
interface Side {
  slot: 'wharf' | 'distribution';
  kind: ServerKind;
  replicas?: number;
  name: string;
}
const SIDE_A: Side = againstReplicas
  ? { slot: 'wharf', kind: 'wharf', replicas, name: `wharf-x${replicas}` }
  : { slot: 'wharf', kind: 'wharf', name: 'wharf' };
const SIDE_B: Side = againstReplicas
  ? { slot: 'distribution', kind: 'wharf', replicas: 1, name: 'wharf-x1' }
  : { slot: 'distribution', kind: OTHER, name: OTHER };

async function runSide(side: Side, sc: Scenario, data: unknown): Promise<{ result: SideResult; info: string; pid?: number }> {
  const kind = side.kind;
  let server;
  let storage;
  try {
    storage = await store.open();
    server = await startBenchServer(kind, { wharfEnv: kind !== 'distribution' ? wharfEnv : {}, storage, replicas: side.replicas });
  } catch (err) {
    await storage?.destroy().catch(() => {});
    return { result: { error: `start: ${String((err as Error)?.message ?? err)}` }, info: '' };
  }
  try {
    const r = await sc.run(server, data, sizes);
    return { result: { metrics: r.metrics, window: r.window }, info: server.info, pid: server.pid };
  } catch (err) {
    const out = server.output().trim().split('\n').slice(-5).join('\n');
    return {
      result: { error: `${String((err as Error)?.stack ?? err)}${out ? `\nserver output (tail):\n${out}` : ''}` },
      info: server.info,
    };
  } finally {
    await server.stop();
    await storage.destroy().catch((err) => log(`could not remove the bench's bucket: ${String(err)}`));
  }
}

function gitDescribe(): string {
  try {
    const head = execFileSync('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['-C', REPO_ROOT, 'status', '--porcelain', '--', 'src', 'bin', 'native'], {
      encoding: 'utf8',
    }).trim();
    return dirty ? `${head} + uncommitted changes` : head;
  } catch {
    return 'unknown';
  }
}

const startedAt = new Date();
const env = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  node: process.version,
  distribution: distributionVersion(),
  wharfHashEngine: '',
  source: values.label ?? gitDescribe(),
  store: store.describe,
  loadAverageAtStart: loadavg(),
  loadAverageAtEnd: [] as number[],
};
log(
  `bench: ${selected.map((s) => s.name).join(', ')}; ${rounds} round(s)${sizes.quick ? ', quick sizes' : ''}; ${env.cpus} cpus; ${env.distribution}; store: ${store.describe}`,
);

const results: ScenarioResult[] = [];
let failures = 0;
for (const sc of selected) {
  const desc = sc.describe(sizes);
  log(`[${sc.name}] ${sc.title}: ${desc}`);
  const rs: RoundResult[] = [];
  for (let round = 1; round <= rounds; round++) {
    const data = await sc.prepare(sizes);
    // The second side's results sit in the `distribution` slot (with --against quiet: Wharf quiet, and so on).
    const sides = {} as Record<'wharf' | 'distribution', SideResult>;
    // Against itself the two sides differ by a few per cent: alternate which one runs first, so that
    // an order effect (page cache, the previous server still exiting) cannot pass for a cost.
    const order = sc.wharfOnly ? [SIDE_A] : againstQuiet && round % 2 === 0 ? [SIDE_B, SIDE_A] : [SIDE_A, SIDE_B];
    sides.distribution = {};
    for (const side of order) {
      const { result, info, pid } = await runSide(side, sc, data);
      if (side.slot === 'wharf' && info) env.wharfHashEngine = info;
      if (result.error) failures++;
      sides[side.slot] = result;
      log(
        `[${sc.name}] round ${round}/${rounds} ${side.name.padEnd(12)} ${brief(sc, result)}${values.profile && pid ? ` pid ${pid}` : ''}`,
      );
    }
    const ratios: Record<string, number> = {};
    if (sides.wharf.metrics && sides.distribution.metrics) {
      for (const m of sc.metrics) ratios[m.key] = orientedRatio(m, sides.wharf.metrics[m.key]!, sides.distribution.metrics[m.key]!);
    }
    rs.push({ round, wharf: sides.wharf, distribution: sides.distribution, ratios });
  }
  results.push(summarize(sc.name, sc.titleFor?.(sizes) ?? sc.title, desc, sc.metrics, rs));
}

const finishedAt = new Date();
env.loadAverageAtEnd = loadavg();
const report = {
  startedAt: startedAt.toISOString(),
  finishedAt: finishedAt.toISOString(),
  minutes: (finishedAt.getTime() - startedAt.getTime()) / 60000,
  command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
  /** The second side: `distribution` (its results are under `distribution`), or `quiet`, `no-log`, `no-metrics` (Wharf variants, also under `distribution`). */
  against: values.against,
  ...(againstReplicas ? { replicas } : {}),
  store: store.kind,
  rounds,
  quick: sizes.quick,
  env,
  sizes,
  scenarios: results,
};
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, JSON.stringify(report, null, 2) + '\n');

const versus = against.versus;
const header = `${versus} — ${rounds} interleaved round(s) per scenario, medians; ratio = median of per-round ratios, > 1 means ${LABELS.a} is better. ${env.cpus} × ${env.cpuModel}, Node ${env.node}, Wharf ${env.source} (${env.wharfHashEngine})${againstQuiet ? '' : `, ${env.distribution}`}; store: ${store.describe}. MB = 10^6 bytes; CPU = server user+system seconds in the measured window; RSS = server peak resident memory.`;
console.log(`\n${header}\n`);
console.log(textTable(results, LABELS));
console.log(`\nWorkloads:\n${workloadList(results)}`);
console.log(`\nMarkdown:\n\n${markdownTable(results, LABELS)}\n\n${workloadList(results)}\n`);
if (againstQuiet) {
  // What a request costs the server: a throughput ratio on a loaded machine moves with the load, this less.
  for (const r of results) {
    const perRequest = (side: 'wharf' | 'distribution', cpu: (w: ServerWindow) => number) =>
      median(
        r.rounds
          .map((x) => x[side])
          .filter((x) => x.metrics?.rps && x.window)
          .map((x) => (cpu(x.window!) / (x.metrics!.rps! * x.window!.wallSeconds)) * 1000),
      );
    if (!r.rounds.some((x) => x.wharf.metrics?.rps)) continue;
    const all = (w: ServerWindow) => w.cpuSeconds;
    const main = (w: ServerWindow) => w.mainThreadCpuSeconds;
    // The load generator's own cost: equal on both sides unless the bench does work for one of them.
    const client = (w: ServerWindow) => w.clientCpuSeconds;
    const [a, b] = [perRequest('wharf', all), perRequest('distribution', all)];
    console.log(
      `${r.name}: server CPU per request (median of rounds) ${LABELS.a} ${a.toFixed(3)} ms, ${LABELS.b} ${b.toFixed(3)} ms (${((a / b - 1) * 100).toFixed(1)} %); main thread ${perRequest('wharf', main).toFixed(3)} / ${perRequest('distribution', main).toFixed(3)} ms; client CPU per request ${perRequest('wharf', client).toFixed(3)} / ${perRequest('distribution', client).toFixed(3)} ms`,
    );
  }
}
console.log(
  `Raw results: ${outFile} (${report.minutes.toFixed(1)} min; 1-min load average ${env.loadAverageAtStart[0]!.toFixed(1)} at start, ${env.loadAverageAtEnd[0]!.toFixed(1)} at end)`,
);
if (failures > 0) {
  console.log(`\n${failures} run(s) failed; see the log above and the errors in ${outFile}.`);
  process.exitCode = 1;
}
