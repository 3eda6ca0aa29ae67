// Where one image push waits (bench/PROFILE.md, 2026-12-05 evening): starts a
// `wharf serve` (filesystem), pushes images the way scenario 8 does (five
// layers of 2–6 MiB in parallel, each HEAD → POST → PATCH → PUT, then the
// config and the manifest; then pulls them), and prints each request's time.
// With --strace it traces the server's storage calls with their durations
// (strace -f -y -T) and prints, per image, the sync calls summed by the file
// they were made on: counts that do not depend on the machine's load, and
// durations that are the disk's and the journal's.
//
//   node dist/bench/image-timeline.js [--rounds N] [--strace]
//
// The first two images are warm-up and left out of the sums.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startWharfRegistry } from '../test/helpers/registries.js';
import { imageManifest, OCI_CONFIG, OCI_LAYER, RegistryClient } from './client.js';
import { Payload } from './payload.js';
import { configBlob } from './scenarios/small-push.js';
import { MiB } from './stats.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, strace: { type: 'boolean', default: false } } });
const rounds = Number(values.rounds);
const WARMUP = 2;

function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function descendants(pid: number): number[] {
  return children(pid).flatMap((c) => [c, ...descendants(c)]);
}

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** Sync calls in an `strace -f -y -T -tt` log after `from` (seconds of the day), summed by call and file. */
function syncSums(log: string, from: number): Map<string, { n: number; ms: number }> {
  const sums = new Map<string, { n: number; ms: number }>();
  const pending = new Map<string, { t: number; text: string }>();
  const seconds = (hms: string) => {
    const [h, m, s] = hms.split(':');
    return Number(h) * 3600 + Number(m) * 60 + Number(s);
  };
  for (const line of log.split('\n')) {
    const m = /^(\d+)\s+([\d:.]+) (.*)$/.exec(line);
    if (!m) continue;
    const [, pid, hms, rest0] = m as unknown as [string, string, string, string];
    let rest = rest0;
    let t = seconds(hms);
    if (rest.includes('<unfinished')) {
      pending.set(pid, { t, text: rest.split('<unfinished')[0]! });
      continue;
    }
    if (rest.startsWith('<... ')) {
      const p = pending.get(pid);
      if (!p) continue;
      pending.delete(pid);
      rest = p.text + rest.replace(/^<\.\.\. \w+ resumed>/, '');
      t = p.t;
    }
    if (t < from) continue;
    const call = /^(fsync|fdatasync)\(\d+<([^>]*)>.*<([\d.]+)>\s*$/.exec(rest);
    if (!call) continue;
    const file = call[2]!
      .replace(/^.*\/data\//, '')
      .replace(/_tmp\/.*/, '_tmp/<temp>')
      .replace(/uploads\/[^/]+\/.*/, 'uploads/<id>/<part>')
      .replace(/repos\/.*\/(_\w+)$/, 'repos/<r>/$1');
    const key = `${call[1]} ${file}`;
    const s = sums.get(key) ?? { n: 0, ms: 0 };
    s.n++;
    s.ms += Number(call[3]) * 1000;
    sums.set(key, s);
  }
  return sums;
}

const reg = await startWharfRegistry({
  registry: { 'log-level': 'info', delete: true },
  env: { WHARF_HASH_ENGINE: 'auto' },
  outputTo: 'file',
});
const pid = descendants(process.pid).find((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('serve'));
if (pid === undefined) throw new Error('could not find the wharf serve process');
let tracer: ReturnType<typeof spawn> | undefined;
const traceFile = join(mkdtempSync(join(tmpdir(), 'wharf-timeline-')), 'strace.out');
if (values.strace) {
  const calls = 'fsync,fdatasync,rename,link,unlink,openat,close,statx,pwritev,pwrite64,mkdir,rmdir';
  tracer = spawn('strace', ['-f', '-y', '-T', '-tt', '-e', `trace=${calls}`, '-o', traceFile, '-p', String(pid)], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1500));
}
const c = new RegistryClient(reg.url, 8);
const repo = 'bench/image';
let measuredFrom = 0;
const pushes: number[] = [];
async function layer(log: string[], name: string, digest: string, body: () => AsyncIterable<Buffer> | Buffer, size: number): Promise<void> {
  const t = [performance.now()];
  await c.headBlob(repo, digest);
  t.push(performance.now());
  const loc = await c.startUpload(repo);
  t.push(performance.now());
  const next = await c.patch(loc, body(), size);
  t.push(performance.now());
  await c.finish(next, digest);
  t.push(performance.now());
  const ms = (i: number) => (t[i + 1]! - t[i]!).toFixed(1);
  log.push(`${name}: HEAD ${ms(0)} POST ${ms(1)} PATCH ${ms(2)} PUT ${ms(3)} ms`);
}
for (let r = 0; r < rounds + WARMUP; r++) {
  const layers = [2, 3, 4, 5, 6].map((m) => new Payload(m * MiB));
  const config = configBlob(2048);
  const manifest = imageManifest(
    { mediaType: OCI_CONFIG, digest: config.digest, size: config.data.length },
    layers.map((l) => ({ mediaType: OCI_LAYER, digest: l.digest, size: l.size })),
  );
  if (r === WARMUP) measuredFrom = (Date.now() % 86_400_000) / 1000;
  const cpu0 = cpuSeconds(pid);
  const log: string[] = [];
  const a = performance.now();
  await Promise.all(layers.map((l, i) => layer(log, `layer ${i}`, l.digest, () => l.body(), l.size)));
  const b = performance.now();
  await layer(log, 'config', config.digest, () => config.data, config.data.length);
  const cc = performance.now();
  await c.putManifest(repo, `v${r}`, manifest);
  const d = performance.now();
  const m = JSON.parse((await c.getManifest(repo, `v${r}`)).toString()) as { config: { digest: string }; layers: { digest: string }[] };
  await Promise.all([m.config, ...m.layers].map((x) => c.getBlob(repo, x.digest)));
  const e = performance.now();
  if (r < WARMUP) continue;
  pushes.push(d - a);
  console.log(
    `image ${r - WARMUP + 1}: layers ${(b - a).toFixed(1)} config ${(cc - b).toFixed(1)} manifest ${(d - cc).toFixed(1)} ` +
      `push ${(d - a).toFixed(1)} pull ${(e - d).toFixed(1)} ms; server CPU ${(cpuSeconds(pid) - cpu0).toFixed(2)} s`,
  );
  for (const l of log) console.log(`  ${l}`);
}
pushes.sort((x, y) => x - y);
console.log(`median push ${pushes[pushes.length >> 1]!.toFixed(1)} ms over ${rounds} images`);
await c.close();
if (tracer) {
  tracer.kill('SIGINT');
  await new Promise((r) => tracer.once('exit', r));
  console.log(`sync calls per image (${rounds} images; strace log: ${traceFile}):`);
  const sums = [...syncSums(readFileSync(traceFile, 'utf8'), measuredFrom)].sort((x, y) => y[1].ms - x[1].ms);
  for (const [k, v] of sums) console.log(`  ${(v.n / rounds).toFixed(1).padStart(5)} × ${k}: ${(v.ms / rounds).toFixed(1)} ms`);
  console.log(`  ${(sums.reduce((n, [, v]) => n + v.n, 0) / rounds).toFixed(1)} syncs per image`);
}
await reg.stop();
