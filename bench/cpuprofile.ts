// Summarize V8 CPU profiles (`node --cpu-prof`, e.g. from `npm run bench --
// --profile DIR`): self and inclusive time by function, in ms and percent of
// the profile's wall time.
//
//   node dist/bench/cpuprofile.js [--top N] FILE.cpuprofile...
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

function key(cf: CallFrame): string {
  const file = cf.url ? cf.url.replace(/^file:\/\//, '').replace(/^.*\/(dist|node_modules)\//, '$1/') : '';
  const name = cf.functionName || '(anonymous)';
  return file ? `${name} ${file}:${cf.lineNumber + 1}` : name;
}

export function summarize(p: Profile, top: number): string {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    // timeDeltas[i] is the time before sample i; attribute it to sample i.
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    let id: number | undefined = p.samples[i]!;
    const k = key(byId.get(id)!.callFrame);
    self.set(k, (self.get(k) ?? 0) + dt);
    const seen = new Set<string>();
    while (id !== undefined) {
      const kk = key(byId.get(id)!.callFrame);
      if (!seen.has(kk)) {
        seen.add(kk);
        incl.set(kk, (incl.get(kk) ?? 0) + dt);
      }
      id = parent.get(id);
    }
  }
  // Longest stretches without an idle sample: how long the event loop was
  // unavailable at a time (what a request arriving then waits, at least).
  const stretches: { ms: number; top: string }[] = [];
  let runMs = 0;
  let runFns = new Map<string, number>();
  const closeRun = () => {
    if (runMs > 0) {
      const top = [...runFns.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 2)
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join('; ');
      stretches.push({ ms: runMs, top });
    }
    runMs = 0;
    runFns = new Map();
  };
  for (let i = 0; i < p.samples.length; i++) {
    const k = key(byId.get(p.samples[i]!)!.callFrame);
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    if (k === '(idle)') closeRun();
    else {
      runMs += dt;
      runFns.set(k, (runFns.get(k) ?? 0) + dt);
    }
  }
  closeRun();
  stretches.sort((a, b) => b.ms - a.ms);
  const busyRuns = stretches.map((x) => x.ms);
  const over = (t: number) => busyRuns.filter((x) => x >= t).length;
  const idle = self.get('(idle)') ?? 0;
  const busy = total - idle;
  const fmt = (m: Map<string, number>, skipIdle: boolean) =>
    [...m.entries()]
      .filter(([k]) => !(skipIdle && (k === '(idle)' || k === '(root)')))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, ms]) => `  ${ms.toFixed(0).padStart(8)} ms ${((100 * ms) / total).toFixed(1).padStart(5)}%  ${k}`)
      .join('\n');
  return [
    `wall ${total.toFixed(0)} ms, busy (not idle) ${busy.toFixed(0)} ms = ${((100 * busy) / total).toFixed(1)}% of the main thread`,
    `self time:`,
    fmt(self, false),
    `inclusive time:`,
    fmt(incl, true),
    `event loop busy stretches: ${over(10)} ≥ 10 ms, ${over(50)} ≥ 50 ms, ${over(100)} ≥ 100 ms; longest:`,
    stretches
      .slice(0, 5)
      .map((x) => `  ${x.ms.toFixed(1).padStart(8)} ms  (${x.top})`)
      .join('\n'),
  ].join('\n');
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(basename(process.argv[1]));
if (isMain) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
  for (const f of positionals) {
    console.log(`== ${f}`);
    console.log(summarize(JSON.parse(readFileSync(f, 'utf8')) as Profile, Number(values.top)));
  }
}
