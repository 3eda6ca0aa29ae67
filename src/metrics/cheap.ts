// Counters and histograms for the request path that cost a few additions per
// update. prom-client's own metrics validate and hash their labels on every
// update (a microsecond or two each, a dozen times per request); these keep a
// cell per label set, found once, and hand prom-client's registry the same
// data shape at scrape time (`get()`), so exposition stays prom-client's.
import type { Registry } from 'prom-client';

interface Value {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

interface Collected {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  values: Value[];
  aggregator: 'sum';
}

function labelsOf(names: readonly string[], values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  names.forEach((n, i) => {
    out[n] = values[i]!;
  });
  return out;
}

/**
 * A cell per label set, found label value by label value in nested maps: the
 * values are the same few strings every time (methods, route kinds, status
 * classes, configured names), whose hashes V8 keeps, so a lookup allocates
 * nothing (joining them into one key made a new string to hash per update).
 */
class Cells<C> {
  private readonly root = new Map<string, unknown>();
  private readonly all: { labels: Record<string, string>; cell: C }[] = [];
  constructor(
    private readonly labelNames: readonly string[],
    private readonly make: () => C,
  ) {}
  get(values: readonly string[]): C {
    let node = this.root;
    const last = values.length - 1;
    for (let i = 0; i < last; i++) {
      let next = node.get(values[i]!) as Map<string, unknown> | undefined;
      if (next === undefined) {
        next = new Map();
        node.set(values[i]!, next);
      }
      node = next;
    }
    let e = node.get(values[last]!) as { labels: Record<string, string>; cell: C } | undefined;
    if (e === undefined) {
      e = { labels: labelsOf(this.labelNames, values), cell: this.make() };
      node.set(values[last]!, e);
      this.all.push(e);
    }
    return e.cell;
  }
  entries(): readonly { labels: Record<string, string>; cell: C }[] {
    return this.all;
  }
}

export class CheapCounter {
  private readonly cells: Cells<{ value: number }>;
  constructor(
    readonly name: string,
    readonly help: string,
    labelNames: readonly string[],
    registry: Registry,
  ) {
    this.cells = new Cells(labelNames, () => ({ value: 0 }));
    registry.registerMetric(this as never);
  }
  /** The cell of one label set: keep it, then `cell.value += n`. */
  cell(...values: string[]): { value: number } {
    return this.cells.get(values);
  }
  get type(): 'counter' {
    return 'counter';
  }
  get(): Collected {
    const values: Value[] = [];
    for (const { labels, cell } of this.cells.entries()) values.push({ labels, value: cell.value });
    return { name: this.name, help: this.help, type: 'counter', values, aggregator: 'sum' };
  }
  reset(): void {
    for (const { cell } of this.cells.entries()) cell.value = 0;
  }
}

interface HistogramCell {
  /** Non-cumulative counts per bucket; the last is +Inf. */
  counts: Float64Array;
  sum: number;
  count: number;
}

export class CheapHistogram {
  private readonly cells: Cells<HistogramCell>;
  constructor(
    readonly name: string,
    readonly help: string,
    labelNames: readonly string[],
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    this.cells = new Cells(labelNames, () => ({ counts: new Float64Array(bounds.length + 1), sum: 0, count: 0 }));
    registry.registerMetric(this as never);
  }
  cell(...values: string[]): HistogramCell {
    return this.cells.get(values);
  }
  observe(cell: HistogramCell, v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    cell.counts[i]! += 1;
    cell.sum += v;
    cell.count += 1;
  }
  get type(): 'histogram' {
    return 'histogram';
  }
  get(): Collected {
    const values: Value[] = [];
    const bucket = `${this.name}_bucket`;
    for (const { labels, cell } of this.cells.entries()) {
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += cell.counts[i]!;
        values.push({ labels: { ...labels, le }, value: acc, metricName: bucket });
      });
      values.push({ labels: { ...labels, le: '+Inf' }, value: cell.count, metricName: bucket });
      values.push({ labels, value: cell.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: cell.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' };
  }
  reset(): void {
    for (const { cell } of this.cells.entries()) {
      cell.counts.fill(0);
      cell.sum = 0;
      cell.count = 0;
    }
  }
}
