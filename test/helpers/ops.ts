// Helpers for the operations tests: Prometheus text, webhook receivers, the
// JSON log lines of a Wharf process, and waiting for a condition.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { RegistryEvent } from '../../src/events/event.js';

/** The value of one series in Prometheus text format (labels given must match), or undefined. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let total: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const p of (m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) got[p[1]!] = p[2]!;
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) total = (total ?? 0) + Number(m[4]);
  }
  return total;
}

/** Sum of a series over every label set matching `labels`. */
export const sum = sample;

export async function waitFor<T>(what: string, get: () => T | Promise<T>, ms = 15_000, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  let last: T | undefined;
  for (;;) {
    last = await get();
    if (last) return last as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Every JSON log line with this `msg`. */
export function logLines(output: string, msg?: string): Record<string, any>[] {
  const out: Record<string, any>[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const j = JSON.parse(line) as Record<string, any>;
      if (msg === undefined || j.msg === msg) out.push(j);
    } catch {
      /* a partial line */
    }
  }
  return out;
}

export interface Delivery {
  headers: IncomingMessage['headers'];
  events: RegistryEvent[];
}

export type ReceiverMode = 'ok' | 'hang' | 'error';

/**
 * A webhook receiver on loopback: 'ok' accepts (200), 'error' answers 500,
 * 'hang' reads the request and never answers.
 */
export async function startReceiver(mode: ReceiverMode = 'ok') {
  const deliveries: Delivery[] = [];
  let attempts = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      attempts++;
      if (mode === 'hang') return;
      if (mode === 'error') {
        res.statusCode = 500;
        res.end('no');
        return;
      }
      try {
        deliveries.push({
          headers: req.headers,
          events: (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events: RegistryEvent[] }).events,
        });
      } catch {
        /* not JSON: not counted as a delivery */
      }
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/events`,
    deliveries,
    get attempts() {
      return attempts;
    },
    /** Every event received so far, in arrival order. */
    events: () => deliveries.flatMap((d) => d.events),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;
