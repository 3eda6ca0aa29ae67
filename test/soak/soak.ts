// The soak: a `wharf serve` (filesystem storage, prune on its own schedule,
// a mirror namespace) under the mixed load of load.ts for a while, with a
// second Wharf as the mirror's upstream and `wharf prune` processes run
// against the same store now and then. The server's event-loop delay, memory
// and open file descriptors are sampled once a second from inside it
// (sampler.ts). Afterwards: no growth after warm-up beyond noise (analysis.ts),
// and the store is clean — every image that should be there pulls whole,
// no upload is left but the abandoned ones (and none after a prune with
// upload age 0), no temp file, no file left open, every blob hashes to its
// name, `wharf fsck --deep` finds no damage, nothing bad in the server's log.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { OciClient } from '../helpers/oci-client.js';
import { fdSummary } from '../helpers/proc.js';
import { startWharf, WHARF_BIN, type WharfProcess } from '../helpers/wharf.js';
import { analyse, type Analysis } from './analysis.js';
import { Load, pullImage } from './load.js';
import type { Sample } from './sampler.js';

export interface SoakOptions {
  /** Seconds of load. */
  seconds: number;
  workers?: number;
  /** Seconds between `wharf prune` runs from outside the server (0: none). */
  cliPruneEvery?: number;
  log?: (line: string) => void;
}

export interface SoakReport {
  seconds: number;
  failures: string[];
  analysis: Analysis;
  samples: number;
  ops: Record<string, number>;
  latencyMs: Record<string, { p50: number; p99: number }>;
  mbUp: number;
  mbDown: number;
  prunes: { serve: number; cli: number };
  final: { blobs: number; uploadsBeforePrune: number; liveImages: number };
}

const MIRROR = 'mirror.soak';
const SERVER_TROUBLE_RE =
  /request failed|on garbage collection|Unhandled|uncaught|FATAL|out of memory|MaxListenersExceeded|prune failed|prune problem/i;

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function uploadIds(root: string): string[] {
  return listDir(root)
    .filter((ns) => !ns.startsWith('_'))
    .flatMap((ns) => listDir(join(root, ns, 'uploads')));
}

