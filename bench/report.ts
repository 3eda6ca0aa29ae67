// The benchmark's table: one row per metric — Wharf, Distribution and the
// median of per-round Wharf/Distribution ratios (oriented so that > 1 means
// Wharf is better) — with each side's server CPU seconds and peak RSS for the
// scenario (medians over rounds), as plain text and as Markdown.
import type { Metric, Target } from './scenario.js';
import type { ServerWindow } from './servers.js';

/** The two sides of a round: Wharf, and the registry it is compared with (Distribution, or Wharf quiet). */
type Side = 'wharf' | 'distribution';
import { median } from './stats.js';

export interface SideResult {
  metrics?: Record<string, number>;
  window?: ServerWindow;
  error?: string;
}

export interface RoundResult {
  round: number;
  wharf: SideResult;
  distribution: SideResult;
  /** Oriented ratio per metric (> 1: Wharf better). */
  ratios: Record<string, number>;
}

export interface MetricSummary {
  wharf: number;
  distribution: number;
  ratio: number;
  target?: Target;
  met?: boolean;
}

export interface ScenarioResult {
  name: string;
  title: string;
  description: string;
  metrics: Metric[];
  rounds: RoundResult[];
  summary: Record<string, MetricSummary>;
  cpuSeconds: Record<Side, number>;
  peakRssMB: Record<Side, number>;
  clientCpuSeconds: Record<Side, number>;
  wallSeconds: Record<Side, number>;
}

export function orientedRatio(m: Metric, wharf: number, dist: number): number {
  return m.better === 'higher' ? wharf / dist : dist / wharf;
}

export function summarize(name: string, title: string, description: string, metrics: Metric[], rounds: RoundResult[]): ScenarioResult {
  const side = (k: Side) => rounds.map((r) => r[k]).filter((x) => x.metrics);
  const summary: Record<string, MetricSummary> = {};
  for (const m of metrics) {
    const w = median(side('wharf').map((x) => x.metrics![m.key]!));
    const d = median(side('distribution').map((x) => x.metrics![m.key]!));
    const ratio = median(rounds.map((r) => r.ratios[m.key]).filter((x): x is number => x !== undefined));
    const s: MetricSummary = { wharf: w, distribution: d, ratio };
    if (m.target) {
      s.target = m.target;
      s.met = m.target.kind === 'ratio' ? ratio >= m.target.value : w <= m.target.value;
    }
    summary[m.key] = s;
  }
  const win = (k: Side, f: keyof ServerWindow) => median(side(k).map((x) => x.window![f]));
  return {
    name,
    title,
    description,
    metrics,
    rounds,
    summary,
    cpuSeconds: { wharf: win('wharf', 'cpuSeconds'), distribution: win('distribution', 'cpuSeconds') },
    peakRssMB: { wharf: win('wharf', 'peakRssMB'), distribution: win('distribution', 'peakRssMB') },
    clientCpuSeconds: { wharf: win('wharf', 'clientCpuSeconds'), distribution: win('distribution', 'clientCpuSeconds') },
    wallSeconds: { wharf: win('wharf', 'wallSeconds'), distribution: win('distribution', 'wallSeconds') },
  };
}

function num(x: number, digits = 0): string {
  if (!Number.isFinite(x)) return 'n/a';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Column names of the two sides: Wharf against Distribution, or (`--against quiet`) against itself with logs and metrics off. */
export interface SideLabels {
  a: string;
  b: string;
}
export const DISTRIBUTION_LABELS: SideLabels = { a: 'Wharf', b: 'Distribution' };

function head(l: SideLabels): string[] {
  const short = (s: string) => s[0]!.toUpperCase() + (s.includes('quiet') ? 'q' : '');
  return [
    '#',
    'Scenario',
    'Metric',
    l.a,
    l.b,
    `${l.a}/${l.b}`,
    'Target',
    `CPU s ${short(l.a)} / ${short(l.b)}`,
    `Peak RSS MB ${short(l.a)} / ${short(l.b)}`,
  ];
}

function rows(results: ScenarioResult[]): string[][] {
  const out: string[][] = [];
  results.forEach((r, i) => {
    r.metrics.forEach((m, j) => {
      const s = r.summary[m.key]!;
      const target = s.target ? `${s.target.text} ${s.met ? '✓' : '✗'}` : '';
      out.push([
        j === 0 ? String(i + 1) : '',
        j === 0 ? r.title : '',
        m.label,
        num(s.wharf, m.digits),
        num(s.distribution, m.digits),
        Number.isFinite(s.ratio) ? `${num(s.ratio, 2)}×` : 'n/a',
        target,
        j === 0 ? `${num(r.cpuSeconds.wharf, 1)} / ${num(r.cpuSeconds.distribution, 1)}` : '',
        j === 0 ? `${num(r.peakRssMB.wharf)} / ${num(r.peakRssMB.distribution)}` : '',
      ]);
    });
  });
  return out;
}

export function textTable(results: ScenarioResult[], labels: SideLabels = DISTRIBUTION_LABELS): string {
  const HEAD = head(labels);
  const all = [HEAD, ...rows(results)];
  const w = HEAD.map((_, c) => Math.max(...all.map((r) => [...r[c]!].length)));
  const line = (r: string[]) =>
    r
      .map((cell, c) => (c >= 3 && c <= 5 ? cell.padStart(w[c]!) : cell.padEnd(w[c]!)))
      .join('  ')
      .trimEnd();
  return [line(HEAD), w.map((n) => '-'.repeat(n)).join('  '), ...rows(results).map(line)].join('\n');
}

export function markdownTable(results: ScenarioResult[], labels: SideLabels = DISTRIBUTION_LABELS): string {
  const HEAD = head(labels);
  const esc = (s: string) => s.replaceAll('|', '\\|');
  const out = [`| ${HEAD.join(' | ')} |`, `|${HEAD.map((_, c) => (c >= 3 && c <= 5 ? '---:' : '---')).join('|')}|`];
  for (const r of rows(results)) out.push(`| ${r.map(esc).join(' | ')} |`);
  return out.join('\n');
}

export function workloadList(results: ScenarioResult[]): string {
  return results.map((r, i) => `${i + 1}. ${r.title}: ${r.description}.`).join('\n');
}
