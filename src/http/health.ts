// /healthz and /readyz. Liveness says the process answers; readiness says it
// should get traffic: not draining (SIGTERM) and the store answers a cheap
// call within `readiness-timeout`. Both are unauthenticated, JSON, 200 or 503.
//
// The storage check is shared: a probe that arrives while one is running
// waits for it, and a result is reused for a second, so a flood of probes
// costs the store at most a few calls. A check stuck longer than the timeout
// does not block later ones (at most MAX_CHECKS run at once).
import type { ServerResponse } from 'node:http';
import type { StorageDriver } from '../storage/driver.js';
import { probeStorage, type ProbeResult } from '../storage/probe.js';

const REUSE_MS = 1000;
const MAX_CHECKS = 4;

export class Health {
  private draining = false;
  private last: { at: number; result: ProbeResult } | undefined;
  private running: { started: number; result: Promise<ProbeResult> } | undefined;
  private inFlight = 0;

  constructor(
    private readonly driver: StorageDriver,
    /** Prefix listed by the check (the default namespace). */
    private readonly prefix: string,
    private readonly timeoutMs: number,
  ) {}

  get isDraining(): boolean {
    return this.draining;
  }

  /** SIGTERM: readiness is 503 from now on. */
  startDraining(): void {
    this.draining = true;
  }

  private storage(): Promise<ProbeResult> {
    const now = Date.now();
    if (this.last && now - this.last.at < REUSE_MS) return Promise.resolve(this.last.result);
    if (this.running && now - this.running.started < this.timeoutMs) return this.running.result;
    if (this.inFlight >= MAX_CHECKS) {
      return Promise.resolve({ ok: false, ms: now - (this.running?.started ?? now), error: 'earlier checks still have no answer' });
    }
    this.inFlight++;
    const result = probeStorage(this.driver, this.prefix, this.timeoutMs, () => this.inFlight--).then((r) => {
      this.last = { at: Date.now(), result: r };
      return r;
    });
    this.running = { started: now, result };
    return result;
  }

  liveness(res: ServerResponse, head: boolean): void {
    reply(res, 200, { status: 'ok' }, head);
  }

  async readiness(res: ServerResponse, head: boolean): Promise<void> {
    const storage = await this.storage();
    const checks = {
      draining: this.draining ? { ok: false, error: 'shutting down (SIGTERM)' } : { ok: true },
      storage: storage.ok ? { ok: true, ms: storage.ms } : { ok: false, ms: storage.ms, error: storage.error },
    };
    const ok = checks.draining.ok && checks.storage.ok;
    const failed = Object.entries(checks)
      .filter(([, c]) => !c.ok)
      .map(([k]) => k);
    reply(res, ok ? 200 : 503, { status: ok ? 'ok' : 'unavailable', ...(ok ? {} : { failed }), checks }, head);
  }
}

function reply(res: ServerResponse, status: number, body: unknown, head: boolean): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(head ? undefined : text);
}