async function misnamedBlobs(root: string): Promise<{ count: number; bad: string[] }> {
  let count = 0;
  const bad: string[] = [];
  for (const ns of listDir(root)) {
    for (const alg of listDir(join(root, ns, 'blobs'))) {
      for (const hex of listDir(join(root, ns, 'blobs', alg))) {
        const file = join(root, ns, 'blobs', alg, hex);
        if (!statSync(file).isFile()) continue;
        count++;
        const h = createHash(alg);
        for await (const piece of createReadStream(file)) h.update(piece as Buffer);
        if (h.digest('hex') !== hex) bad.push(`${ns}/${alg}:${hex}`);
      }
    }
  }
  return { count, bad };
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** `wharf prune` against the server's store; resolves with its exit code and output. */
function runPrune(configPath: string, args: string[] = []): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [WHARF_BIN, 'prune', '--config', configPath, '--json', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

/** A `wharf` command whose JSON report is on stdout (kept apart from stderr). */
function runWharfJson(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [WHARF_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    // 'close', not 'exit': only then has all of its output been read.
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export async function soak(opts: SoakOptions): Promise<SoakReport> {
  const log = opts.log ?? (() => undefined);
  const failures: string[] = [];
  const upstream = await startWharf();
  let wharf: WharfProcess | undefined;
  try {
    const samplesFile = join(upstream.dataDir, '..', 'samples.jsonl');
    const sampler = pathToFileURL(join(import.meta.dirname, 'sampler.js')).href;
    wharf = await startWharf({
      registry: {
        namespaces: { mirrors: { [MIRROR]: { upstream: upstream.url, 'tag-ttl': 2, timeout: 10 } } },
        // Prune inside serve every 10 s; nothing younger than 8 s goes, uploads idle 15 s do.
        prune: { interval: 10, grace: 8, 'upload-age': 15 },
      },
      env: { NODE_OPTIONS: `--import ${sampler}`, WHARF_SOAK_SAMPLES: samplesFile },
    });
    const configPath = join(wharf.dataDir, '..', 'wharf.yaml');
    const pid = wharf.child.pid!;
    const c = new OciClient(wharf.url);
    const load = new Load(c, new OciClient(upstream.url), MIRROR);
    await load.seedUpstream(3);
    const baseline = fdSummary(pid, wharf.dataDir);
    log(`soak: server ${wharf.url} (pid ${pid}), upstream ${upstream.url}, ${opts.seconds} s of load, ${baseline.total} fds at start`);

    // `wharf prune` from outside, as another replica's schedule would.
    let cliPrunes = 0;
    let stopPrunes = false;
    const pruner = (async () => {
      const every = (opts.cliPruneEvery ?? 20) * 1000;
      if (every <= 0) return;
      while (!stopPrunes) {
        await new Promise((r) => setTimeout(r, every));
        if (stopPrunes) break;
        const p = await runPrune(configPath);
        cliPrunes++;
        if (p.code !== 0) failures.push(`wharf prune exited ${p.code}: ${p.out.slice(-1000)}`);
      }
    })();
    const progress = setInterval(() => {
      const ops = Object.values(load.stats.ops).reduce((a, b) => a + b, 0);
      log(
        `soak: ${ops} operations, ${load.failures.length} failures, ${Math.round(load.stats.bytesUp / 1e6)} MB up, ${Math.round(load.stats.bytesDown / 1e6)} MB down`,
      );
    }, 30_000);
    const started = Date.now();
    await load.run(opts.workers ?? 4, opts.seconds * 1000);
    const loadEnd = Date.now();
    clearInterval(progress);
    stopPrunes = true;
    await pruner;
    failures.push(...load.failures);

    // Every image that should be there pulls whole (after serve's and the CLI's prunes).
    for (const img of load.live.values()) await pullImage(c, img, (m) => failures.push(`after the load, ${img.repo}:${img.tag}: ${m}`));

    // Nothing held open once the clients are gone; back to the start's descriptors.
    // (fetch's idle keep-alive connections close on their own after a few seconds)
    let fds = fdSummary(pid, wharf.dataDir);
    for (const deadline = Date.now() + 15_000; (fds.under.length > 0 || fds.total > baseline.total + 8) && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 250));
      fds = fdSummary(pid, wharf.dataDir);
    }
    if (fds.under.length > 0) failures.push(`files in the store still open after the load: ${fds.under.join(', ')}`);
    if (fds.total > baseline.total + 8) failures.push(`${fds.total} file descriptors open after the load, ${baseline.total} at the start`);

    // Uploads: only the ones abandoned on purpose; none after a prune that removes every idle upload.
    const left = uploadIds(wharf.dataDir);
    const stray = left.filter((id) => !load.abandoned.has(id));
    if (stray.length > 0) failures.push(`uploads left that no client abandoned: ${stray.slice(0, 10).join(', ')}`);
    const final = await runPrune(configPath, ['--upload-age', '0', '--grace', '0']);
    if (final.code !== 0) failures.push(`final wharf prune exited ${final.code}: ${final.out.slice(-1000)}`);
    const after = uploadIds(wharf.dataDir);
    if (after.length > 0) failures.push(`uploads left after prune --upload-age 0: ${after.slice(0, 10).join(', ')}`);
    const tmp = listDir(join(wharf.dataDir, '_tmp'));
    if (tmp.length > 0) failures.push(`temporary files left: ${tmp.slice(0, 10).join(', ')}`);
    // And a prune with no grace broke nothing that is still wanted.
    for (const img of load.live.values())
      await pullImage(c, img, (m) => failures.push(`after prune --grace 0, ${img.repo}:${img.tag}: ${m}`));

    const blobs = await misnamedBlobs(wharf.dataDir);
    if (blobs.bad.length > 0) failures.push(`blobs whose bytes do not hash to their name: ${blobs.bad.join(', ')}`);
    // `wharf fsck --deep` on the store, online: no damage (exit status 0).
    const check = await runWharfJson(['fsck', '--config', configPath, '--json', '--deep']);
    const damage = (() => {
      try {
        const r = JSON.parse(check.stdout) as { findings: Array<{ severity: string; kind: string; object: string; problem: string }> };
        return r.findings.filter((f) => f.severity === 'damage').map((f) => `${f.kind} ${f.object}: ${f.problem}`);
      } catch {
        return [`unreadable report: ${check.stdout.slice(0, 300)} ${check.stderr.slice(-300)}`];
      }
    })();
    if (damage.length > 0 || check.code !== 0) failures.push(`wharf fsck --deep exited ${check.code}: ${damage.slice(0, 10).join(' | ')}`);

    const trouble = wharf
      .output()
      .split('\n')
      .filter((l) => SERVER_TROUBLE_RE.test(l));
    if (trouble.length > 0) failures.push(`the server logged:\n${trouble.slice(0, 10).join('\n')}`);
    if (wharf.child.exitCode !== null || wharf.child.signalCode !== null)
      failures.push(`the server exited:\n${wharf.output().slice(-3000)}`);

    const samples: Sample[] = existsSync(samplesFile)
      ? readFileSync(samplesFile, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Sample)
      : [];
    const during = samples.filter((s) => s.t >= started && s.t <= loadEnd);
    const analysis = analyse(during);
    failures.push(...analysis.problems);
    const serveRuns = (wharf.output().match(/"msg":"prune finished"/g) ?? []).length;
    return {
      seconds: Math.round((loadEnd - started) / 1000),
      failures,
      analysis,
      samples: during.length,
      ops: load.stats.ops,
      latencyMs: Object.fromEntries(
        Object.entries(load.stats.latency).map(([k, v]) => [k, { p50: percentile(v, 50), p99: percentile(v, 99) }]),
      ),
      mbUp: Math.round(load.stats.bytesUp / 1e6),
      mbDown: Math.round(load.stats.bytesDown / 1e6),
      prunes: { serve: serveRuns, cli: cliPrunes },
      final: { blobs: blobs.count, uploadsBeforePrune: left.length, liveImages: load.live.size },
    };
  } finally {
    await wharf?.cleanup();
    await upstream.cleanup();
  }
}
